//! Events ("sessions"), their missions, and the guests who join them.

use std::net::IpAddr;

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    ApiError, SharedState,
    error::ErrorBody,
    extract::{
        AuthHost, ClientBase, ClientIp, JsonBody, OptionalJsonBody, Path, Query, required_uuid,
    },
};
use crate::{
    app::{App, events, guests, guests::FilmRoll, retention},
    db::{EventRecord, GuestRecord},
    domain::{
        event_pin,
        identity::EventIdentity,
        join_code::JoinCode,
        missions::MissionList,
        rules,
        values::{Name, required},
    },
};

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub user_id: Uuid,
    /// Free-form event settings (`name`, `description`, `ends_at`, ...). Once `reveal_at` has
    /// come, `revealed` reads `true`.
    #[schema(value_type = Object)]
    pub settings: Value,
    pub missions: MissionList,
    pub created_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The short code guests may type instead of the link (`K7QM-2XDP`; short link `/j/K7QM2XDP`).
    pub join_code: Option<String>,
    /// When the event, its photos and guests are deleted (`RETENTION_DAYS` after `ends_at`);
    /// `null` when the server keeps events for good.
    pub delete_after: Option<DateTime<Utc>>,
    /// The event's cover photo (`settings.cover_picture_id`) as an image URL for `<img src>`
    /// (`/sessions/{id}/cover`), or `null` without one.
    pub cover_url: Option<String>,
    /// Guests need the event's PIN to join (`pin` at `registerSessionUser`); the host sets it
    /// as `settings.pin`. The PIN itself is never shown.
    pub protected: bool,
}

impl SessionView {
    /// `base`: where clients reach this server, for the absolute URLs in the view.
    pub fn new(app: &App, s: EventRecord, base: Option<&Url>) -> Self {
        Self {
            cover_url: base.and_then(|base| cover_url(base, &s)),
            protected: event_pin::is_protected(&s.settings),
            id: s.id,
            user_id: s.host_id,
            settings: rules::effective_settings(s.settings, crate::app::now()),
            missions: s.missions,
            created_at: s.created_at,
            delete_after: retention::delete_after(s.ends_at, app.retention),
            ends_at: s.ends_at,
            join_code: s
                .join_code
                .as_deref()
                .and_then(JoinCode::parse)
                .map(|code| code.to_string()),
        }
    }
}

/// `/sessions/{id}/cover?v={photo}`: stable for link previews, new when the cover changes.
pub fn cover_url(base: &Url, event: &EventRecord) -> Option<String> {
    let cover = EventIdentity::from_settings(&event.settings).cover_picture_id?;
    Some(format!(
        "{}/sessions/{}/cover?v={}",
        base.as_str().trim_end_matches('/'),
        event.id,
        cover.simple()
    ))
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
    /// The event's PIN or password, when the event is `protected` (ignored otherwise). Wrong
    /// PINs are limited per client address: `RATE_LIMIT_JOIN_PIN_*`.
    pub pin: Option<String>,
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
    /// Photos this guest has uploaded to the event.
    pub uploads: u64,
    /// How many more the host's per-guest limit allows ("7 of 24 left"); `null` without a limit.
    pub uploads_left: Option<u64>,
}

impl GuestView {
    fn new(g: GuestRecord, roll: FilmRoll) -> Self {
        Self {
            id: g.id,
            user_name: g.name,
            session_id: g.event_id,
            created_at: g.created_at,
            last_seen: g.last_seen,
            uploads: roll.taken,
            uploads_left: roll.left(),
        }
    }
}

impl TryFrom<SetMissionsRequest> for events::SetMissions {
    type Error = ApiError;

    fn try_from(body: SetMissionsRequest) -> Result<Self, ApiError> {
        Ok(Self {
            event_id: required_uuid(body.session_id.as_deref(), "sessionId")?,
            missions: MissionList::parse(&required(body.missions, "missions")?)?,
        })
    }
}

impl TryFrom<(RegisterGuestRequest, IpAddr)> for guests::Join {
    type Error = ApiError;

    fn try_from((body, client): (RegisterGuestRequest, IpAddr)) -> Result<Self, ApiError> {
        Ok(Self {
            name: Name::parse(&required(body.username, "username")?, "username")?,
            event_id: required_uuid(body.session_id.as_deref(), "sessionId")?,
            pin: body.pin,
            client,
        })
    }
}

impl TryFrom<LoginGuestRequest> for guests::Rejoin {
    type Error = ApiError;

    fn try_from(body: LoginGuestRequest) -> Result<Self, ApiError> {
        Ok(Self {
            guest_id: required_uuid(body.user_id.as_deref(), "userId")?,
            event_id: required_uuid(body.session_id.as_deref(), "sessionId")?,
        })
    }
}

/// `?sessionId=`: the event a public request is about.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// The event id
    #[serde(rename = "sessionId")]
    #[param(rename = "sessionId", value_type = Uuid, required = true)]
    pub session_id: Option<String>,
}

#[utoipa::path(post, path = "/sessions/create", tag = "sessions", request_body(content = Option<CreateSessionRequest>),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Event created", body = CreateSessionResponse),
        (status = 400, description = "Invalid settings", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
    ))]
pub async fn create(
    State(app): State<SharedState>,
    AuthHost(host): AuthHost,
    ClientBase(base): ClientBase,
    OptionalJsonBody(body): OptionalJsonBody<CreateSessionRequest>,
) -> Result<(StatusCode, Json<CreateSessionResponse>), ApiError> {
    let event = events::create(&app, &host, body.settings).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreateSessionResponse {
            session_id: event.id,
            session: SessionView::new(&app, event, base.as_ref()),
        }),
    ))
}

#[utoipa::path(get, path = "/sessions/get", tag = "sessions", params(EventQuery),
    responses(
        (status = 200, description = "The event", body = SessionView),
        (status = 400, description = "Missing or malformed sessionId", body = ErrorBody),
        (status = 404, description = "Unknown event", body = ErrorBody),
    ))]
pub async fn get(
    State(app): State<SharedState>,
    ClientBase(base): ClientBase,
    Query(query): Query<EventQuery>,
) -> Result<Json<SessionView>, ApiError> {
    let id = required_uuid(query.session_id.as_deref(), "sessionId")?;
    let event = app.cached_event(id).await?;
    Ok(Json(SessionView::new(
        &app,
        (*event).clone(),
        base.as_ref(),
    )))
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
    State(app): State<SharedState>,
    AuthHost(host): AuthHost,
    ClientBase(base): ClientBase,
    JsonBody(body): JsonBody<SetMissionsRequest>,
) -> Result<Json<SetMissionsResponse>, ApiError> {
    let event = events::set_missions(&app, &host, body.try_into()?).await?;
    Ok(Json(SetMissionsResponse {
        message: "Missions updated".into(),
        data: SessionView::new(&app, event, base.as_ref()),
    }))
}

#[utoipa::path(post, path = "/sessions/registerSessionUser", tag = "guests", request_body = RegisterGuestRequest,
    responses(
        (status = 201, description = "Guest joined", body = GuestView),
        (status = 400, description = "Invalid name or sessionId", body = ErrorBody),
        (status = 401, description = "The event is protected and no `pin` was sent (`join.pin_required`)", body = ErrorBody),
        (status = 403, description = "Wrong PIN (`join.pin_wrong`)", body = ErrorBody),
        (status = 404, description = "Unknown event", body = ErrorBody),
        (status = 429, description = "Too many wrong PINs from this address (`join.pin_locked`); see Retry-After", body = ErrorBody),
    ))]
pub async fn register_guest(
    State(app): State<SharedState>,
    ClientIp(client): ClientIp,
    JsonBody(body): JsonBody<RegisterGuestRequest>,
) -> Result<(StatusCode, Json<GuestView>), ApiError> {
    let guest = guests::join(&app, (body, client).try_into()?).await?;
    let roll = guests::film_roll(&app, &guest).await?;
    Ok((StatusCode::CREATED, Json(GuestView::new(guest, roll))))
}

#[utoipa::path(post, path = "/sessions/loginSessionUser", tag = "guests", request_body = LoginGuestRequest,
    responses(
        (status = 200, description = "The returning guest", body = GuestView),
        (status = 400, description = "Missing or malformed ids", body = ErrorBody),
        (status = 403, description = "The guest belongs to another event", body = ErrorBody),
        (status = 404, description = "Unknown guest or event", body = ErrorBody),
    ))]
pub async fn login_guest(
    State(app): State<SharedState>,
    JsonBody(body): JsonBody<LoginGuestRequest>,
) -> Result<Json<GuestView>, ApiError> {
    let guest = guests::rejoin(&app, body.try_into()?).await?;
    let roll = guests::film_roll(&app, &guest).await?;
    Ok(Json(GuestView::new(guest, roll)))
}

#[utoipa::path(post, path = "/sessions/heartbeat", tag = "guests", request_body = HeartbeatRequest,
    responses(
        (status = 200, description = "Presence recorded", body = HeartbeatResponse),
        (status = 400, description = "Missing or malformed userId", body = ErrorBody),
        (status = 404, description = "Unknown guest", body = ErrorBody),
    ))]
pub async fn heartbeat(
    State(app): State<SharedState>,
    JsonBody(body): JsonBody<HeartbeatRequest>,
) -> Result<Json<HeartbeatResponse>, ApiError> {
    let guest_id = required_uuid(body.user_id.as_deref(), "userId")?;
    guests::heartbeat(&app, guest_id).await?;
    Ok(Json(HeartbeatResponse { success: true }))
}

/// `/sessions/by-code/{code}`: a join code as a guest typed it.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct JoinCodePath {
    /// The code, any case, with or without the dash (`K7QM-2XDP`, `k7qm2xdp`)
    pub code: String,
}

#[utoipa::path(get, path = "/sessions/by-code/{code}", tag = "sessions",
    params(JoinCodePath),
    responses(
        (status = 200, description = "The event with this join code", body = SessionView),
        (status = 400, description = "Not a join code (8 letters and digits)", body = ErrorBody),
        (status = 404, description = "No event has this code", body = ErrorBody),
        (status = 429, description = "Too many lookups from this address; see Retry-After", body = ErrorBody),
    ))]
pub async fn by_code(
    State(app): State<SharedState>,
    ClientBase(base): ClientBase,
    Path(path): Path<JoinCodePath>,
) -> Result<Json<SessionView>, ApiError> {
    let event = events::by_join_code(&app, &path.code).await?;
    Ok(Json(SessionView::new(&app, event, base.as_ref())))
}
