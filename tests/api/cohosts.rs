//! Co-hosts: the owner invites another host by a one-time link; the co-host then runs the event
//! (moderation, settings, downloads, the host gallery) but cannot delete it, invite or remove
//! anybody but themselves. Used, expired and unknown links, and hosts of other events, get a
//! clear 4xx that changes nothing.

use chrono::TimeDelta;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use std::time::Duration;

use crate::helpers::{Backend, Host, TestApp, body, error_code, jpeg_bytes};
use crate::live::EventStream;
use crate::on_both_backends;

on_both_backends!(
    an_invited_co_host_moderates_changes_settings_downloads_and_sees_the_host_gallery,
    a_co_host_cannot_delete_the_event_invite_or_remove_the_owner,
    used_expired_and_unknown_links_are_refused_and_change_nothing,
    hosts_of_other_events_guests_and_anonymous_callers_are_refused,
    a_removed_co_host_is_refused_afterwards_and_a_co_host_may_leave,
    of_two_concurrent_accepts_one_wins,
    a_co_host_follows_live_as_the_host_until_removed,
    a_flood_of_co_host_links_is_stopped_with_429,
    a_co_host_writes_approves_and_deletes_in_the_guestbook,
);

async fn send(app: &TestApp, method: Method, path: &str, host: Option<&Host>) -> Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(host) = host {
        request = request.bearer_auth(&host.token);
    }
    request.send().await.expect("request")
}

async fn send_json(
    app: &TestApp,
    method: Method,
    path: &str,
    host: Option<&Host>,
    json: &Value,
) -> Response {
    let mut request = app.client.request(method, app.url(path)).json(json);
    if let Some(host) = host {
        request = request.bearer_auth(&host.token);
    }
    request.send().await.expect("request")
}

async fn invite_response(app: &TestApp, host: &Host, session_id: Uuid) -> Response {
    send(
        app,
        Method::POST,
        &format!("/sessions/{session_id}/cohost-invites"),
        Some(host),
    )
    .await
}

/// A new co-host link's token.
async fn invite(app: &TestApp, owner: &Host, session_id: Uuid) -> String {
    let response = invite_response(app, owner, session_id).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let invite = body(response).await;
    let token = invite["token"].as_str().expect("token").to_owned();
    assert_eq!(token.len(), 64, "32 random bytes in hex");
    let url = invite["url"].as_str().expect("url");
    assert!(url.ends_with(&format!("/cohost#{token}")), "{url}");
    assert!(invite["expires_at"].is_string(), "{invite}");
    token
}

async fn accept(app: &TestApp, host: &Host, token: &str) -> Response {
    send_json(
        app,
        Method::POST,
        "/sessions/cohost-invites/accept",
        Some(host),
        &json!({ "token": token }),
    )
    .await
}

/// A registered host made a co-host of the event.
async fn co_host_of(app: &TestApp, owner: &Host, session_id: Uuid) -> Host {
    let co_host = app.register().await;
    let token = invite(app, owner, session_id).await;
    let response = accept(app, &co_host, &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let accepted = body(response).await;
    assert_eq!(accepted["session_id"], session_id.to_string());
    assert_eq!(accepted["role"], "co_host");
    co_host
}

async fn settings(
    app: &TestApp,
    host: Option<&Host>,
    session_id: Uuid,
    settings: Value,
) -> Response {
    send_json(
        app,
        Method::POST,
        &format!("/sessions/{session_id}/settings"),
        host,
        &json!({ "settings": settings }),
    )
    .await
}

async fn cohosts(app: &TestApp, host: Option<&Host>, session_id: Uuid) -> Response {
    send(
        app,
        Method::GET,
        &format!("/sessions/{session_id}/cohosts"),
        host,
    )
    .await
}

async fn remove(app: &TestApp, host: Option<&Host>, session_id: Uuid, who: Uuid) -> Response {
    send(
        app,
        Method::DELETE,
        &format!("/sessions/{session_id}/cohosts/{who}"),
        host,
    )
    .await
}

/// (host id, role) of each host the event lists.
async fn hosts_of(app: &TestApp, owner: &Host, session_id: Uuid) -> Vec<(String, String)> {
    let response = cohosts(app, Some(owner), session_id).await;
    assert_eq!(response.status(), StatusCode::OK);
    body(response)
        .await
        .as_array()
        .expect("array")
        .iter()
        .map(|h| {
            (
                h["host_id"].as_str().expect("host_id").to_owned(),
                h["role"].as_str().expect("role").to_owned(),
            )
        })
        .collect()
}

/// The role each of the host's events lists for them, by event id.
async fn my_roles(app: &TestApp, host: &Host) -> Vec<(String, String)> {
    let response = send(app, Method::GET, "/sessions/mine", Some(host)).await;
    assert_eq!(response.status(), StatusCode::OK);
    body(response)
        .await
        .as_array()
        .expect("array")
        .iter()
        .map(|s| {
            (
                s["id"].as_str().expect("id").to_owned(),
                s["role"].as_str().expect("role").to_owned(),
            )
        })
        .collect()
}

async fn event_exists(app: &TestApp, session_id: Uuid) -> bool {
    let response = app
        .get(&format!("/sessions/get?sessionId={session_id}"))
        .await;
    response.status() == StatusCode::OK
}

async fn an_invited_co_host_moderates_changes_settings_downloads_and_sees_the_host_gallery(
    backend: Backend,
) {
    let (app, _env) = TestApp::spawn(backend).await;
    let owner = app.register().await;
    let session_id = app.create_session(&owner).await;
    let co_host = co_host_of(&app, &owner, session_id).await;

    assert_eq!(
        my_roles(&app, &co_host).await,
        vec![(session_id.to_string(), "co_host".to_owned())]
    );
    assert_eq!(
        my_roles(&app, &owner).await,
        vec![(session_id.to_string(), "owner".to_owned())]
    );
    assert_eq!(
        hosts_of(&app, &co_host, session_id).await,
        vec![
            (owner.id.to_string(), "owner".to_owned()),
            (co_host.id.to_string(), "co_host".to_owned()),
        ]
    );

    // Settings: pre-approval on, by the co-host.
    let response = settings(
        &app,
        Some(&co_host),
        session_id,
        json!({"require_approval": true}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await["settings"]["require_approval"], true);

    // A guest's photo waits; the co-host sees it with its original, as the owner does.
    let guest = app.join(session_id, "Ada").await;
    let finalized = app
        .upload_as_guest(session_id, guest, "image/jpeg", jpeg_bytes(1))
        .await;
    assert_eq!(finalized.status(), StatusCode::CREATED);
    let pending = body(finalized).await;
    assert_eq!(pending["status"], "pending");
    let photo_id = pending["id"].as_str().expect("id").to_owned();
    let co_view = app.host_gallery(&co_host, session_id).await;
    let owner_view = app.host_gallery(&owner, session_id).await;
    assert_eq!(co_view.as_array().map(Vec::len), Some(1), "{co_view}");
    let without_query = |view: &Value| {
        let url = view[0]["url"].as_str().expect("url").to_owned();
        url.split('?').next().unwrap_or_default().to_owned()
    };
    assert_eq!(co_view[0]["id"], photo_id.as_str());
    assert_eq!(
        without_query(&co_view),
        without_query(&owner_view),
        "the original"
    );
    let anonymous = body(
        app.get(&format!("/pictures/session?sessionId={session_id}"))
            .await,
    )
    .await;
    assert_eq!(anonymous, json!([]), "a pending photo stays hidden");

    // Moderation: approve.
    let response = send(
        &app,
        Method::POST,
        &format!("/pictures/{photo_id}/approve"),
        Some(&co_host),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await["status"], "approved");

    // Comments: the guest's goes, deleted by the co-host; the co-host's reads as the host's.
    let comment = app
        .client
        .post(app.url(&format!("/pictures/{photo_id}/comments")))
        .header("X-Guest-Id", guest.to_string())
        .json(&json!({"text": "Lovely"}))
        .send()
        .await
        .expect("request");
    assert_eq!(comment.status(), StatusCode::CREATED);
    let comment_id = body(comment).await["id"].as_str().expect("id").to_owned();
    let response = send(
        &app,
        Method::DELETE,
        &format!("/pictures/{photo_id}/comments/{comment_id}"),
        Some(&co_host),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let own = send_json(
        &app,
        Method::POST,
        &format!("/pictures/{photo_id}/comments"),
        Some(&co_host),
        &json!({"text": "Thanks for coming"}),
    )
    .await;
    assert_eq!(own.status(), StatusCode::CREATED);
    assert_eq!(body(own).await["by_host"], true);

    // Downloads: the ZIP of the event.
    let zip = send(
        &app,
        Method::GET,
        &format!("/sessions/{session_id}/download"),
        Some(&co_host),
    )
    .await;
    assert_eq!(zip.status(), StatusCode::OK);
    let bytes = zip.bytes().await.expect("zip");
    assert!(bytes.starts_with(b"PK"), "a ZIP archive");

    // Moderation: delete.
    let response = send(
        &app,
        Method::DELETE,
        &format!("/pictures/{photo_id}"),
        Some(&co_host),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.host_gallery(&owner, session_id).await, json!([]));
}

async fn a_co_host_cannot_delete_the_event_invite_or_remove_the_owner(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let owner = app.register().await;
    let session_id = app.create_session(&owner).await;
    let co_host = co_host_of(&app, &owner, session_id).await;
    let second = co_host_of(&app, &owner, session_id).await;

    let delete = send(
        &app,
        Method::POST,
        &format!("/sessions/{session_id}/delete"),
        Some(&co_host),
    )
    .await;
    assert_eq!(
        error_code(delete, StatusCode::FORBIDDEN).await,
        "event.owner_only"
    );
    assert!(event_exists(&app, session_id).await);

    let invite = invite_response(&app, &co_host, session_id).await;
    assert_eq!(
        error_code(invite, StatusCode::FORBIDDEN).await,
        "event.owner_only"
    );
    for target in [owner.id, second.id] {
        let response = remove(&app, Some(&co_host), session_id, target).await;
        assert_eq!(
            error_code(response, StatusCode::FORBIDDEN).await,
            "event.owner_only"
        );
    }
    // Nor can the owner remove themselves.
    let response = remove(&app, Some(&owner), session_id, owner.id).await;
    assert_eq!(
        error_code(response, StatusCode::BAD_REQUEST).await,
        "request.invalid_field"
    );
    assert_eq!(hosts_of(&app, &owner, session_id).await.len(), 3);
}

async fn used_expired_and_unknown_links_are_refused_and_change_nothing(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let owner = app.register().await;
    let session_id = app.create_session(&owner).await;
    let (ada, ben) = (app.register().await, app.register().await);
    let token = invite(&app, &owner, session_id).await;

    // The owner's own link: refused, and still unused.
    let own = accept(&app, &owner, &token).await;
    assert_eq!(
        error_code(own, StatusCode::CONFLICT).await,
        "cohost_invite.own_event"
    );
    let response = accept(&app, &ada, &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    // A co-host with a second link: refused, and that link stays unused for somebody else.
    let second = invite(&app, &owner, session_id).await;
    let again = accept(&app, &ada, &second).await;
    assert_eq!(
        error_code(again, StatusCode::CONFLICT).await,
        "cohost.already"
    );

    // Reused: 410 for anybody, Ben gains nothing.
    let reused = accept(&app, &ben, &token).await;
    assert_eq!(reused.status(), StatusCode::GONE);
    assert_eq!(body(reused).await["code"], "cohost_invite.used");
    let refused = settings(&app, Some(&ben), session_id, json!({"revealed": true})).await;
    assert_eq!(
        error_code(refused, StatusCode::FORBIDDEN).await,
        "event.not_host"
    );

    // Unknown, malformed, missing.
    for unknown in ["0".repeat(64), "not-a-token".to_owned(), "x".repeat(500)] {
        let response = accept(&app, &ben, &unknown).await;
        assert_eq!(
            error_code(response, StatusCode::NOT_FOUND).await,
            "cohost_invite.not_found"
        );
    }
    let missing = send_json(
        &app,
        Method::POST,
        "/sessions/cohost-invites/accept",
        Some(&ben),
        &json!({}),
    )
    .await;
    assert_eq!(
        error_code(missing, StatusCode::BAD_REQUEST).await,
        "request.missing_field"
    );
    let not_logged_in = send_json(
        &app,
        Method::POST,
        "/sessions/cohost-invites/accept",
        None,
        &json!({ "token": second }),
    )
    .await;
    assert_eq!(not_logged_in.status(), StatusCode::UNAUTHORIZED);

    // Expired: the second link, tried eight days on (the workflow's clock moved).
    let ben_host = partypic::app::Host {
        id: ben.id,
        email: ben.email.clone(),
    };
    let later = partypic::app::now() + TimeDelta::days(8);
    let expired = partypic::app::cohosts::accept(app.state(), &ben_host, &second, later).await;
    assert_eq!(
        expired.err().map(|e| e.code().as_str()),
        Some("cohost_invite.expired")
    );
    assert_eq!(
        hosts_of(&app, &owner, session_id).await,
        vec![
            (owner.id.to_string(), "owner".to_owned()),
            (ada.id.to_string(), "co_host".to_owned()),
        ]
    );
    // Still good today: Ben takes it.
    assert_eq!(accept(&app, &ben, &second).await.status(), StatusCode::OK);
}

async fn hosts_of_other_events_guests_and_anonymous_callers_are_refused(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let owner = app.register().await;
    let session_id = app.create_session(&owner).await;
    let co_host = co_host_of(&app, &owner, session_id).await;
    let stranger = app.register().await;
    let own_event = app.create_session(&stranger).await;
    let guest = app.join(session_id, "Ada").await;

    // A host of another event.
    let response = invite_response(&app, &stranger, session_id).await;
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "event.not_host"
    );
    let response = cohosts(&app, Some(&stranger), session_id).await;
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "event.not_host"
    );
    let response = remove(&app, Some(&stranger), session_id, co_host.id).await;
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "event.not_host"
    );
    let response = settings(&app, Some(&stranger), session_id, json!({"revealed": true})).await;
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "event.not_host"
    );
    // A co-host of one event is nobody at another.
    let response = settings(&app, Some(&co_host), own_event, json!({"revealed": true})).await;
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "event.not_host"
    );
    assert_eq!(
        my_roles(&app, &co_host).await,
        vec![(session_id.to_string(), "co_host".to_owned())]
    );

    // A guest (no host token) and anybody.
    let as_guest = app
        .client
        .get(app.url(&format!("/sessions/{session_id}/cohosts")))
        .header("X-Guest-Id", guest.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(as_guest.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        cohosts(&app, None, session_id).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(
            &app,
            Method::POST,
            &format!("/sessions/{session_id}/cohost-invites"),
            None
        )
        .await
        .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        remove(&app, None, session_id, co_host.id).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Unknown event, malformed ids.
    let response = invite_response(&app, &owner, Uuid::new_v4()).await;
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "event.not_found"
    );
    let response = send(
        &app,
        Method::DELETE,
        &format!("/sessions/{session_id}/cohosts/not-a-uuid"),
        Some(&owner),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(hosts_of(&app, &owner, session_id).await.len(), 2);
}

async fn a_removed_co_host_is_refused_afterwards_and_a_co_host_may_leave(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let owner = app.register().await;
    let session_id = app.create_session(&owner).await;
    let co_host = co_host_of(&app, &owner, session_id).await;
    let leaver = co_host_of(&app, &owner, session_id).await;
    let picture = app.upload(session_id, jpeg_bytes(3)).await;
    let photo_id = picture["id"].as_str().expect("id");

    let response = remove(&app, Some(&owner), session_id, co_host.id).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = settings(&app, Some(&co_host), session_id, json!({"revealed": true})).await;
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "event.not_host"
    );
    let response = send(
        &app,
        Method::DELETE,
        &format!("/pictures/{photo_id}"),
        Some(&co_host),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = send(
        &app,
        Method::GET,
        &format!("/sessions/{session_id}/download"),
        Some(&co_host),
    )
    .await;
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "event.not_host"
    );
    assert!(my_roles(&app, &co_host).await.is_empty());
    let again = remove(&app, Some(&owner), session_id, co_host.id).await;
    assert_eq!(
        error_code(again, StatusCode::NOT_FOUND).await,
        "cohost.not_found"
    );

    // Leaving: a co-host removes themselves.
    let response = remove(&app, Some(&leaver), session_id, leaver.id).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        hosts_of(&app, &owner, session_id).await,
        vec![(owner.id.to_string(), "owner".to_owned())]
    );
    assert_eq!(
        app.host_gallery(&owner, session_id)
            .await
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

async fn of_two_concurrent_accepts_one_wins(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let owner = app.register().await;
    let session_id = app.create_session(&owner).await;
    let (ada, ben) = (app.register().await, app.register().await);
    let token = invite(&app, &owner, session_id).await;
    let (first, second) = tokio::join!(accept(&app, &ada, &token), accept(&app, &ben, &token));
    let mut statuses = [first.status(), second.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::GONE]);
    let hosts = hosts_of(&app, &owner, session_id).await;
    assert_eq!(hosts.len(), 2, "{hosts:?}");
}

async fn a_co_host_follows_live_as_the_host_until_removed(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let owner = app.register().await;
    let session_id = app.create_session(&owner).await;
    let co_host = co_host_of(&app, &owner, session_id).await;
    let response = settings(
        &app,
        Some(&owner),
        session_id,
        json!({"require_approval": true}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut live = EventStream::open(
        &app,
        &format!(
            "/sessions/{session_id}/events?access_token={}",
            co_host.token
        ),
    )
    .await;
    // A pending photo reaches the host view only.
    let guest = app.join(session_id, "Ada").await;
    let finalized = app
        .upload_as_guest(session_id, guest, "image/jpeg", jpeg_bytes(7))
        .await;
    assert_eq!(finalized.status(), StatusCode::CREATED);
    let created = live
        .next_named("picture.created", Duration::from_secs(10))
        .await;
    assert_eq!(created["status"], "pending");

    let response = remove(&app, Some(&owner), session_id, co_host.id).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        live.ends_within(Duration::from_secs(10)).await,
        "the removed co-host's live view ends"
    );
}

async fn a_flood_of_co_host_links_is_stopped_with_429(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let owner = app.register().await;
    let session_id = app.create_session(&owner).await;
    for _ in 0..20 {
        let response = invite_response(&app, &owner, session_id).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let flooded = invite_response(&app, &owner, session_id).await;
    assert!(flooded.headers().contains_key("retry-after"));
    assert_eq!(
        error_code(flooded, StatusCode::TOO_MANY_REQUESTS).await,
        "cohost_invite.rate_limited"
    );
    // Per owner: another host's links are not held up.
    let other = app.register().await;
    let own_event = app.create_session(&other).await;
    let response = invite_response(&app, &other, own_event).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

async fn a_co_host_writes_approves_and_deletes_in_the_guestbook(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let owner = app.register().await;
    let session_id = app.create_session(&owner).await;
    let co_host = co_host_of(&app, &owner, session_id).await;
    let guestbook = format!("/sessions/{session_id}/guestbook");

    // Written under the co-host's own id, shown as written by a host.
    let response = send_json(
        &app,
        Method::POST,
        &guestbook,
        Some(&co_host),
        &json!({"text": "Willkommen!"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let mine = body(response).await;
    assert_eq!(mine["author_id"], co_host.id.to_string());
    assert_eq!(mine["by_host"], true);

    // A guest's message waits for approval; the co-host approves it, then deletes it.
    let response = settings(
        &app,
        Some(&co_host),
        session_id,
        json!({"guestbook_approval": true}),
    )
    .await;
    assert!(response.status().is_success(), "{}", response.status());
    let guest = app.join(session_id, "Ada").await;
    let response = app
        .client
        .post(app.url(&guestbook))
        .header("X-Guest-Id", guest.to_string())
        .json(&json!({"text": "Danke!"}))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::CREATED);
    let theirs = body(response).await;
    assert_eq!(theirs["status"], "pending");
    let id = theirs["id"].as_str().expect("id").to_owned();
    let response = send(
        &app,
        Method::POST,
        &format!("{guestbook}/{id}/approve"),
        Some(&co_host),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await["status"], "approved");
    let response = send(
        &app,
        Method::DELETE,
        &format!("{guestbook}/{id}"),
        Some(&co_host),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // The owner's list still shows the co-host's message as a host's.
    let listed = body(send(&app, Method::GET, &guestbook, Some(&owner)).await).await;
    let listed = listed.as_array().expect("array");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["by_host"], true);
}
