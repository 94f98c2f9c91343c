//! Photo storage behind one trait, with an S3 and a local-filesystem backend. Clients never send
//! photo bytes through the API: they PUT to a presigned URL and GET from one, on both backends.

pub mod fs;
pub mod s3;
pub mod sigv4;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use url::Url;

use crate::domain::photo_key::PhotoKey;

/// How long an upload URL stays valid.
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a download (gallery) URL stays valid.
pub const DOWNLOAD_URL_TTL: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached: 503, retry.
    #[error("object store unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl StoreError {
    /// The object is larger than the caller allows.
    pub fn too_large(key: &PhotoKey, max_len: u64) -> Self {
        Self::Other(anyhow::anyhow!("object {key} exceeds {max_len} bytes"))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// One part of a multipart upload as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPart {
    /// 1-based, as in S3.
    pub number: u16,
    pub size: u64,
    /// S3's ETag (needed to complete); empty on the local disk.
    pub etag: String,
}

/// An object being read: its length, then its bytes.
pub struct ObjectStream {
    pub len: u64,
    pub chunks: futures_util::stream::BoxStream<'static, StoreResult<Bytes>>,
}

#[async_trait]
pub trait PhotoStore: Send + Sync + 'static {
    /// The bucket name reported with each picture.
    fn bucket(&self) -> &str;
    /// Prepares the store (bucket, CORS, directories). Called once at start.
    async fn prepare(&self) -> anyhow::Result<()>;
    async fn health(&self) -> StoreResult<()>;
    /// A URL the client PUTs the photo bytes to. `base` is the server's public base URL.
    fn upload_url(&self, key: &PhotoKey, base: &Url) -> Url;
    /// A URL the client GETs the photo from.
    fn download_url(&self, key: &PhotoKey, base: &Url) -> Url;
    /// The stored object's size, or `None` when it does not exist.
    async fn size(&self, key: &PhotoKey) -> StoreResult<Option<u64>>;
    /// Up to `len` leading bytes of the object.
    async fn read_head(&self, key: &PhotoKey, len: usize) -> StoreResult<Vec<u8>>;
    /// The whole object, refused when larger than `max_len`.
    async fn read_all(&self, key: &PhotoKey, max_len: u64) -> StoreResult<Bytes>;
    /// The object as a stream of chunks with its length, refused when larger than `max_len`
    /// (ZIP downloads: a clip of hundreds of megabytes never sits in memory).
    async fn read_stream(&self, key: &PhotoKey, max_len: u64) -> StoreResult<ObjectStream>;
    /// Streams the object into the local file `path` (created or truncated), refused when
    /// larger than `max_len`: video tools need a seekable file. Returns the bytes written.
    async fn copy_to_file(
        &self,
        key: &PhotoKey,
        path: &std::path::Path,
        max_len: u64,
    ) -> StoreResult<u64>;
    /// SHA-256 of the object's content, streamed (duplicate detection).
    async fn sha256(&self, key: &PhotoKey) -> StoreResult<String>;
    /// Writes an object the server produced itself (thumbnails).
    async fn put(&self, key: &PhotoKey, bytes: Bytes, content_type: &str) -> StoreResult<()>;
    /// Writes an object the server produced itself from the local file `path`, streamed (a
    /// clip's rendition can be hundreds of megabytes: it never sits in memory).
    async fn put_file(
        &self,
        key: &PhotoKey,
        path: &std::path::Path,
        content_type: &str,
    ) -> StoreResult<()>;
    async fn delete(&self, key: &PhotoKey) -> StoreResult<()>;

    /// Starts a multipart upload that becomes `key`; returns the store's upload id.
    async fn create_multipart(&self, key: &PhotoKey) -> StoreResult<String>;
    /// A URL the client PUTs part `number` of the upload to.
    fn part_upload_url(&self, key: &PhotoKey, upload_id: &str, number: u16, base: &Url) -> Url;
    /// The parts stored so far, by number; `None` when the upload does not exist (any more).
    async fn list_parts(
        &self,
        key: &PhotoKey,
        upload_id: &str,
    ) -> StoreResult<Option<Vec<StoredPart>>>;
    /// Joins `parts` (numbers 1..=n, in order) into the object `key`, all at once.
    /// `Ok(false)` when the upload does not exist (any more).
    async fn complete_multipart(
        &self,
        key: &PhotoKey,
        upload_id: &str,
        parts: &[StoredPart],
    ) -> StoreResult<bool>;
    /// Discards the upload and its parts; an unknown upload is no error.
    async fn abort_multipart(&self, key: &PhotoKey, upload_id: &str) -> StoreResult<()>;
    /// Removes whatever is still stored under the event's prefix once its photos are deleted
    /// (e.g. uploads never finalized). Best effort: the default does nothing.
    async fn delete_event_objects(&self, _event_id: uuid::Uuid) -> StoreResult<()> {
        Ok(())
    }
}
