//! Live updates for galleries and slideshows: this event's notifications, filtered by what the
//! viewer may see, plus the number of guests online on connect and every 15 s, and the event
//! itself again when its timed reveal comes.

use std::{sync::Arc, time::Duration};

use tokio::sync::{broadcast::error::RecvError, mpsc};
use uuid::Uuid;

use super::{
    App, Host, Result, comments,
    gallery::{self, Audience},
    guestbook, now,
};
use crate::{
    db::{CommentRecord, EventRecord, GuestbookRecord, PhotoRecord},
    domain::{
        presence,
        reaction::ReactionCounts,
        rules::EventRules,
        visibility::{Viewer, Visibility},
    },
    events::LiveEvent,
};

const GUESTS_EVERY: Duration = Duration::from_secs(15);

#[derive(Debug)]
pub enum Update {
    PhotoAdded(PhotoRecord),
    PhotoChanged(PhotoRecord),
    PhotoRemoved(Uuid),
    /// A photo's reaction counts changed.
    Reactions {
        photo_id: Uuid,
        reactions: ReactionCounts,
    },
    /// A comment the viewer may read was written or approved.
    CommentAdded {
        comment: CommentRecord,
        by_host: bool,
    },
    CommentDeleted {
        photo_id: Uuid,
        comment_id: Uuid,
    },
    /// A guestbook message the viewer may read was written or approved; its photo when the
    /// viewer may see that.
    GuestbookAdded {
        message: GuestbookRecord,
        by_host: bool,
        photo: Option<PhotoRecord>,
    },
    GuestbookDeleted {
        message_id: Uuid,
    },
    EventChanged(EventRecord),
    GuestsOnline(i64),
    /// The viewer fell behind: reload everything.
    Resync,
}

/// Starts following `event_id` for this viewer; updates arrive until the receiver is dropped or
/// shutdown begins. The audience says which links the viewer's photos get.
pub async fn follow(
    app: Arc<App>,
    event_id: Uuid,
    host: Option<&Host>,
    guest_id: Option<Uuid>,
) -> Result<(Audience, mpsc::Receiver<Update>)> {
    let event = app.event(event_id).await?;
    let visibility = gallery::visibility(&app, &event, host, guest_id).await?;
    let audience = Audience::from(visibility.viewer());
    // A co-host's host view lasts while they are one (checked again on each event change).
    let co_host = host
        .filter(|host| visibility.viewer() == Viewer::Host && host.id != event.host_id)
        .map(|host| host.id);
    let hosts = app.host_ids(&event).await?;
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(feed(app, event, visibility, co_host, hosts, tx));
    Ok((audience, rx))
}

async fn guests_online(app: &App, event_id: Uuid) -> Option<Update> {
    let online = app
        .db
        .guests_online(event_id, presence::online_since(now()))
        .await
        .ok()?;
    Some(Update::GuestsOnline(online))
}

/// Sleeps until `at` (a moment late rather than early, so the rule already holds on waking).
async fn sleep_until(at: Option<chrono::DateTime<chrono::Utc>>) {
    let wait = at
        .and_then(|at| (at - now()).to_std().ok())
        .unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(50)).await;
}

async fn feed(
    app: Arc<App>,
    event: EventRecord,
    mut visibility: Visibility,
    co_host: Option<Uuid>,
    mut hosts: Vec<Uuid>,
    tx: mpsc::Sender<Update>,
) {
    let event_id = event.id;
    let mut notifications = app.events.subscribe();
    let shutdown = app.shutdown.clone();
    let mut guests_ticker = tokio::time::interval(GUESTS_EVERY);
    // A timed reveal opens the gallery with nobody asking: each live view wakes at the time.
    let mut reveal_at = EventRules::from_settings(&event.settings).reveal_pending_until(now());
    if shutdown.is_cancelled() {
        return;
    }
    loop {
        let outgoing = tokio::select! {
            _ = tx.closed() => return,
            _ = shutdown.cancelled() => return,
            _ = guests_ticker.tick() => guests_online(&app, event_id).await,
            _ = sleep_until(reveal_at), if reveal_at.is_some() => {
                reveal_at = None;
                match app.db.event(event_id).await {
                    Ok(Some(event)) => {
                        let rules = EventRules::from_settings(&event.settings);
                        visibility = Visibility::new(visibility.viewer(), &rules);
                        reveal_at = rules.reveal_pending_until(now());
                        Some(Update::EventChanged(event))
                    }
                    _ => None,
                }
            }
            received = notifications.recv() => match received {
                Ok(notification) if notification.session_id() == event_id => match Arc::unwrap_or_clone(notification) {
                    LiveEvent::PictureCreated { picture } => visibility.sees(&picture).then_some(Update::PhotoAdded(picture)),
                    LiveEvent::PictureUpdated { picture } => visibility.sees(&picture).then_some(Update::PhotoChanged(picture)),
                    LiveEvent::PictureDeleted { picture_id, .. } => Some(Update::PhotoRemoved(picture_id)),
                    LiveEvent::PictureReactions { picture, reactions } => visibility
                        .sees(&picture)
                        .then_some(Update::Reactions { photo_id: picture.id, reactions }),
                    LiveEvent::CommentAdded { picture, comment } => (visibility.sees(&picture)
                        && comments::sees(visibility.viewer(), &comment))
                        .then(|| Update::CommentAdded { by_host: hosts.contains(&comment.author_id), comment }),
                    LiveEvent::CommentDeleted { picture_id, comment_id, .. } => (visibility.viewer() != Viewer::Anonymous)
                        .then_some(Update::CommentDeleted { photo_id: picture_id, comment_id }),
                    LiveEvent::GuestbookAdded { message, photo } => guestbook::sees(visibility.viewer(), &message)
                        .then(|| Update::GuestbookAdded {
                            by_host: hosts.contains(&message.author_id),
                            photo: photo.filter(|p| visibility.sees(p)),
                            message,
                        }),
                    LiveEvent::GuestbookDeleted { message_id, .. } => Some(Update::GuestbookDeleted { message_id }),
                    LiveEvent::GuestsChanged { .. } => guests_online(&app, event_id).await,
                    LiveEvent::SessionUpdated { .. } => match app.db.event(event_id).await {
                        Ok(Some(event)) => {
                            // Co-hosts come and go with this notification.
                            match app.host_ids(&event).await {
                                Ok(now_hosts) => hosts = now_hosts,
                                Err(err) => tracing::warn!(%event_id, error = %err, "could not reload the event's hosts"),
                            }
                            if co_host.is_some_and(|id| !hosts.contains(&id)) {
                                return;
                            }
                            let rules = EventRules::from_settings(&event.settings);
                            visibility = Visibility::new(visibility.viewer(), &rules);
                            reveal_at = rules.reveal_pending_until(now());
                            Some(Update::EventChanged(event))
                        }
                        _ => None,
                    },
                },
                Ok(_) => None,
                Err(RecvError::Lagged(_)) => Some(Update::Resync),
                Err(RecvError::Closed) => return,
            },
        };
        if let Some(outgoing) = outgoing {
            if tx.send(outgoing).await.is_err() {
                return;
            }
        }
    }
}
