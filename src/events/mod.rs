//! Live event fan-out for `GET /sessions/{id}/events`. The database backend picks the transport
//! ([`crate::db::Database::event_transport`]): with PostgreSQL, events travel through
//! LISTEN/NOTIFY on the database's own pool so a guest connected to one replica sees photos
//! finalized on another; with SQLite (one process) they stay in-process.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use serde::{Deserialize, Serialize};
use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    db::{CommentRecord, EventTransport as Transport, GuestbookRecord, PhotoRecord},
    domain::reaction::ReactionCounts,
};

const CHANNEL: &str = "partypic_events";
/// Subscribers that fall this far behind skip ahead (they reload the gallery). The channel
/// holds `Arc`s: its slots are allocated up front, 1024 events inline were 0.45 MB per replica.
const BUFFER: usize = 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveEvent {
    PictureCreated {
        picture: PhotoRecord,
    },
    PictureUpdated {
        picture: PhotoRecord,
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
    /// Someone reacted to a photo (or took their reaction back): its new counts. The photo
    /// travels along so each live view can apply the visibility rule.
    PictureReactions {
        picture: PhotoRecord,
        reactions: ReactionCounts,
    },
    /// A comment was written, or approved by the host. The photo travels along so each live
    /// view can apply the visibility rules (of the photo, and of a pending comment).
    CommentAdded {
        picture: PhotoRecord,
        comment: CommentRecord,
    },
    CommentDeleted {
        session_id: Uuid,
        picture_id: Uuid,
        comment_id: Uuid,
    },
    /// A guestbook message was written, or approved by the host. Its photo (if any) travels
    /// along so each live view can apply the photo's visibility rule.
    GuestbookAdded {
        message: GuestbookRecord,
        photo: Option<PhotoRecord>,
    },
    GuestbookDeleted {
        session_id: Uuid,
        message_id: Uuid,
    },
    /// A guest joined or came back: live views refresh their "online" count at once.
    GuestsChanged {
        session_id: Uuid,
    },
}

impl LiveEvent {
    /// Whether the event changes what galleries and event records show; guests coming and going
    /// do not, and must not empty the gallery caches of a busy event.
    fn changes_content(&self) -> bool {
        // Nor does the guestbook: no gallery page or event record shows it.
        !matches!(
            self,
            Self::GuestsChanged { .. }
                | Self::GuestbookAdded { .. }
                | Self::GuestbookDeleted { .. }
        )
    }

    /// Whether the event changes the event record itself (settings, missions, end, deletion).
    /// Photos, reactions and comments do not: a busy event's record stays cached while photos
    /// pour in.
    fn changes_record(&self) -> bool {
        matches!(self, Self::SessionUpdated { .. })
    }

    pub fn session_id(&self) -> Uuid {
        match self {
            Self::PictureCreated { picture }
            | Self::PictureUpdated { picture }
            | Self::PictureReactions { picture, .. }
            | Self::CommentAdded { picture, .. } => picture.event_id,
            Self::GuestbookAdded { message, .. } => message.event_id,
            Self::PictureDeleted { session_id, .. }
            | Self::SessionUpdated { session_id }
            | Self::CommentDeleted { session_id, .. }
            | Self::GuestbookDeleted { session_id, .. }
            | Self::GuestsChanged { session_id } => *session_id,
        }
    }
}

#[derive(Clone)]
pub struct EventBus {
    local: broadcast::Sender<Arc<LiveEvent>>,
    transport: Transport,
    changes: Arc<ChangeCounters>,
}

/// How many counters the sessions share: a change to one session also looks like a change to the
/// few sessions hashed to the same counter, which costs them one cache miss.
const COUNTERS: usize = 4096;

/// Change generations for caches of per-session data: every event counts up its session's
/// counter, at once on the replica that publishes it and on every replica when the notification
/// arrives. A cache reads the generation before it reads the database and keys what it stores on
/// it, so a page read before a change is never served after the change becomes known.
struct ChangeCounters {
    sessions: Box<[AtomicU64]>,
    /// The same, counted only by changes of the event record ([`LiveEvent::changes_record`]).
    records: Box<[AtomicU64]>,
    /// Counts up whenever notifications may have been missed (the listener reconnected).
    epoch: AtomicU64,
    /// False while the listener is disconnected: changes elsewhere go unseen, caches stand aside.
    listening: AtomicBool,
}

impl ChangeCounters {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            sessions: (0..COUNTERS).map(|_| AtomicU64::new(0)).collect(),
            records: (0..COUNTERS).map(|_| AtomicU64::new(0)).collect(),
            epoch: AtomicU64::new(0),
            listening: AtomicBool::new(true),
        })
    }

    fn slot(session_id: Uuid) -> usize {
        (session_id.as_u128() % COUNTERS as u128) as usize
    }

    fn changed(&self, event: &LiveEvent) {
        let slot = Self::slot(event.session_id());
        if event.changes_content() {
            self.sessions[slot].fetch_add(1, Ordering::SeqCst);
        }
        if event.changes_record() {
            self.records[slot].fetch_add(1, Ordering::SeqCst);
        }
    }

    /// `counters`' count for `session_id` plus the epoch; `None` while not listening.
    fn generation(&self, counters: &[AtomicU64], session_id: Uuid) -> Option<u64> {
        if !self.listening.load(Ordering::SeqCst) {
            return None;
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        // Both only count up, so their sum changes whenever either does.
        Some(epoch + counters[Self::slot(session_id)].load(Ordering::SeqCst))
    }

    fn set_listening(&self, listening: bool) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.listening.store(listening, Ordering::SeqCst);
    }
}

impl EventBus {
    pub fn in_process() -> Self {
        Self {
            local: broadcast::channel(BUFFER).0,
            transport: Transport::InProcess,
            changes: ChangeCounters::new(),
        }
    }

    /// Starts the bus on `transport`. With PostgreSQL it publishes through NOTIFY and relays
    /// every notification (ours included) to local subscribers, reconnecting after database
    /// outages until `stop` fires. The first LISTEN is in place when this returns, so no event
    /// published after start-up is missed.
    pub async fn start(transport: Transport, stop: CancellationToken) -> anyhow::Result<Self> {
        let Transport::Postgres(pool) = transport else {
            return Ok(Self::in_process());
        };
        let listener = listen(&pool).await?;
        let bus = Self {
            local: broadcast::channel(BUFFER).0,
            transport: Transport::Postgres(pool.clone()),
            changes: ChangeCounters::new(),
        };
        tokio::spawn(relay(
            pool,
            Some(listener),
            bus.local.clone(),
            bus.changes.clone(),
            stop,
        ));
        Ok(bus)
    }

    /// The change generation of `session_id` (see [`ChangeCounters`]); `None` while changes made
    /// on other replicas could go unseen, when nothing about a session may be cached.
    pub fn generation(&self, session_id: Uuid) -> Option<u64> {
        self.changes.generation(&self.changes.sessions, session_id)
    }

    /// Like [`EventBus::generation`], but moved only by changes of the event record itself, so
    /// cached event records outlive the photos, reactions and comments of a busy event.
    pub fn record_generation(&self, session_id: Uuid) -> Option<u64> {
        self.changes.generation(&self.changes.records, session_id)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.local.subscribe()
    }

    /// Best effort: live updates are a convenience, clients also reload the gallery.
    pub async fn publish(&self, event: LiveEvent) {
        self.changes.changed(&event);
        match &self.transport {
            Transport::InProcess => {
                let _ = self.local.send(Arc::new(event));
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
    // A lost connection must surface at once (`relay` reconnects itself): by default sqlx
    // first waits for a new one, up to the pool's acquire timeout, and meanwhile the gallery
    // cache would keep trusting a generation that no longer hears other replicas' changes.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn relay(
    pool: PgPool,
    mut connected: Option<PgListener>,
    local: broadcast::Sender<Arc<LiveEvent>>,
    changes: Arc<ChangeCounters>,
    stop: CancellationToken,
) {
    loop {
        let mut listener = match connected.take() {
            Some(listener) => listener,
            None => match listen(&pool).await {
                Ok(listener) => {
                    changes.set_listening(true);
                    listener
                }
                Err(err) => {
                    tracing::warn!(error = %err, "event listener cannot LISTEN; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                        _ = stop.cancelled() => return,
                    }
                }
            },
        };
        loop {
            tokio::select! {
                // try_recv, not recv: recv reconnects silently and the changes in between
                // would go unseen by the caches.
                received = listener.try_recv() => match received {
                    Ok(Some(notification)) => match serde_json::from_str::<LiveEvent>(notification.payload()) {
                        Ok(event) => {
                            changes.changed(&event);
                            let _ = local.send(Arc::new(event));
                        }
                        Err(err) => tracing::warn!(error = %err, "ignoring malformed event"),
                    },
                    Ok(None) => {
                        tracing::warn!("event listener lost its connection; reconnecting");
                        changes.set_listening(false);
                        break;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "event listener failed; reconnecting");
                        changes.set_listening(false);
                        break;
                    }
                },
                _ = stop.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod generation_tests {
    use super::*;

    #[tokio::test]
    async fn content_changes_move_the_generation_and_guests_do_not() {
        let bus = EventBus::in_process();
        let session_id = Uuid::new_v4();
        let start = bus
            .generation(session_id)
            .expect("in-process is always listening");
        bus.publish(LiveEvent::GuestsChanged { session_id }).await;
        assert_eq!(bus.generation(session_id), Some(start));
        bus.publish(LiveEvent::SessionUpdated { session_id }).await;
        assert!(bus.generation(session_id) > Some(start));
    }

    #[tokio::test]
    async fn only_changes_of_the_event_itself_move_the_record_generation() {
        let bus = EventBus::in_process();
        let session_id = Uuid::new_v4();
        let start = bus.record_generation(session_id).expect("listening");
        bus.publish(LiveEvent::CommentDeleted {
            session_id,
            picture_id: Uuid::new_v4(),
            comment_id: Uuid::new_v4(),
        })
        .await;
        bus.publish(LiveEvent::GuestsChanged { session_id }).await;
        assert_eq!(bus.record_generation(session_id), Some(start));
        bus.publish(LiveEvent::SessionUpdated { session_id }).await;
        let moved = bus.record_generation(session_id).expect("listening");
        assert!(moved > start);
        let other = ChangeCounters::new();
        other.set_listening(false);
        assert_eq!(other.generation(&other.records, session_id), None);
    }

    #[test]
    fn a_listener_outage_disables_caching_and_drops_what_was_cached() {
        let changes = ChangeCounters::new();
        let bus = EventBus {
            local: broadcast::channel(BUFFER).0,
            transport: Transport::InProcess,
            changes: changes.clone(),
        };
        let session_id = Uuid::new_v4();
        let before = bus.generation(session_id).expect("listening");
        changes.set_listening(false);
        assert_eq!(bus.generation(session_id), None);
        changes.set_listening(true);
        assert!(bus.generation(session_id) > Some(before));
    }
}
