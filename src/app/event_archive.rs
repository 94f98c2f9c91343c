//! Event export and import: one event as a portable tar archive (its photos, then `event.json`
//! with the event, its rules and missions, guests, photo records and a SHA-256 per file), read and
//! written through the `Database` and `PhotoStore` traits, so it moves between installations on
//! either backend pair. Thumbnails go along when they exist; otherwise the importing server
//! makes them.
//!
//! Ids are kept: an event whose id exists already is refused. The event goes to the host with
//! the exported (or given) e-mail when there is one; otherwise a host is created with a random
//! password that the command prints once (nothing else knows it).

use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    backup::{self, FileEntry, refuse},
    db::{
        Database, EventRecord, GuestRecord, HostRecord, PhotoQuery, PhotoRecord, PhotoStatus,
        ThumbStatus,
    },
    domain::{
        join_code::JoinCode,
        missions::MissionList,
        password::PasswordHasher,
        photo_key::{PhotoKey, Variant},
        values::Email,
    },
    store::PhotoStore,
};

const FORMAT: &str = "partypic-event";
const VERSION: u32 = 1;
const DOCUMENT: &str = "event.json";
/// Larger than any photo an installation accepts; only guards against a runaway object.
const MAX_OBJECT_BYTES: u64 = 1 << 36;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedHost {
    pub email: String,
    pub username: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedEvent {
    pub id: Uuid,
    /// Name and rules (approval, reveal, limits, …) as the event stores them.
    pub settings: Value,
    pub missions: MissionList,
    pub created_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The code guests type; kept on import unless the installation has given it to another event.
    #[serde(default)]
    pub join_code: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedGuest {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedPhoto {
    pub id: Uuid,
    pub object_key: String,
    pub uploader_name: String,
    /// The guest who uploaded it (one of `guests`), when known.
    pub guest_id: Option<Uuid>,
    pub original_filename: String,
    pub mimetype: String,
    pub filesize_bytes: i64,
    pub mission_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub status: PhotoStatus,
    pub content_hash: Option<String>,
    /// `failed` (not decodable) is kept; without `thumbnail` the importing server makes one.
    pub thumb_status: ThumbStatus,
    pub file: FileEntry,
    pub thumbnail: Option<FileEntry>,
    /// A clip's length (absent for photos and in archives of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
}

/// `event.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventDocument {
    pub format: String,
    pub version: u32,
    pub exported_at: DateTime<Utc>,
    pub partypic_version: String,
    pub host: ArchivedHost,
    pub event: ArchivedEvent,
    pub guests: Vec<ArchivedGuest>,
    /// Oldest first.
    pub photos: Vec<ArchivedPhoto>,
}

#[derive(Debug)]
pub struct ExportReport {
    pub photos: usize,
    pub guests: usize,
    pub bytes: u64,
    /// Photos deleted while the export ran, left out.
    pub skipped: Vec<Uuid>,
}

#[derive(Debug)]
pub struct ImportReport {
    pub event_id: Uuid,
    pub host_email: String,
    /// Set when the host was created: its random password, shown once.
    pub new_host_password: Option<String>,
    pub photos: usize,
    pub guests: usize,
}

/// Writes event `event_id` with its photos to `target` (atomically).
pub async fn export(
    db: &dyn Database,
    store: &dyn PhotoStore,
    event_id: Uuid,
    target: &Path,
) -> anyhow::Result<ExportReport> {
    let Some(event) = db.event(event_id).await? else {
        return refuse(format!("there is no event {event_id} in this installation"));
    };
    let host = db
        .host(event.host_id)
        .await?
        .context("the event's host is missing")?;
    let guests = db.guests_of_event(event.id).await?;
    let everything = PhotoQuery::all();
    let mut records = db.photos(event.id, everything).await?;
    records.reverse();

    let mut tar = backup::create_archive(target)?;
    let mut photos = Vec::with_capacity(records.len());
    let mut skipped = Vec::new();
    for record in records {
        let key = PhotoKey::parse(&record.object_key)
            .with_context(|| format!("photo {} has an invalid key", record.id))?;
        // A photo deleted meanwhile is left out: the archive references only files it holds.
        if store.size(&key).await?.is_none() {
            skipped.push(record.id);
            continue;
        }
        let bytes = match store.read_all(&key, MAX_OBJECT_BYTES).await {
            Ok(bytes) => bytes,
            Err(_) if store.size(&key).await?.is_none() => {
                skipped.push(record.id);
                continue;
            }
            Err(err) => return Err(err).context(format!("cannot read photo {key}")),
        };
        let path = format!("photos/{key}");
        let file = backup::append(&mut tar, &path, bytes.len() as u64, 0o644, bytes.as_ref())?;
        let thumbnail = match record.thumb_key.as_deref().and_then(PhotoKey::parse) {
            Some(thumb) => match store.read_all(&thumb, MAX_OBJECT_BYTES).await {
                Ok(bytes) => Some(backup::append(
                    &mut tar,
                    &format!("photos/{thumb}"),
                    bytes.len() as u64,
                    0o644,
                    bytes.as_ref(),
                )?),
                // Gone with its photo, or never stored: the importing server makes it again.
                Err(_) => None,
            },
            None => None,
        };
        photos.push(archived_photo(record, file, thumbnail));
    }
    let document = EventDocument {
        format: FORMAT.to_owned(),
        version: VERSION,
        exported_at: Utc::now(),
        partypic_version: env!("CARGO_PKG_VERSION").to_owned(),
        host: ArchivedHost {
            email: host.email,
            username: host.username,
        },
        event: ArchivedEvent {
            id: event.id,
            settings: event.settings,
            missions: event.missions,
            created_at: event.created_at,
            ends_at: event.ends_at,
            join_code: event.join_code,
        },
        guests: guests
            .into_iter()
            .map(|g| ArchivedGuest {
                id: g.id,
                name: g.name,
                created_at: g.created_at,
                last_seen: g.last_seen,
            })
            .collect(),
        photos,
    };
    let json = serde_json::to_vec_pretty(&document)?;
    backup::append(
        &mut tar,
        DOCUMENT,
        json.len() as u64,
        0o644,
        json.as_slice(),
    )?;
    let bytes = backup::finish_archive(tar, target)?;
    Ok(ExportReport {
        photos: document.photos.len(),
        guests: document.guests.len(),
        bytes,
        skipped,
    })
}

fn archived_photo(
    record: PhotoRecord,
    file: FileEntry,
    thumbnail: Option<FileEntry>,
) -> ArchivedPhoto {
    ArchivedPhoto {
        id: record.id,
        object_key: record.object_key,
        uploader_name: record.uploader_name,
        guest_id: record.guest_id,
        original_filename: record.original_filename,
        mimetype: record.mimetype,
        filesize_bytes: record.filesize_bytes,
        mission_id: record.mission_id,
        created_at: record.created_at,
        status: record.status,
        content_hash: record.content_hash,
        thumb_status: if thumbnail.is_some() {
            ThumbStatus::Ready
        } else if record.thumb_status == ThumbStatus::Failed {
            ThumbStatus::Failed
        } else {
            ThumbStatus::Pending
        },
        file,
        thumbnail,
        duration_ms: record.duration_ms,
    }
}

fn is_photo_entry(path: &str) -> bool {
    path.strip_prefix("photos/")
        .and_then(PhotoKey::parse)
        .is_some()
}

/// Reads and checks an event archive: every file present with its checksum, keys and guests
/// belonging to the event.
fn read_archive(archive: &Path, into: &Path) -> anyhow::Result<EventDocument> {
    let unpacked = backup::unpack(archive, into, DOCUMENT, is_photo_entry)?;
    let Some(json) = &unpacked.json else {
        bail!("{} is incomplete: it has no {DOCUMENT}", archive.display());
    };
    let document: EventDocument = serde_json::from_slice(json)
        .with_context(|| format!("{} has an unreadable {DOCUMENT}", archive.display()))?;
    if document.format != FORMAT || document.version != VERSION {
        bail!(
            "{} is a {} archive version {}, not a PartyPic event version {VERSION}",
            archive.display(),
            document.format,
            document.version
        );
    }
    let files: Vec<FileEntry> = document
        .photos
        .iter()
        .flat_map(|p| std::iter::once(&p.file).chain(&p.thumbnail))
        .cloned()
        .collect();
    backup::verify(archive, &files, &unpacked)?;
    let event_id = document.event.id;
    for photo in &document.photos {
        let key = PhotoKey::parse(&photo.object_key);
        let belongs = key.is_some_and(|k| {
            k.event_id == event_id
                && k.variant == Variant::Original
                && photo.file.path == format!("photos/{k}")
                && photo
                    .thumbnail
                    .as_ref()
                    .is_none_or(|t| t.path == format!("photos/{}", k.thumbnail()))
        });
        if !belongs {
            bail!("photo {} does not belong to event {event_id}", photo.id);
        }
        if let Some(guest) = photo.guest_id {
            if !document.guests.iter().any(|g| g.id == guest) {
                bail!("photo {} names an unknown guest {guest}", photo.id);
            }
        }
    }
    Ok(document)
}

/// Loads an event archive into this installation: files first, then the rows.
pub async fn import(
    db: &dyn Database,
    store: &dyn PhotoStore,
    hasher: &PasswordHasher,
    archive: &Path,
    host_email: Option<&str>,
) -> anyhow::Result<ImportReport> {
    let staging = tempfile::Builder::new()
        .prefix(".partypic-import-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let document = read_archive(archive, staging.path())?;
    let event_id = document.event.id;
    if db.event(event_id).await?.is_some() {
        return refuse(format!(
            "event {event_id} already exists in this installation: import keeps ids, so an \
             event can be imported once (delete it first to import it again)"
        ));
    }
    // Guests and photos keep their ids too; checked up front, so the inserts below do not fail
    // half-way for a reason known in advance.
    for guest in &document.guests {
        if db.guest(guest.id).await?.is_some() {
            return refuse(format!(
                "guest {} already exists in this installation",
                guest.id
            ));
        }
    }
    for photo in &document.photos {
        if db.photo(photo.id).await?.is_some()
            || db.photo_by_key(&photo.object_key).await?.is_some()
        {
            return refuse(format!(
                "photo {} already exists in this installation",
                photo.id
            ));
        }
    }
    let email = Email::parse(host_email.unwrap_or(&document.host.email))
        .map_err(|e| backup::Refused(format!("host e-mail: {}", e.message)))?;
    let (host, new_host_password) = match db.host_by_email(email.normalized()).await? {
        Some(host) => (host, None),
        None => {
            let password = hex::encode(rand::random::<[u8; 12]>());
            let password_hash = hasher
                .hash(&password)
                .await
                .map_err(|e| anyhow::anyhow!("cannot hash the new host's password: {e}"))?;
            let host = HostRecord {
                id: Uuid::new_v4(),
                email: email.as_str().to_owned(),
                email_normalized: email.normalized().to_owned(),
                username: document.host.username.clone(),
                password_hash,
                created_at: super::now(),
            };
            db.insert_host(&host).await?;
            (host, Some(password))
        }
    };

    for photo in &document.photos {
        let Some(key) = PhotoKey::parse(&photo.object_key) else {
            continue;
        };
        let bytes = tokio::fs::read(staging.path().join(&photo.file.path)).await?;
        store
            .put(&key, bytes.into(), &photo.mimetype)
            .await
            .with_context(|| format!("cannot store photo {key}"))?;
        if let Some(thumbnail) = &photo.thumbnail {
            let bytes = tokio::fs::read(staging.path().join(&thumbnail.path)).await?;
            store
                .put(&key.thumbnail(), bytes.into(), "image/jpeg")
                .await
                .with_context(|| format!("cannot store the thumbnail of {key}"))?;
        }
    }

    let ArchivedEvent {
        id,
        settings,
        missions,
        created_at,
        ends_at,
        join_code,
    } = document.event;
    let mut event = EventRecord {
        id,
        host_id: host.id,
        settings,
        missions,
        created_at,
        ends_at,
        join_code: None,
    };
    let mut archived_code = join_code.as_deref().and_then(JoinCode::parse);
    super::events::insert_with_join_code(db, &mut event, || {
        archived_code
            .take()
            .unwrap_or_else(|| JoinCode::generate(&mut rand::rng()))
    })
    .await?;
    for guest in &document.guests {
        db.insert_guest(&GuestRecord {
            id: guest.id,
            event_id,
            name: guest.name.clone(),
            created_at: guest.created_at,
            last_seen: guest.last_seen,
        })
        .await
        .with_context(|| format!("cannot import guest {}", guest.id))?;
    }
    for photo in &document.photos {
        let thumb_key = photo
            .thumbnail
            .as_ref()
            .and_then(|_| PhotoKey::parse(&photo.object_key))
            .map(|key| key.thumbnail().to_string());
        // Archives carry no display copies: the variants job makes both again.
        let thumb_status = match photo.thumb_status {
            ThumbStatus::Failed => ThumbStatus::Failed,
            _ => ThumbStatus::Pending,
        };
        db.insert_photo(&PhotoRecord {
            id: photo.id,
            event_id,
            uploader_name: photo.uploader_name.clone(),
            original_filename: photo.original_filename.clone(),
            object_key: photo.object_key.clone(),
            bucket: store.bucket().to_owned(),
            mimetype: photo.mimetype.clone(),
            filesize_bytes: photo.filesize_bytes,
            mission_id: photo.mission_id.clone(),
            created_at: photo.created_at,
            guest_id: photo.guest_id,
            status: photo.status,
            content_hash: photo.content_hash.clone(),
            thumb_key,
            display_key: None,
            thumb_status,
            duration_ms: photo.duration_ms,
        })
        .await
        .with_context(|| format!("cannot import photo {}", photo.id))?;
    }
    Ok(ImportReport {
        event_id,
        host_email: host.email,
        new_host_password,
        photos: document.photos.len(),
        guests: document.guests.len(),
    })
}
