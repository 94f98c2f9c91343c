//! The HTTP edge: routes (declared once, with their API description), typed extractors, the
//! error format, and the middleware every request passes. Handlers extract typed input, call a
//! workflow in [`crate::app`], and map its result to the contract's JSON.

mod auth;
mod cohosts;
mod comments;
mod cors;
mod download;
mod encoding;
pub mod error;
mod extract;
mod guestbook;
mod health;
mod hosting;
mod live;
pub mod metrics_listener;
mod multipart;
mod openapi;
mod pictures;
pub mod rate_limit;
mod reactions;
mod sessions;
mod uploads;
pub(crate) mod web;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    http::{HeaderName, HeaderValue, Method, StatusCode, Uri, header},
    middleware::{self, Next},
    response::Response,
    routing::{get, put},
};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::{
        CompressionLayer, DefaultPredicate, Predicate as _, predicate::NotForContentType,
    },
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;
use utoipa::OpenApi as _;
use utoipa_axum::{router::OpenApiRouter, routes};

pub use error::ApiError;
pub use openapi::openapi_document;

use crate::{
    app::{App, ErrorCode},
    config::CorsOrigins,
    metrics::UNMATCHED_ROUTE,
};

/// JSON bodies larger than this are refused with 413.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;
/// `POST /sessions/setmissions` carries up to 500 missions of 300 characters.
pub const MISSIONS_BODY_LIMIT: usize = 1024 * 1024;
/// API requests (not photo transfers) are cut off after this long.
const API_TIMEOUT: Duration = Duration::from_secs(30);

pub type SharedState = Arc<App>;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every documented route, declared once: the router and `/openapi.json` both come from here.
/// `state` adds the layers that need it (rate limits); the API description does not.
fn documented_routes(state: Option<&SharedState>) -> OpenApiRouter<SharedState> {
    let mut auth = OpenApiRouter::new()
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::request_password_reset))
        .routes(routes!(auth::confirm_password_reset));
    if let Some(state) = state {
        auth = auth.layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit_auth,
        ));
    }
    let mut join_codes = OpenApiRouter::new().routes(routes!(sessions::by_code));
    if let Some(state) = state {
        join_codes = join_codes.layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit_join_code,
        ));
    }
    let missions = OpenApiRouter::new()
        .routes(routes!(sessions::set_missions))
        // 500 missions of 300 characters do not fit the general JSON limit.
        .layer(DefaultBodyLimit::max(MISSIONS_BODY_LIMIT));
    let api = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(auth)
        .merge(join_codes)
        .merge(missions)
        .routes(routes!(auth::me))
        .routes(routes!(hosting::mine))
        .routes(routes!(hosting::update_settings))
        .routes(routes!(hosting::end))
        .routes(routes!(hosting::qr_code))
        .routes(routes!(hosting::cover))
        .routes(routes!(hosting::invite))
        .routes(routes!(hosting::delete_event))
        .routes(routes!(cohosts::create_invite))
        .routes(routes!(cohosts::accept_invite))
        .routes(routes!(cohosts::list))
        .routes(routes!(cohosts::remove))
        .routes(routes!(sessions::create))
        .routes(routes!(sessions::get))
        .routes(routes!(sessions::register_guest))
        .routes(routes!(sessions::login_guest))
        .routes(routes!(sessions::heartbeat))
        .routes(routes!(pictures::init_upload))
        .routes(routes!(pictures::finalize_upload))
        .routes(routes!(multipart::start))
        .routes(routes!(multipart::part_urls))
        .routes(routes!(multipart::status, multipart::abort))
        .routes(routes!(multipart::complete))
        .routes(routes!(pictures::gallery))
        .routes(routes!(pictures::delete))
        .routes(routes!(pictures::approve))
        .routes(routes!(reactions::react, reactions::unreact))
        .routes(routes!(comments::list, comments::post))
        .routes(routes!(comments::delete))
        .routes(routes!(comments::approve))
        .routes(routes!(guestbook::list, guestbook::post))
        .routes(routes!(guestbook::delete))
        .routes(routes!(guestbook::approve))
        .routes(routes!(download::photo))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            API_TIMEOUT,
        ));
    // Live events and ZIP downloads are long-lived by nature: no API timeout.
    let streams = OpenApiRouter::new()
        .routes(routes!(live::events))
        .routes(routes!(download::zip, download::zip_selection))
        .routes(routes!(download::guest_zip));
    api.merge(streams)
}

/// The OpenAPI description of every documented route.
pub(crate) fn describe() -> utoipa::openapi::OpenApi {
    documented_routes(None).split_for_parts().1
}

/// The public API and web client. `cors_origins`: whose pages may call it from a browser.
pub fn router(state: SharedState, cors_origins: &CorsOrigins) -> Router {
    let (documented, _) = documented_routes(Some(&state)).split_for_parts();
    // Photo transfers stream up to MAX_UPLOAD_BYTES and may be slow on a guest's phone: no API
    // timeout, no JSON limit. Undocumented: clients only follow the URLs the API hands out.
    let transfers = Router::new()
        .route(
            "/uploads/{session}/{file}",
            put(uploads::put_photo).get(uploads::get_photo),
        )
        .route(
            "/uploads/multipart/{upload_id}/{number}",
            put(multipart::put_part),
        )
        .layer(DefaultBodyLimit::disable());

    documented
        .merge(transfers)
        .route("/openapi.json", get(openapi::openapi_json))
        .fallback(web::static_or_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .layer(middleware::from_fn_with_state(state.clone(), close_while_draining))
        .layer(compression())
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
                // Outside every handler, fallback and error layer below: preflights never reach
                // routing (no 405), and every answer, errors included, carries the headers.
                .layer(cors::layer(cors_origins))
                .layer(CatchPanicLayer::custom(|_| {
                    error::error_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        ErrorCode::Internal,
                        "Internal server error",
                    )
                })),
        )
        // Outermost: takes the API's headers off the web client's own files again.
        .layer(middleware::from_fn(web::lean_web_headers))
        .with_state(state)
}

/// br or gzip for every compressible answer the client accepts (JSON, errors, the OpenAPI
/// document). Never for photos, videos, ZIP downloads or live events (already compressed or
/// streamed), nor for the web client's files, which come compressed already (`web.rs`).
fn compression() -> CompressionLayer<impl tower_http::compression::Predicate> {
    let predicate = DefaultPredicate::new()
        .and(NotForContentType::const_new("video/"))
        .and(NotForContentType::const_new("audio/"))
        .and(NotForContentType::const_new("application/zip"))
        .and(NotForContentType::const_new("application/octet-stream"));
    CompressionLayer::new()
        .br(true)
        .gzip(true)
        .compress_when(predicate)
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

/// While the server drains, every HTTP/1 answer ends its connection, so a proxy stops reusing
/// it before the server closes the idle ones (startup.rs, `CLOSE_WINDOW`).
async fn close_while_draining(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let http1 = request.version() <= axum::http::Version::HTTP_11;
    let mut response = next.run(request).await;
    if http1 && state.is_shutting_down() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    error::error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        &format!("Cannot {method} {}", uri.path()),
    )
}
