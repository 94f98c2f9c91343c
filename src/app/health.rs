//! Readiness: whether this replica can serve, checked against the database and the object store.

use std::time::Duration;

use super::App;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Readiness {
    pub shutting_down: bool,
    /// "ok", or what is wrong.
    pub database: String,
    pub object_store: String,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        !self.shutting_down && self.database == "ok" && self.object_store == "ok"
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
    let (db, store) = tokio::join!(
        tokio::time::timeout(CHECK_TIMEOUT, app.db.ping()),
        tokio::time::timeout(CHECK_TIMEOUT, app.store.health()),
    );
    Readiness {
        shutting_down: false,
        database: match db {
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(err)) => err.to_string(),
            Err(_) => "timed out".to_owned(),
        },
        object_store: match store {
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(err)) => err.to_string(),
            Err(_) => "timed out".to_owned(),
        },
    }
}
