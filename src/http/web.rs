//! The web client, embedded at compile time from `web/`: `cargo run` needs no Node and no files
//! next to the binary. Paths that are not files fall back to `index.html` (client routes such as
//! `/s/{id}`); unknown API paths stay JSON 404s.

use axum::{
    body::Body,
    http::{HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use rust_embed::RustEmbed;

use super::ApiError;

#[derive(RustEmbed)]
#[folder = "web/"]
#[exclude = "node_modules/*"]
#[exclude = "e2e/*"]
#[exclude = "scripts/*"]
#[exclude = "package.json"]
#[exclude = "package-lock.json"]
#[exclude = "tsconfig.json"]
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

pub async fn static_or_not_found(method: Method, uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let first = path.split('/').next().unwrap_or_default();
    let not_found =
        || ApiError::not_found(format!("Cannot {method} {}", uri.path())).into_response();
    if !(method == Method::GET || method == Method::HEAD) || API_PREFIXES.contains(&first) {
        return not_found();
    }
    let path = if path.is_empty() { "index.html" } else { path };
    if let Some(file) = WebAssets::get(path) {
        return serve(path, file.data.into_owned());
    }
    // A client route (no file extension in the last segment) gets the app shell.
    let last = path.rsplit('/').next().unwrap_or_default();
    if !last.contains('.') {
        if let Some(index) = WebAssets::get("index.html") {
            return serve("index.html", index.data.into_owned());
        }
    }
    not_found()
}

fn serve(path: &str, bytes: Vec<u8>) -> Response {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let cache = if path.ends_with(".html") || path == "sw.js" || path.ends_with(".webmanifest") {
        "no-cache"
    } else if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    };
    let mut response = (StatusCode::OK, Body::from(bytes)).into_response();
    let headers = response.headers_mut();
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
