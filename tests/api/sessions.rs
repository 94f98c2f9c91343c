use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, assert_error, body};
use crate::on_both_backends;

on_both_backends!(
    create_accepts_an_empty_body_with_a_json_content_type,
    create_stores_settings_and_default_missions,
    create_rejects_invalid_settings_with_400,
    get_returns_the_session_in_the_contract_shape,
    get_returns_400_for_a_missing_or_malformed_id_and_404_for_an_unknown_one,
    setmissions_replaces_missions_for_the_owner_only,
    setmissions_validates_its_input,
);

async fn create_accepts_an_empty_body_with_a_json_content_type(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let empty = app
        .client
        .post(app.url("/sessions/create"))
        .bearer_auth(&host.token)
        .header("content-type", "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(empty.status(), StatusCode::CREATED);
    let created = body(empty).await;
    assert!(Uuid::parse_str(created["sessionId"].as_str().expect("sessionId")).is_ok());
    let no_type = app
        .client
        .post(app.url("/sessions/create"))
        .bearer_auth(&host.token)
        .send()
        .await
        .expect("request");
    assert_eq!(no_type.status(), StatusCode::CREATED);
    let braces = app
        .post_json_auth("/sessions/create", &host.token, &json!({}))
        .await;
    assert_eq!(braces.status(), StatusCode::CREATED);
}

async fn create_stores_settings_and_default_missions(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let ends_at = (chrono::Utc::now() + chrono::Duration::hours(6)).to_rfc3339();
    let response = app
        .post_json_auth(
            "/sessions/create",
            &host.token,
            &json!({"settings": {"name": "Anna & Ben", "description": "Our wedding", "ends_at": ends_at, "theme": "gold"}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created = body(response).await;
    assert_eq!(created["user_id"], host.id.to_string());
    assert_eq!(created["settings"]["name"], "Anna & Ben");
    assert_eq!(created["settings"]["theme"], "gold");
    assert!(
        !created["missions"]["data"]
            .as_array()
            .expect("missions")
            .is_empty()
    );
    let ends = chrono::DateTime::parse_from_rfc3339(created["ends_at"].as_str().expect("ends_at"))
        .expect("date");
    let wanted = chrono::DateTime::parse_from_rfc3339(&ends_at).expect("date");
    assert!((ends - wanted).num_milliseconds().abs() < 2);
}

async fn create_rejects_invalid_settings_with_400(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    for settings in [
        json!("x"),
        json!({"name": 1}),
        json!({"ends_at": "tomorrow"}),
        json!({"ends_at": "2001-01-01T00:00:00Z"}),
    ] {
        let response = app
            .post_json_auth(
                "/sessions/create",
                &host.token,
                &json!({ "settings": settings }),
            )
            .await;
        assert_error(response, StatusCode::BAD_REQUEST).await;
    }
}

async fn get_returns_the_session_in_the_contract_shape(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let response = app
        .get(&format!("/sessions/get?sessionId={session_id}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let session = body(response).await;
    assert_eq!(session["id"], session_id.to_string());
    assert_eq!(session["user_id"], host.id.to_string());
    assert_eq!(session["settings"]["name"], "Wedding");
    let missions = session["missions"]["data"]
        .as_array()
        .expect("missions.data");
    assert!(
        missions
            .iter()
            .all(|m| m["id"].is_string() && m["description"].is_string())
    );
    for field in ["created_at", "ends_at"] {
        assert!(
            chrono::DateTime::parse_from_rfc3339(session[field].as_str().expect(field)).is_ok(),
            "{field}"
        );
    }
}

async fn get_returns_400_for_a_missing_or_malformed_id_and_404_for_an_unknown_one(
    backend: Backend,
) {
    let (app, _env) = TestApp::spawn(backend).await;
    assert_error(app.get("/sessions/get").await, StatusCode::BAD_REQUEST).await;
    assert_error(
        app.get("/sessions/get?sessionId=").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_error(
        app.get("/sessions/get?sessionId=1234").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_error(
        app.get("/sessions/get?sessionId=%00%27;DROP").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let message = assert_error(
        app.get(&format!("/sessions/get?sessionId={}", Uuid::new_v4()))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(message, "Session not found");
}

async fn setmissions_replaces_missions_for_the_owner_only(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let other = app.register().await;
    let session_id = app.create_session(&host).await;
    let missions = json!({"data": [{"id": 1, "description": "Photo with the bride"}, {"id": "m2", "description": "Dance!"}]});
    let payload = json!({"sessionId": session_id, "missions": missions});

    let anonymous = app.post_json("/sessions/setmissions", &payload).await;
    assert_error(anonymous, StatusCode::UNAUTHORIZED).await;
    let foreign = app
        .post_json_auth("/sessions/setmissions", &other.token, &payload)
        .await;
    assert_error(foreign, StatusCode::FORBIDDEN).await;
    let unknown = app
        .post_json_auth(
            "/sessions/setmissions",
            &host.token,
            &json!({"sessionId": Uuid::new_v4(), "missions": missions}),
        )
        .await;
    assert_error(unknown, StatusCode::NOT_FOUND).await;
    // Read (and cached) before the change: the change must still show at once.
    let before = body(
        app.get(&format!("/sessions/get?sessionId={session_id}"))
            .await,
    )
    .await;
    assert_ne!(before["missions"], missions);

    let response = app
        .post_json_auth("/sessions/setmissions", &host.token, &payload)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let updated = body(response).await;
    assert!(updated["message"].is_string());
    assert_eq!(updated["data"]["id"], session_id.to_string());
    assert_eq!(
        updated["data"]["missions"]["data"][0]["description"],
        "Photo with the bride"
    );
    let stored = body(
        app.get(&format!("/sessions/get?sessionId={session_id}"))
            .await,
    )
    .await;
    assert_eq!(
        stored["missions"]["data"]
            .as_array()
            .expect("missions")
            .len(),
        2
    );
    assert_eq!(stored["missions"]["data"][1]["id"], "m2");
}

async fn setmissions_validates_its_input(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let too_many: Vec<_> = (0..501)
        .map(|i| json!({"id": i, "description": "d"}))
        .collect();
    let cases = [
        json!({"sessionId": session_id, "missions": {"data": too_many}}),
        json!({"sessionId": session_id, "missions": {"data": [{"id": 1, "description": "x".repeat(301)}]}}),
        json!({"sessionId": session_id, "missions": {"data": [{"id": 1}]}}),
        json!({"sessionId": session_id, "missions": "none"}),
        json!({"sessionId": session_id}),
        json!({"sessionId": "nope", "missions": {"data": []}}),
        json!({"missions": {"data": []}}),
    ];
    for payload in cases {
        let response = app
            .post_json_auth("/sessions/setmissions", &host.token, &payload)
            .await;
        assert_error(response, StatusCode::BAD_REQUEST).await;
    }
    let max: Vec<_> = (0..500)
        .map(|i| json!({"id": i, "description": "y".repeat(300)}))
        .collect();
    let response = app
        .post_json_auth(
            "/sessions/setmissions",
            &host.token,
            &json!({"sessionId": session_id, "missions": {"data": max}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_characters_anywhere_in_a_body_are_a_400_on_postgres() {
    if crate::helpers::skip_postgres_s3() {
        return;
    }
    let (app, _env) = TestApp::spawn(Backend::PostgresS3).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let settings = json!({"settings": {"name": "ok", "nested": {"key\u{0}": [1, "a\u{0}b"]}}});
    assert_error(
        app.post_json_auth("/sessions/create", &host.token, &settings)
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let missions = json!({"sessionId": session_id, "missions": {"data": [{"id": 1, "description": "nul\u{0}"}]}});
    let response = app
        .post_json_auth("/sessions/setmissions", &host.token, &missions)
        .await;
    assert_error(response, StatusCode::BAD_REQUEST).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_numbers_in_settings_are_a_400_and_never_poison_the_event() {
    if crate::helpers::skip_postgres_s3() {
        return;
    }
    let (app, _env) = TestApp::spawn(Backend::PostgresS3).await;
    let host = app.register().await;
    let huge = json!({"settings": {"n": 1.797_693_134_862_315_7e308}});
    assert_error(
        app.post_json_auth("/sessions/create", &host.token, &huge)
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let session_id = app.create_session(&host).await;
    let path = format!("/sessions/{session_id}/settings");
    assert_error(
        app.post_json_auth(&path, &host.token, &huge).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(
        app.get(&format!("/sessions/get?sessionId={session_id}"))
            .await
            .status(),
        StatusCode::OK
    );
    let mine = app
        .client
        .get(app.url("/sessions/mine"))
        .bearer_auth(&host.token)
        .send()
        .await
        .expect("request");
    assert_eq!(mine.status(), StatusCode::OK);
}
