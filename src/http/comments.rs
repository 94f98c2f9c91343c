//! `GET` / `POST /pictures/{id}/comments`, `DELETE /pictures/{id}/comments/{comment_id}` and
//! `POST /pictures/{id}/comments/{comment_id}/approve`: comments on a photo.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    ApiError, SharedState,
    error::ErrorBody,
    extract::{AuthHost, JsonBody, MaybeAuthHost, Path, RequestingGuest},
    pictures::PicturePath,
};
use crate::{
    app::{ErrorCode, comments},
    domain::{
        comment::{CommentStatus, CommentText, CommentTextError, MAX_COMMENT_CHARS},
        values::required,
    },
};

#[derive(Deserialize, ToSchema)]
pub struct CommentRequest {
    /// 1 to 280 characters after trimming; shown as plain text.
    pub text: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CommentView {
    pub id: Uuid,
    pub picture_id: Uuid,
    /// The writing guest's id, or the host's.
    pub author_id: Uuid,
    /// The author's name when they wrote it.
    pub author_name: String,
    /// Written by the event's host.
    pub by_host: bool,
    /// Plain text: render it as text, never as HTML.
    pub text: String,
    /// `pending` while waiting for the host (`comment_approval`): shown to its author and the
    /// host only.
    pub status: CommentStatus,
    pub created_at: DateTime<Utc>,
}

impl From<comments::Comment> for CommentView {
    fn from(comment: comments::Comment) -> Self {
        let record = comment.record;
        Self {
            id: record.id,
            picture_id: record.photo_id,
            author_id: record.author_id,
            author_name: record.author_name,
            by_host: comment.by_host,
            text: record.text,
            status: record.status,
            created_at: record.created_at,
        }
    }
}

/// `/pictures/{id}/comments/{comment_id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CommentPath {
    /// The picture
    pub id: Uuid,
    /// The comment
    pub comment_id: Uuid,
}

#[utoipa::path(get, path = "/pictures/{id}/comments", operation_id = "list_comments", tag = "pictures",
    params(
        PicturePath,
        ("X-Guest-Id" = Option<Uuid>, Header, description = "The reading guest"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The comments the asker may read, oldest first", body = [CommentView]),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Neither a guest id nor a host token", body = ErrorBody),
        (status = 403, description = "A guest of another event, or not the host", body = ErrorBody),
        (status = 404, description = "Unknown picture or guest, or a picture the asker cannot see", body = ErrorBody),
    ))]
pub async fn list(
    State(app): State<SharedState>,
    MaybeAuthHost(host): MaybeAuthHost,
    RequestingGuest(guest_id): RequestingGuest,
    Path(path): Path<PicturePath>,
) -> Result<Json<Vec<CommentView>>, ApiError> {
    let comments = comments::list(&app, host.as_ref(), guest_id, path.id).await?;
    Ok(Json(comments.into_iter().map(CommentView::from).collect()))
}

#[utoipa::path(post, path = "/pictures/{id}/comments", operation_id = "post_comment", tag = "pictures",
    params(
        PicturePath,
        ("X-Guest-Id" = Option<Uuid>, Header, description = "The writing guest"),
    ),
    request_body = CommentRequest,
    security((), ("bearer" = [])),
    responses(
        (status = 201, description = "The comment (pending when the host approves comments first)", body = CommentView),
        (status = 400, description = "Malformed id, missing, empty or too long text", body = ErrorBody),
        (status = 401, description = "Neither a guest id nor a host token", body = ErrorBody),
        (status = 403, description = "A guest of another event, not the host, or comments are off", body = ErrorBody),
        (status = 404, description = "Unknown picture or guest, or a picture the asker cannot see", body = ErrorBody),
        (status = 429, description = "Too many comments (see Retry-After)", body = ErrorBody),
    ))]
pub async fn post(
    State(app): State<SharedState>,
    MaybeAuthHost(host): MaybeAuthHost,
    RequestingGuest(guest_id): RequestingGuest,
    Path(path): Path<PicturePath>,
    JsonBody(body): JsonBody<CommentRequest>,
) -> Result<(StatusCode, Json<CommentView>), ApiError> {
    let text = CommentText::parse(&required(body.text, "text")?).map_err(|e| match e {
        CommentTextError::Empty => {
            ApiError::new(ErrorCode::CommentInvalidText, "text must not be empty")
        }
        CommentTextError::TooLong => ApiError::new(
            ErrorCode::CommentInvalidText,
            format!("text must be at most {MAX_COMMENT_CHARS} characters"),
        ),
    })?;
    let comment = comments::post(&app, host.as_ref(), guest_id, path.id, text).await?;
    Ok((StatusCode::CREATED, Json(comment.into())))
}

#[utoipa::path(delete, path = "/pictures/{id}/comments/{comment_id}", operation_id = "delete_comment", tag = "pictures",
    params(
        CommentPath,
        ("X-Guest-Id" = Option<Uuid>, Header, description = "The guest who wrote the comment"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Neither a guest id nor a host token", body = ErrorBody),
        (status = 403, description = "A guest of another event, not the host, or a guest deleting another's comment", body = ErrorBody),
        (status = 404, description = "Unknown picture, guest or comment, or a picture the asker cannot see", body = ErrorBody),
    ))]
pub async fn delete(
    State(app): State<SharedState>,
    MaybeAuthHost(host): MaybeAuthHost,
    RequestingGuest(guest_id): RequestingGuest,
    Path(path): Path<CommentPath>,
) -> Result<StatusCode, ApiError> {
    comments::delete(&app, host.as_ref(), guest_id, path.id, path.comment_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/pictures/{id}/comments/{comment_id}/approve", operation_id = "approve_comment", tag = "pictures",
    params(CommentPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Approved: now visible to everybody who sees the photo", body = CommentView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not the event's host", body = ErrorBody),
        (status = 404, description = "Unknown picture or comment", body = ErrorBody),
    ))]
pub async fn approve(
    State(app): State<SharedState>,
    AuthHost(host): AuthHost,
    Path(path): Path<CommentPath>,
) -> Result<Json<CommentView>, ApiError> {
    let comment = comments::approve(&app, &host, path.id, path.comment_id).await?;
    Ok(Json(comment.into()))
}
