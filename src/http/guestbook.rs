//! `GET` / `POST /sessions/{id}/guestbook`, `DELETE /sessions/{id}/guestbook/{message_id}` and
//! `POST /sessions/{id}/guestbook/{message_id}/approve`: the event's guestbook.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    ApiError, SharedState,
    error::ErrorBody,
    extract::{
        AuthHost, JsonBody, MaybeAuthHost, Path, PublicBase, RequestingGuest, optional_uuid,
    },
    hosting::EventPath,
};
use crate::{
    app::{
        App, ErrorCode,
        gallery::{self, Audience},
        guestbook,
    },
    domain::{
        comment::CommentStatus,
        guestbook::{MAX_MESSAGE_CHARS, MessageText, MessageTextError},
        values::required,
    },
};

#[derive(Deserialize, ToSchema)]
pub struct GuestbookRequest {
    /// The writing guest, when not sent as X-Guest-Id.
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
    /// 1 to 1000 characters after trimming; line breaks allowed, other control characters not.
    /// Shown as plain text.
    pub text: Option<String>,
    /// One of the writer's own photos of this event (the host: any of the event's photos).
    pub photo_id: Option<String>,
}

/// A message's photo, as the reader may see it: the display copy and thumbnail (the host gets
/// the original as `url`).
#[derive(Serialize, ToSchema)]
pub struct GuestbookPhotoView {
    pub id: Uuid,
    pub url: String,
    pub thumb_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct GuestbookMessageView {
    pub id: Uuid,
    pub session_id: Uuid,
    /// The writing guest's id, or the host's.
    pub author_id: Uuid,
    /// The author's name when they wrote it.
    pub author_name: String,
    /// Written by the event's host.
    pub by_host: bool,
    /// Plain text (may hold line breaks): render it as text, never as HTML.
    pub text: String,
    /// `pending` while waiting for the host (`guestbook_approval`): shown to its author and the
    /// host only.
    pub status: CommentStatus,
    /// The message's photo, when it has one the reader may see.
    pub photo: Option<GuestbookPhotoView>,
    pub created_at: DateTime<Utc>,
}

impl GuestbookMessageView {
    pub fn new(app: &App, base: &Url, audience: Audience, message: guestbook::Message) -> Self {
        let record = message.record;
        let photo = message.photo.map(|photo| {
            let links = gallery::links(app, &photo, base, audience);
            GuestbookPhotoView {
                id: photo.id,
                url: links.url,
                thumb_url: links.thumb_url,
            }
        });
        Self {
            id: record.id,
            session_id: record.event_id,
            author_id: record.author_id,
            author_name: record.author_name,
            by_host: message.by_host,
            text: record.text,
            status: record.status,
            photo,
            created_at: record.created_at,
        }
    }
}

/// `/sessions/{id}/guestbook/{message_id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GuestbookPath {
    /// The event
    pub id: Uuid,
    /// The message
    pub message_id: Uuid,
}

#[utoipa::path(get, path = "/sessions/{id}/guestbook", operation_id = "list_guestbook", tag = "sessions",
    params(
        EventPath,
        ("X-Guest-Id" = Option<Uuid>, Header, description = "The reading guest (also sees their own pending messages)"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The messages the asker may read, oldest first: approved ones for anybody with the link, pending ones for their author and the host", body = [GuestbookMessageView]),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 403, description = "A guest of another event", body = ErrorBody),
        (status = 404, description = "Unknown event or guest", body = ErrorBody),
    ))]
pub async fn list(
    State(app): State<SharedState>,
    PublicBase(base): PublicBase,
    MaybeAuthHost(host): MaybeAuthHost,
    RequestingGuest(guest_id): RequestingGuest,
    Path(path): Path<EventPath>,
) -> Result<Json<Vec<GuestbookMessageView>>, ApiError> {
    let (viewer, messages) = guestbook::list(&app, host.as_ref(), guest_id, path.id).await?;
    let audience = Audience::from(viewer);
    Ok(Json(
        messages
            .into_iter()
            .map(|m| GuestbookMessageView::new(&app, &base, audience, m))
            .collect(),
    ))
}

#[utoipa::path(post, path = "/sessions/{id}/guestbook", operation_id = "post_guestbook", tag = "sessions",
    params(
        EventPath,
        ("X-Guest-Id" = Option<Uuid>, Header, description = "The writing guest"),
    ),
    request_body = GuestbookRequest,
    security((), ("bearer" = [])),
    responses(
        (status = 201, description = "The message (pending when the host approves messages first)", body = GuestbookMessageView),
        (status = 400, description = "Malformed id, missing, empty or too long text, or control characters", body = ErrorBody),
        (status = 401, description = "Neither a guest id nor a host token", body = ErrorBody),
        (status = 403, description = "A guest of another event, not the host, the guestbook is closed, or another guest's photo", body = ErrorBody),
        (status = 404, description = "Unknown event, guest or photo (or a photo of another event)", body = ErrorBody),
        (status = 429, description = "Too many messages (see Retry-After)", body = ErrorBody),
    ))]
pub async fn post(
    State(app): State<SharedState>,
    PublicBase(base): PublicBase,
    MaybeAuthHost(host): MaybeAuthHost,
    RequestingGuest(guest_id): RequestingGuest,
    Path(path): Path<EventPath>,
    JsonBody(body): JsonBody<GuestbookRequest>,
) -> Result<(StatusCode, Json<GuestbookMessageView>), ApiError> {
    let guest_id = match guest_id {
        Some(id) => Some(id),
        None => optional_uuid(body.user_id.as_deref(), "userId")?,
    };
    let text = MessageText::parse(&required(body.text, "text")?).map_err(|e| {
        let message = match e {
            MessageTextError::Empty => "text must not be empty".to_owned(),
            MessageTextError::TooLong => {
                format!("text must be at most {MAX_MESSAGE_CHARS} characters")
            }
            MessageTextError::ControlCharacter => {
                "text must not hold control characters other than line breaks".to_owned()
            }
        };
        ApiError::new(ErrorCode::GuestbookInvalidText, message)
    })?;
    let command = guestbook::Post {
        event_id: path.id,
        text,
        photo_id: optional_uuid(body.photo_id.as_deref(), "photo_id")?,
    };
    let message = guestbook::post(&app, host.as_ref(), guest_id, command).await?;
    let audience = if message.by_host {
        Audience::Host
    } else {
        Audience::Guests
    };
    Ok((
        StatusCode::CREATED,
        Json(GuestbookMessageView::new(&app, &base, audience, message)),
    ))
}

#[utoipa::path(delete, path = "/sessions/{id}/guestbook/{message_id}", operation_id = "delete_guestbook", tag = "sessions",
    params(
        GuestbookPath,
        ("X-Guest-Id" = Option<Uuid>, Header, description = "The guest who wrote the message"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Neither a guest id nor a host token", body = ErrorBody),
        (status = 403, description = "A guest of another event, not the host, or a guest deleting another's message", body = ErrorBody),
        (status = 404, description = "Unknown event, guest or message", body = ErrorBody),
    ))]
pub async fn delete(
    State(app): State<SharedState>,
    MaybeAuthHost(host): MaybeAuthHost,
    RequestingGuest(guest_id): RequestingGuest,
    Path(path): Path<GuestbookPath>,
) -> Result<StatusCode, ApiError> {
    guestbook::delete(&app, host.as_ref(), guest_id, path.id, path.message_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/sessions/{id}/guestbook/{message_id}/approve", operation_id = "approve_guestbook", tag = "sessions",
    params(GuestbookPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Approved: now shown to everybody (and on the slideshow)", body = GuestbookMessageView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not the event's host", body = ErrorBody),
        (status = 404, description = "Unknown event or message", body = ErrorBody),
    ))]
pub async fn approve(
    State(app): State<SharedState>,
    PublicBase(base): PublicBase,
    AuthHost(host): AuthHost,
    Path(path): Path<GuestbookPath>,
) -> Result<Json<GuestbookMessageView>, ApiError> {
    let message = guestbook::approve(&app, &host, path.id, path.message_id).await?;
    Ok(Json(GuestbookMessageView::new(
        &app,
        &base,
        Audience::Host,
        message,
    )))
}
