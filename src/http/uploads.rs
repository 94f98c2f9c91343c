//! `/uploads/{session_id}/{file}`: the local-disk backend's stand-in for presigned S3 URLs.
//! Answers 404 unless photos are stored on the local disk.

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::Response,
};
use serde::Deserialize;
use tower_http::services::ServeFile;

use super::{
    ApiError, SharedState,
    extract::{Path, Query},
};
use crate::app::{
    ErrorCode,
    local_files::{self, Signed},
};

#[derive(Deserialize)]
pub struct ObjectPath {
    session: String,
    file: String,
}

#[derive(Deserialize)]
pub struct Signature {
    expires: Option<String>,
    sig: Option<String>,
}

fn signed(path: ObjectPath, signature: Signature) -> Result<Signed, ApiError> {
    Signed::parse(
        &path.session,
        &path.file,
        signature.expires.as_deref(),
        signature.sig,
    )
    .ok_or_else(|| ApiError::new(ErrorCode::RouteNotFound, "Not found"))
}

/// Receives the photo bytes.
pub async fn put_photo(
    State(app): State<SharedState>,
    Path(path): Path<ObjectPath>,
    Query(signature): Query<Signature>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    local_files::receive(
        &app,
        signed(path, signature)?,
        declared,
        body.into_data_stream(),
    )
    .await?;
    Ok(StatusCode::OK)
}

/// Serves a stored photo to whoever holds a valid signed URL, with byte ranges (`206`), which
/// Safari needs to play a video and every browser uses to seek in one.
pub async fn get_photo(
    State(app): State<SharedState>,
    Path(path): Path<ObjectPath>,
    Query(signature): Query<Signature>,
    request: Request,
) -> Result<Response, ApiError> {
    let download = local_files::open(&app, signed(path, signature)?).await?;
    let served = ServeFile::new(&download.path)
        .try_call(request)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("serve {:?}: {e}", download.path)))?;
    let mut response = served.map(Body::new);
    let success = response.status().is_success();
    let headers = response.headers_mut();
    if success {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(download.content_type),
        );
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600, immutable"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}
