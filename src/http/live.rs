//! `GET /sessions/{id}/events`: Server-Sent Events for live galleries and slideshows.
//! Events: `picture.created`, `picture.updated`, `picture.deleted`, `picture.reactions`
//! ({picture_id, reactions}), `comment.added` (a comment, also once approved),
//! `comment.deleted` ({picture_id, id}), `guestbook.added` (a guestbook message, also once
//! approved; to everybody who may read it, a slideshow too), `guestbook.deleted` ({id}),
//! `session.updated`,
//! `guests` ({online}) on connect and every 15 s, and `resync` when the client fell behind.

use std::convert::Infallible;

use axum::{
    extract::State,
    response::{
        IntoResponse,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::IntoParams;

use super::{
    ApiError, SharedState,
    comments::CommentView,
    error::ErrorBody,
    extract::{MaybeAuthHost, Path, PublicBase, RequestingGuest},
    guestbook::GuestbookMessageView,
    hosting::EventPath,
    pictures::picture_view,
    sessions::SessionView,
};
use crate::app::{
    comments,
    gallery::Audience,
    guestbook,
    live::{self, Update},
};

/// Who is watching (EventSource cannot send headers).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by RequestingGuest and MaybeAuthHost; declared for the API description
pub struct WatcherQuery {
    /// The watching guest (sees their own pending photos)
    #[serde(rename = "userId")]
    #[param(rename = "userId", value_type = Option<Uuid>)]
    user_id: Option<String>,
    /// The host's token
    access_token: Option<String>,
}

#[utoipa::path(get, path = "/sessions/{id}/events", tag = "sessions",
    params(EventPath, WatcherQuery),
    responses(
        (status = 200, description = "An event stream", content_type = "text/event-stream"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 404, description = "Unknown event or guest", body = ErrorBody),
    ))]
pub async fn events(
    State(app): State<SharedState>,
    PublicBase(base): PublicBase,
    MaybeAuthHost(host): MaybeAuthHost,
    RequestingGuest(guest_id): RequestingGuest,
    Path(path): Path<EventPath>,
) -> Result<impl IntoResponse, ApiError> {
    let (audience, updates) = live::follow(app.clone(), path.id, host.as_ref(), guest_id).await?;
    let events = ReceiverStream::new(updates).filter_map(move |update| {
        let event = sse_event(&app, &base, audience, update);
        async move { event.map(Ok::<_, Infallible>) }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

fn sse_event(
    app: &crate::app::App,
    base: &url::Url,
    audience: Audience,
    update: Update,
) -> Option<Event> {
    let view = |photo| picture_view(app, base, photo, audience);
    match update {
        Update::PhotoAdded(photo) => named("picture.created", &view(photo)),
        Update::PhotoChanged(photo) => named("picture.updated", &view(photo)),
        Update::PhotoRemoved(id) => named("picture.deleted", &json!({ "id": id })),
        Update::Reactions {
            photo_id,
            reactions,
        } => named(
            "picture.reactions",
            &json!({ "picture_id": photo_id, "reactions": reactions }),
        ),
        Update::CommentAdded { comment, by_host } => named(
            "comment.added",
            &CommentView::from(comments::Comment {
                record: comment,
                by_host,
            }),
        ),
        Update::CommentDeleted {
            photo_id,
            comment_id,
        } => named(
            "comment.deleted",
            &json!({ "picture_id": photo_id, "id": comment_id }),
        ),
        Update::GuestbookAdded {
            message,
            by_host,
            photo,
        } => named(
            "guestbook.added",
            &GuestbookMessageView::new(
                app,
                base,
                audience,
                guestbook::Message {
                    record: message,
                    by_host,
                    photo,
                },
            ),
        ),
        Update::GuestbookDeleted { message_id } => {
            named("guestbook.deleted", &json!({ "id": message_id }))
        }
        Update::EventChanged(record) => named(
            "session.updated",
            &SessionView::new(app, record, Some(base)),
        ),
        Update::GuestsOnline(online) => named("guests", &json!({ "online": online })),
        Update::Resync => named("resync", &json!({})),
    }
}

fn named(name: &str, data: &impl serde::Serialize) -> Option<Event> {
    Event::default().event(name).json_data(data).ok()
}
