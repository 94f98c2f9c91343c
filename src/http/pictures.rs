//! The three-step upload (init → PUT to the presigned URL → finalize) and the gallery.

use std::sync::Arc;

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    ApiError, SharedState,
    access::{MaybeAuthUser, Viewer, guest_id, require_host, resolve_viewer},
    error::ErrorBody,
    extract::{AuthUser, JsonBody, PublicBase, QueryParams},
    gallery_cache::{GalleryCache, Page},
    sessions::session_not_found,
};
use crate::{
    db::{EventRecord, PhotoQuery, PhotoRecord, PhotoStatus, ThumbStatus},
    domain::{
        image::ImageType,
        missions::parse_mission_id,
        photo_key::{PhotoKey, Variant},
        rules::EventRules,
        values::{Name, parse_original_filename, parse_uuid, required, required_uuid},
    },
    events::LiveEvent,
    store::UPLOAD_URL_TTL,
};

#[derive(Deserialize, ToSchema)]
pub struct InitUploadRequest {
    pub session_id: Option<String>,
    /// One of image/jpeg, image/png, image/webp, image/heic, image/heif, image/gif.
    pub mimetype: Option<String>,
    /// The uploading guest's id; required when the event has pre-approval or an upload limit.
    pub user_id: Option<String>,
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
    /// The uploading guest's id; required when the event has pre-approval or an upload limit.
    pub user_id: Option<String>,
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
    /// A ~400 px JPEG for grids; the same as `url` until the thumbnail exists (or when the
    /// photo cannot be decoded, e.g. HEIC).
    #[serde(rename = "thumbUrl")]
    pub thumb_url: String,
    /// `approved`, or `pending` while waiting for the host (pre-approval).
    #[schema(value_type = String)]
    pub status: PhotoStatus,
    /// The uploading guest, when known.
    pub user_id: Option<Uuid>,
}

pub(super) fn picture_view(state: &SharedState, base: &Url, picture: PhotoRecord) -> PictureView {
    let url = PhotoKey::parse(&picture.object_key)
        .map(|key| state.store.download_url(&key, base).to_string())
        .unwrap_or_default();
    let thumb_url = picture
        .thumb_key
        .as_deref()
        .and_then(PhotoKey::parse)
        .map_or_else(
            || url.clone(),
            |key| state.store.download_url(&key, base).to_string(),
        );
    PictureView {
        id: picture.id,
        created_at: picture.created_at,
        u_name: picture.uploader_name,
        session_id: picture.event_id,
        original_filename: picture.original_filename,
        s3_key: picture.object_key,
        s3_bucket: picture.bucket,
        mimetype: picture.mimetype,
        filesize_bytes: picture.filesize_bytes,
        mission_id: picture.mission_id,
        url,
        thumb_url,
        status: picture.status,
        user_id: picture.guest_id,
    }
}

fn bad(err: crate::domain::values::Invalid) -> ApiError {
    ApiError::BadRequest(err.0)
}

fn uploads_closed() -> ApiError {
    ApiError::Forbidden("Uploads are closed: this event has ended".into())
}

/// Checks the uploading guest against the event's rules; returns the guest id when given.
async fn uploading_guest(
    state: &SharedState,
    session: &EventRecord,
    rules: &EventRules,
    raw: Option<String>,
) -> Result<Option<Uuid>, ApiError> {
    let raw = raw.filter(|v| !v.trim().is_empty());
    let Some(raw) = raw else {
        if rules.needs_guest_id() {
            return Err(ApiError::bad_request("user_id is required for this event"));
        }
        return Ok(None);
    };
    let user_id = parse_uuid(&raw, "user_id").map_err(bad)?;
    let guest = state
        .db
        .guest(user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Session user not found"))?;
    if guest.event_id != session.id {
        return Err(ApiError::Forbidden(
            "This guest belongs to another session".into(),
        ));
    }
    Ok(Some(user_id))
}

async fn check_upload_limit(
    state: &SharedState,
    session: &EventRecord,
    rules: &EventRules,
    user_id: Option<Uuid>,
) -> Result<(), ApiError> {
    if let (Some(limit), Some(user_id)) = (rules.upload_limit_per_guest, user_id) {
        let uploaded = state.db.count_guest_photos(session.id, user_id).await?;
        if u64::try_from(uploaded).unwrap_or(u64::MAX) >= limit {
            return Err(ApiError::Forbidden(format!(
                "Upload limit reached: {limit} photos per guest"
            )));
        }
    }
    Ok(())
}

#[utoipa::path(post, path = "/pictures/init-upload", tag = "pictures", request_body = InitUploadRequest,
    responses(
        (status = 201, description = "Upload URL issued", body = InitUploadResponse),
        (status = 400, description = "Missing or malformed fields", body = ErrorBody),
        (status = 403, description = "The event has ended, or the guest reached the upload limit", body = ErrorBody),
        (status = 404, description = "Unknown event or guest", body = ErrorBody),
        (status = 415, description = "Image type not allowed", body = ErrorBody),
    ))]
pub async fn init_upload(
    State(state): State<SharedState>,
    PublicBase(base): PublicBase,
    JsonBody(body): JsonBody<InitUploadRequest>,
) -> Result<(StatusCode, Json<InitUploadResponse>), ApiError> {
    let session_id = required_uuid(body.session_id, "session_id").map_err(bad)?;
    let mimetype = required(body.mimetype, "mimetype").map_err(bad)?;
    let image_type = ImageType::from_mime(&mimetype).ok_or_else(|| {
        ApiError::UnsupportedMediaType(
            "mimetype must be one of image/jpeg, image/png, image/webp, image/heic, image/heif, image/gif".into(),
        )
    })?;
    let session = state
        .db
        .event(session_id)
        .await?
        .ok_or_else(session_not_found)?;
    state.require_store()?;
    if super::now() >= session.ends_at {
        return Err(uploads_closed());
    }
    let rules = EventRules::from_settings(&session.settings);
    let user_id = uploading_guest(&state, &session, &rules, body.user_id).await?;
    check_upload_limit(&state, &session, &rules, user_id).await?;
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
        (status = 201, description = "Picture stored (the same picture again for a repeated key or identical content)", body = PictureView),
        (status = 400, description = "Missing or malformed fields, or an empty upload", body = ErrorBody),
        (status = 403, description = "The key belongs to another event, the event has ended, or the upload limit is reached", body = ErrorBody),
        (status = 404, description = "Unknown event or guest, or nothing was uploaded under the key", body = ErrorBody),
        (status = 413, description = "The upload exceeds the size limit (it is deleted)", body = ErrorBody),
        (status = 415, description = "The upload is not a supported image (it is deleted)", body = ErrorBody),
        (status = 503, description = "Photo storage unavailable", body = ErrorBody),
    ))]
pub async fn finalize_upload(
    State(state): State<SharedState>,
    PublicBase(base): PublicBase,
    JsonBody(body): JsonBody<FinalizeUploadRequest>,
) -> Result<(StatusCode, Json<PictureView>), ApiError> {
    let session_id = required_uuid(body.session_id, "session_id").map_err(bad)?;
    let raw_key = required(body.s3_key, "s3_key").map_err(bad)?;
    let u_name =
        Name::parse(&required(body.u_name, "u_name").map_err(bad)?, "u_name").map_err(bad)?;
    let original_filename =
        parse_original_filename(body.original_filename.as_deref()).map_err(bad)?;
    let mission_id = parse_mission_id(body.mission_id.as_ref()).map_err(bad)?;
    let key = PhotoKey::parse(raw_key.trim())
        .filter(|key| key.variant == Variant::Original)
        .ok_or_else(|| ApiError::bad_request("s3_key is not a key issued by init-upload"))?;

    let session = state
        .db
        .event(session_id)
        .await?
        .ok_or_else(session_not_found)?;
    state.require_store()?;
    if key.event_id != session_id {
        return Err(ApiError::Forbidden(
            "s3_key does not belong to this session".into(),
        ));
    }
    // Finalize is idempotent: a retried request returns the picture already stored.
    if let Some(existing) = state.db.photo_by_key(&key.to_string()).await? {
        return Ok((
            StatusCode::CREATED,
            Json(picture_view(&state, &base, existing)),
        ));
    }
    if super::now() >= session.ends_at {
        return Err(uploads_closed());
    }
    let rules = EventRules::from_settings(&session.settings);
    let user_id = uploading_guest(&state, &session, &rules, body.user_id).await?;

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
    if let Err(err) = check_upload_limit(&state, &session, &rules, user_id).await {
        state.store.delete(&key).await?;
        return Err(err);
    }
    // A guest's client (it names the guest) sending a photo the event already has gets the
    // stored picture back instead of a second copy: retried offline queues and photos picked
    // twice from the phone's gallery. Uploads without a guest id keep the contract's rule that
    // every finalized key is its own picture.
    let content_hash = state.store.sha256(&key).await?;
    let duplicate = match user_id {
        Some(_) => state.db.photo_by_hash(session_id, &content_hash).await?,
        None => None,
    };
    if let Some(existing) = duplicate {
        state.store.delete(&key).await?;
        return Ok((
            StatusCode::CREATED,
            Json(picture_view(&state, &base, existing)),
        ));
    }

    let picture = PhotoRecord {
        id: Uuid::new_v4(),
        event_id: session_id,
        uploader_name: u_name.into_inner(),
        original_filename: original_filename.unwrap_or_else(|| key.file_name()),
        object_key: key.to_string(),
        bucket: state.store.bucket().to_owned(),
        mimetype: image_type.mime().to_owned(),
        filesize_bytes: i64::try_from(size).unwrap_or(i64::MAX),
        mission_id,
        created_at: super::now(),
        guest_id: user_id,
        status: if rules.require_approval {
            PhotoStatus::Pending
        } else {
            PhotoStatus::Approved
        },
        content_hash: Some(content_hash),
        thumb_key: None,
        thumb_status: ThumbStatus::Pending,
    };
    let stored = state.db.insert_photo(&picture).await?;
    if stored.id == picture.id {
        state.metrics.photos_uploaded.inc();
        state
            .events
            .publish(LiveEvent::PictureCreated {
                picture: stored.clone(),
            })
            .await;
        state.thumbnails.schedule(stored.clone());
    } else if stored.object_key != picture.object_key {
        // Identical content won a race: this copy is not needed.
        state.store.delete(&key).await?;
    }
    Ok((
        StatusCode::CREATED,
        Json(picture_view(&state, &base, stored)),
    ))
}

#[utoipa::path(get, path = "/pictures/session", tag = "pictures",
    params(
        ("sessionId" = Uuid, Query, description = "The event id"),
        ("limit" = Option<u32>, Query, description = "At most this many pictures (1-1000); default: all"),
        ("before" = Option<Uuid>, Query, description = "Only pictures older than this picture (pagination)"),
        ("userId" = Option<Uuid>, Query, description = "The asking guest: their own pending photos are included"),
        ("access_token" = Option<String>, Query, description = "The host's token, as an alternative to the Authorization header"),
    ),
    responses(
        (status = 200, description = "The gallery, newest first (with an ETag; rendered pages are kept for at most 5 s and dropped when the event changes)", body = [PictureView]),
        (status = 304, description = "Unchanged since the ETag sent in If-None-Match"),
        (status = 400, description = "Missing or malformed parameters", body = ErrorBody),
        (status = 401, description = "An invalid token was sent", body = ErrorBody),
        (status = 403, description = "The guest belongs to another event", body = ErrorBody),
        (status = 404, description = "Unknown event or guest", body = ErrorBody),
    ))]
pub async fn gallery(
    State(state): State<SharedState>,
    PublicBase(base): PublicBase,
    MaybeAuthUser(user): MaybeAuthUser,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let session_id = query.uuid("sessionId")?;
    let limit = match query.0.get("limit").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(
            v.parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("limit must be an integer from 1 to {MAX_PAGE}"))
                })?,
        ),
    };
    // Read before the database, so whatever is cached under it predates any later change.
    let cache = state
        .gallery_cache
        .as_ref()
        .zip(state.events.generation(session_id));
    let session = match cache.and_then(|(cache, generation)| cache.event(session_id, generation)) {
        Some(session) => session,
        None => {
            let session = Arc::new(
                state
                    .db
                    .event(session_id)
                    .await?
                    .ok_or_else(session_not_found)?,
            );
            if let Some((cache, generation)) = cache {
                cache.keep_event(generation, session.clone());
            }
            session
        }
    };
    state.require_store()?;
    let guest = guest_id(&headers, query.0.get("userId"))?;
    let viewer = match guest {
        Some(id)
            if user.as_ref().is_none_or(|u| u.id != session.host_id)
                && cache.is_some_and(|(cache, _)| cache.guest_event(id) == Some(session.id)) =>
        {
            Viewer::Guest(id)
        }
        _ => {
            let viewer = resolve_viewer(&state, &session, user.as_ref(), guest).await?;
            if let (Viewer::Guest(id), Some((cache, _))) = (viewer, cache) {
                cache.keep_guest(id, session.id);
            }
            viewer
        }
    };
    let before = match query.0.get("before").filter(|v| !v.is_empty()) {
        None => None,
        Some(raw) => {
            let id = parse_uuid(raw, "before").map_err(bad)?;
            let anchor = state
                .db
                .picture(id)
                .await?
                .filter(|p| p.event_id == session_id)
                .ok_or_else(|| {
                    ApiError::bad_request("before must be the id of a picture in this session")
                })?;
            Some((anchor.created_at, anchor.id))
        }
    };
    let rules = EventRules::from_settings(&session.settings);
    let picture_query = PhotoQuery {
        everything: viewer == Viewer::Host,
        approved_visible: rules.gallery_visible_to_guests(),
        viewer: match viewer {
            Viewer::Guest(id) => Some(id),
            _ => None,
        },
        before,
        limit,
    };
    let page_key = cache.and_then(|(_, generation)| {
        GalleryCache::page_key(session_id, generation, &picture_query, &base)
    });
    let cached = cache
        .zip(page_key.as_ref())
        .and_then(|((cache, _), key)| cache.page(key));
    let result = match (&cached, &page_key) {
        (Some(_), _) => "hit",
        (None, Some(_)) => "miss",
        (None, None) => "bypass",
    };
    state
        .metrics
        .gallery_cache
        .with_label_values(&[result])
        .inc();
    let page = match cached {
        Some(page) => page,
        None => {
            let pictures = state.db.photos(session_id, picture_query).await?;
            let views: Vec<PictureView> = pictures
                .into_iter()
                .map(|p| picture_view(&state, &base, p))
                .collect();
            let body = serde_json::to_vec(&views)
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("cannot encode gallery: {e}")))?;
            let page = Page::new(body);
            if let (Some((cache, _)), Some(key)) = (cache, page_key) {
                cache.keep_page(key, page.clone());
            }
            page
        }
    };
    Ok(page_response(&headers, page))
}

/// The page, or 304 when the client already holds it (`If-None-Match`).
fn page_response(headers: &HeaderMap, page: Page) -> Response {
    let known = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == page.etag || tag.trim() == "*");
    let mut response = if known {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            page.body,
        )
            .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, page.etag);
    // Revalidate every time: photos arrive all the time, and a 304 is cheap.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Largest page of `GET /pictures/session`.
const MAX_PAGE: u32 = 1000;

fn picture_id(raw: &str) -> Result<Uuid, ApiError> {
    parse_uuid(raw, "id").map_err(bad)
}

#[utoipa::path(delete, path = "/pictures/{id}", tag = "pictures",
    params(
        ("id" = Uuid, Path, description = "The picture"),
        ("X-Guest-Id" = Option<Uuid>, Header, description = "The uploading guest deleting their own photo"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 204, description = "Deleted, with its files"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Neither a host token nor a guest id", body = ErrorBody),
        (status = 403, description = "Not the host, not the uploader, or guests may not delete", body = ErrorBody),
        (status = 404, description = "Unknown picture", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<SharedState>,
    MaybeAuthUser(user): MaybeAuthUser,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = picture_id(&id)?;
    let guest = guest_id(&headers, None)?;
    if user.is_none() && guest.is_none() {
        return Err(ApiError::Unauthorized(
            "A host token or X-Guest-Id is required".into(),
        ));
    }
    let picture = state
        .db
        .picture(id)
        .await?
        .ok_or_else(|| ApiError::not_found("Picture not found"))?;
    let session = state
        .db
        .event(picture.event_id)
        .await?
        .ok_or_else(session_not_found)?;
    let is_host = user.as_ref().is_some_and(|u| u.id == session.host_id);
    if !is_host {
        let own = guest.is_some() && guest == picture.guest_id;
        if !own {
            return Err(ApiError::Forbidden(
                "Only the host or the uploader can delete this photo".into(),
            ));
        }
        if !EventRules::from_settings(&session.settings).guest_delete {
            return Err(ApiError::Forbidden(
                "Guests may not delete photos in this event".into(),
            ));
        }
    }
    let Some(deleted) = state.db.delete_photo(id).await? else {
        return Err(ApiError::not_found("Picture not found"));
    };
    // The record is gone first; leftover files would only be unreferenced, never shown.
    if let Some(key) = PhotoKey::parse(&deleted.object_key) {
        for key in [key, key.thumbnail()] {
            if let Err(err) = state.store.delete(&key).await {
                tracing::warn!(%key, error = %err, "could not delete file of a deleted picture");
            }
        }
    }
    state
        .events
        .publish(LiveEvent::PictureDeleted {
            session_id: deleted.event_id,
            picture_id: deleted.id,
            user_id: deleted.guest_id,
            status: deleted.status.as_str().to_owned(),
        })
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/pictures/{id}/approve", tag = "pictures",
    params(("id" = Uuid, Path, description = "The picture")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Approved: now visible to everybody", body = PictureView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not the event's host", body = ErrorBody),
        (status = 404, description = "Unknown picture", body = ErrorBody),
    ))]
pub async fn approve(
    State(state): State<SharedState>,
    PublicBase(base): PublicBase,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<PictureView>, ApiError> {
    let id = picture_id(&id)?;
    let picture = state
        .db
        .picture(id)
        .await?
        .ok_or_else(|| ApiError::not_found("Picture not found"))?;
    let session = state
        .db
        .event(picture.event_id)
        .await?
        .ok_or_else(session_not_found)?;
    require_host(&session, Some(&user))?;
    let approved = state
        .db
        .approve_photo(id)
        .await?
        .ok_or_else(|| ApiError::not_found("Picture not found"))?;
    state
        .events
        .publish(LiveEvent::PictureUpdated {
            picture: approved.clone(),
        })
        .await;
    Ok(Json(picture_view(&state, &base, approved)))
}
