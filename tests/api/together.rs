//! Guests together: whose photos (a guest's own, anybody's by id), the most-loved order, the
//! film roll's shots left, and a timed reveal that opens the gallery by itself, live.

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, Host, TestApp, body, error_code, jpeg_bytes};
use crate::live::EventStream;
use crate::on_both_backends;

on_both_backends!(
    a_guest_filters_the_gallery_to_one_uploader_within_what_they_may_see,
    the_most_loved_photos_come_first,
    bad_gallery_filters_are_rejected,
    a_guest_learns_how_many_shots_are_left,
    a_timed_reveal_opens_the_gallery_by_itself_and_tells_live_viewers,
    a_reveal_time_must_be_a_date,
    guests_download_what_the_host_allows,
);

async fn gallery(app: &TestApp, query: &str, guest: Option<Uuid>) -> Vec<Value> {
    let mut request = app
        .client
        .get(app.url(&format!("/pictures/session?{query}")));
    if let Some(guest) = guest {
        request = request.header("X-Guest-Id", guest.to_string());
    }
    let response = request.send().await.expect("gallery");
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    body(response).await.as_array().expect("array").clone()
}

fn ids(pictures: &[Value]) -> Vec<&str> {
    pictures
        .iter()
        .map(|p| p["id"].as_str().expect("id"))
        .collect()
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

async fn upload(app: &TestApp, session_id: Uuid, guest: Uuid, seed: u8) -> Value {
    let response = app
        .upload_as_guest(session_id, guest, "image/jpeg", jpeg_bytes(seed))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    body(response).await
}

async fn a_guest_filters_the_gallery_to_one_uploader_within_what_they_may_see(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let (ada, ben) = (
        app.join(session_id, "Ada").await,
        app.join(session_id, "Ben").await,
    );
    let adas = upload(&app, session_id, ada, 1).await;
    let bens = upload(&app, session_id, ben, 2).await;

    let mine = gallery(
        &app,
        &format!("sessionId={session_id}&uploader={ada}"),
        Some(ada),
    )
    .await;
    assert_eq!(ids(&mine), [adas["id"].as_str().expect("id")]);
    let his = gallery(
        &app,
        &format!("sessionId={session_id}&uploader={ben}"),
        None,
    )
    .await;
    assert_eq!(ids(&his), [bens["id"].as_str().expect("id")]);
    // The whole gallery, served from the cache after the filtered pages: both photos.
    assert_eq!(
        gallery(&app, &format!("sessionId={session_id}"), None)
            .await
            .len(),
        2
    );

    // With pre-approval Ben's next photo waits: Ada's filter on Ben does not show it, Ben's own does.
    set_settings(&app, &host, session_id, json!({"require_approval": true})).await;
    let pending = upload(&app, session_id, ben, 3).await;
    assert_eq!(pending["status"], "pending");
    let for_ada = gallery(
        &app,
        &format!("sessionId={session_id}&uploader={ben}"),
        Some(ada),
    )
    .await;
    assert_eq!(ids(&for_ada), [bens["id"].as_str().expect("id")]);
    let for_ben = gallery(
        &app,
        &format!("sessionId={session_id}&uploader={ben}"),
        Some(ben),
    )
    .await;
    assert_eq!(for_ben.len(), 2);
}

async fn react(app: &TestApp, guest: Uuid, picture: &Value, reaction: &str) {
    let response = app
        .client
        .put(app.url(&format!(
            "/pictures/{}/reaction",
            picture["id"].as_str().expect("id")
        )))
        .header("X-Guest-Id", guest.to_string())
        .json(&json!({ "reaction": reaction }))
        .send()
        .await
        .expect("react");
    assert_eq!(response.status(), StatusCode::OK);
}

async fn the_most_loved_photos_come_first(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guests = [
        app.join(session_id, "Ada").await,
        app.join(session_id, "Ben").await,
        app.join(session_id, "Cem").await,
    ];
    let first = upload(&app, session_id, guests[0], 11).await;
    let second = upload(&app, session_id, guests[1], 12).await;
    let third = upload(&app, session_id, guests[2], 13).await;
    // Cached before the reactions: the loved order must not come from a stale page.
    gallery(&app, &format!("sessionId={session_id}&sort=loved"), None).await;
    for guest in guests {
        react(&app, guest, &first, "heart").await;
    }
    react(&app, guests[0], &third, "party").await;

    let loved = gallery(&app, &format!("sessionId={session_id}&sort=loved"), None).await;
    let id = |p: &Value| p["id"].as_str().expect("id").to_owned();
    assert_eq!(
        ids(&loved),
        [id(&first), id(&third), id(&second)],
        "most reactions first, then newest"
    );
    assert_eq!(loved[0]["reactions"]["heart"], 3);
    let top = gallery(
        &app,
        &format!("sessionId={session_id}&sort=loved&limit=1"),
        None,
    )
    .await;
    assert_eq!(ids(&top), [id(&first)]);
    let newest = gallery(&app, &format!("sessionId={session_id}&sort=newest"), None).await;
    assert_eq!(ids(&newest), [id(&third), id(&second), id(&first)]);
}

async fn bad_gallery_filters_are_rejected(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ada").await;
    let picture = upload(&app, session_id, guest, 21).await;
    for query in [
        format!("sessionId={session_id}&sort=best"),
        format!("sessionId={session_id}&uploader=ada"),
        format!(
            "sessionId={session_id}&sort=loved&before={}",
            picture["id"].as_str().expect("id")
        ),
    ] {
        let response = app.get(&format!("/pictures/session?{query}")).await;
        assert_eq!(
            error_code(response, StatusCode::BAD_REQUEST).await,
            "request.invalid_field",
            "{query}"
        );
    }
}

async fn login(app: &TestApp, session_id: Uuid, guest: Uuid) -> Value {
    let response = app
        .post_json(
            "/sessions/loginSessionUser",
            &json!({"userId": guest, "sessionId": session_id}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await
}

async fn a_guest_learns_how_many_shots_are_left(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let joined = app
        .post_json(
            "/sessions/registerSessionUser",
            &json!({"username": "Ada", "sessionId": session_id}),
        )
        .await;
    assert_eq!(joined.status(), StatusCode::CREATED);
    let joined = body(joined).await;
    assert_eq!(joined["uploads"], 0);
    assert_eq!(joined["uploads_left"], Value::Null, "no limit set");
    let guest: Uuid = joined["id"].as_str().expect("id").parse().expect("uuid");

    set_settings(
        &app,
        &host,
        session_id,
        json!({"upload_limit_per_guest": 2}),
    )
    .await;
    assert_eq!(login(&app, session_id, guest).await["uploads_left"], 2);
    upload(&app, session_id, guest, 31).await;
    let after_one = login(&app, session_id, guest).await;
    assert_eq!(
        (
            after_one["uploads"].clone(),
            after_one["uploads_left"].clone()
        ),
        (json!(1), json!(1))
    );
    upload(&app, session_id, guest, 32).await;
    assert_eq!(login(&app, session_id, guest).await["uploads_left"], 0);
    // The roll is full: init refuses at once.
    let refused = app
        .post_json(
            "/pictures/init-upload",
            &json!({"session_id": session_id, "mimetype": "image/jpeg", "user_id": guest}),
        )
        .await;
    assert_eq!(
        error_code(refused, StatusCode::FORBIDDEN).await,
        "upload.limit_reached"
    );
    assert_eq!(login(&app, session_id, guest).await["uploads_left"], 0);
}

async fn a_timed_reveal_opens_the_gallery_by_itself_and_tells_live_viewers(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let (ada, ben) = (
        app.join(session_id, "Ada").await,
        app.join(session_id, "Ben").await,
    );
    let reveal_at = Utc::now() + chrono::Duration::seconds(3);
    set_settings(
        &app,
        &host,
        session_id,
        json!({"reveal_at": reveal_at.to_rfc3339()}),
    )
    .await;
    upload(&app, session_id, ada, 41).await;
    let bens = upload(&app, session_id, ben, 42).await;

    // Before the time: Ada sees her own photo only; the event says it is not revealed yet.
    let before = gallery(&app, &format!("sessionId={session_id}"), Some(ada)).await;
    assert_eq!(before.len(), 1);
    let event = body(
        app.get(&format!("/sessions/get?sessionId={session_id}"))
            .await,
    )
    .await;
    assert_ne!(event["settings"]["revealed"], true);

    let mut stream =
        EventStream::open(&app, &format!("/sessions/{session_id}/events?userId={ada}")).await;
    stream.next_named("guests", Duration::from_secs(5)).await;
    // Nobody asks; at the time the live view hears of it.
    let updated = stream
        .next_named("session.updated", Duration::from_secs(10))
        .await;
    assert!(Utc::now() >= reveal_at, "not before the time");
    assert_eq!(updated["settings"]["revealed"], true);

    let after = gallery(&app, &format!("sessionId={session_id}"), Some(ada)).await;
    assert_eq!(after.len(), 2, "the cached page from before is not served");
    assert!(ids(&after).contains(&bens["id"].as_str().expect("id")));
    let event = body(
        app.get(&format!("/sessions/get?sessionId={session_id}"))
            .await,
    )
    .await;
    assert_eq!(event["settings"]["revealed"], true);
}

async fn a_reveal_time_must_be_a_date(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    for bad in [json!("tomorrow"), json!(12), json!(true)] {
        let response = app
            .post_json_auth(
                &format!("/sessions/{session_id}/settings"),
                &host.token,
                &json!({ "settings": {"reveal_at": bad} }),
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    // Removing it is fine.
    set_settings(&app, &host, session_id, json!({"reveal_at": null})).await;
}

async fn wait_for_variants(
    app: &TestApp,
    session_id: Uuid,
    guest: Uuid,
    count: usize,
) -> Vec<Value> {
    let ready = crate::helpers::eventually(Duration::from_secs(60), || async {
        let page = gallery(app, &format!("sessionId={session_id}"), Some(guest)).await;
        page.len() == count && page.iter().all(|p| p["variants"] == "ready")
    })
    .await;
    let last = gallery(app, &format!("sessionId={session_id}"), Some(guest)).await;
    assert!(ready, "variants not made: {last:?}");
    gallery(app, &format!("sessionId={session_id}"), Some(guest)).await
}

async fn fetch(app: &TestApp, url: &str) -> Vec<u8> {
    let response = app.client.get(url).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    response.bytes().await.expect("bytes").to_vec()
}

/// A small photo that decodes (its variants get made), different for every seed.
fn real_jpeg(seed: u8) -> Vec<u8> {
    let image = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([seed, (x * 4) as u8, (y * 5) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode");
    out.into_inner()
}

fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).expect("entry");
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut content).expect("read");
            (entry.name().to_owned(), content)
        })
        .collect()
}

async fn guests_download_what_the_host_allows(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let (ada, ben) = (
        app.join(session_id, "Ada").await,
        app.join(session_id, "Ben").await,
    );
    let originals = [real_jpeg(51), real_jpeg(52)];
    for (guest, bytes) in [(ada, &originals[0]), (ben, &originals[1])] {
        let response = app
            .upload_as_guest(session_id, guest, "image/jpeg", bytes.clone())
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let pictures = wait_for_variants(&app, session_id, ada, 2).await;
    let photo_id = pictures[0]["id"].as_str().expect("id");
    let display = fetch(&app, pictures[0]["url"].as_str().expect("url")).await;

    // By default a guest downloads single photos: the display copy, never the original.
    let single = no_redirects
        .get(app.url(&format!("/pictures/{photo_id}/download?userId={ada}")))
        .send()
        .await
        .expect("download");
    assert_eq!(single.status(), StatusCode::FOUND);
    let location = single.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert_eq!(fetch(&app, &location).await, display);
    // The host gets the original.
    let hosts = no_redirects
        .get(app.url(&format!("/pictures/{photo_id}/download")))
        .bearer_auth(&host.token)
        .send()
        .await
        .expect("download");
    assert_eq!(hosts.status(), StatusCode::FOUND);
    let original = fetch(
        &app,
        hosts.headers()["location"].to_str().expect("location"),
    )
    .await;
    assert!(originals.contains(&original));

    // The whole event only with "all".
    let zip_path = format!("/sessions/{session_id}/guest-download");
    let refused = app.get(&format!("{zip_path}?userId={ada}")).await;
    assert_eq!(
        error_code(refused, StatusCode::FORBIDDEN).await,
        "download.disabled"
    );
    set_settings(
        &app,
        &host,
        session_id,
        json!({"guest_downloads": "all", "require_approval": true}),
    )
    .await;
    // A photo still waiting for approval is not in anybody else's ZIP.
    upload(&app, session_id, ben, 53).await;
    let nameless = app.get(&zip_path).await;
    assert_eq!(
        error_code(nameless, StatusCode::UNAUTHORIZED).await,
        "download.identity_required"
    );
    let other_session = app.create_session(&host).await;
    let stranger = app.join(other_session, "Cem").await;
    let foreign = app.get(&format!("{zip_path}?userId={stranger}")).await;
    assert_eq!(
        error_code(foreign, StatusCode::FORBIDDEN).await,
        "guest.other_event"
    );

    let response = app.get(&format!("{zip_path}?userId={ada}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let entries = unzip(&response.bytes().await.expect("zip"));
    assert_eq!(entries.len(), 2, "approved photos only");
    for (name, content) in &entries {
        assert!(name.ends_with(".jpg"), "{name}");
        assert!(
            !originals.contains(content),
            "{name}: a guest got an original"
        );
    }
    assert!(entries.iter().any(|(_, content)| *content == display));

    // With guest_originals the guests' ZIP holds the originals.
    set_settings(&app, &host, session_id, json!({"guest_originals": true})).await;
    let response = app.get(&format!("{zip_path}?userId={ada}")).await;
    let entries = unzip(&response.bytes().await.expect("zip"));
    assert_eq!(entries.len(), 2);
    assert!(
        entries
            .iter()
            .all(|(_, content)| originals.contains(content))
    );

    // "none": no single photos either.
    set_settings(&app, &host, session_id, json!({"guest_downloads": "none"})).await;
    let none = app
        .get(&format!("/pictures/{photo_id}/download?userId={ada}"))
        .await;
    assert_eq!(
        error_code(none, StatusCode::FORBIDDEN).await,
        "download.disabled"
    );
    for bad in [json!("everything"), json!(true)] {
        let response = app
            .post_json_auth(
                &format!("/sessions/{session_id}/settings"),
                &host.token,
                &json!({ "settings": {"guest_downloads": bad} }),
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}
