//! The one implementation of [`Database`] for both SQL backends: every query's text (PostgreSQL
//! and SQLite both read `$n` placeholders), row → record mapping and race recovery. A backend
//! ([`Backend`]) supplies only its pool, its migrations and how it encodes values: SQLite keeps
//! UUIDs as text and timestamps as Unix microseconds, PostgreSQL uses uuid, timestamptz and jsonb.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::{
    ClaimedJob, CoHostRecord, CohostInviteRecord, CommentRecord, Counts, Database, DbError,
    DbResult, EventOverview, EventRecord, EventSummary, EventTransport, GallerySocial, GuestRecord,
    GuestbookRecord, HostOverview, HostRecord, JOB_KIND_VARIANTS, JobLock, JobLockKey, JobRecord,
    JobState, MultipartRecord, PhotoOrder, PhotoQuery, PhotoRecord, PhotoStatus, ReactionCount,
    ThumbStatus, VariantKeys, classify,
};
use crate::domain::{comment::CommentStatus, missions::MissionList};

/// A value bound to a query; each backend encodes the kinds its own way.
#[derive(Debug)]
pub enum Param<'a> {
    Uuid(Option<Uuid>),
    Time(Option<DateTime<Utc>>),
    Text(Option<&'a str>),
    Int(i64),
    Bool(bool),
    /// Serialized once here; PostgreSQL stores it as jsonb, SQLite as text.
    Json(Box<RawValue>),
}

impl From<Uuid> for Param<'_> {
    fn from(value: Uuid) -> Self {
        Self::Uuid(Some(value))
    }
}

impl From<Option<Uuid>> for Param<'_> {
    fn from(value: Option<Uuid>) -> Self {
        Self::Uuid(value)
    }
}

impl From<DateTime<Utc>> for Param<'_> {
    fn from(value: DateTime<Utc>) -> Self {
        Self::Time(Some(value))
    }
}

impl From<Option<DateTime<Utc>>> for Param<'_> {
    fn from(value: Option<DateTime<Utc>>) -> Self {
        Self::Time(value)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(value: &'a str) -> Self {
        Self::Text(Some(value))
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(value: &'a String) -> Self {
        Self::Text(Some(value))
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(value: Option<&'a str>) -> Self {
        Self::Text(value)
    }
}

impl From<i64> for Param<'_> {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl From<bool> for Param<'_> {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

fn json(value: &impl serde::Serialize) -> DbResult<Param<'static>> {
    serde_json::value::to_raw_value(value)
        .map(Param::Json)
        .map_err(|e| DbError::Other(e.into()))
}

macro_rules! params {
    ($($value:expr),* $(,)?) => { vec![$(Param::from($value)),*] };
}

/// Reads a column in the backend's encoding.
pub trait SqlRow: Send {
    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>, sqlx::Error>;
    fn time(&self, column: &str) -> Result<DateTime<Utc>, sqlx::Error>;
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    fn int(&self, column: &str) -> Result<i64, sqlx::Error>;

    fn uuid(&self, column: &str) -> Result<Uuid, sqlx::Error> {
        self.opt_uuid(column)?
            .ok_or_else(|| unexpected_null(column))
    }

    fn text(&self, column: &str) -> Result<String, sqlx::Error> {
        self.opt_text(column)?
            .ok_or_else(|| unexpected_null(column))
    }
}

/// Reads the columns named `{prefix}{column}`: a row joining two tables whose column names
/// overlap aliases one side's.
struct Prefixed<'r, R> {
    row: &'r R,
    prefix: &'static str,
}

impl<R: SqlRow + Sync> Prefixed<'_, R> {
    fn name(&self, column: &str) -> String {
        format!("{}{column}", self.prefix)
    }
}

impl<R: SqlRow + Sync> SqlRow for Prefixed<'_, R> {
    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>, sqlx::Error> {
        self.row.opt_uuid(&self.name(column))
    }
    fn time(&self, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        self.row.time(&self.name(column))
    }
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.row.opt_time(&self.name(column))
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.row.opt_text(&self.name(column))
    }
    fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
        self.row.int(&self.name(column))
    }
}

/// `p.id AS picture_id, p.session_id AS picture_session_id, …`: a photo's columns beside
/// another table's, read back with [`Prefixed`].
fn prefixed_photo_columns(table: &str, prefix: &str) -> String {
    PHOTO_COLUMNS
        .split(',')
        .map(|column| format!("{table}.{0} AS {prefix}{0}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn unexpected_null(column: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: Box::new(sqlx::error::UnexpectedNullError),
    }
}

/// One statement of a transaction.
pub struct Statement<'a> {
    pub sql: &'a str,
    pub params: Vec<Param<'a>>,
}

/// What a SQL backend provides; [`Database`] is implemented once, below, for every backend.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    type Row: SqlRow + Sync;
    /// Appended to the job claim's inner SELECT: replicas skip the rows another one is claiming
    /// (PostgreSQL). SQLite serves one process and runs each statement alone: nothing needed.
    const SKIP_LOCKED: &'static str = "";
    /// Whether INSERT and UPDATE may run inside WITH (PostgreSQL): a write and the writes that
    /// follow from it go as one statement, one round trip and one commit, instead of a
    /// transaction of several. SQLite runs them as a transaction in its own process.
    const WRITES_IN_WITH: bool = false;

    async fn execute(&self, sql: &str, params: Vec<Param<'_>>) -> Result<(), sqlx::Error>;
    async fn fetch_optional(
        &self,
        sql: &str,
        params: Vec<Param<'_>>,
    ) -> Result<Option<Self::Row>, sqlx::Error>;
    async fn fetch_all(
        &self,
        sql: &str,
        params: Vec<Param<'_>>,
    ) -> Result<Vec<Self::Row>, sqlx::Error>;
    /// Runs `first` and, when it returns a row, `then`, all in one transaction.
    async fn fetch_optional_then(
        &self,
        first: Statement<'_>,
        then: Vec<Statement<'_>>,
    ) -> Result<Option<Self::Row>, sqlx::Error>;
    /// Whether `err` is a violation of the unique index `index`.
    fn violates_unique(err: &sqlx::Error, index: &str) -> bool;

    /// Applies pending migrations; safe when several replicas start at once.
    async fn run_migrations(&self) -> anyhow::Result<()>;
    async fn close_pool(&self);
    /// Takes the advisory lock `key` for as long as the returned lock lives; `None` when another
    /// process holds it. A backend that serves one process only needs no lock.
    async fn try_advisory_lock(&self, _key: i64) -> Result<Option<JobLock>, sqlx::Error> {
        Ok(Some(JobLock::uncontended()))
    }
    /// How live events reach the other replicas (see [`Database::event_transport`]).
    fn transport(&self) -> EventTransport {
        EventTransport::InProcess
    }
}

const HOST_COLUMNS: &str = "id, email, email_normalized, username, password_hash, created_at";
const EVENT_COLUMNS: &str = "id, user_id, settings, missions, created_at, ends_at, join_code";
/// JSON is read as text: a settings value jsonb keeps but serde cannot read back must not make
/// the event unreadable (it decodes as `{}` instead).
const EVENT_SELECT: &str = "id, user_id, CAST(settings AS TEXT) AS settings, \
     CAST(missions AS TEXT) AS missions, created_at, ends_at, join_code";
const GUEST_COLUMNS: &str = "id, session_id, user_name, created_at, last_seen";
const PHOTO_COLUMNS: &str = "id, session_id, u_name, original_filename, s3_key, s3_bucket, \
     mimetype, filesize_bytes, mission_id, created_at, user_id, status, content_hash, thumb_key, \
     thumb_status, display_key, duration_ms";

fn host_from_row(row: &impl SqlRow) -> Result<HostRecord, sqlx::Error> {
    Ok(HostRecord {
        id: row.uuid("id")?,
        email: row.text("email")?,
        email_normalized: row.text("email_normalized")?,
        username: row.text("username")?,
        password_hash: row.text("password_hash")?,
        created_at: row.time("created_at")?,
    })
}

fn event_from_row(row: &impl SqlRow) -> Result<EventRecord, sqlx::Error> {
    let id = row.uuid("id")?;
    let settings = serde_json::from_str(&row.text("settings")?).unwrap_or_else(|err| {
        tracing::warn!(session = %id, error = %err, "unreadable event settings; using none");
        serde_json::Value::Object(serde_json::Map::new())
    });
    let missions: MissionList = serde_json::from_str(&row.text("missions")?)
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(EventRecord {
        id,
        host_id: row.uuid("user_id")?,
        settings,
        missions,
        created_at: row.time("created_at")?,
        ends_at: row.time("ends_at")?,
        join_code: row.opt_text("join_code")?,
    })
}

fn guest_from_row(row: &impl SqlRow) -> Result<GuestRecord, sqlx::Error> {
    Ok(GuestRecord {
        id: row.uuid("id")?,
        event_id: row.uuid("session_id")?,
        name: row.text("user_name")?,
        created_at: row.time("created_at")?,
        last_seen: row.time("last_seen")?,
    })
}

fn photo_from_row(row: &impl SqlRow) -> Result<PhotoRecord, sqlx::Error> {
    Ok(PhotoRecord {
        id: row.uuid("id")?,
        event_id: row.uuid("session_id")?,
        uploader_name: row.text("u_name")?,
        original_filename: row.text("original_filename")?,
        object_key: row.text("s3_key")?,
        bucket: row.text("s3_bucket")?,
        mimetype: row.text("mimetype")?,
        filesize_bytes: row.int("filesize_bytes")?,
        mission_id: row.opt_text("mission_id")?,
        created_at: row.time("created_at")?,
        guest_id: row.opt_uuid("user_id")?,
        status: PhotoStatus::parse(&row.text("status")?),
        content_hash: row.opt_text("content_hash")?,
        thumb_key: row.opt_text("thumb_key")?,
        thumb_status: ThumbStatus::parse(&row.text("thumb_status")?),
        display_key: row.opt_text("display_key")?,
        // Stored as 0 for photos (the column is NOT NULL, like every integer the backends bind).
        duration_ms: Some(row.int("duration_ms")?).filter(|ms| *ms > 0),
    })
}

const COMMENT_COLUMNS: &str =
    "id, picture_id, session_id, author_id, author_name, body, status, created_at";

fn comment_from_row(row: &impl SqlRow) -> Result<CommentRecord, sqlx::Error> {
    Ok(CommentRecord {
        id: row.uuid("id")?,
        photo_id: row.uuid("picture_id")?,
        event_id: row.uuid("session_id")?,
        author_id: row.uuid("author_id")?,
        author_name: row.text("author_name")?,
        text: row.text("body")?,
        status: CommentStatus::parse(&row.text("status")?),
        created_at: row.time("created_at")?,
    })
}

const GUESTBOOK_COLUMNS: &str =
    "id, session_id, author_id, author_name, body, picture_id, status, created_at";

fn guestbook_from_row(row: &impl SqlRow) -> Result<GuestbookRecord, sqlx::Error> {
    Ok(GuestbookRecord {
        id: row.uuid("id")?,
        event_id: row.uuid("session_id")?,
        author_id: row.uuid("author_id")?,
        author_name: row.text("author_name")?,
        text: row.text("body")?,
        photo_id: row.opt_uuid("picture_id")?,
        status: CommentStatus::parse(&row.text("status")?),
        created_at: row.time("created_at")?,
    })
}

const JOB_COLUMNS: &str = "id, kind, photo_id, state, attempts, run_after, lease_until, \
     locked_by, last_error, created_at, updated_at";

/// The prefix of the photo's columns in a claim (`picture_id`, …; see [`Prefixed`]).
const PICTURE_PREFIX: &str = "picture_";

fn claimed_from_row(row: &(impl SqlRow + Sync)) -> Result<ClaimedJob, sqlx::Error> {
    let photo = Prefixed {
        row,
        prefix: PICTURE_PREFIX,
    };
    Ok(ClaimedJob {
        job: job_from_row(row)?,
        // A LEFT JOIN: no photo, no id.
        photo: match photo.opt_uuid("id")? {
            Some(_) => Some(photo_from_row(&photo)?),
            None => None,
        },
    })
}

fn job_from_row(row: &impl SqlRow) -> Result<JobRecord, sqlx::Error> {
    let state = row.text("state")?;
    Ok(JobRecord {
        id: row.uuid("id")?,
        kind: row.text("kind")?,
        photo_id: row.uuid("photo_id")?,
        state: JobState::parse(&state)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown job state {state}").into()))?,
        attempts: row.int("attempts")?,
        run_after: row.time("run_after")?,
        lease_until: row.opt_time("lease_until")?,
        locked_by: row.opt_text("locked_by")?,
        last_error: row.opt_text("last_error")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// `UPDATE ... RETURNING id` run for its "did it match" answer.
async fn updated<B: Backend>(db: &B, sql: &str, params: Vec<Param<'_>>) -> DbResult<bool> {
    Ok(optional(db, sql, params, |row| row.uuid("id"))
        .await?
        .is_some())
}

fn summary_from_row(row: &impl SqlRow) -> Result<EventSummary, sqlx::Error> {
    Ok(EventSummary {
        event: event_from_row(row)?,
        picture_count: row.int("picture_count")?,
        pending_count: row.int("pending_count")?,
        guest_count: row.int("guest_count")?,
    })
}

/// The row `sql` returns, if any, as a record.
async fn optional<B: Backend, T>(
    db: &B,
    sql: &str,
    params: Vec<Param<'_>>,
    record: fn(&B::Row) -> Result<T, sqlx::Error>,
) -> DbResult<Option<T>> {
    let row = db.fetch_optional(sql, params).await.map_err(classify)?;
    row.as_ref().map(record).transpose().map_err(classify)
}

async fn all<B: Backend, T>(
    db: &B,
    sql: &str,
    params: Vec<Param<'_>>,
    record: fn(&B::Row) -> Result<T, sqlx::Error>,
) -> DbResult<Vec<T>> {
    let rows = db.fetch_all(sql, params).await.map_err(classify)?;
    rows.iter()
        .map(record)
        .collect::<Result<_, _>>()
        .map_err(classify)
}

/// `SELECT COUNT(*) AS n ...`
async fn count<B: Backend>(db: &B, sql: &str, params: Vec<Param<'_>>) -> DbResult<i64> {
    optional(db, sql, params, |row| row.int("n"))
        .await?
        .ok_or_else(|| classify(sqlx::Error::RowNotFound))
}

#[async_trait]
impl<B: Backend> Database for B {
    async fn migrate(&self) -> anyhow::Result<()> {
        self.run_migrations().await
    }

    async fn ping(&self) -> DbResult<()> {
        self.execute("SELECT 1", vec![]).await.map_err(classify)
    }

    async fn close(&self) {
        self.close_pool().await;
    }

    fn event_transport(&self) -> EventTransport {
        self.transport()
    }

    async fn insert_host(&self, user: &HostRecord) -> DbResult<()> {
        let sql = format!("INSERT INTO users ({HOST_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)");
        let params = params![
            user.id,
            &user.email,
            &user.email_normalized,
            &user.username,
            &user.password_hash,
            user.created_at,
        ];
        match self.execute(&sql, params).await {
            Ok(()) => Ok(()),
            Err(err) if B::violates_unique(&err, "users_email_normalized_key") => {
                Err(DbError::Conflict("Email already registered".into()))
            }
            Err(err) => Err(classify(err)),
        }
    }

    async fn host_by_email(&self, email_normalized: &str) -> DbResult<Option<HostRecord>> {
        let sql = format!("SELECT {HOST_COLUMNS} FROM users WHERE email_normalized = $1");
        optional(self, &sql, params![email_normalized], host_from_row).await
    }

    async fn host(&self, id: Uuid) -> DbResult<Option<HostRecord>> {
        let sql = format!("SELECT {HOST_COLUMNS} FROM users WHERE id = $1");
        optional(self, &sql, params![id], host_from_row).await
    }

    async fn insert_event(&self, session: &EventRecord) -> DbResult<()> {
        let sql =
            format!("INSERT INTO sessions ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        let params = vec![
            session.id.into(),
            session.host_id.into(),
            json(&session.settings)?,
            json(&session.missions)?,
            session.created_at.into(),
            session.ends_at.into(),
            session.join_code.as_deref().into(),
        ];
        match self.execute(&sql, params).await {
            Err(err) if B::violates_unique(&err, "sessions_join_code_key") => {
                Err(DbError::Conflict("Join code already taken".into()))
            }
            other => other.map_err(classify),
        }
    }

    async fn event(&self, id: Uuid) -> DbResult<Option<EventRecord>> {
        let sql = format!("SELECT {EVENT_SELECT} FROM sessions WHERE id = $1");
        optional(self, &sql, params![id], event_from_row).await
    }

    async fn event_by_join_code(&self, code: &str) -> DbResult<Option<EventRecord>> {
        let sql = format!("SELECT {EVENT_SELECT} FROM sessions WHERE join_code = $1");
        optional(self, &sql, params![code], event_from_row).await
    }

    async fn events_of_host(&self, user_id: Uuid) -> DbResult<Vec<EventSummary>> {
        let sql = format!(
            "SELECT {EVENT_SELECT},
                    (SELECT COUNT(*) FROM pictures p WHERE p.session_id = s.id
                      AND p.status = 'approved') AS picture_count,
                    (SELECT COUNT(*) FROM pictures p WHERE p.session_id = s.id
                      AND p.status = 'pending') AS pending_count,
                    (SELECT COUNT(*) FROM session_users g WHERE g.session_id = s.id) AS guest_count
             FROM sessions s
             WHERE s.user_id = $1
                OR EXISTS (SELECT 1 FROM event_hosts h WHERE h.session_id = s.id AND h.user_id = $1)
             ORDER BY created_at DESC"
        );
        all(self, &sql, params![user_id], summary_from_row).await
    }

    async fn update_missions(
        &self,
        id: Uuid,
        missions: &MissionList,
    ) -> DbResult<Option<EventRecord>> {
        let sql =
            format!("UPDATE sessions SET missions = $2 WHERE id = $1 RETURNING {EVENT_SELECT}");
        let params = vec![id.into(), json(missions)?];
        optional(self, &sql, params, event_from_row).await
    }

    async fn update_settings(
        &self,
        id: Uuid,
        settings: &serde_json::Value,
        ends_at: DateTime<Utc>,
    ) -> DbResult<Option<EventRecord>> {
        let sql = format!(
            "UPDATE sessions SET settings = $2, ends_at = $3 WHERE id = $1 RETURNING {EVENT_SELECT}"
        );
        let params = vec![id.into(), json(settings)?, ends_at.into()];
        optional(self, &sql, params, event_from_row).await
    }

    async fn insert_guest(&self, guest: &GuestRecord) -> DbResult<()> {
        let sql =
            format!("INSERT INTO session_users ({GUEST_COLUMNS}) VALUES ($1, $2, $3, $4, $5)");
        let params = params![
            guest.id,
            guest.event_id,
            &guest.name,
            guest.created_at,
            guest.last_seen,
        ];
        self.execute(&sql, params).await.map_err(classify)
    }

    async fn guest(&self, id: Uuid) -> DbResult<Option<GuestRecord>> {
        let sql = format!("SELECT {GUEST_COLUMNS} FROM session_users WHERE id = $1");
        optional(self, &sql, params![id], guest_from_row).await
    }

    async fn touch_guest(&self, id: Uuid, now: DateTime<Utc>) -> DbResult<Option<GuestRecord>> {
        let sql = format!(
            "UPDATE session_users SET last_seen = $2 WHERE id = $1 RETURNING {GUEST_COLUMNS}"
        );
        optional(self, &sql, params![id, now], guest_from_row).await
    }

    async fn touch_guests(&self, seen: &[(Uuid, DateTime<Utc>)]) -> DbResult<()> {
        if seen.is_empty() {
            return Ok(());
        }
        // A derived table both backends read (SQLite names no VALUES columns); PostgreSQL takes
        // the parameters' types from their bindings (uuid, timestamptz).
        let rows = (0..seen.len())
            .map(|i| format!("SELECT ${} AS id, ${} AS seen", 2 * i + 1, 2 * i + 2))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let sql = format!(
            "UPDATE session_users SET last_seen = beats.seen FROM ({rows}) AS beats \
             WHERE session_users.id = beats.id AND session_users.last_seen < beats.seen"
        );
        let params = seen
            .iter()
            .flat_map(|(id, at)| [Param::from(*id), Param::from(*at)])
            .collect();
        self.execute(&sql, params).await.map_err(classify)
    }

    async fn guests_online(&self, session_id: Uuid, since: DateTime<Utc>) -> DbResult<i64> {
        let sql =
            "SELECT COUNT(*) AS n FROM session_users WHERE session_id = $1 AND last_seen > $2";
        count(self, sql, params![session_id, since]).await
    }

    async fn guests_of_event(&self, event_id: Uuid) -> DbResult<Vec<GuestRecord>> {
        let sql = format!(
            "SELECT {GUEST_COLUMNS} FROM session_users WHERE session_id = $1 ORDER BY created_at, id"
        );
        all(self, &sql, params![event_id], guest_from_row).await
    }

    async fn insert_photo(&self, picture: &PhotoRecord) -> DbResult<PhotoRecord> {
        let insert = format!(
            "INSERT INTO pictures ({PHOTO_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
             ON CONFLICT DO NOTHING RETURNING {PHOTO_COLUMNS}"
        );
        let mut params = params![
            picture.id,
            picture.event_id,
            &picture.uploader_name,
            &picture.original_filename,
            &picture.object_key,
            &picture.bucket,
            &picture.mimetype,
            picture.filesize_bytes,
            picture.mission_id.as_deref(),
            picture.created_at,
            picture.guest_id,
            picture.status.as_str(),
            picture.content_hash.as_deref(),
            picture.thumb_key.as_deref(),
            picture.thumb_status.as_str(),
            picture.display_key.as_deref(),
            picture.duration_ms.unwrap_or(0),
        ];
        // The variants job comes with the photo: due at once, ordered by the photo's time, so an
        // imported event's old photos queue behind the ones guests are taking now.
        let with_job = picture.thumb_status == ThumbStatus::Pending;
        let inserted = if with_job && Self::WRITES_IN_WITH {
            let sql = format!(
                "WITH photo AS ({insert}),
                      job AS (INSERT INTO jobs (id, kind, photo_id, state, attempts, run_after,
                                                created_at, updated_at)
                              SELECT $18, $19, id, 'queued', 0, $10, $10, $10 FROM photo)
                 SELECT {PHOTO_COLUMNS} FROM photo"
            );
            params.extend(params![Uuid::new_v4(), JOB_KIND_VARIANTS]);
            self.fetch_optional(&sql, params).await
        } else {
            let job = Statement {
                sql: "INSERT INTO jobs (id, kind, photo_id, state, attempts, run_after, \
                      created_at, updated_at) VALUES ($1, $2, $3, 'queued', 0, $4, $4, $4)",
                params: params![
                    Uuid::new_v4(),
                    JOB_KIND_VARIANTS,
                    picture.id,
                    picture.created_at
                ],
            };
            let first = Statement {
                sql: &insert,
                params,
            };
            let then = if with_job { vec![job] } else { Vec::new() };
            self.fetch_optional_then(first, then).await
        }
        .map_err(classify)?;
        if let Some(inserted) = inserted.as_ref().map(photo_from_row) {
            return inserted.map_err(classify);
        }
        // Lost a race: the same key, or the same content in this event, is already stored.
        if let Some(existing) = self.photo_by_key(&picture.object_key).await? {
            return Ok(existing);
        }
        if let Some(hash) = &picture.content_hash {
            if let Some(existing) = self.photo_by_hash(picture.event_id, hash).await? {
                return Ok(existing);
            }
        }
        Err(DbError::Other(anyhow::anyhow!(
            "picture vanished after a conflict"
        )))
    }

    async fn photo(&self, id: Uuid) -> DbResult<Option<PhotoRecord>> {
        let sql = format!("SELECT {PHOTO_COLUMNS} FROM pictures WHERE id = $1");
        optional(self, &sql, params![id], photo_from_row).await
    }

    async fn photo_by_key(&self, s3_key: &str) -> DbResult<Option<PhotoRecord>> {
        let sql = format!("SELECT {PHOTO_COLUMNS} FROM pictures WHERE s3_key = $1");
        optional(self, &sql, params![s3_key], photo_from_row).await
    }

    async fn photo_by_hash(
        &self,
        session_id: Uuid,
        content_hash: &str,
    ) -> DbResult<Option<PhotoRecord>> {
        let sql = format!(
            "SELECT {PHOTO_COLUMNS} FROM pictures WHERE session_id = $1 AND content_hash = $2 LIMIT 1"
        );
        optional(
            self,
            &sql,
            params![session_id, content_hash],
            photo_from_row,
        )
        .await
    }

    async fn photos(&self, session_id: Uuid, query: PhotoQuery) -> DbResult<Vec<PhotoRecord>> {
        let (before_at, before_id) = query.before.unzip();
        // Parameters carry their types, so `$5 IS NULL` needs no cast on PostgreSQL.
        let order = match query.order {
            PhotoOrder::Newest => "created_at DESC, id DESC",
            PhotoOrder::MostLoved => {
                "(SELECT COUNT(*) FROM reactions r WHERE r.picture_id = pictures.id) DESC,
                 created_at DESC, id DESC"
            }
        };
        let sql = format!(
            "SELECT {PHOTO_COLUMNS} FROM pictures
             WHERE session_id = $1
               AND ($2 OR (status = 'approved' AND $3) OR user_id = $4)
               AND ($5 IS NULL OR (created_at, id) < ($5, $6))
               AND ($8 IS NULL OR user_id = $8)
             ORDER BY {order}
             LIMIT $7"
        );
        let params = params![
            session_id,
            query.everything,
            query.approved_visible,
            query.viewer,
            before_at,
            before_id,
            query.limit.map_or(i64::MAX, i64::from),
            query.uploader,
        ];
        all(self, &sql, params, photo_from_row).await
    }

    async fn count_guest_photos(&self, session_id: Uuid, user_id: Uuid) -> DbResult<i64> {
        let sql = "SELECT COUNT(*) AS n FROM pictures WHERE session_id = $1 AND user_id = $2";
        count(self, sql, params![session_id, user_id]).await
    }

    async fn approve_photo(&self, id: Uuid) -> DbResult<Option<PhotoRecord>> {
        let sql = format!(
            "UPDATE pictures SET status = 'approved' WHERE id = $1 RETURNING {PHOTO_COLUMNS}"
        );
        optional(self, &sql, params![id], photo_from_row).await
    }

    async fn delete_photo(&self, id: Uuid) -> DbResult<Option<PhotoRecord>> {
        let sql = format!("DELETE FROM pictures WHERE id = $1 RETURNING {PHOTO_COLUMNS}");
        optional(self, &sql, params![id], photo_from_row).await
    }

    async fn set_variants(
        &self,
        id: Uuid,
        keys: Option<VariantKeys<'_>>,
        status: ThumbStatus,
    ) -> DbResult<()> {
        let sql = "UPDATE pictures SET thumb_key = $2, display_key = $3, thumb_status = $4 \
                   WHERE id = $1";
        let (thumb, display) = (keys.map(|k| k.thumb), keys.map(|k| k.display));
        self.execute(sql, params![id, thumb, display, status.as_str()])
            .await
            .map_err(classify)
    }

    async fn claim_jobs(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> DbResult<Vec<ClaimedJob>> {
        let claim = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = $2,
                    lease_until = $3, updated_at = $1
             WHERE id IN (SELECT id FROM jobs
                          WHERE (state = 'queued' AND run_after <= $1)
                             OR (state = 'running' AND lease_until < $1)
                          ORDER BY created_at DESC LIMIT $4 {})
             RETURNING {JOB_COLUMNS}",
            Self::SKIP_LOCKED
        );
        let params = params![now, worker, lease_until, i64::from(limit)];
        let mut claimed = if Self::WRITES_IN_WITH {
            // The jobs and their photos in one statement.
            let sql = format!(
                "WITH claimed AS ({claim})
                 SELECT claimed.*, {} FROM claimed LEFT JOIN pictures p ON p.id = claimed.photo_id",
                prefixed_photo_columns("p", PICTURE_PREFIX)
            );
            all(self, &sql, params, claimed_from_row).await?
        } else {
            let jobs = all(self, &claim, params, job_from_row).await?;
            let mut claimed = Vec::with_capacity(jobs.len());
            for job in jobs {
                let photo = self.photo(job.photo_id).await?;
                claimed.push(ClaimedJob { job, photo });
            }
            claimed
        };
        // RETURNING keeps no order.
        claimed.sort_by_key(|claimed| std::cmp::Reverse(claimed.job.created_at));
        Ok(claimed)
    }

    async fn extend_job_lease(
        &self,
        id: Uuid,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> DbResult<bool> {
        let sql = "UPDATE jobs SET lease_until = $3
                   WHERE id = $1 AND locked_by = $2 AND state = 'running' RETURNING id";
        updated(self, sql, params![id, worker, lease_until]).await
    }

    async fn complete_variants_job(
        &self,
        id: Uuid,
        worker: &str,
        keys: VariantKeys<'_>,
        now: DateTime<Utc>,
    ) -> DbResult<Option<PhotoRecord>> {
        // The photo first, then its job, as in `fail_job`.
        let photo = format!(
            "UPDATE pictures SET thumb_key = $3, display_key = $4, thumb_status = 'ready'
             WHERE id = (SELECT photo_id FROM jobs
                         WHERE id = $1 AND locked_by = $2 AND state = 'running')
             RETURNING {PHOTO_COLUMNS}"
        );
        let done = |now: &str| {
            format!(
                "UPDATE jobs SET state = 'done', lease_until = NULL, last_error = NULL,
                                 updated_at = {now}
                 WHERE id = $1 AND locked_by = $2 AND state = 'running'"
            )
        };
        let row = if Self::WRITES_IN_WITH {
            let sql = format!(
                "WITH photo AS ({photo}),
                      done AS ({} AND EXISTS (SELECT 1 FROM photo) RETURNING id)
                 SELECT {PHOTO_COLUMNS} FROM photo WHERE EXISTS (SELECT 1 FROM done)",
                done("$5")
            );
            self.fetch_optional(&sql, params![id, worker, keys.thumb, keys.display, now])
                .await
        } else {
            let first = Statement {
                sql: &photo,
                params: params![id, worker, keys.thumb, keys.display],
            };
            let done = done("$3");
            let then = vec![Statement {
                sql: &done,
                params: params![id, worker, now],
            }];
            self.fetch_optional_then(first, then).await
        }
        .map_err(classify)?;
        row.as_ref()
            .map(photo_from_row)
            .transpose()
            .map_err(classify)
    }

    async fn retry_job(
        &self,
        id: Uuid,
        worker: &str,
        run_after: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let sql = "UPDATE jobs SET state = 'queued', run_after = $3, lease_until = NULL,
                          last_error = $4, updated_at = $5
                   WHERE id = $1 AND locked_by = $2 AND state = 'running' RETURNING id";
        updated(self, sql, params![id, worker, run_after, error, now]).await
    }

    async fn fail_job(
        &self,
        id: Uuid,
        worker: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        // The photo first, then its job: the order a photo's deletion takes the two rows in
        // (the picture, then its jobs by cascade), so the two never deadlock on PostgreSQL.
        let photo =
            "UPDATE pictures SET thumb_status = 'failed', thumb_key = NULL, display_key = NULL
                     WHERE id = (SELECT photo_id FROM jobs
                                 WHERE id = $1 AND locked_by = $2 AND state = 'running')
                     RETURNING id";
        let job = "UPDATE jobs SET state = 'failed', lease_until = NULL, last_error = $3,
                          updated_at = $4
                   WHERE id = $1 AND locked_by = $2 AND state = 'running'";
        let first = Statement {
            sql: photo,
            params: params![id, worker],
        };
        let then = vec![Statement {
            sql: job,
            params: params![id, worker, error, now],
        }];
        let row = self
            .fetch_optional_then(first, then)
            .await
            .map_err(classify)?;
        Ok(row.is_some())
    }

    async fn jobs_of_photo(&self, photo_id: Uuid) -> DbResult<Vec<JobRecord>> {
        let sql =
            format!("SELECT {JOB_COLUMNS} FROM jobs WHERE photo_id = $1 ORDER BY created_at, id");
        all(self, &sql, params![photo_id], job_from_row).await
    }

    async fn delete_done_jobs(&self, before: DateTime<Utc>, limit: u32) -> DbResult<u64> {
        // No DELETE … LIMIT in PostgreSQL: the bound comes from the subquery.
        let sql = "DELETE FROM jobs WHERE id IN (
                       SELECT id FROM jobs WHERE state = 'done' AND updated_at < $1 LIMIT $2)
                   RETURNING id";
        let gone = all(self, sql, params![before, i64::from(limit)], |row| {
            row.uuid("id")
        })
        .await?;
        Ok(gone.len() as u64)
    }

    async fn counts(&self, now: DateTime<Utc>, online_since: DateTime<Utc>) -> DbResult<Counts> {
        let sql = "SELECT (SELECT COUNT(*) FROM sessions WHERE ends_at > $1) AS active_sessions,
                          (SELECT COUNT(*) FROM session_users WHERE last_seen > $2) AS users_online,
                          (SELECT COUNT(*) FROM pictures) AS photos_total,
                          (SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running'))
                              AS jobs_queued";
        let counts = optional(self, sql, params![now, online_since], |row| {
            Ok(Counts {
                active_sessions: row.int("active_sessions")?,
                users_online: row.int("users_online")?,
                photos_total: row.int("photos_total")?,
                jobs_queued: row.int("jobs_queued")?,
            })
        })
        .await?;
        counts.ok_or_else(|| classify(sqlx::Error::RowNotFound))
    }

    async fn hosts_overview(&self) -> DbResult<Vec<HostOverview>> {
        let sql = format!(
            "SELECT {HOST_COLUMNS},
                    (SELECT COUNT(*) FROM sessions s WHERE s.user_id = users.id) AS event_count
             FROM users ORDER BY created_at, id"
        );
        all(self, &sql, vec![], |row| {
            Ok(HostOverview {
                host: host_from_row(row)?,
                event_count: row.int("event_count")?,
            })
        })
        .await
    }

    async fn events_overview(&self) -> DbResult<Vec<EventOverview>> {
        let sql = format!(
            "SELECT {EVENT_SELECT},
                    (SELECT COUNT(*) FROM pictures p WHERE p.session_id = s.id
                      AND p.status = 'approved') AS picture_count,
                    (SELECT COUNT(*) FROM pictures p WHERE p.session_id = s.id
                      AND p.status = 'pending') AS pending_count,
                    (SELECT COUNT(*) FROM session_users g WHERE g.session_id = s.id) AS guest_count,
                    (SELECT CAST(COALESCE(SUM(p.filesize_bytes), 0) AS BIGINT) FROM pictures p
                      WHERE p.session_id = s.id) AS stored_bytes,
                    (SELECT u.email FROM users u WHERE u.id = s.user_id) AS host_email
             FROM sessions s ORDER BY created_at DESC, id"
        );
        all(self, &sql, vec![], |row| {
            Ok(EventOverview {
                summary: summary_from_row(row)?,
                host_email: row.opt_text("host_email")?.unwrap_or_default(),
                stored_bytes: row.int("stored_bytes")?,
            })
        })
        .await
    }

    async fn set_password_hash(&self, host_id: Uuid, password_hash: &str) -> DbResult<bool> {
        let sql = "UPDATE users SET password_hash = $2 WHERE id = $1 RETURNING id";
        let row = optional(self, sql, params![host_id, password_hash], |row| {
            row.uuid("id")
        })
        .await?;
        Ok(row.is_some())
    }

    async fn delete_event_photos(&self, event_id: Uuid) -> DbResult<Vec<PhotoRecord>> {
        let sql = format!("DELETE FROM pictures WHERE session_id = $1 RETURNING {PHOTO_COLUMNS}");
        all(self, &sql, params![event_id], photo_from_row).await
    }

    async fn delete_event(&self, id: Uuid) -> DbResult<Option<EventRecord>> {
        let sql = format!("DELETE FROM sessions WHERE id = $1 RETURNING {EVENT_SELECT}");
        optional(self, &sql, params![id], event_from_row).await
    }

    async fn events_ended_before(
        &self,
        ended_before: DateTime<Utc>,
        limit: u32,
    ) -> DbResult<Vec<Uuid>> {
        let sql = "SELECT id FROM sessions WHERE ends_at < $1 ORDER BY ends_at, id LIMIT $2";
        all(self, sql, params![ended_before, i64::from(limit)], |row| {
            row.uuid("id")
        })
        .await
    }

    async fn try_job_lock(&self, job: JobLockKey) -> DbResult<Option<JobLock>> {
        self.try_advisory_lock(job.advisory_key())
            .await
            .map_err(classify)
    }

    async fn insert_password_reset(
        &self,
        token_hash: &str,
        host_id: Uuid,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> DbResult<()> {
        let sql = "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at)
                   VALUES ($1, $2, $3, $4)";
        self.execute(sql, params![token_hash, host_id, created_at, expires_at])
            .await
            .map_err(classify)
    }

    async fn password_reset_host(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> DbResult<Option<Uuid>> {
        let sql = "SELECT user_id FROM password_resets
                   WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2";
        optional(self, sql, params![token_hash, now], |row| {
            row.uuid("user_id")
        })
        .await
    }

    async fn use_password_reset(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> DbResult<Option<Uuid>> {
        // One statement: of two requests with the same token, only one gets the account.
        let sql = "UPDATE password_resets SET used_at = $2
                   WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
                   RETURNING user_id";
        optional(self, sql, params![token_hash, now], |row| {
            row.uuid("user_id")
        })
        .await
    }

    async fn event_stored_bytes(&self, event_id: Uuid) -> DbResult<i64> {
        // PostgreSQL sums bigints as numeric: cast back.
        let sql = "SELECT CAST(COALESCE(SUM(filesize_bytes), 0) AS BIGINT) AS n
                   FROM pictures WHERE session_id = $1";
        count(self, sql, params![event_id]).await
    }

    async fn host_stored_bytes(&self, host_id: Uuid) -> DbResult<i64> {
        let sql = "SELECT CAST(COALESCE(SUM(p.filesize_bytes), 0) AS BIGINT) AS n
                   FROM pictures p JOIN sessions s ON s.id = p.session_id WHERE s.user_id = $1";
        count(self, sql, params![host_id]).await
    }

    async fn set_reaction(
        &self,
        photo_id: Uuid,
        event_id: Uuid,
        reactor_id: Uuid,
        reaction: &str,
        at: DateTime<Utc>,
    ) -> DbResult<()> {
        // One statement, so two taps at once leave exactly one reaction.
        let sql = "INSERT INTO reactions (picture_id, session_id, reactor_id, reaction, created_at)
                   VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (picture_id, reactor_id)
                   DO UPDATE SET reaction = excluded.reaction, created_at = excluded.created_at";
        self.execute(sql, params![photo_id, event_id, reactor_id, reaction, at])
            .await
            .map_err(classify)
    }

    async fn delete_reaction(&self, photo_id: Uuid, reactor_id: Uuid) -> DbResult<bool> {
        let sql = "DELETE FROM reactions WHERE picture_id = $1 AND reactor_id = $2
                   RETURNING picture_id";
        let row = optional(self, sql, params![photo_id, reactor_id], |row| {
            row.uuid("picture_id")
        })
        .await?;
        Ok(row.is_some())
    }

    async fn reaction_counts(
        &self,
        event_id: Uuid,
        photo_id: Option<Uuid>,
    ) -> DbResult<Vec<ReactionCount>> {
        let sql = "SELECT picture_id, reaction, COUNT(*) AS n FROM reactions
                   WHERE session_id = $1 AND ($2 IS NULL OR picture_id = $2)
                   GROUP BY picture_id, reaction";
        all(self, sql, params![event_id, photo_id], |row| {
            Ok(ReactionCount {
                photo_id: row.uuid("picture_id")?,
                reaction: row.text("reaction")?,
                count: row.int("n")?,
            })
        })
        .await
    }

    async fn gallery_social(
        &self,
        event_id: Uuid,
        reactor: Option<Uuid>,
        comments_with_pending: bool,
    ) -> DbResult<GallerySocial> {
        // Three reads in one statement (a page miss under uploads pays one round trip, not
        // three); `part` tells the rows apart. Without a reactor `reactor_id = NULL` is no row.
        let sql = "SELECT 'count' AS part, picture_id, reaction, COUNT(*) AS n FROM reactions
                   WHERE session_id = $1 GROUP BY picture_id, reaction
                   UNION ALL
                   SELECT 'mine', picture_id, reaction, 1 FROM reactions
                   WHERE session_id = $1 AND reactor_id = $2
                   UNION ALL
                   SELECT 'comments', picture_id, NULL, COUNT(*) FROM comments
                   WHERE session_id = $1 AND ($3 OR status = 'approved')
                   GROUP BY picture_id";
        let rows = self
            .fetch_all(sql, params![event_id, reactor, comments_with_pending])
            .await
            .map_err(classify)?;
        let mut social = GallerySocial::default();
        for row in &rows {
            let photo_id = row.uuid("picture_id").map_err(classify)?;
            let count = row.int("n").map_err(classify)?;
            match row.text("part").map_err(classify)?.as_str() {
                "count" => social.reactions.push(ReactionCount {
                    photo_id,
                    reaction: row.text("reaction").map_err(classify)?,
                    count,
                }),
                "mine" => social
                    .mine
                    .push((photo_id, row.text("reaction").map_err(classify)?)),
                _ => social.comments.push((photo_id, count)),
            }
        }
        Ok(social)
    }

    async fn gallery_personal_viewers(&self, event_id: Uuid) -> DbResult<Vec<Uuid>> {
        // The second half reads the partial index `pictures_unapproved_idx`: usually empty.
        let sql = "SELECT reactor_id AS viewer FROM reactions WHERE session_id = $1
                   UNION
                   SELECT user_id FROM pictures
                   WHERE session_id = $1 AND status <> 'approved' AND user_id IS NOT NULL";
        all(self, sql, params![event_id], |row| row.uuid("viewer")).await
    }

    async fn insert_comment(&self, comment: &CommentRecord) -> DbResult<()> {
        let sql = "INSERT INTO comments
                   (id, picture_id, session_id, author_id, author_name, body, status, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        self.execute(
            sql,
            params![
                comment.id,
                comment.photo_id,
                comment.event_id,
                comment.author_id,
                &comment.author_name,
                &comment.text,
                comment.status.as_str(),
                comment.created_at,
            ],
        )
        .await
        .map_err(classify)
    }

    async fn comment(&self, id: Uuid) -> DbResult<Option<CommentRecord>> {
        let sql = format!("SELECT {COMMENT_COLUMNS} FROM comments WHERE id = $1");
        optional(self, &sql, params![id], comment_from_row).await
    }

    async fn photo_comments(&self, photo_id: Uuid) -> DbResult<Vec<CommentRecord>> {
        let sql = format!(
            "SELECT {COMMENT_COLUMNS} FROM comments WHERE picture_id = $1
             ORDER BY created_at, id"
        );
        all(self, &sql, params![photo_id], comment_from_row).await
    }

    async fn delete_comment(&self, id: Uuid) -> DbResult<Option<CommentRecord>> {
        let sql = format!("DELETE FROM comments WHERE id = $1 RETURNING {COMMENT_COLUMNS}");
        optional(self, &sql, params![id], comment_from_row).await
    }

    async fn approve_comment(&self, id: Uuid) -> DbResult<Option<CommentRecord>> {
        let sql = format!(
            "UPDATE comments SET status = 'approved' WHERE id = $1 RETURNING {COMMENT_COLUMNS}"
        );
        optional(self, &sql, params![id], comment_from_row).await
    }

    async fn event_comments(&self, event_id: Uuid) -> DbResult<Vec<CommentRecord>> {
        let sql = format!(
            "SELECT {COMMENT_COLUMNS} FROM comments WHERE session_id = $1
             ORDER BY created_at, id"
        );
        all(self, &sql, params![event_id], comment_from_row).await
    }

    async fn insert_guestbook_message(&self, message: &GuestbookRecord) -> DbResult<()> {
        let sql = "INSERT INTO guestbook_messages
                   (id, session_id, author_id, author_name, body, picture_id, status, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        self.execute(
            sql,
            params![
                message.id,
                message.event_id,
                message.author_id,
                &message.author_name,
                &message.text,
                message.photo_id,
                message.status.as_str(),
                message.created_at,
            ],
        )
        .await
        .map_err(classify)
    }

    async fn guestbook_message(&self, id: Uuid) -> DbResult<Option<GuestbookRecord>> {
        let sql = format!("SELECT {GUESTBOOK_COLUMNS} FROM guestbook_messages WHERE id = $1");
        optional(self, &sql, params![id], guestbook_from_row).await
    }

    async fn guestbook_messages(&self, event_id: Uuid) -> DbResult<Vec<GuestbookRecord>> {
        let sql = format!(
            "SELECT {GUESTBOOK_COLUMNS} FROM guestbook_messages WHERE session_id = $1
             ORDER BY created_at, id"
        );
        all(self, &sql, params![event_id], guestbook_from_row).await
    }

    async fn delete_guestbook_message(&self, id: Uuid) -> DbResult<Option<GuestbookRecord>> {
        let sql =
            format!("DELETE FROM guestbook_messages WHERE id = $1 RETURNING {GUESTBOOK_COLUMNS}");
        optional(self, &sql, params![id], guestbook_from_row).await
    }

    async fn approve_guestbook_message(&self, id: Uuid) -> DbResult<Option<GuestbookRecord>> {
        let sql = format!(
            "UPDATE guestbook_messages SET status = 'approved' WHERE id = $1
             RETURNING {GUESTBOOK_COLUMNS}"
        );
        optional(self, &sql, params![id], guestbook_from_row).await
    }

    async fn insert_multipart(&self, upload: &MultipartRecord) -> DbResult<()> {
        let sql = "INSERT INTO multipart_uploads
                   (id, session_id, object_key, store_upload_id, size_bytes, part_size, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        self.execute(
            sql,
            params![
                upload.id,
                upload.event_id,
                &upload.object_key,
                &upload.store_upload_id,
                upload.size_bytes,
                upload.part_size,
                upload.created_at
            ],
        )
        .await
        .map_err(classify)
    }

    async fn multipart(&self, id: Uuid) -> DbResult<Option<MultipartRecord>> {
        let sql = format!("SELECT {MULTIPART_COLUMNS} FROM multipart_uploads WHERE id = $1");
        optional(self, &sql, params![id], multipart_from_row).await
    }

    async fn delete_multipart(&self, id: Uuid) -> DbResult<bool> {
        let sql = "DELETE FROM multipart_uploads WHERE id = $1 RETURNING id";
        let row = optional(self, sql, params![id], |row| row.uuid("id")).await?;
        Ok(row.is_some())
    }

    async fn multiparts_created_before(
        &self,
        created_before: DateTime<Utc>,
        limit: u32,
    ) -> DbResult<Vec<MultipartRecord>> {
        let sql = format!(
            "SELECT {MULTIPART_COLUMNS} FROM multipart_uploads WHERE created_at < $1
             ORDER BY created_at, id LIMIT $2"
        );
        all(
            self,
            &sql,
            params![created_before, i64::from(limit)],
            multipart_from_row,
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
        // Both SET expressions read the row as it was: an expired window starts over at 1.
        let sql = "INSERT INTO join_pin_attempts (session_id, client, window_start, attempts)
                   VALUES ($1, $2, $3, 1)
                   ON CONFLICT (session_id, client) DO UPDATE SET
                   attempts = CASE WHEN join_pin_attempts.window_start <= $4 THEN 1
                                   ELSE join_pin_attempts.attempts + 1 END,
                   window_start = CASE WHEN join_pin_attempts.window_start <= $4
                                       THEN excluded.window_start
                                       ELSE join_pin_attempts.window_start END
                   RETURNING attempts, window_start";
        let row = optional(
            self,
            sql,
            params![event_id, client, now, window_after],
            |row| Ok((row.int("attempts")?, row.time("window_start")?)),
        )
        .await?;
        row.ok_or_else(|| DbError::Other(anyhow::anyhow!("PIN attempt not counted")))
    }

    async fn clear_pin_attempts(
        &self,
        event_id: Uuid,
        client: &str,
        window_after: DateTime<Utc>,
    ) -> DbResult<()> {
        let sql = "DELETE FROM join_pin_attempts
                   WHERE session_id = $1 AND (client = $2 OR window_start <= $3)";
        self.execute(sql, params![event_id, client, window_after])
            .await
            .map_err(classify)
    }

    async fn is_co_host(&self, event_id: Uuid, host_id: Uuid) -> DbResult<bool> {
        let sql = "SELECT COUNT(*) AS n FROM event_hosts WHERE session_id = $1 AND user_id = $2";
        Ok(count(self, sql, params![event_id, host_id]).await? > 0)
    }

    async fn co_hosts(&self, event_id: Uuid) -> DbResult<Vec<CoHostRecord>> {
        let sql = "SELECT h.user_id, u.email, u.username, h.added_at
                   FROM event_hosts h JOIN users u ON u.id = h.user_id
                   WHERE h.session_id = $1 ORDER BY h.added_at, h.user_id";
        all(self, sql, params![event_id], |row| {
            Ok(CoHostRecord {
                host_id: row.uuid("user_id")?,
                email: row.text("email")?,
                username: row.text("username")?,
                added_at: row.time("added_at")?,
            })
        })
        .await
    }

    async fn delete_co_host(&self, event_id: Uuid, host_id: Uuid) -> DbResult<bool> {
        let sql = "DELETE FROM event_hosts WHERE session_id = $1 AND user_id = $2
                   RETURNING user_id";
        let row = optional(self, sql, params![event_id, host_id], |row| {
            row.uuid("user_id")
        })
        .await?;
        Ok(row.is_some())
    }

    async fn insert_cohost_invite(&self, invite: &CohostInviteRecord) -> DbResult<()> {
        let sql = "INSERT INTO cohost_invites
                   (token_hash, session_id, created_by, created_at, expires_at, used_at, used_by)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        self.execute(
            sql,
            params![
                &invite.token_hash,
                invite.event_id,
                invite.created_by,
                invite.created_at,
                invite.expires_at,
                invite.used_at,
                invite.used_by,
            ],
        )
        .await
        .map_err(classify)
    }

    async fn cohost_invite(&self, token_hash: &str) -> DbResult<Option<CohostInviteRecord>> {
        let sql = "SELECT token_hash, session_id, created_by, created_at, expires_at, used_at,
                          used_by
                   FROM cohost_invites WHERE token_hash = $1";
        optional(self, sql, params![token_hash], |row| {
            Ok(CohostInviteRecord {
                token_hash: row.text("token_hash")?,
                event_id: row.uuid("session_id")?,
                created_by: row.uuid("created_by")?,
                created_at: row.time("created_at")?,
                expires_at: row.time("expires_at")?,
                used_at: row.opt_time("used_at")?,
                used_by: row.opt_uuid("used_by")?,
            })
        })
        .await
    }

    async fn accept_cohost_invite(
        &self,
        token_hash: &str,
        host_id: Uuid,
        now: DateTime<Utc>,
    ) -> DbResult<Option<Uuid>> {
        // The UPDATE decides: of two requests with the same link, only one matches the row.
        let first = Statement {
            sql: "UPDATE cohost_invites SET used_at = $2, used_by = $3
                  WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
                  RETURNING session_id",
            params: params![token_hash, now, host_id],
        };
        // SQLite needs the WHERE to read `ON CONFLICT` as the upsert clause.
        let then = vec![Statement {
            sql: "INSERT INTO event_hosts (session_id, user_id, role, added_at)
                  SELECT session_id, $2, 'co_host', $3 FROM cohost_invites WHERE token_hash = $1
                  ON CONFLICT (session_id, user_id) DO NOTHING",
            params: params![token_hash, host_id, now],
        }];
        let row = self
            .fetch_optional_then(first, then)
            .await
            .map_err(classify)?;
        row.as_ref()
            .map(|row| row.uuid("session_id"))
            .transpose()
            .map_err(classify)
    }
}

const MULTIPART_COLUMNS: &str =
    "id, session_id, object_key, store_upload_id, size_bytes, part_size, created_at";

fn multipart_from_row(row: &impl SqlRow) -> Result<MultipartRecord, sqlx::Error> {
    Ok(MultipartRecord {
        id: row.uuid("id")?,
        event_id: row.uuid("session_id")?,
        object_key: row.text("object_key")?,
        store_upload_id: row.text("store_upload_id")?,
        size_bytes: row.int("size_bytes")?,
        part_size: row.int("part_size")?,
        created_at: row.time("created_at")?,
    })
}
