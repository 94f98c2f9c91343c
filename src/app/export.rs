//! Export: the host's ZIP of every approved photo of an event (originals), and the guests' ZIP
//! when the host allows it (display copies, or originals if allowed), streamed while written.

use std::{
    collections::{HashMap, HashSet},
    io::Write,
};

use bytes::Bytes;
use chrono::{Datelike, Timelike};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;
use zip::{CompressionMethod, ZipWriter, write::SimpleFileOptions};

use super::{
    App, Error, ErrorCode, Host, Result,
    guestbook_page::{self, CommentedPhoto, PageComment, PageMessage, PagePhoto},
};
use crate::{
    db::{EventRecord, PhotoRecord, PhotoStatus, ThumbStatus},
    domain::{
        comment::CommentStatus,
        media::MediaType,
        photo_key::PhotoKey,
        rules::{EventRules, GuestDownloads},
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

/// One file of an archive: what it is called and what it holds.
struct Entry {
    name: String,
    content: Content,
    taken_at: chrono::DateTime<chrono::Utc>,
}

enum Content {
    /// A stored object, streamed from the store.
    Stored(PhotoKey),
    /// A page written here (`guestbook.html`).
    Page(String),
}

pub async fn archive(
    app: &App,
    host: Option<&Host>,
    event_id: Uuid,
    selection: Selection,
) -> Result<Archive> {
    let event = app.event(event_id).await?;
    app.require_host(&event, host).await?;
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
    let mut entries = Vec::with_capacity(photos.len() + 1);
    // Each photo's entry, for the guestbook page's links.
    let mut named: HashMap<Uuid, ZipPhoto> = HashMap::new();
    for (index, photo) in photos.iter().enumerate() {
        let Some(key) = PhotoKey::parse(&photo.object_key) else {
            continue;
        };
        let name = entry_name(photo, index + 1);
        named.insert(
            photo.id,
            ZipPhoto {
                record: photo,
                entry: name.clone(),
                order: index,
            },
        );
        entries.push(Entry {
            name,
            content: Content::Stored(key),
            taken_at: photo.created_at,
        });
    }
    // The keepsake has the guestbook and the comments too; a selection is photos only.
    if matches!(selection, Selection::Approved) {
        if let Some(page) = printable_page(app, &event, &named).await? {
            entries.push(Entry {
                name: guestbook_page::FILE_NAME.to_owned(),
                content: Content::Page(page),
                taken_at: super::now(),
            });
        }
    }
    Ok(stream_archive(app, &event, entries))
}

/// A photo as the host's ZIP holds it.
struct ZipPhoto<'a> {
    record: &'a PhotoRecord,
    entry: String,
    /// Its place in the ZIP.
    order: usize,
}

/// The approved guestbook messages and comments as a printable page, naming the photos by their
/// entries in this ZIP (`named`); `None` when there are neither.
async fn printable_page(
    app: &App,
    event: &EventRecord,
    named: &HashMap<Uuid, ZipPhoto<'_>>,
) -> Result<Option<String>> {
    let page_photo = |id: Uuid| {
        named.get(&id).map(|photo| PagePhoto {
            entry: photo.entry.clone(),
            // What every browser shows; HEIC and clips are linked instead.
            shows_inline: matches!(
                photo.record.mimetype.as_str(),
                "image/jpeg" | "image/png" | "image/webp" | "image/gif"
            ),
        })
    };
    let messages: Vec<PageMessage> = app
        .db
        .guestbook_messages(event.id)
        .await?
        .into_iter()
        .filter(|m| m.status == CommentStatus::Approved)
        .map(|m| PageMessage {
            photo: m.photo_id.and_then(page_photo),
            author: m.author_name,
            text: m.text,
            at: m.created_at,
        })
        .collect();
    // Comments grouped by photo, the photos in the ZIP's order.
    let mut by_photo: HashMap<Uuid, Vec<PageComment>> = HashMap::new();
    for comment in app.db.event_comments(event.id).await? {
        if comment.status == CommentStatus::Approved && named.contains_key(&comment.photo_id) {
            by_photo
                .entry(comment.photo_id)
                .or_default()
                .push(PageComment {
                    author: comment.author_name,
                    text: comment.text,
                    at: comment.created_at,
                });
        }
    }
    let mut commented: Vec<(usize, CommentedPhoto)> = by_photo
        .into_iter()
        .filter_map(|(id, comments)| {
            let order = named.get(&id)?.order;
            Some((
                order,
                CommentedPhoto {
                    photo: page_photo(id)?,
                    comments,
                },
            ))
        })
        .collect();
    commented.sort_by_key(|(order, _)| *order);
    let commented: Vec<CommentedPhoto> = commented.into_iter().map(|(_, c)| c).collect();
    let name = event
        .settings
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    Ok(guestbook_page::render(name, &messages, &commented))
}

/// The guests' ZIP, when the host set `guest_downloads: "all"`: the approved photos the guest
/// may see (a timed reveal still hides the others'), as display copies (no metadata), or as
/// originals with `guest_originals`. Photos whose display copy is not made yet are left out.
pub async fn guest_archive(app: &App, event_id: Uuid, guest_id: Option<Uuid>) -> Result<Archive> {
    let event = app.event(event_id).await?;
    let Some(guest_id) = guest_id else {
        return Err(Error::new(
            ErrorCode::DownloadIdentityRequired,
            "Name the guest (X-Guest-Id or userId) to download the event",
        ));
    };
    super::guests::check_member(app, event.id, guest_id).await?;
    let rules = EventRules::from_settings(&event.settings);
    if rules.guest_downloads != GuestDownloads::All {
        return Err(Error::new(
            ErrorCode::DownloadDisabled,
            "The host does not offer the whole event for download",
        ));
    }
    let visibility = Visibility::new(Viewer::Guest(guest_id), &rules);
    let mut photos = app
        .db
        .photos(event.id, visibility.query(None, None))
        .await?;
    photos.retain(|p| p.status == PhotoStatus::Approved);
    photos.reverse();
    let entries = photos
        .iter()
        .enumerate()
        .filter_map(|(index, photo)| {
            let (key, name) = if rules.guest_originals {
                (&photo.object_key, entry_name(photo, index + 1))
            } else {
                let display = photo
                    .display_key
                    .as_ref()
                    .filter(|_| photo.thumb_status == ThumbStatus::Ready)?;
                (display, display_entry_name(photo, index + 1))
            };
            Some(Entry {
                name,
                content: Content::Stored(PhotoKey::parse(key)?),
                taken_at: photo.created_at,
            })
        })
        .collect();
    Ok(stream_archive(app, &event, entries))
}

/// Where one photo is downloaded: the host gets the original; a guest (or anybody with the
/// link) the display copy, or the original with `guest_originals`, unless the host set
/// `guest_downloads: "none"`. Photos the asker may not see are "not found".
pub async fn photo_download(
    app: &App,
    photo_id: Uuid,
    host: Option<&Host>,
    guest_id: Option<Uuid>,
    base: &url::Url,
) -> Result<String> {
    let photo = app
        .db
        .photo(photo_id)
        .await?
        .ok_or_else(Error::photo_not_found)?;
    let event = app.event(photo.event_id).await?;
    app.require_store()?;
    let viewer = super::guests::viewer(app, &event, host, guest_id).await?;
    let rules = EventRules::from_settings(&event.settings);
    if !Visibility::new(viewer, &rules).sees(&photo) {
        return Err(Error::photo_not_found());
    }
    let key = match viewer {
        Viewer::Host => Some(photo.object_key.as_str()),
        Viewer::Guest(_) | Viewer::Anonymous => {
            if rules.guest_downloads == GuestDownloads::None {
                return Err(Error::new(
                    ErrorCode::DownloadDisabled,
                    "The host does not offer downloads for this event",
                ));
            }
            if rules.guest_originals {
                Some(photo.object_key.as_str())
            } else {
                photo
                    .display_key
                    .as_deref()
                    .filter(|_| photo.thumb_status == ThumbStatus::Ready)
            }
        }
    };
    let key = key.and_then(PhotoKey::parse).ok_or_else(|| {
        Error::new(
            ErrorCode::PhotoNotFound,
            "This photo's display copy is not ready (yet)",
        )
    })?;
    Ok(app.store.download_url(&key, base).to_string())
}

fn stream_archive(app: &App, event: &EventRecord, entries: Vec<Entry>) -> Archive {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let handle = tokio::runtime::Handle::current();
    let store = app.store.clone();
    let max_bytes = app.max_upload_bytes.max(app.video_limits.max_bytes);
    tokio::task::spawn_blocking(move || {
        if let Err(err) = write_archive(
            store.as_ref(),
            max_bytes,
            &handle,
            &entries,
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
    Archive {
        file_name,
        chunks: ReceiverStream::new(rx),
    }
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
    entries: &[Entry],
    out: ChannelWriter,
) -> anyhow::Result<()> {
    let mut zip = ZipWriter::new_stream(out);
    for entry in entries {
        let at = entry.taken_at;
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
            .last_modified_time(modified);
        let key = match &entry.content {
            Content::Page(page) => {
                zip.start_file(entry.name.as_str(), options)?;
                zip.write_all(page.as_bytes())?;
                continue;
            }
            Content::Stored(key) => key,
        };
        let mut object = handle.block_on(store.read_stream(key, max_bytes))?;
        let options = options.large_file(object.len >= u64::from(u32::MAX));
        zip.start_file(entry.name.as_str(), options)?;
        // Chunk by chunk: a 300 MB clip passes through, it is never held whole.
        let mut written = 0u64;
        while let Some(chunk) = handle.block_on(object.chunks.next()) {
            let chunk = chunk?;
            written += chunk.len() as u64;
            anyhow::ensure!(written <= object.len, "{key} grew while read");
            zip.write_all(&chunk)?;
        }
        anyhow::ensure!(written == object.len, "{key} ended early");
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

/// The same name for a display copy, which is always a JPEG.
fn display_entry_name(picture: &PhotoRecord, n: usize) -> String {
    let name = entry_name(picture, n);
    let stem = name
        .rsplit_once('.')
        .map_or(name.as_str(), |(stem, _)| stem);
    format!("{stem}.jpg")
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
