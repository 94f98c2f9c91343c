//! The web client, embedded at compile time from `web/`: `cargo run` needs no Node and no files
//! next to the binary. Paths that are not files fall back to `index.html` (client routes such as
//! `/s/{id}`); unknown API paths stay JSON 404s.
//!
//! Text files are compressed once (brotli 11 and gzip 9, kept in memory next to the file's hash)
//! and served as the client asks. `index.html` points at `/v/{version}/assets/…`, where
//! `version` is the hash of the whole client (the same hash `web/scripts/sw-version.mjs` writes
//! into sw.js): those URLs are cached for a year (`immutable`), while the HTML, sw.js and the
//! manifest are revalidated on every load.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex},
};

use std::net::{IpAddr, SocketAddr};

use axum::{
    body::Body,
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use super::{
    ApiError, SharedState,
    encoding::{Coding, accepted, brotli, gzip},
    extract::PublicBase,
    rate_limit::client_ip,
};
use crate::{
    app::{ErrorCode, events},
    db::EventRecord,
    domain::identity::EventIdentity,
};

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

/// Versioned asset URLs start with this segment: `/v/{version}/assets/js/app.js`.
const VERSIONED: &str = "v";
/// Cache policy of a versioned URL whose version is the current one.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Smaller bodies are sent as they are: compressing them saves nothing.
const MIN_COMPRESS_BYTES: usize = 256;

pub async fn static_or_not_found(
    State(app): State<SharedState>,
    base: Result<PublicBase, ApiError>,
    request: Request,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let (parts, _) = request.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, &parts.headers);
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
    // `/v/{version}/assets/…` is `/assets/…`; only the current version may be cached for good
    // (an old page asking for its own version gets today's file, revalidated).
    let (path, immutable) = match versioned(path) {
        Some((version, rest)) => (rest, version == client_version()),
        None => (path, false),
    };
    let path = if path.is_empty() { "index.html" } else { path };
    if let Some(file) = WebAssets::get(path) {
        return web_file(serve(path, file, headers, immutable).await);
    }
    // A client route (no file extension in the last segment) gets the app shell; an event's
    // join link gets it with the event's link preview.
    let last = path.rsplit('/').next().unwrap_or_default();
    if !last.contains('.') && !path.starts_with("assets/") {
        let event = event_of_link(&app, uri.path(), headers, peer).await;
        if let (Some(event), Ok(PublicBase(base))) = (event, base) {
            return web_file(preview_page(&event, &base, uri.path()));
        }
        if let Some(index) = WebAssets::get("index.html") {
            return web_file(serve("index.html", index, headers, false).await);
        }
    }
    not_found()
}

/// Marks a response as one of the web client's own files (see [`lean_web_headers`]).
#[derive(Clone, Copy)]
struct WebFile;

fn web_file(mut response: Response) -> Response {
    response.extensions_mut().insert(WebFile);
    response
}

/// The web client's own files (shell, scripts, styles, icons) are loaded by its own pages only:
/// they need none of the API's CORS and request-id headers. Without them each file is ~240
/// bytes lighter, about 4.5 KB of a guest's first visit over a venue's network.
pub async fn lean_web_headers(request: Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(request).await;
    if response.extensions().get::<WebFile>().is_none() {
        return response;
    }
    let headers = response.headers_mut();
    for name in [
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        super::REQUEST_ID,
    ] {
        headers.remove(name);
    }
    // The CORS layer's `vary: origin, …` goes with it; `vary: accept-encoding` stays.
    let kept: Vec<HeaderValue> = headers
        .get_all(header::VARY)
        .iter()
        .filter(|v| !v.to_str().is_ok_and(|v| v.contains("origin")))
        .cloned()
        .collect();
    headers.remove(header::VARY);
    for value in kept {
        headers.append(header::VARY, value);
    }
    response
}

/// The event a join link (`/s/{id}`, `/j/{code}`) names, if any. Codes are looked up within
/// the join-code rate limit, so the preview tells a guesser nothing the API would not.
async fn event_of_link(
    app: &SharedState,
    path: &str,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> Option<EventRecord> {
    let path = path.trim_end_matches('/');
    if let Some(id) = path.strip_prefix("/s/") {
        return app.event(id.parse().ok()?).await.ok();
    }
    let code = path.strip_prefix("/j/")?;
    if let Some(limiter) = &app.join_code_limiter {
        if limiter.check(client_ip(headers, peer)).is_some() {
            return None;
        }
    }
    events::by_join_code(app, code).await.ok()
}

/// index.html with the event's Open Graph and Twitter tags: a join link shared in a messenger
/// shows the event's name. Made per request (compressed by the router's layer), never cached.
fn preview_page(event: &EventRecord, base: &url::Url, path: &str) -> Response {
    let Some(file) = WebAssets::get("index.html") else {
        return ApiError::new(ErrorCode::RouteNotFound, "No web client").into_response();
    };
    let html = String::from_utf8_lossy(&versioned_index(&file.data)).into_owned();
    let name = event
        .settings
        .get("name")
        .and_then(|v| v.as_str())
        .filter(|n| !n.trim().is_empty())
        .unwrap_or("PartyPic");
    let description = event
        .settings
        .get("description")
        .and_then(|v| v.as_str())
        .filter(|d| !d.trim().is_empty())
        .unwrap_or("Join with one tap, share your photos and see everyone's live.");
    let origin = base.as_str().trim_end_matches('/');
    let tags = format!(
        "<title>{title} · PartyPic</title>\n\
         <meta property=\"og:type\" content=\"website\">\n\
         <meta property=\"og:site_name\" content=\"PartyPic\">\n\
         <meta property=\"og:title\" content=\"{title}\">\n\
         <meta property=\"og:description\" content=\"{description}\">\n\
         <meta property=\"og:url\" content=\"{url}\">\n\
         <meta property=\"og:image\" content=\"{image}\">\n\
         <meta name=\"twitter:card\" content=\"{card}\">\n\
         <meta name=\"twitter:image\" content=\"{image}\">\n\
         <meta name=\"twitter:title\" content=\"{title}\">\n\
         <meta name=\"twitter:description\" content=\"{description}\">",
        title = escape_html(name),
        // A cover photo previews large; the app icon as a small square.
        card = if EventIdentity::from_settings(&event.settings)
            .cover_picture_id
            .is_some()
        {
            "summary_large_image"
        } else {
            "summary"
        },
        description = escape_html(description),
        url = escape_html(&format!("{origin}{path}")),
        image = escape_html(
            &super::sessions::cover_url(base, event)
                .unwrap_or_else(|| format!("{origin}/assets/icon-512.png"))
        ),
    );
    let html = html.replacen("<title>PartyPic</title>", &tags, 1);
    let mut response = (StatusCode::OK, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Splits `v/{version}/assets/…` into the version and `assets/…`.
fn versioned(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix(VERSIONED)?.strip_prefix('/')?;
    let (version, rest) = rest.split_once('/')?;
    rest.starts_with("assets/").then_some((version, rest))
}

/// The hash of every client file but sw.js, as `web/scripts/sw-version.mjs` computes it:
/// SHA-256 over `path \0 content` in path order, 12 hex digits. Fixed in a release build; a
/// debug build reads web/ from disk and recomputes it.
pub fn client_version() -> String {
    static VERSION: LazyLock<String> = LazyLock::new(compute_client_version);
    if cfg!(debug_assertions) {
        compute_client_version()
    } else {
        VERSION.clone()
    }
}

fn compute_client_version() -> String {
    let mut paths: Vec<_> = WebAssets::iter().filter(|p| p != "sw.js").collect();
    paths.sort();
    let mut hash = Sha256::new();
    for path in paths {
        if let Some(file) = WebAssets::get(&path) {
            hash.update(path.as_bytes());
            hash.update([0]);
            hash.update(&file.data);
        }
    }
    hex::encode(hash.finalize())[..12].to_owned()
}

/// One file as served: the bytes, and compressed copies when they are worth it.
struct Encoded {
    source: [u8; 32],
    identity: Bytes,
    br: Option<Bytes>,
    gzip: Option<Bytes>,
}

/// Encoded files by path, each valid for the content hash it was made from.
static ENCODED: LazyLock<Mutex<HashMap<String, Arc<Encoded>>>> = LazyLock::new(Default::default);

/// Prepares every client file ahead of the first request (at start, on a blocking thread): the
/// build's compressed copies, and index.html (rewritten per version) compressed here.
pub fn warm_cache() {
    for path in WebAssets::iter() {
        if let Some(file) = WebAssets::get(&path) {
            encoded(&path, &file);
        }
    }
}

fn encoded(path: &str, file: &rust_embed::EmbeddedFile) -> Arc<Encoded> {
    let source = file.metadata.sha256_hash();
    if let Ok(cache) = ENCODED.lock() {
        if let Some(hit) = cache.get(path).filter(|e| e.source == source) {
            return hit.clone();
        }
    }
    let identity = if path == "index.html" {
        Bytes::from(versioned_index(&file.data))
    } else {
        Bytes::from(file.data.to_vec())
    };
    let (br, gzip) = if let Some((br, gzip)) = precompressed(path, &source) {
        (br, gzip)
    } else if compressible(path) && identity.len() >= MIN_COMPRESS_BYTES {
        (brotli(&identity, 11), gzip(&identity, 9))
    } else {
        (None, None)
    };
    let entry = Arc::new(Encoded {
        source,
        identity,
        br,
        gzip,
    });
    if let Ok(mut cache) = ENCODED.lock() {
        cache.insert(path.to_owned(), entry.clone());
    }
    entry
}

/// A client file as build.rs compressed it.
struct Precompressed {
    /// Under web/.
    path: &'static str,
    /// Of the file it was made from.
    sha256: [u8; 32],
    br: Option<&'static [u8]>,
    gzip: Option<&'static [u8]>,
}

mod build {
    use super::Precompressed;
    include!(concat!(env!("OUT_DIR"), "/precompressed.rs"));
}

/// The copies build.rs compressed, when they were made from exactly this file (a debug build
/// reads web/ from disk, which may have changed since).
fn precompressed(path: &str, source: &[u8; 32]) -> Option<(Option<Bytes>, Option<Bytes>)> {
    build::PRECOMPRESSED
        .iter()
        .find(|file| file.path == path && &file.sha256 == source)
        .map(|file| {
            (
                file.br.map(Bytes::from_static),
                file.gzip.map(Bytes::from_static),
            )
        })
}

/// index.html with its `/assets/` links moved under the current version.
fn versioned_index(html: &[u8]) -> Vec<u8> {
    let html = String::from_utf8_lossy(html);
    let prefix = format!("=\"/{VERSIONED}/{}/assets/", client_version());
    html.replace("=\"/assets/", &prefix).into_bytes()
}

fn compressible(path: &str) -> bool {
    let ext = path.rsplit('.').next().unwrap_or_default();
    matches!(
        ext,
        "html" | "js" | "mjs" | "css" | "svg" | "json" | "webmanifest" | "txt" | "xml"
    )
}

/// Serves an embedded file with an ETag (its SHA-256 and coding), answering 304 when the
/// client has it.
async fn serve(
    path: &str,
    file: rust_embed::EmbeddedFile,
    request: &HeaderMap,
    immutable: bool,
) -> Response {
    let owned_path = path.to_owned();
    let hash = hex::encode(&file.metadata.sha256_hash()[..16]);
    // Compressing a file the first time takes a few milliseconds: not on the async threads.
    let Ok(encoded) = tokio::task::spawn_blocking(move || encoded(&owned_path, &file)).await else {
        return ApiError::new(ErrorCode::Internal, "Internal server error").into_response();
    };
    let (accepts_br, accepts_gzip) = accepted(request);
    let (coding, body) = match (&encoded.br, &encoded.gzip) {
        (Some(br), _) if accepts_br => (Coding::Brotli, br.clone()),
        (_, Some(gzip)) if accepts_gzip => (Coding::Gzip, gzip.clone()),
        _ => (Coding::Identity, encoded.identity.clone()),
    };
    let etag = match coding {
        Coding::Brotli => format!("\"{hash}-br\""),
        Coding::Gzip => format!("\"{hash}-gz\""),
        Coding::Identity => format!("\"{hash}\""),
    };
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    // index.html, sw.js and the manifest must reach every client at once; files under a
    // versioned URL never change; others (icons, or assets asked for under their plain name)
    // are revalidated or kept for a week.
    let cache = if immutable {
        IMMUTABLE
    } else if path.ends_with(".html")
        || path.ends_with(".js")
        || path.ends_with(".css")
        || path.ends_with(".webmanifest")
    {
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
        (StatusCode::OK, Body::from(body)).into_response()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(mime.essence_str()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Some(value) = coding.header_value() {
        headers.insert(header::CONTENT_ENCODING, value);
    }
    if encoded.br.is_some() || encoded.gzip.is_some() {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builds_compressed_copies_are_the_client_files() {
        let mut checked = 0;
        for built in build::PRECOMPRESSED {
            let path = built.path;
            let file = WebAssets::get(path).expect("every compressed copy is of an embedded file");
            assert_eq!(
                file.metadata.sha256_hash(),
                built.sha256,
                "{path} changed since the build"
            );
            let mut unbrotli = Vec::new();
            brotli::BrotliDecompress(&mut built.br.expect("js/css compress"), &mut unbrotli)
                .expect("brotli");
            let mut ungzip = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(built.gzip.expect("js/css compress")),
                &mut ungzip,
            )
            .expect("gzip");
            assert_eq!(unbrotli, file.data.as_ref(), "{path}");
            assert_eq!(ungzip, file.data.as_ref(), "{path}");
            checked += 1;
        }
        assert!(
            build::PRECOMPRESSED
                .iter()
                .any(|f| f.path == "assets/js/app.js")
        );
        assert!(
            checked >= 10,
            "only {checked} files were compressed at build time"
        );
        // What the server sends is the build's copy, not a new compression.
        let app = WebAssets::get("assets/js/app.js").expect("app.js");
        let served = encoded("assets/js/app.js", &app);
        let built = build::PRECOMPRESSED
            .iter()
            .find(|f| f.path == "assets/js/app.js")
            .expect("app.js compressed");
        assert_eq!(served.br.as_deref(), built.br);
    }

    #[test]
    fn only_asset_paths_under_a_version_are_versioned() {
        assert_eq!(
            versioned("v/abc123/assets/js/app.js"),
            Some(("abc123", "assets/js/app.js"))
        );
        assert_eq!(versioned("v/abc123/index.html"), None);
        assert_eq!(versioned("vx/abc/assets/a.js"), None);
    }

    #[test]
    fn index_html_points_at_the_versioned_assets() {
        let html = versioned_index(br#"<script type="module" src="/assets/js/app.js"></script>"#);
        let html = String::from_utf8(html).expect("utf-8");
        assert_eq!(
            html,
            format!(
                r#"<script type="module" src="/v/{}/assets/js/app.js"></script>"#,
                client_version()
            )
        );
    }
}
