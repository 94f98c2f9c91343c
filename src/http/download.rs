//! `GET /sessions/{id}/download`: the host's ZIP of the event, streamed.

use axum::{
    body::Body,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{
    ApiError, SharedState,
    error::ErrorBody,
    extract::{MaybeAuthHost, Path},
    hosting::EventPath,
};
use crate::app::export;

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
    let archive = export::archive(&app, host.as_ref(), path.id).await?;
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
    Ok(response)
}
