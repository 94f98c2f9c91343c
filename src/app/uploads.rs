//! Ingest: the three-step upload. `init` issues a key and a URL the phone PUTs the bytes to;
//! `finalize` checks what arrived (size, type, the event's rules, duplicates), records the
//! photo, and announces it. Video clips are checked by ffprobe on a local copy ([`video`]) for
//! container, video stream and length. A rejected upload is deleted ([`Received`]), even when the request is
//! cut short while deleting.

use std::sync::Arc;

use url::Url;
use uuid::Uuid;

use super::{App, Error, ErrorCode, Result, events::ensure_open, guests, now};
use crate::{
    db::{EventRecord, PhotoRecord, PhotoStatus, ThumbStatus},
    domain::{
        media::{MediaType, VideoType},
        photo_key::{PhotoKey, Variant},
        rules::EventRules,
        values::Name,
    },
    events::LiveEvent,
    store::{PhotoStore, UPLOAD_URL_TTL},
    thumbnails::video,
};

pub struct Init {
    pub event_id: Uuid,
    pub media_type: MediaType,
    pub guest_id: Option<Uuid>,
}

pub struct Ticket {
    pub upload_url: Url,
    pub key: PhotoKey,
    pub bucket: String,
    pub expires_in_secs: u64,
}

pub struct Finalize {
    pub event_id: Uuid,
    pub key: PhotoKey,
    pub uploader_name: Name,
    pub original_filename: Option<String>,
    pub mission_id: Option<String>,
    pub guest_id: Option<Uuid>,
}

/// The key, when it is one `init` could have issued (an original, not a derived file).
pub fn parse_issued_key(raw: &str) -> Result<PhotoKey> {
    PhotoKey::parse(raw.trim())
        .filter(|key| key.variant == Variant::Original)
        .ok_or_else(|| {
            Error::new(
                ErrorCode::UploadKeyInvalid,
                "s3_key is not a key issued by init-upload",
            )
        })
}

pub async fn init(app: &App, command: Init, base: &Url) -> Result<Ticket> {
    let event = app.cached_event(command.event_id).await?;
    app.require_store()?;
    ensure_open(&event)?;
    let rules = EventRules::from_settings(&event.settings);
    let guest_id = uploading_guest(app, &event, &rules, command.guest_id).await?;
    check_upload_limit(app, &event, &rules, guest_id).await?;
    // Refused here already when not one more byte fits; the photo's own size counts at finalize.
    check_quota(app, &event, &rules, 1).await?;
    if command.media_type.is_video() {
        check_videos_accepted(app, &rules)?;
    }
    let key = PhotoKey::generate(event.id, command.media_type);
    Ok(Ticket {
        upload_url: app.store.upload_url(&key, base),
        key,
        bucket: app.store.bucket().to_owned(),
        expires_in_secs: UPLOAD_URL_TTL.as_secs(),
    })
}

/// Records the uploaded photo. Idempotent: a repeated key, or (for a named guest) content the
/// event already has, returns the photo already stored.
pub async fn finalize(app: &App, command: Finalize) -> Result<PhotoRecord> {
    let key = command.key;
    let event = app.cached_event(command.event_id).await?;
    app.require_store()?;
    if key.event_id != event.id {
        return Err(Error::new(
            ErrorCode::UploadKeyOfOtherEvent,
            "s3_key does not belong to this session",
        ));
    }
    if let Some(existing) = app.db.photo_by_key(&key.to_string()).await? {
        return Ok(existing);
    }
    ensure_open(&event)?;
    let rules = EventRules::from_settings(&event.settings);
    let guest_id = uploading_guest(app, &event, &rules, command.guest_id).await?;

    let size = app.store.size(&key).await?.ok_or_else(|| {
        Error::new(
            ErrorCode::UploadNotFound,
            "No upload found for s3_key; PUT the photo to uploadUrl first",
        )
    })?;
    let received = Received::new(app.store.clone(), key);
    let too_large = |what: &str, limit: u64| {
        Error::new(
            ErrorCode::UploadTooLarge,
            format!("{what} is too large ({size} bytes; limit {limit} bytes)"),
        )
    };
    let largest = app.max_upload_bytes.max(app.video_limits.max_bytes);
    if size > largest {
        return Err(received.reject(too_large("Upload", largest)).await);
    }
    if size == 0 {
        return Err(received
            .reject(Error::new(
                ErrorCode::EmptyUpload,
                "The uploaded file is empty",
            ))
            .await);
    }
    let head = app.store.read_head(&key, MediaType::SNIFF_LEN).await?;
    let media_type = match MediaType::sniff(&head) {
        Some(MediaType::Image(_)) if size > app.max_upload_bytes => {
            return Err(received
                .reject(too_large("Photo", app.max_upload_bytes))
                .await);
        }
        Some(MediaType::Video(_)) if size > app.video_limits.max_bytes => {
            return Err(received
                .reject(too_large("Video", app.video_limits.max_bytes))
                .await);
        }
        Some(media_type) => media_type,
        None => {
            return Err(received
                .reject(Error::new(
                    ErrorCode::NotAnImage,
                    "The uploaded file is not a supported image or video",
                ))
                .await);
        }
    };
    let duration_ms = match media_type {
        MediaType::Image(_) => None,
        MediaType::Video(video_type) => match check_clip(app, &rules, &key, video_type).await {
            Ok(duration_ms) => Some(duration_ms),
            Err(err) => return Err(received.reject(err).await),
        },
    };
    if let Err(err) = check_upload_limit(app, &event, &rules, guest_id).await {
        return Err(received.reject(err).await);
    }
    if let Err(err) = check_quota(app, &event, &rules, size).await {
        return Err(received.reject(err).await);
    }
    // A guest's client (it names the guest) sending a photo the event already has gets the
    // stored photo back instead of a second copy: retried offline queues and photos picked
    // twice from the phone's gallery. Uploads without a guest id keep the contract's rule that
    // every finalized key is its own photo.
    let content_hash = app.store.sha256(&key).await?;
    if guest_id.is_some() {
        if let Some(existing) = app.db.photo_by_hash(event.id, &content_hash).await? {
            received.discard().await;
            return Ok(existing);
        }
    }

    let photo = PhotoRecord {
        id: Uuid::new_v4(),
        event_id: event.id,
        uploader_name: command.uploader_name.into_inner(),
        original_filename: command.original_filename.unwrap_or_else(|| key.file_name()),
        object_key: key.to_string(),
        bucket: app.store.bucket().to_owned(),
        mimetype: media_type.mime().to_owned(),
        filesize_bytes: i64::try_from(size).unwrap_or(i64::MAX),
        mission_id: command.mission_id,
        created_at: now(),
        guest_id,
        status: if rules.require_approval {
            PhotoStatus::Pending
        } else {
            PhotoStatus::Approved
        },
        content_hash: Some(content_hash),
        thumb_key: None,
        display_key: None,
        thumb_status: ThumbStatus::Pending,
        duration_ms,
    };
    let stored = app.db.insert_photo(&photo).await?;
    if stored.id == photo.id {
        app.metrics.photos_uploaded.inc();
        app.events
            .publish(LiveEvent::PictureCreated {
                picture: stored.clone(),
            })
            .await;
        app.processing.wake();
    } else if stored.object_key != photo.object_key {
        // Identical content won a race: this copy is not needed. (When a concurrent finalize of
        // the same key won, the object is that photo's and stays.)
        received.discard().await;
    }
    Ok(stored)
}

/// Clips need the event's consent (`videos`) and this server's ffmpeg.
pub(super) fn check_videos_accepted(app: &App, rules: &EventRules) -> Result<()> {
    if !rules.videos {
        return Err(Error::new(
            ErrorCode::VideosDisabled,
            "This event accepts photos only",
        ));
    }
    if !app.video_tools {
        return Err(Error::new(
            ErrorCode::VideoUnsupported,
            "This server cannot take video clips (ffmpeg is not installed)",
        ));
    }
    Ok(())
}

/// Probes an uploaded clip on a local copy: a readable container of the announced kind, a
/// video stream, a length within the limit. Returns the length in milliseconds. Every error
/// here rejects the upload (the caller deletes it), except storage trouble, which is retried.
async fn check_clip(
    app: &App,
    rules: &EventRules,
    key: &PhotoKey,
    video_type: VideoType,
) -> Result<i64> {
    check_videos_accepted(app, rules)?;
    let unreadable = || {
        Error::new(
            ErrorCode::VideoUnreadable,
            "The uploaded file is not a readable video clip",
        )
    };
    let work = video::Workspace::new().map_err(|e| Error::Internal(e.into()))?;
    let local = work.file("upload");
    app.store
        .copy_to_file(key, &local, app.video_limits.max_bytes)
        .await?;
    let probe = match video::probe(&local, app.worker_nice).await {
        Ok(probe) => probe,
        Err(err) if err.is_bad_input() => {
            tracing::info!(%key, error = %err, "uploaded clip refused");
            return Err(unreadable());
        }
        Err(video::VideoError::ToolMissing(_)) => {
            return Err(Error::new(
                ErrorCode::VideoUnsupported,
                "This server cannot take video clips (ffmpeg is not installed)",
            ));
        }
        Err(err) => return Err(Error::Internal(err.into())),
    };
    if !probe.container_matches(video_type) {
        return Err(unreadable());
    }
    let limit_secs = rules.video_secs_limit(app.video_limits.max_secs);
    if probe.duration.as_secs_f64() > limit_secs as f64 + 0.5 {
        return Err(Error::new(
            ErrorCode::VideoTooLong,
            format!(
                "The clip is too long ({:.0} s; limit {limit_secs} s)",
                probe.duration.as_secs_f64()
            ),
        ));
    }
    Ok(i64::try_from(probe.duration.as_millis()).unwrap_or(i64::MAX))
}

/// Checks the uploading guest against the event's rules; returns the guest id when given.
pub(super) async fn uploading_guest(
    app: &App,
    event: &EventRecord,
    rules: &EventRules,
    guest_id: Option<Uuid>,
) -> Result<Option<Uuid>> {
    let Some(guest_id) = guest_id else {
        if rules.needs_guest_id() {
            return Err(Error::new(
                ErrorCode::GuestIdRequired,
                "user_id is required for this event",
            ));
        }
        return Ok(None);
    };
    guests::check_member(app, event.id, guest_id).await?;
    Ok(Some(guest_id))
}

/// The event's limit (the lower of `EVENT_QUOTA_MB` and the host's `storage_limit_mb`) and the
/// host's (`HOST_QUOTA_MB`): `upload.quota_exceeded` (413) when `incoming` more bytes do not fit.
/// Concurrent finalizes may overshoot by the photos in flight.
pub(super) async fn check_quota(
    app: &App,
    event: &EventRecord,
    rules: &EventRules,
    incoming: u64,
) -> Result<()> {
    let exceeded = |what: &str, limit: u64| {
        Error::new(
            ErrorCode::QuotaExceeded,
            format!(
                "The {what}'s storage is full ({} MiB); delete photos or ask for more space",
                limit / (1024 * 1024)
            ),
        )
    };
    let own = rules
        .storage_limit_mb
        .map(|mb| mb.saturating_mul(1024 * 1024));
    let event_limit = match (app.event_quota_bytes, own) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(limit) = event_limit {
        let used = u64::try_from(app.db.event_stored_bytes(event.id).await?).unwrap_or(0);
        if used.saturating_add(incoming) > limit {
            return Err(exceeded("event", limit));
        }
    }
    if let Some(limit) = app.host_quota_bytes {
        let used = u64::try_from(app.db.host_stored_bytes(event.host_id).await?).unwrap_or(0);
        if used.saturating_add(incoming) > limit {
            return Err(exceeded("host", limit));
        }
    }
    Ok(())
}

pub(super) async fn check_upload_limit(
    app: &App,
    event: &EventRecord,
    rules: &EventRules,
    guest_id: Option<Uuid>,
) -> Result<()> {
    if let (Some(limit), Some(guest_id)) = (rules.upload_limit_per_guest, guest_id) {
        let uploaded = app.db.count_guest_photos(event.id, guest_id).await?;
        if u64::try_from(uploaded).unwrap_or(u64::MAX) >= limit {
            return Err(Error::new(
                ErrorCode::UploadLimitReached,
                format!("Upload limit reached: {limit} photos per guest"),
            ));
        }
    }
    Ok(())
}

/// An uploaded object that is not yet a photo. Rejecting it deletes it; if the request is cut
/// short mid-delete, dropping it finishes the delete in the background. Transient failures
/// (storage or database down) leave it in place, so the client's retried finalize finds it.
struct Received {
    store: Arc<dyn PhotoStore>,
    key: PhotoKey,
    rejected: bool,
    deleted: bool,
}

impl Received {
    fn new(store: Arc<dyn PhotoStore>, key: PhotoKey) -> Self {
        Self {
            store,
            key,
            rejected: false,
            deleted: false,
        }
    }

    /// Deletes the object now: it will never be a photo.
    async fn discard(mut self) {
        self.rejected = true;
        if let Err(err) = self.store.delete(&self.key).await {
            tracing::warn!(key = %self.key, error = %err, "could not delete a rejected upload");
        }
        self.deleted = true;
    }

    /// Deletes the object and passes `err` on.
    async fn reject(self, err: Error) -> Error {
        self.discard().await;
        err
    }
}

impl Drop for Received {
    fn drop(&mut self) {
        if !self.rejected || self.deleted {
            return;
        }
        let (store, key) = (self.store.clone(), self.key);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(err) = store.delete(&key).await {
                    tracing::warn!(%key, error = %err, "could not delete a rejected upload");
                }
            });
        }
    }
}
