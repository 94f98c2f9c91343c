//! Prometheus metrics, served on their own listener (`METRICS_PORT`) so the public port never
//! exposes them. Names are fixed: dashboards, alerts and docs use them.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use tokio_util::sync::CancellationToken;

use crate::{db::Database, domain::presence};

pub const HTTP_REQUESTS_TOTAL: &str = "partypic_http_requests_total";
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "partypic_http_request_duration_seconds";
pub const ACTIVE_SESSIONS: &str = "partypic_active_sessions";
pub const USERS_ONLINE: &str = "partypic_users_online";
pub const PHOTOS_TOTAL: &str = "partypic_photos_total";
pub const SESSIONS_CREATED_TOTAL: &str = "partypic_sessions_created_total";
pub const PHOTOS_UPLOADED_TOTAL: &str = "partypic_photos_uploaded_total";
pub const PASSWORD_HASH_QUEUE: &str = "partypic_password_hash_queue";
pub const GALLERY_CACHE_TOTAL: &str = "partypic_gallery_cache_requests_total";
pub const DATABASE_UP: &str = "partypic_database_up";
pub const OBJECT_STORE_UP: &str = "partypic_object_store_up";
pub const RETENTION_DELETED_EVENTS_TOTAL: &str = "partypic_retention_deleted_events_total";
pub const JOBS_QUEUED: &str = "partypic_jobs_queued";
pub const JOB_DURATION_SECONDS: &str = "partypic_job_duration_seconds";
pub const JOB_FAILURES_TOTAL: &str = "partypic_job_failures_total";

/// The `route` label for requests no route matched; keeps label cardinality bounded.
pub const UNMATCHED_ROUTE: &str = "unmatched";

const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// From a small JPEG's variants (~0.1 s) to a long video's (minutes).
const JOB_DURATION_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    /// Requests answered other than health probes: housekeeping tells a quiet server by it.
    served: Arc<AtomicU64>,
    pub active_sessions: IntGauge,
    pub users_online: IntGauge,
    pub photos_total: IntGauge,
    pub sessions_created: IntCounter,
    pub photos_uploaded: IntCounter,
    pub password_hash_queue: IntGauge,
    /// Gallery requests by `result`: hit, miss (rendered and kept) or bypass (not cacheable).
    pub gallery_cache: IntCounterVec,
    /// 1 while this replica reaches the database (probed every 2 s), else 0.
    pub database_up: IntGauge,
    /// 1 while this replica reaches the object store; at 0 uploads and galleries answer 503,
    /// but `/readyz` stays 200 (the store is shared: failing readiness would stop every pod).
    pub object_store_up: IntGauge,
    /// Events this replica deleted because their retention (`RETENTION_DAYS`) passed.
    pub retention_deleted_events: IntCounter,
    /// Processing jobs queued or running, all replicas.
    pub jobs_queued: IntGauge,
    /// Seconds per job attempt on this replica, by `kind` and `outcome` (done, retry, failed).
    pub job_duration: HistogramVec,
    /// Job attempts that failed on this replica, by `outcome`: `retry` (queued again) or
    /// `final` (the job is `failed`).
    pub job_failures: IntCounterVec,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                HTTP_REQUESTS_TOTAL,
                "HTTP requests by method, route template and status.",
            ),
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                HTTP_REQUEST_DURATION_SECONDS,
                "HTTP request latency in seconds.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route", "status_code"],
        )?;
        let active_sessions =
            IntGauge::new(ACTIVE_SESSIONS, "Events whose end lies in the future.")?;
        let users_online = IntGauge::new(
            USERS_ONLINE,
            "Guests with a heartbeat in the last 60 seconds.",
        )?;
        let photos_total = IntGauge::new(PHOTOS_TOTAL, "Photos stored, all events.")?;
        let sessions_created =
            IntCounter::new(SESSIONS_CREATED_TOTAL, "Events created by this replica.")?;
        let photos_uploaded =
            IntCounter::new(PHOTOS_UPLOADED_TOTAL, "Photos finalized by this replica.")?;
        let password_hash_queue = IntGauge::new(
            PASSWORD_HASH_QUEUE,
            "Password hashes running or waiting on this replica.",
        )?;

        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(active_sessions.clone()))?;
        registry.register(Box::new(users_online.clone()))?;
        registry.register(Box::new(photos_total.clone()))?;
        registry.register(Box::new(sessions_created.clone()))?;
        registry.register(Box::new(photos_uploaded.clone()))?;
        let gallery_cache = IntCounterVec::new(
            Opts::new(
                GALLERY_CACHE_TOTAL,
                "Gallery requests by cache result (hit, miss, bypass).",
            ),
            &["result"],
        )?;
        registry.register(Box::new(password_hash_queue.clone()))?;
        registry.register(Box::new(gallery_cache.clone()))?;
        let database_up = IntGauge::new(
            DATABASE_UP,
            "1 while this replica reaches the database, else 0.",
        )?;
        let object_store_up = IntGauge::new(
            OBJECT_STORE_UP,
            "1 while this replica reaches the object store, else 0 (uploads and galleries answer 503).",
        )?;
        // Up until a probe says otherwise: the server only starts once it reached both.
        database_up.set(1);
        object_store_up.set(1);
        registry.register(Box::new(database_up.clone()))?;
        registry.register(Box::new(object_store_up.clone()))?;
        let retention_deleted_events = IntCounter::new(
            RETENTION_DELETED_EVENTS_TOTAL,
            "Events deleted by this replica because their retention passed.",
        )?;
        registry.register(Box::new(retention_deleted_events.clone()))?;
        let jobs_queued = IntGauge::new(
            JOBS_QUEUED,
            "Processing jobs (photo variants) queued or running, all replicas.",
        )?;
        let job_duration = HistogramVec::new(
            HistogramOpts::new(
                JOB_DURATION_SECONDS,
                "Processing job attempts on this replica in seconds, by kind and outcome.",
            )
            .buckets(JOB_DURATION_BUCKETS.to_vec()),
            &["kind", "outcome"],
        )?;
        let job_failures = IntCounterVec::new(
            Opts::new(
                JOB_FAILURES_TOTAL,
                "Failed processing job attempts on this replica: retry (queued again) or final.",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(jobs_queued.clone()))?;
        registry.register(Box::new(job_duration.clone()))?;
        registry.register(Box::new(job_failures.clone()))?;
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;

        Ok(Self {
            registry,
            http_requests,
            http_duration,
            served: Arc::default(),
            active_sessions,
            users_online,
            photos_total,
            sessions_created,
            photos_uploaded,
            password_hash_queue,
            gallery_cache,
            database_up,
            object_store_up,
            retention_deleted_events,
            jobs_queued,
            job_duration,
            job_failures,
        })
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        if !matches!(route, "/healthz" | "/readyz") {
            self.served.fetch_add(1, Ordering::Relaxed);
        }
        let status = status.to_string();
        self.http_requests
            .with_label_values(&[method, route, &status])
            .inc();
        self.http_duration
            .with_label_values(&[method, route, &status])
            .observe(elapsed.as_secs_f64());
    }

    /// Requests answered so far other than `/healthz` and `/readyz` (kubelet and load balancer
    /// probes come every few seconds whether anybody uses the server or not).
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    pub fn render(&self) -> anyhow::Result<String> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        Ok(String::from_utf8(buffer)?)
    }
}

/// Refreshes the database-derived gauges on a fixed interval until `stop` fires.
pub async fn refresh_gauges(
    metrics: Metrics,
    db: Arc<dyn Database>,
    every: Duration,
    stop: CancellationToken,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.cancelled() => return,
        }
        let now = chrono::Utc::now();
        match db.counts(now, presence::online_since(now)).await {
            Ok(counts) => {
                metrics.active_sessions.set(counts.active_sessions);
                metrics.users_online.set(counts.users_online);
                metrics.photos_total.set(counts.photos_total);
                metrics.jobs_queued.set(counts.jobs_queued);
            }
            Err(err) => tracing::warn!(error = %err, "could not refresh gauges"),
        }
    }
}
