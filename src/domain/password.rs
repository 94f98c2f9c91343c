//! Argon2id password hashing off the async executor, on `concurrency` dedicated low-priority
//! threads ([`WorkerPool`]) with a bounded queue: when the queue is full the caller gets
//! [`HashError::Saturated`] at once (503 + Retry-After) instead of waiting into a timeout, and
//! every other endpoint stays fast.
//!
//! While other requests are being served, one of the hashing threads stands aside (when there are
//! two or more), so a core stays free for them: on a 2-core machine, hashing on every core at a
//! lower priority still delayed each wake-up of the request path by up to 5 ms (`perf sched`),
//! and heartbeats under a registration flood took 4-6 × their usual p95. A burst of logins alone
//! still hashes on every core.
//!
//! Admission is by expected waiting time, not by queue length: a new hash is admitted while the
//! hashes ahead of it, at the measured time per hash (a moving average of recent ones), would let
//! it start within `HASH_MAX_WAIT_MS`. A fixed queue length refused registrations during a fast
//! ramp while the CPU still had headroom (short hashes on a quiet core), and would queue far too
//! many when hashes run slowly. `HASH_QUEUE_LIMIT` stays as a hard cap.
//!
//! Each hashing thread keeps its argon2 working memory (7 MiB with the default parameters) and
//! reuses it: allocating it per hash let the allocator scatter fresh copies over its heaps, and a
//! registration burst grew the process by hundreds of MiB it never gave back.

use std::{
    cell::RefCell,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use crate::{config::HashSettings, workers::WorkerPool};
use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::{
        self, Output, ParamsString, PasswordHash, PasswordHasher as _, Salt, SaltString,
        rand_core::OsRng,
    },
};

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing is saturated")]
    Saturated {
        /// When a retry would probably be admitted.
        retry_after: Duration,
    },
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    lanes: Arc<Lanes>,
    /// Running plus waiting hashes; exported as `partypic_password_hash_queue`.
    in_queue: Arc<AtomicUsize>,
    queue_limit: usize,
    admission: Arc<Admission>,
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
            lanes: Arc::new(Lanes::new(settings.concurrency, settings.nice)?),
            in_queue: Arc::new(AtomicUsize::new(0)),
            queue_limit: settings.concurrency + settings.queue_limit,
            admission: Arc::new(Admission {
                max_wait: settings.max_wait,
                hash_micros: AtomicU64::new(0),
            }),
            dummy_hash: Arc::new(dummy_hash),
        })
    }

    /// Called for every request that does not hash: the spare hashing thread then stands aside.
    pub fn note_other_request(&self) {
        self.lanes.note_other_request();
    }

    pub fn queue_len(&self) -> usize {
        self.in_queue.load(Ordering::SeqCst)
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let argon2 = self.argon2.clone();
        let password = password.to_owned();
        self.run(move || {
            hash_reusing_memory(&argon2, password.as_bytes())
                .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
        })
        .await
    }

    /// Verifies `password` against `stored`; with `None` it burns the same time and returns false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, HashError> {
        let password = password.to_owned();
        let known = stored.is_some();
        let stored = stored.map_or_else(|| self.dummy_hash.as_str().to_owned(), str::to_owned);
        self.run(move || {
            let parsed = PasswordHash::new(&stored)
                .map_err(|e| anyhow::anyhow!("stored hash is malformed: {e}"))?;
            Ok(known && verify_reusing_memory(password.as_bytes(), &parsed))
        })
        .await
    }

    async fn run<T, F>(&self, work: F) -> Result<T, HashError>
    where
        F: FnOnce() -> anyhow::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let ahead = self.in_queue.fetch_add(1, Ordering::SeqCst);
        let ticket = QueueTicket(self.in_queue.clone());
        let expected_wait = self
            .admission
            .expected_wait(ahead, self.lanes.usable_threads());
        if ahead >= self.queue_limit || !self.admission.admits(expected_wait) {
            return Err(HashError::Saturated {
                retry_after: expected_wait.max(Duration::from_secs(1)),
            });
        }
        let lane = self.lanes.choose();
        let _in_flight = InFlight(lane.busy.clone());
        let (result, took) = lane
            .pool
            .run(move || {
                let started = Instant::now();
                let result = work();
                (result, started.elapsed())
            })
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
        self.admission.record(took);
        drop(ticket);
        Ok(result?)
    }

    /// How long a hash takes now (moving average; zero before the first).
    pub fn hash_time(&self) -> Duration {
        Duration::from_micros(self.admission.hash_micros.load(Ordering::Relaxed))
    }
}

/// Admits a hash while it would probably start within `max_wait`.
struct Admission {
    /// `None`: only the queue's hard cap decides.
    max_wait: Option<Duration>,
    /// Moving average of a hash's duration in µs, 0 until the first hash ends.
    hash_micros: AtomicU64,
}

impl Admission {
    /// With `ahead` hashes running or waiting and `threads` hashing, the new one starts after
    /// the rounds of hashes before it.
    fn expected_wait(&self, ahead: usize, threads: usize) -> Duration {
        let threads = threads.max(1);
        if ahead < threads {
            return Duration::ZERO;
        }
        let rounds = (ahead - threads) / threads + 1;
        Duration::from_micros(self.hash_micros.load(Ordering::Relaxed))
            .saturating_mul(u32::try_from(rounds).unwrap_or(u32::MAX))
    }

    fn admits(&self, expected_wait: Duration) -> bool {
        self.max_wait.is_none_or(|max| expected_wait <= max)
    }

    /// A quarter of each new measurement: follows a slower CPU within a few hashes.
    fn record(&self, took: Duration) {
        let sample = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        let _ = self
            .hash_micros
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(if old == 0 {
                    sample
                } else {
                    (old.saturating_mul(3).saturating_add(sample)) / 4
                })
            });
    }
}

/// The spare thread stands aside until other requests have been quiet this long.
const OTHER_REQUESTS_QUIET: Duration = Duration::from_millis(100);

struct Lane {
    pool: WorkerPool,
    threads: usize,
    /// Hashes running or queued on this lane.
    busy: Arc<AtomicUsize>,
}

/// The hashing threads: `primary` always hashes; `spare` (one thread, when the configured
/// concurrency is two or more) only while no other request has arrived for a moment.
struct Lanes {
    primary: Lane,
    spare: Option<Lane>,
    started: Instant,
    /// Microseconds after `started` of the last request that does not hash.
    last_other_request: AtomicU64,
}

impl Lanes {
    fn new(concurrency: usize, nice: i32) -> std::io::Result<Self> {
        let concurrency = concurrency.max(1);
        let lane = |name, threads| -> std::io::Result<Lane> {
            Ok(Lane {
                pool: WorkerPool::new(name, threads, nice)?,
                threads,
                busy: Arc::new(AtomicUsize::new(0)),
            })
        };
        Ok(Self {
            primary: lane("hash", concurrency.saturating_sub(1).max(1))?,
            spare: if concurrency >= 2 {
                Some(lane("hash-spare", 1)?)
            } else {
                None
            },
            started: Instant::now(),
            last_other_request: AtomicU64::new(0),
        })
    }

    fn now_micros(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn note_other_request(&self) {
        // 0 means "never".
        self.last_other_request
            .store(self.now_micros().max(1), Ordering::Relaxed);
    }

    fn others_quiet(&self) -> bool {
        let last = self.last_other_request.load(Ordering::Relaxed);
        last == 0
            || self.now_micros().saturating_sub(last) >= OTHER_REQUESTS_QUIET.as_micros() as u64
    }

    /// Threads hashing now: the spare one only while other requests are quiet.
    fn usable_threads(&self) -> usize {
        self.primary.threads + usize::from(self.spare.is_some() && self.others_quiet())
    }

    /// The less loaded lane, the spare one only while other requests are quiet.
    fn choose(&self) -> &Lane {
        let load = |lane: &Lane| lane.busy.load(Ordering::SeqCst) as f64 / lane.threads as f64;
        let lane = match &self.spare {
            Some(spare) if self.others_quiet() && load(spare) < load(&self.primary) => spare,
            _ => &self.primary,
        };
        lane.busy.fetch_add(1, Ordering::SeqCst);
        lane
    }
}

/// Counts a hash as running or queued on its lane until the hashing future ends.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

thread_local! {
    /// This thread's argon2 working memory, grown to the largest parameters seen.
    static WORKING_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// The argon2 output for `password` and `salt`, computed in this thread's working memory.
fn output_reusing_memory(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: Salt<'_>,
) -> password_hash::Result<Output> {
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
    let params = argon2.params();
    let blocks = params.block_count();
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    Output::init_with(output_len, |out| {
        WORKING_MEMORY.with_borrow_mut(|memory| {
            if memory.len() < blocks {
                memory.resize(blocks, Block::default());
            }
            argon2.hash_password_into_with_memory(password, salt_bytes, out, &mut memory[..])
        })?;
        Ok(())
    })
}

/// A new PHC string (`$argon2id$v=19$m=…`) for `password`, as `argon2.hash_password` makes it
/// but in this thread's working memory. Public for `examples/hash_rate`, which measures the
/// machine's hashing limit the way the server hashes.
pub fn hash_reusing_memory(argon2: &Argon2<'_>, password: &[u8]) -> password_hash::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let output = output_reusing_memory(argon2, password, salt.as_salt())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params())?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Recomputes `stored` with its own algorithm, version and parameters; comparing [`Output`]s
/// takes constant time.
fn verify_reusing_memory(password: &[u8], stored: &PasswordHash<'_>) -> bool {
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(stored.algorithm) else {
        return false;
    };
    let version = match stored.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    // Takes the output length from the stored hash too.
    let Ok(params) = Params::try_from(stored) else {
        return false;
    };
    output_reusing_memory(&Argon2::new(algorithm, version, params), password, salt)
        .is_ok_and(|computed| computed == expected)
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
            max_wait: None,
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

    #[test]
    fn the_spare_thread_hashes_only_while_other_requests_are_quiet() {
        let is_spare = |lanes: &Lanes, lane: &Lane| {
            lanes.spare.as_ref().is_some_and(|s| std::ptr::eq(s, lane))
        };
        let quiet = Lanes::new(2, 0).expect("lanes");
        assert!(!is_spare(&quiet, quiet.choose()));
        assert!(
            is_spare(&quiet, quiet.choose()),
            "a burst of hashes alone uses both"
        );

        let busy = Lanes::new(2, 0).expect("lanes");
        busy.note_other_request();
        for _ in 0..4 {
            assert!(
                !is_spare(&busy, busy.choose()),
                "other requests keep a core free"
            );
        }

        let single = Lanes::new(1, 0).expect("lanes");
        assert!(single.spare.is_none());
        let many = Lanes::new(4, 0).expect("lanes");
        assert_eq!(many.primary.threads, 3);
    }

    #[test]
    fn hashes_match_the_reference_implementation_both_ways() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let params = Params::new(1024, 2, 1, None).expect("params");
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        // Ours verifies with the argon2 crate's own verifier…
        let ours = hash_reusing_memory(&argon2, b"correct horse").expect("hash");
        let parsed = PasswordHash::new(&ours).expect("phc");
        assert!(argon2.verify_password(b"correct horse", &parsed).is_ok());
        assert!(verify_reusing_memory(b"correct horse", &parsed));
        assert!(!verify_reusing_memory(b"correct horsf", &parsed));
        // …and hashes stored by the argon2 crate (other parameters too) verify with ours.
        let stronger = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(2048, 3, 1, Some(24)).expect("params"),
        );
        let salt = SaltString::generate(&mut OsRng);
        let theirs = stronger
            .hash_password(b"battery staple", &salt)
            .expect("hash")
            .to_string();
        let parsed = PasswordHash::new(&theirs).expect("phc");
        assert!(verify_reusing_memory(b"battery staple", &parsed));
        assert!(!verify_reusing_memory(b"battery stapler", &parsed));
    }

    #[tokio::test]
    async fn a_full_queue_is_rejected_at_once() {
        let hasher = PasswordHasher::new(&HashSettings {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
            concurrency: 1,
            queue_limit: 0,
            max_wait: None,
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
            Err(HashError::Saturated { .. })
        ));
        assert!(first.await.expect("join").is_ok());
        assert_eq!(hasher.queue_len(), 0);
    }

    #[test]
    fn admission_is_by_expected_wait() {
        let admission = Admission {
            max_wait: Some(Duration::from_secs(2)),
            hash_micros: AtomicU64::new(0),
        };
        // Nothing measured yet: every hash is admitted (the hard cap still applies).
        assert_eq!(admission.expected_wait(500, 1), Duration::ZERO);
        admission.record(Duration::from_millis(30));
        assert_eq!(admission.expected_wait(0, 1), Duration::ZERO);
        assert_eq!(admission.expected_wait(1, 2), Duration::ZERO);
        assert_eq!(admission.expected_wait(1, 1), Duration::from_millis(30));
        // 66 ahead on one thread start in 1.98 s; 67 in 2.01 s.
        assert!(admission.admits(admission.expected_wait(66, 1)));
        assert!(!admission.admits(admission.expected_wait(67, 1)));
        // Two threads take twice as many.
        assert!(admission.admits(admission.expected_wait(133, 2)));
        assert!(!admission.admits(admission.expected_wait(136, 2)));
        // Slower hashes (a busy CPU) shrink the queue it accepts within a few hashes.
        for _ in 0..8 {
            admission.record(Duration::from_millis(120));
        }
        assert!(!admission.admits(admission.expected_wait(20, 1)));
        let unlimited = Admission {
            max_wait: None,
            hash_micros: AtomicU64::new(1_000_000),
        };
        assert!(unlimited.admits(unlimited.expected_wait(1000, 1)));
    }
}
