//! Retention (`RETENTION_DAYS`): an event is deleted, rows and files, that many days after its
//! end. A sweep runs every hour on every replica; a database lock lets one replica at a time do
//! the work, the others skip. Each sweep deletes a bounded number of events.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};
use tokio_util::sync::CancellationToken;

use super::{App, ErrorCode, Result, events, now};
use crate::{db::JobLockKey, events::LiveEvent};

/// How often each replica looks for expired events.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// Events fetched per batch, and batches per sweep: a sweep ends in bounded time; what is left
/// waits for the next one.
const BATCH: u32 = 50;
const MAX_BATCHES: usize = 20;

/// When an event that ends at `ends_at` is deleted; `None` without retention.
pub fn delete_after(ends_at: DateTime<Utc>, retention: Option<TimeDelta>) -> Option<DateTime<Utc>> {
    retention.and_then(|after| ends_at.checked_add_signed(after))
}

/// Deletes the events whose retention has passed at `now`; returns how many. Zero when
/// retention is off or another replica is sweeping.
pub async fn sweep(app: &App, now: DateTime<Utc>) -> Result<usize> {
    let Some(after) = app.retention else {
        return Ok(0);
    };
    let Some(_lock) = app.db.try_job_lock(JobLockKey::Retention).await? else {
        tracing::debug!("another replica is sweeping expired events");
        return Ok(0);
    };
    let Some(ended_before) = now.checked_sub_signed(after) else {
        return Ok(0);
    };
    let mut deleted = 0;
    for _ in 0..MAX_BATCHES {
        let ids = app.db.events_ended_before(ended_before, BATCH).await?;
        let full = ids.len() == BATCH as usize;
        for id in ids {
            match events::delete_stored(app.db.as_ref(), app.store.as_ref(), id).await {
                Ok(gone) => {
                    deleted += 1;
                    // Replicas drop cached pages of the event at once.
                    app.events
                        .publish(LiveEvent::SessionUpdated { session_id: id })
                        .await;
                    app.metrics.retention_deleted_events.inc();
                    tracing::info!(event_id = %id, photos = gone.photos, ends_at = %gone.event.ends_at,
                        "event deleted: retention passed");
                }
                // Deleted meanwhile (by an admin).
                Err(err) if err.code() == ErrorCode::EventNotFound => {}
                Err(err) => return Err(err),
            }
        }
        if !full {
            break;
        }
    }
    Ok(deleted)
}

/// Sweeps every [`SWEEP_EVERY`] (the first at start) until `stop` fires; nothing without retention.
pub async fn run(app: Arc<App>, stop: CancellationToken) {
    if app.retention.is_none() {
        return;
    }
    let mut ticker = tokio::time::interval(SWEEP_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.cancelled() => return,
        }
        match sweep(&app, now()).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "expired events deleted"),
            Err(err) => tracing::warn!(error = %err, "retention sweep failed; retrying in an hour"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_kept_for_good_without_retention() {
        let ends_at = now();
        assert_eq!(delete_after(ends_at, None), None);
        assert_eq!(
            delete_after(ends_at, Some(TimeDelta::days(30))),
            Some(ends_at + TimeDelta::days(30))
        );
        assert_eq!(
            delete_after(DateTime::<Utc>::MAX_UTC, Some(TimeDelta::days(1))),
            None
        );
    }
}
