//! `GET /sessions/{id}/events`: Server-Sent Events for live galleries and slideshows.
//! Events: `picture.created`, `picture.updated`, `picture.deleted`, `session.updated`,
//! `guests` ({online}) on connect and every 15 s, and `resync` when the client fell behind.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::{Path, State},
    http::HeaderMap,
    response::{
        IntoResponse,
        sse::{Event, KeepAlive, Sse},
    },
};
use serde_json::json;
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use url::Url;
use uuid::Uuid;

use super::{
    ApiError, SharedState,
    access::{MaybeAuthUser, Viewer, guest_id, resolve_viewer},
    extract::{PublicBase, QueryParams},
    hosting::session_id,
    pictures::picture_view,
    sessions::{SessionView, session_not_found},
};
use crate::{
    db::{PhotoRecord, PhotoStatus},
    domain::rules::EventRules,
    events::LiveEvent,
    metrics::ONLINE_WINDOW,
};

const GUESTS_EVERY: Duration = Duration::from_secs(15);

#[utoipa::path(get, path = "/sessions/{id}/events", tag = "sessions",
    params(
        ("id" = Uuid, Path, description = "The event"),
        ("userId" = Option<Uuid>, Query, description = "The watching guest (sees their own pending photos)"),
        ("access_token" = Option<String>, Query, description = "The host's token (EventSource cannot send headers)"),
    ),
    responses(
        (status = 200, description = "An event stream", content_type = "text/event-stream"),
        (status = 400, description = "Malformed id", body = super::error::ErrorBody),
        (status = 401, description = "An invalid token was sent", body = super::error::ErrorBody),
        (status = 404, description = "Unknown event or guest", body = super::error::ErrorBody),
    ))]
pub async fn events(
    State(state): State<SharedState>,
    PublicBase(base): PublicBase,
    MaybeAuthUser(user): MaybeAuthUser,
    headers: HeaderMap,
    query: QueryParams,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let session = state
        .db
        .event(session_id(&id)?)
        .await?
        .ok_or_else(session_not_found)?;
    let guest = guest_id(&headers, query.0.get("userId"))?;
    let viewer = resolve_viewer(&state, &session, user.as_ref(), guest).await?;
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(feed(
        state,
        base,
        session.id,
        EventRules::from_settings(&session.settings),
        viewer,
        tx,
    ));
    Ok(Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default()))
}

fn sees(viewer: Viewer, rules: &EventRules, picture: &PhotoRecord) -> bool {
    match viewer {
        Viewer::Host => true,
        Viewer::Guest(id) if picture.guest_id == Some(id) => true,
        _ => picture.status == PhotoStatus::Approved && rules.gallery_visible_to_guests(),
    }
}

fn event(name: &str, data: &impl serde::Serialize) -> Option<Event> {
    Event::default().event(name).json_data(data).ok()
}

async fn guests_event(state: &SharedState, session_id: Uuid) -> Option<Event> {
    let since = super::now() - chrono::Duration::from_std(ONLINE_WINDOW).unwrap_or_default();
    let online = state.db.guests_online(session_id, since).await.ok()?;
    event("guests", &json!({ "online": online }))
}

/// Forwards this event's notifications to one subscriber until it disconnects or shutdown begins.
async fn feed(
    state: SharedState,
    base: Url,
    session_id: Uuid,
    mut rules: EventRules,
    viewer: Viewer,
    tx: mpsc::Sender<Result<Event, Infallible>>,
) {
    let mut notifications = state.events.subscribe();
    let shutdown = state.shutdown.clone();
    let mut guests_ticker = tokio::time::interval(GUESTS_EVERY);
    if shutdown.is_cancelled() {
        return;
    }
    loop {
        let outgoing = tokio::select! {
            _ = tx.closed() => return,
            _ = shutdown.cancelled() => return,
            _ = guests_ticker.tick() => guests_event(&state, session_id).await,
            received = notifications.recv() => match received {
                Ok(notification) if notification.session_id() == session_id => match notification {
                    LiveEvent::PictureCreated { picture } => sees(viewer, &rules, &picture)
                        .then(|| event("picture.created", &picture_view(&state, &base, picture)))
                        .flatten(),
                    LiveEvent::PictureUpdated { picture } => sees(viewer, &rules, &picture)
                        .then(|| event("picture.updated", &picture_view(&state, &base, picture)))
                        .flatten(),
                    LiveEvent::PictureDeleted { picture_id, .. } => event("picture.deleted", &json!({ "id": picture_id })),
                    LiveEvent::GuestsChanged { .. } => guests_event(&state, session_id).await,
                    LiveEvent::SessionUpdated { .. } => match state.db.event(session_id).await {
                        Ok(Some(session)) => {
                            rules = EventRules::from_settings(&session.settings);
                            event("session.updated", &SessionView::from(session))
                        }
                        _ => None,
                    },
                },
                Ok(_) => None,
                Err(RecvError::Lagged(_)) => event("resync", &json!({})),
                Err(RecvError::Closed) => return,
            },
        };
        if let Some(outgoing) = outgoing {
            if tx.send(Ok(outgoing)).await.is_err() {
                return;
            }
        }
    }
}
