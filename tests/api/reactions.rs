//! Reactions: one per guest (or host) and photo, changeable and removable; counts in the
//! gallery and live; every bad request a clear 4xx that changes nothing.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, BackendEnv, Host, TestApp, body, error_code, jpeg_bytes};
use crate::live::EventStream;
use crate::on_both_backends;

on_both_backends!(
    a_guest_and_the_host_react_once_each_and_can_change_and_remove_it,
    a_cached_gallery_shows_new_counts_and_each_viewer_their_own_reaction,
    bad_reactions_are_rejected_and_change_nothing,
    the_host_can_switch_reactions_off,
    a_reaction_flood_is_stopped_with_429,
    reactions_reach_live_viewers,
);

enum As<'a> {
    Guest(Uuid),
    Host(&'a Host),
    Nobody,
}

async fn react(app: &TestApp, who: As<'_>, picture: &Value, reaction: Option<&str>) -> Response {
    let url = app.url(&format!(
        "/pictures/{}/reaction",
        picture["id"].as_str().expect("id")
    ));
    let request = match reaction {
        Some(reaction) => app.client.put(url).json(&json!({ "reaction": reaction })),
        None => app.client.delete(url),
    };
    let request = match who {
        As::Guest(id) => request.header("X-Guest-Id", id.to_string()),
        As::Host(host) => request.bearer_auth(&host.token),
        As::Nobody => request,
    };
    request.send().await.expect("request")
}

async fn gallery(app: &TestApp, session_id: Uuid, who: As<'_>) -> Vec<Value> {
    let request = app
        .client
        .get(app.url(&format!("/pictures/session?sessionId={session_id}")));
    let request = match who {
        As::Guest(id) => request.header("X-Guest-Id", id.to_string()),
        As::Host(host) => request.bearer_auth(&host.token),
        As::Nobody => request,
    };
    let response = request.send().await.expect("gallery");
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await.as_array().expect("array").clone()
}

async fn set_settings(app: &TestApp, host: &Host, session_id: Uuid, settings: Value) {
    let response = app
        .post_json_auth(
            &format!("/sessions/{session_id}/settings"),
            &host.token,
            &json!({ "settings": settings }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn a_guest_and_the_host_react_once_each_and_can_change_and_remove_it(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ada").await;
    let picture = app.upload(session_id, jpeg_bytes(1)).await;

    let reacted = react(&app, As::Guest(guest), &picture, Some("heart")).await;
    assert_eq!(reacted.status(), StatusCode::OK);
    let reacted = body(reacted).await;
    assert_eq!(reacted["picture_id"], picture["id"]);
    assert_eq!(
        reacted["reactions"],
        json!({"heart": 1, "laugh": 0, "wow": 0, "party": 0})
    );
    assert_eq!(reacted["my_reaction"], "heart");

    // Again, and changed: still one reaction of the guest's.
    react(&app, As::Guest(guest), &picture, Some("heart")).await;
    let changed = body(react(&app, As::Guest(guest), &picture, Some("party")).await).await;
    assert_eq!(
        changed["reactions"],
        json!({"heart": 0, "laugh": 0, "wow": 0, "party": 1})
    );
    let with_host = body(react(&app, As::Host(&host), &picture, Some("party")).await).await;
    assert_eq!(with_host["reactions"]["party"], 2);

    let removed = react(&app, As::Guest(guest), &picture, None).await;
    assert_eq!(removed.status(), StatusCode::OK);
    let removed = body(removed).await;
    assert_eq!(removed["reactions"]["party"], 1);
    assert_eq!(removed["my_reaction"], Value::Null);
    // Removing what is not there is no error.
    let again = react(&app, As::Guest(guest), &picture, None).await;
    assert_eq!(again.status(), StatusCode::OK);
}

async fn a_cached_gallery_shows_new_counts_and_each_viewer_their_own_reaction(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let (ada, ben) = (
        app.join(session_id, "Ada").await,
        app.join(session_id, "Ben").await,
    );
    let picture = app.upload(session_id, jpeg_bytes(2)).await;

    // Fill the cache for every viewer first.
    let before = gallery(&app, session_id, As::Guest(ada)).await;
    assert_eq!(
        before[0]["reactions"],
        json!({"heart": 0, "laugh": 0, "wow": 0, "party": 0})
    );
    assert_eq!(before[0]["my_reaction"], Value::Null);
    gallery(&app, session_id, As::Guest(ben)).await;
    gallery(&app, session_id, As::Host(&host)).await;
    gallery(&app, session_id, As::Nobody).await;

    react(&app, As::Guest(ada), &picture, Some("wow")).await;
    react(&app, As::Host(&host), &picture, Some("laugh")).await;

    let adas = gallery(&app, session_id, As::Guest(ada)).await;
    assert_eq!(adas[0]["reactions"]["wow"], 1);
    assert_eq!(adas[0]["reactions"]["laugh"], 1);
    assert_eq!(adas[0]["my_reaction"], "wow");
    let bens = gallery(&app, session_id, As::Guest(ben)).await;
    assert_eq!(bens[0]["reactions"]["wow"], 1);
    assert_eq!(bens[0]["my_reaction"], Value::Null);
    let hosts = gallery(&app, session_id, As::Host(&host)).await;
    assert_eq!(hosts[0]["my_reaction"], "laugh");
    let anonymous = gallery(&app, session_id, As::Nobody).await;
    assert_eq!(anonymous[0]["reactions"]["wow"], 1);
    assert_eq!(anonymous[0]["my_reaction"], Value::Null);
}

async fn bad_reactions_are_rejected_and_change_nothing(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ada").await;
    let picture = app.upload(session_id, jpeg_bytes(3)).await;
    let other_host = app.register().await;
    let other_session = app.create_session(&other_host).await;
    let stranger = app.join(other_session, "Eve").await;

    let cases = [
        (
            As::Guest(guest),
            Some("thumbs"),
            StatusCode::BAD_REQUEST,
            "reaction.unknown",
        ),
        (
            As::Guest(guest),
            Some("❤️"),
            StatusCode::BAD_REQUEST,
            "reaction.unknown",
        ),
        (
            As::Nobody,
            Some("heart"),
            StatusCode::UNAUTHORIZED,
            "reaction.identity_required",
        ),
        (
            As::Nobody,
            None,
            StatusCode::UNAUTHORIZED,
            "reaction.identity_required",
        ),
        (
            As::Guest(stranger),
            Some("heart"),
            StatusCode::FORBIDDEN,
            "guest.other_event",
        ),
        (
            As::Host(&other_host),
            Some("heart"),
            StatusCode::FORBIDDEN,
            "event.not_host",
        ),
        (
            As::Guest(Uuid::new_v4()),
            Some("heart"),
            StatusCode::NOT_FOUND,
            "guest.not_found",
        ),
    ];
    for (who, reaction, status, code) in cases {
        let response = react(&app, who, &picture, reaction).await;
        assert_eq!(error_code(response, status).await, code, "{reaction:?}");
    }
    let missing = app
        .client
        .put(app.url(&format!(
            "/pictures/{}/reaction",
            picture["id"].as_str().expect("id")
        )))
        .header("X-Guest-Id", guest.to_string())
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_eq!(
        error_code(missing, StatusCode::BAD_REQUEST).await,
        "request.missing_field"
    );
    let unknown = json!({"id": Uuid::new_v4()});
    assert_eq!(
        error_code(
            react(&app, As::Guest(guest), &unknown, Some("heart")).await,
            StatusCode::NOT_FOUND
        )
        .await,
        "photo.not_found"
    );

    // Before the reveal a guest cannot see others' photos, so cannot react to them either.
    set_settings(&app, &host, session_id, json!({"reveal": "after_reveal"})).await;
    assert_eq!(
        error_code(
            react(&app, As::Guest(guest), &picture, Some("heart")).await,
            StatusCode::NOT_FOUND
        )
        .await,
        "photo.not_found"
    );
    let gallery = gallery(&app, session_id, As::Host(&host)).await;
    assert_eq!(
        gallery[0]["reactions"],
        json!({"heart": 0, "laugh": 0, "wow": 0, "party": 0}),
        "no rejected request changed anything"
    );
}

async fn the_host_can_switch_reactions_off(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ada").await;
    let picture = app.upload(session_id, jpeg_bytes(4)).await;
    set_settings(&app, &host, session_id, json!({"reactions": false})).await;
    for who in [As::Guest(guest), As::Host(&host)] {
        let response = react(&app, who, &picture, Some("heart")).await;
        assert_eq!(
            error_code(response, StatusCode::FORBIDDEN).await,
            "reaction.disabled"
        );
    }
    let bad = app
        .post_json_auth(
            &format!("/sessions/{session_id}/settings"),
            &host.token,
            &json!({"settings": {"reactions": "no"}}),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    set_settings(&app, &host, session_id, json!({"reactions": true})).await;
    let response = react(&app, As::Guest(guest), &picture, Some("heart")).await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn a_reaction_flood_is_stopped_with_429(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ada").await;
    let other = app.join(session_id, "Ben").await;
    let picture = app.upload(session_id, jpeg_bytes(5)).await;
    let mut limited = None;
    for n in 0..40 {
        let reaction = if n % 2 == 0 { "heart" } else { "wow" };
        let response = react(&app, As::Guest(guest), &picture, Some(reaction)).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
            assert_eq!(
                error_code(response, StatusCode::TOO_MANY_REQUESTS).await,
                "reaction.rate_limited"
            );
            limited = Some(n);
            break;
        }
        let status = response.status();
        assert_eq!(
            status,
            StatusCode::OK,
            "reaction {n}: {}",
            body(response).await
        );
    }
    assert_eq!(
        limited,
        Some(30),
        "a burst of 30 passes, the 31st is turned away"
    );
    // The limit is per person.
    let response = react(&app, As::Guest(other), &picture, Some("party")).await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn reactions_reach_live_viewers(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ada").await;
    let picture = app.upload(session_id, jpeg_bytes(6)).await;
    let mut stream = EventStream::open(
        &app,
        &format!("/sessions/{session_id}/events?access_token={}", host.token),
    )
    .await;
    stream.next_named("guests", Duration::from_secs(5)).await;
    react(&app, As::Guest(guest), &picture, Some("party")).await;
    let live = stream
        .next_named("picture.reactions", Duration::from_secs(10))
        .await;
    assert_eq!(live["picture_id"], picture["id"]);
    assert_eq!(live["reactions"]["party"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_cross_replicas_live_and_in_cached_galleries() {
    if crate::helpers::skip_postgres_s3() {
        return;
    }
    let env = BackendEnv::new(Backend::PostgresS3).await;
    let first = TestApp::spawn_on(&env, |_| {}).await;
    let second = TestApp::spawn_on(&env, |_| {}).await;
    let host = first.register().await;
    let session_id = first.create_session(&host).await;
    let guest = first.join(session_id, "Ada").await;
    let picture = first.upload(session_id, jpeg_bytes(7)).await;
    // The second replica caches the gallery before the reaction.
    gallery(&second, session_id, As::Nobody).await;
    let mut stream = EventStream::open(
        &second,
        &format!("/sessions/{session_id}/events?userId={guest}"),
    )
    .await;
    stream.next_named("guests", Duration::from_secs(5)).await;
    let reacted = react(&first, As::Guest(guest), &picture, Some("heart")).await;
    assert_eq!(reacted.status(), StatusCode::OK);
    let live = stream
        .next_named("picture.reactions", Duration::from_secs(10))
        .await;
    assert_eq!(live["reactions"]["heart"], 1);
    // The notification has arrived, so the second replica's cached page is gone.
    let gallery = gallery(&second, session_id, As::Nobody).await;
    assert_eq!(gallery[0]["reactions"]["heart"], 1);
}
