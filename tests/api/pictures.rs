use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, assert_error, body, eventually, jpeg_bytes};
use crate::on_both_backends;

on_both_backends!(
    a_photo_uploaded_through_the_presigned_url_downloads_byte_identical,
    the_gallery_lists_pictures_newest_first_with_urls,
    finalize_is_idempotent_for_the_same_key,
    init_upload_validates_session_and_type,
    finalize_rejects_keys_of_other_sessions_and_missing_uploads,
    finalize_rejects_and_deletes_files_that_are_not_images,
    oversize_uploads_are_rejected_and_not_kept,
    tampered_upload_urls_are_refused,
    gallery_validates_its_query,
    a_cached_gallery_changes_with_every_upload_approval_and_deletion,
    an_unchanged_gallery_answers_304_to_its_etag,
);

async fn a_photo_uploaded_through_the_presigned_url_downloads_byte_identical(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let photo = jpeg_bytes(7);
    let picture = app.upload(session_id, photo.clone()).await;
    assert_eq!(picture["session_id"], session_id.to_string());
    assert_eq!(picture["u_name"], "Ben");
    assert_eq!(picture["original_filename"], "IMG_0001.jpg");
    assert_eq!(picture["mimetype"], "image/jpeg");
    assert_eq!(picture["filesize_bytes"], photo.len());
    assert!(
        picture["s3_key"]
            .as_str()
            .expect("key")
            .starts_with(&format!("{session_id}/"))
    );
    assert!(
        picture["s3_bucket"].is_string()
            && picture["created_at"].is_string()
            && picture["id"].is_string()
    );

    // The host downloads the original (guests get variants: tests/api/variants.rs).
    let gallery = app.host_gallery(&host, session_id).await;
    let url = gallery[0]["url"].as_str().expect("url");
    let download = app.client.get(url).send().await.expect("download");
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().await.expect("bytes").to_vec(), photo);
}

async fn the_gallery_lists_pictures_newest_first_with_urls(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let other_session = app.create_session(&host).await;
    let mut ids = Vec::new();
    for seed in 0..3 {
        ids.push(app.upload(session_id, jpeg_bytes(seed)).await["id"].clone());
    }
    app.upload(other_session, jpeg_bytes(9)).await;
    let response = app
        .get(&format!("/pictures/session?sessionId={session_id}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let gallery = body(response).await;
    let listed: Vec<_> = gallery
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    ids.reverse();
    assert_eq!(listed, ids);
    assert!(
        gallery
            .as_array()
            .expect("array")
            .iter()
            .all(|p| p["url"].as_str().is_some_and(|u| u.starts_with("http")))
    );
    let empty = body(
        app.get(&format!(
            "/pictures/session?sessionId={}",
            app.create_session(&host).await
        ))
        .await,
    )
    .await;
    assert_eq!(empty, json!([]));
}

async fn finalize_is_idempotent_for_the_same_key(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let (key, put) = app.put_photo(session_id, "image/jpeg", jpeg_bytes(1)).await;
    assert_eq!(put.status(), StatusCode::OK);
    let (first, second) = tokio::join!(
        app.finalize(session_id, &key, "Ben"),
        app.finalize(session_id, &key, "Ben")
    );
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(second.status(), StatusCode::CREATED);
    let (first, second) = (body(first).await, body(second).await);
    assert_eq!(first["id"], second["id"]);
    let third = body(app.finalize(session_id, &key, "Ben").await).await;
    assert_eq!(third["id"], first["id"]);
    let gallery = body(
        app.get(&format!("/pictures/session?sessionId={session_id}"))
            .await,
    )
    .await;
    assert_eq!(gallery.as_array().expect("array").len(), 1);
}

async fn init_upload_validates_session_and_type(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    for mimetype in [
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/heic",
        "image/heif",
        "image/gif",
    ] {
        let response = app
            .post_json(
                "/pictures/init-upload",
                &json!({"session_id": session_id, "mimetype": mimetype}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "{mimetype}");
        let init = body(response).await;
        let key = init["key"].as_str().expect("key");
        let (prefix, file) = key.split_once('/').expect("key has a prefix");
        assert_eq!(prefix, session_id.to_string());
        assert!(Uuid::parse_str(file.split('.').next().expect("stem")).is_ok());
        assert!(
            init["uploadUrl"]
                .as_str()
                .is_some_and(|u| u.starts_with("http"))
        );
        assert!(init["bucket"].is_string());
    }
    for mimetype in ["image/svg+xml", "text/html", "application/octet-stream", ""] {
        let response = app
            .post_json(
                "/pictures/init-upload",
                &json!({"session_id": session_id, "mimetype": mimetype}),
            )
            .await;
        assert_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    }
    let unknown = app
        .post_json(
            "/pictures/init-upload",
            &json!({"session_id": Uuid::new_v4(), "mimetype": "image/jpeg"}),
        )
        .await;
    assert_error(unknown, StatusCode::NOT_FOUND).await;
    let missing = app
        .post_json("/pictures/init-upload", &json!({"mimetype": "image/jpeg"}))
        .await;
    assert_error(missing, StatusCode::BAD_REQUEST).await;
    let malformed = app
        .post_json(
            "/pictures/init-upload",
            &json!({"session_id": "s", "mimetype": "image/jpeg"}),
        )
        .await;
    assert_error(malformed, StatusCode::BAD_REQUEST).await;
    let no_type = app
        .post_json("/pictures/init-upload", &json!({"session_id": session_id}))
        .await;
    assert_error(no_type, StatusCode::BAD_REQUEST).await;
}

async fn finalize_rejects_keys_of_other_sessions_and_missing_uploads(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let other_session = app.create_session(&host).await;
    let (key, put) = app.put_photo(session_id, "image/jpeg", jpeg_bytes(2)).await;
    assert_eq!(put.status(), StatusCode::OK);

    assert_error(
        app.finalize(other_session, &key, "Eve").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let never_uploaded = format!("{session_id}/{}.jpg", Uuid::new_v4());
    assert_error(
        app.finalize(session_id, &never_uploaded, "Ben").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    for bad_key in [
        format!("{session_id}/../../etc/passwd"),
        format!("{session_id}/{}.exe", Uuid::new_v4()),
        "photo.jpg".to_owned(),
        format!("/{key}"),
    ] {
        assert_error(
            app.finalize(session_id, &bad_key, "Ben").await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    assert_error(
        app.finalize(Uuid::new_v4(), &key, "Ben").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_error(
        app.finalize(session_id, &key, "").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let missing = app
        .post_json(
            "/pictures/finalize-upload",
            &json!({"session_id": session_id, "u_name": "Ben"}),
        )
        .await;
    assert_error(missing, StatusCode::BAD_REQUEST).await;
    // The genuine owner can still finalize.
    assert_eq!(
        app.finalize(session_id, &key, "Ben").await.status(),
        StatusCode::CREATED
    );
}

async fn finalize_rejects_and_deletes_files_that_are_not_images(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let html = b"<html><script>alert(1)</script></html>".to_vec();
    let (key, put) = app.put_photo(session_id, "image/jpeg", html).await;
    assert_eq!(put.status(), StatusCode::OK);
    assert_error(
        app.finalize(session_id, &key, "Mallory").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    // The object is gone: finalizing again finds nothing.
    assert_error(
        app.finalize(session_id, &key, "Mallory").await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let (empty_key, put) = app.put_photo(session_id, "image/png", Vec::new()).await;
    assert_eq!(put.status(), StatusCode::OK);
    assert_error(
        app.finalize(session_id, &empty_key, "Mallory").await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    // Declared PNG, really a JPEG: stored with the type of its bytes.
    let (png_key, put) = app.put_photo(session_id, "image/png", jpeg_bytes(3)).await;
    assert_eq!(put.status(), StatusCode::OK);
    let response = app.finalize(session_id, &png_key, "Ben").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(body(response).await["mimetype"], "image/jpeg");
    let gallery = body(
        app.get(&format!("/pictures/session?sessionId={session_id}"))
            .await,
    )
    .await;
    assert_eq!(gallery.as_array().expect("array").len(), 1);
}

async fn oversize_uploads_are_rejected_and_not_kept(backend: Backend) {
    let (app, _env) =
        TestApp::spawn_with(backend, |config| config.max_upload_bytes = 8 * 1024).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let mut big = jpeg_bytes(4);
    big.resize(10 * 1024, 0);
    let (key, put) = app.put_photo(session_id, "image/jpeg", big).await;
    match backend {
        // Our own upload endpoint refuses the bytes outright.
        Backend::SqliteFs => assert_eq!(put.status(), StatusCode::PAYLOAD_TOO_LARGE),
        // S3 takes them; finalize measures, refuses and deletes.
        Backend::PostgresS3 => {
            assert_eq!(put.status(), StatusCode::OK);
            assert_error(
                app.finalize(session_id, &key, "Ben").await,
                StatusCode::PAYLOAD_TOO_LARGE,
            )
            .await;
        }
    }
    assert_error(
        app.finalize(session_id, &key, "Ben").await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn tampered_upload_urls_are_refused(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let response = app
        .post_json(
            "/pictures/init-upload",
            &json!({"session_id": session_id, "mimetype": "image/jpeg"}),
        )
        .await;
    let init = body(response).await;
    let url = init["uploadUrl"].as_str().expect("url");
    let key = init["key"].as_str().expect("key");
    let other_key = format!("{session_id}/{}.jpg", Uuid::new_v4());
    let tampered = [
        url.replace(key, &other_key),
        {
            let (head, sig) = url.rsplit_once('=').expect("signature param");
            let flipped = if sig.starts_with('0') { "1" } else { "0" };
            format!("{head}={flipped}{}", &sig[1..])
        },
        url.split('?').next().expect("path").to_owned(),
    ];
    for bad in tampered {
        let put = app
            .client
            .put(&bad)
            .body(jpeg_bytes(5))
            .send()
            .await
            .expect("PUT");
        assert_eq!(put.status(), StatusCode::FORBIDDEN, "{bad}");
    }
    assert_error(
        app.finalize(session_id, &other_key, "Ben").await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn gallery_validates_its_query(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    assert_error(app.get("/pictures/session").await, StatusCode::BAD_REQUEST).await;
    assert_error(
        app.get("/pictures/session?sessionId=nope").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_error(
        app.get(&format!("/pictures/session?sessionId={}", Uuid::new_v4()))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

fn gallery_ids(gallery: &serde_json::Value) -> Vec<String> {
    gallery
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Reads the gallery between every change: a rendered page kept by the server must never hide a
/// change made a moment before.
async fn a_cached_gallery_changes_with_every_upload_approval_and_deletion(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let path = format!("/pictures/session?sessionId={session_id}");
    assert_eq!(body(app.get(&path).await).await, json!([]));
    assert_eq!(body(app.get(&path).await).await, json!([]));

    let first = app.upload(session_id, jpeg_bytes(1)).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        gallery_ids(&body(app.get(&path).await).await),
        std::slice::from_ref(&first)
    );
    let second = app.upload(session_id, jpeg_bytes(2)).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        gallery_ids(&body(app.get(&path).await).await),
        [second.clone(), first.clone()]
    );

    // The host turns on reveal mode: guests see nothing until the host reveals the gallery.
    let settings_path = format!("/sessions/{session_id}/settings");
    let set = async |settings: serde_json::Value| {
        app.post_json_auth(
            &settings_path,
            &host.token,
            &json!({ "settings": settings }),
        )
        .await
    };
    assert_eq!(
        set(json!({"reveal": "after_reveal"})).await.status(),
        StatusCode::OK
    );
    assert_eq!(body(app.get(&path).await).await, json!([]));
    assert_eq!(
        set(json!({"revealed": true})).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        gallery_ids(&body(app.get(&path).await).await),
        [second.clone(), first.clone()]
    );

    let deleted = app
        .client
        .delete(app.url(&format!("/pictures/{second}")))
        .bearer_auth(&host.token)
        .send()
        .await
        .expect("delete");
    assert!(deleted.status().is_success());
    assert_eq!(gallery_ids(&body(app.get(&path).await).await), [first]);
}

async fn an_unchanged_gallery_answers_304_to_its_etag(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    app.upload(session_id, jpeg_bytes(3)).await;
    let path = format!("/pictures/session?sessionId={session_id}");
    // The variant job changes the page once (pending → ready or failed); compare after it.
    let settled = eventually(Duration::from_secs(20), || async {
        body(app.get(&path).await).await[0]["variants"] != "pending"
    })
    .await;
    assert!(settled, "the variants were decided");
    let response = app.get(&path).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-cache");
    let etag = response.headers()["etag"].clone();
    let gallery = body(response).await;
    assert_eq!(gallery.as_array().map(Vec::len), Some(1));

    let again = app
        .client
        .get(app.url(&path))
        .header("If-None-Match", etag.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"], etag);

    // A new photo is a new page: the old tag no longer matches.
    app.upload(session_id, jpeg_bytes(4)).await;
    let changed = app
        .client
        .get(app.url(&path))
        .header("If-None-Match", etag)
        .send()
        .await
        .expect("request");
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(body(changed).await.as_array().map(Vec::len), Some(2));
}
