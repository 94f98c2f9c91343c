//! Resumable (multipart) uploads beside the three-step upload: start → presigned part URLs →
//! PUT parts (any order, again when unsure) → complete → the usual finalize with `s3_key`.

use axum::{
    Json,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode, header},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    ApiError, SharedState,
    error::ErrorBody,
    extract::{JsonBody, Path, PublicBase, Query, RequestingGuest, optional_uuid},
};
use crate::{
    app::{
        ErrorCode,
        local_files::{self, SignedPart},
        multipart::{self, PART_SIZE, Target, Upload},
    },
    domain::{media::MediaType, values::required},
    store::UPLOAD_URL_TTL,
};

#[derive(Deserialize, ToSchema)]
pub struct StartMultipartRequest {
    /// One of the image types init-upload accepts.
    pub content_type: Option<String>,
    /// The file's exact size in bytes.
    pub size: Option<u64>,
    /// The uploading guest's id; required when the event has pre-approval or an upload limit.
    pub user_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MultipartView {
    pub upload_id: Uuid,
    /// Pass to finalize-upload as `s3_key` once completed.
    pub s3_key: String,
    pub size: u64,
    /// Every part but the last has this many bytes.
    pub part_size: u64,
    /// Parts are numbered 1 to `part_count`.
    pub part_count: u16,
}

impl From<&Upload> for MultipartView {
    fn from(upload: &Upload) -> Self {
        Self {
            upload_id: upload.record.id,
            s3_key: upload.key.to_string(),
            size: u64::try_from(upload.record.size_bytes).unwrap_or(0),
            part_size: PART_SIZE,
            part_count: upload.part_count,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct PartUrlsRequest {
    /// The parts to send (1 to 100 numbers).
    pub part_numbers: Option<Vec<u32>>,
}

#[derive(Serialize, ToSchema)]
pub struct PartUrl {
    pub part_number: u16,
    /// PUT the part's bytes here.
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct PartUrlsResponse {
    pub parts: Vec<PartUrl>,
    /// Seconds the URLs stay valid.
    pub expires_in: u64,
}

#[derive(Serialize, ToSchema)]
pub struct StoredPartView {
    pub part_number: u16,
    pub size: u64,
}

#[derive(Serialize, ToSchema)]
pub struct MultipartStatus {
    #[serde(flatten)]
    pub upload: MultipartView,
    /// The parts stored completely so far; send the others.
    pub parts: Vec<StoredPartView>,
}

#[derive(Serialize, ToSchema)]
pub struct CompletedMultipart {
    /// Finalize with this key (finalize-upload).
    pub s3_key: String,
}

/// `/sessions/{id}/uploads/multipart/{upload_id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MultipartPath {
    /// The event
    pub id: Uuid,
    /// The id the start call returned
    pub upload_id: Uuid,
}

/// The asking guest, for the calls without a body.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GuestQuery {
    /// The uploading guest (or the X-Guest-Id header)
    #[allow(dead_code)] // read by RequestingGuest
    #[serde(rename = "userId")]
    #[param(rename = "userId", value_type = Option<Uuid>)]
    pub user_id: Option<String>,
}

fn target(path: &MultipartPath, guest_id: Option<Uuid>) -> Target {
    Target {
        event_id: path.id,
        upload_id: path.upload_id,
        guest_id,
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EventPath {
    /// The event
    pub id: Uuid,
}

#[utoipa::path(post, path = "/sessions/{id}/uploads/multipart", tag = "pictures",
    params(EventPath), request_body = StartMultipartRequest,
    responses(
        (status = 201, description = "Upload opened: ask for part URLs next", body = MultipartView),
        (status = 400, description = "Missing or malformed fields, or size 0", body = ErrorBody),
        (status = 403, description = "The event has ended, or the guest reached the upload limit", body = ErrorBody),
        (status = 404, description = "Unknown event or guest", body = ErrorBody),
        (status = 413, description = "Larger than the upload limit, or the storage quota is full", body = ErrorBody),
        (status = 415, description = "Type not allowed", body = ErrorBody),
    ))]
pub async fn start(
    State(app): State<SharedState>,
    Path(path): Path<EventPath>,
    JsonBody(body): JsonBody<StartMultipartRequest>,
) -> Result<(StatusCode, Json<MultipartView>), ApiError> {
    let content_type = required(body.content_type, "content_type")?;
    let media_type = MediaType::from_mime(&content_type).ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnsupportedImageType,
            "content_type must be one of image/jpeg, image/png, image/webp, image/heic, image/heif, image/gif, video/mp4, video/quicktime, video/webm",
        )
    })?;
    let size = body
        .size
        .ok_or_else(|| ApiError::new(ErrorCode::MissingField, "size is required"))?;
    let upload = multipart::start(
        &app,
        multipart::Start {
            event_id: path.id,
            media_type,
            size,
            guest_id: optional_uuid(body.user_id.as_deref(), "user_id")?,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(MultipartView::from(&upload))))
}

#[utoipa::path(post, path = "/sessions/{id}/uploads/multipart/{upload_id}/parts", tag = "pictures",
    params(MultipartPath, GuestQuery), request_body = PartUrlsRequest,
    responses(
        (status = 200, description = "A presigned PUT URL per part", body = PartUrlsResponse),
        (status = 400, description = "No part numbers, too many, or numbers outside 1..part_count", body = ErrorBody),
        (status = 403, description = "The guest belongs to another event", body = ErrorBody),
        (status = 404, description = "No open upload with this id in this event", body = ErrorBody),
    ))]
pub async fn part_urls(
    State(app): State<SharedState>,
    PublicBase(base): PublicBase,
    RequestingGuest(guest_id): RequestingGuest,
    Path(path): Path<MultipartPath>,
    JsonBody(body): JsonBody<PartUrlsRequest>,
) -> Result<Json<PartUrlsResponse>, ApiError> {
    let numbers = body
        .part_numbers
        .ok_or_else(|| ApiError::new(ErrorCode::MissingField, "part_numbers is required"))?
        .into_iter()
        .map(|n| {
            u16::try_from(n).map_err(|_| {
                ApiError::new(
                    ErrorCode::UploadPartInvalid,
                    format!("Part {n} does not exist"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (_, urls) = multipart::part_urls(&app, target(&path, guest_id), &numbers, &base).await?;
    Ok(Json(PartUrlsResponse {
        parts: urls
            .into_iter()
            .map(|(part_number, url)| PartUrl {
                part_number,
                url: url.to_string(),
            })
            .collect(),
        expires_in: UPLOAD_URL_TTL.as_secs(),
    }))
}

#[utoipa::path(get, path = "/sessions/{id}/uploads/multipart/{upload_id}", tag = "pictures",
    params(MultipartPath, GuestQuery),
    responses(
        (status = 200, description = "The upload and the parts stored so far", body = MultipartStatus),
        (status = 403, description = "The guest belongs to another event", body = ErrorBody),
        (status = 404, description = "No open upload with this id in this event (completed, aborted or expired)", body = ErrorBody),
    ))]
pub async fn status(
    State(app): State<SharedState>,
    RequestingGuest(guest_id): RequestingGuest,
    Path(path): Path<MultipartPath>,
) -> Result<Json<MultipartStatus>, ApiError> {
    let (upload, parts) = multipart::status(&app, target(&path, guest_id)).await?;
    Ok(Json(MultipartStatus {
        upload: MultipartView::from(&upload),
        parts: parts
            .into_iter()
            .map(|p| StoredPartView {
                part_number: p.number,
                size: p.size,
            })
            .collect(),
    }))
}

#[utoipa::path(post, path = "/sessions/{id}/uploads/multipart/{upload_id}/complete", tag = "pictures",
    params(MultipartPath, GuestQuery),
    responses(
        (status = 200, description = "The parts are joined into the object: finalize it with s3_key", body = CompletedMultipart),
        (status = 400, description = "A part is missing (upload.part_missing) or has the wrong size (upload.part_size_mismatch): nothing is joined, send it and complete again", body = ErrorBody),
        (status = 403, description = "The guest belongs to another event", body = ErrorBody),
        (status = 404, description = "No open upload with this id in this event", body = ErrorBody),
    ))]
pub async fn complete(
    State(app): State<SharedState>,
    RequestingGuest(guest_id): RequestingGuest,
    Path(path): Path<MultipartPath>,
) -> Result<Json<CompletedMultipart>, ApiError> {
    let key = multipart::complete(&app, target(&path, guest_id)).await?;
    Ok(Json(CompletedMultipart {
        s3_key: key.to_string(),
    }))
}

#[utoipa::path(delete, path = "/sessions/{id}/uploads/multipart/{upload_id}", tag = "pictures",
    params(MultipartPath, GuestQuery),
    responses(
        (status = 204, description = "Aborted: the parts are gone"),
        (status = 403, description = "The guest belongs to another event", body = ErrorBody),
        (status = 404, description = "No open upload with this id in this event", body = ErrorBody),
    ))]
pub async fn abort(
    State(app): State<SharedState>,
    RequestingGuest(guest_id): RequestingGuest,
    Path(path): Path<MultipartPath>,
) -> Result<StatusCode, ApiError> {
    multipart::abort(&app, target(&path, guest_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct PartPath {
    upload_id: String,
    number: String,
}

#[derive(Deserialize)]
pub struct Signature {
    expires: Option<String>,
    sig: Option<String>,
}

/// `PUT /uploads/multipart/{upload_id}/{number}`: a part, on the local-disk backend.
pub async fn put_part(
    State(app): State<SharedState>,
    Path(path): Path<PartPath>,
    Query(signature): Query<Signature>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let not_found = || ApiError::new(ErrorCode::RouteNotFound, "Not found");
    let request = SignedPart {
        upload_id: Uuid::parse_str(&path.upload_id).map_err(|_| not_found())?,
        number: path.number.parse().map_err(|_| not_found())?,
        expires: signature.expires.and_then(|v| v.parse().ok()),
        signature: signature.sig,
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    local_files::receive_part(&app, request, declared, body.into_data_stream()).await?;
    Ok(StatusCode::OK)
}
