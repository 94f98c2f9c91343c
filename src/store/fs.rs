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

use super::{DOWNLOAD_URL_TTL, PhotoStore, StoreError, StoreResult, UPLOAD_URL_TTL};
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
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(format!("{method}\n{key}\n{expires}").as_bytes());
        mac
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
}

fn io_error(err: std::io::Error) -> StoreError {
    StoreError::Other(anyhow::Error::new(err))
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
            return Err(StoreError::Other(anyhow::anyhow!(
                "object {key} exceeds {max_len} bytes"
            )));
        }
        Ok(bytes.into())
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
            return Err(StoreError::Other(anyhow::anyhow!(
                "object {key} exceeds {max_len} bytes"
            )));
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
        let target = self.path_of(key);
        let staging = self
            .staging_dir()
            .join(format!("{}.part", uuid::Uuid::new_v4()));
        let result = async {
            if let Some(dir) = target.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            tokio::fs::write(&staging, &bytes).await?;
            tokio::fs::rename(&staging, &target).await
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&staging).await;
        }
        result.map_err(io_error)
    }

    async fn delete(&self, key: &PhotoKey) -> StoreResult<()> {
        match tokio::fs::remove_file(self.path_of(key)).await {
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
    use uuid::Uuid;

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
    fn urls_keep_the_base_path() {
        let signer = UrlSigner::new(b"secret");
        let key = PhotoKey::generate(Uuid::new_v4(), ImageType::Png);
        let base = Url::parse("https://party.example/app/").expect("url");
        let url = signer.url(&base, "PUT", &key, Duration::from_secs(60));
        assert_eq!(url.path(), format!("/app/uploads/{key}"));
        assert!(url.query().is_some_and(|q| q.contains("sig=")));
    }
}
