//! Compression and caching: br or gzip for text the client accepts, none for photos; the web
//! client's files under versioned URLs cached for good, the HTML revalidated.

use std::{io::Read as _, time::Duration};

use reqwest::{Response, StatusCode, header};
use serde_json::Value;

use crate::helpers::{Backend, TestApp, eventually, jpeg_bytes};
use crate::on_both_backends;

on_both_backends!(
    json_and_javascript_are_sent_as_br_or_gzip_as_the_client_asks,
    photos_are_never_compressed,
    a_gallery_page_comes_compressed_as_the_client_asks_and_revalidates_in_every_coding,
);

async fn get_with(app: &TestApp, url: &str, accept: &str) -> Response {
    app.client
        .get(url)
        .header(header::ACCEPT_ENCODING, accept)
        .send()
        .await
        .expect("request")
}

fn encoding(response: &Response) -> Option<String> {
    response
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().expect("ascii").to_owned())
}

/// The body decoded according to its `Content-Encoding`.
async fn decoded(response: Response) -> Vec<u8> {
    let coding = encoding(&response);
    let bytes = response.bytes().await.expect("body");
    let mut out = Vec::new();
    match coding.as_deref() {
        Some("br") => {
            brotli::Decompressor::new(&bytes[..], 4096)
                .read_to_end(&mut out)
                .expect("valid brotli");
        }
        Some("gzip") => {
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut out)
                .expect("valid gzip");
        }
        None => out = bytes.to_vec(),
        Some(other) => panic!("unexpected coding {other}"),
    }
    out
}

async fn json_and_javascript_are_sent_as_br_or_gzip_as_the_client_asks(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let openapi = app.url("/openapi.json");
    let script = app.url("/assets/js/i18n.js");
    for (accept, expected) in [
        ("gzip, deflate, br", Some("br")),
        ("gzip", Some("gzip")),
        ("identity", None),
    ] {
        for url in [&openapi, &script] {
            let response = get_with(&app, url, accept).await;
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                encoding(&response).as_deref(),
                expected,
                "{url} with {accept}"
            );
            let text = String::from_utf8(decoded(response).await).expect("utf-8");
            assert!(text.len() > 10_000, "{url}: the whole file");
            if url == &openapi {
                serde_json::from_str::<Value>(&text).expect("the decoded JSON parses");
            } else {
                assert!(text.contains("export"), "{url}: the decoded script");
            }
        }
    }
    // An API answer that is small but JSON is compressed too when it is worth it.
    let host = app.register().await;
    for _ in 0..5 {
        app.create_session(&host).await;
    }
    let mine = app
        .client
        .get(app.url("/sessions/mine"))
        .bearer_auth(&host.token)
        .header(header::ACCEPT_ENCODING, "br")
        .send()
        .await
        .expect("request");
    assert_eq!(encoding(&mine).as_deref(), Some("br"));
    let mine: Value = serde_json::from_slice(&decoded(mine).await).expect("JSON");
    assert_eq!(mine.as_array().map(Vec::len), Some(5));
}

async fn photos_are_never_compressed(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session = app.create_session(&host).await;
    let picture = app.upload(session, jpeg_bytes(7)).await;
    let url = app.original_url(&host, session, &picture).await;
    let photo = get_with(&app, &url, "gzip, deflate, br").await;
    assert_eq!(photo.status(), StatusCode::OK);
    assert_eq!(encoding(&photo), None, "a JPEG goes out as it is");
    assert_eq!(photo.bytes().await.expect("bytes").to_vec(), jpeg_bytes(7));
    // The embedded PNG icons neither.
    let icon = get_with(&app, &app.url("/assets/icon-192.png"), "gzip, br").await;
    assert_eq!(icon.status(), StatusCode::OK);
    assert_eq!(encoding(&icon), None);
}

async fn a_gallery_page_comes_compressed_as_the_client_asks_and_revalidates_in_every_coding(
    backend: Backend,
) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session = app.create_session(&host).await;
    for seed in 0..12 {
        app.upload(session, jpeg_bytes(90 + seed)).await;
    }
    let url = app.url(&format!("/pictures/session?sessionId={session}"));
    // The variants jobs' ends change the page: wait for them (these bytes end `failed`).
    let settled = eventually(Duration::from_secs(30), || async {
        let page: Value =
            serde_json::from_slice(&decoded(get_with(&app, &url, "").await).await).expect("JSON");
        page.as_array()
            .is_some_and(|all| all.iter().all(|p| p["variants"] != "pending"))
    })
    .await;
    assert!(settled, "the variants jobs did not end");
    let plain = get_with(&app, &url, "identity").await;
    assert_eq!(encoding(&plain), None);
    let etag = plain.headers()[header::ETAG].clone();
    let plain: Value = serde_json::from_slice(&decoded(plain).await).expect("JSON");
    assert_eq!(plain.as_array().map(Vec::len), Some(12));
    for (accept, expected) in [
        ("gzip, deflate, br", "br"),
        ("br;q=0, gzip", "gzip"),
        ("gzip, br", "br"),
    ] {
        let response = get_with(&app, &url, accept).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(encoding(&response).as_deref(), Some(expected), "{accept}");
        assert_eq!(response.headers()[header::VARY], "accept-encoding");
        // Compressed once, by the server's own page cache: not a second time on the way out.
        let page: Value = serde_json::from_slice(&decoded(response).await).expect("JSON");
        assert_eq!(page, plain, "{accept}");
        let again = app
            .client
            .get(&url)
            .header(header::ACCEPT_ENCODING, accept)
            .header(header::IF_NONE_MATCH, etag.clone())
            .send()
            .await
            .expect("request");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{accept}");
    }
}

fn cache_control(response: &Response) -> &str {
    response
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_is_cached_for_good_under_versioned_urls_and_its_html_is_revalidated() {
    let (app, _env) = TestApp::spawn(Backend::SqliteFs).await;
    let index = get_with(&app, &app.url("/"), "br").await;
    assert_eq!(cache_control(&index), "no-cache");
    assert_eq!(encoding(&index).as_deref(), Some("br"));
    let html = String::from_utf8(decoded(index).await).expect("utf-8");
    let script = html
        .split('"')
        .find(|part| part.starts_with("/v/") && part.ends_with("/assets/js/app.js"))
        .unwrap_or_else(|| panic!("index.html loads a versioned app.js: {html}"))
        .to_owned();
    let versioned = get_with(&app, &app.url(&script), "gzip").await;
    assert_eq!(versioned.status(), StatusCode::OK);
    assert_eq!(
        cache_control(&versioned),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(encoding(&versioned).as_deref(), Some("gzip"));
    // An old page asking for another version gets today's file, revalidated.
    let stale = get_with(&app, &app.url("/v/000000000000/assets/js/app.js"), "br").await;
    assert_eq!(stale.status(), StatusCode::OK);
    assert_eq!(cache_control(&stale), "no-cache");
    for path in ["/sw.js", "/s/00000000-0000-0000-0000-000000000000"] {
        let response = get_with(&app, &app.url(path), "br").await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(cache_control(&response), "no-cache", "{path}");
    }
    // A revalidation of the same representation costs no body.
    let again = get_with(&app, &app.url(&script), "gzip").await;
    let etag = again.headers()[header::ETAG].clone();
    let not_modified = app
        .client
        .get(app.url(&script))
        .header(header::ACCEPT_ENCODING, "gzip")
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("request");
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    let missing = get_with(&app, &app.url("/v/abc/assets/js/nope.js"), "br").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// The web client's own files carry none of the API's CORS and request-id headers (lighter on a
/// venue's network); the API keeps them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_files_leave_out_the_apis_cors_and_request_id_headers() {
    let (app, _env) = TestApp::spawn(Backend::SqliteFs).await;
    let get = |path: &str| {
        app.client
            .get(app.url(path))
            .header(header::ORIGIN, "https://elsewhere.example")
            .header(header::ACCEPT_ENCODING, "br")
            .send()
    };
    for path in [
        "/",
        "/assets/js/app.js",
        "/assets/app.css",
        "/sw.js",
        "/s/00000000-0000-0000-0000-000000000000",
    ] {
        let response = get(path).await.expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        for gone in [
            "access-control-allow-origin",
            "access-control-expose-headers",
            "x-request-id",
        ] {
            assert!(headers.get(gone).is_none(), "{path}: {gone}");
        }
        let vary: Vec<&str> = headers
            .get_all(header::VARY)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert!(
            vary.iter().any(|v| v.contains("accept-encoding")),
            "{path}: {vary:?}"
        );
        assert!(
            !vary.iter().any(|v| v.contains("origin")),
            "{path}: {vary:?}"
        );
    }
    let api = get("/healthz").await.expect("request");
    assert_eq!(api.headers()["access-control-allow-origin"], "*");
    assert!(api.headers().get("x-request-id").is_some());
    let missing = get("/no/such/file.js").await.expect("request");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(
        missing.headers().get("x-request-id").is_some(),
        "errors keep their id"
    );
}
