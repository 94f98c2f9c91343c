//! Protected events: the host sets a PIN in the settings; guests send it once at join. Wrong
//! PINs are limited per event and client address, in the database (so across replicas); the
//! PIN itself never appears in any answer.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, BackendEnv, Host, TestApp, body, error_code};
use crate::on_both_backends;

on_both_backends!(
    a_protected_event_asks_for_its_pin_at_join_and_only_then,
    wrong_pins_lock_an_address_out_for_the_window_but_not_others,
    the_host_can_change_and_clear_the_pin,
    unprotected_events_join_as_before_and_bad_pins_are_refused,
    the_pin_never_appears_in_any_answer,
);

const PIN: &str = "4711";

fn address(n: u8) -> String {
    format!("203.0.113.{n}")
}

async fn join_from(app: &TestApp, session_id: Uuid, pin: Option<&str>, from: &str) -> Response {
    let mut request = json!({"username": "Ada", "sessionId": session_id});
    if let Some(pin) = pin {
        request["pin"] = json!(pin);
    }
    app.client
        .post(app.url("/sessions/registerSessionUser"))
        .header("x-forwarded-for", from)
        .json(&request)
        .send()
        .await
        .expect("join")
}

async fn set_settings(app: &TestApp, host: &Host, session_id: Uuid, settings: Value) -> Response {
    app.post_json_auth(
        &format!("/sessions/{session_id}/settings"),
        &host.token,
        &json!({ "settings": settings }),
    )
    .await
}

async fn protected_event(app: &TestApp, host: &Host) -> Uuid {
    let session_id = app.create_session(host).await;
    let response = set_settings(app, host, session_id, json!({"pin": PIN})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let view = body(response).await;
    assert_eq!(view["protected"], true);
    assert_eq!(view["settings"]["protected"], true);
    session_id
}

async fn event_view(app: &TestApp, session_id: Uuid) -> Value {
    let response = app
        .get(&format!("/sessions/get?sessionId={session_id}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await
}

async fn a_protected_event_asks_for_its_pin_at_join_and_only_then(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = protected_event(&app, &host).await;

    // The join page knows up front, from the link and from the join code.
    let view = event_view(&app, session_id).await;
    assert_eq!(view["protected"], true);
    assert_eq!(view["settings"]["pin_numeric"], true);
    let code = view["join_code"].as_str().expect("join code").to_owned();
    let by_code = body(app.get(&format!("/sessions/by-code/{code}")).await).await;
    assert_eq!(by_code["protected"], true);

    let from = address(1);
    let missing = join_from(&app, session_id, None, &from).await;
    assert_eq!(
        error_code(missing, StatusCode::UNAUTHORIZED).await,
        "join.pin_required"
    );
    let wrong = join_from(&app, session_id, Some("0000"), &from).await;
    assert_eq!(
        error_code(wrong, StatusCode::FORBIDDEN).await,
        "join.pin_wrong"
    );
    // Spaces around the PIN (a phone's keyboard) do not matter.
    let joined = join_from(&app, session_id, Some(" 4711 "), &from).await;
    assert_eq!(joined.status(), StatusCode::CREATED);
    let guest = body(joined).await;
    assert_eq!(guest["user_name"], "Ada");

    // Coming back is not asked again.
    let rejoin = app
        .post_json(
            "/sessions/loginSessionUser",
            &json!({"userId": guest["id"], "sessionId": session_id}),
        )
        .await;
    assert_eq!(rejoin.status(), StatusCode::OK);
    let heartbeat = app
        .post_json("/sessions/heartbeat", &json!({"userId": guest["id"]}))
        .await;
    assert_eq!(heartbeat.status(), StatusCode::OK);
}

async fn wrong_pins_lock_an_address_out_for_the_window_but_not_others(backend: Backend) {
    let (app, _env) = TestApp::spawn_with(backend, |config| {
        config.rate_limit_join_pin_attempts = 3;
        config.rate_limit_join_pin_window_secs = 3;
    })
    .await;
    let host = app.register().await;
    let session_id = protected_event(&app, &host).await;
    let guesser = address(66);

    for guess in ["0000", "1111", "2222"] {
        let wrong = join_from(&app, session_id, Some(guess), &guesser).await;
        assert_eq!(
            error_code(wrong, StatusCode::FORBIDDEN).await,
            "join.pin_wrong"
        );
    }
    // Locked: even the right PIN waits now.
    let locked = join_from(&app, session_id, Some(PIN), &guesser).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = locked.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=3).contains(&wait), "{wait}");
    assert_eq!(
        error_code(locked, StatusCode::TOO_MANY_REQUESTS).await,
        "join.pin_locked"
    );

    // A guest at another address joins meanwhile, and the host's other events are not locked.
    let other = join_from(&app, session_id, Some(PIN), &address(7)).await;
    assert_eq!(other.status(), StatusCode::CREATED);
    let second_event = protected_event(&app, &host).await;
    let elsewhere = join_from(&app, second_event, Some(PIN), &guesser).await;
    assert_eq!(elsewhere.status(), StatusCode::CREATED);

    // After the window the address may try again.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let recovered = join_from(&app, session_id, Some(PIN), &guesser).await;
    assert_eq!(recovered.status(), StatusCode::CREATED);
    // The right PIN forgot the count: a typo now is a plain wrong PIN, not a lockout.
    let typo = join_from(&app, session_id, Some("4712"), &guesser).await;
    assert_eq!(
        error_code(typo, StatusCode::FORBIDDEN).await,
        "join.pin_wrong"
    );
}

async fn the_host_can_change_and_clear_the_pin(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = protected_event(&app, &host).await;
    let from = address(2);

    // Other settings changes keep the PIN.
    let renamed = set_settings(&app, &host, session_id, json!({"name": "Party"})).await;
    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(body(renamed).await["protected"], true);

    let changed = set_settings(&app, &host, session_id, json!({"pin": "Rosen 2026"})).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let changed = body(changed).await;
    assert_eq!(changed["protected"], true);
    assert_eq!(changed["settings"]["pin_numeric"], false);
    let old = join_from(&app, session_id, Some(PIN), &from).await;
    assert_eq!(
        error_code(old, StatusCode::FORBIDDEN).await,
        "join.pin_wrong"
    );
    let new = join_from(&app, session_id, Some("Rosen 2026"), &from).await;
    assert_eq!(new.status(), StatusCode::CREATED);

    // Another host cannot touch it.
    let stranger = app.register().await;
    let refused = set_settings(&app, &stranger, session_id, json!({"pin": null})).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let cleared = set_settings(&app, &host, session_id, json!({"pin": null})).await;
    assert_eq!(cleared.status(), StatusCode::OK);
    let cleared = body(cleared).await;
    assert_eq!(cleared["protected"], false);
    assert!(cleared["settings"].get("protected").is_none(), "{cleared}");
    assert!(
        cleared["settings"].get("pin_numeric").is_none(),
        "{cleared}"
    );
    let open = join_from(&app, session_id, None, &from).await;
    assert_eq!(open.status(), StatusCode::CREATED);

    // A PIN given at creation protects the event from the start.
    let response = app
        .post_json_auth(
            "/sessions/create",
            &host.token,
            &json!({"settings": {"name": "Secret", "pin": "123456"}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created = body(response).await;
    assert_eq!(created["protected"], true);
    let created_id: Uuid = created["id"].as_str().expect("id").parse().expect("uuid");
    let missing = join_from(&app, created_id, None, &from).await;
    assert_eq!(
        error_code(missing, StatusCode::UNAUTHORIZED).await,
        "join.pin_required"
    );
}

async fn unprotected_events_join_as_before_and_bad_pins_are_refused(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let view = event_view(&app, session_id).await;
    assert_eq!(view["protected"], false);
    assert!(view["settings"].get("protected").is_none(), "{view}");

    // The contract's clients send no PIN; a PIN sent anyway is ignored.
    app.join(session_id, "Ben").await;
    let with_pin = join_from(&app, session_id, Some("9999"), &address(3)).await;
    assert_eq!(with_pin.status(), StatusCode::CREATED);

    for bad in [
        json!("123"),
        json!(1234),
        json!("x".repeat(65)),
        json!(["1234"]),
    ] {
        let response = set_settings(&app, &host, session_id, json!({ "pin": bad })).await;
        assert_eq!(
            error_code(response, StatusCode::BAD_REQUEST).await,
            "request.invalid_field"
        );
    }
    // A client cannot write the hash or the flag itself.
    let forged = set_settings(
        &app,
        &host,
        session_id,
        json!({"pin_hash": "$argon2id$forged", "protected": true}),
    )
    .await;
    assert_eq!(forged.status(), StatusCode::OK);
    assert_eq!(body(forged).await["protected"], false);
    app.join(session_id, "Cleo").await;
}

async fn the_pin_never_appears_in_any_answer(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let secret = "Geheim-4242";
    let session_id = app.create_session(&host).await;
    let response = set_settings(&app, &host, session_id, json!({"pin": secret})).await;
    let mut answers = vec![response.text().await.expect("text")];
    let joined = join_from(&app, session_id, Some(secret), &address(4)).await;
    answers.push(joined.text().await.expect("text"));
    for path in [
        format!("/sessions/get?sessionId={session_id}"),
        format!("/sessions/{session_id}/invite"),
        format!("/s/{session_id}"),
        "/openapi.json".to_owned(),
    ] {
        answers.push(app.get(&path).await.text().await.expect("text"));
    }
    let mine = app
        .client
        .get(app.url("/sessions/mine"))
        .bearer_auth(&host.token)
        .send()
        .await
        .expect("mine");
    answers.push(mine.text().await.expect("text"));
    for answer in &answers {
        assert!(!answer.contains(secret), "{answer}");
        assert!(!answer.contains("pin_hash"), "{answer}");
        assert!(!answer.contains("$argon2"), "{answer}");
    }
}

/// Two replicas count one address's wrong PINs together (the count lives in the database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lockout_holds_across_replicas() {
    if crate::helpers::skip_postgres_s3() {
        return;
    }
    let env = BackendEnv::new(Backend::PostgresS3).await;
    let limit = |config: &mut partypic::config::Config| {
        config.rate_limit_join_pin_attempts = 2;
    };
    let first = TestApp::spawn_on(&env, limit).await;
    let second = TestApp::spawn_on(&env, limit).await;
    let host = first.register().await;
    let session_id = protected_event(&first, &host).await;
    let guesser = address(99);
    for app in [&first, &second] {
        let wrong = join_from(app, session_id, Some("0000"), &guesser).await;
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    }
    for app in [&first, &second] {
        let locked = join_from(app, session_id, Some(PIN), &guesser).await;
        assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    }
}
