//! An event's identity: cover photo, welcome text and accent colour in its settings, the cover
//! served at a stable URL, shown in link previews, and dropped when its photo goes.

use std::time::Duration;

use reqwest::{StatusCode, redirect};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    Backend, Host, TestApp, assert_error, body, error_code, eventually, jpeg_bytes,
};
use crate::live::encode;
use crate::on_both_backends;
use image::ImageFormat;

on_both_backends!(
    identity_settings_are_checked_and_shown_on_every_event_view,
    the_cover_must_be_an_approved_photo_of_the_event,
    the_cover_url_serves_the_photo_and_previews_use_it,
    deleting_the_cover_photo_unsets_it,
    my_events_count_approved_and_waiting_photos_apart,
);

async fn settings(app: &TestApp, host: &Host, session_id: Uuid, patch: Value) -> reqwest::Response {
    app.post_json_auth(
        &format!("/sessions/{session_id}/settings"),
        &host.token,
        &json!({ "settings": patch }),
    )
    .await
}

async fn session(app: &TestApp, session_id: Uuid) -> Value {
    body(
        app.get(&format!("/sessions/get?sessionId={session_id}"))
            .await,
    )
    .await
}

async fn identity_settings_are_checked_and_shown_on_every_event_view(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let id = app.create_session(&host).await;
    for bad in [
        json!({"accent_color": "pink"}),
        json!({"accent_color": "#12345"}),
        json!({"welcome_text": "x".repeat(501)}),
        json!({"welcome_text": ["hi"]}),
        json!({"cover_picture_id": "cover.jpg"}),
    ] {
        let code = error_code(
            settings(&app, &host, id, bad.clone()).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(code, "request.invalid_field", "{bad}");
    }
    let saved = settings(
        &app,
        &host,
        id,
        json!({"accent_color": "#B4536A", "welcome_text": "Schön, dass ihr da seid! 💐"}),
    )
    .await;
    assert_eq!(saved.status(), StatusCode::OK);
    let saved = body(saved).await;
    assert_eq!(saved["settings"]["accent_color"], "#b4536a", "normalized");
    assert_eq!(saved["cover_url"], Value::Null, "no cover yet");
    let fetched = session(&app, id).await;
    assert_eq!(
        fetched["settings"]["welcome_text"],
        "Schön, dass ihr da seid! 💐"
    );
    let code = fetched["join_code"]
        .as_str()
        .expect("code")
        .replace('-', "");
    let by_code = body(app.get(&format!("/sessions/by-code/{code}")).await).await;
    assert_eq!(by_code["settings"]["accent_color"], "#b4536a");
    // null removes a field.
    let cleared = body(settings(&app, &host, id, json!({"accent_color": null})).await).await;
    assert!(cleared["settings"].get("accent_color").is_none());
}

async fn the_cover_must_be_an_approved_photo_of_the_event(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let id = app.create_session(&host).await;
    let other = app.create_session(&host).await;
    let elsewhere = app.upload(other, jpeg_bytes(1)).await;
    for cover in [json!(elsewhere["id"]), json!(Uuid::new_v4())] {
        let code = error_code(
            settings(&app, &host, id, json!({"cover_picture_id": cover})).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(code, "request.invalid_field");
    }
    // A photo waiting for approval is not seen by guests, so it cannot be the cover yet.
    assert_eq!(
        settings(&app, &host, id, json!({"require_approval": true}))
            .await
            .status(),
        StatusCode::OK
    );
    let guest = app.join(id, "Ben").await;
    let pending = body(
        app.upload_as_guest(id, guest, "image/jpeg", jpeg_bytes(2))
            .await,
    )
    .await;
    assert_eq!(pending["status"], "pending");
    let refused = settings(&app, &host, id, json!({"cover_picture_id": pending["id"]})).await;
    assert_error(refused, StatusCode::BAD_REQUEST).await;
    let approved = app
        .post_json_auth(
            &format!("/pictures/{}/approve", pending["id"].as_str().expect("id")),
            &host.token,
            &json!({}),
        )
        .await;
    assert_eq!(approved.status(), StatusCode::OK);
    let set = settings(&app, &host, id, json!({"cover_picture_id": pending["id"]})).await;
    assert_eq!(set.status(), StatusCode::OK);
    // Another host cannot set it, and neither can a guest (no token).
    let stranger = app.register().await;
    let denied = settings(&app, &stranger, id, json!({"cover_picture_id": null})).await;
    assert_error(denied, StatusCode::FORBIDDEN).await;
}

async fn the_cover_url_serves_the_photo_and_previews_use_it(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let id = app.create_session(&host).await;
    let none = app.get(&format!("/sessions/{id}/cover")).await;
    assert_eq!(
        error_code(none, StatusCode::NOT_FOUND).await,
        "event.no_cover"
    );
    let unknown = app
        .get(&format!("/sessions/{}/cover", Uuid::new_v4()))
        .await;
    assert_eq!(
        error_code(unknown, StatusCode::NOT_FOUND).await,
        "event.not_found"
    );
    assert_error(
        app.get("/sessions/nope/cover").await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    // A decodable photo with its variants made: guests (and previews) get the display copy.
    let photo = app.upload(id, encode(64, 48, ImageFormat::Jpeg)).await;
    assert!(
        eventually(Duration::from_secs(20), || async {
            let gallery = body(app.get(&format!("/pictures/session?sessionId={id}")).await).await;
            gallery[0]["variants"] == "ready"
        })
        .await,
        "variants were made"
    );
    let set = body(settings(&app, &host, id, json!({"cover_picture_id": photo["id"]})).await).await;
    let cover_url = set["cover_url"].as_str().expect("cover_url").to_owned();
    assert!(
        cover_url.starts_with(&app.url(&format!("/sessions/{id}/cover?v="))),
        "{cover_url}"
    );
    assert_eq!(session(&app, id).await["cover_url"], cover_url.as_str());

    let no_redirects = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let hop = no_redirects.get(&cover_url).send().await.expect("cover");
    assert_eq!(hop.status(), StatusCode::FOUND);
    assert!(hop.headers().get("cache-control").is_some());
    let image = app.client.get(&cover_url).send().await.expect("image");
    assert_eq!(image.status(), StatusCode::OK);
    let bytes = image.bytes().await.expect("bytes");
    assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "a JPEG");

    // Link previews show the cover, large.
    let html = app
        .get(&format!("/s/{id}"))
        .await
        .text()
        .await
        .expect("html");
    let escaped = cover_url.replace('&', "&amp;");
    assert!(
        html.contains(&format!(
            r#"<meta property="og:image" content="{escaped}">"#
        )),
        "{html}"
    );
    assert!(html.contains(r#"<meta name="twitter:card" content="summary_large_image">"#));
}

async fn deleting_the_cover_photo_unsets_it(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let id = app.create_session(&host).await;
    let photo = app.upload(id, jpeg_bytes(4)).await;
    let photo_id = photo["id"].as_str().expect("id").to_owned();
    let set = settings(
        &app,
        &host,
        id,
        json!({"cover_picture_id": photo_id, "welcome_text": "Hallo"}),
    )
    .await;
    assert_eq!(set.status(), StatusCode::OK);
    let deleted = app
        .client
        .delete(app.url(&format!("/pictures/{photo_id}")))
        .bearer_auth(&host.token)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let after = session(&app, id).await;
    assert_eq!(after["cover_url"], Value::Null);
    assert!(after["settings"].get("cover_picture_id").is_none());
    assert_eq!(after["settings"]["welcome_text"], "Hallo", "the rest stays");
    let gone = app.get(&format!("/sessions/{id}/cover")).await;
    assert_error(gone, StatusCode::NOT_FOUND).await;
}

async fn my_events_count_approved_and_waiting_photos_apart(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let id = app.create_session(&host).await;
    app.upload(id, jpeg_bytes(5)).await;
    assert_eq!(
        settings(&app, &host, id, json!({"require_approval": true}))
            .await
            .status(),
        StatusCode::OK
    );
    let guest = app.join(id, "Ben").await;
    body(
        app.upload_as_guest(id, guest, "image/jpeg", jpeg_bytes(6))
            .await,
    )
    .await;
    body(
        app.upload_as_guest(id, guest, "image/jpeg", jpeg_bytes(7))
            .await,
    )
    .await;
    let mine = app
        .client
        .get(app.url("/sessions/mine"))
        .bearer_auth(&host.token)
        .send()
        .await
        .expect("mine");
    let mine = body(mine).await;
    assert_eq!(mine[0]["picture_count"], 1, "approved only");
    assert_eq!(mine[0]["pending_count"], 2);
}
