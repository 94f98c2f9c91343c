//! The three-step upload (init → PUT to the presigned URL → finalize) and the gallery.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    ApiError, SharedState,
    error::ErrorBody,
    extract::{JsonBody, PublicBase, QueryParams},
    sessions::session_not_found,
};
use crate::{
    db::PictureRecord,
    domain::{
        image::ImageType,
        missions::parse_mission_id,
        photo_key::PhotoKey,
        values::{Name, parse_original_filename, parse_uuid, required},
    },
    store::UPLOAD_URL_TTL,
};

#[derive(Deserialize, ToSchema)]
pub struct InitUploadRequest {
    pub session_id: Option<String>,
    /// One of image/jpeg, image/png, image/webp, image/heic, image/heif, image/gif.
    pub mimetype: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitUploadResponse {
    /// PUT the image bytes here (S3 presigned URL, or this server's signed `/uploads/...`).
    pub upload_url: String,
    /// Pass back as `s3_key` to finalize.
    pub key: String,
    pub bucket: String,
    /// Seconds the upload URL stays valid.
    pub expires_in: u64,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // filesize_bytes and mimetype are accepted from existing clients; storage is authoritative.
pub struct FinalizeUploadRequest {
    /// The uploader's name as shown in the gallery.
    pub u_name: Option<String>,
    pub session_id: Option<String>,
    /// The `key` init-upload returned.
    pub s3_key: Option<String>,
    pub original_filename: Option<String>,
    /// Informational; the stored size is read from storage.
    #[schema(value_type = Option<i64>)]
    pub filesize_bytes: Option<Value>,
    /// Informational; the stored type is recognised from the bytes.
    #[schema(value_type = Option<String>)]
    pub mimetype: Option<Value>,
    /// The mission this photo fulfils, if any.
    #[schema(value_type = Option<String>)]
    pub mission_id: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct PictureView {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub u_name: String,
    pub session_id: Uuid,
    pub original_filename: String,
    pub s3_key: String,
    pub s3_bucket: String,
    pub mimetype: String,
    pub filesize_bytes: i64,
    pub mission_id: Option<String>,
    /// Presigned download URL, valid for one hour.
    pub url: String,
}

fn picture_view(state: &SharedState, base: &Url, picture: PictureRecord) -> PictureView {
    let url = PhotoKey::parse(&picture.s3_key)
        .map(|key| state.store.download_url(&key, base).to_string())
        .unwrap_or_default();
    PictureView {
        id: picture.id,
        created_at: picture.created_at,
        u_name: picture.u_name,
        session_id: picture.session_id,
        original_filename: picture.original_filename,
        s3_key: picture.s3_key,
        s3_bucket: picture.s3_bucket,
        mimetype: picture.mimetype,
        filesize_bytes: picture.filesize_bytes,
        mission_id: picture.mission_id,
        url,
    }
}

fn bad(err: crate::domain::values::Invalid) -> ApiError {
    ApiError::BadRequest(err.0)
}

#[utoipa::path(post, path = "/pictures/init-upload", tag = "pictures", request_body = InitUploadRequest,
    responses(
        (status = 201, description = "Upload URL issued", body = InitUploadResponse),
        (status = 400, description = "Missing or malformed fields", body = ErrorBody),
        (status = 404, description = "Unknown event", body = ErrorBody),
        (status = 415, description = "Image type not allowed", body = ErrorBody),
    ))]
pub async fn init_upload(
    State(state): State<SharedState>,
    PublicBase(base): PublicBase,
    JsonBody(body): JsonBody<InitUploadRequest>,
) -> Result<(StatusCode, Json<InitUploadResponse>), ApiError> {
    let session_id = parse_uuid(
        &required(body.session_id, "session_id").map_err(bad)?,
        "session_id",
    )
    .map_err(bad)?;
    let mimetype = required(body.mimetype, "mimetype").map_err(bad)?;
    let image_type = ImageType::from_mime(&mimetype).ok_or_else(|| {
        ApiError::UnsupportedMediaType(
            "mimetype must be one of image/jpeg, image/png, image/webp, image/heic, image/heif, image/gif".into(),
        )
    })?;
    state
        .db
        .session(session_id)
        .await?
        .ok_or_else(session_not_found)?;
    let key = PhotoKey::generate(session_id, image_type);
    let upload_url = state.store.upload_url(&key, &base);
    Ok((
        StatusCode::CREATED,
        Json(InitUploadResponse {
            upload_url: upload_url.to_string(),
            key: key.to_string(),
            bucket: state.store.bucket().to_owned(),
            expires_in: UPLOAD_URL_TTL.as_secs(),
        }),
    ))
}

#[utoipa::path(post, path = "/pictures/finalize-upload", tag = "pictures", request_body = FinalizeUploadRequest,
    responses(
        (status = 201, description = "Picture stored (the same picture again for a repeated key)", body = PictureView),
        (status = 400, description = "Missing or malformed fields, or an empty upload", body = ErrorBody),
        (status = 403, description = "The key belongs to another event", body = ErrorBody),
        (status = 404, description = "Unknown event, or nothing was uploaded under the key", body = ErrorBody),
        (status = 413, description = "The upload exceeds the size limit (it is deleted)", body = ErrorBody),
        (status = 415, description = "The upload is not a supported image (it is deleted)", body = ErrorBody),
        (status = 503, description = "Photo storage unavailable", body = ErrorBody),
    ))]
pub async fn finalize_upload(
    State(state): State<SharedState>,
    PublicBase(base): PublicBase,
    JsonBody(body): JsonBody<FinalizeUploadRequest>,
) -> Result<(StatusCode, Json<PictureView>), ApiError> {
    let session_id = parse_uuid(
        &required(body.session_id, "session_id").map_err(bad)?,
        "session_id",
    )
    .map_err(bad)?;
    let raw_key = required(body.s3_key, "s3_key").map_err(bad)?;
    let u_name =
        Name::parse(&required(body.u_name, "u_name").map_err(bad)?, "u_name").map_err(bad)?;
    let original_filename =
        parse_original_filename(body.original_filename.as_deref()).map_err(bad)?;
    let mission_id = parse_mission_id(body.mission_id.as_ref()).map_err(bad)?;
    let key = PhotoKey::parse(raw_key.trim())
        .ok_or_else(|| ApiError::bad_request("s3_key is not a key issued by init-upload"))?;

    state
        .db
        .session(session_id)
        .await?
        .ok_or_else(session_not_found)?;
    if key.session_id != session_id {
        return Err(ApiError::Forbidden(
            "s3_key does not belong to this session".into(),
        ));
    }
    // Finalize is idempotent: a retried request returns the picture already stored.
    if let Some(existing) = state.db.picture_by_key(&key.to_string()).await? {
        return Ok((
            StatusCode::CREATED,
            Json(picture_view(&state, &base, existing)),
        ));
    }

    let size = state.store.size(&key).await?.ok_or_else(|| {
        ApiError::not_found("No upload found for s3_key; PUT the photo to uploadUrl first")
    })?;
    if size > state.max_upload_bytes {
        state.store.delete(&key).await?;
        return Err(ApiError::PayloadTooLarge(format!(
            "Photo is too large ({size} bytes; limit {} bytes)",
            state.max_upload_bytes
        )));
    }
    if size == 0 {
        state.store.delete(&key).await?;
        return Err(ApiError::bad_request("The uploaded file is empty"));
    }
    let head = state.store.read_head(&key, ImageType::SNIFF_LEN).await?;
    let Some(image_type) = ImageType::sniff(&head) else {
        state.store.delete(&key).await?;
        return Err(ApiError::UnsupportedMediaType(
            "The uploaded file is not a supported image".into(),
        ));
    };

    let picture = PictureRecord {
        id: Uuid::new_v4(),
        session_id,
        u_name: u_name.into_inner(),
        original_filename: original_filename.unwrap_or_else(|| key.file_name()),
        s3_key: key.to_string(),
        s3_bucket: state.store.bucket().to_owned(),
        mimetype: image_type.mime().to_owned(),
        filesize_bytes: i64::try_from(size).unwrap_or(i64::MAX),
        mission_id,
        created_at: super::now(),
    };
    let stored = state.db.insert_picture(&picture).await?;
    if stored.id == picture.id {
        state.metrics.photos_uploaded.inc();
    }
    Ok((
        StatusCode::CREATED,
        Json(picture_view(&state, &base, stored)),
    ))
}

#[utoipa::path(get, path = "/pictures/session", tag = "pictures",
    params(("sessionId" = Uuid, Query, description = "The event id")),
    responses(
        (status = 200, description = "The gallery, newest first", body = [PictureView]),
        (status = 400, description = "Missing or malformed sessionId", body = ErrorBody),
        (status = 404, description = "Unknown event", body = ErrorBody),
    ))]
pub async fn gallery(
    State(state): State<SharedState>,
    PublicBase(base): PublicBase,
    query: QueryParams,
) -> Result<Json<Vec<PictureView>>, ApiError> {
    let session_id = query.uuid("sessionId")?;
    state
        .db
        .session(session_id)
        .await?
        .ok_or_else(session_not_found)?;
    let pictures = state.db.pictures_of_session(session_id).await?;
    Ok(Json(
        pictures
            .into_iter()
            .map(|p| picture_view(&state, &base, p))
            .collect(),
    ))
}
