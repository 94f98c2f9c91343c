//! CORS: other web clients (the web client built on its own, served from another origin) call
//! the API from the browser. Preflights are answered here, before routing, so no `OPTIONS` meets
//! a 405; and as the layer sits outside the timeout, rate-limit and panic handlers, their error
//! responses carry the headers too — a browser otherwise reports them as network errors.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::config::CorsOrigins;

/// Response headers a browser script may read on a cross-origin response.
const EXPOSED: [HeaderName; 4] = [
    header::ETAG,
    header::RETRY_AFTER,
    HeaderName::from_static("x-request-id"),
    header::CONTENT_DISPOSITION,
];

/// Chromium caps the preflight cache at two hours; one is plenty.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(3600);

/// No credentials (cookies): the API authenticates with bearer tokens, so any origin may be let in
/// and the requested headers (`Authorization`, `Content-Type`, `X-Guest-Id`, …) mirrored.
pub fn layer(origins: &CorsOrigins) -> CorsLayer {
    let allow_origin = match origins {
        CorsOrigins::Any => AllowOrigin::any(),
        // Settings hold validated origins; one that is not a header value cannot match anyway.
        CorsOrigins::Only(list) => AllowOrigin::list(
            list.iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        ),
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::DELETE,
        ])
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers(EXPOSED)
        .max_age(PREFLIGHT_MAX_AGE)
}
