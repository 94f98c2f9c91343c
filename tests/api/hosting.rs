//! The host's endpoints: who may do what (anonymous / guest / host / other host), and what they do.

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, assert_error, body, jpeg_bytes};
use crate::on_both_backends;

on_both_backends!(
    me_returns_the_logged_in_host,
    mine_lists_only_the_hosts_own_events_with_counts,
    only_the_host_changes_settings_or_ends_the_event,
    deleting_a_picture_follows_the_authorization_matrix,
    approving_is_for_the_host_only,
    the_zip_download_holds_every_approved_photo_for_the_host_only,
    a_selection_downloads_as_a_zip_by_form_or_json,
    the_qr_code_encodes_the_join_link,
    the_gallery_pages_with_limit_and_before,
);

async fn me_returns_the_logged_in_host(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    assert_error(app.get("/auth/me").await, StatusCode::UNAUTHORIZED).await;
    let host = app.register().await;
    let me = app
        .client
        .get(app.url("/auth/me"))
        .bearer_auth(&host.token)
        .send()
        .await
        .expect("request");
    assert_eq!(me.status(), StatusCode::OK);
    let me = body(me).await;
    assert_eq!(me["id"], host.id.to_string());
    assert_eq!(me["email"], host.email);
    assert_eq!(me["username"], "Host");
}

async fn mine_lists_only_the_hosts_own_events_with_counts(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let other = app.register().await;
    let first = app.create_session(&host).await;
    let second = app.create_session(&host).await;
    app.create_session(&other).await;
    app.join(second, "Ben").await;
    app.upload(second, jpeg_bytes(1)).await;
    assert_error(app.get("/sessions/mine").await, StatusCode::UNAUTHORIZED).await;
    let mine = app
        .client
        .get(app.url("/sessions/mine"))
        .bearer_auth(&host.token)
        .send()
        .await
        .expect("request");
    assert_eq!(mine.status(), StatusCode::OK);
    let mine = body(mine).await;
    let ids: Vec<_> = mine
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(second), json!(first)]);
    assert_eq!(mine[0]["picture_count"], 1);
    assert_eq!(mine[0]["guest_count"], 1);
    assert_eq!(mine[1]["picture_count"], 0);
}

async fn only_the_host_changes_settings_or_ends_the_event(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let other = app.register().await;
    let session_id = app.create_session(&host).await;
    let path = format!("/sessions/{session_id}/settings");
    let change =
        json!({"settings": {"require_approval": true, "description": "Bring your phone!"}});
    assert_error(
        app.post_json(&path, &change).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_error(
        app.post_json_auth(&path, &other.token, &change).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let updated = app.post_json_auth(&path, &host.token, &change).await;
    assert_eq!(updated.status(), StatusCode::OK);
    let updated = body(updated).await;
    assert_eq!(updated["settings"]["require_approval"], true);
    assert_eq!(
        updated["settings"]["name"], "Wedding",
        "other settings are kept"
    );
    let invalid = app
        .post_json_auth(
            &path,
            &host.token,
            &json!({"settings": {"reveal": "sometimes"}}),
        )
        .await;
    assert_error(invalid, StatusCode::BAD_REQUEST).await;
    let unknown = app
        .post_json_auth(
            &format!("/sessions/{}/settings", Uuid::new_v4()),
            &host.token,
            &change,
        )
        .await;
    assert_error(unknown, StatusCode::NOT_FOUND).await;
    assert_error(
        app.post_json_auth("/sessions/nope/settings", &host.token, &change)
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    let end = format!("/sessions/{session_id}/end");
    assert_error(
        app.post_json(&end, &json!({})).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_error(
        app.post_json_auth(&end, &other.token, &json!({})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let ended = app.post_json_auth(&end, &host.token, &json!({})).await;
    assert_eq!(ended.status(), StatusCode::OK);
    let ends_at = body(ended).await["ends_at"]
        .as_str()
        .expect("ends_at")
        .to_owned();
    let ends_at = chrono::DateTime::parse_from_rfc3339(&ends_at).expect("date");
    assert!(ends_at <= chrono::Utc::now());
}

async fn deleting_a_picture_follows_the_authorization_matrix(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let other = app.register().await;
    let session_id = app.create_session(&host).await;
    let uploader = app.join(session_id, "Ben").await;
    let bystander = app.join(session_id, "Eve").await;
    let upload = |seed: u8| {
        let app = &app;
        async move {
            let init = body(
                app.post_json("/pictures/init-upload", &json!({"session_id": session_id, "mimetype": "image/jpeg", "user_id": uploader}))
                    .await,
            )
            .await;
            let key = init["key"].as_str().expect("key").to_owned();
            let put = app
                .client
                .put(init["uploadUrl"].as_str().expect("url"))
                .body(jpeg_bytes(seed))
                .send()
                .await
                .expect("PUT");
            assert_eq!(put.status(), StatusCode::OK);
            let finalized = app
                .post_json("/pictures/finalize-upload", &json!({"u_name": "Ben", "session_id": session_id, "s3_key": key, "user_id": uploader}))
                .await;
            assert_eq!(finalized.status(), StatusCode::CREATED);
            body(finalized).await["id"].as_str().expect("id").to_owned()
        }
    };
    let delete = |id: String, token: Option<String>, guest: Option<Uuid>| {
        let app = &app;
        async move {
            let mut request = app.client.delete(app.url(&format!("/pictures/{id}")));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(guest) = guest {
                request = request.header("x-guest-id", guest.to_string());
            }
            request.send().await.expect("request")
        }
    };

    let first = upload(1).await;
    assert_error(
        delete(first.clone(), None, None).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_error(
        delete(first.clone(), Some(other.token.clone()), None).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_error(
        delete(first.clone(), None, Some(bystander)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_error(
        delete(first.clone(), None, Some(Uuid::new_v4())).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(
        delete(first.clone(), None, Some(uploader)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_error(
        delete(first, Some(host.token.clone()), None).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let second = upload(2).await;
    let no_guest_delete = json!({"settings": {"guest_delete": false}});
    app.post_json_auth(
        &format!("/sessions/{session_id}/settings"),
        &host.token,
        &no_guest_delete,
    )
    .await;
    assert_error(
        delete(second.clone(), None, Some(uploader)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(
        delete(second, Some(host.token.clone()), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_error(
        delete("not-a-uuid".into(), Some(host.token.clone()), None).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let gallery = body(
        app.get(&format!("/pictures/session?sessionId={session_id}"))
            .await,
    )
    .await;
    assert_eq!(gallery, json!([]));
}

async fn approving_is_for_the_host_only(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let other = app.register().await;
    let session_id = app.create_session(&host).await;
    let picture = app.upload(session_id, jpeg_bytes(3)).await;
    let path = format!("/pictures/{}/approve", picture["id"].as_str().expect("id"));
    assert_error(
        app.post_json(&path, &json!({})).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_error(
        app.post_json_auth(&path, &other.token, &json!({})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(
        app.post_json_auth(&path, &host.token, &json!({}))
            .await
            .status(),
        StatusCode::OK
    );
    let unknown = app
        .post_json_auth(
            &format!("/pictures/{}/approve", Uuid::new_v4()),
            &host.token,
            &json!({}),
        )
        .await;
    assert_error(unknown, StatusCode::NOT_FOUND).await;
}

async fn the_zip_download_holds_every_approved_photo_for_the_host_only(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let other = app.register().await;
    let session_id = app.create_session(&host).await;
    let photos: Vec<Vec<u8>> = (10..13).map(jpeg_bytes).collect();
    for photo in &photos {
        app.upload(session_id, photo.clone()).await;
    }
    let path = format!("/sessions/{session_id}/download");
    assert_error(app.get(&path).await, StatusCode::UNAUTHORIZED).await;
    let foreign = app
        .client
        .get(app.url(&path))
        .bearer_auth(&other.token)
        .send()
        .await
        .expect("request");
    assert_error(foreign, StatusCode::FORBIDDEN).await;
    let bad_token = app.get(&format!("{path}?access_token=forged")).await;
    assert_error(bad_token, StatusCode::UNAUTHORIZED).await;

    // A plain link works too (access_token), as browsers download that way.
    let response = app
        .get(&format!("{path}?access_token={}", host.token))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/zip");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .expect("header")
            .contains("attachment")
    );
    let bytes = response.bytes().await.expect("zip bytes");
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a valid zip");
    assert_eq!(archive.len(), 3);
    for (index, photo) in photos.iter().enumerate() {
        let mut entry = archive.by_index(index).expect("entry");
        let name = entry.name().to_owned();
        let pattern = format!("_{}.jpg", index + 1);
        assert!(
            name.starts_with("Ben_") && name.ends_with(&pattern),
            "{name}"
        );
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content).expect("read entry");
        assert_eq!(&content, photo, "{name}");
    }
}

async fn a_selection_downloads_as_a_zip_by_form_or_json(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let other = app.register().await;
    let session_id = app.create_session(&host).await;
    let foreign_event = app.create_session(&other).await;
    let mut ids = Vec::new();
    for seed in 20..24 {
        ids.push(
            app.upload(session_id, jpeg_bytes(seed)).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let foreign_photo = app.upload(foreign_event, jpeg_bytes(30)).await["id"].clone();
    let path = format!("/sessions/{session_id}/download");
    let entries = |bytes: Vec<u8>| {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a valid zip");
        (0..archive.len())
            .map(|i| archive.by_index(i).expect("entry").size())
            .collect::<Vec<_>>()
    };

    // The browser's way: a form posted to the link with the token, ids separated by commas.
    let form = app
        .client
        .post(app.url(&format!("{path}?access_token={}", host.token)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("ids={}%2C{}", ids[0], ids[2]))
        .send()
        .await
        .expect("form");
    assert_eq!(form.status(), StatusCode::OK);
    assert_eq!(form.headers()["content-type"], "application/zip");
    let sizes = entries(form.bytes().await.expect("zip").to_vec());
    assert_eq!(
        sizes,
        [jpeg_bytes(20).len() as u64, jpeg_bytes(22).len() as u64]
    );

    // JSON with a bearer token; another event's photo and unknown ids are skipped.
    let json_body = json!({"ids": [ids[1], foreign_photo, Uuid::new_v4()]});
    let response = app
        .client
        .post(app.url(&path))
        .bearer_auth(&host.token)
        .json(&json_body)
        .send()
        .await
        .expect("json");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        entries(response.bytes().await.expect("zip").to_vec()).len(),
        1
    );

    // Only the host; a selection of nothing of this event is a 404; bad selections are 400.
    let foreign = app
        .client
        .post(app.url(&path))
        .bearer_auth(&other.token)
        .json(&json!({"ids": [ids[0]]}))
        .send()
        .await
        .expect("foreign");
    assert_error(foreign, StatusCode::FORBIDDEN).await;
    let anonymous = app.post_json(&path, &json!({"ids": [ids[0]]})).await;
    assert_error(anonymous, StatusCode::UNAUTHORIZED).await;
    let nothing = app
        .post_json_auth(&path, &host.token, &json!({"ids": [foreign_photo]}))
        .await;
    assert_error(nothing, StatusCode::NOT_FOUND).await;
    let too_many: Vec<_> = (0..1001).map(|_| Uuid::new_v4()).collect();
    for bad in [
        json!({}),
        json!({"ids": []}),
        json!({"ids": "x,y"}),
        json!({"ids": [1]}),
        json!({"ids": too_many}),
    ] {
        let response = app.post_json_auth(&path, &host.token, &bad).await;
        assert_error(response, StatusCode::BAD_REQUEST).await;
    }
}

async fn the_qr_code_encodes_the_join_link(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let qr = app.get(&format!("/sessions/{session_id}/qr.svg")).await;
    assert_eq!(qr.status(), StatusCode::OK);
    assert_eq!(qr.headers()["content-type"], "image/svg+xml");
    assert!(qr.text().await.expect("svg").contains("<svg"));
    assert_error(
        app.get(&format!("/sessions/{}/qr.svg", Uuid::new_v4()))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_error(
        app.get("/sessions/xyz/qr.svg").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
}

async fn the_gallery_pages_with_limit_and_before(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let mut ids = Vec::new();
    for seed in 20..25 {
        ids.push(
            app.upload(session_id, jpeg_bytes(seed)).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut path = format!("/pictures/session?sessionId={session_id}&limit=2");
        if let Some(before) = &before {
            path.push_str(&format!("&before={before}"));
        }
        let page = body(app.get(&path).await).await;
        let page: Vec<String> = page
            .as_array()
            .expect("array")
            .iter()
            .map(|p| p["id"].as_str().expect("id").to_owned())
            .collect();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        before = page.last().cloned();
        seen.extend(page);
    }
    assert_eq!(seen, ids);
    for bad in ["limit=0", "limit=1001", "limit=x", "before=nope"] {
        assert_error(
            app.get(&format!("/pictures/session?sessionId={session_id}&{bad}"))
                .await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let foreign = app
        .get(&format!(
            "/pictures/session?sessionId={session_id}&before={}",
            Uuid::new_v4()
        ))
        .await;
    assert_error(foreign, StatusCode::BAD_REQUEST).await;
}
