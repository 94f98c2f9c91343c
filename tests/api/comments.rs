//! Comments: guests and the host comment on photos they can see; guests delete their own, the
//! host any; the host can switch comments off or approve them first; live to every viewer who may
//! read them; every bad request a clear 4xx that changes nothing.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, BackendEnv, Host, TestApp, body, error_code, jpeg_bytes};
use crate::live::EventStream;
use crate::on_both_backends;

on_both_backends!(
    a_guest_and_the_host_comment_and_everybody_reads_them_oldest_first,
    guests_delete_their_own_comments_and_the_host_deletes_any,
    bad_comments_are_rejected_and_change_nothing,
    the_host_can_switch_comments_off,
    with_comment_approval_a_pending_comment_is_shown_to_its_author_and_the_host_only,
    a_comment_flood_is_stopped_with_429,
    comments_stay_open_after_the_event_ended_and_go_with_their_photo,
    comments_reach_live_viewers_who_may_read_them,
);

#[derive(Clone, Copy)]
enum As<'a> {
    Guest(Uuid),
    Host(&'a Host),
    Nobody,
}

fn id_of(value: &Value) -> &str {
    value["id"].as_str().expect("id")
}

fn with(request: reqwest::RequestBuilder, who: As<'_>) -> reqwest::RequestBuilder {
    match who {
        As::Guest(id) => request.header("X-Guest-Id", id.to_string()),
        As::Host(host) => request.bearer_auth(&host.token),
        As::Nobody => request,
    }
}

async fn post(app: &TestApp, who: As<'_>, picture: &Value, text: &str) -> Response {
    let url = app.url(&format!("/pictures/{}/comments", id_of(picture)));
    with(app.client.post(url).json(&json!({ "text": text })), who)
        .send()
        .await
        .expect("request")
}

/// Posts a comment that must be accepted; the comment.
async fn comment(app: &TestApp, who: As<'_>, picture: &Value, text: &str) -> Value {
    let response = post(app, who, picture, text).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    body(response).await
}

async fn list_response(app: &TestApp, who: As<'_>, picture: &Value) -> Response {
    let url = app.url(&format!("/pictures/{}/comments", id_of(picture)));
    with(app.client.get(url), who)
        .send()
        .await
        .expect("request")
}

/// The comments `who` reads, as (author name, text) pairs.
async fn texts(app: &TestApp, who: As<'_>, picture: &Value) -> Vec<(String, String)> {
    let response = list_response(app, who, picture).await;
    assert_eq!(response.status(), StatusCode::OK);
    body(response)
        .await
        .as_array()
        .expect("array")
        .iter()
        .map(|c| {
            (
                c["author_name"].as_str().expect("name").to_owned(),
                c["text"].as_str().expect("text").to_owned(),
            )
        })
        .collect()
}

async fn delete(app: &TestApp, who: As<'_>, picture: &Value, comment_id: &str) -> Response {
    let url = app.url(&format!(
        "/pictures/{}/comments/{comment_id}",
        id_of(picture)
    ));
    with(app.client.delete(url), who)
        .send()
        .await
        .expect("request")
}

async fn approve(app: &TestApp, who: As<'_>, picture: &Value, comment_id: &str) -> Response {
    let url = app.url(&format!(
        "/pictures/{}/comments/{comment_id}/approve",
        id_of(picture)
    ));
    with(app.client.post(url), who)
        .send()
        .await
        .expect("request")
}

async fn comment_count(app: &TestApp, session_id: Uuid, who: As<'_>) -> Value {
    let request = app
        .client
        .get(app.url(&format!("/pictures/session?sessionId={session_id}")));
    let response = with(request, who).send().await.expect("gallery");
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await[0]["comment_count"].clone()
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

fn pair(name: &str, text: &str) -> (String, String) {
    (name.to_owned(), text.to_owned())
}

async fn a_guest_and_the_host_comment_and_everybody_reads_them_oldest_first(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let (ada, ben) = (
        app.join(session_id, "Ada").await,
        app.join(session_id, "Ben").await,
    );
    let picture = app.upload(session_id, jpeg_bytes(1)).await;
    // The gallery is cached before the comments: they must still show in it.
    assert_eq!(comment_count(&app, session_id, As::Guest(ben)).await, 0);

    let first = comment(&app, As::Guest(ada), &picture, "  So schön! 🎉 \n").await;
    assert_eq!(first["picture_id"], picture["id"]);
    assert_eq!(first["author_id"], ada.to_string());
    assert_eq!(first["author_name"], "Ada");
    assert_eq!(first["by_host"], false);
    assert_eq!(first["text"], "So schön! 🎉", "trimmed");
    assert_eq!(first["status"], "approved");
    let markup = "<img src=x onerror=alert(1)>";
    let second = comment(&app, As::Host(&host), &picture, markup).await;
    assert_eq!(second["by_host"], true);
    assert_eq!(second["author_id"], host.id.to_string());

    let expected = vec![
        pair("Ada", "So schön! 🎉"),
        (
            second["author_name"].as_str().expect("name").to_owned(),
            markup.to_owned(),
        ),
    ];
    for who in [As::Guest(ada), As::Guest(ben), As::Host(&host)] {
        assert_eq!(
            texts(&app, who, &picture).await,
            expected,
            "oldest first, kept as written"
        );
    }
    assert_eq!(comment_count(&app, session_id, As::Guest(ben)).await, 2);
    assert_eq!(comment_count(&app, session_id, As::Nobody).await, 2);
}

async fn guests_delete_their_own_comments_and_the_host_deletes_any(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let (ada, ben) = (
        app.join(session_id, "Ada").await,
        app.join(session_id, "Ben").await,
    );
    let picture = app.upload(session_id, jpeg_bytes(2)).await;
    let other_picture = app.upload(session_id, jpeg_bytes(3)).await;
    let adas = comment(&app, As::Guest(ada), &picture, "Ada's").await;
    let bens = comment(&app, As::Guest(ben), &picture, "Ben's").await;
    let hosts = comment(&app, As::Host(&host), &picture, "Host's").await;

    for theirs in [&adas, &hosts] {
        let response = delete(&app, As::Guest(ben), &picture, id_of(theirs)).await;
        assert_eq!(
            error_code(response, StatusCode::FORBIDDEN).await,
            "comment.not_author"
        );
    }
    // A comment id under another photo, or an unknown one, is not found.
    let response = delete(&app, As::Host(&host), &other_picture, id_of(&adas)).await;
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "comment.not_found"
    );
    let unknown = Uuid::new_v4().to_string();
    let response = delete(&app, As::Guest(ada), &picture, &unknown).await;
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "comment.not_found"
    );
    assert_eq!(
        texts(&app, As::Guest(ada), &picture).await.len(),
        3,
        "nothing changed"
    );

    let own = delete(&app, As::Guest(ada), &picture, id_of(&adas)).await;
    assert_eq!(own.status(), StatusCode::NO_CONTENT);
    let again = delete(&app, As::Guest(ada), &picture, id_of(&adas)).await;
    assert_eq!(
        error_code(again, StatusCode::NOT_FOUND).await,
        "comment.not_found"
    );
    let by_host = delete(&app, As::Host(&host), &picture, id_of(&bens)).await;
    assert_eq!(by_host.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        texts(&app, As::Guest(ben), &picture).await,
        vec![pair(hosts["author_name"].as_str().expect("name"), "Host's")]
    );
}

async fn bad_comments_are_rejected_and_change_nothing(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ada").await;
    let picture = app.upload(session_id, jpeg_bytes(4)).await;
    let other_host = app.register().await;
    let other_session = app.create_session(&other_host).await;
    let stranger = app.join(other_session, "Eve").await;

    let too_long = "ä".repeat(281);
    let cases = [
        (
            As::Guest(guest),
            "",
            StatusCode::BAD_REQUEST,
            "comment.invalid_text",
        ),
        (
            As::Guest(guest),
            " \n\t ",
            StatusCode::BAD_REQUEST,
            "comment.invalid_text",
        ),
        (
            As::Guest(guest),
            too_long.as_str(),
            StatusCode::BAD_REQUEST,
            "comment.invalid_text",
        ),
        (
            As::Nobody,
            "hi",
            StatusCode::UNAUTHORIZED,
            "auth.missing_token",
        ),
        (
            As::Guest(stranger),
            "hi",
            StatusCode::FORBIDDEN,
            "guest.other_event",
        ),
        (
            As::Host(&other_host),
            "hi",
            StatusCode::FORBIDDEN,
            "event.not_host",
        ),
        (
            As::Guest(Uuid::new_v4()),
            "hi",
            StatusCode::NOT_FOUND,
            "guest.not_found",
        ),
    ];
    for (who, text, status, code) in cases {
        let response = post(&app, who, &picture, text).await;
        assert_eq!(error_code(response, status).await, code, "{text:?}");
    }
    // Reading asks for the same membership.
    for (who, status, code) in [
        (As::Nobody, StatusCode::UNAUTHORIZED, "auth.missing_token"),
        (
            As::Guest(stranger),
            StatusCode::FORBIDDEN,
            "guest.other_event",
        ),
        (
            As::Host(&other_host),
            StatusCode::FORBIDDEN,
            "event.not_host",
        ),
    ] {
        let response = list_response(&app, who, &picture).await;
        assert_eq!(error_code(response, status).await, code);
    }
    // 280 characters are fine however many bytes they take.
    comment(&app, As::Guest(guest), &picture, &"ä".repeat(280)).await;
    let missing = app
        .client
        .post(app.url(&format!("/pictures/{}/comments", id_of(&picture))))
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
            post(&app, As::Guest(guest), &unknown, "hi").await,
            StatusCode::NOT_FOUND
        )
        .await,
        "photo.not_found"
    );
    let malformed = app
        .client
        .delete(app.url(&format!("/pictures/{}/comments/nope", id_of(&picture))))
        .header("X-Guest-Id", guest.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);

    // A photo waiting for approval, or one the guest cannot see before the reveal, does not
    // exist for the guest: no comments on it, none read.
    set_settings(&app, &host, session_id, json!({"require_approval": true})).await;
    let pending = app
        .upload_as_guest(session_id, guest, "image/jpeg", jpeg_bytes(5))
        .await;
    let pending = body(pending).await;
    assert_eq!(pending["status"], "pending");
    for who in [As::Guest(guest), As::Host(&host)] {
        let response = post(&app, who, &pending, "hi").await;
        assert_eq!(
            error_code(response, StatusCode::NOT_FOUND).await,
            "photo.not_found"
        );
    }
    set_settings(&app, &host, session_id, json!({"reveal": "after_reveal"})).await;
    assert_eq!(
        error_code(
            post(&app, As::Guest(guest), &picture, "hi").await,
            StatusCode::NOT_FOUND
        )
        .await,
        "photo.not_found"
    );
    assert_eq!(
        error_code(
            list_response(&app, As::Guest(guest), &picture).await,
            StatusCode::NOT_FOUND
        )
        .await,
        "photo.not_found"
    );
    assert_eq!(
        texts(&app, As::Host(&host), &picture).await.len(),
        1,
        "no rejected request changed anything"
    );
}

async fn the_host_can_switch_comments_off(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ada").await;
    let picture = app.upload(session_id, jpeg_bytes(6)).await;
    let before = comment(&app, As::Guest(guest), &picture, "before").await;
    set_settings(&app, &host, session_id, json!({"comments": false})).await;
    for who in [As::Guest(guest), As::Host(&host)] {
        let response = post(&app, who, &picture, "hi").await;
        assert_eq!(
            error_code(response, StatusCode::FORBIDDEN).await,
            "comment.disabled"
        );
    }
    // What was written stays readable, and can still be deleted.
    assert_eq!(
        texts(&app, As::Guest(guest), &picture).await,
        vec![pair("Ada", "before")]
    );
    for bad in [json!({"comments": "no"}), json!({"comment_approval": 1})] {
        let response = app
            .post_json_auth(
                &format!("/sessions/{session_id}/settings"),
                &host.token,
                &json!({ "settings": bad }),
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    let removed = delete(&app, As::Guest(guest), &picture, id_of(&before)).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    set_settings(&app, &host, session_id, json!({"comments": true})).await;
    comment(&app, As::Guest(guest), &picture, "again").await;
}

async fn with_comment_approval_a_pending_comment_is_shown_to_its_author_and_the_host_only(
    backend: Backend,
) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let (ada, ben) = (
        app.join(session_id, "Ada").await,
        app.join(session_id, "Ben").await,
    );
    let picture = app.upload(session_id, jpeg_bytes(7)).await;
    let other_host = app.register().await;
    set_settings(&app, &host, session_id, json!({"comment_approval": true})).await;

    let pending = comment(&app, As::Guest(ada), &picture, "wait for it").await;
    assert_eq!(pending["status"], "pending");
    let by_host = comment(&app, As::Host(&host), &picture, "the host's").await;
    assert_eq!(
        by_host["status"], "approved",
        "the host's own need no approval"
    );
    let host_name = by_host["author_name"].as_str().expect("name").to_owned();

    assert_eq!(
        texts(&app, As::Guest(ada), &picture).await,
        vec![pair("Ada", "wait for it"), pair(&host_name, "the host's")]
    );
    assert_eq!(texts(&app, As::Host(&host), &picture).await.len(), 2);
    assert_eq!(
        texts(&app, As::Guest(ben), &picture).await,
        vec![pair(&host_name, "the host's")]
    );
    assert_eq!(comment_count(&app, session_id, As::Guest(ben)).await, 1);
    assert_eq!(comment_count(&app, session_id, As::Host(&host)).await, 2);
    // Another guest cannot learn of it, nor approve it.
    let response = delete(&app, As::Guest(ben), &picture, id_of(&pending)).await;
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "comment.not_found"
    );
    for (who, status) in [
        (As::Guest(ben), StatusCode::UNAUTHORIZED),
        (As::Nobody, StatusCode::UNAUTHORIZED),
        (As::Host(&other_host), StatusCode::FORBIDDEN),
    ] {
        let response = approve(&app, who, &picture, id_of(&pending)).await;
        assert_eq!(response.status(), status);
    }
    assert_eq!(texts(&app, As::Guest(ben), &picture).await.len(), 1);

    let approved = approve(&app, As::Host(&host), &picture, id_of(&pending)).await;
    assert_eq!(approved.status(), StatusCode::OK);
    assert_eq!(body(approved).await["status"], "approved");
    assert_eq!(
        texts(&app, As::Guest(ben), &picture).await,
        vec![pair("Ada", "wait for it"), pair(&host_name, "the host's")]
    );
    assert_eq!(comment_count(&app, session_id, As::Guest(ben)).await, 2);
    let unknown = Uuid::new_v4().to_string();
    let response = approve(&app, As::Host(&host), &picture, &unknown).await;
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "comment.not_found"
    );
}

async fn a_comment_flood_is_stopped_with_429(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ada").await;
    let other = app.join(session_id, "Ben").await;
    let picture = app.upload(session_id, jpeg_bytes(8)).await;
    let mut limited = None;
    for n in 0..20 {
        let response = post(&app, As::Guest(guest), &picture, &format!("comment {n}")).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
            assert_eq!(
                error_code(response, StatusCode::TOO_MANY_REQUESTS).await,
                "comment.rate_limited"
            );
            limited = Some(n);
            break;
        }
        assert_eq!(response.status(), StatusCode::CREATED, "comment {n}");
    }
    assert_eq!(
        limited,
        Some(10),
        "a burst of 10 passes, the 11th is turned away"
    );
    assert_eq!(
        texts(&app, As::Guest(guest), &picture).await.len(),
        10,
        "the refused comment was not stored"
    );
    // The limit is per person.
    comment(&app, As::Guest(other), &picture, "mine").await;
}

async fn comments_stay_open_after_the_event_ended_and_go_with_their_photo(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ada").await;
    let picture = app.upload(session_id, jpeg_bytes(9)).await;
    let ended = app
        .post_json_auth(
            &format!("/sessions/{session_id}/end"),
            &host.token,
            &json!({}),
        )
        .await;
    assert_eq!(ended.status(), StatusCode::OK);
    comment(&app, As::Guest(guest), &picture, "the morning after").await;

    let deleted = with(
        app.client
            .delete(app.url(&format!("/pictures/{}", id_of(&picture)))),
        As::Host(&host),
    )
    .send()
    .await
    .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        error_code(
            list_response(&app, As::Guest(guest), &picture).await,
            StatusCode::NOT_FOUND
        )
        .await,
        "photo.not_found"
    );
}

async fn comments_reach_live_viewers_who_may_read_them(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let (ada, ben) = (
        app.join(session_id, "Ada").await,
        app.join(session_id, "Ben").await,
    );
    let picture = app.upload(session_id, jpeg_bytes(10)).await;
    set_settings(&app, &host, session_id, json!({"comment_approval": true})).await;
    let mut hosts = EventStream::open(
        &app,
        &format!("/sessions/{session_id}/events?access_token={}", host.token),
    )
    .await;
    let mut bens =
        EventStream::open(&app, &format!("/sessions/{session_id}/events?userId={ben}")).await;
    // Anybody with the link (a slideshow) gets no comments: they are for the event's people.
    let mut anybody = EventStream::open(&app, &format!("/sessions/{session_id}/events")).await;
    hosts.next_named("guests", Duration::from_secs(5)).await;
    bens.next_named("guests", Duration::from_secs(5)).await;
    anybody.next_named("guests", Duration::from_secs(5)).await;

    let pending = comment(&app, As::Guest(ada), &picture, "<b>live</b>").await;
    let live = hosts
        .next_named("comment.added", Duration::from_secs(10))
        .await;
    assert_eq!(live["id"], pending["id"]);
    assert_eq!(live["picture_id"], picture["id"]);
    assert_eq!(live["text"], "<b>live</b>");
    assert_eq!(live["status"], "pending");

    // Ben hears of it only once approved: the first comment.added he gets is the approved one.
    approve(&app, As::Host(&host), &picture, id_of(&pending)).await;
    let live = bens
        .next_named("comment.added", Duration::from_secs(10))
        .await;
    assert_eq!(live["id"], pending["id"]);
    assert_eq!(live["status"], "approved");

    delete(&app, As::Host(&host), &picture, id_of(&pending)).await;
    let live = bens
        .next_named("comment.deleted", Duration::from_secs(10))
        .await;
    assert_eq!(
        live,
        json!({"picture_id": picture["id"], "id": pending["id"]})
    );
    // The photo's deletion comes after the comment events: had they reached the anonymous
    // stream, one of them would come first.
    let deleted = with(
        app.client
            .delete(app.url(&format!("/pictures/{}", id_of(&picture)))),
        As::Host(&host),
    )
    .send()
    .await
    .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let (first, _) = anybody
        .next_of(
            &["comment.added", "comment.deleted", "picture.deleted"],
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(first, "picture.deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_cross_replicas_live_and_in_cached_galleries() {
    if crate::helpers::skip_postgres_s3() {
        return;
    }
    let env = BackendEnv::new(Backend::PostgresS3).await;
    let first = TestApp::spawn_on(&env, |_| {}).await;
    let second = TestApp::spawn_on(&env, |_| {}).await;
    let host = first.register().await;
    let session_id = first.create_session(&host).await;
    let guest = first.join(session_id, "Ada").await;
    let picture = first.upload(session_id, jpeg_bytes(11)).await;
    // The second replica caches the gallery before the comment.
    assert_eq!(comment_count(&second, session_id, As::Nobody).await, 0);
    let mut stream = EventStream::open(
        &second,
        &format!("/sessions/{session_id}/events?userId={guest}"),
    )
    .await;
    stream.next_named("guests", Duration::from_secs(5)).await;
    let written = comment(&first, As::Guest(guest), &picture, "über Repliken").await;
    let live = stream
        .next_named("comment.added", Duration::from_secs(10))
        .await;
    assert_eq!(live["id"], written["id"]);
    assert_eq!(live["text"], "über Repliken");
    // The notification has arrived, so the second replica's cached page is gone.
    assert_eq!(comment_count(&second, session_id, As::Nobody).await, 1);
}
