//! Live event fan-out for `GET /sessions/{id}/events`. With PostgreSQL, events travel through
//! LISTEN/NOTIFY so a guest connected to one replica sees photos finalized on another; with
//! SQLite (one process) they stay in-process.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::{
    PgPool,
    postgres::{PgListener, PgPoolOptions},
};
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use crate::db::PictureRecord;

const CHANNEL: &str = "partypic_events";
/// Subscribers that fall this far behind skip ahead (they reload the gallery).
const BUFFER: usize = 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SessionEvent {
    PictureCreated {
        picture: PictureRecord,
    },
    PictureUpdated {
        picture: PictureRecord,
    },
    PictureDeleted {
        session_id: Uuid,
        picture_id: Uuid,
        user_id: Option<Uuid>,
        status: String,
    },
    SessionUpdated {
        session_id: Uuid,
    },
    /// A guest joined or came back: live views refresh their "online" count at once.
    GuestsChanged {
        session_id: Uuid,
    },
}

impl SessionEvent {
    pub fn session_id(&self) -> Uuid {
        match self {
            Self::PictureCreated { picture } | Self::PictureUpdated { picture } => {
                picture.session_id
            }
            Self::PictureDeleted { session_id, .. }
            | Self::SessionUpdated { session_id }
            | Self::GuestsChanged { session_id } => *session_id,
        }
    }
}

#[derive(Clone)]
enum Transport {
    InProcess,
    Postgres(PgPool),
}

#[derive(Clone)]
pub struct EventBus {
    local: broadcast::Sender<SessionEvent>,
    transport: Transport,
}

impl EventBus {
    pub fn in_process() -> Self {
        Self {
            local: broadcast::channel(BUFFER).0,
            transport: Transport::InProcess,
        }
    }

    /// Publishes through PostgreSQL and relays every notification (ours included) to local
    /// subscribers, reconnecting after database outages until `stop` fires.
    /// The first LISTEN is in place when this returns, so no event published after start-up
    /// is missed.
    pub async fn postgres(url: &str, stop: watch::Receiver<bool>) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy(url)?;
        let listener = listen(&pool).await?;
        let bus = Self {
            local: broadcast::channel(BUFFER).0,
            transport: Transport::Postgres(pool.clone()),
        };
        tokio::spawn(relay(pool, Some(listener), bus.local.clone(), stop));
        Ok(bus)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<SessionEvent> {
        self.local.subscribe()
    }

    /// Best effort: live updates are a convenience, clients also reload the gallery.
    pub async fn publish(&self, event: SessionEvent) {
        match &self.transport {
            Transport::InProcess => {
                let _ = self.local.send(event);
            }
            Transport::Postgres(pool) => {
                let payload = match serde_json::to_string(&event) {
                    Ok(payload) => payload,
                    Err(err) => return tracing::warn!(error = %err, "cannot encode event"),
                };
                if let Err(err) = sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(payload)
                    .execute(pool)
                    .await
                {
                    tracing::warn!(error = %err, "cannot publish event");
                }
            }
        }
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn relay(
    pool: PgPool,
    mut connected: Option<PgListener>,
    local: broadcast::Sender<SessionEvent>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let mut listener = match connected.take() {
            Some(listener) => listener,
            None => match listen(&pool).await {
                Ok(listener) => listener,
                Err(err) => {
                    tracing::warn!(error = %err, "event listener cannot LISTEN; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                        _ = stop.changed() => return,
                    }
                }
            },
        };
        loop {
            tokio::select! {
                received = listener.recv() => match received {
                    Ok(notification) => match serde_json::from_str::<SessionEvent>(notification.payload()) {
                        Ok(event) => { let _ = local.send(event); }
                        Err(err) => tracing::warn!(error = %err, "ignoring malformed event"),
                    },
                    Err(err) => {
                        tracing::warn!(error = %err, "event listener lost its connection; reconnecting");
                        break;
                    }
                },
                _ = stop.changed() => return,
            }
        }
    }
}
