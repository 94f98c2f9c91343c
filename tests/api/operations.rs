use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp, assert_error, body, eventually, jpeg_bytes};
use crate::on_both_backends;

on_both_backends!(
    health_and_readiness_report_ok,
    metrics_are_served_on_their_own_port_and_not_on_the_public_one,
    metrics_expose_the_partypic_series_with_bounded_route_labels,
    openapi_describes_the_whole_api,
    request_ids_are_generated_or_echoed,
    unknown_routes_and_methods_get_json_errors,
    a_saturated_hash_queue_answers_503_with_retry_after_while_reads_stay_fast,
);

async fn health_and_readiness_report_ok(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let ready = body(ready).await;
    assert_eq!(ready["checks"]["database"], "ok");
    assert_eq!(ready["checks"]["object_store"], "ok");
    assert_eq!(ready["status"], "ok");
    let text = app.metrics_text().await;
    assert!(text.contains("partypic_database_up 1"), "{text}");
    assert!(text.contains("partypic_object_store_up 1"), "{text}");
    let landing = app.get("/").await;
    assert_eq!(landing.status(), StatusCode::OK);
    assert!(landing.text().await.expect("html").contains("PartyPic"));
}

async fn metrics_are_served_on_their_own_port_and_not_on_the_public_one(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    assert_error(app.get("/metrics").await, StatusCode::NOT_FOUND).await;
    let doc = body(app.get("/openapi.json").await).await;
    assert!(
        doc["paths"].get("/metrics").is_none(),
        "/metrics in OpenAPI"
    );
    let text = app.metrics_text().await;
    assert!(text.contains("partypic_http_requests_total"), "{text}");
    assert!(text.contains("partypic_password_hash_queue 0"), "{text}");
    // The metrics listener serves nothing else.
    let other = app
        .client
        .get(format!("{}/healthz", app.metrics_address))
        .send()
        .await
        .expect("request");
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

async fn metrics_expose_the_partypic_series_with_bounded_route_labels(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ben").await;
    app.post_json("/sessions/heartbeat", &json!({"userId": guest}))
        .await;
    app.upload(session_id, jpeg_bytes(1)).await;
    app.get(&format!("/sessions/get?sessionId={session_id}"))
        .await;
    app.get(&format!("/no/such/{session_id}")).await;

    // The gauges come from the database on the refresh interval (1 s in tests).
    let refreshed = eventually(Duration::from_secs(5), || async {
        let text = app.metrics_text().await;
        text.contains("partypic_photos_total 1") && text.contains("partypic_users_online 1")
    })
    .await;
    let text = app.metrics_text().await;
    assert!(refreshed, "gauges were not refreshed:\n{text}");
    for series in [
        "partypic_active_sessions 1",
        "partypic_sessions_created_total 1",
        "partypic_photos_uploaded_total 1",
        "partypic_password_hash_queue 0",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        r#"partypic_http_requests_total{method="GET",route="/sessions/get",status="200"} 1"#,
        r#"partypic_http_request_duration_seconds_bucket{method="POST",route="/auth/register",status_code="201",le="0.5"}"#,
        r#"route="unmatched""#,
    ] {
        assert!(text.contains(series), "missing {series}");
    }
    // No ids in labels: only route templates.
    for line in text.lines().filter(|l| l.starts_with("partypic_http")) {
        assert!(
            !line.contains(&session_id.to_string()),
            "raw path in label: {line}"
        );
    }
}

async fn openapi_describes_the_whole_api(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let doc = body(response).await;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    // Generated clients name operations by their id: each must be unique.
    let mut ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if let Some(id) = operation["operationId"].as_str() {
                assert!(
                    ids.insert(id.to_owned()),
                    "operationId {id} twice ({method} {path})"
                );
            }
        }
    }
    for path in [
        "/auth/register",
        "/auth/login",
        "/sessions/create",
        "/sessions/get",
        "/sessions/setmissions",
        "/sessions/registerSessionUser",
        "/sessions/loginSessionUser",
        "/sessions/heartbeat",
        "/pictures/init-upload",
        "/pictures/finalize-upload",
        "/pictures/session",
        "/healthz",
        "/readyz",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from OpenAPI"
        );
    }
}

async fn request_ids_are_generated_or_echoed(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let generated = app.get("/healthz").await;
    assert!(generated.headers().get("x-request-id").is_some());
    let echoed = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .expect("request");
    assert_eq!(
        echoed
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("abc-123")
    );
}

async fn unknown_routes_and_methods_get_json_errors(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    assert_error(app.get("/sessions/nope").await, StatusCode::NOT_FOUND).await;
    assert_error(app.get("/pictures").await, StatusCode::NOT_FOUND).await;
    assert_error(app.get("/no-such-file.js").await, StatusCode::NOT_FOUND).await;
    // Client routes get the web app's HTML.
    let client_route = app.get(&format!("/s/{}", uuid::Uuid::new_v4())).await;
    assert_eq!(client_route.status(), StatusCode::OK);
    assert!(
        client_route.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/html")
    );
    let wrong_method = app
        .client
        .delete(app.url("/auth/register"))
        .send()
        .await
        .expect("request");
    assert_error(wrong_method, StatusCode::METHOD_NOT_ALLOWED).await;
    let traversal = app
        .get("/uploads/..%2F..%2Fetc/passwd?expires=1&sig=00")
        .await;
    assert!(traversal.status().is_client_error());
}

async fn a_saturated_hash_queue_answers_503_with_retry_after_while_reads_stay_fast(
    backend: Backend,
) {
    let (app, _env) = TestApp::spawn_with(backend, |config| {
        // Real OWASP parameters, one hashing slot and no waiting room: saturation is certain.
        config.argon2_memory_kib = 19456;
        config.argon2_iterations = 2;
        config.hash_concurrency = Some(1);
        config.hash_queue_limit = Some(0);
    })
    .await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let app_ref = &app;
    let registrations = (0..12).map(|i| async move {
        app_ref
            .post_json(
                "/auth/register",
                &json!({"username": "Flood", "email": format!("flood{i}@example.com"), "password": "secret123"}),
            )
            .await
    });
    let reads = async {
        let started = Instant::now();
        for _ in 0..10 {
            assert_eq!(
                app.get(&format!("/sessions/get?sessionId={session_id}"))
                    .await
                    .status(),
                StatusCode::OK
            );
        }
        started.elapsed()
    };
    let (responses, read_time) = tokio::join!(futures_util::future::join_all(registrations), reads);
    let mut saturated = 0;
    for response in responses {
        match response.status() {
            StatusCode::CREATED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                saturated += 1;
                assert!(
                    response.headers().get("retry-after").is_some(),
                    "503 without Retry-After"
                );
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(saturated > 0, "the flood never saturated the hash queue");
    assert!(
        read_time < Duration::from_secs(5),
        "reads were held up by hashing: {read_time:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_turns_readiness_off_and_lets_in_flight_uploads_finish() {
    let (mut app, _env) = TestApp::spawn(Backend::SqliteFs).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let init = body(
        app.post_json(
            "/pictures/init-upload",
            &json!({"session_id": session_id, "mimetype": "image/jpeg"}),
        )
        .await,
    )
    .await;
    let url = init["uploadUrl"].as_str().expect("url").to_owned();
    let key = init["key"].as_str().expect("key").to_owned();
    let photo = jpeg_bytes(8);

    // A slow upload: chunks trickle in while shutdown begins.
    let chunks: Vec<Vec<u8>> = photo.chunks(512).map(<[u8]>::to_vec).collect();
    let stream = futures_util::stream::iter(chunks).then(|chunk| async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok::<_, std::io::Error>(chunk)
    });
    let client = app.client.clone();
    let upload = tokio::spawn(async move {
        client
            .put(url)
            .header("content-length", photo.len())
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(250)).await;
    let server = app.begin_shutdown();
    let put = upload
        .await
        .expect("join")
        .expect("in-flight upload completes");
    assert_eq!(put.status(), StatusCode::OK);
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("drained in time")
        .expect("join")
        .expect("clean stop");
    assert!(
        app.client.get(app.url("/healthz")).send().await.is_err(),
        "listener still open after shutdown"
    );
    assert!(
        app.client
            .get(format!("{}/metrics", app.metrics_address))
            .send()
            .await
            .is_err(),
        "metrics listener still open after shutdown"
    );
    assert!(!key.is_empty());
}

use futures_util::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_register_are_rate_limited_per_address_when_configured() {
    let (app, _env) = TestApp::spawn_with(Backend::SqliteFs, |config| {
        config.rate_limit_auth_per_minute = 6;
        config.rate_limit_auth_burst = 3;
    })
    .await;
    let attempt = |ip: &'static str| {
        app.client
            .post(app.url("/auth/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({"email": "nobody@example.com", "password": "wrong password"}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(
            attempt("203.0.113.7").await.expect("request").status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = attempt("203.0.113.7").await.expect("request");
    assert!(limited.headers().get("retry-after").is_some());
    assert_error(limited, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(
        attempt("203.0.113.8").await.expect("request").status(),
        StatusCode::UNAUTHORIZED,
        "per address"
    );
    // Other endpoints are not limited.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_photo_storage_uploads_and_galleries_answer_503_while_readiness_stays_200() {
    let (app, env) = TestApp::spawn(Backend::SqliteFs).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ben").await;
    let photos = env.data_dir.path().join("photos");
    let parked = env.data_dir.path().join("photos-away");
    std::fs::rename(&photos, &parked).expect("take the store away");

    let gallery = format!("/pictures/session?sessionId={session_id}");
    assert!(
        eventually(Duration::from_secs(8), || async {
            app.get(&gallery).await.status() == StatusCode::SERVICE_UNAVAILABLE
        })
        .await
    );
    let init = app
        .post_json(
            "/pictures/init-upload",
            &json!({"session_id": session_id, "mimetype": "image/jpeg"}),
        )
        .await;
    assert!(init.headers().get("retry-after").is_some());
    assert_error(init, StatusCode::SERVICE_UNAVAILABLE).await;
    // The store is shared by every replica: readiness reports it but stays 200 (issue 14).
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let ready = body(ready).await;
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert_eq!(ready["checks"]["database"], "ok", "{ready}");
    assert_ne!(ready["checks"]["object_store"], "ok", "{ready}");
    assert!(
        app.metrics_text()
            .await
            .contains("partypic_object_store_up 0")
    );
    assert_eq!(
        app.post_json("/sessions/heartbeat", &json!({"userId": guest}))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/sessions/get?sessionId={session_id}"))
            .await
            .status(),
        StatusCode::OK
    );

    std::fs::rename(&parked, &photos).expect("bring it back");
    assert!(
        eventually(Duration::from_secs(8), || async {
            app.get(&gallery).await.status() == StatusCode::OK
        })
        .await
    );
    app.upload(session_id, jpeg_bytes(3)).await;
    assert_eq!(body(app.get("/readyz").await).await["status"], "ok");
    assert!(
        app.metrics_text()
            .await
            .contains("partypic_object_store_up 1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_web_client_is_served_with_etags_and_security_headers() {
    let (app, _env) = TestApp::spawn(Backend::SqliteFs).await;
    let page = app.get("/").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-cache");
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .expect("csp")
            .contains("script-src 'self'")
    );
    let etag = page.headers()["etag"].clone();
    let again = app
        .client
        .get(app.url("/"))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let manifest = app.get("/manifest.webmanifest").await;
    assert_eq!(manifest.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_server_ends_each_connection_after_its_answer() {
    let (mut app, _env) = TestApp::spawn(Backend::SqliteFs).await;
    let before = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert!(
        before.headers().get("connection").is_none(),
        "keep-alive before the drain"
    );
    let server = app.begin_shutdown();
    // A proxy's pooled connection, used once more right after SIGTERM: answered, then closed,
    // so the proxy never sends a request on a connection the server is closing.
    let during = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let r = app
                .client
                .get(app.url("/readyz"))
                .send()
                .await
                .expect("readyz");
            if r.status() == StatusCode::SERVICE_UNAVAILABLE {
                break r;
            }
        }
    })
    .await
    .expect("readiness turned off");
    assert_eq!(
        during
            .headers()
            .get("connection")
            .and_then(|v| v.to_str().ok()),
        Some("close")
    );
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("drained in time")
        .expect("join")
        .expect("clean stop");
}
