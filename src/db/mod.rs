//! Storage of users, events ("sessions"), guests and pictures behind one trait, with a
//! PostgreSQL and a SQLite backend. The backend is chosen once, at start. Both run the same
//! queries ([`sql`]); they differ only in how they connect and encode values.

pub mod fail_fast;
pub mod postgres;
pub mod sql;
pub mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::domain::{comment::CommentStatus, missions::MissionList};

/// How live events reach the other replicas: chosen with the database.
#[derive(Clone)]
pub enum EventTransport {
    InProcess,
    /// NOTIFY through the pool; LISTEN on a connection taken from it.
    Postgres(sqlx::PgPool),
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database cannot be reached or no connection was free in time: 503, retry.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A uniqueness rule was violated; the message names what.
    #[error("{0}")]
    Conflict(String),
    /// A row refers to one that does not exist (foreign key).
    #[error("{0}")]
    MissingReference(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type DbResult<T> = Result<T, DbError>;

/// Classifies driver errors: connectivity problems become [`DbError::Unavailable`].
pub(crate) fn classify(err: sqlx::Error) -> DbError {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => DbError::Unavailable(err),
        sqlx::Error::Database(ref db) if is_connection_failure(db.code().as_deref()) => {
            DbError::Unavailable(err)
        }
        sqlx::Error::Database(ref db) if db.is_foreign_key_violation() => {
            DbError::MissingReference(db.message().to_owned())
        }
        other => DbError::Other(anyhow::Error::new(other)),
    }
}

/// PostgreSQL class 08 (connection exception), 57P0x (shutdown), 53300 (too many connections);
/// SQLite 5/6 (busy/locked).
fn is_connection_failure(code: Option<&str>) -> bool {
    matches!(code, Some(c) if c.starts_with("08") || c.starts_with("57P0") || c == "53300" || c == "5" || c == "6")
}

#[derive(Debug, Clone)]
pub struct HostRecord {
    pub id: Uuid,
    pub email: String,
    pub email_normalized: String,
    pub username: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct EventRecord {
    pub id: Uuid,
    pub host_id: Uuid,
    pub settings: Value,
    pub missions: MissionList,
    pub created_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The short code guests may type (`domain::join_code`, compact form); unique.
    pub join_code: Option<String>,
}

#[derive(Debug, Clone)]
pub struct GuestRecord {
    pub id: Uuid,
    pub event_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhotoRecord {
    pub id: Uuid,
    pub event_id: Uuid,
    pub uploader_name: String,
    pub original_filename: String,
    pub object_key: String,
    pub bucket: String,
    pub mimetype: String,
    pub filesize_bytes: i64,
    pub mission_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The guest who uploaded it, when the client said so.
    pub guest_id: Option<Uuid>,
    pub status: PhotoStatus,
    pub content_hash: Option<String>,
    pub thumb_key: Option<String>,
    /// The metadata-free display copy (<= 2048 px) guests get instead of the original.
    pub display_key: Option<String>,
    /// Whether the variants (thumbnail and display copy; a clip's rendition) exist.
    pub thumb_status: ThumbStatus,
    /// A video clip's length; `None` for photos.
    #[serde(default)]
    pub duration_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhotoStatus {
    Approved,
    /// Waiting for the host (events with pre-approval).
    Pending,
}

impl PhotoStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Pending => "pending",
        }
    }

    pub fn parse(value: &str) -> Self {
        if value == "pending" {
            Self::Pending
        } else {
            Self::Approved
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThumbStatus {
    Pending,
    Ready,
    /// The photo could not be decoded: no variants; guests get the placeholder.
    Failed,
}

impl ThumbStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Self {
        match value {
            "ready" => Self::Ready,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// The stored keys of a photo's variants.
#[derive(Debug, Clone, Copy)]
pub struct VariantKeys<'a> {
    pub thumb: &'a str,
    pub display: &'a str,
}

/// An event with the numbers its host's dashboard shows.
#[derive(Debug, Clone)]
pub struct EventSummary {
    pub event: EventRecord,
    /// Approved photos (what guests can see, given the reveal rule).
    pub picture_count: i64,
    /// Photos waiting for the host's approval.
    pub pending_count: i64,
    pub guest_count: i64,
}

/// A co-host of an event, with their account's names.
#[derive(Debug, Clone)]
pub struct CoHostRecord {
    pub host_id: Uuid,
    pub email: String,
    pub username: String,
    pub added_at: DateTime<Utc>,
}

/// A one-time co-host link as stored: only the token's SHA-256.
#[derive(Debug, Clone)]
pub struct CohostInviteRecord {
    pub token_hash: String,
    pub event_id: Uuid,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub used_by: Option<Uuid>,
}

/// Cluster-wide jobs that one replica at a time may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobLockKey {
    Retention,
    /// Aborting multipart uploads left unfinished.
    StaleMultiparts,
}

impl JobLockKey {
    /// The PostgreSQL advisory lock key ("partypic" + the job's number).
    pub fn advisory_key(self) -> i64 {
        const BASE: i64 = 0x7061_7274_7970_6900;
        match self {
            Self::Retention => BASE + 1,
            Self::StaleMultiparts => BASE + 2,
        }
    }
}

/// Held while a cluster-wide job runs; dropping it releases the lock.
pub struct JobLock {
    _held: Option<Box<dyn Send>>,
}

impl JobLock {
    /// Nothing to hold: the backend serves one process only (SQLite).
    pub fn uncontended() -> Self {
        Self { _held: None }
    }

    pub fn holding(held: impl Send + 'static) -> Self {
        Self {
            _held: Some(Box::new(held)),
        }
    }
}

/// An account with the number of events it hosts (admin listing).
#[derive(Debug, Clone)]
pub struct HostOverview {
    pub host: HostRecord,
    pub event_count: i64,
}

/// An event with its numbers and its host's email (admin listing).
#[derive(Debug, Clone)]
pub struct EventOverview {
    pub summary: EventSummary,
    pub host_email: String,
    /// Bytes of the event's photos (originals, as recorded at upload).
    pub stored_bytes: i64,
}

/// Which pictures of an event a viewer may see, and which page.
#[derive(Debug, Clone, Copy)]
pub struct PhotoQuery {
    /// The host sees everything, pending photos included.
    pub everything: bool,
    /// Whether approved photos of other guests are visible (reveal mode may hide them).
    pub approved_visible: bool,
    /// A guest always sees their own photos, pending ones included.
    pub viewer: Option<Uuid>,
    /// Only pictures older than this one (`created_at`, `id`), for pagination.
    pub before: Option<(DateTime<Utc>, Uuid)>,
    pub limit: Option<u32>,
    /// Only this guest's photos ("my photos", a guest's name tapped).
    pub uploader: Option<Uuid>,
    pub order: PhotoOrder,
}

impl PhotoQuery {
    /// Every photo of the event, newest first (export, deletion).
    pub fn all() -> Self {
        Self {
            everything: true,
            approved_visible: true,
            viewer: None,
            before: None,
            limit: None,
            uploader: None,
            order: PhotoOrder::Newest,
        }
    }
}

/// The order of a gallery page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PhotoOrder {
    #[default]
    Newest,
    /// The most reactions first (newest first among equals).
    MostLoved,
}

/// How many people gave a photo one reaction (its stored name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionCount {
    pub photo_id: Uuid,
    pub reaction: String,
    pub count: i64,
}

/// What a gallery page shows besides the photos, read in one statement: every photo's reaction
/// counts, one reactor's own reactions (photo, stored name) and every photo's comment count.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GallerySocial {
    pub reactions: Vec<ReactionCount>,
    pub mine: Vec<(Uuid, String)>,
    pub comments: Vec<(Uuid, i64)>,
}

/// A guestbook message, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GuestbookRecord {
    pub id: Uuid,
    pub event_id: Uuid,
    /// The guest's id, or the host's.
    pub author_id: Uuid,
    /// The author's name when they wrote it.
    pub author_name: String,
    pub text: String,
    /// One of the author's photos of the event; `None` once that photo is deleted.
    pub photo_id: Option<Uuid>,
    pub status: CommentStatus,
    pub created_at: DateTime<Utc>,
}

/// A comment on a photo, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommentRecord {
    pub id: Uuid,
    pub photo_id: Uuid,
    pub event_id: Uuid,
    /// The guest's id, or the host's.
    pub author_id: Uuid,
    /// The author's name when they wrote it.
    pub author_name: String,
    pub text: String,
    pub status: CommentStatus,
    pub created_at: DateTime<Utc>,
}

/// An open multipart (resumable) upload: the object it becomes and the store's own upload id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartRecord {
    /// The id clients use; unguessable, and not the store's.
    pub id: Uuid,
    pub event_id: Uuid,
    pub object_key: String,
    /// The S3 UploadId (or the local disk's part folder name).
    pub store_upload_id: String,
    pub size_bytes: i64,
    pub part_size: i64,
    pub created_at: DateTime<Utc>,
}

/// The database-derived gauges, counted in one round trip.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub active_sessions: i64,
    pub users_online: i64,
    pub photos_total: i64,
    /// Jobs queued or running, all replicas.
    pub jobs_queued: i64,
}

/// The one kind of job so far: make a photo's variants (thumbnail and display copy).
pub const JOB_KIND_VARIANTS: &str = "variants";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Queued, Self::Running, Self::Done, Self::Failed]
            .into_iter()
            .find(|state| state.as_str() == value)
    }
}

/// A job just claimed, with its photo read in the same statement (PostgreSQL): the runner
/// needs both, and a second read per job was a tenth of a quiet party's statements.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub job: JobRecord,
    /// `None` when the photo is gone (deleting a photo deletes its jobs, so only in a race).
    pub photo: Option<PhotoRecord>,
}

/// A unit of background work on a photo (the `jobs` table).
#[derive(Debug, Clone)]
pub struct JobRecord {
    pub id: Uuid,
    /// What to do, e.g. [`JOB_KIND_VARIANTS`].
    pub kind: String,
    pub photo_id: Uuid,
    pub state: JobState,
    /// Claims so far, the current one included.
    pub attempts: i64,
    pub run_after: DateTime<Utc>,
    pub lease_until: Option<DateTime<Utc>>,
    /// The replica holding (or that last held) the job.
    pub locked_by: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[async_trait]
pub trait Database: Send + Sync + 'static {
    /// Applies pending migrations; safe when several replicas start at once.
    async fn migrate(&self) -> anyhow::Result<()>;
    async fn ping(&self) -> DbResult<()>;
    async fn close(&self);
    /// How live events reach the other replicas: through this database, or in-process only.
    /// Required, so that a wrapper cannot silently fall back to in-process.
    fn event_transport(&self) -> EventTransport;

    /// Fails with [`DbError::Conflict`] when the normalized email exists.
    async fn insert_host(&self, user: &HostRecord) -> DbResult<()>;
    async fn host_by_email(&self, email_normalized: &str) -> DbResult<Option<HostRecord>>;
    async fn host(&self, id: Uuid) -> DbResult<Option<HostRecord>>;

    async fn insert_event(&self, session: &EventRecord) -> DbResult<()>;
    async fn event(&self, id: Uuid) -> DbResult<Option<EventRecord>>;
    /// The event with this join code (compact form).
    async fn event_by_join_code(&self, code: &str) -> DbResult<Option<EventRecord>>;
    /// A host's events, the ones they co-host included, newest first.
    async fn events_of_host(&self, user_id: Uuid) -> DbResult<Vec<EventSummary>>;
    async fn update_missions(
        &self,
        id: Uuid,
        missions: &MissionList,
    ) -> DbResult<Option<EventRecord>>;
    async fn update_settings(
        &self,
        id: Uuid,
        settings: &Value,
        ends_at: DateTime<Utc>,
    ) -> DbResult<Option<EventRecord>>;

    async fn insert_guest(&self, guest: &GuestRecord) -> DbResult<()>;
    async fn guest(&self, id: Uuid) -> DbResult<Option<GuestRecord>>;
    /// Sets `last_seen`; returns the guest, or `None` when unknown.
    async fn touch_guest(&self, id: Uuid, now: DateTime<Utc>) -> DbResult<Option<GuestRecord>>;
    /// Moves each guest's `last_seen` forward to the given time (never back); unknown guests are
    /// skipped. One statement: the write-behind heartbeats of a replica.
    async fn touch_guests(&self, seen: &[(Uuid, DateTime<Utc>)]) -> DbResult<()>;
    async fn guests_online(&self, session_id: Uuid, since: DateTime<Utc>) -> DbResult<i64>;
    /// Every guest of an event, in the order they joined.
    async fn guests_of_event(&self, event_id: Uuid) -> DbResult<Vec<GuestRecord>>;

    /// Inserts unless a picture with the same key (or the same content in the event) exists;
    /// returns the stored picture either way.
    /// A photo inserted with variants `pending` gets its variants job atomically with it.
    async fn insert_photo(&self, picture: &PhotoRecord) -> DbResult<PhotoRecord>;
    async fn photo(&self, id: Uuid) -> DbResult<Option<PhotoRecord>>;
    async fn photo_by_key(&self, s3_key: &str) -> DbResult<Option<PhotoRecord>>;
    async fn photo_by_hash(
        &self,
        session_id: Uuid,
        content_hash: &str,
    ) -> DbResult<Option<PhotoRecord>>;
    /// Newest first.
    async fn photos(&self, session_id: Uuid, query: PhotoQuery) -> DbResult<Vec<PhotoRecord>>;
    async fn count_guest_photos(&self, session_id: Uuid, user_id: Uuid) -> DbResult<i64>;
    async fn approve_photo(&self, id: Uuid) -> DbResult<Option<PhotoRecord>>;
    /// Returns the deleted picture.
    async fn delete_photo(&self, id: Uuid) -> DbResult<Option<PhotoRecord>>;
    /// Records the variants (both keys, or neither when the photo cannot be decoded).
    async fn set_variants(
        &self,
        id: Uuid,
        keys: Option<VariantKeys<'_>>,
        status: ThumbStatus,
    ) -> DbResult<()>;

    /// Claims up to `limit` jobs for `worker` until `lease_until`, newest first: queued jobs
    /// due at `now` and running jobs whose lease expired (their replica died). Each claim counts
    /// as an attempt. Replicas never get the same job (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
    /// Each comes with its photo as stored now, which the job works on.
    async fn claim_jobs(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> DbResult<Vec<ClaimedJob>>;
    /// Extends the lease of a job `worker` still holds; `false` when it holds it no more.
    async fn extend_job_lease(
        &self,
        id: Uuid,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> DbResult<bool>;
    /// Records the photo's variants (`ready`) and marks its variants job done, in one step, if
    /// `worker` still holds the job: the photo as now stored, `None` when it holds it no more.
    async fn complete_variants_job(
        &self,
        id: Uuid,
        worker: &str,
        keys: VariantKeys<'_>,
        now: DateTime<Utc>,
    ) -> DbResult<Option<PhotoRecord>>;
    /// Queues a job `worker` holds again, to run at `run_after`; `false` when it holds it no more.
    async fn retry_job(
        &self,
        id: Uuid,
        worker: &str,
        run_after: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> DbResult<bool>;
    /// Marks a job `worker` holds failed for good and, in the same transaction, its photo's
    /// variants `failed`; `false` when it holds it no more.
    async fn fail_job(
        &self,
        id: Uuid,
        worker: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> DbResult<bool>;
    /// The photo's jobs, oldest first.
    async fn jobs_of_photo(&self, photo_id: Uuid) -> DbResult<Vec<JobRecord>>;
    /// Deletes up to `limit` jobs that finished `done` before `before`; how many went. Failed jobs
    /// stay (the host sees why a photo has no copies) until their photo is deleted.
    async fn delete_done_jobs(&self, before: DateTime<Utc>, limit: u32) -> DbResult<u64>;

    async fn counts(&self, now: DateTime<Utc>, online_since: DateTime<Utc>) -> DbResult<Counts>;

    /// Every account, oldest first.
    async fn hosts_overview(&self) -> DbResult<Vec<HostOverview>>;
    /// Every event, newest first.
    async fn events_overview(&self) -> DbResult<Vec<EventOverview>>;
    /// Replaces the account's password hash; `false` when the account does not exist.
    async fn set_password_hash(&self, host_id: Uuid, password_hash: &str) -> DbResult<bool>;
    /// Deletes the event's picture rows and returns them (their objects are the caller's).
    async fn delete_event_photos(&self, event_id: Uuid) -> DbResult<Vec<PhotoRecord>>;
    /// Deletes the event row (guests and any remaining pictures go with it); the deleted event.
    async fn delete_event(&self, id: Uuid) -> DbResult<Option<EventRecord>>;
    /// Events that ended before `ended_before`, longest ended first.
    async fn events_ended_before(
        &self,
        ended_before: DateTime<Utc>,
        limit: u32,
    ) -> DbResult<Vec<Uuid>>;
    /// The job's lock when no other replica holds it; `None` when one does.
    async fn try_job_lock(&self, job: JobLockKey) -> DbResult<Option<JobLock>>;

    /// Bytes of the event's photos, as recorded at upload.
    async fn event_stored_bytes(&self, event_id: Uuid) -> DbResult<i64>;
    /// Bytes of the photos of all the host's events.
    async fn host_stored_bytes(&self, host_id: Uuid) -> DbResult<i64>;

    /// Stores a password-reset token (its hash) for the account.
    async fn insert_password_reset(
        &self,
        token_hash: &str,
        host_id: Uuid,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> DbResult<()>;
    /// The account a token is for while it is unused and unexpired at `now`.
    async fn password_reset_host(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> DbResult<Option<Uuid>>;
    /// Marks the token used, once: the account, or `None` when it was used, expired or unknown.
    async fn use_password_reset(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> DbResult<Option<Uuid>>;

    /// Sets the reaction of `reactor_id` (a guest's or the host's id) to the photo, replacing
    /// theirs; [`DbError::MissingReference`] when the photo (or event) is gone.
    async fn set_reaction(
        &self,
        photo_id: Uuid,
        event_id: Uuid,
        reactor_id: Uuid,
        reaction: &str,
        at: DateTime<Utc>,
    ) -> DbResult<()>;
    /// Removes the reaction of `reactor_id`; whether there was one.
    async fn delete_reaction(&self, photo_id: Uuid, reactor_id: Uuid) -> DbResult<bool>;
    /// Reaction counts of the event's photos, or of `photo_id` only.
    async fn reaction_counts(
        &self,
        event_id: Uuid,
        photo_id: Option<Uuid>,
    ) -> DbResult<Vec<ReactionCount>>;
    /// The event's reaction counts, the reactions of `reactor` (none without one) and the
    /// comment counts of its photos: approved comments only, or pending ones too
    /// (`comments_with_pending`).
    async fn gallery_social(
        &self,
        event_id: Uuid,
        reactor: Option<Uuid>,
        comments_with_pending: bool,
    ) -> DbResult<GallerySocial>;

    /// Who gets a gallery of their own in the event: everybody who reacted to one of its photos
    /// (their page marks their reactions) and every guest with a photo that is not approved
    /// (only they and the hosts see it). Everybody else with the same rights sees the same page.
    async fn gallery_personal_viewers(&self, event_id: Uuid) -> DbResult<Vec<Uuid>>;

    /// Stores a comment; [`DbError::MissingReference`] when the photo (or event) is gone.
    async fn insert_comment(&self, comment: &CommentRecord) -> DbResult<()>;
    async fn comment(&self, id: Uuid) -> DbResult<Option<CommentRecord>>;
    /// The photo's comments, oldest first.
    async fn photo_comments(&self, photo_id: Uuid) -> DbResult<Vec<CommentRecord>>;
    /// Removes a comment; the removed comment, or `None` when it was already gone.
    async fn delete_comment(&self, id: Uuid) -> DbResult<Option<CommentRecord>>;
    /// Marks a comment approved; the comment, or `None` when it is gone.
    async fn approve_comment(&self, id: Uuid) -> DbResult<Option<CommentRecord>>;
    /// The event's comments, oldest first.
    async fn event_comments(&self, event_id: Uuid) -> DbResult<Vec<CommentRecord>>;

    /// Stores a guestbook message; [`DbError::MissingReference`] when the event or the photo is
    /// gone.
    async fn insert_guestbook_message(&self, message: &GuestbookRecord) -> DbResult<()>;
    async fn guestbook_message(&self, id: Uuid) -> DbResult<Option<GuestbookRecord>>;
    /// The event's guestbook, oldest first.
    async fn guestbook_messages(&self, event_id: Uuid) -> DbResult<Vec<GuestbookRecord>>;
    /// Removes a message; the removed message, or `None` when it was already gone.
    async fn delete_guestbook_message(&self, id: Uuid) -> DbResult<Option<GuestbookRecord>>;
    /// Marks a message approved; the message, or `None` when it is gone.
    async fn approve_guestbook_message(&self, id: Uuid) -> DbResult<Option<GuestbookRecord>>;

    async fn insert_multipart(&self, upload: &MultipartRecord) -> DbResult<()>;
    async fn multipart(&self, id: Uuid) -> DbResult<Option<MultipartRecord>>;
    /// Forgets the upload; whether it was still recorded (of two concurrent calls, one wins).
    async fn delete_multipart(&self, id: Uuid) -> DbResult<bool>;
    /// Uploads opened before `created_before`, oldest first.
    async fn multiparts_created_before(
        &self,
        created_before: DateTime<Utc>,
        limit: u32,
    ) -> DbResult<Vec<MultipartRecord>>;

    /// Counts one PIN attempt of `client` at the event, in a window that began at `now` unless
    /// the current one began after `window_after`; returns (attempts in the window, its start).
    /// One statement: concurrent attempts on any replica are all counted.
    async fn count_pin_attempt(
        &self,
        event_id: Uuid,
        client: &str,
        now: DateTime<Utc>,
        window_after: DateTime<Utc>,
    ) -> DbResult<(i64, DateTime<Utc>)>;
    /// Forgets `client`'s attempts at the event (a right PIN) and every window that began
    /// before `window_after`.
    async fn clear_pin_attempts(
        &self,
        event_id: Uuid,
        client: &str,
        window_after: DateTime<Utc>,
    ) -> DbResult<()>;

    /// Whether `host_id` co-hosts the event (its owner is `EventRecord::host_id`, not listed).
    async fn is_co_host(&self, event_id: Uuid, host_id: Uuid) -> DbResult<bool>;
    /// The event's co-hosts, in the order they were added.
    async fn co_hosts(&self, event_id: Uuid) -> DbResult<Vec<CoHostRecord>>;
    /// Removes a co-host; whether they were one.
    async fn delete_co_host(&self, event_id: Uuid, host_id: Uuid) -> DbResult<bool>;
    async fn insert_cohost_invite(&self, invite: &CohostInviteRecord) -> DbResult<()>;
    async fn cohost_invite(&self, token_hash: &str) -> DbResult<Option<CohostInviteRecord>>;
    /// Uses the link for `host_id` and makes them a co-host of its event, in one transaction:
    /// the event, or `None` when the link was used, expired or unknown at `now`. Of two
    /// concurrent calls only one gets the event.
    async fn accept_cohost_invite(
        &self,
        token_hash: &str,
        host_id: Uuid,
        now: DateTime<Utc>,
    ) -> DbResult<Option<Uuid>>;
}
