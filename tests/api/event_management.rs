//! Deleting an event: only its host, and nothing of it stays behind (records, photos, thumbnails).

use std::{path::Path, time::Duration};

use image::ImageFormat;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, assert_error, body, eventually, jpeg_bytes};
use crate::live::encode;
use crate::on_both_backends;

on_both_backends!(deleting_an_event_removes_its_photos_thumbnails_and_records);

/// Regular files under `dir`, at any depth.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                files_under(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

async fn deleting_an_event_removes_its_photos_thumbnails_and_records(backend: Backend) {
    let (app, env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let other = app.register().await;
    let session = app.create_session(&host).await;
    let kept = app.create_session(&host).await;
    app.join(session, "Ben").await;
    for seed in 1..=3u32 {
        app.upload(session, encode(64 + seed, 48, ImageFormat::Jpeg))
            .await;
    }
    let kept_photo = app.upload(kept, jpeg_bytes(9)).await;
    // Wait for the variants, so all three files of every photo exist.
    let gallery = |id| {
        let app = &app;
        async move { body(app.get(&format!("/pictures/session?sessionId={id}")).await).await }
    };
    assert!(
        eventually(Duration::from_secs(20), || async {
            let pictures = gallery(session).await;
            pictures
                .as_array()
                .is_some_and(|p| p.len() == 3 && p.iter().all(|p| p["variants"] == "ready"))
        })
        .await,
        "variants were made"
    );
    // Guests' display copies and thumbnails, the host's originals.
    let pictures = gallery(session).await;
    let originals = app.host_gallery(&host, session).await;
    let urls: Vec<String> = pictures
        .as_array()
        .expect("array")
        .iter()
        .flat_map(|p| [&p["url"], &p["thumbUrl"]])
        .chain(
            originals
                .as_array()
                .expect("array")
                .iter()
                .map(|p| &p["url"]),
        )
        .map(|u| u.as_str().expect("url").to_owned())
        .collect();
    assert_eq!(urls.len(), 9, "{urls:?}");
    for url in &urls {
        let response = app.client.get(url).send().await.expect("GET");
        assert_eq!(response.status(), StatusCode::OK, "{url}");
    }
    let code =
        body(app.get(&format!("/sessions/get?sessionId={session}")).await).await["join_code"]
            .as_str()
            .expect("code")
            .to_owned();

    let path = format!("/sessions/{session}/delete");
    let anonymous = app.client.post(app.url(&path)).send().await.expect("req");
    assert_error(anonymous, StatusCode::UNAUTHORIZED).await;
    let stranger = app
        .client
        .post(app.url(&path))
        .bearer_auth(&other.token)
        .send()
        .await
        .expect("req");
    assert_error(stranger, StatusCode::FORBIDDEN).await;
    assert_eq!(gallery(session).await.as_array().map(Vec::len), Some(3));

    let deleted = app
        .client
        .post(app.url(&path))
        .bearer_auth(&host.token)
        .send()
        .await
        .expect("req");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    for url in &urls {
        let response = app.client.get(url).send().await.expect("GET");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{url} is gone");
    }
    if backend == Backend::SqliteFs {
        let photos = env.data_dir.path().join("photos");
        let left: Vec<_> = files_under(&photos.join(session.to_string()));
        assert!(left.is_empty(), "files left: {left:?}");
        assert!(!files_under(&photos.join(kept.to_string())).is_empty());
    }
    let gone = app.get(&format!("/sessions/get?sessionId={session}")).await;
    assert_error(gone, StatusCode::NOT_FOUND).await;
    let by_code = app.get(&format!("/sessions/by-code/{code}")).await;
    assert_error(by_code, StatusCode::NOT_FOUND).await;
    let mine: Value = body(
        app.client
            .get(app.url("/sessions/mine"))
            .bearer_auth(&host.token)
            .send()
            .await
            .expect("req"),
    )
    .await;
    let ids: Vec<_> = mine
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids, vec![kept.to_string()]);
    // The other event and its photo are untouched.
    let kept_url = app.original_url(&host, kept, &kept_photo).await;
    let response = app.client.get(kept_url).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    let again = app
        .client
        .post(app.url(&path))
        .bearer_auth(&host.token)
        .send()
        .await
        .expect("req");
    assert_error(again, StatusCode::NOT_FOUND).await;
}
