//! The thumbnail job: after finalize, a background task makes a ~400 px JPEG next to the photo.
//! One at a time per replica (decoding is memory-hungry); a photo that cannot be decoded is marked
//! `failed` once and keeps being shown full size; a store outage leaves it `pending` for the sweep.

use std::{sync::Arc, time::Duration};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::{
    db::{Database, PhotoRecord, ThumbStatus},
    domain::{
        photo_key::PhotoKey,
        thumbnail::{THUMBNAIL_MAX_SIDE, make_thumbnail},
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
}

impl Thumbnailer {
    pub fn new(
        db: Arc<dyn Database>,
        store: Arc<dyn PhotoStore>,
        events: EventBus,
        max_source_bytes: u64,
        nice: i32,
    ) -> std::io::Result<Arc<Self>> {
        Ok(Arc::new(Self {
            db,
            store,
            events,
            slots: Semaphore::new(1),
            decoder: WorkerPool::new("thumbnail", 1, nice)?,
            max_source_bytes,
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
        let source = match self.store.read_all(&key, self.max_source_bytes).await {
            Ok(bytes) => bytes,
            Err(err) => {
                // Possibly transient: the sweep tries again later.
                return tracing::warn!(picture = %picture.id, error = %err, "thumbnail source unavailable");
            }
        };
        let made = self
            .decoder
            .run(move || make_thumbnail(&source, THUMBNAIL_MAX_SIDE))
            .await;
        let outcome = match made {
            Ok(Ok(jpeg)) => {
                let thumb = key.thumbnail();
                match self.store.put(&thumb, jpeg.into(), "image/jpeg").await {
                    Ok(()) => Some(thumb.to_string()),
                    Err(err) => {
                        return tracing::warn!(picture = %picture.id, error = %err, "cannot store thumbnail");
                    }
                }
            }
            Ok(Err(err)) => {
                tracing::info!(picture = %picture.id, error = %err, "photo cannot be decoded; no thumbnail");
                None
            }
            Err(err) => {
                tracing::warn!(picture = %picture.id, error = %err, "thumbnail task failed");
                None
            }
        };
        let status = if outcome.is_some() {
            ThumbStatus::Ready
        } else {
            ThumbStatus::Failed
        };
        if let Err(err) = self
            .db
            .set_thumbnail(picture.id, outcome.as_deref(), status)
            .await
        {
            return tracing::warn!(picture = %picture.id, error = %err, "cannot record thumbnail");
        }
        if let Ok(Some(updated)) = self.db.photo(picture.id).await {
            self.events
                .publish(LiveEvent::PictureUpdated { picture: updated })
                .await;
        }
    }

    /// Retries pictures whose thumbnail never got made, until `stop` fires.
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
                Err(err) => tracing::warn!(error = %err, "thumbnail sweep failed"),
            }
        }
    }
}
