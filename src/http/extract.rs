//! Extractors whose rejections are our own [`ApiError`], so bad input gets our error format.

use std::collections::HashMap;

use axum::{
    body::Bytes,
    extract::{FromRef, FromRequest, FromRequestParts, Request},
    http::{HeaderMap, header, request::Parts},
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;
use uuid::Uuid;

use super::{ApiError, SharedState};
use crate::domain::values::parse_uuid;

/// A JSON body (≤ 64 KiB). A body without Content-Type is still read as JSON; another type is 415.
pub struct JsonBody<T>(pub T);

/// Like [`JsonBody`], but an empty body yields `T::default()` (e.g. `POST /sessions/create`).
pub struct OptionalJsonBody<T>(pub T);

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || essence.ends_with("+json")
        || essence == "text/plain"
        || essence.is_empty()
    {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(
            "Content-Type must be application/json".into(),
        ))
    }
}

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    check_content_type(req.headers())?;
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge("Request body is too large".into())
        } else {
            ApiError::bad_request(format!(
                "Could not read request body: {}",
                rejection.body_text()
            ))
        }
    })
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?;
    // PostgreSQL cannot store NUL in text or jsonb; no legitimate input contains it.
    if contains_nul(&value) {
        return Err(ApiError::bad_request(
            "Invalid JSON body: strings must not contain NUL characters",
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))
}

fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map
            .iter()
            .any(|(key, value)| key.contains('\0') || contains_nul(value)),
        _ => false,
    }
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("Request body is required"));
        }
        parse_json(&bytes).map(Self)
    }
}

impl<S, T> FromRequest<S> for OptionalJsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        parse_json(&bytes).map(Self)
    }
}

/// Query parameters; never rejects, handlers ask for what they need.
pub struct QueryParams(pub HashMap<String, String>);

impl QueryParams {
    /// A required UUID parameter: 400 when missing or malformed.
    pub fn uuid(&self, name: &str) -> Result<Uuid, ApiError> {
        let value = self
            .0
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| ApiError::bad_request(format!("{name} is required")))?;
        parse_uuid(value, name).map_err(|e| ApiError::BadRequest(e.0))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        Ok(Self(
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        ))
    }
}

/// The authenticated host, from `Authorization: Bearer <jwt>`.
pub struct AuthUser {
    pub id: Uuid,
    pub email: String,
}

impl<S> FromRequestParts<S> for AuthUser
where
    S: Send + Sync,
    SharedState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = SharedState::from_ref(state);
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::Unauthorized("Missing bearer token".into()))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("Authorization header must be 'Bearer <token>'".into())
            })?;
        let claims = state
            .tokens
            .verify(token)
            .ok_or_else(|| ApiError::Unauthorized("Invalid or expired token".into()))?;
        Ok(Self {
            id: claims.sub,
            email: claims.email,
        })
    }
}

/// The absolute base URL clients reach this server under: `PUBLIC_URL`, else derived from
/// X-Forwarded-Proto / X-Forwarded-Host / Host.
pub struct PublicBase(pub Url);

impl<S> FromRequestParts<S> for PublicBase
where
    S: Send + Sync,
    SharedState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = SharedState::from_ref(state);
        if let Some(url) = &state.public_url {
            return Ok(Self(url.clone()));
        }
        let first = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let proto = first("x-forwarded-proto")
            .filter(|p| p == "http" || p == "https")
            .unwrap_or_else(|| "http".into());
        let host = first("x-forwarded-host")
            .or_else(|| first("host"))
            .or_else(|| parts.uri.authority().map(ToString::to_string))
            .ok_or_else(|| ApiError::bad_request("Host header is required"))?;
        let url = Url::parse(&format!("{proto}://{host}/"))
            .ok()
            .filter(|u| u.path() == "/" && u.query().is_none() && u.username().is_empty())
            .ok_or_else(|| ApiError::bad_request("Host header is invalid"))?;
        Ok(Self(url))
    }
}
