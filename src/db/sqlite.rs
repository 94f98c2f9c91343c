//! SQLite backend: the embedded single-machine default. UUIDs are stored as text and
//! timestamps as Unix microseconds, so ordering and comparisons are exact.

use std::{path::Path, str::FromStr, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{
    Row, SqlitePool,
    migrate::Migrator,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
    },
};
use uuid::Uuid;

use super::{
    Counts, Database, DbError, DbResult, EventRecord, EventSummary, GuestRecord, HostRecord,
    PhotoQuery, PhotoRecord, PhotoStatus, ThumbStatus, classify,
};
use crate::domain::missions::MissionList;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteDatabase {
    pool: SqlitePool,
}

impl SqliteDatabase {
    pub async fn open(
        path: &Path,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> anyhow::Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                anyhow::anyhow!("cannot create data directory {}: {e}", parent.display())
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open SQLite database {}: {e}", path.display()))?;
        Ok(Self { pool })
    }
}

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn from_micros(value: i64) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::from_timestamp_micros(value)
        .ok_or_else(|| sqlx::Error::Decode("timestamp out of range".into()))
}

fn uuid_at(row: &SqliteRow, column: &str) -> Result<Uuid, sqlx::Error> {
    let text: String = row.try_get(column)?;
    Uuid::parse_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn json_at<T: serde::de::DeserializeOwned>(
    row: &SqliteRow,
    column: &str,
) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn to_json<T: serde::Serialize>(value: &T) -> DbResult<String> {
    serde_json::to_string(value).map_err(|e| DbError::Other(e.into()))
}

fn session_from_row(row: &SqliteRow) -> Result<EventRecord, sqlx::Error> {
    Ok(EventRecord {
        id: uuid_at(row, "id")?,
        host_id: uuid_at(row, "user_id")?,
        settings: json_at(row, "settings")?,
        missions: json_at(row, "missions")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        ends_at: from_micros(row.try_get("ends_at")?)?,
    })
}

fn guest_from_row(row: &SqliteRow) -> Result<GuestRecord, sqlx::Error> {
    Ok(GuestRecord {
        id: uuid_at(row, "id")?,
        event_id: uuid_at(row, "session_id")?,
        name: row.try_get("user_name")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        last_seen: from_micros(row.try_get("last_seen")?)?,
    })
}

fn picture_from_row(row: &SqliteRow) -> Result<PhotoRecord, sqlx::Error> {
    let user_id: Option<String> = row.try_get("user_id")?;
    let status: String = row.try_get("status")?;
    let thumb_status: String = row.try_get("thumb_status")?;
    Ok(PhotoRecord {
        id: uuid_at(row, "id")?,
        event_id: uuid_at(row, "session_id")?,
        uploader_name: row.try_get("u_name")?,
        original_filename: row.try_get("original_filename")?,
        object_key: row.try_get("s3_key")?,
        bucket: row.try_get("s3_bucket")?,
        mimetype: row.try_get("mimetype")?,
        filesize_bytes: row.try_get("filesize_bytes")?,
        mission_id: row.try_get("mission_id")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        guest_id: user_id
            .map(|id| Uuid::parse_str(&id).map_err(|e| sqlx::Error::Decode(Box::new(e))))
            .transpose()?,
        status: PhotoStatus::parse(&status),
        content_hash: row.try_get("content_hash")?,
        thumb_key: row.try_get("thumb_key")?,
        thumb_status: ThumbStatus::parse(&thumb_status),
    })
}

fn user_from_row(row: &SqliteRow) -> Result<HostRecord, sqlx::Error> {
    Ok(HostRecord {
        id: uuid_at(row, "id")?,
        email: row.try_get("email")?,
        email_normalized: row.try_get("email_normalized")?,
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        created_at: from_micros(row.try_get("created_at")?)?,
    })
}

const PICTURE_COLUMNS: &str = "id, session_id, u_name, original_filename, s3_key, s3_bucket, mimetype, \
     filesize_bytes, mission_id, created_at, user_id, status, content_hash, thumb_key, thumb_status";
const SESSION_COLUMNS: &str = "id, user_id, settings, missions, created_at, ends_at";
const USER_COLUMNS: &str = "id, email, email_normalized, username, password_hash, created_at";

#[async_trait]
impl Database for SqliteDatabase {
    async fn migrate(&self) -> anyhow::Result<()> {
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
            "INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
        ))
        .bind(user.id.to_string())
        .bind(&user.email)
        .bind(&user.email_normalized)
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(micros(user.created_at))
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                Err(DbError::Conflict("Email already registered".into()))
            }
            Err(err) => Err(classify(err)),
        }
    }

    async fn host_by_email(&self, email_normalized: &str) -> DbResult<Option<HostRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email_normalized = ?"
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
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id.to_string())
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
            "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
        ))
        .bind(session.id.to_string())
        .bind(session.host_id.to_string())
        .bind(to_json(&session.settings)?)
        .bind(to_json(&session.missions)?)
        .bind(micros(session.created_at))
        .bind(micros(session.ends_at))
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn event(&self, id: Uuid) -> DbResult<Option<EventRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?"
        ))
        .bind(id.to_string())
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
            "SELECT {SESSION_COLUMNS},
                    (SELECT COUNT(*) FROM pictures p WHERE p.session_id = s.id) AS picture_count,
                    (SELECT COUNT(*) FROM session_users g WHERE g.session_id = s.id) AS guest_count
             FROM sessions s WHERE user_id = ? ORDER BY created_at DESC"
        ))
        .bind(user_id.to_string())
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
            "UPDATE sessions SET missions = ? WHERE id = ? RETURNING {SESSION_COLUMNS}"
        ))
        .bind(to_json(missions)?)
        .bind(id.to_string())
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
            "UPDATE sessions SET settings = ?, ends_at = ? WHERE id = ? RETURNING {SESSION_COLUMNS}"
        ))
        .bind(to_json(settings)?)
        .bind(micros(ends_at))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref()
            .map(session_from_row)
            .transpose()
            .map_err(classify)
    }

    async fn insert_guest(&self, guest: &GuestRecord) -> DbResult<()> {
        sqlx::query("INSERT INTO session_users (id, session_id, user_name, created_at, last_seen) VALUES (?, ?, ?, ?, ?)")
            .bind(guest.id.to_string())
            .bind(guest.event_id.to_string())
            .bind(&guest.name)
            .bind(micros(guest.created_at))
            .bind(micros(guest.last_seen))
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn guest(&self, id: Uuid) -> DbResult<Option<GuestRecord>> {
        let row = sqlx::query("SELECT id, session_id, user_name, created_at, last_seen FROM session_users WHERE id = ?")
            .bind(id.to_string())
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
            "UPDATE session_users SET last_seen = ? WHERE id = ?
             RETURNING id, session_id, user_name, created_at, last_seen",
        )
        .bind(micros(now))
        .bind(id.to_string())
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
            "SELECT COUNT(*) FROM session_users WHERE session_id = ? AND last_seen > ?",
        )
        .bind(session_id.to_string())
        .bind(micros(since))
        .fetch_one(&self.pool)
        .await
        .map_err(classify)
    }

    async fn insert_photo(&self, picture: &PhotoRecord) -> DbResult<PhotoRecord> {
        let inserted = sqlx::query(&format!(
            "INSERT INTO pictures ({PICTURE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT DO NOTHING RETURNING {PICTURE_COLUMNS}"
        ))
        .bind(picture.id.to_string())
        .bind(picture.event_id.to_string())
        .bind(&picture.uploader_name)
        .bind(&picture.original_filename)
        .bind(&picture.object_key)
        .bind(&picture.bucket)
        .bind(&picture.mimetype)
        .bind(picture.filesize_bytes)
        .bind(&picture.mission_id)
        .bind(micros(picture.created_at))
        .bind(picture.guest_id.map(|id| id.to_string()))
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
            "SELECT {PICTURE_COLUMNS} FROM pictures WHERE id = ?"
        ))
        .bind(id.to_string())
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
            "SELECT {PICTURE_COLUMNS} FROM pictures WHERE s3_key = ?"
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
            "SELECT {PICTURE_COLUMNS} FROM pictures WHERE session_id = ? AND content_hash = ? LIMIT 1"
        ))
        .bind(session_id.to_string())
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
             WHERE session_id = ?1
               AND (?2 OR (status = 'approved' AND ?3) OR user_id = ?4)
               AND (?5 IS NULL OR (created_at, id) < (?5, ?6))
             ORDER BY created_at DESC, id DESC
             LIMIT ?7"
        ))
        .bind(session_id.to_string())
        .bind(query.everything)
        .bind(query.approved_visible)
        .bind(query.viewer.map(|id| id.to_string()))
        .bind(before_at.map(micros))
        .bind(before_id.map(|id| id.to_string()))
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
        sqlx::query_scalar("SELECT COUNT(*) FROM pictures WHERE session_id = ? AND user_id = ?")
            .bind(session_id.to_string())
            .bind(user_id.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(classify)
    }

    async fn approve_photo(&self, id: Uuid) -> DbResult<Option<PhotoRecord>> {
        let row = sqlx::query(&format!(
            "UPDATE pictures SET status = 'approved' WHERE id = ? RETURNING {PICTURE_COLUMNS}"
        ))
        .bind(id.to_string())
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
            "DELETE FROM pictures WHERE id = ? RETURNING {PICTURE_COLUMNS}"
        ))
        .bind(id.to_string())
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
        sqlx::query("UPDATE pictures SET thumb_key = ?, thumb_status = ? WHERE id = ?")
            .bind(thumb_key)
            .bind(status.as_str())
            .bind(id.to_string())
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
            "SELECT {PICTURE_COLUMNS} FROM pictures WHERE thumb_status = 'pending' AND created_at < ?
             ORDER BY created_at LIMIT ?"
        ))
        .bind(micros(created_before))
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
            "SELECT (SELECT COUNT(*) FROM sessions WHERE ends_at > ?) AS active_sessions,
                    (SELECT COUNT(*) FROM session_users WHERE last_seen > ?) AS users_online,
                    (SELECT COUNT(*) FROM pictures) AS photos_total",
        )
        .bind(micros(now))
        .bind(micros(online_since))
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
