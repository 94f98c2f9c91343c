//! The variants job for a video clip: a local copy of the original, a poster frame made into the
//! usual thumbnail and display JPEGs, and the guests' MP4 rendition ([`video`]). A clip the tools
//! cannot read is a permanent failure (guests get the placeholder); a store outage is retried
//! by the jobs runner.

use super::{StoredVariants, Thumbnailer, video};
use crate::{
    app::processing::JobError,
    db::PhotoRecord,
    domain::{
        photo_key::PhotoKey,
        variants::{Orient, make_variants},
    },
};

/// Why a clip got no variants.
enum ClipFailure {
    /// The clip is at fault (or the tools are missing): mark it failed.
    Unusable(String),
    /// Storage or this machine: worth another try.
    Transient(String),
}

impl Thumbnailer {
    /// Makes and stores a clip's variants; the runner records the outcome.
    pub(super) async fn make_clip_for(
        &self,
        picture: &PhotoRecord,
        key: &PhotoKey,
    ) -> Result<StoredVariants, JobError> {
        match self.make_clip_variants(picture, key).await {
            Ok(()) => Ok(StoredVariants::of(key)),
            Err(ClipFailure::Unusable(why)) => Err(JobError::Permanent(why)),
            Err(ClipFailure::Transient(why)) => Err(JobError::Retryable(why)),
        }
    }

    /// Stores the rendition first, the poster JPEGs last: a `ready` clip has all three.
    async fn make_clip_variants(
        &self,
        picture: &PhotoRecord,
        key: &PhotoKey,
    ) -> Result<(), ClipFailure> {
        let transient = |err: &dyn std::fmt::Display| ClipFailure::Transient(err.to_string());
        let judged = |err: video::VideoError| {
            if err.is_bad_input() || matches!(err, video::VideoError::ToolMissing(_)) {
                ClipFailure::Unusable(err.to_string())
            } else {
                ClipFailure::Transient(err.to_string())
            }
        };
        let work = video::Workspace::new().map_err(|e| transient(&e))?;
        let original = work.file("original");
        // Finalize checked the size already.
        self.store
            .copy_to_file(key, &original, u64::MAX)
            .await
            .map_err(|e| transient(&e))?;
        let probe = video::probe(&original, self.nice).await.map_err(judged)?;
        let rendition = work.file("web.mp4");
        let path = video::make_rendition(&original, &probe, &rendition, self.nice)
            .await
            .map_err(judged)?;
        tracing::debug!(picture = %picture.id, ?path, "clip rendition made");
        let poster = video::poster_png(&original, &probe, self.nice)
            .await
            .map_err(judged)?;
        let variants = match self
            .decoder
            .run(move || make_variants(&poster, Orient::AsDecoded))
            .await
        {
            Ok(Ok(variants)) => variants,
            Ok(Err(err)) => return Err(ClipFailure::Unusable(err.to_string())),
            Err(err) => return Err(transient(&err)),
        };
        self.store
            .put_file(&key.rendition(), &rendition, "video/mp4")
            .await
            .map_err(|e| transient(&e))?;
        self.store_variants(key, variants)
            .await
            .map_err(|e| transient(&e))
    }
}
