//! Building the application from [`Settings`] and running it until a shutdown signal.

use std::{
    future::Future,
    net::SocketAddr,
    path::Path,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use anyhow::Context;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::{
    config::{DatabaseSettings, Settings, StoreSettings},
    db::{Database, postgres::PostgresDatabase, sqlite::SqliteDatabase},
    domain::{password::PasswordHasher, token::TokenIssuer},
    events::EventBus,
    http::{self, AppState, SharedState, gallery_cache::GalleryCache, rate_limit::AuthRateLimiter},
    metrics::{self, Metrics},
    store::{
        PhotoStore,
        fs::{FilesystemStore, UrlSigner},
        s3::S3Store,
    },
    thumbnails::Thumbnailer,
};

/// How long start-up waits for the database and the object store to come up.
const DEPENDENCY_WAIT: Duration = Duration::from_secs(30);

/// Opens the configured database backend.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Arc<dyn Database>> {
    Ok(match &settings.database {
        DatabaseSettings::Sqlite { path } => Arc::new(
            SqliteDatabase::open(
                path,
                settings.db_max_connections.min(16),
                settings.db_acquire_timeout,
            )
            .await?,
        ),
        DatabaseSettings::Postgres { url } => Arc::new(PostgresDatabase::connect(
            url,
            settings.db_max_connections,
            settings.db_acquire_timeout,
        )?),
    })
}

/// Retries `attempt` until it succeeds or [`DEPENDENCY_WAIT`] has passed.
async fn with_retries<T, F, Fut>(what: &str, mut attempt: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let deadline = tokio::time::Instant::now() + DEPENDENCY_WAIT;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %err, "{what} not ready yet, retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(err) => return Err(err.context(format!("{what} did not become ready"))),
        }
    }
}

/// Applies migrations, waiting for the database to come up first.
pub async fn migrate(db: &dyn Database) -> anyhow::Result<()> {
    with_retries("database", || async { db.migrate().await }).await
}

/// The JWT secret: configured, or generated once and kept in `DATA_DIR/jwt-secret`.
fn load_or_create_secret(settings: &Settings) -> anyhow::Result<String> {
    if let Some(secret) = &settings.jwt_secret {
        return Ok(secret.clone());
    }
    let path = settings.data_dir.join("jwt-secret");
    match std::fs::read_to_string(&path) {
        Ok(secret) if secret.trim().len() >= 32 => return Ok(secret.trim().to_owned()),
        Ok(_) => anyhow::bail!(
            "{} is too short; delete it to generate a new one",
            path.display()
        ),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create data directory {}",
            settings.data_dir.display()
        )
    })?;
    let secret = hex::encode(rand::random::<[u8; 32]>());
    write_private(&path, &secret).with_context(|| format!("cannot write {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a new JWT secret");
    Ok(secret)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

pub struct Application {
    listener: TcpListener,
    state: SharedState,
    settings: Settings,
}

impl Application {
    /// Connects to the database and the object store, migrates, and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        Self::build_with_listener(settings, listener).await
    }

    pub async fn build_with_listener(
        settings: Settings,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let secret = load_or_create_secret(&settings)?;
        let db = open_database(&settings).await?;
        migrate(db.as_ref()).await?;

        let (store, local_store): (Arc<dyn PhotoStore>, Option<Arc<FilesystemStore>>) =
            match &settings.store {
                StoreSettings::Filesystem { root } => {
                    let fs = Arc::new(FilesystemStore::new(
                        root.clone(),
                        UrlSigner::new(secret.as_bytes()),
                    ));
                    (fs.clone(), Some(fs))
                }
                StoreSettings::S3(s3) => (Arc::new(S3Store::new(s3)?), None),
            };
        with_retries("object store", || async { store.prepare().await }).await?;

        let (shutdown, _) = tokio::sync::watch::channel(false);
        let events = with_retries("event listener", || {
            EventBus::start(db.event_transport(), shutdown.subscribe())
        })
        .await?;
        let thumbnails = Thumbnailer::new(
            db.clone(),
            store.clone(),
            events.clone(),
            settings.max_upload_bytes,
            settings.worker_nice,
        )?;
        let state = Arc::new(AppState {
            db,
            store,
            local_store,
            shutdown,
            events,
            gallery_cache: GalleryCache::new(settings.gallery_cache_bytes),
            thumbnails,
            auth_limiter: AuthRateLimiter::new(
                settings.auth_rate_limit.0,
                settings.auth_rate_limit.1,
            ),
            store_available: true.into(),
            hasher: PasswordHasher::new(&settings.hashing)?,
            tokens: TokenIssuer::new(secret.as_bytes(), settings.jwt_expires_in),
            metrics: Metrics::new()?,
            public_url: settings.public_url.clone(),
            max_upload_bytes: settings.max_upload_bytes,
            shutting_down: false.into(),
        });
        Ok(Self {
            listener,
            state,
            settings,
        })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `shutdown` completes, then drains: readiness turns 503 at once, the listener
    /// closes, in-flight requests get up to `SHUTDOWN_TIMEOUT_SECS`, and the pools close.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            state,
            settings,
        } = self;
        let stop_rx = state.shutdown.subscribe();
        let refresher = tokio::spawn(metrics::refresh_gauges(
            state.metrics.clone(),
            state.db.clone(),
            settings.metrics_refresh,
            stop_rx.clone(),
        ));
        let sweeper = tokio::spawn(state.thumbnails.clone().sweep(stop_rx.clone()));
        let housekeeping = tokio::spawn(housekeeping(state.clone(), stop_rx.clone()));

        let signal_state = state.clone();
        let on_shutdown = async move {
            shutdown.await;
            signal_state.shutting_down.store(true, Ordering::SeqCst);
            tracing::info!("shutdown requested: draining in-flight requests");
            let _ = signal_state.shutdown.send(true);
        };

        let app = http::router(state.clone());
        tracing::info!(addr = %listener.local_addr()?, "PartyPic listening");
        // Without TCP_NODELAY a streamed photo's last segment waits ~40 ms for a delayed ACK.
        let listener = listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(error = %err, "cannot set TCP_NODELAY");
            }
        });
        let server = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(on_shutdown);

        let mut drain_rx = stop_rx;
        let drain_limit = settings.shutdown_timeout;
        tokio::select! {
            result = server => result.context("server error")?,
            _ = async {
                let _ = drain_rx.wait_for(|stopping| *stopping).await;
                tokio::time::sleep(drain_limit).await;
            } => tracing::warn!("drain timed out; closing remaining connections"),
        }
        let _ = state.shutdown.send(true);
        let _ = refresher.await;
        let _ = sweeper.await;
        let _ = housekeeping.await;
        state.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// How often the object store is probed; uploads and galleries answer 503 while it is down.
const STORE_PROBE_EVERY: Duration = Duration::from_secs(2);

/// Probes the object store and forgets idle rate-limit entries until `stop` fires.
async fn housekeeping(state: SharedState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(STORE_PROBE_EVERY);
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return,
        }
        let healthy = matches!(
            tokio::time::timeout(STORE_PROBE_EVERY, state.store.health()).await,
            Ok(Ok(()))
        );
        let was = state.store_available.swap(healthy, Ordering::Relaxed);
        if was != healthy {
            if healthy {
                tracing::info!("object store reachable again");
            } else {
                tracing::warn!("object store unreachable: uploads and galleries answer 503");
            }
        }
        ticks += 1;
        if ticks % 30 == 0 {
            if let Some(limiter) = &state.auth_limiter {
                limiter.forget_idle();
            }
        }
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
