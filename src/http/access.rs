//! Who is asking about an event: its host, one of its guests, or anybody with the link.

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{HeaderMap, header, request::Parts},
};
use uuid::Uuid;

use super::{ApiError, SharedState, extract::AuthUser};
use crate::{db::EventRecord, domain::values::parse_uuid};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Host,
    Guest(Uuid),
    Anonymous,
}

/// An optional host token, from `Authorization: Bearer` or, for links and EventSource (which
/// cannot send headers), an `access_token` query parameter. A token that is present but invalid
/// is a 401, never silently ignored.
pub struct MaybeAuthUser(pub Option<AuthUser>);

impl<S> FromRequestParts<S> for MaybeAuthUser
where
    S: Send + Sync,
    SharedState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            return AuthUser::from_request_parts(parts, state)
                .await
                .map(|user| Self(Some(user)));
        }
        let query = parts.uri.query().unwrap_or_default();
        let token = url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "access_token")
            .map(|(_, value)| value.into_owned());
        let Some(token) = token else {
            return Ok(Self(None));
        };
        let state = SharedState::from_ref(state);
        let claims = state
            .tokens
            .verify(&token)
            .ok_or_else(|| ApiError::Unauthorized("Invalid or expired token".into()))?;
        Ok(Self(Some(AuthUser {
            id: claims.sub,
            email: claims.email,
        })))
    }
}

/// The guest id a request names, from the `X-Guest-Id` header or a `userId` query parameter.
pub fn guest_id(
    headers: &HeaderMap,
    query_value: Option<&String>,
) -> Result<Option<Uuid>, ApiError> {
    let raw = headers
        .get("x-guest-id")
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| ApiError::bad_request("X-Guest-Id must be a valid UUID"))
        })
        .transpose()?
        .or_else(|| query_value.cloned())
        .filter(|v| !v.trim().is_empty());
    raw.map(|v| parse_uuid(&v, "userId").map_err(|e| ApiError::BadRequest(e.0)))
        .transpose()
}

/// Resolves the viewer of `session`; a named guest must exist and belong to it.
pub async fn resolve_viewer(
    state: &SharedState,
    session: &EventRecord,
    user: Option<&AuthUser>,
    guest: Option<Uuid>,
) -> Result<Viewer, ApiError> {
    if user.is_some_and(|u| u.id == session.host_id) {
        return Ok(Viewer::Host);
    }
    match guest {
        None => Ok(Viewer::Anonymous),
        Some(id) => {
            let guest = state
                .db
                .guest(id)
                .await?
                .ok_or_else(|| ApiError::not_found("Session user not found"))?;
            if guest.event_id != session.id {
                return Err(ApiError::Forbidden(
                    "This guest belongs to another session".into(),
                ));
            }
            Ok(Viewer::Guest(id))
        }
    }
}

/// The host of `session`, or 401/403.
pub fn require_host(session: &EventRecord, user: Option<&AuthUser>) -> Result<(), ApiError> {
    match user {
        None => Err(ApiError::Unauthorized("Missing bearer token".into())),
        Some(user) if user.id == session.host_id => Ok(()),
        Some(_) => Err(ApiError::Forbidden(
            "Only the host of this session can do this".into(),
        )),
    }
}
