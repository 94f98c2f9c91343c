//! The host's side of an event: their events, its rules, ending it, and the join QR code.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use qrcode::{QrCode, render::svg};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    ApiError, SharedState,
    error::ErrorBody,
    extract::{AuthHost, ClientBase, JsonBody, Path, PublicBase, Query},
    sessions::SessionView,
};
use crate::{
    app::{events, gallery},
    domain::{host_role::HostRole, join_code::JoinCode},
};

#[derive(Serialize, ToSchema)]
pub struct SessionListItem {
    #[serde(flatten)]
    pub session: SessionView,
    /// Approved photos.
    pub picture_count: i64,
    /// Photos waiting for approval.
    pub pending_count: i64,
    pub guest_count: i64,
    /// The asker's role: `owner` (their own event) or `co_host`.
    pub role: HostRole,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateSettingsRequest {
    /// Settings to change; `null` removes a key. Rules: `ends_at` (a past time ends the event),
    /// `require_approval`, `reveal` ("always" | "after_reveal"), `revealed`, `reveal_at` (RFC 3339:
    /// guests see only their own photos until then, then the gallery opens by itself and live
    /// views get `session.updated`), `guest_delete`, `upload_limit_per_guest` (1-10000 or null:
    /// the guest's "film roll"), `storage_limit_mb` (1-1048576 or null).
    /// Identity: `welcome_text` (≤ 500 characters), `accent_color` (`#rrggbb`),
    /// `cover_picture_id` (one of the event's approved photos).
    /// Protection: `pin` (4-64 characters; `null` or `""` removes it): guests send it once at
    /// `registerSessionUser`. Stored as a hash, never shown: views read `protected: true`.
    #[schema(value_type = Object)]
    pub settings: Option<Value>,
}

/// `/sessions/{id}/…`: the event a host route is about.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EventPath {
    /// The event
    pub id: Uuid,
}

#[utoipa::path(get, path = "/sessions/mine", tag = "host", security(("bearer" = [])),
    responses(
        (status = 200, description = "The host's events, the ones they co-host included, newest first", body = [SessionListItem]),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
    ))]
pub async fn mine(
    State(app): State<SharedState>,
    AuthHost(host): AuthHost,
    ClientBase(base): ClientBase,
) -> Result<Json<Vec<SessionListItem>>, ApiError> {
    let summaries = events::of_host(&app, &host).await?;
    Ok(Json(
        summaries
            .into_iter()
            .map(|(s, role)| SessionListItem {
                session: SessionView::new(&app, s.event, base.as_ref()),
                picture_count: s.picture_count,
                pending_count: s.pending_count,
                guest_count: s.guest_count,
                role,
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/sessions/{id}/settings", tag = "host", request_body = UpdateSettingsRequest,
    params(EventPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Settings merged", body = SessionView),
        (status = 400, description = "Invalid settings", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not the event's host", body = ErrorBody),
        (status = 404, description = "Unknown event", body = ErrorBody),
    ))]
pub async fn update_settings(
    State(app): State<SharedState>,
    AuthHost(host): AuthHost,
    ClientBase(base): ClientBase,
    Path(path): Path<EventPath>,
    JsonBody(body): JsonBody<UpdateSettingsRequest>,
) -> Result<Json<SessionView>, ApiError> {
    let event = events::update_settings(&app, &host, path.id, body.settings).await?;
    let base = base.as_ref();
    Ok(Json(SessionView::new(&app, event, base)))
}

#[utoipa::path(post, path = "/sessions/{id}/end", tag = "host",
    params(EventPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Ended now: uploads close, the gallery stays readable", body = SessionView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not the event's host", body = ErrorBody),
        (status = 404, description = "Unknown event", body = ErrorBody),
    ))]
pub async fn end(
    State(app): State<SharedState>,
    AuthHost(host): AuthHost,
    ClientBase(base): ClientBase,
    Path(path): Path<EventPath>,
) -> Result<Json<SessionView>, ApiError> {
    let event = events::end(&app, &host, path.id).await?;
    let base = base.as_ref();
    Ok(Json(SessionView::new(&app, event, base)))
}

/// What the join QR code encodes.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QrQuery {
    /// `true`: the join link under this machine's LAN address (`lan_join_url` of
    /// `/sessions/{id}/invite`), when the server knows one; otherwise (and for any other value)
    /// the usual join link.
    pub lan: Option<String>,
    /// `true`: the short link `/j/{code}` (fewer modules, easier to scan from afar).
    pub short: Option<String>,
}

/// How guests join an event, for the host's invite page.
#[derive(Serialize, ToSchema)]
pub struct InviteView {
    /// The join link under `PUBLIC_URL`, else under the address this request came in on.
    pub join_url: String,
    /// Whether `PUBLIC_URL` is set (then `join_url` is what guests should use).
    pub public_url_set: bool,
    /// Without `PUBLIC_URL`: the join link under this machine's LAN address, which guests on the
    /// same network can open (a link on `localhost` only works on the host's own machine).
    pub lan_join_url: Option<String>,
    /// The QR code of `lan_join_url`.
    pub lan_qr_url: Option<String>,
    /// The event's join code (`K7QM-2XDP`), which guests may type on the start page.
    pub code: Option<String>,
    /// The short join link `/j/{code}` (under `PUBLIC_URL` or this request's address).
    pub short_url: Option<String>,
}

#[utoipa::path(get, path = "/sessions/{id}/invite", tag = "sessions",
    params(EventPath),
    responses(
        (status = 200, description = "The event's join links", body = InviteView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 404, description = "Unknown event", body = ErrorBody),
    ))]
pub async fn invite(
    State(app): State<SharedState>,
    PublicBase(base): PublicBase,
    Path(path): Path<EventPath>,
) -> Result<Json<InviteView>, ApiError> {
    let event = app.event(path.id).await?;
    let lan_join_url = app.lan_urls.first().map(|lan| join_url(lan, event.id));
    let lan_qr_url = lan_join_url.as_ref().map(|_| {
        format!(
            "{}/sessions/{}/qr.svg?lan=true",
            base.as_str().trim_end_matches('/'),
            event.id
        )
    });
    let code = event.join_code.as_deref().and_then(JoinCode::parse);
    Ok(Json(InviteView {
        join_url: join_url(&base, event.id),
        public_url_set: app.public_url.is_some(),
        lan_join_url,
        lan_qr_url,
        short_url: code.as_ref().map(|code| short_url(&base, code)),
        code: code.map(|code| code.to_string()),
    }))
}

#[utoipa::path(post, path = "/sessions/{id}/delete", tag = "host",
    params(EventPath),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted with all its photos, thumbnails and guests"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not the event's owner (`event.owner_only` for its co-hosts)", body = ErrorBody),
        (status = 404, description = "Unknown event", body = ErrorBody),
    ))]
pub async fn delete_event(
    State(app): State<SharedState>,
    AuthHost(host): AuthHost,
    Path(path): Path<EventPath>,
) -> Result<StatusCode, ApiError> {
    events::delete_event(&app, &host, path.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/sessions/{id}/qr.svg", tag = "sessions",
    params(EventPath, QrQuery),
    responses(
        (status = 200, description = "SVG QR code of the guests' join link", content_type = "image/svg+xml"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 404, description = "Unknown event", body = ErrorBody),
    ))]
pub async fn qr_code(
    State(app): State<SharedState>,
    PublicBase(base): PublicBase,
    Path(path): Path<EventPath>,
    Query(query): Query<QrQuery>,
) -> Result<Response, ApiError> {
    let event = app.event(path.id).await?;
    let lan = app
        .lan_urls
        .first()
        .filter(|_| query.lan.as_deref() == Some("true"));
    let base = lan.unwrap_or(&base);
    let join = match event.join_code.as_deref().and_then(JoinCode::parse) {
        Some(code) if query.short.as_deref() == Some("true") => short_url(base, &code),
        _ => join_url(base, event.id),
    };
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

/// The short link guests may type: the web client's `/j/{code}` looks the code up.
pub fn short_url(base: &url::Url, code: &JoinCode) -> String {
    format!(
        "{}/j/{}",
        base.as_str().trim_end_matches('/'),
        code.compact()
    )
}

/// The link guests open: the web client's join page.
pub fn join_url(base: &url::Url, session_id: Uuid) -> String {
    format!("{}/s/{session_id}", base.as_str().trim_end_matches('/'))
}

#[utoipa::path(get, path = "/sessions/{id}/cover", tag = "sessions",
    params(EventPath),
    responses(
        (status = 302, description = "Redirect to the cover photo as guests may see it (a variant without metadata)"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 404, description = "Unknown event, or no cover photo", body = ErrorBody),
    ))]
pub async fn cover(
    State(app): State<SharedState>,
    PublicBase(base): PublicBase,
    Path(path): Path<EventPath>,
) -> Result<Response, ApiError> {
    let photo = events::cover(&app, path.id).await?;
    let target = gallery::guest_image_url(&app, &photo, &base);
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&target) {
        headers.insert(header::LOCATION, location);
    }
    // The target is presigned for an hour; a previewer or browser may keep the hop briefly.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}
