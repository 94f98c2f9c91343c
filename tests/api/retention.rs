//! Retention (`RETENTION_DAYS`): events go, with their files, that many days after their end.
//! Time is the sweep's argument: the test moves it, nothing sleeps.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use partypic::{app::retention, db::JobLockKey};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, body, jpeg_bytes};
use crate::on_both_backends;

on_both_backends!(events_are_deleted_with_their_files_once_their_retention_passed);

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a time: {value}"))
}

async fn deleted_metric(app: &TestApp) -> String {
    app.metrics_text()
        .await
        .lines()
        .find(|l| l.starts_with("partypic_retention_deleted_events_total "))
        .unwrap_or_default()
        .to_owned()
}

async fn events_are_deleted_with_their_files_once_their_retention_passed(backend: Backend) {
    let (app, _env) = TestApp::spawn_with(backend, |c| c.retention_days = 30).await;
    let host = app.register().await;
    let ended = app.create_session(&host).await;
    let running = app.create_session(&host).await;
    let photo = app.upload(ended, jpeg_bytes(7)).await;
    let photo_url = app.original_url(&host, ended, &photo).await;
    app.upload(running, jpeg_bytes(8)).await;

    let response = app
        .post_json_auth(&format!("/sessions/{ended}/end"), &host.token, &Value::Null)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let view = body(response).await;
    let ends_at = time(&view["ends_at"]);
    let delete_after = time(&view["delete_after"]);
    assert_eq!(delete_after, ends_at + TimeDelta::days(30));
    let mine = body(
        app.client
            .get(app.url("/sessions/mine"))
            .bearer_auth(&host.token)
            .send()
            .await
            .expect("mine"),
    )
    .await;
    for item in mine.as_array().expect("array") {
        assert_eq!(
            time(&item["delete_after"]),
            time(&item["ends_at"]) + TimeDelta::days(30),
            "{item}"
        );
    }

    // A second before: nothing goes.
    let just_before = delete_after - TimeDelta::seconds(1);
    assert_eq!(
        retention::sweep(app.state(), just_before)
            .await
            .expect("sweep"),
        0
    );
    let just_after = delete_after + TimeDelta::seconds(1);
    if backend == Backend::PostgresS3 {
        // While another replica holds the job's lock, this one skips. (A lock just released
        // is free once its connection's rollback ran: wait for that.)
        let mut held = None;
        for _ in 0..50 {
            held = app
                .state()
                .db
                .try_job_lock(JobLockKey::Retention)
                .await
                .expect("lock query");
            if held.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(held.is_some(), "the lock never became free");
        assert_eq!(
            retention::sweep(app.state(), just_after)
                .await
                .expect("sweep"),
            0
        );
        drop(held);
    }
    assert_eq!(
        app.get(&format!("/sessions/get?sessionId={ended}"))
            .await
            .status(),
        StatusCode::OK
    );

    // Once the lock is free again, one sweep deletes the event.
    let mut deleted = 0;
    for _ in 0..50 {
        deleted = retention::sweep(app.state(), just_after)
            .await
            .expect("sweep");
        if deleted > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(deleted, 1);
    assert_eq!(
        app.get(&format!("/sessions/get?sessionId={ended}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let file = app.client.get(&photo_url).send().await.expect("GET photo");
    assert_eq!(file.status(), StatusCode::NOT_FOUND, "the file went too");
    let gallery = body(
        app.get(&format!("/pictures/session?sessionId={running}"))
            .await,
    )
    .await;
    assert_eq!(gallery.as_array().map(Vec::len), Some(1), "{gallery}");
    assert_eq!(
        deleted_metric(&app).await,
        "partypic_retention_deleted_events_total 1"
    );
    // Done is done: the next sweep finds nothing.
    assert_eq!(
        retention::sweep(app.state(), just_after)
            .await
            .expect("sweep"),
        0
    );
}
