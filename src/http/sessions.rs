//! Events ("sessions"), their missions, and the guests who join them.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    ApiError, SharedState,
    error::ErrorBody,
    extract::{AuthUser, JsonBody, OptionalJsonBody, QueryParams},
};
use crate::{
    db::{EventRecord, GuestRecord},
    domain::{
        missions::MissionList,
        rules::new_event_settings,
        values::{Name, required, required_uuid},
    },
    events::LiveEvent,
    metrics::ONLINE_WINDOW,
};

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub user_id: Uuid,
    /// Free-form event settings (`name`, `description`, `ends_at`, ...).
    #[schema(value_type = Object)]
    pub settings: Value,
    pub missions: MissionList,
    pub created_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl From<EventRecord> for SessionView {
    fn from(s: EventRecord) -> Self {
        Self {
            id: s.id,
            user_id: s.host_id,
            settings: s.settings,
            missions: s.missions,
            created_at: s.created_at,
            ends_at: s.ends_at,
        }
    }
}

#[derive(Deserialize, Default, ToSchema)]
pub struct CreateSessionRequest {
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct CreateSessionResponse {
    #[serde(rename = "sessionId")]
    pub session_id: Uuid,
    #[serde(flatten)]
    pub session: SessionView,
}

#[derive(Deserialize, ToSchema)]
pub struct SetMissionsRequest {
    #[serde(rename = "sessionId")]
    pub session_id: Option<String>,
    /// `{data: [{id, description}]}`; at most 500 missions of at most 300 characters.
    #[schema(value_type = Option<MissionList>)]
    pub missions: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct SetMissionsResponse {
    pub message: String,
    pub data: SessionView,
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterGuestRequest {
    /// The guest's name, 1-50 characters.
    pub username: Option<String>,
    #[serde(rename = "sessionId")]
    pub session_id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginGuestRequest {
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
    #[serde(rename = "sessionId")]
    pub session_id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct HeartbeatRequest {
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct HeartbeatResponse {
    pub success: bool,
}

#[derive(Serialize, ToSchema)]
pub struct GuestView {
    pub id: Uuid,
    pub user_name: String,
    pub session_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

impl From<GuestRecord> for GuestView {
    fn from(g: GuestRecord) -> Self {
        Self {
            id: g.id,
            user_name: g.name,
            session_id: g.event_id,
            created_at: g.created_at,
            last_seen: g.last_seen,
        }
    }
}

fn uuid_field(value: Option<String>, field: &str) -> Result<Uuid, ApiError> {
    required_uuid(value, field).map_err(|e| ApiError::BadRequest(e.0))
}

pub(super) fn session_not_found() -> ApiError {
    ApiError::not_found("Session not found")
}

#[utoipa::path(post, path = "/sessions/create", tag = "sessions", request_body(content = Option<CreateSessionRequest>),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Event created", body = CreateSessionResponse),
        (status = 400, description = "Invalid settings", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<SharedState>,
    user: AuthUser,
    OptionalJsonBody(body): OptionalJsonBody<CreateSessionRequest>,
) -> Result<(StatusCode, Json<CreateSessionResponse>), ApiError> {
    let now = super::now();
    let (settings, ends_at) =
        new_event_settings(body.settings, now).map_err(|e| ApiError::BadRequest(e.0))?;
    let session = EventRecord {
        id: Uuid::new_v4(),
        host_id: user.id,
        settings,
        missions: MissionList::defaults(),
        created_at: now,
        ends_at,
    };
    state
        .db
        .insert_event(&session)
        .await
        .map_err(|err| match err {
            // A valid token whose account no longer exists (e.g. the database was reset).
            crate::db::DbError::MissingReference(_) => {
                ApiError::Unauthorized("Unknown user".into())
            }
            other => other.into(),
        })?;
    state.metrics.sessions_created.inc();
    tracing::info!(session_id = %session.id, host = %user.email, "event created");
    Ok((
        StatusCode::CREATED,
        Json(CreateSessionResponse {
            session_id: session.id,
            session: session.into(),
        }),
    ))
}

#[utoipa::path(get, path = "/sessions/get", tag = "sessions",
    params(("sessionId" = Uuid, Query, description = "The event id")),
    responses(
        (status = 200, description = "The event", body = SessionView),
        (status = 400, description = "Missing or malformed sessionId", body = ErrorBody),
        (status = 404, description = "Unknown event", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<SharedState>,
    query: QueryParams,
) -> Result<Json<SessionView>, ApiError> {
    let id = query.uuid("sessionId")?;
    let session = state.db.event(id).await?.ok_or_else(session_not_found)?;
    Ok(Json(session.into()))
}

#[utoipa::path(post, path = "/sessions/setmissions", tag = "sessions", request_body = SetMissionsRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Missions replaced", body = SetMissionsResponse),
        (status = 400, description = "Invalid missions", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not the event's host", body = ErrorBody),
        (status = 404, description = "Unknown event", body = ErrorBody),
    ))]
pub async fn set_missions(
    State(state): State<SharedState>,
    user: AuthUser,
    JsonBody(body): JsonBody<SetMissionsRequest>,
) -> Result<Json<SetMissionsResponse>, ApiError> {
    let id = uuid_field(body.session_id, "sessionId")?;
    let missions = required(body.missions, "missions").map_err(|e| ApiError::BadRequest(e.0))?;
    let missions = MissionList::parse(&missions).map_err(|e| ApiError::BadRequest(e.0))?;
    let session = state.db.event(id).await?.ok_or_else(session_not_found)?;
    if session.host_id != user.id {
        return Err(ApiError::Forbidden(
            "Only the host of this session can change its missions".into(),
        ));
    }
    let session = state
        .db
        .update_missions(id, &missions)
        .await?
        .ok_or_else(session_not_found)?;
    Ok(Json(SetMissionsResponse {
        message: "Missions updated".into(),
        data: session.into(),
    }))
}

#[utoipa::path(post, path = "/sessions/registerSessionUser", tag = "guests", request_body = RegisterGuestRequest,
    responses(
        (status = 201, description = "Guest joined", body = GuestView),
        (status = 400, description = "Invalid name or sessionId", body = ErrorBody),
        (status = 404, description = "Unknown event", body = ErrorBody),
    ))]
pub async fn register_guest(
    State(state): State<SharedState>,
    JsonBody(body): JsonBody<RegisterGuestRequest>,
) -> Result<(StatusCode, Json<GuestView>), ApiError> {
    let name = required(body.username, "username").map_err(|e| ApiError::BadRequest(e.0))?;
    let name = Name::parse(&name, "username").map_err(|e| ApiError::BadRequest(e.0))?;
    let session_id = uuid_field(body.session_id, "sessionId")?;
    state
        .db
        .event(session_id)
        .await?
        .ok_or_else(session_not_found)?;
    let now = super::now();
    let guest = GuestRecord {
        id: Uuid::new_v4(),
        event_id: session_id,
        name: name.into_inner(),
        created_at: now,
        last_seen: now,
    };
    state.db.insert_guest(&guest).await?;
    state
        .events
        .publish(LiveEvent::GuestsChanged { session_id })
        .await;
    Ok((StatusCode::CREATED, Json(guest.into())))
}

#[utoipa::path(post, path = "/sessions/loginSessionUser", tag = "guests", request_body = LoginGuestRequest,
    responses(
        (status = 200, description = "The returning guest", body = GuestView),
        (status = 400, description = "Missing or malformed ids", body = ErrorBody),
        (status = 403, description = "The guest belongs to another event", body = ErrorBody),
        (status = 404, description = "Unknown guest or event", body = ErrorBody),
    ))]
pub async fn login_guest(
    State(state): State<SharedState>,
    JsonBody(body): JsonBody<LoginGuestRequest>,
) -> Result<Json<GuestView>, ApiError> {
    let user_id = uuid_field(body.user_id, "userId")?;
    let session_id = uuid_field(body.session_id, "sessionId")?;
    let guest = state
        .db
        .guest(user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Session user not found"))?;
    if guest.event_id != session_id {
        state
            .db
            .event(session_id)
            .await?
            .ok_or_else(session_not_found)?;
        return Err(ApiError::Forbidden(
            "This guest belongs to another session".into(),
        ));
    }
    let was_online = super::now() - guest.last_seen
        < chrono::Duration::from_std(ONLINE_WINDOW).unwrap_or_default();
    let guest = state
        .db
        .touch_guest(user_id, super::now())
        .await?
        .unwrap_or(guest);
    if !was_online {
        state
            .events
            .publish(LiveEvent::GuestsChanged { session_id })
            .await;
    }
    Ok(Json(guest.into()))
}

#[utoipa::path(post, path = "/sessions/heartbeat", tag = "guests", request_body = HeartbeatRequest,
    responses(
        (status = 200, description = "Presence recorded", body = HeartbeatResponse),
        (status = 400, description = "Missing or malformed userId", body = ErrorBody),
        (status = 404, description = "Unknown guest", body = ErrorBody),
    ))]
pub async fn heartbeat(
    State(state): State<SharedState>,
    JsonBody(body): JsonBody<HeartbeatRequest>,
) -> Result<Json<HeartbeatResponse>, ApiError> {
    let user_id = uuid_field(body.user_id, "userId")?;
    state
        .db
        .touch_guest(user_id, super::now())
        .await?
        .ok_or_else(|| ApiError::not_found("Session user not found"))?;
    Ok(Json(HeartbeatResponse { success: true }))
}
