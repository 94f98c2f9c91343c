//! The typed edge: extractors whose rejections are our own error, so bad input gets our error
//! format and a stable code. Handlers receive typed values, never raw strings to parse.

use axum::{
    body::Bytes,
    extract::{
        FromRef, FromRequest, FromRequestParts, Request,
        rejection::{PathRejection, QueryRejection},
    },
    http::{HeaderMap, header, request::Parts},
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;
use uuid::Uuid;

use super::{ApiError, SharedState, rate_limit::client_ip};
use crate::{
    app::{ErrorCode, Host, hosts},
    domain::values::parse_uuid,
};

fn invalid(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

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
        Err(invalid(
            ErrorCode::UnsupportedContentType,
            "Content-Type must be application/json",
        ))
    }
}

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    check_content_type(req.headers())?;
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            invalid(ErrorCode::BodyTooLarge, "Request body is too large")
        } else {
            invalid(
                ErrorCode::InvalidJson,
                format!("Could not read request body: {}", rejection.body_text()),
            )
        }
    })
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| invalid(ErrorCode::InvalidJson, format!("Invalid JSON body: {e}")))?;
    // PostgreSQL cannot store NUL in text or jsonb; no legitimate input contains it.
    if contains_nul(&value) {
        return Err(invalid(
            ErrorCode::InvalidJson,
            "Invalid JSON body: strings must not contain NUL characters",
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| invalid(ErrorCode::InvalidJson, format!("Invalid JSON body: {e}")))
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
            return Err(invalid(ErrorCode::BodyRequired, "Request body is required"));
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

/// A JSON object, or an HTML form (`application/x-www-form-urlencoded`) read as an object of
/// strings: for the few actions a browser starts as a plain form submission (a download).
pub struct JsonOrFormBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonOrFormBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            let JsonBody(value) = JsonBody::<Value>::from_request(req, state).await?;
            return Ok(Self(value));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                invalid(ErrorCode::BodyTooLarge, "Request body is too large")
            } else {
                invalid(ErrorCode::InvalidField, "Could not read the form")
            }
        })?;
        let fields = url::form_urlencoded::parse(&bytes)
            .map(|(name, value)| (name.into_owned(), Value::String(value.into_owned())))
            .collect();
        Ok(Self(Value::Object(fields)))
    }
}

/// Query parameters deserialized into `T` (a struct of the route's parameters).
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection: QueryRejection| {
                invalid(
                    ErrorCode::InvalidField,
                    format!("Invalid query string: {}", rejection.body_text()),
                )
            })
    }
}

/// Path parameters deserialized into `T`; a malformed id is a 400 naming the parameter.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::path::ErrorKind;
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|rejection| match rejection {
                PathRejection::FailedToDeserializePathParams(err) => match err.into_kind() {
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::DeserializeError { key, .. } => invalid(
                        ErrorCode::InvalidField,
                        format!("{key} must be a valid UUID"),
                    ),
                    other => invalid(ErrorCode::InvalidField, other.to_string()),
                },
                other => invalid(ErrorCode::InvalidField, other.body_text()),
            })
    }
}

/// An optional UUID parameter: empty means absent; malformed is a 400 naming it.
pub fn optional_uuid(value: Option<&str>, name: &str) -> Result<Option<Uuid>, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(raw) => Ok(Some(parse_uuid(raw, name)?)),
    }
}

/// A required UUID parameter: 400 when missing or malformed.
pub fn required_uuid(value: Option<&str>, name: &str) -> Result<Uuid, ApiError> {
    optional_uuid(value, name)?
        .ok_or_else(|| invalid(ErrorCode::MissingField, format!("{name} is required")))
}

/// The authenticated host, from `Authorization: Bearer <jwt>`.
pub struct AuthHost(pub Host);

impl<S> FromRequestParts<S> for AuthHost
where
    S: Send + Sync,
    SharedState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = SharedState::from_ref(state);
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| invalid(ErrorCode::MissingToken, "Missing bearer token"))?;
        let token = bearer_token(header).ok_or_else(|| {
            invalid(
                ErrorCode::InvalidToken,
                "Authorization header must be 'Bearer <token>'",
            )
        })?;
        hosts::authenticate(&app, token)
            .map(Self)
            .ok_or_else(invalid_token)
    }
}

/// The token of an `Authorization: Bearer <token>` value; `None` for another scheme or no token.
fn bearer_token(value: &str) -> Option<&str> {
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

fn invalid_token() -> ApiError {
    invalid(ErrorCode::InvalidToken, "Invalid or expired token")
}

/// An optional host token, from `Authorization: Bearer` or, for links and EventSource (which
/// cannot send headers), an `access_token` query parameter. A token that does not verify (expired,
/// from another server, garbage) counts as no token: clients keep old tokens around, and a
/// route that works anonymously must keep working for them. Host-only actions then answer 401.
pub struct MaybeAuthHost(pub Option<Host>);

impl<S> FromRequestParts<S> for MaybeAuthHost
where
    S: Send + Sync,
    SharedState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = SharedState::from_ref(state);
        let from_header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .map(str::to_owned);
        let query = parts.uri.query().unwrap_or_default();
        let from_query = url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "access_token")
            .map(|(_, value)| value.into_owned());
        let host = from_header
            .into_iter()
            .chain(from_query)
            .filter(|token| !token.is_empty())
            .find_map(|token| hosts::authenticate(&app, &token));
        Ok(Self(host))
    }
}

/// The guest a request names: the `X-Guest-Id` header, else a `userId` query parameter.
pub struct RequestingGuest(pub Option<Uuid>);

impl<S: Send + Sync> FromRequestParts<S> for RequestingGuest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(value) = parts.headers.get("x-guest-id") {
            let raw = value
                .to_str()
                .map_err(|_| invalid(ErrorCode::InvalidField, "X-Guest-Id must be a valid UUID"))?;
            if !raw.trim().is_empty() {
                return optional_uuid(Some(raw), "userId").map(Self);
            }
        }
        let query = parts.uri.query().unwrap_or_default();
        let from_query = url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "userId")
            .map(|(_, value)| value.into_owned());
        optional_uuid(from_query.as_deref(), "userId").map(Self)
    }
}

/// The client's address as the rate limits see it ([`client_ip`]: the proxy-appended
/// `X-Forwarded-For` entry, `X-Real-IP`, or the peer).
pub struct ClientIp(pub std::net::IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        Ok(Self(client_ip(&parts.headers, peer)))
    }
}

/// [`PublicBase`] where a URL is optional in the answer: `None` for a request without a usable
/// `Host`, which is then still served.
pub struct ClientBase(pub Option<Url>);

impl<S> FromRequestParts<S> for ClientBase
where
    S: Send + Sync,
    SharedState: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            PublicBase::from_request_parts(parts, state)
                .await
                .ok()
                .map(|PublicBase(base)| base),
        ))
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
        let app = SharedState::from_ref(state);
        if let Some(url) = &app.public_url {
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
            .unwrap_or_else(|| {
                match parts.extensions.get::<crate::tls::ServedOverTls>() {
                    Some(_) => "https",
                    None => "http",
                }
                .into()
            });
        let host = first("x-forwarded-host")
            .or_else(|| first("host"))
            .or_else(|| parts.uri.authority().map(ToString::to_string))
            .ok_or_else(|| invalid(ErrorCode::InvalidField, "Host header is required"))?;
        let url = Url::parse(&format!("{proto}://{host}/"))
            .ok()
            .filter(|u| u.path() == "/" && u.query().is_none() && u.username().is_empty())
            .ok_or_else(|| invalid(ErrorCode::InvalidField, "Host header is invalid"))?;
        Ok(Self(url))
    }
}
