//! The event rules a host sets, enforced by the server.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, Host, TestApp, assert_error, body, jpeg_bytes};
use crate::on_both_backends;

on_both_backends!(
    uploads_close_when_the_event_ends_but_the_gallery_stays_readable,
    pre_approval_holds_photos_until_the_host_approves,
    reveal_mode_hides_the_gallery_until_the_host_reveals_it,
    the_per_guest_upload_limit_is_enforced,
    the_same_photo_twice_is_stored_once,
);

async fn set_rules(app: &TestApp, host: &Host, session_id: Uuid, settings: Value) {
    let response = app
        .post_json_auth(
            &format!("/sessions/{session_id}/settings"),
            &host.token,
            &json!({ "settings": settings }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn gallery_ids(
    app: &TestApp,
    session_id: Uuid,
    extra: &str,
    token: Option<&str>,
) -> Vec<String> {
    let mut request = app
        .client
        .get(app.url(&format!("/pictures/session?sessionId={session_id}{extra}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    body(response)
        .await
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn uploads_close_when_the_event_ends_but_the_gallery_stays_readable(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    app.upload(session_id, jpeg_bytes(1)).await;
    // A photo already PUT before the end cannot be finalized after it.
    let (late_key, put) = app.put_photo(session_id, "image/jpeg", jpeg_bytes(2)).await;
    assert_eq!(put.status(), StatusCode::OK);
    assert_eq!(
        app.post_json_auth(
            &format!("/sessions/{session_id}/end"),
            &host.token,
            &json!({})
        )
        .await
        .status(),
        StatusCode::OK
    );

    let init = app
        .post_json(
            "/pictures/init-upload",
            &json!({"session_id": session_id, "mimetype": "image/jpeg"}),
        )
        .await;
    let message = assert_error(init, StatusCode::FORBIDDEN).await;
    assert!(message.contains("ended"), "{message}");
    assert_error(
        app.finalize(session_id, &late_key, "Ben").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(gallery_ids(&app, session_id, "", None).await.len(), 1);
    // Reopening (a new end in the future) lets uploads in again.
    let reopen = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    set_rules(&app, &host, session_id, json!({"ends_at": reopen})).await;
    assert_eq!(
        app.finalize(session_id, &late_key, "Ben").await.status(),
        StatusCode::CREATED
    );
}

async fn pre_approval_holds_photos_until_the_host_approves(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    set_rules(&app, &host, session_id, json!({"require_approval": true})).await;
    let ben = app.join(session_id, "Ben").await;
    let eve = app.join(session_id, "Eve").await;

    let anonymous = app
        .post_json(
            "/pictures/init-upload",
            &json!({"session_id": session_id, "mimetype": "image/jpeg"}),
        )
        .await;
    assert_error(anonymous, StatusCode::BAD_REQUEST).await;
    let response = app
        .upload_as_guest(session_id, ben, "image/jpeg", jpeg_bytes(1))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let picture = body(response).await;
    assert_eq!(picture["status"], "pending");
    let id = picture["id"].as_str().expect("id").to_owned();

    assert!(
        gallery_ids(&app, session_id, "", None).await.is_empty(),
        "anonymous sees pending"
    );
    assert!(
        gallery_ids(&app, session_id, &format!("&userId={eve}"), None)
            .await
            .is_empty(),
        "other guest sees pending"
    );
    assert_eq!(
        gallery_ids(&app, session_id, &format!("&userId={ben}"), None).await,
        vec![id.clone()]
    );
    assert_eq!(
        gallery_ids(&app, session_id, "", Some(&host.token)).await,
        vec![id.clone()]
    );

    let approved = app
        .post_json_auth(&format!("/pictures/{id}/approve"), &host.token, &json!({}))
        .await;
    assert_eq!(body(approved).await["status"], "approved");
    assert_eq!(gallery_ids(&app, session_id, "", None).await, vec![id]);
}

async fn reveal_mode_hides_the_gallery_until_the_host_reveals_it(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    set_rules(&app, &host, session_id, json!({"reveal": "after_reveal"})).await;
    let ben = app.join(session_id, "Ben").await;
    let eve = app.join(session_id, "Eve").await;
    let bens = body(
        app.upload_as_guest(session_id, ben, "image/jpeg", jpeg_bytes(1))
            .await,
    )
    .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let eves = body(
        app.upload_as_guest(session_id, eve, "image/jpeg", jpeg_bytes(2))
            .await,
    )
    .await["id"]
        .as_str()
        .expect("id")
        .to_owned();

    assert!(gallery_ids(&app, session_id, "", None).await.is_empty());
    assert_eq!(
        gallery_ids(&app, session_id, &format!("&userId={ben}"), None).await,
        vec![bens.clone()]
    );
    assert_eq!(
        gallery_ids(&app, session_id, "", Some(&host.token))
            .await
            .len(),
        2
    );
    let foreign_guest = app
        .get(&format!(
            "/pictures/session?sessionId={session_id}&userId={}",
            Uuid::new_v4()
        ))
        .await;
    assert_error(foreign_guest, StatusCode::NOT_FOUND).await;

    set_rules(&app, &host, session_id, json!({"revealed": true})).await;
    assert_eq!(
        gallery_ids(&app, session_id, "", None).await,
        vec![eves, bens]
    );
}

async fn the_per_guest_upload_limit_is_enforced(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    set_rules(
        &app,
        &host,
        session_id,
        json!({"upload_limit_per_guest": 2}),
    )
    .await;
    let ben = app.join(session_id, "Ben").await;
    let eve = app.join(session_id, "Eve").await;
    assert_eq!(
        app.upload_as_guest(session_id, ben, "image/jpeg", jpeg_bytes(1))
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.upload_as_guest(session_id, ben, "image/jpeg", jpeg_bytes(2))
            .await
            .status(),
        StatusCode::CREATED
    );
    let third = app
        .post_json(
            "/pictures/init-upload",
            &json!({"session_id": session_id, "mimetype": "image/jpeg", "user_id": ben}),
        )
        .await;
    let message = assert_error(third, StatusCode::FORBIDDEN).await;
    assert!(message.contains("limit"), "{message}");
    assert_eq!(
        app.upload_as_guest(session_id, eve, "image/jpeg", jpeg_bytes(3))
            .await
            .status(),
        StatusCode::CREATED,
        "the limit is per guest"
    );
    let without_guest = app
        .post_json(
            "/pictures/init-upload",
            &json!({"session_id": session_id, "mimetype": "image/jpeg"}),
        )
        .await;
    assert_error(without_guest, StatusCode::BAD_REQUEST).await;
    let other_session = app.create_session(&host).await;
    let wrong_event = app
        .post_json(
            "/pictures/init-upload",
            &json!({"session_id": other_session, "mimetype": "image/jpeg", "user_id": ben}),
        )
        .await;
    assert_error(wrong_event, StatusCode::FORBIDDEN).await;
}

async fn the_same_photo_twice_is_stored_once(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let other_session = app.create_session(&host).await;
    let ben = app.join(session_id, "Ben").await;
    let eve = app.join(session_id, "Eve").await;
    let first = body(
        app.upload_as_guest(session_id, ben, "image/jpeg", jpeg_bytes(9))
            .await,
    )
    .await;
    let again = body(
        app.upload_as_guest(session_id, ben, "image/jpeg", jpeg_bytes(9))
            .await,
    )
    .await;
    let from_eve = body(
        app.upload_as_guest(session_id, eve, "image/jpeg", jpeg_bytes(9))
            .await,
    )
    .await;
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["id"], from_eve["id"]);
    assert_eq!(gallery_ids(&app, session_id, "", None).await.len(), 1);
    // Another event may hold the same photo.
    let guest = app.join(other_session, "Ben").await;
    let elsewhere = body(
        app.upload_as_guest(other_session, guest, "image/jpeg", jpeg_bytes(9))
            .await,
    )
    .await;
    assert_ne!(elsewhere["id"], first["id"]);
    // Clients that do not name the guest (the original contract) get every key as its own picture.
    let legacy_one = app.upload(session_id, jpeg_bytes(9)).await;
    let legacy_two = app.upload(session_id, jpeg_bytes(9)).await;
    assert_ne!(legacy_one["id"], legacy_two["id"]);
    assert_ne!(legacy_one["s3_key"], legacy_two["s3_key"]);
}
