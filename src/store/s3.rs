//! S3 backend: presigned SigV4 URLs for clients (`super::sigv4`, with a signing key derived once
//! per day; `rusty-s3` builds the object URLs and signs the server's own requests); the server itself only
//! checks uploads (HEAD, a ranged GET of the first bytes) and deletes rejected ones.
//! Presigned PUTs carry no checksum parameter, so any S3-compatible store accepts them.

use std::time::Duration;

use async_trait::async_trait;
use base64::{Engine, engine::general_purpose::STANDARD};
use bytes::Bytes;
use chrono::Utc;
use futures_util::{StreamExt, TryStreamExt};
use md5::Md5;
use reqwest::{Client, Method, StatusCode, header};
use rusty_s3::{
    Bucket, Credentials, S3Action, UrlStyle,
    actions::{CreateMultipartUpload, ListParts},
};
use secrecy::ExposeSecret;
use sha2::Digest;
use sha2::Sha256;
use url::Url;

use super::sigv4::Presigner;
use super::{
    DOWNLOAD_URL_TTL, ObjectStream, PhotoStore, StoreError, StoreResult, StoredPart, UPLOAD_URL_TTL,
};
use crate::{config::S3Settings, domain::photo_key::PhotoKey};

/// Server-side requests are signed for this long; they are sent at once.
const REQUEST_TTL: Duration = Duration::from_secs(60);

pub struct S3Store {
    /// Addresses the store as the server reaches it.
    bucket: Bucket,
    /// Addresses the store as clients reach it (`S3_PUBLIC_ENDPOINT`); signatures cover the host.
    public_bucket: Bucket,
    credentials: Credentials,
    /// Signs the clients' URLs (downloads, uploads, parts) for `public_bucket`.
    presigner: Presigner,
    http: Client,
    /// Whole-object transfers (hashing, thumbnails, ZIP) may take longer than a metadata call.
    transfer_http: Client,
    cors_origins: Vec<String>,
}

fn unavailable(err: reqwest::Error) -> StoreError {
    StoreError::Unavailable(err.to_string())
}

/// 5xx from the store means it is unwell: report unavailable, not a bug of ours.
fn unexpected(action: &str, status: StatusCode, body: &str) -> StoreError {
    let message = format!(
        "{action} answered {status}: {}",
        body.chars().take(300).collect::<String>()
    );
    if status.is_server_error() {
        StoreError::Unavailable(message)
    } else {
        StoreError::Other(anyhow::anyhow!(message))
    }
}

impl S3Store {
    pub fn new(settings: &S3Settings) -> anyhow::Result<Self> {
        let style = if settings.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(
            settings.endpoint.clone(),
            style,
            settings.bucket.clone(),
            settings.region.clone(),
        )
        .map_err(|e| anyhow::anyhow!("S3_ENDPOINT/S3_BUCKET_NAME cannot address a bucket: {e}"))?;
        let public_bucket = Bucket::new(
            settings.public_endpoint.clone(),
            style,
            settings.bucket.clone(),
            settings.region.clone(),
        )
        .map_err(|e| anyhow::anyhow!("S3_PUBLIC_ENDPOINT cannot address a bucket: {e}"))?;
        let secret_key = settings.secret_key.expose_secret();
        let credentials = match &settings.session_token {
            Some(token) => {
                Credentials::new_with_token(&settings.access_key, secret_key, token.expose_secret())
            }
            None => Credentials::new(&settings.access_key, secret_key),
        };
        // A reused plain-HTTP connection to a store that writes headers and body separately
        // without TCP_NODELAY (Garage) stalls ~40 ms per response on delayed ACKs; a fresh local
        // connection costs far less. Over TLS (AWS and other remote stores) connections are pooled.
        let idle_per_host = if settings.endpoint.scheme() == "http" {
            0
        } else {
            32
        };
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .pool_max_idle_per_host(idle_per_host)
            .timeout(Duration::from_secs(10))
            .build()?;
        let transfer_http = Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .pool_max_idle_per_host(idle_per_host)
            .read_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            presigner: Presigner::new(&credentials, public_bucket.region()),
            bucket,
            public_bucket,
            credentials,
            http,
            transfer_http,
            cors_origins: settings.cors_origins.clone(),
        })
    }

    async fn bucket_exists(&self) -> StoreResult<bool> {
        let url = self
            .bucket
            .head_bucket(Some(&self.credentials))
            .sign(REQUEST_TTL);
        let response = self.http.head(url).send().await.map_err(unavailable)?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            s => Err(unexpected("HeadBucket", s, "")),
        }
    }

    async fn create_bucket(&self) -> anyhow::Result<()> {
        let url = self
            .bucket
            .create_bucket(&self.credentials)
            .sign(REQUEST_TTL);
        let response = self
            .http
            .put(url)
            .header(header::CONTENT_LENGTH, 0)
            .send()
            .await?;
        let status = response.status();
        // Another replica may have created it a moment ago.
        if status.is_success() || status == StatusCode::CONFLICT {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        anyhow::bail!("CreateBucket answered {status}: {body}")
    }

    fn cors_document(&self) -> String {
        let origins: String = self
            .cors_origins
            .iter()
            .map(|o| format!("<AllowedOrigin>{}</AllowedOrigin>", xml_escape(o)))
            .collect();
        format!(
            "<CORSConfiguration><CORSRule>{origins}\
             <AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedMethod>HEAD</AllowedMethod>\
             <AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader>\
             <MaxAgeSeconds>3600</MaxAgeSeconds></CORSRule></CORSConfiguration>"
        )
    }

    /// PutBucketCors, signed by hand on top of CreateBucket's URL (same path, `?cors`).
    async fn put_cors(&self) -> anyhow::Result<()> {
        let body = self.cors_document();
        let mut action = self.bucket.create_bucket(&self.credentials);
        action.query_mut().insert("cors", "");
        let url = action.sign(REQUEST_TTL);
        let md5 = STANDARD.encode(Md5::digest(body.as_bytes()));
        let response = self
            .http
            .put(url)
            .header("content-md5", md5)
            .header(header::CONTENT_TYPE, "application/xml")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        anyhow::bail!("PutBucketCors answered {status}: {text}")
    }
}

impl S3Store {
    /// A streaming GetObject of the whole object.
    /// One PutObject of `len` bytes (a server-made object: thumbnails, renditions).
    async fn put_object(
        &self,
        key: &PhotoKey,
        body: reqwest::Body,
        len: u64,
        content_type: &str,
    ) -> StoreResult<()> {
        let url = self
            .bucket
            .put_object(Some(&self.credentials), &key.to_string())
            .sign(REQUEST_TTL);
        let response = self
            .transfer_http
            .put(url)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::CONTENT_LENGTH, len)
            .body(body)
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(unexpected("PutObject", status, &body))
    }

    async fn get_object(&self, key: &PhotoKey) -> StoreResult<reqwest::Response> {
        let url = self
            .bucket
            .get_object(Some(&self.credentials), &key.to_string())
            .sign(REQUEST_TTL);
        let response = self
            .transfer_http
            .get(url)
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(unexpected("GetObject", status, &body));
        }
        Ok(response)
    }
}

fn xml_escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[async_trait]
impl PhotoStore for S3Store {
    fn bucket(&self) -> &str {
        self.bucket.name()
    }

    async fn prepare(&self) -> anyhow::Result<()> {
        let exists = self
            .bucket_exists()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if !exists {
            tracing::info!(bucket = self.bucket.name(), "creating bucket");
            self.create_bucket().await?;
        }
        if let Err(err) = self.put_cors().await {
            // Some stores (or restricted keys) refuse CORS changes; browsers then need it set by the operator.
            tracing::warn!(error = %err, "could not set bucket CORS rules; set them on the bucket yourself");
        }
        Ok(())
    }

    async fn health(&self) -> StoreResult<()> {
        match self.bucket_exists().await? {
            true => Ok(()),
            false => Err(StoreError::Unavailable(format!(
                "bucket {} does not exist",
                self.bucket.name()
            ))),
        }
    }

    fn upload_url(&self, key: &PhotoKey, _base: &Url) -> Url {
        let url = self.public_bucket.object_url(&key.to_string());
        self.presigner
            .presign("PUT", url, &[], UPLOAD_URL_TTL, Utc::now())
    }

    fn download_url(&self, key: &PhotoKey, _base: &Url) -> Url {
        let url = self.public_bucket.object_url(&key.to_string());
        self.presigner
            .presign("GET", url, &[], DOWNLOAD_URL_TTL, Utc::now())
    }

    async fn size(&self, key: &PhotoKey) -> StoreResult<Option<u64>> {
        let url = self
            .bucket
            .head_object(Some(&self.credentials), &key.to_string())
            .sign(REQUEST_TTL);
        let response = self.http.head(url).send().await.map_err(unavailable)?;
        match response.status() {
            s if s.is_success() => Ok(response
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(unexpected("HeadObject", s, "")),
        }
    }

    async fn read_head(&self, key: &PhotoKey, len: usize) -> StoreResult<Vec<u8>> {
        let url = self
            .bucket
            .get_object(Some(&self.credentials), &key.to_string())
            .sign(REQUEST_TTL);
        let response = self
            .http
            .request(Method::GET, url)
            .header(header::RANGE, format!("bytes=0-{}", len.saturating_sub(1)))
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(unexpected("GetObject", status, &body));
        }
        let bytes = response.bytes().await.map_err(unavailable)?;
        Ok(bytes.iter().take(len).copied().collect())
    }

    async fn read_all(&self, key: &PhotoKey, max_len: u64) -> StoreResult<Bytes> {
        let response = self.get_object(key).await?;
        if response.content_length().is_some_and(|len| len > max_len) {
            return Err(StoreError::too_large(key, max_len));
        }
        let mut bytes = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.map_err(unavailable)?);
            if bytes.len() as u64 > max_len {
                return Err(StoreError::too_large(key, max_len));
            }
        }
        Ok(bytes.into())
    }

    async fn read_stream(&self, key: &PhotoKey, max_len: u64) -> StoreResult<ObjectStream> {
        let response = self.get_object(key).await?;
        let len = response.content_length().ok_or_else(|| {
            StoreError::Other(anyhow::anyhow!("GetObject {key}: no Content-Length"))
        })?;
        if len > max_len {
            return Err(StoreError::too_large(key, max_len));
        }
        let chunks = response.bytes_stream().map_err(unavailable);
        Ok(ObjectStream {
            len,
            chunks: Box::pin(chunks),
        })
    }

    async fn copy_to_file(
        &self,
        key: &PhotoKey,
        path: &std::path::Path,
        max_len: u64,
    ) -> StoreResult<u64> {
        use tokio::io::AsyncWriteExt;
        let too_large = || StoreError::too_large(key, max_len);
        let local = |err: std::io::Error| StoreError::Other(err.into());
        let response = self.get_object(key).await?;
        if response.content_length().is_some_and(|len| len > max_len) {
            return Err(too_large());
        }
        let mut out = tokio::fs::File::create(path).await.map_err(local)?;
        let mut written = 0u64;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(unavailable)?;
            written += chunk.len() as u64;
            if written > max_len {
                return Err(too_large());
            }
            out.write_all(&chunk).await.map_err(local)?;
        }
        out.flush().await.map_err(local)?;
        Ok(written)
    }

    async fn sha256(&self, key: &PhotoKey) -> StoreResult<String> {
        let mut hasher = Sha256::new();
        let mut stream = self.get_object(key).await?.bytes_stream();
        while let Some(chunk) = stream.next().await {
            hasher.update(&chunk.map_err(unavailable)?);
        }
        Ok(hex::encode(hasher.finalize()))
    }

    async fn put(&self, key: &PhotoKey, bytes: Bytes, content_type: &str) -> StoreResult<()> {
        let len = bytes.len() as u64;
        self.put_object(key, bytes.into(), len, content_type).await
    }

    async fn put_file(
        &self,
        key: &PhotoKey,
        path: &std::path::Path,
        content_type: &str,
    ) -> StoreResult<()> {
        let local = |err: std::io::Error| StoreError::Other(err.into());
        let file = tokio::fs::File::open(path).await.map_err(local)?;
        let len = file.metadata().await.map_err(local)?.len();
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
        self.put_object(key, body, len, content_type).await
    }

    async fn create_multipart(&self, key: &PhotoKey) -> StoreResult<String> {
        let url = self
            .bucket
            .create_multipart_upload(Some(&self.credentials), &key.to_string())
            .sign(REQUEST_TTL);
        let response = self
            .http
            .post(url)
            .header(header::CONTENT_TYPE, key.media_type.mime())
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status();
        let body = response.text().await.map_err(unavailable)?;
        if !status.is_success() {
            return Err(unexpected("CreateMultipartUpload", status, &body));
        }
        let created = CreateMultipartUpload::parse_response(&body)
            .map_err(|e| anyhow::anyhow!("CreateMultipartUpload answer unreadable: {e}"))?;
        Ok(created.upload_id().to_owned())
    }

    fn part_upload_url(&self, key: &PhotoKey, upload_id: &str, number: u16, _base: &Url) -> Url {
        let url = self.public_bucket.object_url(&key.to_string());
        let number = number.to_string();
        let query = [("partNumber", number.as_str()), ("uploadId", upload_id)];
        self.presigner
            .presign("PUT", url, &query, UPLOAD_URL_TTL, Utc::now())
    }

    async fn list_parts(
        &self,
        key: &PhotoKey,
        upload_id: &str,
    ) -> StoreResult<Option<Vec<StoredPart>>> {
        let object = key.to_string();
        let mut parts = Vec::new();
        let mut marker = None;
        loop {
            let mut action = self
                .bucket
                .list_parts(Some(&self.credentials), &object, upload_id);
            if let Some(marker) = marker {
                action.set_part_number_marker(marker);
            }
            let url = action.sign(REQUEST_TTL);
            let response = self.http.get(url).send().await.map_err(unavailable)?;
            let status = response.status();
            let body = response.text().await.map_err(unavailable)?;
            if status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if !status.is_success() {
                return Err(unexpected("ListParts", status, &body));
            }
            let page = ListParts::parse_response(&body)
                .map_err(|e| anyhow::anyhow!("ListParts answer unreadable: {e}"))?;
            let full = page.parts.len() >= usize::from(page.max_parts.max(1));
            parts.extend(page.parts.into_iter().map(|p| StoredPart {
                number: p.number,
                size: p.size,
                etag: p.etag,
            }));
            match page.next_part_number_marker {
                Some(next) if full && Some(next) != marker => marker = Some(next),
                _ => break,
            }
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
        let object = key.to_string();
        let action = self.bucket.complete_multipart_upload(
            Some(&self.credentials),
            &object,
            upload_id,
            parts.iter().map(|p| p.etag.as_str()),
        );
        let url = action.sign(REQUEST_TTL);
        let body = action.body();
        // Joining large parts may take the store a while.
        let response = self
            .transfer_http
            .post(url)
            .header(header::CONTENT_TYPE, "application/xml")
            .body(body)
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status();
        let text = response.text().await.map_err(unavailable)?;
        if status == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        // S3 may answer 200 and report a failure in the body.
        if !status.is_success() || text.contains("<Error>") {
            return Err(unexpected("CompleteMultipartUpload", status, &text));
        }
        Ok(true)
    }

    async fn abort_multipart(&self, key: &PhotoKey, upload_id: &str) -> StoreResult<()> {
        let url = self
            .bucket
            .abort_multipart_upload(Some(&self.credentials), &key.to_string(), upload_id)
            .sign(REQUEST_TTL);
        let response = self.http.delete(url).send().await.map_err(unavailable)?;
        let status = response.status();
        if status.is_success() || status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(unexpected("AbortMultipartUpload", status, &body))
    }

    async fn delete(&self, key: &PhotoKey) -> StoreResult<()> {
        let url = self
            .bucket
            .delete_object(Some(&self.credentials), &key.to_string())
            .sign(REQUEST_TTL);
        let response = self.http.delete(url).send().await.map_err(unavailable)?;
        let status = response.status();
        if status.is_success() || status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(unexpected("DeleteObject", status, &body))
    }
}
