//! The HTTP layer: routes, extractors, errors, and the middleware every request passes.

mod access;
mod auth;
mod download;
pub mod error;
mod extract;
pub mod gallery_cache;
mod health;
mod hosting;
mod live;
mod openapi;
mod pictures;
pub mod rate_limit;
mod sessions;
mod uploads;
mod web;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    http::{HeaderName, Method, StatusCode, Uri},
    middleware::{self, Next},
    response::Response,
    routing::{delete, get, post, put},
};
use chrono::{DateTime, Utc};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;
use url::Url;

pub use error::ApiError;

use crate::{
    db::Database,
    domain::{password::PasswordHasher, token::TokenIssuer},
    events::EventBus,
    metrics::{Metrics, UNMATCHED_ROUTE},
    store::{PhotoStore, fs::FilesystemStore},
    thumbnails::Thumbnailer,
};

/// JSON bodies larger than this are refused with 413.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;
/// `POST /sessions/setmissions` carries up to 500 missions of 300 characters.
pub const MISSIONS_BODY_LIMIT: usize = 1024 * 1024;
/// API requests (not photo transfers) are cut off after this long.
const API_TIMEOUT: Duration = Duration::from_secs(30);

pub struct AppState {
    pub db: Arc<dyn Database>,
    pub store: Arc<dyn PhotoStore>,
    /// Set when photos live on the local disk: `/uploads` is then served by this server.
    pub local_store: Option<Arc<FilesystemStore>>,
    pub hasher: PasswordHasher,
    pub tokens: TokenIssuer,
    pub metrics: Metrics,
    pub public_url: Option<Url>,
    pub max_upload_bytes: u64,
    /// Cancelled when shutdown begins: readiness turns 503, long-lived streams (live events) end
    /// and the drain finishes.
    pub shutdown: tokio_util::sync::CancellationToken,
    pub events: EventBus,
    /// Rendered gallery pages; `None` when GALLERY_CACHE_MB is 0.
    pub gallery_cache: Option<gallery_cache::GalleryCache>,
    pub thumbnails: Arc<Thumbnailer>,
    pub auth_limiter: Option<rate_limit::AuthRateLimiter>,
    /// Kept current by a background probe; uploads and galleries answer 503 while it is false.
    pub store_available: AtomicBool,
}

impl AppState {
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// 503 while the object store is unreachable: photos can be neither stored nor shown.
    pub fn require_store(&self) -> Result<(), ApiError> {
        if self.store_available.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err(ApiError::Unavailable {
                message: "Photo storage unavailable, please retry".into(),
                retry_after_secs: 5,
            })
        }
    }
}

pub type SharedState = Arc<AppState>;

/// Timestamps are kept to the microsecond, as PostgreSQL stores them.
pub(crate) fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn router(state: SharedState) -> Router {
    let api = Router::new()
        .route(
            "/auth/register",
            post(auth::register).layer(middleware::from_fn_with_state(
                state.clone(),
                rate_limit::limit_auth,
            )),
        )
        .route(
            "/auth/login",
            post(auth::login).layer(middleware::from_fn_with_state(
                state.clone(),
                rate_limit::limit_auth,
            )),
        )
        .route("/auth/me", get(auth::me))
        .route("/sessions/mine", get(hosting::mine))
        .route("/sessions/{id}/settings", post(hosting::update_settings))
        .route("/sessions/{id}/end", post(hosting::end))
        .route("/sessions/{id}/qr.svg", get(hosting::qr_code))
        .route("/sessions/create", post(sessions::create))
        .route("/sessions/get", get(sessions::get))
        .route(
            "/sessions/setmissions",
            // 500 missions of 300 characters do not fit the general JSON limit.
            post(sessions::set_missions).layer(DefaultBodyLimit::max(MISSIONS_BODY_LIMIT)),
        )
        .route(
            "/sessions/registerSessionUser",
            post(sessions::register_guest),
        )
        .route("/sessions/loginSessionUser", post(sessions::login_guest))
        .route("/sessions/heartbeat", post(sessions::heartbeat))
        .route("/pictures/init-upload", post(pictures::init_upload))
        .route("/pictures/finalize-upload", post(pictures::finalize_upload))
        .route("/pictures/session", get(pictures::gallery))
        .route("/pictures/{id}", delete(pictures::delete))
        .route("/pictures/{id}/approve", post(pictures::approve))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/openapi.json", get(openapi::openapi_json))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            API_TIMEOUT,
        ));

    // Photo transfers stream up to MAX_UPLOAD_BYTES and may be slow on a guest's phone; live
    // events and ZIP downloads are long-lived by nature. None of them gets the API timeout.
    let streams = Router::new()
        .route(
            "/uploads/{session}/{file}",
            put(uploads::put_photo).get(uploads::get_photo),
        )
        .layer(DefaultBodyLimit::disable())
        .route("/sessions/{id}/events", get(live::events))
        .route("/sessions/{id}/download", get(download::zip));

    api.merge(streams)
        .fallback(web::static_or_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|request: &Request| {
                            let route = request
                                .extensions()
                                .get::<MatchedPath>()
                                .map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
                            let request_id =
                                request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                            tracing::info_span!("request", method = %request.method(), route, request_id)
                        })
                        .on_request(())
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(|_| {
                    error::error_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
                })),
        )
        .with_state(state)
}

/// Counts and times every request by its route template (never the raw path).
async fn record_metrics(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    if !matches!(route.as_deref(), Some("/auth/register" | "/auth/login")) {
        state.hasher.note_other_request();
    }
    let response = next.run(request).await;
    let route = route.as_deref().unwrap_or(UNMATCHED_ROUTE);
    state.metrics.observe_request(
        method.as_str(),
        route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    error::error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("Cannot {method} {}", uri.path()),
    )
}
