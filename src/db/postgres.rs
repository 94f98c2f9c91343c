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
    Counts, Database, DbError, DbResult, GuestRecord, PictureRecord, SessionRecord, UserRecord,
    classify,
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

fn session_from_row(row: &PgRow) -> Result<SessionRecord, sqlx::Error> {
    let missions: Json<MissionList> = row.try_get("missions")?;
    let settings: Json<serde_json::Value> = row.try_get("settings")?;
    Ok(SessionRecord {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        settings: settings.0,
        missions: missions.0,
        created_at: row.try_get("created_at")?,
        ends_at: row.try_get("ends_at")?,
    })
}

fn guest_from_row(row: &PgRow) -> Result<GuestRecord, sqlx::Error> {
    Ok(GuestRecord {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        user_name: row.try_get("user_name")?,
        created_at: row.try_get("created_at")?,
        last_seen: row.try_get("last_seen")?,
    })
}

fn picture_from_row(row: &PgRow) -> Result<PictureRecord, sqlx::Error> {
    Ok(PictureRecord {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        u_name: row.try_get("u_name")?,
        original_filename: row.try_get("original_filename")?,
        s3_key: row.try_get("s3_key")?,
        s3_bucket: row.try_get("s3_bucket")?,
        mimetype: row.try_get("mimetype")?,
        filesize_bytes: row.try_get("filesize_bytes")?,
        mission_id: row.try_get("mission_id")?,
        created_at: row.try_get("created_at")?,
    })
}

const PICTURE_COLUMNS: &str = "id, session_id, u_name, original_filename, s3_key, s3_bucket, mimetype, filesize_bytes, mission_id, created_at";

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

    async fn insert_user(&self, user: &UserRecord) -> DbResult<()> {
        let result = sqlx::query(
            "INSERT INTO users (id, email, email_normalized, username, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
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

    async fn user_by_email(&self, email_normalized: &str) -> DbResult<Option<UserRecord>> {
        let row = sqlx::query(
            "SELECT id, email, email_normalized, username, password_hash, created_at
             FROM users WHERE email_normalized = $1",
        )
        .bind(email_normalized)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.map(|row| {
            Ok(UserRecord {
                id: row.try_get("id")?,
                email: row.try_get("email")?,
                email_normalized: row.try_get("email_normalized")?,
                username: row.try_get("username")?,
                password_hash: row.try_get("password_hash")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .transpose()
        .map_err(classify)
    }

    async fn insert_session(&self, session: &SessionRecord) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, settings, missions, created_at, ends_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(session.id)
        .bind(session.user_id)
        .bind(Json(&session.settings))
        .bind(Json(&session.missions))
        .bind(session.created_at)
        .bind(session.ends_at)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn session(&self, id: Uuid) -> DbResult<Option<SessionRecord>> {
        let row = sqlx::query("SELECT id, user_id, settings, missions, created_at, ends_at FROM sessions WHERE id = $1")
            .bind(id)
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
            "UPDATE sessions SET missions = $2 WHERE id = $1
             RETURNING id, user_id, settings, missions, created_at, ends_at",
        )
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

    async fn insert_guest(&self, guest: &GuestRecord) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO session_users (id, session_id, user_name, created_at, last_seen) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(guest.id)
        .bind(guest.session_id)
        .bind(&guest.user_name)
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

    async fn insert_picture(&self, picture: &PictureRecord) -> DbResult<PictureRecord> {
        let inserted = sqlx::query(&format!(
            "INSERT INTO pictures ({PICTURE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (s3_key) DO NOTHING RETURNING {PICTURE_COLUMNS}"
        ))
        .bind(picture.id)
        .bind(picture.session_id)
        .bind(&picture.u_name)
        .bind(&picture.original_filename)
        .bind(&picture.s3_key)
        .bind(&picture.s3_bucket)
        .bind(&picture.mimetype)
        .bind(picture.filesize_bytes)
        .bind(&picture.mission_id)
        .bind(picture.created_at)
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

    async fn pictures_of_session(&self, session_id: Uuid) -> DbResult<Vec<PictureRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {PICTURE_COLUMNS} FROM pictures WHERE session_id = $1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(session_id)
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
