//! Argon2id password hashing off the async executor, on `concurrency` dedicated low-priority
//! threads ([`WorkerPool`]) with a bounded queue: when the queue is full the caller gets
//! [`HashError::Saturated`] at once (503 + Retry-After) instead of waiting into a timeout, and
//! every other endpoint stays fast.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use crate::{config::HashSettings, workers::WorkerPool};
use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{
        PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString, rand_core::OsRng,
    },
};

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing is saturated")]
    Saturated,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    workers: WorkerPool,
    /// Running plus waiting hashes; exported as `partypic_password_hash_queue`.
    in_queue: Arc<AtomicUsize>,
    queue_limit: usize,
    /// Verified against for unknown emails so that their login takes as long as a wrong password.
    dummy_hash: Arc<String>,
}

/// Decrements the queue counter however the hashing future ends (including cancellation).
struct QueueTicket(Arc<AtomicUsize>);

impl Drop for QueueTicket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PasswordHasher {
    pub fn new(settings: &HashSettings) -> anyhow::Result<Self> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let dummy_hash = argon2
            .hash_password(b"partypic-dummy-password", &salt)
            .map_err(|e| anyhow::anyhow!("argon2 self-test failed: {e}"))?
            .to_string();
        Ok(Self {
            argon2,
            workers: WorkerPool::new("hash", settings.concurrency, settings.nice)?,
            in_queue: Arc::new(AtomicUsize::new(0)),
            queue_limit: settings.concurrency + settings.queue_limit,
            dummy_hash: Arc::new(dummy_hash),
        })
    }

    pub fn queue_len(&self) -> usize {
        self.in_queue.load(Ordering::SeqCst)
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let argon2 = self.argon2.clone();
        let password = password.to_owned();
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
        })
        .await
    }

    /// Verifies `password` against `stored`; with `None` it burns the same time and returns false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, HashError> {
        let argon2 = self.argon2.clone();
        let password = password.to_owned();
        let known = stored.is_some();
        let stored = stored.map_or_else(|| self.dummy_hash.as_str().to_owned(), str::to_owned);
        self.run(move || {
            let parsed = PasswordHash::new(&stored)
                .map_err(|e| anyhow::anyhow!("stored hash is malformed: {e}"))?;
            Ok(known && argon2.verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
    }

    async fn run<T, F>(&self, work: F) -> Result<T, HashError>
    where
        F: FnOnce() -> anyhow::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let previous = self.in_queue.fetch_add(1, Ordering::SeqCst);
        let ticket = QueueTicket(self.in_queue.clone());
        if previous >= self.queue_limit {
            return Err(HashError::Saturated);
        }
        let result = self
            .workers
            .run(work)
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
        drop(ticket);
        Ok(result?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast_settings(concurrency: usize, queue_limit: usize) -> HashSettings {
        HashSettings {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
            concurrency,
            queue_limit,
            nice: 0,
        }
    }

    #[tokio::test]
    async fn a_hash_verifies_only_its_own_password() {
        let hasher = PasswordHasher::new(&fast_settings(1, 4)).expect("hasher");
        let hash = hasher.hash("correct horse").await.expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            hasher
                .verify("correct horse", Some(&hash))
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify("wrong horse", Some(&hash))
                .await
                .expect("verify")
        );
        assert!(!hasher.verify("correct horse", None).await.expect("verify"));
        assert_eq!(hasher.queue_len(), 0);
    }

    #[tokio::test]
    async fn a_full_queue_is_rejected_at_once() {
        let hasher = PasswordHasher::new(&HashSettings {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
            concurrency: 1,
            queue_limit: 0,
            nice: 0,
        })
        .expect("hasher");
        let busy = hasher.clone();
        let first = tokio::spawn(async move { busy.hash("password one").await });
        while hasher.queue_len() == 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            hasher.hash("password two").await,
            Err(HashError::Saturated)
        ));
        assert!(first.await.expect("join").is_ok());
        assert_eq!(hasher.queue_len(), 0);
    }
}
