//! Durable processing jobs (issue 13): every finalized photo has a job, written with the photo;
//! replicas claim jobs exclusively, take over a dead replica's job after its lease, retry a store
//! outage with backoff and fail an undecodable photo at once.

use std::{collections::HashSet, time::Duration};

use chrono::{TimeDelta, Utc};
use partypic::{
    app::processing::Processing,
    db::{JobRecord, JobState, ThumbStatus},
};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{Backend, BackendEnv, TestApp, eventually, jpeg_bytes};
use crate::on_both_backends;

/// A decodable JPEG, its content different for each `seed` (one event keeps one copy of a photo).
fn photo_bytes(seed: u8) -> Vec<u8> {
    crate::live::encode(64 + u32::from(seed), 48, image::ImageFormat::Jpeg)
}

on_both_backends!(
    a_photos_job_ends_done_and_its_variants_ready,
    two_replicas_never_claim_the_same_job,
    photos_uploaded_to_two_working_replicas_are_each_processed_once,
    a_job_whose_replica_died_is_taken_over_after_its_lease,
    an_undecodable_photo_fails_after_one_attempt,
    done_jobs_are_deleted_after_a_day_failed_ones_are_kept,
);

fn photo_id(picture: &Value) -> Uuid {
    picture["id"]
        .as_str()
        .and_then(|id| Uuid::parse_str(id).ok())
        .expect("picture id")
}

async fn jobs_of(app: &TestApp, photo: Uuid) -> Vec<JobRecord> {
    app.state().db.jobs_of_photo(photo).await.expect("jobs")
}

/// The photo's one job, once it reached `state` (within 30 s).
async fn job_in_state(app: &TestApp, photo: Uuid, state: JobState) -> JobRecord {
    let reached = eventually(Duration::from_secs(30), || async {
        jobs_of(app, photo).await.first().map(|job| job.state) == Some(state)
    })
    .await;
    let jobs = jobs_of(app, photo).await;
    assert!(reached, "job never {state:?}: {jobs:?}");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    jobs[0].clone()
}

async fn thumb_status(app: &TestApp, photo: Uuid) -> ThumbStatus {
    app.state()
        .db
        .photo(photo)
        .await
        .expect("query")
        .expect("photo")
        .thumb_status
}

fn processing(app: &TestApp) -> &Processing {
    &app.state().processing
}

async fn a_photos_job_ends_done_and_its_variants_ready(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let photo = photo_id(&app.upload(session_id, photo_bytes(1)).await);

    let job = job_in_state(&app, photo, JobState::Done).await;
    assert_eq!(job.kind, "variants");
    assert_eq!(job.attempts, 1);
    assert_eq!(job.locked_by.as_deref(), Some(processing(&app).worker()));
    assert_eq!(job.last_error, None);
    assert_eq!(thumb_status(&app, photo).await, ThumbStatus::Ready);
}

async fn two_replicas_never_claim_the_same_job(backend: Backend) {
    let env = BackendEnv::new(backend).await;
    let idle = |config: &mut partypic::config::Config| config.processing_concurrency = 0;
    let first = TestApp::spawn_on(&env, idle).await;
    let second = TestApp::spawn_on(&env, idle).await;
    let host = first.register().await;
    let session_id = first.create_session(&host).await;
    let mut photos = HashSet::new();
    for seed in 0..12 {
        photos.insert(photo_id(&first.upload(session_id, photo_bytes(seed)).await));
    }

    // Both claim one job at a time, as fast as they can, until nothing is left.
    let drain = |app: &TestApp, worker: &'static str| {
        let db = app.state().db.clone();
        async move {
            let mut claimed = Vec::new();
            loop {
                let now = Utc::now();
                let jobs = db
                    .claim_jobs(worker, now, now + TimeDelta::minutes(5), 1)
                    .await
                    .expect("claim");
                if jobs.is_empty() {
                    return claimed;
                }
                claimed.extend(jobs.into_iter().map(|claimed| claimed.job.photo_id));
            }
        }
    };
    let (by_first, by_second) = tokio::join!(drain(&first, "first"), drain(&second, "second"));
    let mut all: Vec<Uuid> = by_first.iter().chain(&by_second).copied().collect();
    all.sort();
    all.dedup();
    assert_eq!(
        all.len(),
        by_first.len() + by_second.len(),
        "a job claimed twice"
    );
    assert_eq!(all.into_iter().collect::<HashSet<_>>(), photos);
}

async fn photos_uploaded_to_two_working_replicas_are_each_processed_once(backend: Backend) {
    let env = BackendEnv::new(backend).await;
    let busy = |config: &mut partypic::config::Config| config.processing_concurrency = 2;
    let first = TestApp::spawn_on(&env, busy).await;
    let second = TestApp::spawn_on(&env, busy).await;
    let host = first.register().await;
    let session_id = first.create_session(&host).await;
    let mut photos = Vec::new();
    for seed in 0..8 {
        let replica = if seed % 2 == 0 { &first } else { &second };
        photos.push(photo_id(
            &replica.upload(session_id, photo_bytes(seed)).await,
        ));
    }

    let workers = [processing(&first).worker(), processing(&second).worker()];
    for photo in photos {
        let job = job_in_state(&first, photo, JobState::Done).await;
        assert_eq!(job.attempts, 1, "processed more than once: {job:?}");
        assert!(workers.contains(&job.locked_by.as_deref().unwrap_or_default()));
        assert_eq!(thumb_status(&second, photo).await, ThumbStatus::Ready);
    }
}

async fn a_job_whose_replica_died_is_taken_over_after_its_lease(backend: Backend) {
    let env = BackendEnv::new(backend).await;
    let first = TestApp::spawn_on(&env, |config| config.processing_concurrency = 0).await;
    let host = first.register().await;
    let session_id = first.create_session(&host).await;
    let photo = photo_id(&first.upload(session_id, photo_bytes(7)).await);
    // A replica claims the job and dies without a word: its lease runs 3 s.
    let now = Utc::now();
    let claimed = first
        .state()
        .db
        .claim_jobs("dead-replica", now, now + TimeDelta::seconds(3), 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    // While the lease holds, nobody else gets the job.
    assert_eq!(
        processing(&first)
            .run_due(now + TimeDelta::seconds(2), 10)
            .await
            .expect("run"),
        0
    );

    let second = TestApp::spawn_on(&env, |_| {}).await;
    let job = job_in_state(&second, photo, JobState::Done).await;
    assert_eq!(job.attempts, 2);
    assert_eq!(job.locked_by.as_deref(), Some(processing(&second).worker()));
    assert_eq!(thumb_status(&second, photo).await, ThumbStatus::Ready);
}

async fn an_undecodable_photo_fails_after_one_attempt(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    // A JPEG header over noise.
    let photo = photo_id(&app.upload(session_id, jpeg_bytes(3)).await);

    let job = job_in_state(&app, photo, JobState::Failed).await;
    assert_eq!(job.attempts, 1);
    assert!(
        job.last_error
            .as_deref()
            .is_some_and(|e| e.contains("cannot be decoded")),
        "{job:?}"
    );
    assert_eq!(thumb_status(&app, photo).await, ThumbStatus::Failed);
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(r#"partypic_job_failures_total{outcome="final"} 1"#),
        "{metrics}"
    );
}

async fn done_jobs_are_deleted_after_a_day_failed_ones_are_kept(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let done = photo_id(&app.upload(session_id, photo_bytes(7)).await);
    let failed = photo_id(&app.upload(session_id, jpeg_bytes(8)).await);
    job_in_state(&app, done, JobState::Done).await;
    job_in_state(&app, failed, JobState::Failed).await;

    // Within the day nothing goes.
    let soon = Utc::now() + TimeDelta::hours(23);
    assert_eq!(processing(&app).clean_up(soon).await.expect("clean up"), 0);
    assert_eq!(jobs_of(&app, done).await.len(), 1);

    let next_day = Utc::now() + TimeDelta::hours(25);
    assert_eq!(
        processing(&app).clean_up(next_day).await.expect("clean up"),
        1
    );
    assert!(jobs_of(&app, done).await.is_empty());
    assert_eq!(jobs_of(&app, failed).await.len(), 1, "failed jobs stay");
    assert_eq!(thumb_status(&app, done).await, ThumbStatus::Ready);
    assert_eq!(
        processing(&app).clean_up(next_day).await.expect("clean up"),
        0
    );
}

/// On the local disk, the store is taken away by moving the photo folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_leaves_the_job_queued_and_it_succeeds_when_the_store_is_back() {
    let (app, env) = TestApp::spawn_with(Backend::SqliteFs, |config| {
        config.processing_concurrency = 0
    })
    .await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let photo = photo_id(&app.upload(session_id, photo_bytes(5)).await);
    let photos = env.data_dir.path().join("photos");
    let parked = env.data_dir.path().join("photos-away");
    std::fs::rename(&photos, &parked).expect("take the store away");

    let started = Utc::now();
    assert_eq!(processing(&app).run_due(started, 10).await.expect("run"), 1);
    let job = jobs_of(&app, photo).await.remove(0);
    assert_eq!((job.state, job.attempts), (JobState::Queued, 1), "{job:?}");
    assert!(
        job.last_error
            .as_deref()
            .is_some_and(|e| e.contains("cannot read"))
    );
    assert!(job.run_after >= started + TimeDelta::seconds(5), "{job:?}");
    assert_eq!(thumb_status(&app, photo).await, ThumbStatus::Pending);
    // Not due before its backoff.
    assert_eq!(
        processing(&app).run_due(Utc::now(), 10).await.expect("run"),
        0
    );
    let gauges = eventually(Duration::from_secs(5), || async {
        app.metrics_text().await.contains("partypic_jobs_queued 1")
    })
    .await;
    assert!(gauges, "queue depth not reported");
    assert!(
        app.metrics_text()
            .await
            .contains(r#"partypic_job_failures_total{outcome="retry"} 1"#)
    );

    std::fs::rename(&parked, &photos).expect("bring it back");
    let later = Utc::now() + TimeDelta::seconds(6);
    assert_eq!(processing(&app).run_due(later, 10).await.expect("run"), 1);
    let job = jobs_of(&app, photo).await.remove(0);
    assert_eq!((job.state, job.attempts), (JobState::Done, 2), "{job:?}");
    assert_eq!(thumb_status(&app, photo).await, ThumbStatus::Ready);
}
