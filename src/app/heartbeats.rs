//! Heartbeats written behind: every phone beats every 30 s, and a guest counts as online for 60 s
//! ([`presence::ONLINE_WINDOW_SECS`](crate::domain::presence::ONLINE_WINDOW_SECS)), so one write
//! per guest every few seconds says the same as one per beat. A replica keeps each guest's latest
//! beat and writes them all in one statement every `HEARTBEAT_FLUSH_MS`, and once more when it
//! stops; a failed write keeps them for the next round.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::db::{Database, DbResult};

/// At most this many guests per statement (two parameters each, far below either backend's cap).
const BATCH: usize = 500;

#[derive(Default)]
pub struct HeartbeatBuffer {
    latest: Mutex<HashMap<Uuid, DateTime<Utc>>>,
}

impl HeartbeatBuffer {
    /// Keeps the later of this beat and one already waiting.
    pub fn record(&self, guest_id: Uuid, at: DateTime<Utc>) {
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        let seen = latest.entry(guest_id).or_insert(at);
        *seen = (*seen).max(at);
    }

    pub fn pending(&self) -> usize {
        self.latest.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn take(&self) -> HashMap<Uuid, DateTime<Utc>> {
        std::mem::take(&mut *self.latest.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Writes every waiting beat; what could not be written waits for the next flush.
    pub async fn flush(&self, db: &dyn Database) -> DbResult<usize> {
        let beats: Vec<(Uuid, DateTime<Utc>)> = self.take().into_iter().collect();
        let mut written = 0;
        for (i, chunk) in beats.chunks(BATCH).enumerate() {
            if let Err(err) = db.touch_guests(chunk).await {
                for (guest_id, at) in &beats[i * BATCH..] {
                    self.record(*guest_id, *at);
                }
                return Err(err);
            }
            written += chunk.len();
        }
        Ok(written)
    }

    /// Flushes every `every` until `stop` fires, then once more, so a stopping replica keeps what
    /// it acknowledged.
    pub async fn run(&self, db: &dyn Database, every: Duration, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let stopping = tokio::select! {
                _ = ticker.tick() => false,
                _ = stop.cancelled() => true,
            };
            if let Err(err) = self.flush(db).await {
                tracing::warn!(error = %err, pending = self.pending(), "cannot write heartbeats; retrying");
            }
            if stopping {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guest_waits_once_with_their_latest_beat() {
        let buffer = HeartbeatBuffer::default();
        let guest = Uuid::new_v4();
        let now = Utc::now();
        buffer.record(guest, now);
        buffer.record(guest, now - chrono::TimeDelta::seconds(5));
        buffer.record(Uuid::new_v4(), now);
        let waiting = buffer.take();
        assert_eq!(waiting.len(), 2);
        assert_eq!(waiting[&guest], now);
        assert_eq!(buffer.pending(), 0);
    }
}
