//! Resumable uploads: S3 multipart with presigned part URLs, and the same protocol on the local
//! disk. `start` opens an upload for a key of the kind `init` issues; the client PUTs parts in any
//! order (again when unsure), asks which arrived after a reload, and `complete` joins them into
//! the object once every part is there in its expected size. The usual finalize follows. Open
//! uploads are recorded so any replica serves the next call and [`sweep`] aborts the abandoned.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};
use tokio_util::sync::CancellationToken;
use url::Url;
use uuid::Uuid;

use super::{
    App, Error, ErrorCode, Result,
    events::ensure_open,
    now,
    uploads::{check_quota, check_upload_limit, uploading_guest},
};
use crate::{
    db::{JobLockKey, MultipartRecord},
    domain::{media::MediaType, photo_key::PhotoKey, rules::EventRules},
    store::StoredPart,
};

/// Every part but the last has this size (S3 wants at least 5 MiB).
pub const PART_SIZE: u64 = 8 * 1024 * 1024;
/// Part URLs issued per request.
pub const MAX_PARTS_PER_REQUEST: usize = 100;
/// Uploads still open this long after they started are aborted.
pub const STALE_AFTER: TimeDelta = TimeDelta::hours(24);
/// How often each replica looks for abandoned uploads.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);
const SWEEP_BATCH: u32 = 100;

pub struct Start {
    pub event_id: Uuid,
    pub media_type: MediaType,
    pub size: u64,
    pub guest_id: Option<Uuid>,
}

/// An open upload as a client sees it.
pub struct Upload {
    pub record: MultipartRecord,
    pub key: PhotoKey,
    pub part_count: u16,
}

impl Upload {
    fn new(record: MultipartRecord) -> Result<Self> {
        let key = PhotoKey::parse(&record.object_key).ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "recorded key {} unreadable",
                record.object_key
            ))
        })?;
        let part_count = part_count(u64::try_from(record.size_bytes).unwrap_or(0))
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("recorded size out of range")))?;
        Ok(Self {
            record,
            key,
            part_count,
        })
    }

    /// The size part `number` must have.
    fn expected_size(&self, number: u16) -> u64 {
        let size = u64::try_from(self.record.size_bytes).unwrap_or(0);
        let before = u64::from(number - 1) * PART_SIZE;
        size.saturating_sub(before).min(PART_SIZE)
    }
}

/// Which upload a request is about, and who asks.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub event_id: Uuid,
    pub upload_id: Uuid,
    pub guest_id: Option<Uuid>,
}

/// Parts for `size` bytes; `None` beyond S3's 10 000.
fn part_count(size: u64) -> Option<u16> {
    u16::try_from(size.div_ceil(PART_SIZE))
        .ok()
        .filter(|n| (1..=10_000).contains(n))
}

pub async fn start(app: &App, command: Start) -> Result<Upload> {
    let event = app.event(command.event_id).await?;
    app.require_store()?;
    ensure_open(&event)?;
    let rules = EventRules::from_settings(&event.settings);
    let guest_id = uploading_guest(app, &event, &rules, command.guest_id).await?;
    if command.size == 0 {
        return Err(Error::new(ErrorCode::EmptyUpload, "size must be above 0"));
    }
    if command.media_type.is_video() {
        super::uploads::check_videos_accepted(app, &rules)?;
    }
    let limit = if command.media_type.is_video() {
        app.video_limits.max_bytes
    } else {
        app.max_upload_bytes
    };
    if command.size > limit {
        return Err(Error::new(
            ErrorCode::UploadTooLarge,
            format!(
                "The file is too large ({} bytes; limit {limit} bytes)",
                command.size
            ),
        ));
    }
    check_upload_limit(app, &event, &rules, guest_id).await?;
    check_quota(app, &event, &rules, command.size).await?;
    if part_count(command.size).is_none() {
        return Err(Error::new(ErrorCode::UploadTooLarge, "Too many parts"));
    }
    let key = PhotoKey::generate(event.id, command.media_type);
    let store_upload_id = app.store.create_multipart(&key).await?;
    let record = MultipartRecord {
        id: Uuid::new_v4(),
        event_id: event.id,
        object_key: key.to_string(),
        store_upload_id,
        size_bytes: i64::try_from(command.size).unwrap_or(i64::MAX),
        part_size: i64::try_from(PART_SIZE).unwrap_or(i64::MAX),
        created_at: now(),
    };
    if let Err(err) = app.db.insert_multipart(&record).await {
        let _ = app
            .store
            .abort_multipart(&key, &record.store_upload_id)
            .await;
        return Err(err.into());
    }
    Upload::new(record)
}

/// The open upload, when it belongs to the event named (a guest given must be the event's).
async fn open_upload(app: &App, target: Target) -> Result<Upload> {
    app.require_store()?;
    let not_found = || {
        Error::new(
            ErrorCode::UploadNotFound,
            "No open multipart upload with this id in this session",
        )
    };
    let record = app
        .db
        .multipart(target.upload_id)
        .await?
        .filter(|r| r.event_id == target.event_id)
        .ok_or_else(not_found)?;
    if let Some(guest_id) = target.guest_id {
        super::guests::check_member(app, target.event_id, guest_id).await?;
    }
    Upload::new(record)
}

/// Presigned PUT URLs for the parts asked for.
pub async fn part_urls(
    app: &App,
    target: Target,
    numbers: &[u16],
    base: &Url,
) -> Result<(Upload, Vec<(u16, Url)>)> {
    let upload = open_upload(app, target).await?;
    if numbers.is_empty() || numbers.len() > MAX_PARTS_PER_REQUEST {
        return Err(Error::new(
            ErrorCode::UploadPartInvalid,
            format!("part_numbers must list 1 to {MAX_PARTS_PER_REQUEST} parts"),
        ));
    }
    if let Some(bad) = numbers.iter().find(|n| **n == 0 || **n > upload.part_count) {
        return Err(Error::new(
            ErrorCode::UploadPartInvalid,
            format!(
                "Part {bad} does not exist: this upload has parts 1 to {}",
                upload.part_count
            ),
        ));
    }
    let urls = numbers
        .iter()
        .map(|&n| {
            let url =
                app.store
                    .part_upload_url(&upload.key, &upload.record.store_upload_id, n, base);
            (n, url)
        })
        .collect();
    Ok((upload, urls))
}

/// The parts stored so far (complete ones only: a part of the wrong size is left out, the client
/// sends it again).
pub async fn status(app: &App, target: Target) -> Result<(Upload, Vec<StoredPart>)> {
    let upload = open_upload(app, target).await?;
    let parts = stored_parts(app, &upload).await?;
    let confirmed = parts
        .into_iter()
        .filter(|p| p.number <= upload.part_count && p.size == upload.expected_size(p.number))
        .collect();
    Ok((upload, confirmed))
}

async fn stored_parts(app: &App, upload: &Upload) -> Result<Vec<StoredPart>> {
    match app
        .store
        .list_parts(&upload.key, &upload.record.store_upload_id)
        .await?
    {
        Some(parts) => Ok(parts),
        None => {
            // The store no longer has it (aborted elsewhere): forget it here too.
            app.db.delete_multipart(upload.record.id).await?;
            Err(Error::new(
                ErrorCode::UploadNotFound,
                "This multipart upload no longer exists; start again",
            ))
        }
    }
}

/// Joins the parts into the object; the key is then finalized as usual.
pub async fn complete(app: &App, target: Target) -> Result<PhotoKey> {
    let upload = open_upload(app, target).await?;
    let parts = stored_parts(app, &upload).await?;
    let mut ordered = Vec::with_capacity(usize::from(upload.part_count));
    let mut missing = Vec::new();
    for number in 1..=upload.part_count {
        match parts.iter().find(|p| p.number == number) {
            Some(part) if part.size != upload.expected_size(number) => {
                return Err(Error::new(
                    ErrorCode::UploadPartSizeMismatch,
                    format!(
                        "Part {number} has {} bytes, expected {}; upload it again",
                        part.size,
                        upload.expected_size(number)
                    ),
                ));
            }
            Some(part) => ordered.push(part.clone()),
            None => missing.push(number.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(Error::new(
            ErrorCode::UploadPartMissing,
            format!("Parts missing: {}", missing.join(", ")),
        ));
    }
    let joined = app
        .store
        .complete_multipart(&upload.key, &upload.record.store_upload_id, &ordered)
        .await?;
    if !joined {
        app.db.delete_multipart(upload.record.id).await?;
        return Err(Error::new(
            ErrorCode::UploadNotFound,
            "This multipart upload no longer exists; start again",
        ));
    }
    app.db.delete_multipart(upload.record.id).await?;
    tracing::debug!(key = %upload.key, parts = ordered.len(), "multipart upload completed");
    Ok(upload.key)
}

/// Discards the upload and its parts.
pub async fn abort(app: &App, target: Target) -> Result<()> {
    let upload = open_upload(app, target).await?;
    app.store
        .abort_multipart(&upload.key, &upload.record.store_upload_id)
        .await?;
    app.db.delete_multipart(upload.record.id).await?;
    Ok(())
}

/// Aborts the uploads started before `now - stale_after`; returns how many. Zero while another
/// replica sweeps.
pub async fn sweep(app: &App, now: DateTime<Utc>, stale_after: TimeDelta) -> Result<usize> {
    let Some(_lock) = app.db.try_job_lock(JobLockKey::StaleMultiparts).await? else {
        return Ok(0);
    };
    let Some(started_before) = now.checked_sub_signed(stale_after) else {
        return Ok(0);
    };
    let mut aborted = 0;
    loop {
        let stale = app
            .db
            .multiparts_created_before(started_before, SWEEP_BATCH)
            .await?;
        let full = stale.len() == SWEEP_BATCH as usize;
        for record in stale {
            if let Some(key) = PhotoKey::parse(&record.object_key) {
                app.store
                    .abort_multipart(&key, &record.store_upload_id)
                    .await?;
            }
            app.db.delete_multipart(record.id).await?;
            aborted += 1;
            tracing::info!(upload_id = %record.id, key = %record.object_key,
                "abandoned multipart upload aborted");
        }
        if !full {
            return Ok(aborted);
        }
    }
}

/// Sweeps every [`SWEEP_EVERY`] (the first at start) until `stop` fires.
pub async fn run(app: Arc<App>, stop: CancellationToken) {
    let mut ticker = tokio::time::interval(SWEEP_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.cancelled() => return,
        }
        match sweep(&app, now(), STALE_AFTER).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "abandoned multipart uploads aborted"),
            Err(err) => tracing::warn!(error = %err, "multipart sweep failed; retrying in an hour"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_split_into_full_parts_and_a_rest() {
        assert_eq!(part_count(1), Some(1));
        assert_eq!(part_count(PART_SIZE), Some(1));
        assert_eq!(part_count(PART_SIZE + 1), Some(2));
        assert_eq!(part_count(20 * 1024 * 1024), Some(3));
        assert_eq!(part_count(0), None);
        assert_eq!(part_count(PART_SIZE * 10_001), None);
    }
}
