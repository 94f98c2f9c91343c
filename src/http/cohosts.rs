//! Co-hosts: `POST /sessions/{id}/cohost-invites` (the owner makes a one-time link),
//! `POST /sessions/cohost-invites/accept` (a logged-in host uses it), `GET /sessions/{id}/cohosts` and
//! `DELETE /sessions/{id}/cohosts/{host_id}` (the owner removes one; a co-host leaves).

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    ApiError, SharedState,
    error::ErrorBody,
    extract::{AuthHost, JsonBody, Path, PublicBase},
    hosting::EventPath,
};
use crate::{
    app::{cohosts, now},
    domain::{host_role::HostRole, values::required},
};

#[derive(Serialize, ToSchema)]
pub struct CohostInviteView {
    /// The one-time token; shown only now (the server keeps its hash).
    pub token: String,
    /// The web client's page that accepts it: `{base}/cohost#{token}` (the token stays out of
    /// server logs and referrers).
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

#[utoipa::path(post, path = "/sessions/{id}/cohost-invites", operation_id = "create_cohost_invite", tag = "host",
    params(EventPath),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "A one-time co-host link, valid for 7 days", body = CohostInviteView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not the event's owner (`event.owner_only` for its co-hosts)", body = ErrorBody),
        (status = 404, description = "Unknown event", body = ErrorBody),
        (status = 429, description = "More than 20 links in a burst, then 2 a minute per owner (`cohost_invite.rate_limited`, see Retry-After)", body = ErrorBody),
    ))]
pub async fn create_invite(
    State(app): State<SharedState>,
    AuthHost(host): AuthHost,
    PublicBase(base): PublicBase,
    Path(path): Path<EventPath>,
) -> Result<(StatusCode, Json<CohostInviteView>), ApiError> {
    let invite = cohosts::create_invite(&app, &host, path.id, now()).await?;
    let url = format!(
        "{}/cohost#{}",
        base.as_str().trim_end_matches('/'),
        invite.token
    );
    Ok((
        StatusCode::CREATED,
        Json(CohostInviteView {
            token: invite.token,
            url,
            expires_at: invite.expires_at,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct AcceptCohostInviteRequest {
    /// The token of the co-host link (after `#` in its URL).
    pub token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AcceptCohostInviteResponse {
    /// The event the asker now co-hosts.
    pub session_id: Uuid,
    pub role: HostRole,
}

#[utoipa::path(post, path = "/sessions/cohost-invites/accept", operation_id = "accept_cohost_invite", tag = "host",
    request_body = AcceptCohostInviteRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The asker co-hosts the event now; the link is used up", body = AcceptCohostInviteResponse),
        (status = 400, description = "Missing token", body = ErrorBody),
        (status = 401, description = "Missing or invalid token (log in first)", body = ErrorBody),
        (status = 404, description = "Unknown link (`cohost_invite.not_found`)", body = ErrorBody),
        (status = 409, description = "The asker owns (`cohost_invite.own_event`) or co-hosts (`cohost.already`) the event already; the link stays unused", body = ErrorBody),
        (status = 410, description = "The link was used (`cohost_invite.used`) or has expired (`cohost_invite.expired`)", body = ErrorBody),
    ))]
pub async fn accept_invite(
    State(app): State<SharedState>,
    AuthHost(host): AuthHost,
    JsonBody(body): JsonBody<AcceptCohostInviteRequest>,
) -> Result<Json<AcceptCohostInviteResponse>, ApiError> {
    let token = required(body.token, "token")?;
    let session_id = cohosts::accept(&app, &host, &token, now()).await?;
    Ok(Json(AcceptCohostInviteResponse {
        session_id,
        role: HostRole::CoHost,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct EventHostView {
    pub host_id: Uuid,
    pub email: String,
    /// The account's display name.
    pub username: String,
    pub role: HostRole,
    /// When they became a host of the event (the owner: when the event was created).
    pub added_at: DateTime<Utc>,
}

#[utoipa::path(get, path = "/sessions/{id}/cohosts", operation_id = "list_cohosts", tag = "host",
    params(EventPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The event's owner, then its co-hosts in the order they joined", body = [EventHostView]),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Neither the event's owner nor a co-host", body = ErrorBody),
        (status = 404, description = "Unknown event", body = ErrorBody),
    ))]
pub async fn list(
    State(app): State<SharedState>,
    AuthHost(host): AuthHost,
    Path(path): Path<EventPath>,
) -> Result<Json<Vec<EventHostView>>, ApiError> {
    let hosts = cohosts::list(&app, &host, path.id).await?;
    Ok(Json(
        hosts
            .into_iter()
            .map(|h| EventHostView {
                host_id: h.host_id,
                email: h.email,
                username: h.username,
                role: h.role,
                added_at: h.added_at,
            })
            .collect(),
    ))
}

/// `/sessions/{id}/cohosts/{host_id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CohostPath {
    /// The event
    pub id: Uuid,
    /// The co-host's account
    pub host_id: Uuid,
}

#[utoipa::path(delete, path = "/sessions/{id}/cohosts/{host_id}", operation_id = "remove_cohost", tag = "host",
    params(CohostPath),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed: they can no longer run the event"),
        (status = 400, description = "Malformed id, or the owner's own id", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not the event's host, or a co-host removing somebody else (`event.owner_only`)", body = ErrorBody),
        (status = 404, description = "Unknown event, or not a co-host of it (`cohost.not_found`)", body = ErrorBody),
    ))]
pub async fn remove(
    State(app): State<SharedState>,
    AuthHost(host): AuthHost,
    Path(path): Path<CohostPath>,
) -> Result<StatusCode, ApiError> {
    cohosts::remove(&app, &host, path.id, path.host_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
