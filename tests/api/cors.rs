//! CORS (issue 14): a web client served from another origin calls the API and the photo URLs.

use reqwest::{Method, Response, StatusCode};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, assert_error, body, jpeg_bytes};
use crate::on_both_backends;

on_both_backends!(
    preflights_from_another_origin_are_answered_on_every_route_before_any_405,
    cross_origin_answers_and_their_errors_carry_the_allow_origin_header,
    configured_cors_origins_admit_only_those_origins,
);

const CLIENT: &str = "http://client.example:8080";

async fn preflight(app: &TestApp, url: &str, origin: &str, method: &str) -> Response {
    app.client
        .request(Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("preflight")
}

fn header<'r>(response: &'r Response, name: &str) -> &'r str {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii header"))
        .unwrap_or_else(|| panic!("no {name} on {}", response.url()))
}

async fn preflights_from_another_origin_are_answered_on_every_route_before_any_405(
    backend: Backend,
) {
    let (app, _env) = TestApp::spawn(backend).await;
    let session = Uuid::new_v4();
    let cases = [
        ("/auth/login", "POST"),
        ("/sessions/create", "POST"),
        ("/pictures/session?sessionId=x", "GET"),
        ("/pictures/00000000-0000-0000-0000-000000000000", "DELETE"),
        (&*format!("/uploads/{session}/photo.jpg"), "PUT"),
        ("/readyz", "GET"),
        ("/no/such/path", "GET"),
    ];
    for (path, method) in cases {
        let response = preflight(&app, &app.url(path), CLIENT, method).await;
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        assert_eq!(
            header(&response, "access-control-allow-origin"),
            "*",
            "{path}"
        );
        let methods = header(&response, "access-control-allow-methods");
        assert!(methods.contains(method), "{path}: {methods}");
        let headers = header(&response, "access-control-allow-headers").to_ascii_lowercase();
        assert!(
            headers.contains("authorization") && headers.contains("content-type"),
            "{path}: {headers}"
        );
        assert!(
            response
                .headers()
                .get("access-control-allow-credentials")
                .is_none(),
            "bearer tokens, not cookies"
        );
    }
    // The photo PUT goes to the URL the API hands out: this server's /uploads on disk, the
    // bucket on S3 (whose CORS rules follow CORS_ORIGINS).
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let init = app
        .post_json(
            "/pictures/init-upload",
            &json!({"session_id": session_id, "mimetype": "image/jpeg"}),
        )
        .await;
    let upload_url = body(init).await["uploadUrl"]
        .as_str()
        .expect("uploadUrl")
        .to_owned();
    let response = preflight(&app, &upload_url, CLIENT, "PUT").await;
    assert!(response.status().is_success(), "{}", response.status());
    let allowed = header(&response, "access-control-allow-origin");
    assert!(allowed == "*" || allowed == CLIENT, "{allowed}");
}

async fn cross_origin_answers_and_their_errors_carry_the_allow_origin_header(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let get = |path: String| {
        app.client
            .get(app.url(&path))
            .header("origin", CLIENT)
            .send()
    };

    let ok = get(format!("/sessions/get?sessionId={session_id}"))
        .await
        .expect("request");
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(header(&ok, "access-control-allow-origin"), "*");
    let exposed = header(&ok, "access-control-expose-headers").to_ascii_lowercase();
    for name in ["etag", "retry-after", "x-request-id", "content-disposition"] {
        assert!(exposed.contains(name), "{name} not exposed: {exposed}");
    }

    let joined = app
        .client
        .post(app.url("/sessions/registerSessionUser"))
        .header("origin", CLIENT)
        .json(&json!({"username": "Ben", "sessionId": session_id}))
        .send()
        .await
        .expect("request");
    assert_eq!(joined.status(), StatusCode::CREATED);
    assert_eq!(header(&joined, "access-control-allow-origin"), "*");

    // The whole upload across origins: init, PUT to the handed-out URL, finalize, gallery.
    let (key, put) = app.put_photo(session_id, "image/jpeg", jpeg_bytes(1)).await;
    assert_eq!(put.status(), StatusCode::OK);
    let finalized = app
        .client
        .post(app.url("/pictures/finalize-upload"))
        .header("origin", CLIENT)
        .json(&json!({"u_name": "Ben", "session_id": session_id, "s3_key": key}))
        .send()
        .await
        .expect("request");
    assert_eq!(finalized.status(), StatusCode::CREATED);
    assert_eq!(header(&finalized, "access-control-allow-origin"), "*");

    // Errors too: a browser reports an error without the header as a network failure.
    let errors = [
        (
            get("/pictures/no/such/route".into()).await,
            StatusCode::NOT_FOUND,
        ),
        (get("/auth/me".into()).await, StatusCode::UNAUTHORIZED),
        (
            get("/sessions/get?sessionId=nope".into()).await,
            StatusCode::BAD_REQUEST,
        ),
        (
            app.client
                .put(app.url("/auth/login"))
                .header("origin", CLIENT)
                .send()
                .await,
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ];
    for (response, status) in errors {
        let response = response.expect("request");
        assert_eq!(header(&response, "access-control-allow-origin"), "*");
        assert_error(response, status).await;
    }
}

async fn configured_cors_origins_admit_only_those_origins(backend: Backend) {
    let (app, _env) = TestApp::spawn_with(backend, |config| {
        config.cors_origins = Some("https://app.example.com, http://localhost:5173".into());
    })
    .await;
    let url = app.url("/auth/login");
    let admitted = preflight(&app, &url, "https://app.example.com", "POST").await;
    assert!(admitted.status().is_success());
    assert_eq!(
        header(&admitted, "access-control-allow-origin"),
        "https://app.example.com"
    );
    assert!(
        header(&admitted, "vary")
            .to_ascii_lowercase()
            .contains("origin"),
        "caches must keep answers per origin"
    );

    let refused = preflight(&app, &url, "https://evil.example.com", "POST").await;
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "another origin is not admitted"
    );
    let actual = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .expect("request");
    assert_eq!(
        actual.status(),
        StatusCode::OK,
        "CORS is the browser's to enforce"
    );
    assert!(
        actual
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let listed = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .expect("request");
    assert_eq!(
        header(&listed, "access-control-allow-origin"),
        "http://localhost:5173"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_answers_carry_the_allow_origin_header() {
    let (app, _env) = TestApp::spawn_with(Backend::SqliteFs, |config| {
        config.rate_limit_auth_per_minute = 1;
        config.rate_limit_auth_burst = 1;
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = app
            .client
            .post(app.url("/auth/login"))
            .header("origin", CLIENT)
            .json(&json!({"email": "nobody@example.com", "password": "wrong password"}))
            .send()
            .await
            .expect("request");
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(header(&response, "access-control-allow-origin"), "*");
            assert!(header(&response, "access-control-expose-headers").contains("retry-after"));
            header(&response, "retry-after");
        }
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}
