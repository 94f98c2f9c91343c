//! Fail fast while the database is down. Without this, every request waits the whole pool
//! acquire timeout (`DB_ACQUIRE_TIMEOUT_SECS`) for its 503, so an outage also ties up every
//! client for seconds. [`FailFast`] wraps any [`Database`]: once a call finds the database
//! unreachable, and nothing else reached it meanwhile, it is marked down and every call answers
//! [`DbError::Unavailable`] at once; a background probe pings it, and the first success marks it
//! up again.

use std::{
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::time::Instant;
use uuid::Uuid;

use super::{
    ClaimedJob, CoHostRecord, CohostInviteRecord, CommentRecord, Counts, Database, DbError,
    DbResult, EventOverview, EventRecord, EventSummary, EventTransport, GallerySocial, GuestRecord,
    GuestbookRecord, HostOverview, HostRecord, JobLock, JobLockKey, JobRecord, MultipartRecord,
    PhotoQuery, PhotoRecord, ReactionCount, ThumbStatus, VariantKeys,
};
use crate::domain::missions::MissionList;

/// How often the background probe pings a database marked down.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// A ping is answered without asking the database when another call got an answer this
/// recently: it would say no more, and a busy replica's readiness probe then costs the database
/// nothing.
pub const RECENT_ANSWER: Duration = Duration::from_secs(1);

pub struct FailFast {
    shared: Arc<Shared>,
}

struct Shared {
    inner: Arc<dyn Database>,
    down: AtomicBool,
    /// When a call last got an answer from the database (any answer, errors included).
    last_answer: Mutex<Instant>,
    probe_every: Duration,
}

impl FailFast {
    pub fn new(inner: Arc<dyn Database>) -> Self {
        Self::with_probe_interval(inner, PROBE_EVERY)
    }

    pub fn with_probe_interval(inner: Arc<dyn Database>, probe_every: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                inner,
                down: AtomicBool::new(false),
                last_answer: Mutex::new(Instant::now()),
                probe_every,
            }),
        }
    }

    /// Whether the database is known down (calls fail fast).
    pub fn is_down(&self) -> bool {
        self.shared.down.load(Ordering::Acquire)
    }

    /// Runs `call` unless the database is known down, and learns from its outcome.
    async fn guard<T>(&self, call: impl Future<Output = DbResult<T>> + Send) -> DbResult<T> {
        if self.is_down() {
            return Err(known_down());
        }
        let started = Instant::now();
        let result = call.await;
        match &result {
            Err(err) if is_outage(err) => self.shared.note_outage(started),
            _ => self.shared.note_answer(),
        }
        result
    }
}

fn known_down() -> DbError {
    DbError::Unavailable(sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        "the database is down; failing fast until it answers again",
    )))
}

/// Unreachable or no connection in time; not SQLite's busy/locked, which is contention on a
/// database that works.
fn is_outage(err: &DbError) -> bool {
    match err {
        DbError::Unavailable(sqlx::Error::Database(db)) => {
            !matches!(db.code().as_deref(), Some("5" | "6"))
        }
        DbError::Unavailable(_) => true,
        _ => false,
    }
}

impl Shared {
    fn answered_within(&self, window: Duration) -> bool {
        self.last_answer
            .lock()
            .map(|last| last.elapsed() < window)
            .unwrap_or(false)
    }

    fn note_answer(&self) {
        if let Ok(mut last) = self.last_answer.lock() {
            *last = Instant::now();
        }
    }

    /// A call that began at `started` found the database unreachable. When no other call got an
    /// answer since, it is down (a busy pool still answers other calls: that is load, not an
    /// outage).
    fn note_outage(self: &Arc<Self>, started: Instant) {
        let answered_since = self
            .last_answer
            .lock()
            .map(|last| *last > started)
            .unwrap_or(false);
        if answered_since || self.down.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::warn!("database unreachable: requests answer 503 at once until it is back");
        tokio::spawn(probe(Arc::downgrade(self)));
    }
}

/// Pings until the database answers, then marks it up; ends early when the decorator is gone.
async fn probe(shared: Weak<Shared>) {
    loop {
        let every = match shared.upgrade() {
            Some(shared) => shared.probe_every,
            None => return,
        };
        tokio::time::sleep(every).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.inner.ping().await.is_ok() {
            shared.note_answer();
            shared.down.store(false, Ordering::Release);
            tracing::info!("database reachable again");
            return;
        }
    }
}

#[async_trait]
impl Database for FailFast {
    async fn migrate(&self) -> anyhow::Result<()> {
        self.shared.inner.migrate().await
    }
    async fn ping(&self) -> DbResult<()> {
        if !self.is_down() && self.shared.answered_within(RECENT_ANSWER) {
            return Ok(());
        }
        self.guard(self.shared.inner.ping()).await
    }
    async fn close(&self) {
        self.shared.inner.close().await
    }
    fn event_transport(&self) -> EventTransport {
        self.shared.inner.event_transport()
    }

    async fn insert_host(&self, user: &HostRecord) -> DbResult<()> {
        self.guard(self.shared.inner.insert_host(user)).await
    }
    async fn host_by_email(&self, email_normalized: &str) -> DbResult<Option<HostRecord>> {
        self.guard(self.shared.inner.host_by_email(email_normalized))
            .await
    }
    async fn host(&self, id: Uuid) -> DbResult<Option<HostRecord>> {
        self.guard(self.shared.inner.host(id)).await
    }

    async fn insert_event(&self, session: &EventRecord) -> DbResult<()> {
        self.guard(self.shared.inner.insert_event(session)).await
    }
    async fn event(&self, id: Uuid) -> DbResult<Option<EventRecord>> {
        self.guard(self.shared.inner.event(id)).await
    }
    async fn event_by_join_code(&self, code: &str) -> DbResult<Option<EventRecord>> {
        self.guard(self.shared.inner.event_by_join_code(code)).await
    }
    async fn events_of_host(&self, user_id: Uuid) -> DbResult<Vec<EventSummary>> {
        self.guard(self.shared.inner.events_of_host(user_id)).await
    }
    async fn update_missions(
        &self,
        id: Uuid,
        missions: &MissionList,
    ) -> DbResult<Option<EventRecord>> {
        self.guard(self.shared.inner.update_missions(id, missions))
            .await
    }
    async fn update_settings(
        &self,
        id: Uuid,
        settings: &Value,
        ends_at: DateTime<Utc>,
    ) -> DbResult<Option<EventRecord>> {
        self.guard(self.shared.inner.update_settings(id, settings, ends_at))
            .await
    }

    async fn insert_guest(&self, guest: &GuestRecord) -> DbResult<()> {
        self.guard(self.shared.inner.insert_guest(guest)).await
    }
    async fn guest(&self, id: Uuid) -> DbResult<Option<GuestRecord>> {
        self.guard(self.shared.inner.guest(id)).await
    }
    async fn touch_guest(&self, id: Uuid, now: DateTime<Utc>) -> DbResult<Option<GuestRecord>> {
        self.guard(self.shared.inner.touch_guest(id, now)).await
    }
    async fn touch_guests(&self, seen: &[(Uuid, DateTime<Utc>)]) -> DbResult<()> {
        self.guard(self.shared.inner.touch_guests(seen)).await
    }
    async fn guests_online(&self, session_id: Uuid, since: DateTime<Utc>) -> DbResult<i64> {
        self.guard(self.shared.inner.guests_online(session_id, since))
            .await
    }
    async fn guests_of_event(&self, event_id: Uuid) -> DbResult<Vec<GuestRecord>> {
        self.guard(self.shared.inner.guests_of_event(event_id))
            .await
    }

    async fn insert_photo(&self, picture: &PhotoRecord) -> DbResult<PhotoRecord> {
        self.guard(self.shared.inner.insert_photo(picture)).await
    }
    async fn photo(&self, id: Uuid) -> DbResult<Option<PhotoRecord>> {
        self.guard(self.shared.inner.photo(id)).await
    }
    async fn photo_by_key(&self, s3_key: &str) -> DbResult<Option<PhotoRecord>> {
        self.guard(self.shared.inner.photo_by_key(s3_key)).await
    }
    async fn photo_by_hash(
        &self,
        session_id: Uuid,
        content_hash: &str,
    ) -> DbResult<Option<PhotoRecord>> {
        self.guard(self.shared.inner.photo_by_hash(session_id, content_hash))
            .await
    }
    async fn photos(&self, session_id: Uuid, query: PhotoQuery) -> DbResult<Vec<PhotoRecord>> {
        self.guard(self.shared.inner.photos(session_id, query))
            .await
    }
    async fn count_guest_photos(&self, session_id: Uuid, user_id: Uuid) -> DbResult<i64> {
        self.guard(self.shared.inner.count_guest_photos(session_id, user_id))
            .await
    }
    async fn approve_photo(&self, id: Uuid) -> DbResult<Option<PhotoRecord>> {
        self.guard(self.shared.inner.approve_photo(id)).await
    }
    async fn delete_photo(&self, id: Uuid) -> DbResult<Option<PhotoRecord>> {
        self.guard(self.shared.inner.delete_photo(id)).await
    }
    async fn set_variants(
        &self,
        id: Uuid,
        keys: Option<VariantKeys<'_>>,
        status: ThumbStatus,
    ) -> DbResult<()> {
        self.guard(self.shared.inner.set_variants(id, keys, status))
            .await
    }
    async fn claim_jobs(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> DbResult<Vec<ClaimedJob>> {
        self.guard(
            self.shared
                .inner
                .claim_jobs(worker, now, lease_until, limit),
        )
        .await
    }
    async fn extend_job_lease(
        &self,
        id: Uuid,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> DbResult<bool> {
        self.guard(self.shared.inner.extend_job_lease(id, worker, lease_until))
            .await
    }
    async fn complete_variants_job(
        &self,
        id: Uuid,
        worker: &str,
        keys: VariantKeys<'_>,
        now: DateTime<Utc>,
    ) -> DbResult<Option<PhotoRecord>> {
        self.guard(
            self.shared
                .inner
                .complete_variants_job(id, worker, keys, now),
        )
        .await
    }
    async fn retry_job(
        &self,
        id: Uuid,
        worker: &str,
        run_after: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        self.guard(
            self.shared
                .inner
                .retry_job(id, worker, run_after, error, now),
        )
        .await
    }
    async fn fail_job(
        &self,
        id: Uuid,
        worker: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        self.guard(self.shared.inner.fail_job(id, worker, error, now))
            .await
    }
    async fn jobs_of_photo(&self, photo_id: Uuid) -> DbResult<Vec<JobRecord>> {
        self.guard(self.shared.inner.jobs_of_photo(photo_id)).await
    }
    async fn delete_done_jobs(&self, before: DateTime<Utc>, limit: u32) -> DbResult<u64> {
        self.guard(self.shared.inner.delete_done_jobs(before, limit))
            .await
    }

    async fn counts(&self, now: DateTime<Utc>, online_since: DateTime<Utc>) -> DbResult<Counts> {
        self.guard(self.shared.inner.counts(now, online_since))
            .await
    }

    async fn hosts_overview(&self) -> DbResult<Vec<HostOverview>> {
        self.guard(self.shared.inner.hosts_overview()).await
    }

    async fn events_overview(&self) -> DbResult<Vec<EventOverview>> {
        self.guard(self.shared.inner.events_overview()).await
    }

    async fn set_password_hash(&self, host_id: Uuid, password_hash: &str) -> DbResult<bool> {
        self.guard(self.shared.inner.set_password_hash(host_id, password_hash))
            .await
    }

    async fn delete_event_photos(&self, event_id: Uuid) -> DbResult<Vec<PhotoRecord>> {
        self.guard(self.shared.inner.delete_event_photos(event_id))
            .await
    }

    async fn delete_event(&self, id: Uuid) -> DbResult<Option<EventRecord>> {
        self.guard(self.shared.inner.delete_event(id)).await
    }

    async fn events_ended_before(
        &self,
        ended_before: DateTime<Utc>,
        limit: u32,
    ) -> DbResult<Vec<Uuid>> {
        self.guard(self.shared.inner.events_ended_before(ended_before, limit))
            .await
    }

    async fn try_job_lock(&self, job: JobLockKey) -> DbResult<Option<JobLock>> {
        self.guard(self.shared.inner.try_job_lock(job)).await
    }

    async fn event_stored_bytes(&self, event_id: Uuid) -> DbResult<i64> {
        self.guard(self.shared.inner.event_stored_bytes(event_id))
            .await
    }

    async fn host_stored_bytes(&self, host_id: Uuid) -> DbResult<i64> {
        self.guard(self.shared.inner.host_stored_bytes(host_id))
            .await
    }

    async fn insert_password_reset(
        &self,
        token_hash: &str,
        host_id: Uuid,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> DbResult<()> {
        self.guard(
            self.shared
                .inner
                .insert_password_reset(token_hash, host_id, created_at, expires_at),
        )
        .await
    }

    async fn password_reset_host(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> DbResult<Option<Uuid>> {
        self.guard(self.shared.inner.password_reset_host(token_hash, now))
            .await
    }

    async fn use_password_reset(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> DbResult<Option<Uuid>> {
        self.guard(self.shared.inner.use_password_reset(token_hash, now))
            .await
    }

    async fn set_reaction(
        &self,
        photo_id: Uuid,
        event_id: Uuid,
        reactor_id: Uuid,
        reaction: &str,
        at: DateTime<Utc>,
    ) -> DbResult<()> {
        self.guard(
            self.shared
                .inner
                .set_reaction(photo_id, event_id, reactor_id, reaction, at),
        )
        .await
    }

    async fn delete_reaction(&self, photo_id: Uuid, reactor_id: Uuid) -> DbResult<bool> {
        self.guard(self.shared.inner.delete_reaction(photo_id, reactor_id))
            .await
    }

    async fn reaction_counts(
        &self,
        event_id: Uuid,
        photo_id: Option<Uuid>,
    ) -> DbResult<Vec<ReactionCount>> {
        self.guard(self.shared.inner.reaction_counts(event_id, photo_id))
            .await
    }

    async fn gallery_social(
        &self,
        event_id: Uuid,
        reactor: Option<Uuid>,
        comments_with_pending: bool,
    ) -> DbResult<GallerySocial> {
        self.guard(
            self.shared
                .inner
                .gallery_social(event_id, reactor, comments_with_pending),
        )
        .await
    }

    async fn gallery_personal_viewers(&self, event_id: Uuid) -> DbResult<Vec<Uuid>> {
        self.guard(self.shared.inner.gallery_personal_viewers(event_id))
            .await
    }

    async fn insert_comment(&self, comment: &CommentRecord) -> DbResult<()> {
        self.guard(self.shared.inner.insert_comment(comment)).await
    }

    async fn comment(&self, id: Uuid) -> DbResult<Option<CommentRecord>> {
        self.guard(self.shared.inner.comment(id)).await
    }

    async fn photo_comments(&self, photo_id: Uuid) -> DbResult<Vec<CommentRecord>> {
        self.guard(self.shared.inner.photo_comments(photo_id)).await
    }

    async fn delete_comment(&self, id: Uuid) -> DbResult<Option<CommentRecord>> {
        self.guard(self.shared.inner.delete_comment(id)).await
    }

    async fn approve_comment(&self, id: Uuid) -> DbResult<Option<CommentRecord>> {
        self.guard(self.shared.inner.approve_comment(id)).await
    }

    async fn event_comments(&self, event_id: Uuid) -> DbResult<Vec<CommentRecord>> {
        self.guard(self.shared.inner.event_comments(event_id)).await
    }

    async fn insert_guestbook_message(&self, message: &GuestbookRecord) -> DbResult<()> {
        self.guard(self.shared.inner.insert_guestbook_message(message))
            .await
    }

    async fn guestbook_message(&self, id: Uuid) -> DbResult<Option<GuestbookRecord>> {
        self.guard(self.shared.inner.guestbook_message(id)).await
    }

    async fn guestbook_messages(&self, event_id: Uuid) -> DbResult<Vec<GuestbookRecord>> {
        self.guard(self.shared.inner.guestbook_messages(event_id))
            .await
    }

    async fn delete_guestbook_message(&self, id: Uuid) -> DbResult<Option<GuestbookRecord>> {
        self.guard(self.shared.inner.delete_guestbook_message(id))
            .await
    }

    async fn approve_guestbook_message(&self, id: Uuid) -> DbResult<Option<GuestbookRecord>> {
        self.guard(self.shared.inner.approve_guestbook_message(id))
            .await
    }

    async fn insert_multipart(&self, upload: &MultipartRecord) -> DbResult<()> {
        self.guard(self.shared.inner.insert_multipart(upload)).await
    }

    async fn multipart(&self, id: Uuid) -> DbResult<Option<MultipartRecord>> {
        self.guard(self.shared.inner.multipart(id)).await
    }

    async fn delete_multipart(&self, id: Uuid) -> DbResult<bool> {
        self.guard(self.shared.inner.delete_multipart(id)).await
    }

    async fn multiparts_created_before(
        &self,
        created_before: DateTime<Utc>,
        limit: u32,
    ) -> DbResult<Vec<MultipartRecord>> {
        self.guard(
            self.shared
                .inner
                .multiparts_created_before(created_before, limit),
        )
        .await
    }

    async fn count_pin_attempt(
        &self,
        event_id: Uuid,
        client: &str,
        now: DateTime<Utc>,
        window_after: DateTime<Utc>,
    ) -> DbResult<(i64, DateTime<Utc>)> {
        self.guard(
            self.shared
                .inner
                .count_pin_attempt(event_id, client, now, window_after),
        )
        .await
    }

    async fn clear_pin_attempts(
        &self,
        event_id: Uuid,
        client: &str,
        window_after: DateTime<Utc>,
    ) -> DbResult<()> {
        self.guard(
            self.shared
                .inner
                .clear_pin_attempts(event_id, client, window_after),
        )
        .await
    }

    async fn is_co_host(&self, event_id: Uuid, host_id: Uuid) -> DbResult<bool> {
        self.guard(self.shared.inner.is_co_host(event_id, host_id))
            .await
    }

    async fn co_hosts(&self, event_id: Uuid) -> DbResult<Vec<CoHostRecord>> {
        self.guard(self.shared.inner.co_hosts(event_id)).await
    }

    async fn delete_co_host(&self, event_id: Uuid, host_id: Uuid) -> DbResult<bool> {
        self.guard(self.shared.inner.delete_co_host(event_id, host_id))
            .await
    }

    async fn insert_cohost_invite(&self, invite: &CohostInviteRecord) -> DbResult<()> {
        self.guard(self.shared.inner.insert_cohost_invite(invite))
            .await
    }

    async fn cohost_invite(&self, token_hash: &str) -> DbResult<Option<CohostInviteRecord>> {
        self.guard(self.shared.inner.cohost_invite(token_hash))
            .await
    }

    async fn accept_cohost_invite(
        &self,
        token_hash: &str,
        host_id: Uuid,
        now: DateTime<Utc>,
    ) -> DbResult<Option<Uuid>> {
        self.guard(
            self.shared
                .inner
                .accept_cohost_invite(token_hash, host_id, now),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database that is either up (every call answers) or down (every call waits `timeout`,
    /// like a pool that cannot connect, then fails).
    struct Flaky {
        up: AtomicBool,
        timeout: Duration,
        calls: std::sync::atomic::AtomicUsize,
    }

    impl Flaky {
        async fn call(&self) -> DbResult<()> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.up.load(Ordering::SeqCst) {
                Ok(())
            } else {
                tokio::time::sleep(self.timeout).await;
                Err(DbError::Unavailable(sqlx::Error::PoolTimedOut))
            }
        }
    }

    #[async_trait]
    impl Database for Flaky {
        async fn migrate(&self) -> anyhow::Result<()> {
            Ok(())
        }
        async fn ping(&self) -> DbResult<()> {
            self.call().await
        }
        async fn close(&self) {}
        fn event_transport(&self) -> EventTransport {
            EventTransport::InProcess
        }
        async fn insert_host(&self, _: &HostRecord) -> DbResult<()> {
            self.call().await
        }
        async fn host_by_email(&self, _: &str) -> DbResult<Option<HostRecord>> {
            self.call().await.map(|()| None)
        }
        async fn host(&self, _: Uuid) -> DbResult<Option<HostRecord>> {
            self.call().await.map(|()| None)
        }
        async fn insert_event(&self, _: &EventRecord) -> DbResult<()> {
            self.call().await
        }
        async fn event(&self, _: Uuid) -> DbResult<Option<EventRecord>> {
            self.call().await.map(|()| None)
        }
        async fn event_by_join_code(&self, _: &str) -> DbResult<Option<EventRecord>> {
            self.call().await.map(|()| None)
        }
        async fn events_of_host(&self, _: Uuid) -> DbResult<Vec<EventSummary>> {
            self.call().await.map(|()| Vec::new())
        }
        async fn update_missions(&self, _: Uuid, _: &MissionList) -> DbResult<Option<EventRecord>> {
            self.call().await.map(|()| None)
        }
        async fn update_settings(
            &self,
            _: Uuid,
            _: &Value,
            _: DateTime<Utc>,
        ) -> DbResult<Option<EventRecord>> {
            self.call().await.map(|()| None)
        }
        async fn insert_guest(&self, _: &GuestRecord) -> DbResult<()> {
            self.call().await
        }
        async fn guest(&self, _: Uuid) -> DbResult<Option<GuestRecord>> {
            self.call().await.map(|()| None)
        }
        async fn touch_guest(&self, _: Uuid, _: DateTime<Utc>) -> DbResult<Option<GuestRecord>> {
            self.call().await.map(|()| None)
        }
        async fn touch_guests(&self, _: &[(Uuid, DateTime<Utc>)]) -> DbResult<()> {
            self.call().await
        }
        async fn guests_online(&self, _: Uuid, _: DateTime<Utc>) -> DbResult<i64> {
            self.call().await.map(|()| 0)
        }
        async fn guests_of_event(&self, _: Uuid) -> DbResult<Vec<GuestRecord>> {
            self.call().await.map(|()| Vec::new())
        }
        async fn insert_photo(&self, _: &PhotoRecord) -> DbResult<PhotoRecord> {
            self.call().await?;
            Err(DbError::Other(anyhow::anyhow!("not in this fake")))
        }
        async fn photo(&self, _: Uuid) -> DbResult<Option<PhotoRecord>> {
            self.call().await.map(|()| None)
        }
        async fn photo_by_key(&self, _: &str) -> DbResult<Option<PhotoRecord>> {
            self.call().await.map(|()| None)
        }
        async fn photo_by_hash(&self, _: Uuid, _: &str) -> DbResult<Option<PhotoRecord>> {
            self.call().await.map(|()| None)
        }
        async fn photos(&self, _: Uuid, _: PhotoQuery) -> DbResult<Vec<PhotoRecord>> {
            self.call().await.map(|()| Vec::new())
        }
        async fn count_guest_photos(&self, _: Uuid, _: Uuid) -> DbResult<i64> {
            self.call().await.map(|()| 0)
        }
        async fn approve_photo(&self, _: Uuid) -> DbResult<Option<PhotoRecord>> {
            self.call().await.map(|()| None)
        }
        async fn delete_photo(&self, _: Uuid) -> DbResult<Option<PhotoRecord>> {
            self.call().await.map(|()| None)
        }
        async fn set_variants(
            &self,
            _: Uuid,
            _: Option<VariantKeys<'_>>,
            _: ThumbStatus,
        ) -> DbResult<()> {
            self.call().await
        }
        async fn claim_jobs(
            &self,
            _: &str,
            _: DateTime<Utc>,
            _: DateTime<Utc>,
            _: u32,
        ) -> DbResult<Vec<ClaimedJob>> {
            self.call().await.map(|()| Vec::new())
        }
        async fn extend_job_lease(&self, _: Uuid, _: &str, _: DateTime<Utc>) -> DbResult<bool> {
            self.call().await.map(|()| false)
        }
        async fn complete_variants_job(
            &self,
            _: Uuid,
            _: &str,
            _: VariantKeys<'_>,
            _: DateTime<Utc>,
        ) -> DbResult<Option<PhotoRecord>> {
            self.call().await.map(|()| None)
        }
        async fn retry_job(
            &self,
            _: Uuid,
            _: &str,
            _: DateTime<Utc>,
            _: &str,
            _: DateTime<Utc>,
        ) -> DbResult<bool> {
            self.call().await.map(|()| false)
        }
        async fn fail_job(&self, _: Uuid, _: &str, _: &str, _: DateTime<Utc>) -> DbResult<bool> {
            self.call().await.map(|()| false)
        }
        async fn jobs_of_photo(&self, _: Uuid) -> DbResult<Vec<JobRecord>> {
            self.call().await.map(|()| Vec::new())
        }
        async fn delete_done_jobs(&self, _: DateTime<Utc>, _: u32) -> DbResult<u64> {
            self.call().await.map(|()| 0)
        }
        async fn counts(&self, _: DateTime<Utc>, _: DateTime<Utc>) -> DbResult<Counts> {
            self.call().await.map(|()| Counts::default())
        }
        async fn hosts_overview(&self) -> DbResult<Vec<HostOverview>> {
            self.call().await.map(|()| Vec::new())
        }
        async fn events_overview(&self) -> DbResult<Vec<EventOverview>> {
            self.call().await.map(|()| Vec::new())
        }
        async fn set_password_hash(&self, _: Uuid, _: &str) -> DbResult<bool> {
            self.call().await.map(|()| false)
        }
        async fn delete_event_photos(&self, _: Uuid) -> DbResult<Vec<PhotoRecord>> {
            self.call().await.map(|()| Vec::new())
        }
        async fn delete_event(&self, _: Uuid) -> DbResult<Option<EventRecord>> {
            self.call().await.map(|()| None)
        }
        async fn events_ended_before(&self, _: DateTime<Utc>, _: u32) -> DbResult<Vec<Uuid>> {
            self.call().await.map(|()| Vec::new())
        }
        async fn try_job_lock(&self, _: JobLockKey) -> DbResult<Option<JobLock>> {
            self.call().await.map(|()| None)
        }
        async fn event_stored_bytes(&self, _: Uuid) -> DbResult<i64> {
            self.call().await.map(|()| 0)
        }
        async fn host_stored_bytes(&self, _: Uuid) -> DbResult<i64> {
            self.call().await.map(|()| 0)
        }
        async fn insert_password_reset(
            &self,
            _: &str,
            _: Uuid,
            _: DateTime<Utc>,
            _: DateTime<Utc>,
        ) -> DbResult<()> {
            self.call().await
        }
        async fn password_reset_host(&self, _: &str, _: DateTime<Utc>) -> DbResult<Option<Uuid>> {
            self.call().await.map(|()| None)
        }
        async fn use_password_reset(&self, _: &str, _: DateTime<Utc>) -> DbResult<Option<Uuid>> {
            self.call().await.map(|()| None)
        }
        async fn set_reaction(
            &self,
            _: Uuid,
            _: Uuid,
            _: Uuid,
            _: &str,
            _: DateTime<Utc>,
        ) -> DbResult<()> {
            self.call().await
        }
        async fn delete_reaction(&self, _: Uuid, _: Uuid) -> DbResult<bool> {
            self.call().await.map(|()| false)
        }
        async fn reaction_counts(&self, _: Uuid, _: Option<Uuid>) -> DbResult<Vec<ReactionCount>> {
            self.call().await.map(|()| Vec::new())
        }
        async fn gallery_social(
            &self,
            _: Uuid,
            _: Option<Uuid>,
            _: bool,
        ) -> DbResult<GallerySocial> {
            self.call().await.map(|()| GallerySocial::default())
        }
        async fn gallery_personal_viewers(&self, _: Uuid) -> DbResult<Vec<Uuid>> {
            self.call().await.map(|()| Vec::new())
        }
        async fn insert_comment(&self, _: &CommentRecord) -> DbResult<()> {
            self.call().await
        }
        async fn comment(&self, _: Uuid) -> DbResult<Option<CommentRecord>> {
            self.call().await.map(|()| None)
        }
        async fn photo_comments(&self, _: Uuid) -> DbResult<Vec<CommentRecord>> {
            self.call().await.map(|()| Vec::new())
        }
        async fn delete_comment(&self, _: Uuid) -> DbResult<Option<CommentRecord>> {
            self.call().await.map(|()| None)
        }
        async fn approve_comment(&self, _: Uuid) -> DbResult<Option<CommentRecord>> {
            self.call().await.map(|()| None)
        }
        async fn event_comments(&self, _: Uuid) -> DbResult<Vec<CommentRecord>> {
            self.call().await.map(|()| Vec::new())
        }
        async fn insert_guestbook_message(&self, _: &GuestbookRecord) -> DbResult<()> {
            self.call().await
        }
        async fn guestbook_message(&self, _: Uuid) -> DbResult<Option<GuestbookRecord>> {
            self.call().await.map(|()| None)
        }
        async fn guestbook_messages(&self, _: Uuid) -> DbResult<Vec<GuestbookRecord>> {
            self.call().await.map(|()| Vec::new())
        }
        async fn delete_guestbook_message(&self, _: Uuid) -> DbResult<Option<GuestbookRecord>> {
            self.call().await.map(|()| None)
        }
        async fn approve_guestbook_message(&self, _: Uuid) -> DbResult<Option<GuestbookRecord>> {
            self.call().await.map(|()| None)
        }
        async fn insert_multipart(&self, _: &MultipartRecord) -> DbResult<()> {
            self.call().await
        }
        async fn multipart(&self, _: Uuid) -> DbResult<Option<MultipartRecord>> {
            self.call().await.map(|()| None)
        }
        async fn delete_multipart(&self, _: Uuid) -> DbResult<bool> {
            self.call().await.map(|()| false)
        }
        async fn multiparts_created_before(
            &self,
            _: DateTime<Utc>,
            _: u32,
        ) -> DbResult<Vec<MultipartRecord>> {
            self.call().await.map(|()| Vec::new())
        }
        async fn count_pin_attempt(
            &self,
            _: Uuid,
            _: &str,
            now: DateTime<Utc>,
            _: DateTime<Utc>,
        ) -> DbResult<(i64, DateTime<Utc>)> {
            self.call().await.map(|()| (1, now))
        }
        async fn clear_pin_attempts(&self, _: Uuid, _: &str, _: DateTime<Utc>) -> DbResult<()> {
            self.call().await
        }
        async fn is_co_host(&self, _: Uuid, _: Uuid) -> DbResult<bool> {
            self.call().await.map(|()| false)
        }
        async fn co_hosts(&self, _: Uuid) -> DbResult<Vec<CoHostRecord>> {
            self.call().await.map(|()| Vec::new())
        }
        async fn delete_co_host(&self, _: Uuid, _: Uuid) -> DbResult<bool> {
            self.call().await.map(|()| false)
        }
        async fn insert_cohost_invite(&self, _: &CohostInviteRecord) -> DbResult<()> {
            self.call().await
        }
        async fn cohost_invite(&self, _: &str) -> DbResult<Option<CohostInviteRecord>> {
            self.call().await.map(|()| None)
        }
        async fn accept_cohost_invite(
            &self,
            _: &str,
            _: Uuid,
            _: DateTime<Utc>,
        ) -> DbResult<Option<Uuid>> {
            self.call().await.map(|()| None)
        }
    }

    fn flaky(up: bool) -> Arc<Flaky> {
        Arc::new(Flaky {
            up: AtomicBool::new(up),
            timeout: Duration::from_secs(3),
            calls: Default::default(),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn after_one_timed_out_call_the_next_ones_fail_at_once_until_the_probe_sees_it_back() {
        let inner = flaky(false);
        let db = FailFast::with_probe_interval(inner.clone(), Duration::from_secs(1));

        let first = Instant::now();
        assert!(matches!(
            db.host(Uuid::nil()).await,
            Err(DbError::Unavailable(_))
        ));
        assert_eq!(
            first.elapsed(),
            Duration::from_secs(3),
            "the first call finds out"
        );
        assert!(db.is_down());

        let calls = inner.calls.load(Ordering::SeqCst);
        let fast = Instant::now();
        for _ in 0..5 {
            assert!(matches!(
                db.event(Uuid::nil()).await,
                Err(DbError::Unavailable(_))
            ));
        }
        assert!(matches!(db.ping().await, Err(DbError::Unavailable(_))));
        assert_eq!(fast.elapsed(), Duration::ZERO, "known down: no waiting");
        assert_eq!(
            inner.calls.load(Ordering::SeqCst),
            calls,
            "nothing reached it"
        );

        inner.up.store(true, Ordering::SeqCst);
        // The probe pings every second; a ping still in flight when it came back times out first.
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!db.is_down(), "the probe saw it back");
        assert!(db.host(Uuid::nil()).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_while_other_calls_are_answered_is_load_not_an_outage() {
        let inner = flaky(false);
        let db = Arc::new(FailFast::new(inner.clone()));
        let slow = tokio::spawn({
            let db = db.clone();
            async move { db.host(Uuid::nil()).await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        inner.up.store(true, Ordering::SeqCst);
        assert!(db.guest(Uuid::nil()).await.is_ok(), "answered meanwhile");
        inner.up.store(false, Ordering::SeqCst);
        let slow = slow.await.expect("task");
        assert!(matches!(slow, Err(DbError::Unavailable(_))));
        assert!(!db.is_down());
    }

    #[tokio::test(start_paused = true)]
    async fn a_ping_right_after_an_answer_does_not_ask_the_database() {
        let inner = flaky(true);
        let db = FailFast::new(inner.clone());
        assert!(db.host(Uuid::nil()).await.is_ok());
        let calls = inner.calls.load(Ordering::SeqCst);
        assert!(db.ping().await.is_ok());
        assert_eq!(
            inner.calls.load(Ordering::SeqCst),
            calls,
            "answered just now"
        );

        tokio::time::sleep(RECENT_ANSWER).await;
        assert!(db.ping().await.is_ok());
        assert_eq!(
            inner.calls.load(Ordering::SeqCst),
            calls + 1,
            "quiet: asked"
        );
        // Once it stops answering, a ping asks and finds out.
        tokio::time::sleep(RECENT_ANSWER).await;
        inner.up.store(false, Ordering::SeqCst);
        assert!(matches!(db.ping().await, Err(DbError::Unavailable(_))));
        assert!(db.is_down());
    }

    #[test]
    fn sqlite_busy_is_contention_and_a_conflict_is_an_answer() {
        assert!(!is_outage(&DbError::Conflict("taken".into())));
        assert!(is_outage(&DbError::Unavailable(sqlx::Error::PoolTimedOut)));
        assert!(is_outage(&known_down()));
    }
}
