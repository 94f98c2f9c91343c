use jsonwebtoken::{EncodingKey, Header, encode};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Backend, JWT_SECRET, TestApp, assert_error, body};
use crate::on_both_backends;

on_both_backends!(
    register_returns_201_with_id_email_and_username,
    register_accepts_name_as_an_alias_of_username,
    register_returns_409_for_a_duplicate_email_in_any_case,
    concurrent_duplicate_registrations_create_exactly_one_account,
    register_returns_400_for_invalid_input,
    malformed_bodies_get_clear_4xx_errors,
    login_returns_a_bearer_token_that_authorizes_requests,
    login_returns_the_same_401_for_wrong_password_and_unknown_email,
    forged_expired_and_unsigned_tokens_are_rejected_with_401,
    where_a_token_is_optional_an_expired_or_foreign_one_counts_as_none,
);

async fn register_returns_201_with_id_email_and_username(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let response = app
        .post_json(
            "/auth/register",
            &json!({"username": "Anna", "email": "anna@example.com", "password": "secret123"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user = body(response).await;
    assert!(Uuid::parse_str(user["id"].as_str().expect("id")).is_ok());
    assert_eq!(user["email"], "anna@example.com");
    assert_eq!(user["username"], "Anna");
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());
}

async fn register_accepts_name_as_an_alias_of_username(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let response = app
        .post_json(
            "/auth/register",
            &json!({"name": "Ben", "email": "ben@example.com", "password": "secret123"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(body(response).await["username"], "Ben");
}

async fn register_returns_409_for_a_duplicate_email_in_any_case(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let first = json!({"username": "Anna", "email": "Anna@Example.com", "password": "secret123"});
    assert_eq!(
        app.post_json("/auth/register", &first).await.status(),
        StatusCode::CREATED
    );
    let again = json!({"username": "Other", "email": "anna@EXAMPLE.com", "password": "different1"});
    assert_error(
        app.post_json("/auth/register", &again).await,
        StatusCode::CONFLICT,
    )
    .await;
}

async fn concurrent_duplicate_registrations_create_exactly_one_account(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let app = &app;
    let requests = (0..8).map(|i| async move {
        let email = if i % 2 == 0 {
            "race@example.com"
        } else {
            "RACE@example.com"
        };
        app.post_json(
            "/auth/register",
            &json!({"username": "R", "email": email, "password": "secret123"}),
        )
        .await
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(requests)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        7,
        "{statuses:?}"
    );
}

async fn register_returns_400_for_invalid_input(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let cases = [
        (
            json!({"username": "A", "email": "not-an-email", "password": "secret123"}),
            "email",
        ),
        (
            json!({"username": "A", "email": "a@example.com", "password": "short"}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": "secret123"}),
            "username",
        ),
        (json!({"username": "A", "password": "secret123"}), "email"),
        (
            json!({"username": "A", "email": "a@example.com"}),
            "password",
        ),
        (
            json!({"username": "x".repeat(51), "email": "a@example.com", "password": "secret123"}),
            "username",
        ),
        (
            json!({"username": "  ", "email": "a@example.com", "password": "secret123"}),
            "username",
        ),
        (
            json!({"username": 42, "email": "a@example.com", "password": "secret123"}),
            "invalid type",
        ),
        (
            json!({"username": "A", "email": "a@example.com", "password": null}),
            "password",
        ),
        (json!([1, 2, 3]), "Invalid JSON"),
        (json!("text"), "Invalid JSON"),
    ];
    for (payload, needle) in cases {
        let message = assert_error(
            app.post_json("/auth/register", &payload).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(message.contains(needle), "{payload} → {message}");
    }
}

async fn malformed_bodies_get_clear_4xx_errors(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let post = |content_type: &'static str, body: Vec<u8>| {
        app.client
            .post(app.url("/auth/register"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let broken = post("application/json", b"{\"username\": ".to_vec())
        .await
        .expect("request");
    assert_error(broken, StatusCode::BAD_REQUEST).await;
    let empty = post("application/json", Vec::new()).await.expect("request");
    assert_error(empty, StatusCode::BAD_REQUEST).await;
    let xml = post("application/xml", b"<a/>".to_vec())
        .await
        .expect("request");
    assert_error(xml, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let mut huge = b"{\"username\":\"".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 70 * 1024));
    huge.extend(b"\"}");
    let too_large = post("application/json", huge).await.expect("request");
    assert_error(too_large, StatusCode::PAYLOAD_TOO_LARGE).await;
    let not_utf8 = post("application/json", vec![0xff, 0xfe, 0x00])
        .await
        .expect("request");
    assert_error(not_utf8, StatusCode::BAD_REQUEST).await;
}

async fn login_returns_a_bearer_token_that_authorizes_requests(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let response = app
        .post_json(
            "/auth/login",
            &json!({"email": host.email.to_uppercase(), "password": host.password}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let login = body(response).await;
    assert_eq!(login["token_type"], "Bearer");
    assert_eq!(login["expires_in"], 7 * 24 * 3600);
    assert_eq!(login["user"]["sub"], host.id.to_string());
    assert_eq!(login["user"]["email"], host.email);
    let token = login["access_token"].as_str().expect("token");
    let created = app
        .post_json_auth("/sessions/create", token, &json!({}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
}

async fn login_returns_the_same_401_for_wrong_password_and_unknown_email(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let wrong = app
        .post_json(
            "/auth/login",
            &json!({"email": host.email, "password": "wrong password"}),
        )
        .await;
    let wrong = assert_error(wrong, StatusCode::UNAUTHORIZED).await;
    let unknown = app
        .post_json(
            "/auth/login",
            &json!({"email": "nobody@example.com", "password": "whatever1"}),
        )
        .await;
    let unknown = assert_error(unknown, StatusCode::UNAUTHORIZED).await;
    assert_eq!(wrong, unknown);
    let missing = app
        .post_json("/auth/login", &json!({"email": host.email}))
        .await;
    assert_error(missing, StatusCode::BAD_REQUEST).await;
}

async fn forged_expired_and_unsigned_tokens_are_rejected_with_401(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64| json!({"sub": host.id, "email": host.email, "iat": now, "exp": exp});
    let sign = |secret: &str, exp: i64| {
        encode(
            &Header::default(),
            &claims(exp),
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("token")
    };
    let b64 = |v: &serde_json::Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let valid = sign(JWT_SECRET, now + 600);
    let mut tampered = valid.clone();
    tampered.pop();
    tampered.push(if valid.ends_with('A') { 'B' } else { 'A' });
    let swapped_payload = {
        let parts: Vec<&str> = valid.split('.').collect();
        let other = json!({"sub": Uuid::new_v4(), "email": "evil@example.com", "iat": now, "exp": now + 600});
        format!("{}.{}.{}", parts[0], b64(&other), parts[2])
    };
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims(now + 600))
    );
    let cases = [
        ("expired", sign(JWT_SECRET, now - 10)),
        (
            "wrong secret",
            sign("another-secret-another-secret-0000", now + 600),
        ),
        ("tampered signature", tampered),
        ("swapped payload", swapped_payload),
        ("alg none", unsigned),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (what, token) in cases {
        let response = app
            .post_json_auth("/sessions/create", &token, &json!({}))
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
    }
    let no_header = app.post_json("/sessions/create", &json!({})).await;
    assert_error(no_header, StatusCode::UNAUTHORIZED).await;
    let basic = app
        .client
        .post(app.url("/sessions/create"))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await;
    assert_eq!(basic.expect("request").status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.post_json_auth("/sessions/create", &valid, &json!({}))
            .await
            .status(),
        StatusCode::CREATED
    );
}

/// Issue 14: clients keep old tokens (localStorage); a gallery must not break when one expires.
async fn where_a_token_is_optional_an_expired_or_foreign_one_counts_as_none(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    app.upload(session_id, crate::helpers::jpeg_bytes(7)).await;
    let now = chrono::Utc::now().timestamp();
    let sign = |secret: &str, exp: i64| {
        encode(
            &Header::default(),
            &json!({"sub": host.id, "email": host.email, "iat": now - 700_000, "exp": exp}),
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("token")
    };
    let expired = sign(JWT_SECRET, now - 10);
    let foreign = sign("another-secret-another-secret-0000", now + 600);
    let gallery = format!("/pictures/session?sessionId={session_id}");
    for (what, token) in [
        ("expired", expired.as_str()),
        ("foreign", foreign.as_str()),
        ("garbage", "not.a.token"),
    ] {
        let response = app
            .client
            .get(app.url(&gallery))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{what}");
        assert_eq!(
            body(response).await.as_array().map(Vec::len),
            Some(1),
            "{what}"
        );
        let by_query = app.get(&format!("{gallery}&access_token={token}")).await;
        assert_eq!(by_query.status(), StatusCode::OK, "{what} as access_token");
    }
    // Host-only actions still need a valid token: the stale one is "no token".
    let download = app
        .client
        .get(app.url(&format!("/sessions/{session_id}/download")))
        .bearer_auth(&expired)
        .send()
        .await
        .expect("request");
    assert_eq!(download.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(download).await["code"], "auth.missing_token");
    // And a valid token on the same route is still the host.
    let own = app
        .client
        .get(app.url(&format!("/sessions/{session_id}/download")))
        .bearer_auth(&host.token)
        .send()
        .await
        .expect("request");
    assert_eq!(own.status(), StatusCode::OK);
}
