//! SQLite backend: the embedded single-machine default. UUIDs are stored as text and
//! timestamps as Unix microseconds, so ordering and comparisons are exact; JSON is text.

use std::{path::Path, str::FromStr, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{
    Row, Sqlite, SqlitePool,
    migrate::Migrator,
    query::Query,
    sqlite::{
        SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
        SqliteSynchronous,
    },
};
use uuid::Uuid;

use super::sql::{Backend, Param, SqlRow, Statement};

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

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn bind<'q>(sql: &'q str, params: Vec<Param<'q>>) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    params
        .into_iter()
        .fold(sqlx::query(sql), |query, param| match param {
            Param::Uuid(value) => query.bind(value.map(|id| id.to_string())),
            Param::Time(value) => query.bind(value.map(|at| at.timestamp_micros())),
            Param::Text(value) => query.bind(value),
            Param::Int(value) => query.bind(value),
            Param::Bool(value) => query.bind(value),
            Param::Json(value) => query.bind(String::from(Box::<str>::from(value))),
        })
}

fn decode_error(err: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(err))
}

impl SqlRow for SqliteRow {
    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>, sqlx::Error> {
        let text: Option<String> = self.try_get(column)?;
        text.map(|id| Uuid::parse_str(&id).map_err(decode_error))
            .transpose()
    }

    fn time(&self, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        DateTime::from_timestamp_micros(self.try_get(column)?)
            .ok_or_else(|| sqlx::Error::Decode("timestamp out of range".into()))
    }

    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        let micros: Option<i64> = self.try_get(column)?;
        micros
            .map(|at| {
                DateTime::from_timestamp_micros(at)
                    .ok_or_else(|| sqlx::Error::Decode("timestamp out of range".into()))
            })
            .transpose()
    }

    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(column)
    }

    fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
        self.try_get(column)
    }
}

#[async_trait]
impl Backend for SqliteDatabase {
    type Row = SqliteRow;

    async fn execute(&self, sql: &str, params: Vec<Param<'_>>) -> Result<(), sqlx::Error> {
        bind(sql, params).execute(&self.pool).await.map(drop)
    }

    async fn fetch_optional(
        &self,
        sql: &str,
        params: Vec<Param<'_>>,
    ) -> Result<Option<SqliteRow>, sqlx::Error> {
        bind(sql, params).fetch_optional(&self.pool).await
    }

    async fn fetch_all(
        &self,
        sql: &str,
        params: Vec<Param<'_>>,
    ) -> Result<Vec<SqliteRow>, sqlx::Error> {
        bind(sql, params).fetch_all(&self.pool).await
    }

    async fn fetch_optional_then(
        &self,
        first: Statement<'_>,
        then: Vec<Statement<'_>>,
    ) -> Result<Option<SqliteRow>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let row = bind(first.sql, first.params)
            .fetch_optional(&mut *tx)
            .await?;
        if row.is_some() {
            for statement in then {
                bind(statement.sql, statement.params)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(row)
    }

    /// SQLite's errors name columns, not indexes: any unique violation counts (the other
    /// unique columns are random primary keys).
    fn violates_unique(err: &sqlx::Error, _index: &str) -> bool {
        matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
    }

    async fn run_migrations(&self) -> anyhow::Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn close_pool(&self) {
        self.pool.close().await;
    }
}
