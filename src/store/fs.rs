//! Local-disk backend: photos under `DATA_DIR/photos/{session_id}/{uuid}.{ext}`. Upload and
//! download URLs point at the server itself (`/uploads/{key}`), HMAC-signed with an expiry, so
//! the client flow is the same as with S3.

use std::{
    io::ErrorKind,
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use async_trait::async_trait;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use url::Url;
use uuid::Uuid;

use futures_util::TryStreamExt;

use super::{
    DOWNLOAD_URL_TTL, ObjectStream, PhotoStore, StoreError, StoreResult, StoredPart, UPLOAD_URL_TTL,
};
use crate::domain::photo_key::PhotoKey;

type HmacSha256 = Hmac<Sha256>;

/// Signs and checks `/uploads` URLs.
#[derive(Clone)]
pub struct UrlSigner {
    key: Vec<u8>,
}

impl UrlSigner {
    /// Derives its own key from the server secret, so upload signatures and tokens never mix.
    pub fn new(server_secret: &[u8]) -> Self {
        let mut mac =
            HmacSha256::new_from_slice(server_secret).expect("HMAC accepts any key length");
        mac.update(b"partypic/upload-url/v1");
        Self {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn mac(&self, method: &str, key: &PhotoKey, expires: u64) -> HmacSha256 {
        self.mac_of(&format!("{method}\n{key}\n{expires}"))
    }

    fn mac_of(&self, message: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(message.as_bytes());
        mac
    }

    /// A part's URL signs the upload and the part number (a different message shape than an
    /// object's, so one can never stand in for the other).
    fn part_message(upload_id: Uuid, number: u16, expires: u64) -> String {
        format!("PUT-PART\n{upload_id}\n{number}\n{expires}")
    }

    /// Constant-time check of a part URL's signature and expiry.
    pub fn verify_part(&self, upload_id: Uuid, number: u16, expires: u64, signature: &str) -> bool {
        let Ok(signature) = hex::decode(signature) else {
            return false;
        };
        expires >= unix_now()
            && self
                .mac_of(&Self::part_message(upload_id, number, expires))
                .verify_slice(&signature)
                .is_ok()
    }

    pub fn part_url(&self, base: &Url, upload_id: Uuid, number: u16, ttl: Duration) -> Url {
        let expires = unix_now() + ttl.as_secs();
        let signature = hex::encode(
            self.mac_of(&Self::part_message(upload_id, number, expires))
                .finalize()
                .into_bytes(),
        );
        let mut url = base.clone();
        url.set_path(&format!(
            "{}/uploads/multipart/{upload_id}/{number}",
            base.path().trim_end_matches('/')
        ));
        url.set_query(None);
        url.query_pairs_mut()
            .append_pair("expires", &expires.to_string())
            .append_pair("sig", &signature);
        url
    }

    pub fn sign(&self, method: &str, key: &PhotoKey, expires: u64) -> String {
        hex::encode(self.mac(method, key, expires).finalize().into_bytes())
    }

    /// Constant-time check of signature and expiry.
    pub fn verify(&self, method: &str, key: &PhotoKey, expires: u64, signature: &str) -> bool {
        let Ok(signature) = hex::decode(signature) else {
            return false;
        };
        expires >= unix_now()
            && self
                .mac(method, key, expires)
                .verify_slice(&signature)
                .is_ok()
    }

    pub fn url(&self, base: &Url, method: &str, key: &PhotoKey, ttl: Duration) -> Url {
        let expires = unix_now() + ttl.as_secs();
        let mut url = base.clone();
        url.set_path(&format!(
            "{}/uploads/{key}",
            base.path().trim_end_matches('/')
        ));
        url.set_query(None);
        url.query_pairs_mut()
            .append_pair("expires", &expires.to_string())
            .append_pair("sig", &self.sign(method, key, expires));
        url
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

pub struct FilesystemStore {
    root: PathBuf,
    signer: UrlSigner,
}

impl FilesystemStore {
    pub fn new(root: PathBuf, signer: UrlSigner) -> Self {
        Self { root, signer }
    }

    pub fn signer(&self) -> &UrlSigner {
        &self.signer
    }

    /// The only way to turn a key into a path: both components come from parsed UUIDs.
    pub fn path_of(&self, key: &PhotoKey) -> PathBuf {
        self.root
            .join(key.event_id.to_string())
            .join(key.file_name())
    }

    /// Where uploads are written before they are moved into place, so a partial file is never visible.
    pub fn staging_dir(&self) -> PathBuf {
        self.root.join(".staging")
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of an open multipart upload's parts; gone once completed or aborted.
    pub fn parts_dir(&self, upload_id: Uuid) -> PathBuf {
        self.root.join(".multipart").join(upload_id.to_string())
    }

    pub fn part_path(&self, upload_id: Uuid, number: u16) -> PathBuf {
        self.parts_dir(upload_id).join(format!("{number}.part"))
    }

    /// Writes the parts one after the other into a staging file, then moves it into place.
    async fn join_parts(
        &self,
        key: &PhotoKey,
        upload_id: Uuid,
        parts: &[StoredPart],
    ) -> std::io::Result<()> {
        let staging = self.staging_dir().join(format!("{}.part", Uuid::new_v4()));
        let target = self.path_of(key);
        let result = async {
            let mut out = tokio::fs::File::create(&staging).await?;
            for part in parts {
                let mut input =
                    tokio::fs::File::open(self.part_path(upload_id, part.number)).await?;
                tokio::io::copy(&mut input, &mut out).await?;
            }
            out.sync_all().await?;
            if let Some(dir) = target.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            tokio::fs::rename(&staging, &target).await
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&staging).await;
        }
        result
    }
}

/// The local disk's upload ids are UUIDs (they name a folder): anything else names no upload.
fn local_upload_id(upload_id: &str) -> Option<Uuid> {
    Uuid::parse_str(upload_id).ok()
}

fn io_error(err: std::io::Error) -> StoreError {
    StoreError::Other(anyhow::Error::new(err))
}

impl FilesystemStore {
    /// Writes `key` whole or not at all: `fill` writes a staging file, which is then renamed
    /// into place (readers never see half an object).
    async fn install<F, Fut>(&self, key: &PhotoKey, fill: F) -> StoreResult<()>
    where
        F: FnOnce(PathBuf) -> Fut,
        Fut: Future<Output = std::io::Result<()>>,
    {
        let target = self.path_of(key);
        let staging = self
            .staging_dir()
            .join(format!("{}.part", uuid::Uuid::new_v4()));
        let result = async {
            if let Some(dir) = target.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            fill(staging.clone()).await?;
            tokio::fs::rename(&staging, &target).await
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&staging).await;
        }
        result.map_err(io_error)
    }
}

#[async_trait]
impl PhotoStore for FilesystemStore {
    fn bucket(&self) -> &str {
        "local"
    }

    async fn prepare(&self) -> anyhow::Result<()> {
        tokio::fs::create_dir_all(self.staging_dir())
            .await
            .map_err(|e| {
                anyhow::anyhow!("cannot create photo directory {}: {e}", self.root.display())
            })?;
        Ok(())
    }

    async fn health(&self) -> StoreResult<()> {
        match tokio::fs::metadata(&self.root).await {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(StoreError::Unavailable(format!(
                "{} is not a directory",
                self.root.display()
            ))),
            Err(err) => Err(StoreError::Unavailable(err.to_string())),
        }
    }

    fn upload_url(&self, key: &PhotoKey, base: &Url) -> Url {
        self.signer.url(base, "PUT", key, UPLOAD_URL_TTL)
    }

    fn download_url(&self, key: &PhotoKey, base: &Url) -> Url {
        self.signer.url(base, "GET", key, DOWNLOAD_URL_TTL)
    }

    async fn size(&self, key: &PhotoKey) -> StoreResult<Option<u64>> {
        match tokio::fs::metadata(self.path_of(key)).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
            Err(err) => Err(io_error(err)),
        }
    }

    async fn read_head(&self, key: &PhotoKey, len: usize) -> StoreResult<Vec<u8>> {
        let file = tokio::fs::File::open(self.path_of(key))
            .await
            .map_err(io_error)?;
        let mut head = Vec::with_capacity(len);
        file.take(len as u64)
            .read_to_end(&mut head)
            .await
            .map_err(io_error)?;
        Ok(head)
    }

    async fn read_all(&self, key: &PhotoKey, max_len: u64) -> StoreResult<Bytes> {
        let file = tokio::fs::File::open(self.path_of(key))
            .await
            .map_err(io_error)?;
        let mut bytes = Vec::new();
        file.take(max_len + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(io_error)?;
        if bytes.len() as u64 > max_len {
            return Err(StoreError::too_large(key, max_len));
        }
        Ok(bytes.into())
    }

    async fn read_stream(&self, key: &PhotoKey, max_len: u64) -> StoreResult<ObjectStream> {
        let file = tokio::fs::File::open(self.path_of(key))
            .await
            .map_err(io_error)?;
        let len = file.metadata().await.map_err(io_error)?.len();
        if len > max_len {
            return Err(StoreError::too_large(key, max_len));
        }
        let chunks = tokio_util::io::ReaderStream::new(file.take(len)).map_err(io_error);
        Ok(ObjectStream {
            len,
            chunks: Box::pin(chunks),
        })
    }

    async fn copy_to_file(&self, key: &PhotoKey, path: &Path, max_len: u64) -> StoreResult<u64> {
        let file = tokio::fs::File::open(self.path_of(key))
            .await
            .map_err(io_error)?;
        let mut out = tokio::fs::File::create(path).await.map_err(io_error)?;
        let copied = tokio::io::copy(&mut file.take(max_len.saturating_add(1)), &mut out)
            .await
            .map_err(io_error)?;
        if copied > max_len {
            return Err(StoreError::too_large(key, max_len));
        }
        Ok(copied)
    }

    async fn sha256(&self, key: &PhotoKey) -> StoreResult<String> {
        let mut file = tokio::fs::File::open(self.path_of(key))
            .await
            .map_err(io_error)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = file.read(&mut buffer).await.map_err(io_error)?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
        }
        Ok(hex::encode(hasher.finalize()))
    }

    async fn put(&self, key: &PhotoKey, bytes: Bytes, _content_type: &str) -> StoreResult<()> {
        self.install(key, |staging| async move {
            tokio::fs::write(staging, &bytes).await
        })
        .await
    }

    async fn put_file(
        &self,
        key: &PhotoKey,
        path: &std::path::Path,
        _content_type: &str,
    ) -> StoreResult<()> {
        self.install(key, |staging| async move {
            tokio::fs::copy(path, staging).await.map(drop)
        })
        .await
    }

    async fn delete(&self, key: &PhotoKey) -> StoreResult<()> {
        match tokio::fs::remove_file(self.path_of(key)).await {
            Err(err) if err.kind() != ErrorKind::NotFound => Err(io_error(err)),
            _ => Ok(()),
        }
    }

    async fn create_multipart(&self, _key: &PhotoKey) -> StoreResult<String> {
        let upload_id = Uuid::new_v4();
        tokio::fs::create_dir_all(self.parts_dir(upload_id))
            .await
            .map_err(io_error)?;
        Ok(upload_id.to_string())
    }

    fn part_upload_url(&self, _key: &PhotoKey, upload_id: &str, number: u16, base: &Url) -> Url {
        // An id this store did not issue gets a URL that never verifies.
        let upload_id = local_upload_id(upload_id).unwrap_or_default();
        self.signer
            .part_url(base, upload_id, number, UPLOAD_URL_TTL)
    }

    async fn list_parts(
        &self,
        _key: &PhotoKey,
        upload_id: &str,
    ) -> StoreResult<Option<Vec<StoredPart>>> {
        let Some(upload_id) = local_upload_id(upload_id) else {
            return Ok(None);
        };
        let mut entries = match tokio::fs::read_dir(self.parts_dir(upload_id)).await {
            Ok(entries) => entries,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(io_error(err)),
        };
        let mut parts = Vec::new();
        while let Some(entry) = entries.next_entry().await.map_err(io_error)? {
            let name = entry.file_name();
            let Some(number) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".part"))
                .and_then(|n| n.parse::<u16>().ok())
            else {
                continue;
            };
            let size = entry.metadata().await.map_err(io_error)?.len();
            parts.push(StoredPart {
                number,
                size,
                etag: String::new(),
            });
        }
        parts.sort_by_key(|p| p.number);
        Ok(Some(parts))
    }

    async fn complete_multipart(
        &self,
        key: &PhotoKey,
        upload_id: &str,
        parts: &[StoredPart],
    ) -> StoreResult<bool> {
        let Some(upload_id) = local_upload_id(upload_id) else {
            return Ok(false);
        };
        if tokio::fs::metadata(self.parts_dir(upload_id))
            .await
            .is_err()
        {
            return Ok(false);
        }
        match self.join_parts(key, upload_id, parts).await {
            // A concurrent complete (or abort) took the parts away meanwhile.
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(false),
            result => result.map_err(io_error)?,
        }
        if let Err(err) = tokio::fs::remove_dir_all(self.parts_dir(upload_id)).await {
            tracing::warn!(%upload_id, error = %err, "could not remove the parts of a completed upload");
        }
        Ok(true)
    }

    async fn abort_multipart(&self, _key: &PhotoKey, upload_id: &str) -> StoreResult<()> {
        let Some(upload_id) = local_upload_id(upload_id) else {
            return Ok(());
        };
        match tokio::fs::remove_dir_all(self.parts_dir(upload_id)).await {
            Err(err) if err.kind() != ErrorKind::NotFound => Err(io_error(err)),
            _ => Ok(()),
        }
    }

    async fn delete_event_objects(&self, event_id: uuid::Uuid) -> StoreResult<()> {
        match tokio::fs::remove_dir_all(self.root.join(event_id.to_string())).await {
            Err(err) if err.kind() != ErrorKind::NotFound => Err(io_error(err)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::image::ImageType;

    #[test]
    fn signatures_bind_method_key_and_expiry() {
        let signer = UrlSigner::new(b"secret");
        let key = PhotoKey::generate(Uuid::new_v4(), ImageType::Jpeg);
        let other = PhotoKey::generate(key.event_id, ImageType::Jpeg);
        let expires = unix_now() + 60;
        let sig = signer.sign("PUT", &key, expires);
        assert!(signer.verify("PUT", &key, expires, &sig));
        assert!(!signer.verify("GET", &key, expires, &sig));
        assert!(!signer.verify("PUT", &other, expires, &sig));
        assert!(!signer.verify("PUT", &key, expires + 1, &sig));
        assert!(!signer.verify("PUT", &key, expires, "zz"));
        assert!(!UrlSigner::new(b"other").verify("PUT", &key, expires, &sig));
        let past = unix_now() - 1;
        assert!(!signer.verify("PUT", &key, past, &signer.sign("PUT", &key, past)));
    }

    #[test]
    fn part_signatures_bind_upload_part_and_expiry() {
        let signer = UrlSigner::new(b"secret");
        let upload = Uuid::new_v4();
        let base = Url::parse("https://party.example/").expect("url");
        let url = signer.part_url(&base, upload, 2, Duration::from_secs(60));
        assert_eq!(url.path(), format!("/uploads/multipart/{upload}/2"));
        let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        let expires: u64 = query["expires"].parse().expect("expires");
        let sig = &query["sig"];
        assert!(signer.verify_part(upload, 2, expires, sig));
        assert!(!signer.verify_part(upload, 3, expires, sig));
        assert!(!signer.verify_part(Uuid::new_v4(), 2, expires, sig));
        assert!(!signer.verify_part(upload, 2, expires + 1, sig));
    }

    #[test]
    fn urls_keep_the_base_path() {
        let signer = UrlSigner::new(b"secret");
        let key = PhotoKey::generate(Uuid::new_v4(), ImageType::Png);
        let base = Url::parse("https://party.example/app/").expect("url");
        let url = signer.url(&base, "PUT", &key, Duration::from_secs(60));
        assert_eq!(url.path(), format!("/app/uploads/{key}"));
        assert!(url.query().is_some_and(|q| q.contains("sig=")));
    }
}
