use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Backend, BackendEnv, TestApp, assert_error, body};
use crate::on_both_backends;

on_both_backends!(
    guests_join_with_just_a_name,
    joining_validates_the_name_and_the_session,
    returning_guests_are_recognised_only_in_their_own_session,
    heartbeat_records_presence_of_known_guests,
    heartbeats_are_written_behind_and_a_stopping_server_writes_them,
    a_guest_a_replica_knows_is_not_read_again,
);

async fn guests_join_with_just_a_name(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let response = app
        .post_json(
            "/sessions/registerSessionUser",
            &json!({"username": " Tante Erna ", "sessionId": session_id}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let guest = body(response).await;
    assert!(Uuid::parse_str(guest["id"].as_str().expect("id")).is_ok());
    assert_eq!(guest["user_name"], "Tante Erna");
    assert_eq!(guest["session_id"], session_id.to_string());
    assert!(guest["created_at"].is_string() && guest["last_seen"].is_string());
}

async fn joining_validates_the_name_and_the_session(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    for name in [
        json!(""),
        json!("   "),
        json!("x".repeat(51)),
        json!(null),
        json!(7),
    ] {
        let response = app
            .post_json(
                "/sessions/registerSessionUser",
                &json!({"username": name, "sessionId": session_id}),
            )
            .await;
        assert_error(response, StatusCode::BAD_REQUEST).await;
    }
    let bad_id = app
        .post_json(
            "/sessions/registerSessionUser",
            &json!({"username": "A", "sessionId": "abc"}),
        )
        .await;
    assert_error(bad_id, StatusCode::BAD_REQUEST).await;
    let unknown = app
        .post_json(
            "/sessions/registerSessionUser",
            &json!({"username": "A", "sessionId": Uuid::new_v4()}),
        )
        .await;
    assert_error(unknown, StatusCode::NOT_FOUND).await;
    let fifty = app
        .post_json(
            "/sessions/registerSessionUser",
            &json!({"username": "ü".repeat(50), "sessionId": session_id}),
        )
        .await;
    assert_eq!(fifty.status(), StatusCode::CREATED);
}

async fn returning_guests_are_recognised_only_in_their_own_session(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let other_session = app.create_session(&host).await;
    let guest_id = app.join(session_id, "Ben").await;

    let response = app
        .post_json(
            "/sessions/loginSessionUser",
            &json!({"userId": guest_id, "sessionId": session_id}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let guest = body(response).await;
    assert_eq!(guest["id"], guest_id.to_string());
    assert_eq!(guest["user_name"], "Ben");

    let foreign = app
        .post_json(
            "/sessions/loginSessionUser",
            &json!({"userId": guest_id, "sessionId": other_session}),
        )
        .await;
    assert_error(foreign, StatusCode::FORBIDDEN).await;
    let unknown_guest = app
        .post_json(
            "/sessions/loginSessionUser",
            &json!({"userId": Uuid::new_v4(), "sessionId": session_id}),
        )
        .await;
    assert_error(unknown_guest, StatusCode::NOT_FOUND).await;
    let unknown_session = app
        .post_json(
            "/sessions/loginSessionUser",
            &json!({"userId": guest_id, "sessionId": Uuid::new_v4()}),
        )
        .await;
    assert_error(unknown_session, StatusCode::NOT_FOUND).await;
    let malformed = app
        .post_json(
            "/sessions/loginSessionUser",
            &json!({"userId": "x", "sessionId": session_id}),
        )
        .await;
    assert_error(malformed, StatusCode::BAD_REQUEST).await;
}

async fn heartbeat_records_presence_of_known_guests(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest_id = app.join(session_id, "Ben").await;
    let response = app
        .post_json("/sessions/heartbeat", &json!({"userId": guest_id}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await, json!({"success": true}));
    assert_error(
        app.post_json("/sessions/heartbeat", &json!({})).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_error(
        app.post_json("/sessions/heartbeat", &json!({"userId": "x"}))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let unknown = app
        .post_json("/sessions/heartbeat", &json!({"userId": Uuid::new_v4()}))
        .await;
    assert_error(unknown, StatusCode::NOT_FOUND).await;
}

async fn heartbeats_are_written_behind_and_a_stopping_server_writes_them(backend: Backend) {
    let env = BackendEnv::new(backend).await;
    // Longer than the test: only the stop writes the beat.
    let mut app = TestApp::spawn_on(&env, |c| c.heartbeat_flush_ms = 30_000).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest_id = app.join(session_id, "Ben").await;
    let db = app.state().db.clone();
    let joined = db.guest(guest_id).await.expect("query").expect("guest");

    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    for _ in 0..3 {
        let response = app
            .post_json("/sessions/heartbeat", &json!({"userId": guest_id}))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let unknown = app
        .post_json("/sessions/heartbeat", &json!({"userId": Uuid::new_v4()}))
        .await;
    assert_error(unknown, StatusCode::NOT_FOUND).await;
    let waiting = app.state().heartbeats.as_ref().expect("written behind");
    assert_eq!(waiting.pending(), 1, "three beats of one guest wait as one");
    let stored = db.guest(guest_id).await.expect("query").expect("guest");
    assert_eq!(stored.last_seen, joined.last_seen, "not written yet");

    let server = app.begin_shutdown();
    tokio::time::timeout(std::time::Duration::from_secs(30), server)
        .await
        .expect("drains in time")
        .expect("server task")
        .expect("server stops cleanly");
    let after = TestApp::spawn_on(&env, |_| {}).await;
    let stored = after
        .state()
        .db
        .guest(guest_id)
        .await
        .expect("query")
        .expect("guest");
    assert!(
        stored.last_seen > joined.last_seen,
        "the stopping server wrote the beat: {} vs {}",
        stored.last_seen,
        joined.last_seen
    );
}

/// A phone names its guest in every upload and gallery call; the replica that saw the guest
/// join checks membership without reading the guest again (guests never change events and go
/// only with their event). Shown by removing the guest row behind the servers' backs, which the
/// app itself never does: the replica that knows the guest still accepts them, a replica that
/// does not reads the database and answers 404.
async fn a_guest_a_replica_knows_is_not_read_again(backend: Backend) {
    let env = BackendEnv::new(backend).await;
    let knows = TestApp::spawn_on(&env, |_| {}).await;
    let host = knows.register().await;
    let session_id = knows.create_session(&host).await;
    let guest_id = knows.join(session_id, "Ben").await;
    let other_guest = knows.join(session_id, "Lea").await;
    env.execute_sql(&format!(
        "DELETE FROM session_users WHERE id = '{guest_id}'"
    ))
    .await;

    let init = json!({"session_id": session_id, "mimetype": "image/jpeg", "user_id": guest_id});
    let gallery = format!("/pictures/session?sessionId={session_id}&userId={guest_id}");
    assert_eq!(
        knows
            .post_json("/pictures/init-upload", &init)
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(knows.get(&gallery).await.status(), StatusCode::OK);
    // Still checked: a known guest of another event is refused.
    let elsewhere = knows.create_session(&host).await;
    let wrong = json!({"session_id": elsewhere, "mimetype": "image/jpeg", "user_id": other_guest});
    assert_error(
        knows.post_json("/pictures/init-upload", &wrong).await,
        StatusCode::FORBIDDEN,
    )
    .await;

    let fresh = TestApp::spawn_on(&env, |_| {}).await;
    assert_error(
        fresh.post_json("/pictures/init-upload", &init).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_error(fresh.get(&gallery).await, StatusCode::NOT_FOUND).await;
}
