//! The host's side of an event: their events, its rules, ending it, and the join QR code.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use qrcode::{QrCode, render::svg};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    ApiError, SharedState,
    access::require_host,
    error::ErrorBody,
    extract::{AuthUser, JsonBody, PublicBase},
    sessions::{SessionView, session_not_found},
};
use crate::{
    db::EventRecord,
    domain::{rules::merge_settings, values::parse_uuid},
    events::LiveEvent,
};

#[derive(Serialize, ToSchema)]
pub struct SessionListItem {
    #[serde(flatten)]
    pub session: SessionView,
    pub picture_count: i64,
    pub guest_count: i64,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateSettingsRequest {
    /// Settings to change; `null` removes a key. Rules: `ends_at` (a past time ends the event),
    /// `require_approval`, `reveal` ("always" | "after_reveal"), `revealed`, `guest_delete`,
    /// `upload_limit_per_guest` (1-10000 or null).
    #[schema(value_type = Object)]
    pub settings: Option<Value>,
}

pub(super) fn session_id(raw: &str) -> Result<Uuid, ApiError> {
    parse_uuid(raw, "id").map_err(|e| ApiError::BadRequest(e.0))
}

async fn owned_session(
    state: &SharedState,
    user: &AuthUser,
    raw_id: &str,
) -> Result<EventRecord, ApiError> {
    let session = state
        .db
        .event(session_id(raw_id)?)
        .await?
        .ok_or_else(session_not_found)?;
    require_host(&session, Some(user))?;
    Ok(session)
}

#[utoipa::path(get, path = "/sessions/mine", tag = "host", security(("bearer" = [])),
    responses(
        (status = 200, description = "The host's events, newest first", body = [SessionListItem]),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
    ))]
pub async fn mine(
    State(state): State<SharedState>,
    user: AuthUser,
) -> Result<Json<Vec<SessionListItem>>, ApiError> {
    let sessions = state.db.events_of_host(user.id).await?;
    Ok(Json(
        sessions
            .into_iter()
            .map(|s| SessionListItem {
                session: s.event.into(),
                picture_count: s.picture_count,
                guest_count: s.guest_count,
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/sessions/{id}/settings", tag = "host", request_body = UpdateSettingsRequest,
    params(("id" = Uuid, Path, description = "The event")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Settings merged", body = SessionView),
        (status = 400, description = "Invalid settings", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not the event's host", body = ErrorBody),
        (status = 404, description = "Unknown event", body = ErrorBody),
    ))]
pub async fn update_settings(
    State(state): State<SharedState>,
    user: AuthUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateSettingsRequest>,
) -> Result<Json<SessionView>, ApiError> {
    let session = owned_session(&state, &user, &id).await?;
    let (settings, ends_at) = merge_settings(
        &session.settings,
        body.settings,
        session.ends_at,
        super::now(),
    )
    .map_err(|e| ApiError::BadRequest(e.0))?;
    save(&state, session.id, &settings, ends_at).await
}

#[utoipa::path(post, path = "/sessions/{id}/end", tag = "host",
    params(("id" = Uuid, Path, description = "The event")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Ended now: uploads close, the gallery stays readable", body = SessionView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not the event's host", body = ErrorBody),
        (status = 404, description = "Unknown event", body = ErrorBody),
    ))]
pub async fn end(
    State(state): State<SharedState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    let session = owned_session(&state, &user, &id).await?;
    let now = super::now();
    let ends_at = session.ends_at.min(now);
    let patch = serde_json::json!({ "ends_at": ends_at.to_rfc3339() });
    let (settings, ends_at) = merge_settings(&session.settings, Some(patch), session.ends_at, now)
        .map_err(|e| ApiError::BadRequest(e.0))?;
    save(&state, session.id, &settings, ends_at).await
}

async fn save(
    state: &SharedState,
    id: Uuid,
    settings: &Value,
    ends_at: chrono::DateTime<chrono::Utc>,
) -> Result<Json<SessionView>, ApiError> {
    let updated = state
        .db
        .update_settings(id, settings, ends_at)
        .await?
        .ok_or_else(session_not_found)?;
    state
        .events
        .publish(LiveEvent::SessionUpdated { session_id: id })
        .await;
    Ok(Json(updated.into()))
}

#[utoipa::path(get, path = "/sessions/{id}/qr.svg", tag = "sessions",
    params(("id" = Uuid, Path, description = "The event")),
    responses(
        (status = 200, description = "SVG QR code of the guests' join link", content_type = "image/svg+xml"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 404, description = "Unknown event", body = ErrorBody),
    ))]
pub async fn qr_code(
    State(state): State<SharedState>,
    PublicBase(base): PublicBase,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let session = state
        .db
        .event(session_id(&id)?)
        .await?
        .ok_or_else(session_not_found)?;
    let join = join_url(&base, session.id);
    let code = QrCode::new(join.as_bytes())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("QR encoding failed: {e}")))?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    let mut response = image.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    Ok(response)
}

/// The link guests open: the web client's join page.
pub fn join_url(base: &url::Url, session_id: Uuid) -> String {
    format!("{}/s/{session_id}", base.as_str().trim_end_matches('/'))
}
