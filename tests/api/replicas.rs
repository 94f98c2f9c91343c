//! Two PartyPic processes on one PostgreSQL and one S3 store: any replica serves any request.

use reqwest::StatusCode;
use serde_json::json;

use std::time::Duration;

use crate::helpers::{Backend, BackendEnv, TestApp, body, eventually, jpeg_bytes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_tokens_events_guests_and_photos() {
    if crate::helpers::skip_postgres_s3() {
        return;
    }
    let env = BackendEnv::new(Backend::PostgresS3).await;
    let first = TestApp::spawn_on(&env, |_| {}).await;
    let second = TestApp::spawn_on(&env, |_| {}).await;

    // A token issued by one replica works on the other.
    let host = first.register().await;
    let session_id = second.create_session(&host).await;

    // Created through the second, joined and uploaded to through the first.
    let guest_id = first.join(session_id, "Ben").await;
    let login = second
        .post_json(
            "/sessions/loginSessionUser",
            &json!({"userId": guest_id, "sessionId": session_id}),
        )
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    let photo = jpeg_bytes(42);
    let (key, put) = first
        .put_photo(session_id, "image/jpeg", photo.clone())
        .await;
    assert_eq!(put.status(), StatusCode::OK);
    assert_eq!(
        second.finalize(session_id, &key, "Ben").await.status(),
        StatusCode::CREATED
    );

    for replica in [&first, &second] {
        let gallery = replica.host_gallery(&host, session_id).await;
        let url = gallery[0]["url"].as_str().expect("url");
        let bytes = replica
            .client
            .get(url)
            .send()
            .await
            .expect("download")
            .bytes()
            .await
            .expect("bytes");
        assert_eq!(bytes.to_vec(), photo);
    }
}

/// Each replica keeps rendered gallery pages for up to 5 s; a change made through one replica
/// reaches the other's gallery through PostgreSQL's notification well before that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_finalized_on_one_replica_shows_in_the_others_cached_gallery_at_once() {
    if crate::helpers::skip_postgres_s3() {
        return;
    }
    let env = BackendEnv::new(Backend::PostgresS3).await;
    let first = TestApp::spawn_on(&env, |_| {}).await;
    let second = TestApp::spawn_on(&env, |_| {}).await;
    let host = first.register().await;
    let session_id = first.create_session(&host).await;
    let path = format!("/pictures/session?sessionId={session_id}");
    // Both replicas have rendered (and keep) the empty gallery.
    for replica in [&first, &second] {
        assert_eq!(body(replica.get(&path).await).await, json!([]));
        assert_eq!(body(replica.get(&path).await).await, json!([]));
    }
    let started = std::time::Instant::now();
    let picture = first.upload(session_id, jpeg_bytes(5)).await;
    let shown = eventually(Duration::from_secs(2), || async {
        body(second.get(&path).await).await[0]["id"] == picture["id"]
    })
    .await;
    assert!(shown, "the other replica still serves its old page");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_on_an_empty_database_migrate_once() {
    if crate::helpers::skip_postgres_s3() {
        return;
    }
    let env = BackendEnv::new(Backend::PostgresS3).await;
    let (first, second, third) = tokio::join!(
        TestApp::spawn_on(&env, |_| {}),
        TestApp::spawn_on(&env, |_| {}),
        TestApp::spawn_on(&env, |_| {})
    );
    for app in [&first, &second, &third] {
        assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    }
    let host = third.register().await;
    assert_eq!(first.create_session(&host).await.get_version_num(), 4);
}
