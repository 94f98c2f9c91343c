//! `PUT` / `DELETE /pictures/{id}/reaction`: a guest or the host reacts to a photo.

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    ApiError, SharedState,
    error::ErrorBody,
    extract::{JsonBody, MaybeAuthHost, Path, RequestingGuest},
    pictures::PicturePath,
};
use crate::{
    app::{ErrorCode, reactions},
    domain::{
        reaction::{Reaction, ReactionCounts},
        values::required,
    },
};

#[derive(Deserialize, ToSchema)]
pub struct ReactRequest {
    /// One of `heart` (❤️), `laugh` (😂), `wow` (😮), `party` (🎉).
    pub reaction: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReactionsView {
    pub picture_id: Uuid,
    pub reactions: ReactionCounts,
    /// The asker's reaction now; `null` after removing it.
    pub my_reaction: Option<Reaction>,
}

impl From<reactions::PhotoReactions> for ReactionsView {
    fn from(value: reactions::PhotoReactions) -> Self {
        Self {
            picture_id: value.photo_id,
            reactions: value.reactions,
            my_reaction: value.mine,
        }
    }
}

#[utoipa::path(put, path = "/pictures/{id}/reaction", tag = "pictures",
    params(
        PicturePath,
        ("X-Guest-Id" = Option<Uuid>, Header, description = "The reacting guest"),
    ),
    request_body = ReactRequest,
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The asker's reaction is set (replacing theirs); the photo's counts", body = ReactionsView),
        (status = 400, description = "Malformed id, missing or unknown reaction", body = ErrorBody),
        (status = 401, description = "Neither a guest id nor a host token", body = ErrorBody),
        (status = 403, description = "A guest of another event, not the host, or reactions are off", body = ErrorBody),
        (status = 404, description = "Unknown picture or guest, or a picture the asker cannot see", body = ErrorBody),
        (status = 429, description = "Too many reactions (see Retry-After)", body = ErrorBody),
    ))]
pub async fn react(
    State(app): State<SharedState>,
    MaybeAuthHost(host): MaybeAuthHost,
    RequestingGuest(guest_id): RequestingGuest,
    Path(path): Path<PicturePath>,
    JsonBody(body): JsonBody<ReactRequest>,
) -> Result<Json<ReactionsView>, ApiError> {
    let name = required(body.reaction, "reaction")?;
    let reaction = Reaction::parse(&name).ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnknownReaction,
            "reaction must be one of heart, laugh, wow, party",
        )
    })?;
    let result = reactions::react(&app, host.as_ref(), guest_id, path.id, Some(reaction)).await?;
    Ok(Json(result.into()))
}

#[utoipa::path(delete, path = "/pictures/{id}/reaction", tag = "pictures",
    params(
        PicturePath,
        ("X-Guest-Id" = Option<Uuid>, Header, description = "The reacting guest"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The asker's reaction is removed (if there was one); the photo's counts", body = ReactionsView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Neither a guest id nor a host token", body = ErrorBody),
        (status = 403, description = "A guest of another event, not the host, or reactions are off", body = ErrorBody),
        (status = 404, description = "Unknown picture or guest, or a picture the asker cannot see", body = ErrorBody),
        (status = 429, description = "Too many reactions (see Retry-After)", body = ErrorBody),
    ))]
pub async fn unreact(
    State(app): State<SharedState>,
    MaybeAuthHost(host): MaybeAuthHost,
    RequestingGuest(guest_id): RequestingGuest,
    Path(path): Path<PicturePath>,
) -> Result<Json<ReactionsView>, ApiError> {
    let result = reactions::react(&app, host.as_ref(), guest_id, path.id, None).await?;
    Ok(Json(result.into()))
}
