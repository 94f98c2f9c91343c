//! PostgreSQL backend: the production store shared by every replica. Values keep their native
//! types (uuid, timestamptz, jsonb); live events travel through the same pool (LISTEN/NOTIFY).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{
    Connection as _, PgPool, Postgres, Row,
    migrate::Migrator,
    postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgRow},
    query::Query,
    types::Json,
};
use uuid::Uuid;

use super::{
    EventTransport, JobLock,
    sql::{Backend, Param, SqlRow, Statement},
};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// A pooled connection idle this long is pinged before use.
const RECHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

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
            // The live-event listener holds one connection for good; queries keep the rest.
            .max_connections(max_connections.saturating_add(1))
            .min_connections(0)
            .acquire_timeout(acquire_timeout)
            .idle_timeout(Duration::from_secs(300))
            // sqlx pings every connection as it goes back to the pool; pinging it again when it
            // is taken out doubled the round trips of every statement. Only a connection that
            // sat idle (the database may have restarted meanwhile) is checked again.
            .test_before_acquire(false)
            .before_acquire(|connection, meta| {
                Box::pin(async move {
                    if meta.idle_for >= RECHECK_IDLE_AFTER {
                        connection.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(
                options
                    .application_name("partypic")
                    // sqlx prepares each statement once per connection, but PostgreSQL plans
                    // the first five executions anew: with the pool spreading statements over
                    // its connections, most executions were planned, and planning cost more
                    // than executing (bench `statements`). Our statements are short lookups by
                    // key whose plan does not depend on the values.
                    .options([("plan_cache_mode", "force_generic_plan")]),
            );
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn bind<'q>(sql: &'q str, params: Vec<Param<'q>>) -> Query<'q, Postgres, PgArguments> {
    params
        .into_iter()
        .fold(sqlx::query(sql), |query, param| match param {
            Param::Uuid(value) => query.bind(value),
            Param::Time(value) => query.bind(value),
            Param::Text(value) => query.bind(value),
            Param::Int(value) => query.bind(value),
            Param::Bool(value) => query.bind(value),
            Param::Json(value) => query.bind(Json(value)),
        })
}

impl SqlRow for PgRow {
    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>, sqlx::Error> {
        self.try_get(column)
    }

    fn time(&self, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        self.try_get(column)
    }

    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.try_get(column)
    }

    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(column)
    }

    fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
        self.try_get(column)
    }
}

#[async_trait]
impl Backend for PostgresDatabase {
    type Row = PgRow;
    const SKIP_LOCKED: &'static str = "FOR UPDATE SKIP LOCKED";
    const WRITES_IN_WITH: bool = true;

    async fn execute(&self, sql: &str, params: Vec<Param<'_>>) -> Result<(), sqlx::Error> {
        bind(sql, params).execute(&self.pool).await.map(drop)
    }

    async fn fetch_optional(
        &self,
        sql: &str,
        params: Vec<Param<'_>>,
    ) -> Result<Option<PgRow>, sqlx::Error> {
        bind(sql, params).fetch_optional(&self.pool).await
    }

    async fn fetch_all(
        &self,
        sql: &str,
        params: Vec<Param<'_>>,
    ) -> Result<Vec<PgRow>, sqlx::Error> {
        bind(sql, params).fetch_all(&self.pool).await
    }

    async fn fetch_optional_then(
        &self,
        first: Statement<'_>,
        then: Vec<Statement<'_>>,
    ) -> Result<Option<PgRow>, sqlx::Error> {
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

    fn violates_unique(err: &sqlx::Error, index: &str) -> bool {
        matches!(err, sqlx::Error::Database(db) if db.is_unique_violation() && db.constraint() == Some(index))
    }

    async fn run_migrations(&self) -> anyhow::Result<()> {
        // sqlx takes a PostgreSQL advisory lock around the run: replicas starting together queue up.
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn close_pool(&self) {
        self.pool.close().await;
    }

    /// A transaction-scoped advisory lock: it lives as long as the transaction the returned lock
    /// holds (rolled back when dropped), and goes with the connection if the replica dies.
    async fn try_advisory_lock(&self, key: i64) -> Result<Option<JobLock>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
        Ok(locked.then(|| JobLock::holding(tx)))
    }

    fn transport(&self) -> EventTransport {
        EventTransport::Postgres(self.pool.clone())
    }
}
