//! Export: the host's ZIP of every approved photo of an event, streamed while it is written.

use std::{collections::HashSet, io::Write};

use bytes::Bytes;
use chrono::{Datelike, Timelike};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;
use zip::{CompressionMethod, ZipWriter, write::SimpleFileOptions};

use super::{App, Error, ErrorCode, Host, Result};
use crate::{
    db::{PhotoRecord, PhotoStatus},
    domain::{
        media::MediaType,
        photo_key::PhotoKey,
        rules::EventRules,
        visibility::{Viewer, Visibility},
    },
    store::PhotoStore,
};

pub struct Archive {
    pub file_name: String,
    pub chunks: ReceiverStream<Result<Bytes, std::io::Error>>,
}

/// Which photos go into the archive.
pub enum Selection {
    /// The event's keepsake: every approved photo.
    Approved,
    /// The photos the host picked (approved or waiting); ids of other events' or deleted photos
    /// are skipped.
    Only(HashSet<Uuid>),
}

/// The largest selection one request may name.
pub const MAX_SELECTION: usize = 1000;

pub async fn archive(
    app: &App,
    host: Option<&Host>,
    event_id: Uuid,
    selection: Selection,
) -> Result<Archive> {
    let event = app.event(event_id).await?;
    super::require_host(&event, host)?;
    let visibility = Visibility::new(Viewer::Host, &EventRules::from_settings(&event.settings));
    let mut photos = app
        .db
        .photos(event.id, visibility.query(None, None))
        .await?;
    match &selection {
        Selection::Approved => photos.retain(|p| p.status == PhotoStatus::Approved),
        Selection::Only(ids) => {
            photos.retain(|p| ids.contains(&p.id));
            if photos.is_empty() {
                return Err(Error::new(
                    ErrorCode::PhotoNotFound,
                    "None of the selected photos is in this event (any more)",
                ));
            }
        }
    }
    // In the order the photos were taken.
    photos.reverse();

    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let handle = tokio::runtime::Handle::current();
    let store = app.store.clone();
    let max_bytes = app.max_upload_bytes.max(app.video_limits.max_bytes);
    tokio::task::spawn_blocking(move || {
        if let Err(err) = write_archive(
            store.as_ref(),
            max_bytes,
            &handle,
            &photos,
            ChannelWriter { tx: tx.clone() },
        ) {
            tracing::warn!(error = %err, "ZIP download aborted");
            let _ = tx.blocking_send(Err(std::io::Error::other(err.to_string())));
        }
    });

    let name = event
        .settings
        .get("name")
        .and_then(|v| v.as_str())
        .map(safe_name)
        .unwrap_or_default();
    let file_name = if name.is_empty() {
        format!("partypic-{}.zip", event.id)
    } else {
        format!("partypic-{name}.zip")
    };
    Ok(Archive {
        file_name,
        chunks: ReceiverStream::new(rx),
    })
}

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
    store: &dyn PhotoStore,
    max_bytes: u64,
    handle: &tokio::runtime::Handle,
    pictures: &[PhotoRecord],
    out: ChannelWriter,
) -> anyhow::Result<()> {
    let mut zip = ZipWriter::new_stream(out);
    for (index, picture) in pictures.iter().enumerate() {
        let Some(key) = PhotoKey::parse(&picture.object_key) else {
            continue;
        };
        let bytes = handle.block_on(store.read_all(&key, max_bytes))?;
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
    let ext = MediaType::from_mime(&picture.mimetype).map_or("jpg", MediaType::extension);
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
