//! The variants job's work: decode a photo once and store a ~400 px thumbnail and a ≤ 2048 px
//! display copy next to it, both metadata-free JPEGs (see [`crate::domain::variants`]);
//! HEIC/HEIF goes through libheif first ([`heif`]). The runner ([`crate::app::processing`])
//! decides when and how often: this module only says whether it worked, is worth another try
//! (the store is down) or never will (the photo cannot be decoded).

mod clip;
pub mod heif;
pub mod video;

use std::sync::Arc;

use crate::{
    app::processing::JobError,
    db::{PhotoRecord, VariantKeys},
    domain::{
        image::ImageType,
        photo_key::PhotoKey,
        variants::{Orient, Variants, make_variants},
    },
    store::PhotoStore,
    workers::WorkerPool,
};

/// Where a photo's variants were stored; the runner records them with the job's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVariants {
    pub thumb: String,
    pub display: String,
}

impl StoredVariants {
    fn of(key: &PhotoKey) -> Self {
        Self {
            thumb: key.thumbnail().to_string(),
            display: key.display().to_string(),
        }
    }

    pub fn keys(&self) -> VariantKeys<'_> {
        VariantKeys {
            thumb: &self.thumb,
            display: &self.display,
        }
    }
}

pub struct Thumbnailer {
    store: Arc<dyn PhotoStore>,
    /// Low-priority threads, one per job the replica runs at once: decoding is CPU- and
    /// memory-hungry and never urgent.
    decoder: WorkerPool,
    max_source_bytes: u64,
    /// Priority of the HEIF converter processes (the decoder threads have it already).
    nice: i32,
}

impl Thumbnailer {
    pub fn new(
        store: Arc<dyn PhotoStore>,
        max_source_bytes: u64,
        nice: i32,
        threads: usize,
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
            store,
            decoder: WorkerPool::new("thumbnail", threads.max(1), nice)?,
            max_source_bytes,
            nice,
        }))
    }

    /// Makes and stores the photo's variants; where they went.
    pub async fn make_for(&self, picture: &PhotoRecord) -> Result<StoredVariants, JobError> {
        let key = PhotoKey::parse(&picture.object_key).ok_or_else(|| {
            JobError::Permanent(format!("unexpected object key {}", picture.object_key))
        })?;
        if key.media_type.is_video() {
            return self.make_clip_for(picture, &key).await;
        }
        let source = self
            .store
            .read_all(&key, self.max_source_bytes)
            .await
            .map_err(|err| JobError::Retryable(format!("cannot read the photo: {err}")))?;
        let variants = self.make(picture, source).await?;
        self.store_variants(&key, variants)
            .await
            .map_err(|err| JobError::Retryable(format!("cannot store the variants: {err}")))?;
        Ok(StoredVariants::of(&key))
    }

    /// Decodes the photo into its variants; undecodable input is a permanent error.
    async fn make(
        &self,
        picture: &PhotoRecord,
        source: bytes::Bytes,
    ) -> Result<Variants, JobError> {
        let heif = matches!(
            ImageType::from_mime(&picture.mimetype),
            Some(ImageType::Heic | ImageType::Heif)
        );
        let (pixels, orient) = if heif {
            let jpeg = heif::to_jpeg(&source, self.nice).await.map_err(|err| {
                let reason = format!("cannot convert the HEIF photo: {err}");
                // This server at fault (no converter, no temp space) may do better later.
                if err.is_bad_input() {
                    JobError::Permanent(reason)
                } else {
                    JobError::Retryable(reason)
                }
            })?;
            (bytes::Bytes::from(jpeg), Orient::AsDecoded)
        } else {
            (source, Orient::FromExif)
        };
        match self
            .decoder
            .run(move || make_variants(&pixels, orient))
            .await
        {
            Ok(Ok(variants)) => Ok(variants),
            Ok(Err(err)) => Err(JobError::Permanent(format!(
                "the photo cannot be decoded: {err}"
            ))),
            // The decoder panicked on this input: it would again.
            Err(err) => Err(JobError::Permanent(err.to_string())),
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
}
