//! Readiness: whether this replica can serve. It reflects the replica itself (started and
//! migrated, which serving implies; not draining) and the database. The object store is shared
//! by every replica: its state is reported, not made a condition, since failing readiness on it
//! would take every pod out of the Service and turn a photo-storage outage into a full one.

use std::{sync::atomic::Ordering, time::Duration};

use super::App;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Readiness {
    pub shutting_down: bool,
    /// "ok", or what is wrong.
    pub database: String,
    /// "ok", or what is wrong (as last probed in the background).
    pub object_store: String,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        !self.shutting_down && self.database == "ok"
    }

    /// Ready, but photos can be neither stored nor shown.
    pub fn degraded(&self) -> bool {
        self.ready() && self.object_store != "ok"
    }
}

pub async fn readiness(app: &App) -> Readiness {
    if app.is_shutting_down() {
        return Readiness {
            shutting_down: true,
            database: String::new(),
            object_store: String::new(),
        };
    }
    // While the database is known down this answers at once (db::fail_fast).
    let database = match tokio::time::timeout(CHECK_TIMEOUT, app.db.ping()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(err)) => err.to_string(),
        Err(_) => "timed out".to_owned(),
    };
    // The background probe's verdict: readiness never waits on a store that hangs.
    let object_store = if app.store_available.load(Ordering::Relaxed) {
        "ok".to_owned()
    } else {
        "unavailable: uploads and galleries answer 503".to_owned()
    };
    Readiness {
        shutting_down: false,
        database,
        object_store,
    }
}
