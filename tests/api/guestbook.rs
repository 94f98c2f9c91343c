//! The guestbook: guests and the host leave messages (optionally with one of their own photos);
//! anybody with the link reads the approved ones (the slideshow); guests delete their own, the
//! host any; the host can close it or approve messages first; live to every viewer who may read
//! them, across replicas; the host's ZIP has it as a printable page with the photos' comments.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, BackendEnv, Host, TestApp, body, error_code, jpeg_bytes};
use crate::live::EventStream;
use crate::on_both_backends;

on_both_backends!(
    guests_and_the_host_write_and_everybody_with_the_link_reads_the_messages_oldest_first,
    with_guestbook_approval_a_pending_message_is_shown_to_its_author_and_the_host_only,
    guests_delete_their_own_messages_and_the_host_deletes_any,
    bad_messages_are_rejected_and_change_nothing,
    a_message_shows_one_of_its_authors_own_photos_never_the_original,
    the_host_can_close_the_guestbook,
    a_guestbook_flood_is_stopped_with_429,
    the_guestbook_stays_open_after_the_event_ended,
    messages_reach_live_viewers_who_may_read_them,
    the_host_zip_has_a_printable_guestbook_page_with_the_comments,
);

#[derive(Clone, Copy)]
enum As<'a> {
    Guest(Uuid),
    Host(&'a Host),
    Nobody,
}

fn with(request: reqwest::RequestBuilder, who: As<'_>) -> reqwest::RequestBuilder {
    match who {
        As::Guest(id) => request.header("X-Guest-Id", id.to_string()),
        As::Host(host) => request.bearer_auth(&host.token),
        As::Nobody => request,
    }
}

fn id_of(value: &Value) -> &str {
    value["id"].as_str().expect("id")
}

async fn post_body(app: &TestApp, who: As<'_>, session_id: Uuid, message: &Value) -> Response {
    let url = app.url(&format!("/sessions/{session_id}/guestbook"));
    with(app.client.post(url).json(message), who)
        .send()
        .await
        .expect("request")
}

async fn post(app: &TestApp, who: As<'_>, session_id: Uuid, text: &str) -> Response {
    post_body(app, who, session_id, &json!({ "text": text })).await
}

/// Writes a message that must be accepted; the message.
async fn write(app: &TestApp, who: As<'_>, session_id: Uuid, text: &str) -> Value {
    let response = post(app, who, session_id, text).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    body(response).await
}

async fn list_response(app: &TestApp, who: As<'_>, session_id: Uuid) -> Response {
    let url = app.url(&format!("/sessions/{session_id}/guestbook"));
    with(app.client.get(url), who)
        .send()
        .await
        .expect("request")
}

async fn list(app: &TestApp, who: As<'_>, session_id: Uuid) -> Vec<Value> {
    let response = list_response(app, who, session_id).await;
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await.as_array().expect("array").clone()
}

/// The messages `who` reads, as (author name, text) pairs.
async fn texts(app: &TestApp, who: As<'_>, session_id: Uuid) -> Vec<(String, String)> {
    list(app, who, session_id)
        .await
        .iter()
        .map(|m| {
            (
                m["author_name"].as_str().expect("name").to_owned(),
                m["text"].as_str().expect("text").to_owned(),
            )
        })
        .collect()
}

async fn delete(app: &TestApp, who: As<'_>, session_id: Uuid, message_id: &str) -> Response {
    let url = app.url(&format!("/sessions/{session_id}/guestbook/{message_id}"));
    with(app.client.delete(url), who)
        .send()
        .await
        .expect("request")
}

async fn approve(app: &TestApp, who: As<'_>, session_id: Uuid, message_id: &str) -> Response {
    let url = app.url(&format!(
        "/sessions/{session_id}/guestbook/{message_id}/approve"
    ));
    with(app.client.post(url), who)
        .send()
        .await
        .expect("request")
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

async fn guests_and_the_host_write_and_everybody_with_the_link_reads_the_messages_oldest_first(
    backend: Backend,
) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let (ada, ben) = (
        app.join(session_id, "Ada").await,
        app.join(session_id, "Ben").await,
    );
    let other_host = app.register().await;
    let other_session = app.create_session(&other_host).await;
    let stranger = app.join(other_session, "Eve").await;

    let markup = "<script>alert('gb')</script>\nAlles Gute!";
    let first = write(
        &app,
        As::Guest(ada),
        session_id,
        &format!("  {markup} \r\n"),
    )
    .await;
    assert_eq!(first["session_id"], session_id.to_string());
    assert_eq!(first["author_id"], ada.to_string());
    assert_eq!(first["author_name"], "Ada");
    assert_eq!(first["by_host"], false);
    assert_eq!(first["text"], markup, "trimmed, kept as written");
    assert_eq!(first["status"], "approved");
    assert_eq!(first["photo"], Value::Null);
    let second = write(
        &app,
        As::Host(&host),
        session_id,
        "Danke, dass ihr da wart!",
    )
    .await;
    assert_eq!(second["by_host"], true);
    assert_eq!(second["author_id"], host.id.to_string());
    // The guest id may come in the body too, as the web client's other requests send it.
    let third = post_body(
        &app,
        As::Nobody,
        session_id,
        &json!({"userId": ben, "text": "Ben war hier"}),
    )
    .await;
    assert_eq!(third.status(), StatusCode::CREATED);

    let host_name = second["author_name"].as_str().expect("name").to_owned();
    let expected = vec![
        pair("Ada", markup),
        pair(&host_name, "Danke, dass ihr da wart!"),
        pair("Ben", "Ben war hier"),
    ];
    for who in [As::Guest(ada), As::Guest(ben), As::Host(&host), As::Nobody] {
        assert_eq!(texts(&app, who, session_id).await, expected, "oldest first");
    }
    // Another event's guest is no guest here; another host reads as anybody with the link.
    let response = list_response(&app, As::Guest(stranger), session_id).await;
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "guest.other_event"
    );
    assert_eq!(
        texts(&app, As::Host(&other_host), session_id).await,
        expected
    );
    assert_eq!(
        list(&app, As::Nobody, other_session).await,
        Vec::<Value>::new(),
        "each event has its own guestbook"
    );
}

async fn with_guestbook_approval_a_pending_message_is_shown_to_its_author_and_the_host_only(
    backend: Backend,
) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let (ada, ben) = (
        app.join(session_id, "Ada").await,
        app.join(session_id, "Ben").await,
    );
    let other_host = app.register().await;
    set_settings(&app, &host, session_id, json!({"guestbook_approval": true})).await;

    let pending = write(&app, As::Guest(ada), session_id, "wait for it").await;
    assert_eq!(pending["status"], "pending");
    let by_host = write(&app, As::Host(&host), session_id, "the host's").await;
    assert_eq!(
        by_host["status"], "approved",
        "the host's own need no approval"
    );
    let host_name = by_host["author_name"].as_str().expect("name").to_owned();

    assert_eq!(
        texts(&app, As::Guest(ada), session_id).await,
        vec![pair("Ada", "wait for it"), pair(&host_name, "the host's")]
    );
    assert_eq!(texts(&app, As::Host(&host), session_id).await.len(), 2);
    for who in [As::Guest(ben), As::Nobody] {
        assert_eq!(
            texts(&app, who, session_id).await,
            vec![pair(&host_name, "the host's")]
        );
    }
    // Another guest cannot learn of it, nor approve it; nor can another host.
    let response = delete(&app, As::Guest(ben), session_id, id_of(&pending)).await;
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "guestbook.not_found"
    );
    for (who, status) in [
        (As::Guest(ben), StatusCode::UNAUTHORIZED),
        (As::Nobody, StatusCode::UNAUTHORIZED),
        (As::Host(&other_host), StatusCode::FORBIDDEN),
    ] {
        let response = approve(&app, who, session_id, id_of(&pending)).await;
        assert_eq!(response.status(), status);
    }
    assert_eq!(texts(&app, As::Nobody, session_id).await.len(), 1);

    let approved = approve(&app, As::Host(&host), session_id, id_of(&pending)).await;
    assert_eq!(approved.status(), StatusCode::OK);
    assert_eq!(body(approved).await["status"], "approved");
    for who in [As::Guest(ben), As::Nobody] {
        assert_eq!(
            texts(&app, who, session_id).await,
            vec![pair("Ada", "wait for it"), pair(&host_name, "the host's")]
        );
    }
    let unknown = Uuid::new_v4().to_string();
    let response = approve(&app, As::Host(&host), session_id, &unknown).await;
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "guestbook.not_found"
    );
}

async fn guests_delete_their_own_messages_and_the_host_deletes_any(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let (ada, ben) = (
        app.join(session_id, "Ada").await,
        app.join(session_id, "Ben").await,
    );
    let other_host = app.register().await;
    let other_session = app.create_session(&other_host).await;
    let adas = write(&app, As::Guest(ada), session_id, "Ada's").await;
    let bens = write(&app, As::Guest(ben), session_id, "Ben's").await;
    let hosts = write(&app, As::Host(&host), session_id, "Host's").await;

    for theirs in [&adas, &hosts] {
        let response = delete(&app, As::Guest(ben), session_id, id_of(theirs)).await;
        assert_eq!(
            error_code(response, StatusCode::FORBIDDEN).await,
            "guestbook.not_author"
        );
    }
    let response = delete(&app, As::Nobody, session_id, id_of(&adas)).await;
    assert_eq!(
        error_code(response, StatusCode::UNAUTHORIZED).await,
        "auth.missing_token"
    );
    let response = delete(&app, As::Host(&other_host), session_id, id_of(&adas)).await;
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "event.not_host"
    );
    // A message id under another event, or an unknown one, is not found.
    let response = delete(&app, As::Host(&other_host), other_session, id_of(&adas)).await;
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "guestbook.not_found"
    );
    let unknown = Uuid::new_v4().to_string();
    let response = delete(&app, As::Guest(ada), session_id, &unknown).await;
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "guestbook.not_found"
    );
    let malformed = delete(&app, As::Guest(ada), session_id, "nope").await;
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        texts(&app, As::Nobody, session_id).await.len(),
        3,
        "nothing changed"
    );

    let own = delete(&app, As::Guest(ada), session_id, id_of(&adas)).await;
    assert_eq!(own.status(), StatusCode::NO_CONTENT);
    let again = delete(&app, As::Guest(ada), session_id, id_of(&adas)).await;
    assert_eq!(
        error_code(again, StatusCode::NOT_FOUND).await,
        "guestbook.not_found"
    );
    let by_host = delete(&app, As::Host(&host), session_id, id_of(&bens)).await;
    assert_eq!(by_host.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        texts(&app, As::Guest(ben), session_id).await,
        vec![pair(hosts["author_name"].as_str().expect("name"), "Host's")]
    );
}

async fn bad_messages_are_rejected_and_change_nothing(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ada").await;
    let other_host = app.register().await;
    let other_session = app.create_session(&other_host).await;
    let stranger = app.join(other_session, "Eve").await;

    let too_long = "ä".repeat(1001);
    let cases = [
        (
            As::Guest(guest),
            "",
            StatusCode::BAD_REQUEST,
            "guestbook.invalid_text",
        ),
        (
            As::Guest(guest),
            " \n\t ",
            StatusCode::BAD_REQUEST,
            "guestbook.invalid_text",
        ),
        (
            As::Guest(guest),
            too_long.as_str(),
            StatusCode::BAD_REQUEST,
            "guestbook.invalid_text",
        ),
        (
            As::Guest(guest),
            "bell\u{7}",
            StatusCode::BAD_REQUEST,
            "guestbook.invalid_text",
        ),
        // A NUL never gets past the JSON extractor (PostgreSQL could not store it).
        (
            As::Guest(guest),
            "nul\u{0}byte",
            StatusCode::BAD_REQUEST,
            "request.invalid_json",
        ),
        (
            As::Guest(guest),
            "\u{1b}[31mred",
            StatusCode::BAD_REQUEST,
            "guestbook.invalid_text",
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
        let response = post(&app, who, session_id, text).await;
        assert_eq!(error_code(response, status).await, code, "{text:?}");
    }
    let unknown_event = post(&app, As::Guest(guest), Uuid::new_v4(), "hi").await;
    assert_eq!(
        error_code(unknown_event, StatusCode::NOT_FOUND).await,
        "event.not_found"
    );
    for (message, code) in [
        (json!({}), "request.missing_field"),
        (json!({"text": 5}), "request.invalid_json"),
        (
            json!({"text": "hi", "photo_id": "nope"}),
            "request.invalid_field",
        ),
    ] {
        let response = post_body(&app, As::Guest(guest), session_id, &message).await;
        assert_eq!(
            error_code(response, StatusCode::BAD_REQUEST).await,
            code,
            "{message}"
        );
    }
    // 1000 characters are fine however many bytes they take; line breaks too.
    write(&app, As::Guest(guest), session_id, &"ä".repeat(1000)).await;
    write(&app, As::Guest(guest), session_id, "eins\nzwei").await;
    assert_eq!(
        texts(&app, As::Host(&host), session_id).await.len(),
        2,
        "no rejected request changed anything"
    );
}

async fn a_message_shows_one_of_its_authors_own_photos_never_the_original(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let (ada, ben) = (
        app.join(session_id, "Ada").await,
        app.join(session_id, "Ben").await,
    );
    let adas_photo = body(
        app.upload_as_guest(session_id, ada, "image/jpeg", jpeg_bytes(21))
            .await,
    )
    .await;
    let bens_photo = body(
        app.upload_as_guest(session_id, ben, "image/jpeg", jpeg_bytes(22))
            .await,
    )
    .await;
    let other_host = app.register().await;
    let other_session = app.create_session(&other_host).await;
    let elsewhere = app.upload(other_session, jpeg_bytes(23)).await;

    for (photo_id, status, code) in [
        (
            id_of(&bens_photo),
            StatusCode::FORBIDDEN,
            "guestbook.photo_not_own",
        ),
        (id_of(&elsewhere), StatusCode::NOT_FOUND, "photo.not_found"),
        (
            &Uuid::new_v4().to_string(),
            StatusCode::NOT_FOUND,
            "photo.not_found",
        ),
    ] {
        let response = post_body(
            &app,
            As::Guest(ada),
            session_id,
            &json!({"text": "mit Foto", "photo_id": photo_id}),
        )
        .await;
        assert_eq!(error_code(response, status).await, code);
    }
    assert!(list(&app, As::Host(&host), session_id).await.is_empty());

    let response = post_body(
        &app,
        As::Guest(ada),
        session_id,
        &json!({"text": "mit Foto", "photo_id": id_of(&adas_photo)}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let message = body(response).await;
    assert_eq!(message["photo"]["id"], adas_photo["id"]);
    // The host may attach any photo of the event.
    let response = post_body(
        &app,
        As::Host(&host),
        session_id,
        &json!({"text": "Bens Foto", "photo_id": id_of(&bens_photo)}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // Guests and the slideshow get the display copy (or its placeholder), never the original.
    let original = app.original_url(&host, session_id, &adas_photo).await;
    let original_path = reqwest::Url::parse(&original)
        .expect("url")
        .path()
        .to_owned();
    for who in [As::Guest(ben), As::Nobody] {
        let messages = list(&app, who, session_id).await;
        let photo = &messages[0]["photo"];
        assert_eq!(photo["id"], adas_photo["id"]);
        for link in ["url", "thumb_url"] {
            let link = reqwest::Url::parse(photo[link].as_str().expect("link")).expect("url");
            assert_ne!(link.path(), original_path, "never the original");
        }
    }

    // Deleting the photo keeps the message, without its photo.
    let deleted = with(
        app.client
            .delete(app.url(&format!("/pictures/{}", id_of(&adas_photo)))),
        As::Host(&host),
    )
    .send()
    .await
    .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let messages = list(&app, As::Guest(ada), session_id).await;
    assert_eq!(messages[0]["text"], "mit Foto");
    assert_eq!(messages[0]["photo"], Value::Null);
}

async fn the_host_can_close_the_guestbook(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ada").await;
    let before = write(&app, As::Guest(guest), session_id, "before").await;
    set_settings(&app, &host, session_id, json!({"guestbook": false})).await;
    for who in [As::Guest(guest), As::Host(&host)] {
        let response = post(&app, who, session_id, "hi").await;
        assert_eq!(
            error_code(response, StatusCode::FORBIDDEN).await,
            "guestbook.disabled"
        );
    }
    // What was written stays readable, and can still be deleted.
    assert_eq!(
        texts(&app, As::Nobody, session_id).await,
        vec![pair("Ada", "before")]
    );
    for bad in [json!({"guestbook": "no"}), json!({"guestbook_approval": 1})] {
        let response = app
            .post_json_auth(
                &format!("/sessions/{session_id}/settings"),
                &host.token,
                &json!({ "settings": bad }),
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    let removed = delete(&app, As::Guest(guest), session_id, id_of(&before)).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    set_settings(&app, &host, session_id, json!({"guestbook": true})).await;
    write(&app, As::Guest(guest), session_id, "again").await;
}

async fn a_guestbook_flood_is_stopped_with_429(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ada").await;
    let other = app.join(session_id, "Ben").await;
    let mut limited = None;
    for n in 0..10 {
        let response = post(&app, As::Guest(guest), session_id, &format!("message {n}")).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
            assert_eq!(
                error_code(response, StatusCode::TOO_MANY_REQUESTS).await,
                "guestbook.rate_limited"
            );
            limited = Some(n);
            break;
        }
        assert_eq!(response.status(), StatusCode::CREATED, "message {n}");
    }
    assert_eq!(
        limited,
        Some(3),
        "a burst of 3 passes, the 4th is turned away"
    );
    assert_eq!(
        texts(&app, As::Guest(guest), session_id).await.len(),
        3,
        "the refused message was not stored"
    );
    // The limit is per person.
    write(&app, As::Guest(other), session_id, "mine").await;
}

async fn the_guestbook_stays_open_after_the_event_ended(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ada").await;
    let ended = app
        .post_json_auth(
            &format!("/sessions/{session_id}/end"),
            &host.token,
            &json!({}),
        )
        .await;
    assert_eq!(ended.status(), StatusCode::OK);
    write(&app, As::Guest(guest), session_id, "the morning after").await;
    assert_eq!(
        texts(&app, As::Nobody, session_id).await,
        vec![pair("Ada", "the morning after")]
    );
}

async fn messages_reach_live_viewers_who_may_read_them(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let (ada, ben) = (
        app.join(session_id, "Ada").await,
        app.join(session_id, "Ben").await,
    );
    set_settings(&app, &host, session_id, json!({"guestbook_approval": true})).await;
    let mut hosts = EventStream::open(
        &app,
        &format!("/sessions/{session_id}/events?access_token={}", host.token),
    )
    .await;
    let mut bens =
        EventStream::open(&app, &format!("/sessions/{session_id}/events?userId={ben}")).await;
    // Anybody with the link (a slideshow) gets approved messages.
    let mut slideshow = EventStream::open(&app, &format!("/sessions/{session_id}/events")).await;
    for stream in [&mut hosts, &mut bens, &mut slideshow] {
        stream.next_named("guests", Duration::from_secs(5)).await;
    }

    let pending = write(&app, As::Guest(ada), session_id, "<b>live</b>").await;
    let live = hosts
        .next_named("guestbook.added", Duration::from_secs(10))
        .await;
    assert_eq!(live["id"], pending["id"]);
    assert_eq!(live["text"], "<b>live</b>");
    assert_eq!(live["status"], "pending");

    // Ben and the slideshow hear of it only once approved.
    approve(&app, As::Host(&host), session_id, id_of(&pending)).await;
    for stream in [&mut bens, &mut slideshow] {
        let live = stream
            .next_named("guestbook.added", Duration::from_secs(10))
            .await;
        assert_eq!(live["id"], pending["id"]);
        assert_eq!(live["status"], "approved");
        assert_eq!(live["author_name"], "Ada");
    }

    delete(&app, As::Host(&host), session_id, id_of(&pending)).await;
    let live = slideshow
        .next_named("guestbook.deleted", Duration::from_secs(10))
        .await;
    assert_eq!(live, json!({"id": pending["id"]}));
}

async fn the_host_zip_has_a_printable_guestbook_page_with_the_comments(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let ada = app.join(session_id, "Ada <Admin>").await;
    let first = body(
        app.upload_as_guest(session_id, ada, "image/jpeg", jpeg_bytes(31))
            .await,
    )
    .await;
    let second = app.upload(session_id, jpeg_bytes(32)).await;
    set_settings(&app, &host, session_id, json!({"guestbook_approval": true})).await;
    let attack = "<script>alert('zip')</script> & \"Grüße\"";
    let with_photo = post_body(
        &app,
        As::Guest(ada),
        session_id,
        &json!({"text": attack, "photo_id": id_of(&first)}),
    )
    .await;
    assert_eq!(with_photo.status(), StatusCode::CREATED);
    let with_photo = body(with_photo).await;
    approve(&app, As::Host(&host), session_id, id_of(&with_photo)).await;
    write(&app, As::Guest(ada), session_id, "still pending").await;
    let url = app.url(&format!("/pictures/{}/comments", id_of(&second)));
    let comment = with(app.client.post(url), As::Guest(ada))
        .json(&json!({"text": "<img src=x onerror=alert(1)> schön"}))
        .send()
        .await
        .expect("comment");
    assert_eq!(comment.status(), StatusCode::CREATED);

    let response = app
        .get(&format!(
            "/sessions/{session_id}/download?access_token={}",
            host.token
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.bytes().await.expect("zip bytes");
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a valid zip");
    let names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    let photo_entry = |picture: &Value| {
        let n = if picture["id"] == first["id"] { 1 } else { 2 };
        names
            .iter()
            .find(|name| name.ends_with(&format!("_{n}.jpg")))
            .cloned()
            .expect("photo entry")
    };
    let (first_entry, second_entry) = (photo_entry(&first), photo_entry(&second));
    let mut page = String::new();
    std::io::Read::read_to_string(
        &mut archive.by_name("guestbook.html").expect("guestbook.html"),
        &mut page,
    )
    .expect("utf-8 page");

    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("@media print"));
    assert!(!page.contains("<script"), "no markup from people: {page}");
    assert!(!page.contains("<img src=x"));
    assert!(page.contains(
        "&lt;script&gt;alert(&#x27;zip&#x27;)&lt;&#x2F;script&gt; &amp; &quot;Grüße&quot;"
    ));
    assert!(page.contains("Ada &lt;Admin&gt;"));
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt; schön"));
    assert!(!page.contains("still pending"), "pending messages stay out");
    assert!(
        page.contains(&format!("<img src=\"{first_entry}\"")),
        "{page}"
    );
    assert!(
        page.contains(&format!("<img src=\"{second_entry}\"")),
        "{page}"
    );
    // The guestbook comes before the comments.
    let guestbook_at = page.find("Grüße").expect("message");
    let comment_at = page.find("schön").expect("comment");
    assert!(guestbook_at < comment_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guestbook_messages_reach_a_slideshow_on_another_replica() {
    if crate::helpers::skip_postgres_s3() {
        return;
    }
    let env = BackendEnv::new(Backend::PostgresS3).await;
    let first = TestApp::spawn_on(&env, |_| {}).await;
    let second = TestApp::spawn_on(&env, |_| {}).await;
    let host = first.register().await;
    let session_id = first.create_session(&host).await;
    let guest = first.join(session_id, "Ada").await;
    let mut slideshow = EventStream::open(&second, &format!("/sessions/{session_id}/events")).await;
    slideshow.next_named("guests", Duration::from_secs(5)).await;
    let long = "ü🎉".repeat(500);
    let written = write(&first, As::Guest(guest), session_id, &long).await;
    let live = slideshow
        .next_named("guestbook.added", Duration::from_secs(10))
        .await;
    assert_eq!(live["id"], written["id"]);
    assert_eq!(
        live["text"],
        long.as_str(),
        "the longest message crosses too"
    );
    delete(&second, As::Guest(guest), session_id, id_of(&written)).await;
    let live = slideshow
        .next_named("guestbook.deleted", Duration::from_secs(10))
        .await;
    assert_eq!(live["id"], written["id"]);
    assert!(texts(&first, As::Nobody, session_id).await.is_empty());
}
