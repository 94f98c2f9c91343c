//! Every error keeps the contract's `{statusCode, message, error}` and adds a stable `code` that
//! the API description lists, so clients can translate it.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, body, error_code};
use crate::on_both_backends;

on_both_backends!(
    every_error_carries_a_stable_code_listed_in_the_api_description,
    a_rejected_upload_is_deleted_and_says_why_in_its_code,
);

async fn listed_codes(app: &TestApp) -> HashSet<String> {
    let description = body(app.get("/openapi.json").await).await;
    description["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode enum")
        .iter()
        .map(|code| code.as_str().expect("string code").to_owned())
        .collect()
}

async fn every_error_carries_a_stable_code_listed_in_the_api_description(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let listed = listed_codes(&app).await;
    let unknown = Uuid::new_v4();
    let host = app.register().await;
    let cases = [
        (
            app.post_json(
                "/auth/login",
                &json!({"email": "nobody@example.com", "password": "wrong-password"}),
            )
            .await,
            StatusCode::UNAUTHORIZED,
            "auth.invalid_credentials",
        ),
        (
            app.post_json("/auth/register", &json!({"email": "a@b.c"}))
                .await,
            StatusCode::BAD_REQUEST,
            "request.missing_field",
        ),
        (
            app.get(&format!("/sessions/get?sessionId={unknown}")).await,
            StatusCode::NOT_FOUND,
            "event.not_found",
        ),
        (
            app.get("/sessions/get?sessionId=not-a-uuid").await,
            StatusCode::BAD_REQUEST,
            "request.invalid_field",
        ),
        (
            app.get("/sessions/not-a-uuid/qr.svg").await,
            StatusCode::BAD_REQUEST,
            "request.invalid_field",
        ),
        (
            app.post_json("/sessions/heartbeat", &json!({"userId": unknown}))
                .await,
            StatusCode::NOT_FOUND,
            "guest.not_found",
        ),
        (
            app.get("/auth/me").await,
            StatusCode::UNAUTHORIZED,
            "auth.missing_token",
        ),
        (
            app.post_json_auth("/sessions/create", &host.token, &json!({"settings": 5}))
                .await,
            StatusCode::BAD_REQUEST,
            "request.invalid_field",
        ),
        (
            app.get("/pictures/no/such/route").await,
            StatusCode::NOT_FOUND,
            "route.not_found",
        ),
    ];
    for (response, status, expected) in cases {
        let code = error_code(response, status).await;
        assert_eq!(code, expected);
        assert!(
            listed.contains(&code),
            "{code} is not in the API description"
        );
    }
}

async fn a_rejected_upload_is_deleted_and_says_why_in_its_code(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let event = app.create_session(&host).await;
    let (key, put) = app
        .put_photo(event, "image/jpeg", b"plain text, not a photo".to_vec())
        .await;
    assert_eq!(put.status(), StatusCode::OK);
    let code = error_code(
        app.finalize(event, &key, "Ben").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert_eq!(code, "upload.not_an_image");
    // The object is gone: finalizing again finds nothing under the key.
    let code = error_code(
        app.finalize(event, &key, "Ben").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(code, "upload.not_found");
}
