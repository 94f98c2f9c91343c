//! The variants job: after finalize, a background task decodes the photo once and stores a
//! ~400 px thumbnail and a ≤ 2048 px display copy next to it, both metadata-free JPEGs (see
//! [`crate::domain::variants`]); HEIC/HEIF goes through libheif first ([`heif`]). One at a time
//! per replica (decoding is memory-hungry); a photo that cannot be decoded is marked `failed`
//! once (guests get the placeholder); a store outage leaves it `pending` for the sweep.

mod clip;
mod heif;
pub mod video;

use std::{sync::Arc, time::Duration};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::{
    db::{Database, PhotoRecord, ThumbStatus, VariantKeys},
    domain::{
        image::ImageType,
        photo_key::PhotoKey,
        variants::{Orient, Variants, make_variants},
    },
    events::{EventBus, LiveEvent},
    store::PhotoStore,
    workers::WorkerPool,
};

/// Pictures left pending this long (a replica died mid-job, the store was down) are retried.
const SWEEP_AFTER: Duration = Duration::from_secs(120);
const SWEEP_EVERY: Duration = Duration::from_secs(60);
const SWEEP_BATCH: u32 = 20;

pub struct Thumbnailer {
    db: Arc<dyn Database>,
    store: Arc<dyn PhotoStore>,
    events: EventBus,
    slots: Semaphore,
    /// One low-priority thread: decoding is CPU- and memory-hungry and never urgent.
    decoder: WorkerPool,
    max_source_bytes: u64,
    /// Priority of the HEIF converter processes (the decoder thread has it already).
    nice: i32,
}

impl Thumbnailer {
    pub fn new(
        db: Arc<dyn Database>,
        store: Arc<dyn PhotoStore>,
        events: EventBus,
        max_source_bytes: u64,
        nice: i32,
    ) -> std::io::Result<Arc<Self>> {
        if !heif::tool_installed() {
            tracing::warn!(
                "heif-convert not found (Debian: libheif-examples): HEIC/HEIF photos get no variants, guests see the placeholder"
            );
        }
        if !video::tools_installed() {
            tracing::warn!(
                "ffmpeg/ffprobe not found (Debian: ffmpeg): video clips are refused (upload.video_unsupported)"
            );
        }
        Ok(Arc::new(Self {
            db,
            store,
            events,
            slots: Semaphore::new(1),
            decoder: WorkerPool::new("thumbnail", 1, nice)?,
            max_source_bytes,
            nice,
        }))
    }

    pub fn schedule(self: &Arc<Self>, picture: PhotoRecord) {
        let this = self.clone();
        tokio::spawn(async move { this.process(picture).await });
    }

    async fn process(&self, picture: PhotoRecord) {
        let Ok(_slot) = self.slots.acquire().await else {
            return;
        };
        let Some(key) = PhotoKey::parse(&picture.object_key) else {
            return;
        };
        if key.media_type.is_video() {
            return self.process_clip(picture, key).await;
        }
        let source = match self.store.read_all(&key, self.max_source_bytes).await {
            Ok(bytes) => bytes,
            Err(err) => {
                // Possibly transient: the sweep tries again later.
                return tracing::warn!(picture = %picture.id, error = %err, "photo unavailable for its variants");
            }
        };
        let outcome = match self.make(&picture, source).await {
            Some(variants) => match self.store_variants(&key, variants).await {
                Ok(()) => Some((key.thumbnail().to_string(), key.display().to_string())),
                Err(err) => {
                    return tracing::warn!(picture = %picture.id, error = %err, "cannot store variants");
                }
            },
            None => None,
        };
        let (status, keys) = match &outcome {
            Some((thumb, display)) => (ThumbStatus::Ready, Some(VariantKeys { thumb, display })),
            None => (ThumbStatus::Failed, None),
        };
        if let Err(err) = self.db.set_variants(picture.id, keys, status).await {
            return tracing::warn!(picture = %picture.id, error = %err, "cannot record variants");
        }
        // Bumps the event's generation: cached gallery pages with the placeholder are dropped.
        if let Ok(Some(updated)) = self.db.photo(picture.id).await {
            self.events
                .publish(LiveEvent::PictureUpdated { picture: updated })
                .await;
        }
    }

    /// Decodes the photo into its variants; `None` when it cannot be decoded.
    async fn make(&self, picture: &PhotoRecord, source: bytes::Bytes) -> Option<Variants> {
        let heif = matches!(
            ImageType::from_mime(&picture.mimetype),
            Some(ImageType::Heic | ImageType::Heif)
        );
        let (pixels, orient) = if heif {
            match heif::to_jpeg(&source, self.nice).await {
                Ok(jpeg) => (bytes::Bytes::from(jpeg), Orient::AsDecoded),
                Err(err) if err.is_bad_input() => {
                    tracing::info!(picture = %picture.id, error = %err, "HEIF photo cannot be decoded; no variants");
                    return None;
                }
                Err(err) => {
                    tracing::warn!(picture = %picture.id, error = %err, "cannot convert HEIF photos; no variants");
                    return None;
                }
            }
        } else {
            (source, Orient::FromExif)
        };
        match self
            .decoder
            .run(move || make_variants(&pixels, orient))
            .await
        {
            Ok(Ok(variants)) => Some(variants),
            Ok(Err(err)) => {
                tracing::info!(picture = %picture.id, error = %err, "photo cannot be decoded; no variants");
                None
            }
            Err(err) => {
                tracing::warn!(picture = %picture.id, error = %err, "variants task failed");
                None
            }
        }
    }

    async fn store_variants(
        &self,
        key: &PhotoKey,
        variants: Variants,
    ) -> Result<(), crate::store::StoreError> {
        self.store
            .put(&key.thumbnail(), variants.thumbnail.into(), "image/jpeg")
            .await?;
        self.store
            .put(&key.display(), variants.display.into(), "image/jpeg")
            .await
    }

    /// Retries pictures whose variants never got made, until `stop` fires.
    pub async fn sweep(self: Arc<Self>, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(SWEEP_EVERY);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.cancelled() => return,
            }
            let cutoff =
                chrono::Utc::now() - chrono::Duration::from_std(SWEEP_AFTER).unwrap_or_default();
            match self.db.pending_thumbnails(cutoff, SWEEP_BATCH).await {
                Ok(pending) => {
                    for picture in pending {
                        self.process(picture).await;
                    }
                }
                Err(err) => tracing::warn!(error = %err, "variants sweep failed"),
            }
        }
    }
}
