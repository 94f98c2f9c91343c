//! Photo transfers when photos live on the local disk: this server stands in for S3's presigned
//! URLs. A PUT streams into a staging file that is moved into place only when complete and within
//! the size limit; a GET streams the file back. Both need a valid signature.

use std::io::ErrorKind;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use super::{App, Error, ErrorCode, Result, multipart::PART_SIZE};
use crate::{domain::photo_key::PhotoKey, store::fs::FilesystemStore};

/// A signed request for one object: `{event}/{file}?expires=…&sig=…`.
pub struct Signed {
    pub key: PhotoKey,
    pub expires: Option<u64>,
    pub signature: Option<String>,
}

impl Signed {
    /// `None` when the path names no object this server could have issued.
    pub fn parse(
        event: &str,
        file: &str,
        expires: Option<&str>,
        signature: Option<String>,
    ) -> Option<Self> {
        Some(Self {
            key: PhotoKey::parse(&format!("{event}/{file}"))?,
            expires: expires.and_then(|v| v.parse().ok()),
            signature,
        })
    }
}

pub struct Download {
    /// The stored file; the HTTP edge serves it with Range support (video seeking in Safari).
    pub path: std::path::PathBuf,
    pub content_type: &'static str,
}

fn local_store(app: &App) -> Result<&FilesystemStore> {
    app.local_store
        .as_deref()
        .ok_or_else(|| Error::new(ErrorCode::RouteNotFound, "Not found"))
}

fn check_signature(store: &FilesystemStore, method: &str, request: &Signed) -> Result<()> {
    let valid = match (request.expires, &request.signature) {
        (Some(expires), Some(signature)) => {
            store
                .signer()
                .verify(method, &request.key, expires, signature)
        }
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::SignatureInvalid,
            "Invalid or expired signature",
        ))
    }
}

/// Stores the bytes of an upload; returns how many were written.
pub async fn receive<S, E>(
    app: &App,
    request: Signed,
    declared_len: Option<u64>,
    body: S,
) -> Result<u64>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let store = local_store(app)?;
    check_signature(store, "PUT", &request)?;
    let key = request.key;
    let limit = if key.media_type.is_video() {
        app.video_limits.max_bytes
    } else {
        app.max_upload_bytes
    };
    let too_large = || {
        Error::new(
            ErrorCode::UploadTooLarge,
            format!("Photo is too large (limit {limit} bytes)"),
        )
    };
    if declared_len.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    // A finalized photo is immutable: its URL may still be valid, but it cannot replace the photo.
    if app.db.photo_by_key(&key.to_string()).await?.is_some() {
        return Err(Error::new(
            ErrorCode::AlreadyFinalized,
            "This photo was already finalized",
        ));
    }

    let staging = store.staging_dir().join(format!("{}.part", Uuid::new_v4()));
    let written = match write_staged(&staging, body, limit).await {
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
        return Err(io_failure("store upload", err));
    }
    tracing::debug!(%key, bytes = written, "upload stored");
    Ok(written)
}

/// A signed request for one part of a multipart upload: `multipart/{upload}/{number}?…`.
pub struct SignedPart {
    pub upload_id: Uuid,
    pub number: u16,
    pub expires: Option<u64>,
    pub signature: Option<String>,
}

/// Stores one part of a multipart upload (the stand-in for S3's UploadPart URL). A part sent
/// again replaces the earlier copy, all at once.
pub async fn receive_part<S, E>(
    app: &App,
    request: SignedPart,
    declared_len: Option<u64>,
    body: S,
) -> Result<u64>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let store = local_store(app)?;
    let valid = match (request.expires, &request.signature) {
        (Some(expires), Some(signature)) => {
            store
                .signer()
                .verify_part(request.upload_id, request.number, expires, signature)
        }
        _ => false,
    };
    if !valid {
        return Err(Error::new(
            ErrorCode::SignatureInvalid,
            "Invalid or expired signature",
        ));
    }
    let limit = PART_SIZE;
    let too_large = || {
        Error::new(
            ErrorCode::UploadTooLarge,
            format!("A part has at most {limit} bytes"),
        )
    };
    if declared_len.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let parts_dir = store.parts_dir(request.upload_id);
    if tokio::fs::metadata(&parts_dir).await.is_err() {
        return Err(Error::new(
            ErrorCode::UploadNotFound,
            "This multipart upload is completed or aborted",
        ));
    }
    let staging = store.staging_dir().join(format!("{}.part", Uuid::new_v4()));
    let written = match write_staged(&staging, body, limit).await {
        Ok(written) => written,
        Err(err) => {
            let _ = tokio::fs::remove_file(&staging).await;
            return Err(err.unwrap_or_else(too_large));
        }
    };
    // Renaming into a folder that was removed meanwhile (completed, aborted) fails: no stray part.
    let target = store.part_path(request.upload_id, request.number);
    if let Err(err) = tokio::fs::rename(&staging, &target).await {
        let _ = tokio::fs::remove_file(&staging).await;
        if err.kind() == ErrorKind::NotFound {
            return Err(Error::new(
                ErrorCode::UploadNotFound,
                "This multipart upload is completed or aborted",
            ));
        }
        return Err(io_failure("store part", err));
    }
    tracing::debug!(upload_id = %request.upload_id, part = request.number, bytes = written, "part stored");
    Ok(written)
}

/// A full disk (ENOSPC) or an exhausted disk quota (EDQUOT) is `storage.full` (507); anything
/// else is an internal error.
fn io_failure(what: &str, err: std::io::Error) -> Error {
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    if err.kind() == std::io::ErrorKind::StorageFull
        || matches!(err.raw_os_error(), Some(ENOSPC | EDQUOT))
    {
        tracing::error!(error = %err, "photo storage is full: cannot {what}");
        Error::new(
            ErrorCode::StorageFull,
            "The photo storage of this server is full",
        )
    } else {
        Error::Internal(anyhow::anyhow!("cannot {what}: {err}"))
    }
}

/// Streams `body` into `path`; `Err(None)` means the size limit was exceeded.
async fn write_staged<S, E>(
    path: &std::path::Path,
    mut body: S,
    limit: u64,
) -> std::result::Result<u64, Option<Error>>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let internal = |what: &str, e: std::io::Error| Some(io_failure(what, e));
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| internal("create staging file", e))?;
    let mut written: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            Some(Error::new(
                ErrorCode::UploadInterrupted,
                format!("Upload interrupted: {e}"),
            ))
        })?;
        written += chunk.len() as u64;
        if written > limit {
            return Err(None);
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| internal("write upload", e))?;
    }
    file.sync_all()
        .await
        .map_err(|e| internal("sync upload", e))?;
    Ok(written)
}

/// Finds a stored photo for whoever holds a valid signed URL.
pub async fn open(app: &App, request: Signed) -> Result<Download> {
    let store = local_store(app)?;
    check_signature(store, "GET", &request)?;
    let key = request.key;
    let path = store.path_of(&key);
    match tokio::fs::metadata(&path).await {
        Ok(meta) if meta.is_file() => Ok(Download {
            path,
            content_type: key.media_type.mime(),
        }),
        Ok(_) => Err(Error::new(ErrorCode::PhotoNotFound, "Photo not found")),
        Err(err) if err.kind() == ErrorKind::NotFound => {
            Err(Error::new(ErrorCode::PhotoNotFound, "Photo not found"))
        }
        Err(err) => Err(Error::Internal(err.into())),
    }
}
