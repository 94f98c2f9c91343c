//! `GET /sessions/{id}/download`: every approved photo of an event as one ZIP, streamed from
//! storage one photo at a time, so memory stays bounded by the largest photo, not the archive.

use std::io::Write;

use axum::{
    body::Body,
    extract::{Path, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use chrono::{Datelike, Timelike};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use zip::{CompressionMethod, ZipWriter, write::SimpleFileOptions};

use super::{
    ApiError, SharedState,
    access::{MaybeAuthUser, require_host},
    hosting::session_id,
    sessions::session_not_found,
};
use crate::{
    db::{PhotoQuery, PhotoRecord, PhotoStatus},
    domain::{image::ImageType, photo_key::PhotoKey},
};

#[utoipa::path(get, path = "/sessions/{id}/download", tag = "host",
    params(
        ("id" = Uuid, Path, description = "The event"),
        ("access_token" = Option<String>, Query, description = "The host's token, so a plain link can download"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A ZIP of every approved photo, entries named {guest}_{time}_{n}.{ext}", content_type = "application/zip"),
        (status = 400, description = "Malformed id", body = super::error::ErrorBody),
        (status = 401, description = "Missing or invalid token", body = super::error::ErrorBody),
        (status = 403, description = "Not the event's host", body = super::error::ErrorBody),
        (status = 404, description = "Unknown event", body = super::error::ErrorBody),
    ))]
pub async fn zip(
    State(state): State<SharedState>,
    MaybeAuthUser(user): MaybeAuthUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let session = state
        .db
        .event(session_id(&id)?)
        .await?
        .ok_or_else(session_not_found)?;
    require_host(&session, user.as_ref())?;
    let query = PhotoQuery {
        everything: true,
        approved_visible: true,
        viewer: None,
        before: None,
        limit: None,
    };
    let mut pictures = state.db.photos(session.id, query).await?;
    pictures.retain(|p| p.status == PhotoStatus::Approved);
    pictures.reverse(); // oldest first: numbering follows the evening

    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let handle = tokio::runtime::Handle::current();
    let writer_state = state.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(err) = write_archive(
            &writer_state,
            &handle,
            &pictures,
            ChannelWriter { tx: tx.clone() },
        ) {
            tracing::warn!(error = %err, "ZIP download aborted");
            let _ = tx.blocking_send(Err(std::io::Error::other(err.to_string())));
        }
    });

    let name = session
        .settings
        .get("name")
        .and_then(|v| v.as_str())
        .map(safe_name)
        .unwrap_or_default();
    let file_name = if name.is_empty() {
        format!("partypic-{}.zip", session.id)
    } else {
        format!("partypic-{name}.zip")
    };
    let mut response = Body::from_stream(ReceiverStream::new(rx)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Hands the archive's bytes to the response body as they are produced.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_archive(
    state: &SharedState,
    handle: &tokio::runtime::Handle,
    pictures: &[PhotoRecord],
    out: ChannelWriter,
) -> anyhow::Result<()> {
    let mut zip = ZipWriter::new_stream(out);
    for (index, picture) in pictures.iter().enumerate() {
        let Some(key) = PhotoKey::parse(&picture.object_key) else {
            continue;
        };
        let bytes = handle.block_on(state.store.read_all(&key, state.max_upload_bytes))?;
        let at = picture.created_at;
        let modified = zip::DateTime::from_date_and_time(
            u16::try_from(at.year()).unwrap_or(1980),
            u8::try_from(at.month()).unwrap_or(1),
            u8::try_from(at.day()).unwrap_or(1),
            u8::try_from(at.hour()).unwrap_or(0),
            u8::try_from(at.minute()).unwrap_or(0),
            u8::try_from(at.second()).unwrap_or(0),
        )
        .unwrap_or_default();
        // Photos are already compressed: storing them is as small and much faster.
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .last_modified_time(modified)
            .large_file(bytes.len() as u64 >= u64::from(u32::MAX));
        zip.start_file(entry_name(picture, index + 1), options)?;
        zip.write_all(&bytes)?;
    }
    zip.finish()?;
    Ok(())
}

/// `{guest}_{time}_{n}.{ext}`, e.g. `Tante_Erna_20261127-213015_7.jpg`.
pub fn entry_name(picture: &PhotoRecord, n: usize) -> String {
    let ext = ImageType::from_mime(&picture.mimetype).map_or("jpg", ImageType::extension);
    let guest = safe_name(&picture.uploader_name);
    let guest = if guest.is_empty() {
        "guest".to_owned()
    } else {
        guest
    };
    format!(
        "{guest}_{}_{n}.{ext}",
        picture.created_at.format("%Y%m%d-%H%M%S")
    )
}

/// Letters, digits, `-` and `_` only (other characters become `_`), so every unzip tool copes.
fn safe_name(raw: &str) -> String {
    let cleaned: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    cleaned.trim_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_for_every_file_system() {
        assert_eq!(safe_name("Tante Erna"), "Tante_Erna");
        assert_eq!(safe_name("../../etc/passwd"), "etc_passwd");
        assert_eq!(safe_name("Jürgen 🎉"), "Jürgen");
        assert_eq!(safe_name("///"), "");
    }
}
