//! `PhotoStore` conformance: every scenario on local disk and on S3 (Garage in scripts/test).

use std::ops::Deref;

use bytes::Bytes;
use partypic::{
    config::S3Settings,
    domain::{image::ImageType, photo_key::PhotoKey},
    store::{
        PhotoStore,
        fs::{FilesystemStore, UrlSigner},
        s3::S3Store,
    },
};
use sha2::{Digest, Sha256};
use url::Url;
use uuid::Uuid;

use crate::external;

/// A prepared store; keeps the disk store's directory alive.
pub struct TestStore {
    store: Box<dyn PhotoStore>,
    _dir: Option<tempfile::TempDir>,
}

impl Deref for TestStore {
    type Target = dyn PhotoStore;

    fn deref(&self) -> &Self::Target {
        self.store.as_ref()
    }
}

pub async fn filesystem() -> TestStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = FilesystemStore::new(dir.path().join("photos"), UrlSigner::new(b"test-secret"));
    store.prepare().await.expect("prepare");
    TestStore {
        store: Box::new(store),
        _dir: Some(dir),
    }
}

/// The shared test bucket; every test writes its own keys.
pub async fn s3() -> TestStore {
    let endpoint: Url = external::var(external::S3_ENDPOINT)
        .parse()
        .expect("S3 endpoint URL");
    let store = S3Store::new(&S3Settings {
        public_endpoint: endpoint.clone(),
        endpoint,
        region: external::var(external::S3_REGION),
        bucket: std::env::var(external::S3_BUCKET).unwrap_or_else(|_| "partypic-test".into()),
        access_key: external::var(external::S3_ACCESS_KEY),
        secret_key: external::var(external::S3_SECRET_KEY).into(),
        session_token: None,
        path_style: true,
        cors_origins: vec![],
    })
    .expect("S3 settings");
    store.prepare().await.expect("prepare");
    TestStore {
        store: Box::new(store),
        _dir: None,
    }
}

/// Runs each scenario as two tests, on local disk and on S3.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn filesystem() {
                super::$name(&*$crate::store::filesystem().await).await
            }
            #[tokio::test]
            async fn s3() {
                if $crate::external::skip_without($crate::external::S3) {
                    return;
                }
                super::$name(&*$crate::store::s3().await).await
            }
        }
    )*};
}

on_both_stores!(
    a_stored_object_reads_back_whole_in_part_and_hashed,
    putting_again_replaces_the_object,
    a_missing_object_has_no_size_and_cannot_be_read,
    a_deleted_object_is_gone,
    upload_and_download_urls_are_signed_and_name_the_key,
    a_prepared_store_is_healthy,
    a_local_file_is_stored_streamed_and_reads_back_the_same,
);

fn key() -> PhotoKey {
    PhotoKey::generate(Uuid::new_v4(), ImageType::Jpeg)
}

/// Larger than one read buffer, and not a repeating pattern.
fn content(seed: u8) -> Bytes {
    (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed)
        .collect::<Vec<u8>>()
        .into()
}

async fn a_stored_object_reads_back_whole_in_part_and_hashed(store: &dyn PhotoStore) {
    let key = key();
    let bytes = content(1);
    store
        .put(&key, bytes.clone(), "image/jpeg")
        .await
        .expect("put");

    assert_eq!(
        store.size(&key).await.expect("size"),
        Some(bytes.len() as u64)
    );
    assert_eq!(store.read_head(&key, 16).await.expect("head"), bytes[..16]);
    assert_eq!(
        store
            .read_head(&key, bytes.len() + 100)
            .await
            .expect("head"),
        bytes[..]
    );
    let len = bytes.len() as u64;
    assert_eq!(store.read_all(&key, len).await.expect("read all"), bytes);
    assert!(
        store.read_all(&key, len - 1).await.is_err(),
        "over the limit"
    );
    assert_eq!(
        store.sha256(&key).await.expect("hash"),
        hex::encode(Sha256::digest(&bytes))
    );
    store.delete(&key).await.expect("clean up");
}

/// What `put_file` stores (a clip's rendition) is the file, byte for byte; the file stays.
async fn a_local_file_is_stored_streamed_and_reads_back_the_same(store: &dyn PhotoStore) {
    let key = key();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rendition.mp4");
    // Several megabytes: more than one chunk of the stream.
    let bytes: Vec<u8> = (0..15u8).flat_map(|seed| content(seed).to_vec()).collect();
    std::fs::write(&path, &bytes).expect("write");
    store
        .put_file(&key, &path, "video/mp4")
        .await
        .expect("put_file");
    assert_eq!(
        store.size(&key).await.expect("size"),
        Some(bytes.len() as u64)
    );
    assert_eq!(
        store.sha256(&key).await.expect("hash"),
        hex::encode(Sha256::digest(&bytes))
    );
    assert!(path.exists(), "the local file is left to its owner");
    let missing = dir.path().join("gone.mp4");
    assert!(store.put_file(&key, &missing, "video/mp4").await.is_err());
    assert_eq!(
        store.size(&key).await.expect("size"),
        Some(bytes.len() as u64)
    );
    store.delete(&key).await.expect("clean up");
}

async fn putting_again_replaces_the_object(store: &dyn PhotoStore) {
    let key = key();
    store
        .put(&key, content(1), "image/jpeg")
        .await
        .expect("put");
    let second = Bytes::from_static(b"a much shorter object");
    store
        .put(&key, second.clone(), "image/jpeg")
        .await
        .expect("put again");
    assert_eq!(
        store.size(&key).await.expect("size"),
        Some(second.len() as u64)
    );
    assert_eq!(store.read_all(&key, 1024).await.expect("read"), second);
    store.delete(&key).await.expect("clean up");
}

async fn a_missing_object_has_no_size_and_cannot_be_read(store: &dyn PhotoStore) {
    let key = key();
    assert_eq!(store.size(&key).await.expect("size"), None);
    assert!(store.read_head(&key, 16).await.is_err());
    assert!(store.read_all(&key, 1024).await.is_err());
    assert!(store.sha256(&key).await.is_err());
    store.delete(&key).await.expect("deleting nothing is fine");
}

async fn a_deleted_object_is_gone(store: &dyn PhotoStore) {
    let key = key();
    let neighbour = PhotoKey::generate(key.event_id, ImageType::Png);
    store
        .put(&key, content(2), "image/jpeg")
        .await
        .expect("put");
    store
        .put(&neighbour, content(3), "image/png")
        .await
        .expect("put");
    store.delete(&key).await.expect("delete");
    assert_eq!(store.size(&key).await.expect("size"), None);
    assert!(store.read_all(&key, u64::MAX).await.is_err());
    assert!(
        store.size(&neighbour).await.expect("size").is_some(),
        "only the one key"
    );
    store.delete(&neighbour).await.expect("clean up");
}

async fn upload_and_download_urls_are_signed_and_name_the_key(store: &dyn PhotoStore) {
    let key = key();
    let base = Url::parse("https://party.example/app/").expect("base");
    let upload = store.upload_url(&key, &base);
    let download = store.download_url(&key, &base);
    for url in [&upload, &download] {
        assert!(url.path().ends_with(&format!("/{key}")), "{url}");
        let signed = url
            .query_pairs()
            .any(|(name, value)| matches!(&*name, "sig" | "X-Amz-Signature") && !value.is_empty());
        assert!(signed, "{url}");
    }
    // The method is part of the signature: an upload URL cannot be used to download.
    assert_ne!(upload, download);
    let other = store.upload_url(&PhotoKey::generate(key.event_id, ImageType::Jpeg), &base);
    assert_ne!(upload.path(), other.path());
}

async fn a_prepared_store_is_healthy(store: &dyn PhotoStore) {
    store.health().await.expect("healthy");
    assert!(!store.bucket().is_empty());
    // Preparing twice (a second replica starting) is fine.
    store.prepare().await.expect("prepare again");
}
