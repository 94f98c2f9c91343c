//! Galleries read while photos pour in: pages are assembled from cached per-photo entries and
//! rendered once for all readers waiting on them; none of it may show a stale or wrong photo.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, Host, TestApp, body, eventually, jpeg_bytes};
use crate::on_both_backends;

on_both_backends!(
    a_gallery_read_during_uploads_shows_each_finalized_photo_at_once,
    a_deleted_or_hidden_photo_disappears_from_the_gallery_at_once,
    an_approved_photo_appears_at_once_with_its_new_status,
    a_guest_never_receives_an_originals_url_from_a_cached_entry,
    viewers_without_a_view_of_their_own_share_one_rendered_page,
);

async fn gallery(app: &TestApp, session_id: Uuid, extra: &str, token: Option<&str>) -> Vec<Value> {
    let mut request = app
        .client
        .get(app.url(&format!("/pictures/session?sessionId={session_id}{extra}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("gallery");
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await.as_array().expect("array").clone()
}

async fn require_approval(app: &TestApp, host: &Host, session_id: Uuid) {
    let settings = app
        .post_json_auth(
            &format!("/sessions/{session_id}/settings"),
            &host.token,
            &json!({"settings": {"require_approval": true}}),
        )
        .await;
    assert_eq!(settings.status(), StatusCode::OK);
}

fn ids(pictures: &[Value]) -> Vec<String> {
    pictures
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_owned())
        .collect()
}

fn id_of(picture: &Value) -> String {
    picture["id"].as_str().expect("id").to_owned()
}

async fn a_gallery_read_during_uploads_shows_each_finalized_photo_at_once(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let app = std::sync::Arc::new(app);
    // Readers keep the gallery busy (pages rendered, entries cached, readers waiting on a page
    // being rendered) while the photos arrive.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (app, stop) = (app.clone(), stop.clone());
            tokio::spawn(async move {
                let mut reads = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    gallery(&app, session_id, "", None).await;
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let mut expected = Vec::new();
    for seed in 0..6 {
        let picture = app.upload(session_id, jpeg_bytes(40 + seed)).await;
        expected.insert(0, id_of(&picture));
        assert_eq!(ids(&gallery(&app, session_id, "", None).await), expected);
        assert_eq!(
            ids(&gallery(&app, session_id, "&limit=3", None).await),
            expected.iter().take(3).cloned().collect::<Vec<_>>()
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        assert!(reader.await.expect("reader") > 0, "the readers read");
    }
}

async fn a_deleted_or_hidden_photo_disappears_from_the_gallery_at_once(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let kept = id_of(&app.upload(session_id, jpeg_bytes(50)).await);
    let deleted = id_of(&app.upload(session_id, jpeg_bytes(51)).await);
    // Every entry is cached, for guests and for the host.
    assert_eq!(
        ids(&gallery(&app, session_id, "", None).await),
        [deleted.clone(), kept.clone()]
    );
    assert_eq!(
        ids(&gallery(&app, session_id, "", Some(&host.token)).await),
        [deleted.clone(), kept.clone()]
    );

    let response = app
        .client
        .delete(app.url(&format!("/pictures/{deleted}")))
        .bearer_auth(&host.token)
        .send()
        .await
        .expect("delete");
    assert!(response.status().is_success());
    assert_eq!(
        ids(&gallery(&app, session_id, "", None).await),
        std::slice::from_ref(&kept)
    );
    assert_eq!(
        ids(&gallery(&app, session_id, "", Some(&host.token)).await),
        std::slice::from_ref(&kept)
    );

    // Reveal mode hides the whole gallery from guests until the host reveals it.
    let hide = app
        .post_json_auth(
            &format!("/sessions/{session_id}/settings"),
            &host.token,
            &json!({"settings": {"reveal": "after_reveal"}}),
        )
        .await;
    assert_eq!(hide.status(), StatusCode::OK);
    assert!(gallery(&app, session_id, "", None).await.is_empty());
    assert_eq!(
        ids(&gallery(&app, session_id, "", Some(&host.token)).await),
        [kept]
    );
}

async fn an_approved_photo_appears_at_once_with_its_new_status(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    require_approval(&app, &host, session_id).await;
    let ben = app.join(session_id, "Ben").await;
    let response = app
        .upload_as_guest(session_id, ben, "image/jpeg", jpeg_bytes(60))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = id_of(&body(response).await);

    assert!(gallery(&app, session_id, "", None).await.is_empty());
    let pending = gallery(&app, session_id, "", Some(&host.token)).await;
    assert_eq!(ids(&pending), std::slice::from_ref(&id));
    assert_eq!(pending[0]["status"], "pending");

    let approved = app
        .post_json_auth(&format!("/pictures/{id}/approve"), &host.token, &json!({}))
        .await;
    assert_eq!(approved.status(), StatusCode::OK);
    let seen = gallery(&app, session_id, "", None).await;
    assert_eq!(ids(&seen), std::slice::from_ref(&id));
    assert_eq!(seen[0]["status"], "approved");
    // The host's entry was cached as pending: it is rendered again, not reused.
    assert_eq!(
        gallery(&app, session_id, "", Some(&host.token)).await[0]["status"],
        "approved"
    );
}

async fn a_guest_never_receives_an_originals_url_from_a_cached_entry(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let ben = app.join(session_id, "Ben").await;
    app.upload(session_id, jpeg_bytes(70)).await;
    // The host reads first: the host's entry (with the original's URL) is the one cached.
    let hosts = gallery(&app, session_id, "", Some(&host.token)).await;
    let original_url = hosts[0]["url"].as_str().expect("url").to_owned();
    let original_file = hosts[0]["s3_key"]
        .as_str()
        .and_then(|key| key.rsplit('/').next())
        .expect("s3_key")
        .to_owned();
    assert!(original_url.contains(&original_file));

    for (extra, who) in [
        (String::new(), "anonymous"),
        (format!("&userId={ben}"), "a guest"),
    ] {
        for _ in 0..2 {
            let guests = gallery(&app, session_id, &extra, None).await;
            for field in ["url", "thumbUrl"] {
                let url = guests[0][field].as_str().expect("url");
                assert_ne!(url, original_url, "{who} got the original as {field}");
                assert!(
                    !url.contains(&original_file),
                    "{who} got the original as {field}: {url}"
                );
            }
        }
    }
    // And the host still gets the original, not a guest's entry.
    assert_eq!(
        gallery(&app, session_id, "", Some(&host.token)).await[0]["url"]
            .as_str()
            .and_then(|url| url.split('?').next()),
        original_url.split('?').next()
    );
}

/// Gallery requests answered from the cache so far (`partypic_gallery_cache_requests_total`).
async fn cache_hits(app: &TestApp) -> u64 {
    app.metrics_text()
        .await
        .lines()
        .find(|line| line.starts_with(r#"partypic_gallery_cache_requests_total{result="hit"}"#))
        .and_then(|line| line.rsplit(' ').next())
        .map_or(0, |n| n.parse().expect("a count"))
}

async fn viewers_without_a_view_of_their_own_share_one_rendered_page(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    require_approval(&app, &host, session_id).await;
    let [ann, ben, cid] = [
        app.join(session_id, "Ann").await,
        app.join(session_id, "Ben").await,
        app.join(session_id, "Cid").await,
    ];
    let response = app
        .upload_as_guest(session_id, cid, "image/jpeg", jpeg_bytes(80))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let approved = id_of(&body(response).await);
    let approve = app
        .post_json_auth(
            &format!("/pictures/{approved}/approve"),
            &host.token,
            &json!({}),
        )
        .await;
    assert_eq!(approve.status(), StatusCode::OK);
    // Ann's photo waits for the host: only she (and the host) may see it.
    let response = app
        .upload_as_guest(session_id, ann, "image/jpeg", jpeg_bytes(81))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let pending = id_of(&body(response).await);
    let as_guest = |id: Uuid| format!("&userId={id}");
    // A variants job's end changes the event too (these bytes end `failed`): wait for both, so
    // nothing changes from here on.
    let settled = eventually(Duration::from_secs(30), || async {
        let all = gallery(&app, session_id, "", Some(&host.token)).await;
        all.len() == 2 && all.iter().all(|p| p["variants"] != "pending")
    })
    .await;
    assert!(
        settled,
        "the variants jobs did not end: {:?}",
        gallery(&app, session_id, "", Some(&host.token)).await
    );

    let hits = cache_hits(&app).await;
    let bens = gallery(&app, session_id, &as_guest(ben), None).await;
    assert_eq!(ids(&bens), std::slice::from_ref(&approved));
    // Cid (whose photo is approved) and an anonymous viewer get the page rendered for Ben.
    assert_eq!(gallery(&app, session_id, &as_guest(cid), None).await, bens);
    assert_eq!(gallery(&app, session_id, "", None).await, bens);
    assert_eq!(
        cache_hits(&app).await,
        hits + 2,
        "one render for three viewers"
    );
    // Ann's page is her own: it shows her pending photo.
    let anns = gallery(&app, session_id, &as_guest(ann), None).await;
    assert_eq!(ids(&anns), [pending, approved.clone()]);
    assert_eq!(anns[0]["status"], "pending");
    assert_eq!(
        cache_hits(&app).await,
        hits + 2,
        "Ann's page was rendered for her"
    );

    // Once Ben reacts, his page marks his reaction and nobody else's does.
    let react = app
        .client
        .put(app.url(&format!("/pictures/{approved}/reaction")))
        .header("X-Guest-Id", ben.to_string())
        .json(&json!({"reaction": "party"}))
        .send()
        .await
        .expect("react");
    assert!(react.status().is_success(), "{}", react.status());
    let bens = gallery(&app, session_id, &as_guest(ben), None).await;
    assert_eq!(bens[0]["my_reaction"], "party");
    assert_eq!(bens[0]["reactions"]["party"], 1);
    for viewer in [as_guest(cid), String::new()] {
        let page = gallery(&app, session_id, &viewer, None).await;
        assert_eq!(page[0]["my_reaction"], Value::Null);
        assert_eq!(page[0]["reactions"]["party"], 1);
    }
}
