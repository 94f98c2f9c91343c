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
    Counts, Database, DbError, DbResult, GuestRecord, PictureRecord, SessionRecord, UserRecord,
    classify,
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

fn session_from_row(row: &SqliteRow) -> Result<SessionRecord, sqlx::Error> {
    Ok(SessionRecord {
        id: uuid_at(row, "id")?,
        user_id: uuid_at(row, "user_id")?,
        settings: json_at(row, "settings")?,
        missions: json_at(row, "missions")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        ends_at: from_micros(row.try_get("ends_at")?)?,
    })
}

fn guest_from_row(row: &SqliteRow) -> Result<GuestRecord, sqlx::Error> {
    Ok(GuestRecord {
        id: uuid_at(row, "id")?,
        session_id: uuid_at(row, "session_id")?,
        user_name: row.try_get("user_name")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        last_seen: from_micros(row.try_get("last_seen")?)?,
    })
}

fn picture_from_row(row: &SqliteRow) -> Result<PictureRecord, sqlx::Error> {
    Ok(PictureRecord {
        id: uuid_at(row, "id")?,
        session_id: uuid_at(row, "session_id")?,
        u_name: row.try_get("u_name")?,
        original_filename: row.try_get("original_filename")?,
        s3_key: row.try_get("s3_key")?,
        s3_bucket: row.try_get("s3_bucket")?,
        mimetype: row.try_get("mimetype")?,
        filesize_bytes: row.try_get("filesize_bytes")?,
        mission_id: row.try_get("mission_id")?,
        created_at: from_micros(row.try_get("created_at")?)?,
    })
}

const PICTURE_COLUMNS: &str = "id, session_id, u_name, original_filename, s3_key, s3_bucket, mimetype, filesize_bytes, mission_id, created_at";

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

    async fn insert_user(&self, user: &UserRecord) -> DbResult<()> {
        let result = sqlx::query(
            "INSERT INTO users (id, email, email_normalized, username, password_hash, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
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

    async fn user_by_email(&self, email_normalized: &str) -> DbResult<Option<UserRecord>> {
        let row = sqlx::query(
            "SELECT id, email, email_normalized, username, password_hash, created_at
             FROM users WHERE email_normalized = ?",
        )
        .bind(email_normalized)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.map(|row| {
            Ok(UserRecord {
                id: uuid_at(&row, "id")?,
                email: row.try_get("email")?,
                email_normalized: row.try_get("email_normalized")?,
                username: row.try_get("username")?,
                password_hash: row.try_get("password_hash")?,
                created_at: from_micros(row.try_get("created_at")?)?,
            })
        })
        .transpose()
        .map_err(classify)
    }

    async fn insert_session(&self, session: &SessionRecord) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, settings, missions, created_at, ends_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(session.id.to_string())
        .bind(session.user_id.to_string())
        .bind(to_json(&session.settings)?)
        .bind(to_json(&session.missions)?)
        .bind(micros(session.created_at))
        .bind(micros(session.ends_at))
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn session(&self, id: Uuid) -> DbResult<Option<SessionRecord>> {
        let row = sqlx::query("SELECT id, user_id, settings, missions, created_at, ends_at FROM sessions WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        row.as_ref()
            .map(session_from_row)
            .transpose()
            .map_err(classify)
    }

    async fn update_missions(
        &self,
        id: Uuid,
        missions: &MissionList,
    ) -> DbResult<Option<SessionRecord>> {
        let row = sqlx::query(
            "UPDATE sessions SET missions = ? WHERE id = ?
             RETURNING id, user_id, settings, missions, created_at, ends_at",
        )
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

    async fn insert_guest(&self, guest: &GuestRecord) -> DbResult<()> {
        sqlx::query("INSERT INTO session_users (id, session_id, user_name, created_at, last_seen) VALUES (?, ?, ?, ?, ?)")
            .bind(guest.id.to_string())
            .bind(guest.session_id.to_string())
            .bind(&guest.user_name)
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

    async fn insert_picture(&self, picture: &PictureRecord) -> DbResult<PictureRecord> {
        let inserted = sqlx::query(&format!(
            "INSERT INTO pictures ({PICTURE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (s3_key) DO NOTHING RETURNING {PICTURE_COLUMNS}"
        ))
        .bind(picture.id.to_string())
        .bind(picture.session_id.to_string())
        .bind(&picture.u_name)
        .bind(&picture.original_filename)
        .bind(&picture.s3_key)
        .bind(&picture.s3_bucket)
        .bind(&picture.mimetype)
        .bind(picture.filesize_bytes)
        .bind(&picture.mission_id)
        .bind(micros(picture.created_at))
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        match inserted {
            Some(row) => picture_from_row(&row).map_err(classify),
            None => self.picture_by_key(&picture.s3_key).await?.ok_or_else(|| {
                DbError::Other(anyhow::anyhow!("picture vanished after key conflict"))
            }),
        }
    }

    async fn picture_by_key(&self, s3_key: &str) -> DbResult<Option<PictureRecord>> {
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

    async fn pictures_of_session(&self, session_id: Uuid) -> DbResult<Vec<PictureRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {PICTURE_COLUMNS} FROM pictures WHERE session_id = ? ORDER BY created_at DESC, rowid DESC"
        ))
        .bind(session_id.to_string())
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
