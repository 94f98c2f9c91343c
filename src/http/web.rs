//! The web client, embedded at compile time from `web/`: `cargo run` needs no Node and no files
//! next to the binary. Paths that are not files fall back to `index.html` (client routes such as
//! `/s/{id}`); unknown API paths stay JSON 404s.

use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use rust_embed::RustEmbed;

use super::ApiError;
use crate::app::ErrorCode;

#[derive(RustEmbed)]
#[folder = "web/"]
#[exclude = "node_modules/*"]
#[exclude = "e2e/*"]
#[exclude = "scripts/*"]
#[exclude = "*.d.ts"]
#[exclude = "package.json"]
#[exclude = "package-lock.json"]
#[exclude = "tsconfig*.json"]
#[exclude = "README.md"]
#[exclude = ".gitignore"]
struct WebAssets;

/// First path segments that belong to the API: never answered with the client's HTML.
const API_PREFIXES: &[&str] = &[
    "auth",
    "sessions",
    "pictures",
    "uploads",
    "openapi.json",
    "healthz",
    "readyz",
    "metrics",
];

/// Same policy as the nginx client image (deploy/docker/nginx.conf).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data: blob: https: http:; media-src 'self' blob: https: http:; connect-src 'self' https: http:; \
    worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

pub async fn static_or_not_found(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    let first = path.split('/').next().unwrap_or_default();
    let not_found = || {
        ApiError::new(
            ErrorCode::RouteNotFound,
            format!("Cannot {method} {}", uri.path()),
        )
        .into_response()
    };
    if !(method == Method::GET || method == Method::HEAD) || API_PREFIXES.contains(&first) {
        return not_found();
    }
    let path = if path.is_empty() { "index.html" } else { path };
    if let Some(file) = WebAssets::get(path) {
        return serve(path, file, &headers);
    }
    // A client route (no file extension in the last segment) gets the app shell.
    let last = path.rsplit('/').next().unwrap_or_default();
    if !last.contains('.') {
        if let Some(index) = WebAssets::get("index.html") {
            return serve("index.html", index, &headers);
        }
    }
    not_found()
}

/// Serves an embedded file with an ETag (its SHA-256), answering 304 when the client has it.
fn serve(path: &str, file: rust_embed::EmbeddedFile, request: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    // Names are stable (no content hashes), so code and pages are revalidated on every load;
    // icons and images may be reused for a week.
    let revalidate = path.ends_with(".html")
        || path.ends_with(".js")
        || path.ends_with(".css")
        || path.ends_with(".webmanifest");
    let cache = if revalidate {
        "no-cache"
    } else {
        "public, max-age=604800"
    };
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, Body::from(file.data.into_owned())).into_response()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(mime.essence_str()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    if path.ends_with(".html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    response
}
