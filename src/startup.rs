//! Building the application from [`Settings`] and running it until a shutdown signal.

use std::{
    future::Future,
    net::SocketAddr,
    path::Path,
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use anyhow::Context;
use axum::{
    Extension,
    http::{HeaderValue, header},
    serve::ListenerExt,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, DropGuard};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::{
    app::processing::Processing,
    app::{
        App,
        admin::Admin,
        gallery_cache::GalleryCache,
        throttle::{AddressRateLimiter, AuthRateLimiter, ReactionRateLimiter},
    },
    config::{DatabaseSettings, Settings, StoreSettings},
    db::{Database, fail_fast::FailFast, postgres::PostgresDatabase, sqlite::SqliteDatabase},
    domain::{password::PasswordHasher, token::TokenIssuer},
    events::EventBus,
    http::{self, SharedState},
    mail::Mailer,
    metrics::{self, Metrics},
    store::{
        PhotoStore,
        fs::{FilesystemStore, UrlSigner},
        s3::S3Store,
    },
    thumbnails::Thumbnailer,
    tls::{self, ServedOverTls, Tls, TlsListener},
};

/// Password-reset mails per address and hour.
const RESET_MAILS_PER_HOUR: std::num::NonZeroU32 = std::num::NonZeroU32::new(3).expect("non-zero");
/// Reactions per person: a burst of 30 (tapping through a gallery), then one every 2 s.
const REACTIONS_PER_MINUTE: std::num::NonZeroU32 = std::num::NonZeroU32::new(30).expect("non-zero");
const REACTION_BURST: std::num::NonZeroU32 = std::num::NonZeroU32::new(30).expect("non-zero");
/// Comments per person: a burst of 10, then one every 6 s; a real conversation stays below.
const COMMENTS_PER_MINUTE: std::num::NonZeroU32 = std::num::NonZeroU32::new(10).expect("non-zero");
const COMMENT_BURST: std::num::NonZeroU32 = std::num::NonZeroU32::new(10).expect("non-zero");
/// Co-host links per owner: plenty for any party, too few to flood the table.
const COHOST_INVITES_PER_MINUTE: std::num::NonZeroU32 =
    std::num::NonZeroU32::new(2).expect("non-zero");
const COHOST_INVITE_BURST: std::num::NonZeroU32 = std::num::NonZeroU32::new(20).expect("non-zero");
/// Guestbook messages per person: a burst of 3 (a typo fixed, a second thought), then one a
/// minute; a guestbook entry is written once, a flood is not.
const GUESTBOOK_PER_MINUTE: std::num::NonZeroU32 = std::num::NonZeroU32::new(1).expect("non-zero");
const GUESTBOOK_BURST: std::num::NonZeroU32 = std::num::NonZeroU32::new(3).expect("non-zero");

/// How long start-up waits for the database and the object store to come up.
const DEPENDENCY_WAIT: Duration = Duration::from_secs(30);
/// How long a draining server keeps answering on its open connections, each answer with
/// `Connection: close`, before it closes the idle ones (capped at half the drain time).
const CLOSE_WINDOW: Duration = Duration::from_secs(1);

/// Opens the configured database backend; while it is down, calls fail fast ([`FailFast`]).
pub async fn open_database(settings: &Settings) -> anyhow::Result<Arc<dyn Database>> {
    let db: Arc<dyn Database> = match &settings.database {
        DatabaseSettings::Sqlite { path } => Arc::new(
            SqliteDatabase::open(
                path,
                settings.db_max_connections.min(16),
                settings.db_acquire_timeout,
            )
            .await?,
        ),
        DatabaseSettings::Postgres { url } => Arc::new(PostgresDatabase::connect(
            url.expose_secret(),
            settings.db_max_connections,
            settings.db_acquire_timeout,
        )?),
    };
    Ok(Arc::new(FailFast::new(db)))
}

/// Opens and prepares the configured photo store, for commands that run without the server
/// (export, import): the URLs it could sign are never handed out.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn PhotoStore>> {
    let store: Arc<dyn PhotoStore> = match &settings.store {
        StoreSettings::Filesystem { root } => {
            let secret = load_or_create_secret(settings)?;
            Arc::new(FilesystemStore::new(
                root.clone(),
                UrlSigner::new(secret.expose_secret().as_bytes()),
            ))
        }
        StoreSettings::S3(s3) => Arc::new(S3Store::new(s3)?),
    };
    with_retries("object store", || async { store.prepare().await }).await?;
    Ok(store)
}

/// The configured object store, and the same store again when it is the local disk.
type Stores = (Arc<dyn PhotoStore>, Option<Arc<FilesystemStore>>);

/// The configured object store (not yet prepared).
fn stores_of(settings: &Settings, secret: &SecretString) -> anyhow::Result<Stores> {
    Ok(match &settings.store {
        StoreSettings::Filesystem { root } => {
            let fs = Arc::new(FilesystemStore::new(
                root.clone(),
                UrlSigner::new(secret.expose_secret().as_bytes()),
            ));
            (fs.clone(), Some(fs))
        }
        StoreSettings::S3(s3) => (Arc::new(S3Store::new(s3)?), None),
    })
}

/// What `partypic admin` works with: the migrated database, the object store, the hasher.
pub async fn open_admin(settings: &Settings) -> anyhow::Result<Admin> {
    let secret = load_or_create_secret(settings)?;
    let db = open_database(settings).await?;
    migrate(db.as_ref()).await?;
    let (store, _) = stores_of(settings, &secret)?;
    Ok(Admin {
        db,
        store,
        hasher: PasswordHasher::new(&settings.hashing)?,
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
fn load_or_create_secret(settings: &Settings) -> anyhow::Result<SecretString> {
    if let Some(secret) = &settings.jwt_secret {
        return Ok(secret.clone());
    }
    let path = settings.data_dir.join("jwt-secret");
    match std::fs::read_to_string(&path) {
        Ok(secret) if secret.trim().len() >= 32 => return Ok(secret.trim().into()),
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
    let secret = SecretString::from(hex::encode(rand::random::<[u8; 32]>()));
    write_private(&path, secret.expose_secret())
        .with_context(|| format!("cannot write {}", path.display()))?;
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
    metrics_listener: Option<TcpListener>,
    /// Plain HTTP that redirects to the HTTPS main listener.
    redirect_listener: Option<TcpListener>,
    /// `Some`: the main listener serves HTTPS.
    tls: Option<Tls>,
    state: SharedState,
    settings: Settings,
    stop: CancellationToken,
    /// Background tasks end even when the application is dropped unrun or `run_until` fails.
    cancel_on_drop: DropGuard,
    /// Hand the binary's resident pages back after start-up and whenever quiet
    /// ([`Self::releasing_binary_pages`]).
    release_binary_pages: bool,
}

impl Application {
    /// Connects to the database and the object store, migrates, and binds the listeners.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let metrics_listener = match settings.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen for metrics on {addr}"))?,
            ),
            None => None,
        };
        let redirect_listener = match settings.http_redirect_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen for HTTP redirects on {addr}"))?,
            ),
            None => None,
        };
        let app = Self::build_with_listener(settings, listener, metrics_listener).await?;
        Ok(match redirect_listener {
            Some(redirect_listener) => app.with_redirect_listener(redirect_listener),
            None => app,
        })
    }

    /// Like [`Self::build`] on listeners the caller bound (tests bind port 0, so several apps
    /// run in one process); `settings.listen`, `settings.metrics_listen` and
    /// `settings.http_redirect_listen` are not used (see [`Self::with_redirect_listener`]).
    pub async fn build_with_listener(
        settings: Settings,
        listener: TcpListener,
        metrics_listener: Option<TcpListener>,
    ) -> anyhow::Result<Self> {
        let tls = settings.tls.as_ref().map(Tls::new).transpose()?;
        let secret = load_or_create_secret(&settings)?;
        let db = open_database(&settings).await?;
        migrate(db.as_ref()).await?;

        let (store, local_store) = stores_of(&settings, &secret)?;
        with_retries("object store", || async { store.prepare().await }).await?;

        // `stop` ends the background tasks once the server has drained; its child `shutdown`
        // fires when the drain begins (readiness, live streams). An early return below cancels
        // it too, so the event relay never outlives a failed build.
        let stop = CancellationToken::new();
        let cancel_on_drop = stop.clone().drop_guard();
        let events = with_retries("event listener", || {
            EventBus::start(db.event_transport(), stop.clone())
        })
        .await?;
        let thumbnails = Thumbnailer::new(
            store.clone(),
            settings.max_upload_bytes,
            settings.worker_nice,
            settings.processing_concurrency,
        )?;
        let metrics = Metrics::new()?;
        let processing = Processing::new(
            db.clone(),
            thumbnails,
            events.clone(),
            metrics.clone(),
            settings.processing_concurrency,
            settings.job_lease,
        );
        let lan_urls = match &settings.public_url {
            Some(_) => Vec::new(),
            None => crate::app::invite::lan_bases(listener.local_addr()?, tls.is_some()),
        };
        match (&settings.public_url, lan_urls.first()) {
            (Some(url), _) => tracing::info!(%url, "guests join under PUBLIC_URL"),
            (None, Some(url)) => tracing::info!(
                %url,
                "guests join at this machine's LAN address (set PUBLIC_URL for another name)"
            ),
            (None, None) => tracing::warn!(
                "no PUBLIC_URL and no LAN address to listen on: join links name the address the \
                 host's browser uses, and guests' phones must reach it"
            ),
        }
        let state = Arc::new(App {
            db,
            store,
            local_store,
            shutdown: stop.child_token(),
            events,
            gallery_cache: GalleryCache::new(settings.gallery_cache_bytes),
            heartbeats: settings.heartbeat_flush.map(|_| Default::default()),
            processing,
            auth_limiter: AuthRateLimiter::new(
                settings.auth_rate_limit.0,
                settings.auth_rate_limit.1,
            ),
            join_code_limiter: AuthRateLimiter::new(
                settings.join_code_rate_limit.0,
                settings.join_code_rate_limit.1,
            ),
            join_pin_limit: settings.join_pin_limit,
            store_available: true.into(),
            hasher: PasswordHasher::new(&settings.hashing)?,
            tokens: TokenIssuer::new(secret.expose_secret().as_bytes(), settings.jwt_expires_in),
            metrics,
            public_url: settings.public_url.clone(),
            lan_urls,
            max_upload_bytes: settings.max_upload_bytes,
            video_limits: settings.video,
            video_tools: crate::thumbnails::video::tools_installed(),
            worker_nice: settings.worker_nice,
            retention: settings.retention,
            mailer: settings
                .smtp
                .as_ref()
                .map(|smtp| Mailer::new(smtp.url.expose_secret(), &smtp.from).map(Arc::new))
                .transpose()?,
            reset_limiter: AddressRateLimiter::new(RESET_MAILS_PER_HOUR),
            reaction_limiter: ReactionRateLimiter::new(REACTIONS_PER_MINUTE, REACTION_BURST),
            comment_limiter: ReactionRateLimiter::new(COMMENTS_PER_MINUTE, COMMENT_BURST),
            cohost_invite_limiter: ReactionRateLimiter::new(
                COHOST_INVITES_PER_MINUTE,
                COHOST_INVITE_BURST,
            ),
            guestbook_limiter: ReactionRateLimiter::new(GUESTBOOK_PER_MINUTE, GUESTBOOK_BURST),
            event_quota_bytes: settings.event_quota_bytes,
            host_quota_bytes: settings.host_quota_bytes,
        });
        Ok(Self {
            listener,
            metrics_listener,
            redirect_listener: None,
            tls,
            state,
            settings,
            cancel_on_drop,
            stop,
            release_binary_pages: false,
        })
    }

    /// A few seconds after it is ready, and whenever no request but health probes came for
    /// [`QUIET_FOR`], the server hands its binary's resident pages back to the kernel
    /// (`binary_pages`): what start-up or the last burst touched and serving does not need
    /// stops counting against its memory.
    /// The server binary does this; tests, with many applications in one process, do not.
    pub fn releasing_binary_pages(mut self) -> Self {
        self.release_binary_pages = true;
        self
    }

    /// Serves HTTP → HTTPS redirects on `listener` (with TLS only; otherwise it is dropped).
    pub fn with_redirect_listener(mut self, listener: TcpListener) -> Self {
        self.redirect_listener = self.tls.is_some().then_some(listener);
        self
    }

    /// Where the plain-HTTP redirects are served; `None` without a redirect listener.
    pub fn redirect_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        Ok(self
            .redirect_listener
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()?)
    }

    /// The workflows' shared state (tests drive background jobs through it, e.g. with a fake clock).
    pub fn state(&self) -> SharedState {
        self.state.clone()
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Where `GET /metrics` is served; `None` without a metrics listener.
    pub fn metrics_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        Ok(self
            .metrics_listener
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()?)
    }

    /// Serves until `shutdown` completes, then drains: readiness turns 503 at once, the listener
    /// closes, in-flight requests get up to `SHUTDOWN_TIMEOUT_SECS`, then the metrics listener
    /// and the background tasks stop and the pools close.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            metrics_listener,
            redirect_listener,
            tls,
            state,
            settings,
            stop,
            cancel_on_drop,
            release_binary_pages,
        } = self;
        let refresher = tokio::spawn(metrics::refresh_gauges(
            state.metrics.clone(),
            state.db.clone(),
            settings.metrics_refresh,
            stop.clone(),
        ));
        let processing = tokio::spawn(state.processing.clone().run(stop.clone()));
        let housekeeping = tokio::spawn(housekeeping(
            state.clone(),
            stop.clone(),
            release_binary_pages,
        ));
        // The web client's files are compressed once, before the first guest asks for them.
        tokio::task::spawn_blocking(http::web::warm_cache);
        let retention = tokio::spawn(crate::app::retention::run(state.clone(), stop.clone()));
        let multipart_sweep = tokio::spawn(crate::app::multipart::run(state.clone(), stop.clone()));
        let heartbeats = settings.heartbeat_flush.map(|every| {
            let (state, stop) = (state.clone(), stop.clone());
            tokio::spawn(async move {
                if let Some(buffer) = &state.heartbeats {
                    buffer.run(state.db.as_ref(), every, stop).await;
                }
            })
        });
        // Scrapes keep working through the drain.
        let metrics_server = match metrics_listener {
            Some(metrics_listener) => {
                tracing::info!(addr = %metrics_listener.local_addr()?, "metrics listening");
                Some(tokio::spawn(http::metrics_listener::serve(
                    metrics_listener,
                    state.clone(),
                    stop.clone(),
                )))
            }
            None => None,
        };

        let draining = state.shutdown.clone();
        let on_shutdown = {
            let draining = draining.clone();
            // Closing an idle keep-alive connection races a proxy that is just sending a request
            // on it (nginx does not retry a POST). First every answer says `Connection: close`
            // (http::close_while_draining), so the connections the proxy uses end cleanly; only
            // then does the server stop accepting and close the idle rest.
            let close_window = CLOSE_WINDOW.min(settings.shutdown_timeout / 2);
            async move {
                shutdown.await;
                tracing::info!("shutdown requested: draining in-flight requests");
                draining.cancel();
                tokio::time::sleep(close_window).await;
            }
        };

        let app = http::router(state.clone(), &settings.cors_origins);
        let addr = listener.local_addr()?;
        let (server, tls_upkeep, redirects) = match tls {
            Some(tls) => {
                let (acceptor, upkeep) = tls.into_parts(stop.clone());
                let upkeep = tokio::spawn(upkeep);
                let redirects = match redirect_listener {
                    Some(redirect_listener) => {
                        tracing::info!(addr = %redirect_listener.local_addr()?, "redirecting plain HTTP to HTTPS");
                        let redirect =
                            tls::redirect_router(addr.port(), settings.public_url.clone());
                        let draining = draining.clone();
                        Some(tokio::spawn(
                            axum::serve(redirect_listener, redirect)
                                .with_graceful_shutdown(async move { draining.cancelled().await })
                                .into_future(),
                        ))
                    }
                    None => None,
                };
                let hsts =
                    HeaderValue::try_from(format!("max-age={}", settings.hsts_max_age.as_secs()))
                        .context("HSTS header")?;
                let app = app
                    .layer(SetResponseHeaderLayer::overriding(
                        header::STRICT_TRANSPORT_SECURITY,
                        hsts,
                    ))
                    .layer(Extension(ServedOverTls));
                tracing::info!(%addr, "PartyPic listening (HTTPS)");
                // The tap does nothing (TCP_NODELAY is set before the handshake); axum gives a
                // tapped listener's connections `ConnectInfo<SocketAddr>`, which the rate limiter reads.
                let listener = TlsListener::new(listener, acceptor)?.tap_io(|_| {});
                let server = axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(on_shutdown)
                .into_future();
                (server, Some(upkeep), redirects)
            }
            None => {
                tracing::info!(%addr, "PartyPic listening");
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
                .with_graceful_shutdown(on_shutdown)
                .into_future();
                (server, None, None)
            }
        };

        let drain_limit = settings.shutdown_timeout;
        tokio::select! {
            result = server => result.context("server error")?,
            _ = async {
                draining.cancelled().await;
                tokio::time::sleep(drain_limit).await;
            } => tracing::warn!("drain timed out; closing remaining connections"),
        }
        drop(cancel_on_drop);
        let _ = refresher.await;
        let _ = processing.await;
        let _ = housekeeping.await;
        let _ = retention.await;
        let _ = multipart_sweep.await;
        if let Some(heartbeats) = heartbeats {
            let _ = heartbeats.await;
        }
        if let Some(upkeep) = tls_upkeep {
            let _ = upkeep.await;
        }
        if let Some(mut redirects) = redirects {
            // Redirects are answered at once; whatever is still open after the drain is cut.
            match tokio::time::timeout(Duration::from_secs(1), &mut redirects).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(err))) => tracing::warn!(error = %err, "redirect listener failed"),
                Ok(Err(err)) => tracing::warn!(error = %err, "redirect listener task failed"),
                Err(_) => redirects.abort(),
            }
        }
        if let Some(metrics_server) = metrics_server {
            match metrics_server.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::warn!(error = %err, "metrics listener failed"),
                Err(err) => tracing::warn!(error = %err, "metrics listener task failed"),
            }
        }
        state.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// How often the object store and the database are probed; uploads and galleries answer 503
/// while the store is down.
const STORE_PROBE_EVERY: Duration = Duration::from_secs(2);

/// A server is quiet once no request but health probes came for this long.
pub const QUIET_FOR: Duration = Duration::from_secs(30);

/// Start-up's last work runs in the first seconds of serving (the first probes and gauge
/// refresh, the database pool's connections, the web client's compression): the binary's pages
/// are handed back after it, or they are read straight back in (seen: idle 12–20 MB when handed
/// back at once).
const START_UP_SETTLES: Duration = Duration::from_secs(4);

/// Tells when a quiet spell begins: once per spell, [`QUIET_FOR`] after the last request.
struct QuietSpell {
    served: u64,
    since: Instant,
    begun: bool,
}

impl QuietSpell {
    /// Before any request the server is in a spell already: start-up hands its pages back itself.
    fn new(served: u64, now: Instant) -> Self {
        Self {
            served,
            since: now,
            begun: true,
        }
    }

    /// Given the requests served so far (`Metrics::served`): whether a quiet spell begins now.
    fn begins(&mut self, served: u64, now: Instant) -> bool {
        if served != self.served {
            self.served = served;
            self.since = now;
            self.begun = false;
            return false;
        }
        if !self.begun && now.duration_since(self.since) >= QUIET_FOR {
            self.begun = true;
            return true;
        }
        false
    }
}

/// Probes the object store and the database (for `/readyz` and the `*_up` gauges), sweeps the
/// gallery cache, returns freed memory and forgets idle rate-limit entries until `stop` fires.
async fn housekeeping(state: SharedState, stop: CancellationToken, release_binary_pages: bool) {
    let mut ticker = tokio::time::interval(STORE_PROBE_EVERY);
    let mut ticks: u64 = 0;
    let started = Instant::now();
    let mut start_up_released = false;
    let mut quiet = QuietSpell::new(state.metrics.served(), started);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.cancelled() => return,
        }
        let (store, db) = tokio::join!(
            tokio::time::timeout(STORE_PROBE_EVERY, state.store.health()),
            tokio::time::timeout(STORE_PROBE_EVERY, state.db.ping()),
        );
        let healthy = matches!(store, Ok(Ok(())));
        state.metrics.object_store_up.set(i64::from(healthy));
        state
            .metrics
            .database_up
            .set(i64::from(matches!(db, Ok(Ok(())))));
        if let Some(cache) = &state.gallery_cache {
            cache.sweep();
        }
        let was = state.store_available.swap(healthy, Ordering::Relaxed);
        if was != healthy {
            if healthy {
                tracing::info!("object store reachable again");
            } else {
                tracing::warn!("object store unreachable: uploads and galleries answer 503");
            }
        }
        ticks += 1;
        // Every 10 s: what a burst of requests freed goes back to the system (a few ms of one
        // blocking thread; pages freed and reused in between cost nothing).
        if ticks % 5 == 0 {
            tokio::task::spawn_blocking(crate::allocator::return_free_memory);
        }
        if release_binary_pages && !start_up_released && started.elapsed() >= START_UP_SETTLES {
            start_up_released = true;
            tokio::task::spawn_blocking(|| crate::binary_pages::release_logged("start-up"));
        }
        if quiet.begins(state.metrics.served(), Instant::now()) && release_binary_pages {
            tokio::task::spawn_blocking(|| crate::binary_pages::release_logged("a quiet spell"));
        }
        if ticks % 30 == 0 {
            if let Some(limiter) = &state.auth_limiter {
                limiter.forget_idle();
            }
            state.reset_limiter.forget_idle();
            state.reaction_limiter.forget_idle();
            state.comment_limiter.forget_idle();
            state.cohost_invite_limiter.forget_idle();
            state.guestbook_limiter.forget_idle();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_spell_begins_once_quiet_for_after_the_last_request() {
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let mut quiet = QuietSpell::new(0, start);
        // Nothing served since start-up: start-up handed its pages back already.
        assert!(!quiet.begins(0, at(40)));
        // A burst, then silence: the spell begins QUIET_FOR after its last request, once.
        assert!(!quiet.begins(5, at(50)));
        assert!(!quiet.begins(9, at(52)));
        assert!(!quiet.begins(9, at(52 + QUIET_FOR.as_secs() - 1)));
        assert!(quiet.begins(9, at(52 + QUIET_FOR.as_secs())));
        assert!(!quiet.begins(9, at(52 + QUIET_FOR.as_secs() + 2)));
        assert!(!quiet.begins(9, at(500)));
        // The next request starts the count again.
        assert!(!quiet.begins(10, at(600)));
        assert!(quiet.begins(10, at(600 + QUIET_FOR.as_secs())));
    }
}
