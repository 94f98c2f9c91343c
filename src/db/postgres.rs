//! PostgreSQL backend: the production store shared by every replica.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{
    PgPool, Row,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions, PgRow},
    types::Json,
};
use uuid::Uuid;

use super::{
    Counts, Database, DbError, DbResult, EventRecord, EventSummary, GuestRecord, HostRecord,
    PhotoQuery, PhotoRecord, PhotoStatus, ThumbStatus, classify,
};
use crate::domain::missions::MissionList;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

pub struct PostgresDatabase {
    pool: PgPool,
}

impl PostgresDatabase {
    /// Connects lazily: the pool (re)opens connections on demand, so the server survives
    /// database restarts without being restarted itself.
    pub fn connect(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| anyhow::anyhow!("invalid DATABASE_URL: {e}"))?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(0)
            .acquire_timeout(acquire_timeout)
            .idle_timeout(Duration::from_secs(300))
            .test_before_acquire(true)
            .connect_lazy_with(options.application_name("partypic"));
        Ok(Self { pool })
    }
}

fn unique_violation(err: &sqlx::Error, constraint: &str) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation() && db.constraint() == Some(constraint))
}

fn session_from_row(row: &PgRow) -> Result<EventRecord, sqlx::Error> {
    let missions: Json<MissionList> = row.try_get("missions")?;
    let settings: String = row.try_get("settings")?;
    let id: Uuid = row.try_get("id")?;
    let settings = serde_json::from_str(&settings).unwrap_or_else(|err| {
        tracing::warn!(session = %id, error = %err, "unreadable event settings; using none");
        serde_json::Value::Object(serde_json::Map::new())
    });
    Ok(EventRecord {
        id,
        host_id: row.try_get("user_id")?,
        settings,
        missions: missions.0,
        created_at: row.try_get("created_at")?,
        ends_at: row.try_get("ends_at")?,
    })
}

fn guest_from_row(row: &PgRow) -> Result<GuestRecord, sqlx::Error> {
    Ok(GuestRecord {
        id: row.try_get("id")?,
        event_id: row.try_get("session_id")?,
        name: row.try_get("user_name")?,
        created_at: row.try_get("created_at")?,
        last_seen: row.try_get("last_seen")?,
    })
}

fn picture_from_row(row: &PgRow) -> Result<PhotoRecord, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let thumb_status: String = row.try_get("thumb_status")?;
    Ok(PhotoRecord {
        id: row.try_get("id")?,
        event_id: row.try_get("session_id")?,
        uploader_name: row.try_get("u_name")?,
        original_filename: row.try_get("original_filename")?,
        object_key: row.try_get("s3_key")?,
        bucket: row.try_get("s3_bucket")?,
        mimetype: row.try_get("mimetype")?,
        filesize_bytes: row.try_get("filesize_bytes")?,
        mission_id: row.try_get("mission_id")?,
        created_at: row.try_get("created_at")?,
        guest_id: row.try_get("user_id")?,
        status: PhotoStatus::parse(&status),
        content_hash: row.try_get("content_hash")?,
        thumb_key: row.try_get("thumb_key")?,
        thumb_status: ThumbStatus::parse(&thumb_status),
    })
}

fn user_from_row(row: &PgRow) -> Result<HostRecord, sqlx::Error> {
    Ok(HostRecord {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        email_normalized: row.try_get("email_normalized")?,
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        created_at: row.try_get("created_at")?,
    })
}

const PICTURE_COLUMNS: &str = "id, session_id, u_name, original_filename, s3_key, s3_bucket, mimetype, \
     filesize_bytes, mission_id, created_at, user_id, status, content_hash, thumb_key, thumb_status";
const SESSION_COLUMNS: &str = "id, user_id, settings, missions, created_at, ends_at";
/// Settings are read as text: a value jsonb keeps but serde cannot read back must not make the
/// event unreadable (it decodes as `{}` instead).
const SESSION_SELECT: &str =
    "id, user_id, settings::text AS settings, missions, created_at, ends_at";
const USER_COLUMNS: &str = "id, email, email_normalized, username, password_hash, created_at";

#[async_trait]
impl Database for PostgresDatabase {
    async fn migrate(&self) -> anyhow::Result<()> {
        // sqlx takes a PostgreSQL advisory lock around the run: replicas starting together queue up.
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> DbResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn insert_host(&self, user: &HostRecord) -> DbResult<()> {
        let result = sqlx::query(&format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(user.id)
        .bind(&user.email)
        .bind(&user.email_normalized)
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if unique_violation(&err, "users_email_normalized_key") => {
                Err(DbError::Conflict("Email already registered".into()))
            }
            Err(err) => Err(classify(err)),
        }
    }

    async fn host_by_email(&self, email_normalized: &str) -> DbResult<Option<HostRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email_normalized = $1"
        ))
        .bind(email_normalized)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref()
            .map(user_from_row)
            .transpose()
            .map_err(classify)
    }

    async fn host(&self, id: Uuid) -> DbResult<Option<HostRecord>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        row.as_ref()
            .map(user_from_row)
            .transpose()
            .map_err(classify)
    }

    async fn insert_event(&self, session: &EventRecord) -> DbResult<()> {
        sqlx::query(&format!(
            "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(session.id)
        .bind(session.host_id)
        .bind(Json(&session.settings))
        .bind(Json(&session.missions))
        .bind(session.created_at)
        .bind(session.ends_at)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn event(&self, id: Uuid) -> DbResult<Option<EventRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_SELECT} FROM sessions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref()
            .map(session_from_row)
            .transpose()
            .map_err(classify)
    }

    async fn events_of_host(&self, user_id: Uuid) -> DbResult<Vec<EventSummary>> {
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_SELECT},
                    (SELECT COUNT(*) FROM pictures p WHERE p.session_id = s.id) AS picture_count,
                    (SELECT COUNT(*) FROM session_users g WHERE g.session_id = s.id) AS guest_count
             FROM sessions s WHERE user_id = $1 ORDER BY created_at DESC"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter()
            .map(|row| {
                Ok(EventSummary {
                    event: session_from_row(row)?,
                    picture_count: row.try_get("picture_count")?,
                    guest_count: row.try_get("guest_count")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(classify)
    }

    async fn update_missions(
        &self,
        id: Uuid,
        missions: &MissionList,
    ) -> DbResult<Option<EventRecord>> {
        let row = sqlx::query(&format!(
            "UPDATE sessions SET missions = $2 WHERE id = $1 RETURNING {SESSION_SELECT}"
        ))
        .bind(id)
        .bind(Json(missions))
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref()
            .map(session_from_row)
            .transpose()
            .map_err(classify)
    }

    async fn update_settings(
        &self,
        id: Uuid,
        settings: &serde_json::Value,
        ends_at: DateTime<Utc>,
    ) -> DbResult<Option<EventRecord>> {
        let row = sqlx::query(&format!(
            "UPDATE sessions SET settings = $2, ends_at = $3 WHERE id = $1 RETURNING {SESSION_SELECT}"
        ))
        .bind(id)
        .bind(Json(settings))
        .bind(ends_at)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref()
            .map(session_from_row)
            .transpose()
            .map_err(classify)
    }

    async fn insert_guest(&self, guest: &GuestRecord) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO session_users (id, session_id, user_name, created_at, last_seen) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(guest.id)
        .bind(guest.event_id)
        .bind(&guest.name)
        .bind(guest.created_at)
        .bind(guest.last_seen)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn guest(&self, id: Uuid) -> DbResult<Option<GuestRecord>> {
        let row = sqlx::query("SELECT id, session_id, user_name, created_at, last_seen FROM session_users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        row.as_ref()
            .map(guest_from_row)
            .transpose()
            .map_err(classify)
    }

    async fn touch_guest(&self, id: Uuid, now: DateTime<Utc>) -> DbResult<Option<GuestRecord>> {
        let row = sqlx::query(
            "UPDATE session_users SET last_seen = $2 WHERE id = $1
             RETURNING id, session_id, user_name, created_at, last_seen",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref()
            .map(guest_from_row)
            .transpose()
            .map_err(classify)
    }

    async fn guests_online(&self, session_id: Uuid, since: DateTime<Utc>) -> DbResult<i64> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM session_users WHERE session_id = $1 AND last_seen > $2",
        )
        .bind(session_id)
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(classify)
    }

    async fn insert_photo(&self, picture: &PhotoRecord) -> DbResult<PhotoRecord> {
        let inserted = sqlx::query(&format!(
            "INSERT INTO pictures ({PICTURE_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
             ON CONFLICT DO NOTHING RETURNING {PICTURE_COLUMNS}"
        ))
        .bind(picture.id)
        .bind(picture.event_id)
        .bind(&picture.uploader_name)
        .bind(&picture.original_filename)
        .bind(&picture.object_key)
        .bind(&picture.bucket)
        .bind(&picture.mimetype)
        .bind(picture.filesize_bytes)
        .bind(&picture.mission_id)
        .bind(picture.created_at)
        .bind(picture.guest_id)
        .bind(picture.status.as_str())
        .bind(&picture.content_hash)
        .bind(&picture.thumb_key)
        .bind(picture.thumb_status.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        if let Some(row) = inserted {
            return picture_from_row(&row).map_err(classify);
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

    async fn picture(&self, id: Uuid) -> DbResult<Option<PhotoRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {PICTURE_COLUMNS} FROM pictures WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref()
            .map(picture_from_row)
            .transpose()
            .map_err(classify)
    }

    async fn photo_by_key(&self, s3_key: &str) -> DbResult<Option<PhotoRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {PICTURE_COLUMNS} FROM pictures WHERE s3_key = $1"
        ))
        .bind(s3_key)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref()
            .map(picture_from_row)
            .transpose()
            .map_err(classify)
    }

    async fn photo_by_hash(
        &self,
        session_id: Uuid,
        content_hash: &str,
    ) -> DbResult<Option<PhotoRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {PICTURE_COLUMNS} FROM pictures WHERE session_id = $1 AND content_hash = $2 LIMIT 1"
        ))
        .bind(session_id)
        .bind(content_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref()
            .map(picture_from_row)
            .transpose()
            .map_err(classify)
    }

    async fn photos(&self, session_id: Uuid, query: PhotoQuery) -> DbResult<Vec<PhotoRecord>> {
        let (before_at, before_id) = query.before.unzip();
        let rows = sqlx::query(&format!(
            "SELECT {PICTURE_COLUMNS} FROM pictures
             WHERE session_id = $1
               AND ($2 OR (status = 'approved' AND $3) OR user_id = $4)
               AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6))
             ORDER BY created_at DESC, id DESC
             LIMIT $7"
        ))
        .bind(session_id)
        .bind(query.everything)
        .bind(query.approved_visible)
        .bind(query.viewer)
        .bind(before_at)
        .bind(before_id)
        .bind(query.limit.map_or(i64::MAX, i64::from))
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter()
            .map(picture_from_row)
            .collect::<Result<_, _>>()
            .map_err(classify)
    }

    async fn count_guest_photos(&self, session_id: Uuid, user_id: Uuid) -> DbResult<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM pictures WHERE session_id = $1 AND user_id = $2")
            .bind(session_id)
            .bind(user_id)
            .fetch_one(&self.pool)
            .await
            .map_err(classify)
    }

    async fn approve_photo(&self, id: Uuid) -> DbResult<Option<PhotoRecord>> {
        let row = sqlx::query(&format!(
            "UPDATE pictures SET status = 'approved' WHERE id = $1 RETURNING {PICTURE_COLUMNS}"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref()
            .map(picture_from_row)
            .transpose()
            .map_err(classify)
    }

    async fn delete_photo(&self, id: Uuid) -> DbResult<Option<PhotoRecord>> {
        let row = sqlx::query(&format!(
            "DELETE FROM pictures WHERE id = $1 RETURNING {PICTURE_COLUMNS}"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref()
            .map(picture_from_row)
            .transpose()
            .map_err(classify)
    }

    async fn set_thumbnail(
        &self,
        id: Uuid,
        thumb_key: Option<&str>,
        status: ThumbStatus,
    ) -> DbResult<()> {
        sqlx::query("UPDATE pictures SET thumb_key = $2, thumb_status = $3 WHERE id = $1")
            .bind(id)
            .bind(thumb_key)
            .bind(status.as_str())
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn pending_thumbnails(
        &self,
        created_before: DateTime<Utc>,
        limit: u32,
    ) -> DbResult<Vec<PhotoRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {PICTURE_COLUMNS} FROM pictures WHERE thumb_status = 'pending' AND created_at < $1
             ORDER BY created_at LIMIT $2"
        ))
        .bind(created_before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter()
            .map(picture_from_row)
            .collect::<Result<_, _>>()
            .map_err(classify)
    }

    async fn counts(&self, now: DateTime<Utc>, online_since: DateTime<Utc>) -> DbResult<Counts> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM sessions WHERE ends_at > $1) AS active_sessions,
                    (SELECT COUNT(*) FROM session_users WHERE last_seen > $2) AS users_online,
                    (SELECT COUNT(*) FROM pictures) AS photos_total",
        )
        .bind(now)
        .bind(online_since)
        .fetch_one(&self.pool)
        .await
        .map_err(classify)?;
        Ok(Counts {
            active_sessions: row.try_get("active_sessions").map_err(classify)?,
            users_online: row.try_get("users_online").map_err(classify)?,
            photos_total: row.try_get("photos_total").map_err(classify)?,
        })
    }
}
