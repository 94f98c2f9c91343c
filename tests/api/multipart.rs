//! Resumable uploads: parts sent in any order (again when unsure), completed by the server after
//! it checked every part, then finalized as usual. On SQLite + disk and PostgreSQL + Garage.

use chrono::TimeDelta;
use partypic::app::multipart::{self, PART_SIZE};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, body, error_code};
use crate::on_both_backends;

on_both_backends!(
    a_large_photo_sent_in_parts_out_of_order_and_twice_arrives_byte_identical,
    a_complete_with_a_missing_or_short_part_is_refused_and_nothing_is_stored,
    an_aborted_upload_loses_its_parts,
    uploads_of_another_event_are_out_of_reach,
    abandoned_uploads_are_aborted_by_the_sweep,
);

const MIB: usize = 1024 * 1024;

/// A JPEG header followed by `len` bytes of noise: recognised as a photo, not decodable.
fn large_jpeg(len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01,
    ];
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    while bytes.len() < len {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn part(bytes: &[u8], number: usize) -> Vec<u8> {
    let size = PART_SIZE as usize;
    let start = (number - 1) * size;
    bytes[start..(start + size).min(bytes.len())].to_vec()
}

async fn start(app: &TestApp, session: Uuid, size: usize) -> Value {
    let response = app
        .post_json(
            &format!("/sessions/{session}/uploads/multipart"),
            &json!({"content_type": "image/jpeg", "size": size}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    body(response).await
}

fn base(session: Uuid, upload: &Value) -> String {
    format!(
        "/sessions/{session}/uploads/multipart/{}",
        upload["upload_id"].as_str().expect("upload_id")
    )
}

/// The presigned URL of each part asked for, in the order asked.
async fn part_urls(app: &TestApp, path: &str, numbers: &[usize]) -> Vec<String> {
    let response = app
        .post_json(&format!("{path}/parts"), &json!({"part_numbers": numbers}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer = body(response).await;
    let parts = answer["parts"].as_array().expect("parts");
    numbers
        .iter()
        .map(|n| {
            parts
                .iter()
                .find(|p| p["part_number"] == *n)
                .and_then(|p| p["url"].as_str())
                .expect("a URL per part")
                .to_owned()
        })
        .collect()
}

async fn put(app: &TestApp, url: &str, bytes: Vec<u8>) -> reqwest::Response {
    app.client
        .put(url)
        .body(bytes)
        .send()
        .await
        .expect("PUT part")
}

async fn stored_parts(app: &TestApp, path: &str) -> Vec<(u64, u64)> {
    let response = app.get(path).await;
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .map(|p| {
            (
                p["part_number"].as_u64().expect("number"),
                p["size"].as_u64().expect("size"),
            )
        })
        .collect()
}

async fn a_large_photo_sent_in_parts_out_of_order_and_twice_arrives_byte_identical(
    backend: Backend,
) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session = app.create_session(&host).await;
    let photo = large_jpeg(20 * MIB, 1);
    let upload = start(&app, session, photo.len()).await;
    assert_eq!(upload["part_size"], PART_SIZE);
    assert_eq!(upload["part_count"], 3);
    let path = base(session, &upload);

    let urls = part_urls(&app, &path, &[3, 1, 2]).await;
    for (url, number) in [(&urls[0], 3), (&urls[1], 1), (&urls[1], 1), (&urls[2], 2)] {
        let response = put(&app, url, part(&photo, number)).await;
        assert_eq!(response.status(), StatusCode::OK, "part {number}");
    }
    let last = (photo.len() - 2 * PART_SIZE as usize) as u64;
    assert_eq!(
        stored_parts(&app, &path).await,
        vec![(1, PART_SIZE), (2, PART_SIZE), (3, last)]
    );

    let response = app.post_json(&format!("{path}/complete"), &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let key = body(response).await["s3_key"]
        .as_str()
        .expect("s3_key")
        .to_owned();
    assert_eq!(key, upload["s3_key"].as_str().expect("key"));
    let response = app.finalize(session, &key, "Ben").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let picture = body(response).await;
    assert_eq!(picture["filesize_bytes"], photo.len());

    let url = app.original_url(&host, session, &picture).await;
    let stored = app
        .client
        .get(url)
        .send()
        .await
        .expect("GET original")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(sha256(&stored), sha256(&photo));

    // Completed is completed: the upload is no longer open.
    let again = app.post_json(&format!("{path}/complete"), &json!({})).await;
    assert_eq!(
        error_code(again, StatusCode::NOT_FOUND).await,
        "upload.not_found"
    );
}

async fn a_complete_with_a_missing_or_short_part_is_refused_and_nothing_is_stored(
    backend: Backend,
) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session = app.create_session(&host).await;
    let photo = large_jpeg(PART_SIZE as usize * 2 + 1000, 2);
    let upload = start(&app, session, photo.len()).await;
    let path = base(session, &upload);
    let key = upload["s3_key"].as_str().expect("key").to_owned();
    let urls = part_urls(&app, &path, &[1, 2, 3]).await;

    put(&app, &urls[0], part(&photo, 1)).await;
    put(&app, &urls[2], part(&photo, 3)).await;
    let response = app.post_json(&format!("{path}/complete"), &json!({})).await;
    assert_eq!(
        error_code(response, StatusCode::BAD_REQUEST).await,
        "upload.part_missing"
    );
    let response = app.finalize(session, &key, "Ben").await;
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "upload.not_found",
        "no object was made"
    );

    // A short part 2 is not counted as stored, and complete names it.
    put(&app, &urls[1], part(&photo, 2)[..1000].to_vec()).await;
    assert_eq!(
        stored_parts(&app, &path).await,
        vec![(1, PART_SIZE), (3, 1000)]
    );
    let response = app.post_json(&format!("{path}/complete"), &json!({})).await;
    assert_eq!(
        error_code(response, StatusCode::BAD_REQUEST).await,
        "upload.part_size_mismatch"
    );
    let response = app.finalize(session, &key, "Ben").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Parts outside 1..=part_count get no URL.
    for numbers in [json!([0]), json!([4]), json!([70000]), json!([])] {
        let response = app
            .post_json(&format!("{path}/parts"), &json!({"part_numbers": numbers}))
            .await;
        assert_eq!(
            error_code(response, StatusCode::BAD_REQUEST).await,
            "upload.part_invalid",
            "{numbers}"
        );
    }

    // Sent again in full, the upload completes.
    put(&app, &urls[1], part(&photo, 2)).await;
    let response = app.post_json(&format!("{path}/complete"), &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.finalize(session, &key, "Ben").await.status(),
        StatusCode::CREATED
    );
}

async fn an_aborted_upload_loses_its_parts(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session = app.create_session(&host).await;
    let photo = large_jpeg(PART_SIZE as usize + 5000, 3);
    let upload = start(&app, session, photo.len()).await;
    let path = base(session, &upload);
    let urls = part_urls(&app, &path, &[1, 2]).await;
    assert_eq!(
        put(&app, &urls[0], part(&photo, 1)).await.status(),
        StatusCode::OK
    );
    let store_upload = app
        .state()
        .db
        .multipart(
            upload["upload_id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("uuid"),
        )
        .await
        .expect("db")
        .expect("recorded");

    let response = app
        .client
        .delete(app.url(&path))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        error_code(app.get(&path).await, StatusCode::NOT_FOUND).await,
        "upload.not_found"
    );
    let key = partypic::domain::photo_key::PhotoKey::parse(&store_upload.object_key).expect("key");
    let parts = app
        .state()
        .store
        .list_parts(&key, &store_upload.store_upload_id)
        .await
        .expect("list parts");
    assert_eq!(parts, None, "the store holds no parts");
    // A late part finds nothing to join.
    let late = put(&app, &urls[1], part(&photo, 2)).await;
    assert_eq!(late.status(), StatusCode::NOT_FOUND);
    let response = app.post_json(&format!("{path}/complete"), &json!({})).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

async fn uploads_of_another_event_are_out_of_reach(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session = app.create_session(&host).await;
    let other = app.create_session(&host).await;
    let stranger = app.join(other, "Mallory").await;
    let upload = start(&app, session, 1000).await;
    let upload_id = upload["upload_id"].as_str().expect("id");

    // Under the other event's path, the upload does not exist.
    let foreign = format!("/sessions/{other}/uploads/multipart/{upload_id}");
    for response in [
        app.get(&foreign).await,
        app.post_json(&format!("{foreign}/parts"), &json!({"part_numbers": [1]}))
            .await,
        app.post_json(&format!("{foreign}/complete"), &json!({}))
            .await,
        app.client
            .delete(app.url(&foreign))
            .send()
            .await
            .expect("DELETE"),
    ] {
        assert_eq!(
            error_code(response, StatusCode::NOT_FOUND).await,
            "upload.not_found"
        );
    }
    // Under its own path, another event's guest is refused.
    let own = base(session, &upload);
    let response = app
        .client
        .get(app.url(&own))
        .header("x-guest-id", stranger.to_string())
        .send()
        .await
        .expect("GET");
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "guest.other_event"
    );
    // Unknown ids and sizes beyond the limit are refused too.
    let unknown = format!("/sessions/{session}/uploads/multipart/{}", Uuid::new_v4());
    assert_eq!(app.get(&unknown).await.status(), StatusCode::NOT_FOUND);
    let response = app
        .post_json(
            &format!("/sessions/{session}/uploads/multipart"),
            &json!({"content_type": "image/jpeg", "size": app.state().max_upload_bytes + 1}),
        )
        .await;
    assert_eq!(
        error_code(response, StatusCode::PAYLOAD_TOO_LARGE).await,
        "upload.too_large"
    );
    let response = app
        .post_json(
            &format!("/sessions/{session}/uploads/multipart"),
            &json!({"content_type": "text/plain", "size": 10}),
        )
        .await;
    assert_eq!(
        error_code(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await,
        "upload.unsupported_type"
    );
    // The upload of the right event is untouched.
    assert_eq!(app.get(&own).await.status(), StatusCode::OK);
}

async fn abandoned_uploads_are_aborted_by_the_sweep(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session = app.create_session(&host).await;
    let photo = large_jpeg(PART_SIZE as usize + 10, 4);
    let upload = start(&app, session, photo.len()).await;
    let path = base(session, &upload);
    let urls = part_urls(&app, &path, &[1]).await;
    assert_eq!(
        put(&app, &urls[0], part(&photo, 1)).await.status(),
        StatusCode::OK
    );

    let now = partypic::app::now();
    let stale_after = TimeDelta::hours(24);
    assert_eq!(
        multipart::sweep(app.state(), now, stale_after)
            .await
            .expect("sweep"),
        0,
        "a fresh upload stays"
    );
    assert_eq!(app.get(&path).await.status(), StatusCode::OK);
    let later = now + TimeDelta::hours(25);
    let mut aborted = 0;
    // On PostgreSQL the job lock may still be held by the previous sweep's connection a moment.
    for _ in 0..50 {
        aborted = multipart::sweep(app.state(), later, stale_after)
            .await
            .expect("sweep");
        if aborted > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(aborted, 1);
    assert_eq!(
        error_code(app.get(&path).await, StatusCode::NOT_FOUND).await,
        "upload.not_found"
    );
    // (A small body: the refusal comes before a large one would be read.)
    let late = put(&app, &urls[0], part(&photo, 1)[..100].to_vec()).await;
    assert_eq!(late.status(), StatusCode::NOT_FOUND, "its parts are gone");
}
