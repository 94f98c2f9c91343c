//! `/uploads/{session_id}/{file}`: the local-disk backend's stand-in for presigned S3 URLs.
//! Only mounted when photos are stored on the local disk.

use std::io::ErrorKind;

use axum::{
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;
use uuid::Uuid;

use super::{ApiError, SharedState, extract::QueryParams};
use crate::{domain::photo_key::PhotoKey, store::fs::FilesystemStore};

fn local_store(state: &SharedState) -> Result<&FilesystemStore, ApiError> {
    state
        .local_store
        .as_deref()
        .ok_or_else(|| ApiError::not_found("Not found"))
}

fn parse_key(session: &str, file: &str) -> Result<PhotoKey, ApiError> {
    PhotoKey::parse(&format!("{session}/{file}")).ok_or_else(|| ApiError::not_found("Not found"))
}

fn check_signature(
    store: &FilesystemStore,
    method: &str,
    key: &PhotoKey,
    query: &QueryParams,
) -> Result<(), ApiError> {
    let forbidden = || ApiError::Forbidden("Invalid or expired signature".into());
    let expires = query
        .0
        .get("expires")
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(forbidden)?;
    let signature = query.0.get("sig").ok_or_else(forbidden)?;
    if store.signer().verify(method, key, expires, signature) {
        Ok(())
    } else {
        Err(forbidden())
    }
}

/// Receives the photo bytes, streaming them to a staging file that is moved into place only when
/// complete and within the size limit.
pub async fn put_photo(
    State(state): State<SharedState>,
    Path((session, file)): Path<(String, String)>,
    query: QueryParams,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let store = local_store(&state)?;
    let key = parse_key(&session, &file)?;
    check_signature(store, "PUT", &key, &query)?;
    let limit = state.max_upload_bytes;
    let too_large =
        || ApiError::PayloadTooLarge(format!("Photo is too large (limit {limit} bytes)"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    // A finalized photo is immutable: its URL may still be valid, but it cannot replace the picture.
    if state.db.photo_by_key(&key.to_string()).await?.is_some() {
        return Err(ApiError::Conflict(
            "This photo was already finalized".into(),
        ));
    }

    let staging = store.staging_dir().join(format!("{}.part", Uuid::new_v4()));
    let result = write_staged(&staging, body, limit).await;
    let written = match result {
        Ok(written) => written,
        Err(err) => {
            let _ = tokio::fs::remove_file(&staging).await;
            return Err(err.unwrap_or_else(too_large));
        }
    };
    let target = store.path_of(&key);
    let placed = async {
        if let Some(dir) = target.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::rename(&staging, &target).await
    }
    .await;
    if let Err(err) = placed {
        let _ = tokio::fs::remove_file(&staging).await;
        return Err(ApiError::Internal(anyhow::anyhow!(
            "cannot store upload: {err}"
        )));
    }
    tracing::debug!(%key, bytes = written, "upload stored");
    Ok(StatusCode::OK)
}

/// Streams `body` into `path`; `Err(None)` means the size limit was exceeded.
async fn write_staged(
    path: &std::path::Path,
    body: Body,
    limit: u64,
) -> Result<u64, Option<ApiError>> {
    let mut file = tokio::fs::File::create(path).await.map_err(|e| {
        Some(ApiError::Internal(anyhow::anyhow!(
            "cannot create staging file: {e}"
        )))
    })?;
    let mut stream = body.into_data_stream();
    let mut written: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| Some(ApiError::bad_request(format!("Upload interrupted: {e}"))))?;
        written += chunk.len() as u64;
        if written > limit {
            return Err(None);
        }
        file.write_all(&chunk).await.map_err(|e| {
            Some(ApiError::Internal(anyhow::anyhow!(
                "cannot write upload: {e}"
            )))
        })?;
    }
    file.sync_all().await.map_err(|e| {
        Some(ApiError::Internal(anyhow::anyhow!(
            "cannot sync upload: {e}"
        )))
    })?;
    Ok(written)
}

/// Serves a stored photo to whoever holds a valid signed URL.
pub async fn get_photo(
    State(state): State<SharedState>,
    Path((session, file)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let store = local_store(&state)?;
    let key = parse_key(&session, &file)?;
    check_signature(store, "GET", &key, &query)?;
    let file = match tokio::fs::File::open(store.path_of(&key)).await {
        Ok(file) => file,
        Err(err) if err.kind() == ErrorKind::NotFound => {
            return Err(ApiError::not_found("Photo not found"));
        }
        Err(err) => return Err(ApiError::Internal(err.into())),
    };
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .len();
    let mut response = Body::from_stream(ReaderStream::new(file)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(key.image_type.mime()),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
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
