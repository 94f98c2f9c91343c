//! The processing runner: background work on photos (their variants; video clips will follow)
//! as durable jobs. A photo's job is written with the photo, atomically
//! ([`Database::insert_photo`]), so every acknowledged upload gets processed. Each replica claims
//! due jobs, newest first (a guest waits for the photo just taken), runs at most
//! `PROCESSING_CONCURRENCY` at once and holds each with a lease it renews while the job runs: a
//! replica that dies loses its jobs to another once the lease expires. A finalize on this replica
//! wakes the runner at once; otherwise it polls every [`POLL_EVERY`] (jobs of other replicas,
//! expired leases, retries coming due), backing off to [`QUIET_POLL_EVERY`] while polls find
//! nothing: each poll is a write statement on the shared database, from every replica.
//!
//! What a job does lives in its handler ([`crate::thumbnails::Thumbnailer::make_for`]), which
//! answers done (the variants' keys, recorded with the job's end in one write),
//! [`JobError::Retryable`] (the store is down: retried with [`backoff`], at most
//! [`MAX_ATTEMPTS`] claims) or [`JobError::Permanent`] (the photo cannot be decoded: `failed` at
//! once, guests get the placeholder). Every claim counts as an attempt, so a photo that kills
//! its replica each time still ends `failed`.

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use tokio::{sync::Notify, task::JoinSet, time::Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::now;
use crate::{
    db::{ClaimedJob, Database, DbResult, JOB_KIND_VARIANTS, JobRecord, PhotoRecord},
    events::{EventBus, LiveEvent},
    metrics::Metrics,
    thumbnails::{StoredVariants, Thumbnailer},
};

/// Claims a job may get; the last failure of the last one is final.
pub const MAX_ATTEMPTS: i64 = 5;
/// How often an idle runner looks for jobs it was not woken for.
pub const POLL_EVERY: Duration = Duration::from_secs(2);
/// The longest wait between polls, reached after three that found nothing.
pub const QUIET_POLL_EVERY: Duration = Duration::from_secs(8);
/// How long shutdown waits for running jobs before it cuts them off and queues them again.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Finished jobs are kept this long (to see what ran where), then deleted: the table holds
/// about a day of photos plus the failed ones, not every photo ever taken.
pub const KEEP_DONE_JOBS: Duration = Duration::from_secs(24 * 3600);
/// How often each replica deletes finished jobs, and at most how many per turn.
const CLEAN_UP_EVERY: Duration = Duration::from_secs(3600);
const CLEAN_UP_BATCH: u32 = 5_000;

/// Why a job did not finish.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another try later: the store or the database is unreachable.
    #[error("{0}")]
    Retryable(String),
    /// Never going to work: the input cannot be processed.
    #[error("{0}")]
    Permanent(String),
}

/// The wait before the next try, after `attempt` (1, 2, …) failed: 5 s, 30 s, 2 min, 10 min.
pub fn backoff(attempt: i64) -> Duration {
    const SCHEDULE: [u64; 4] = [5, 30, 120, 600];
    let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(0);
    Duration::from_secs(SCHEDULE[index.min(SCHEDULE.len() - 1)])
}

pub struct Processing {
    db: Arc<dyn Database>,
    thumbnails: Arc<Thumbnailer>,
    events: EventBus,
    metrics: Metrics,
    /// Names this replica in `jobs.locked_by`; unique per process start.
    worker: String,
    concurrency: usize,
    lease: Duration,
    wake: Notify,
    unclaimed: Unclaimed,
    /// Jobs running here, queued again if shutdown cuts them off.
    running: Mutex<HashSet<Uuid>>,
}

impl Processing {
    pub fn new(
        db: Arc<dyn Database>,
        thumbnails: Arc<Thumbnailer>,
        events: EventBus,
        metrics: Metrics,
        concurrency: usize,
        lease: Duration,
    ) -> Arc<Self> {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "partypic".into());
        let worker = format!("{host}/{}", &Uuid::new_v4().simple().to_string()[..8]);
        Arc::new(Self {
            db,
            thumbnails,
            events,
            metrics,
            worker,
            concurrency,
            lease,
            wake: Notify::new(),
            unclaimed: Unclaimed::default(),
            running: Mutex::new(HashSet::new()),
        })
    }

    /// This replica's name in `jobs.locked_by`.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// A photo was finalized here: claim its job now rather than at the next poll.
    pub fn wake(&self) {
        self.unclaimed.finalized();
        self.wake.notify_one();
    }

    /// Claims up to `limit` jobs due at `now` and runs them to their end, one after another;
    /// how many were claimed. The background runner does the same continuously; tests call
    /// this with a clock of their own.
    pub async fn run_due(&self, now: DateTime<Utc>, limit: u32) -> DbResult<usize> {
        let jobs = self.claim(now, limit).await?;
        let claimed = jobs.len();
        for claimed in jobs {
            self.run_job(claimed).await;
        }
        Ok(claimed)
    }

    /// Deletes jobs finished [`KEEP_DONE_JOBS`] before `now`, a bounded batch per turn; how
    /// many. Replicas may run it at the same time: each row goes once.
    pub async fn clean_up(&self, now: DateTime<Utc>) -> DbResult<u64> {
        let before = now - KEEP_DONE_JOBS;
        self.db.delete_done_jobs(before, CLEAN_UP_BATCH).await
    }

    async fn claim(&self, now: DateTime<Utc>, limit: u32) -> DbResult<Vec<ClaimedJob>> {
        let lease_until = now + self.lease;
        self.db
            .claim_jobs(&self.worker, now, lease_until, limit)
            .await
    }

    /// Runs jobs until `stop` fires; then stops claiming, gives running jobs
    /// [`SHUTDOWN_GRACE`] and queues the ones cut off again.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        if self.concurrency == 0 {
            return tracing::info!("PROCESSING_CONCURRENCY=0: other replicas process photos");
        }
        let mut running = JoinSet::new();
        let mut next_clean_up = Instant::now();
        let mut quiet_polls: u32 = 0;
        let mut claim_now = true;
        loop {
            if Instant::now() >= next_clean_up {
                next_clean_up = Instant::now() + CLEAN_UP_EVERY;
                match self.clean_up(now()).await {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(count, "finished processing jobs deleted"),
                    Err(err) => tracing::warn!(error = %err, "cannot delete finished jobs"),
                }
            }
            while running.try_join_next().is_some() {}
            let free = self.concurrency.saturating_sub(running.len());
            let mut claimed = 0;
            if free > 0 && claim_now {
                let limit = u32::try_from(free).unwrap_or(u32::MAX);
                match self.claim(now(), limit).await {
                    Ok(jobs) => {
                        claimed = jobs.len();
                        quiet_polls = if claimed == 0 {
                            quiet_polls.saturating_add(1)
                        } else {
                            0
                        };
                        self.unclaimed.claimed(claimed);
                        for claimed in jobs {
                            let this = self.clone();
                            let id = claimed.job.id;
                            lock(&self.running).insert(id);
                            running.spawn(async move {
                                this.run_job(claimed).await;
                                lock(&this.running).remove(&id);
                            });
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, "cannot claim processing jobs"),
                }
            }
            // Every slot filled: the next claim comes when a job ends, if a finalize here may
            // still wait for one. Otherwise wait for a finalize here or the next poll.
            let busy = claimed > 0 && claimed == free;
            claim_now = tokio::select! {
                _ = running.join_next(), if busy => self.unclaimed.any(),
                _ = self.wake.notified(), if !busy => true,
                _ = tokio::time::sleep(poll_wait(quiet_polls)), if !busy => true,
                _ = stop.cancelled() => break,
            };
        }
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            running.shutdown().await;
            self.release_cut_off().await;
        }
    }

    /// Queues the jobs shutdown cut off, so another replica need not wait for their lease.
    async fn release_cut_off(&self) {
        let cut_off: Vec<Uuid> = lock(&self.running).drain().collect();
        for id in cut_off {
            let at = now();
            if let Err(err) = self
                .db
                .retry_job(id, &self.worker, at, "cut off by shutdown", at)
                .await
            {
                tracing::warn!(job = %id, error = %err, "cannot queue a cut-off job again; its lease will expire");
            }
        }
    }

    async fn run_job(&self, ClaimedJob { job, photo }: ClaimedJob) {
        let started = Instant::now();
        let outcome = if job.attempts > MAX_ATTEMPTS {
            // Claimed again after its replica died in the last allowed attempt.
            Err(JobError::Permanent(format!(
                "gave up after {MAX_ATTEMPTS} attempts"
            )))
        } else {
            tokio::select! {
                outcome = self.attempt(&job, photo.as_ref()) => outcome,
                () = self.keep_lease(job.id) => unreachable!("the lease is kept until the job ends"),
            }
        };
        let label = match &outcome {
            Ok(_) => "done",
            Err(JobError::Retryable(_)) if job.attempts < MAX_ATTEMPTS => "retry",
            Err(_) => "failed",
        };
        self.metrics
            .job_duration
            .with_label_values(&[job.kind.as_str(), label])
            .observe(started.elapsed().as_secs_f64());
        self.record(&job, outcome).await;
    }

    /// Where the variants went; `None` when the photo was deleted meanwhile (its job went
    /// with it). `photo` is the job's photo as read with the claim.
    async fn attempt(
        &self,
        job: &JobRecord,
        photo: Option<&PhotoRecord>,
    ) -> Result<Option<StoredVariants>, JobError> {
        match job.kind.as_str() {
            JOB_KIND_VARIANTS => match photo {
                Some(photo) => self.thumbnails.make_for(photo).await.map(Some),
                None => Ok(None),
            },
            other => Err(JobError::Permanent(format!("unknown job kind {other}"))),
        }
    }

    /// Renews the job's lease every third of it; never returns.
    async fn keep_lease(&self, id: Uuid) {
        let every = self.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            match self
                .db
                .extend_job_lease(id, &self.worker, now() + self.lease)
                .await
            {
                Ok(true) => {}
                Ok(false) => tracing::warn!(job = %id, "lost the lease of a running job"),
                Err(err) => tracing::warn!(job = %id, error = %err, "cannot renew a job's lease"),
            }
        }
    }

    /// Records the outcome; on success or final failure the photo's viewers hear of it.
    async fn record(&self, job: &JobRecord, outcome: Result<Option<StoredVariants>, JobError>) {
        let at = now();
        let recorded = match outcome {
            // The variants and the job's end in one write, which returns the photo to announce.
            Ok(Some(stored)) => self
                .db
                .complete_variants_job(job.id, &self.worker, stored.keys(), at)
                .await
                .map(|photo| photo.map(|photo| Recorded::Finished(Box::new(photo)))),
            // Deleted meanwhile: its job went with it.
            Ok(None) => return,
            Err(JobError::Retryable(reason)) if job.attempts < MAX_ATTEMPTS => {
                self.metrics
                    .job_failures
                    .with_label_values(&["retry"])
                    .inc();
                let delay = backoff(job.attempts);
                tracing::warn!(job = %job.id, photo = %job.photo_id, attempt = job.attempts, retry_in = ?delay, error = %reason, "processing job failed; retrying later");
                let run_after = at + delay;
                self.db
                    .retry_job(job.id, &self.worker, run_after, &reason, at)
                    .await
                    .map(|held| held.then_some(Recorded::Retrying))
            }
            Err(err) => {
                self.metrics
                    .job_failures
                    .with_label_values(&["final"])
                    .inc();
                tracing::info!(job = %job.id, photo = %job.photo_id, attempt = job.attempts, error = %err, "processing job failed for good");
                let reason = err.to_string();
                self.db
                    .fail_job(job.id, &self.worker, &reason, at)
                    .await
                    .map(|held| held.then_some(Recorded::Failed))
            }
        };
        match recorded {
            Ok(Some(Recorded::Finished(picture))) => {
                self.events
                    .publish(LiveEvent::PictureUpdated { picture: *picture })
                    .await;
            }
            Ok(Some(Recorded::Failed)) => self.announce(job.photo_id).await,
            Ok(Some(Recorded::Retrying)) => {}
            Ok(None) => {
                tracing::warn!(job = %job.id, "another replica took the job over; its outcome is not recorded here");
            }
            Err(err) => {
                tracing::warn!(job = %job.id, error = %err, "cannot record a job's outcome; it runs again after its lease");
            }
        }
    }

    /// Bumps the event's generation (cached gallery pages with the placeholder are dropped)
    /// and tells live viewers.
    async fn announce(&self, photo_id: Uuid) {
        if let Ok(Some(picture)) = self.db.photo(photo_id).await {
            self.events
                .publish(LiveEvent::PictureUpdated { picture })
                .await;
        }
    }
}

/// Finalizes on this replica whose jobs no claim has taken yet, as far as it can tell. When a job
/// ends and none are left, the runner goes back to waiting (a finalize here or the next poll)
/// instead of claiming at once: that empty claim, one per photo, was the busiest write of a quiet
/// party. Other replicas' jobs and retries are the polls' to find, as before.
#[derive(Default)]
struct Unclaimed(AtomicUsize);

impl Unclaimed {
    fn finalized(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// A claim took `count` jobs; one that found none means nothing is due at all, so whatever
    /// was finalized here has been taken (by this replica or another).
    fn claimed(&self, count: usize) {
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                Some(if count == 0 {
                    0
                } else {
                    left.saturating_sub(count)
                })
            });
    }

    fn any(&self) -> bool {
        self.0.load(Ordering::SeqCst) > 0
    }
}

/// What [`Processing::record`] wrote, when this replica still held the job.
enum Recorded {
    Finished(Box<PhotoRecord>),
    Retrying,
    Failed,
}

/// The wait before the next poll after `quiet_polls` claims in a row found nothing: 2, 4, 8 s.
fn poll_wait(quiet_polls: u32) -> Duration {
    let doubled = POLL_EVERY.saturating_mul(1 << quiet_polls.saturating_sub(1).min(2));
    doubled.min(QUIET_POLL_EVERY)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_ending_claims_again_only_while_finalizes_here_may_wait() {
        let unclaimed = Unclaimed::default();
        assert!(!unclaimed.any());
        for _ in 0..3 {
            unclaimed.finalized();
        }
        unclaimed.claimed(1);
        assert!(unclaimed.any(), "two of three still queued");
        unclaimed.claimed(2);
        assert!(!unclaimed.any());
        unclaimed.claimed(1);
        assert!(
            !unclaimed.any(),
            "another replica's job does not go below zero"
        );
        unclaimed.finalized();
        unclaimed.finalized();
        unclaimed.claimed(0);
        assert!(!unclaimed.any(), "nothing due: another replica took them");
    }

    #[test]
    fn an_idle_runner_polls_less_often_up_to_its_longest_wait() {
        let waits: Vec<u64> = (0..6).map(|n| poll_wait(n).as_secs()).collect();
        assert_eq!(waits, [2, 2, 4, 8, 8, 8]);
        assert_eq!(poll_wait(u32::MAX), QUIET_POLL_EVERY);
    }

    #[test]
    fn backoff_grows_from_seconds_to_ten_minutes_and_stays_there() {
        let waits: Vec<u64> = (1..=6).map(|attempt| backoff(attempt).as_secs()).collect();
        assert_eq!(waits, [5, 30, 120, 600, 600, 600]);
        assert_eq!(backoff(0), Duration::from_secs(5));
        assert_eq!(backoff(-3), Duration::from_secs(5));
    }

    #[test]
    fn the_last_retry_comes_within_a_quarter_hour_of_the_first_failure() {
        let total: Duration = (1..MAX_ATTEMPTS).map(backoff).sum();
        assert_eq!(total, Duration::from_secs(5 + 30 + 120 + 600));
    }
}
