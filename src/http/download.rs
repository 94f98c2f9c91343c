//! `GET /sessions/{id}/download`: the host's ZIP of the event, streamed; `POST`: of a selection.
//! `GET /sessions/{id}/guest-download`: the guests' ZIP, when the host allows it;
//! `GET /pictures/{id}/download`: one photo, as the asker may have it.

use axum::{
    body::Body,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    ApiError, SharedState,
    error::ErrorBody,
    extract::{JsonOrFormBody, MaybeAuthHost, Path, PublicBase, RequestingGuest},
    hosting::EventPath,
    pictures::PicturePath,
};
use crate::app::{
    ErrorCode,
    export::{self, Archive, MAX_SELECTION, Selection},
};

/// `?access_token=`: lets a plain link download.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by MaybeAuthHost; declared here for the API description
pub struct DownloadQuery {
    /// The host's token, so a plain link can download
    access_token: Option<String>,
}

#[utoipa::path(get, path = "/sessions/{id}/download", tag = "host",
    params(EventPath, DownloadQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A ZIP of every approved photo, entries named {guest}_{time}_{n}.{ext}", content_type = "application/zip"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not the event's host", body = ErrorBody),
        (status = 404, description = "Unknown event", body = ErrorBody),
    ))]
pub async fn zip(
    State(app): State<SharedState>,
    MaybeAuthHost(host): MaybeAuthHost,
    Path(path): Path<EventPath>,
) -> Result<Response, ApiError> {
    let archive = export::archive(&app, host.as_ref(), path.id, Selection::Approved).await?;
    Ok(zip_response(archive))
}

/// The photos a host selected: `{ids: [uuid, …]}` as JSON, or an HTML form field `ids` with the
/// ids separated by commas (a form submission downloads natively, streamed, in every browser).
#[derive(ToSchema)]
#[allow(dead_code)] // read by `selected_ids` from JSON or a form; declared for the API description
pub struct SelectionRequest {
    /// 1–1000 photo ids of this event
    #[schema(value_type = Vec<Uuid>)]
    pub ids: Value,
}

#[utoipa::path(post, path = "/sessions/{id}/download", tag = "host",
    params(EventPath, DownloadQuery),
    request_body(content = SelectionRequest, description = "JSON, or a form with `ids` separated by commas"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A ZIP of the selected photos (approved or waiting), named like the whole download", content_type = "application/zip"),
        (status = 400, description = "Malformed id or selection", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not the event's host", body = ErrorBody),
        (status = 404, description = "Unknown event, or none of the photos is in it", body = ErrorBody),
    ))]
pub async fn zip_selection(
    State(app): State<SharedState>,
    MaybeAuthHost(host): MaybeAuthHost,
    Path(path): Path<EventPath>,
    JsonOrFormBody(body): JsonOrFormBody,
) -> Result<Response, ApiError> {
    let ids = selected_ids(body.get("ids"))?;
    let archive = export::archive(&app, host.as_ref(), path.id, Selection::Only(ids)).await?;
    Ok(zip_response(archive))
}

/// `ids` as a JSON array of ids or one string of ids separated by commas or spaces.
fn selected_ids(value: Option<&Value>) -> Result<HashSet<Uuid>, ApiError> {
    let bad = || {
        ApiError::new(
            ErrorCode::InvalidField,
            format!("ids must name 1 to {MAX_SELECTION} photo ids"),
        )
    };
    let texts: Vec<&str> = match value {
        None | Some(Value::Null) => {
            return Err(ApiError::new(ErrorCode::MissingField, "ids is required"));
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().ok_or_else(bad))
            .collect::<Result<_, _>>()?,
        Some(Value::String(list)) => list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|id| !id.is_empty())
            .collect(),
        Some(_) => return Err(bad()),
    };
    if texts.is_empty() || texts.len() > MAX_SELECTION {
        return Err(bad());
    }
    texts
        .into_iter()
        .map(|id| {
            id.parse::<Uuid>().map_err(|_| {
                ApiError::new(
                    ErrorCode::InvalidField,
                    format!("ids: {id:.40} is not a photo id"),
                )
            })
        })
        .collect()
}

fn zip_response(archive: Archive) -> Response {
    let mut response = Body::from_stream(archive.chunks).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(value) =
        HeaderValue::from_str(&format!("attachment; filename=\"{}\"", archive.file_name))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[utoipa::path(get, path = "/sessions/{id}/guest-download", tag = "guests",
    params(EventPath, GuestQuery),
    responses(
        (status = 200, description = "With `guest_downloads: \"all\"`: a ZIP of the approved photos the guest may see, as display copies without metadata (originals with `guest_originals`), named like the host's download", content_type = "application/zip"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "No guest named (`download.identity_required`)", body = ErrorBody),
        (status = 403, description = "The host does not offer the ZIP (`download.disabled`), or the guest belongs to another event", body = ErrorBody),
        (status = 404, description = "Unknown event or guest", body = ErrorBody),
    ))]
pub async fn guest_zip(
    State(app): State<SharedState>,
    RequestingGuest(guest_id): RequestingGuest,
    Path(path): Path<EventPath>,
) -> Result<Response, ApiError> {
    let archive = export::guest_archive(&app, path.id, guest_id).await?;
    Ok(zip_response(archive))
}

/// `?userId=`: the asking guest.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by RequestingGuest; declared here for the API description
pub struct GuestQuery {
    /// The asking guest (or the X-Guest-Id header)
    #[serde(rename = "userId")]
    #[param(rename = "userId", value_type = Option<Uuid>)]
    user_id: Option<String>,
}

#[utoipa::path(get, path = "/pictures/{id}/download", tag = "pictures",
    params(PicturePath, GuestQuery, DownloadQuery),
    responses(
        (status = 302, description = "To the photo (presigned, valid for an hour): the original for the event's host; for everybody else the display copy, or the original with `guest_originals`"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 403, description = "`guest_downloads: \"none\"` (`download.disabled`), or the guest belongs to another event", body = ErrorBody),
        (status = 404, description = "Unknown photo, one the asker may not see, or a display copy not made yet", body = ErrorBody),
    ))]
pub async fn photo(
    State(app): State<SharedState>,
    PublicBase(base): PublicBase,
    MaybeAuthHost(host): MaybeAuthHost,
    RequestingGuest(guest_id): RequestingGuest,
    Path(path): Path<PicturePath>,
) -> Result<Response, ApiError> {
    let url = export::photo_download(&app, path.id, host.as_ref(), guest_id, &base).await?;
    let location = HeaderValue::try_from(url).map_err(|e| {
        ApiError::Internal(anyhow::anyhow!("download URL is not a header value: {e}"))
    })?;
    Ok((
        axum::http::StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}
