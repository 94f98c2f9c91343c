//! The three-step upload (init → PUT to the presigned URL → finalize) and the gallery.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    ApiError, SharedState,
    encoding::{self, Coding},
    error::ErrorBody,
    extract::{
        AuthHost, JsonBody, MaybeAuthHost, Path, PublicBase, Query, RequestingGuest, optional_uuid,
        required_uuid,
    },
};
use crate::{
    app::{
        App, ErrorCode,
        gallery::{self, Audience, MAX_PAGE, PageRequest, PhotoLinks},
        gallery_cache::{Page, PageCoding},
        moderation, uploads,
    },
    db::{PhotoOrder, PhotoRecord, PhotoStatus, ThumbStatus},
    domain::{
        media::MediaType,
        missions::parse_mission_id,
        reaction::{Reaction, ReactionCounts},
        values::{Name, parse_original_filename, required},
    },
};

#[derive(Deserialize, ToSchema)]
pub struct InitUploadRequest {
    pub session_id: Option<String>,
    /// One of image/jpeg, image/png, image/webp, image/heic, image/heif, image/gif, or a video
    /// clip: video/mp4, video/quicktime, video/webm.
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
    /// Presigned download URL, valid for one hour. The event's host gets the original; everybody
    /// else the display copy (a ≤ 2048 px JPEG without any metadata), or the placeholder image
    /// `/assets/processing.svg` while `variants` is not `ready`.
    pub url: String,
    /// A ~400 px JPEG without metadata for grids. Until it exists: the original for the host,
    /// the placeholder for everybody else.
    #[serde(rename = "thumbUrl")]
    pub thumb_url: String,
    /// `pending` while the variants are being made (a `picture.updated` event follows),
    /// `ready`, or `failed` when the photo cannot be decoded (guests keep the placeholder).
    #[schema(value_type = String)]
    pub variants: ThumbStatus,
    /// `approved`, or `pending` while waiting for the host (pre-approval).
    #[schema(value_type = String)]
    pub status: PhotoStatus,
    /// The uploading guest, when known.
    pub user_id: Option<Uuid>,
    /// `photo` or `video`. For a video, `url` is (for guests) an H.264 MP4 without metadata
    /// and `thumbUrl` a poster frame.
    #[schema(value_type = String)]
    pub media_type: &'static str,
    /// A video's length in seconds (absent for photos).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<f64>,
    /// A video's web rendition (H.264 MP4 without metadata) once `variants` is `ready`, for
    /// everybody: what players should play (absent for photos and until ready).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_url: Option<String>,
    /// How many people reacted with each reaction (gallery entries only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reactions: Option<ReactionCounts>,
    /// The asking guest's (or host's) own reaction, `null` when none (gallery entries only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Reaction>)]
    pub my_reaction: Option<Option<Reaction>>,
    /// How many comments the photo has: approved ones, for the host pending ones too (gallery
    /// entries only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment_count: Option<i64>,
}

pub(super) fn picture_view(
    app: &App,
    base: &Url,
    photo: PhotoRecord,
    audience: Audience,
) -> PictureView {
    let PhotoLinks {
        url,
        thumb_url,
        variants,
        video_url,
    } = gallery::links(app, &photo, base, audience);
    let media_type = if MediaType::mime_is_video(&photo.mimetype) {
        "video"
    } else {
        "photo"
    };
    PictureView {
        media_type,
        duration_secs: photo.duration_ms.map(|ms| ms as f64 / 1000.0),
        video_url,
        id: photo.id,
        created_at: photo.created_at,
        u_name: photo.uploader_name,
        session_id: photo.event_id,
        original_filename: photo.original_filename,
        s3_key: photo.object_key,
        s3_bucket: photo.bucket,
        mimetype: photo.mimetype,
        filesize_bytes: photo.filesize_bytes,
        mission_id: photo.mission_id,
        url,
        thumb_url,
        variants,
        status: photo.status,
        user_id: photo.guest_id,
        reactions: None,
        my_reaction: None,
        comment_count: None,
    }
}

impl TryFrom<InitUploadRequest> for uploads::Init {
    type Error = ApiError;

    fn try_from(body: InitUploadRequest) -> Result<Self, ApiError> {
        let event_id = required_uuid(body.session_id.as_deref(), "session_id")?;
        let mimetype = required(body.mimetype, "mimetype")?;
        let media_type = MediaType::from_mime(&mimetype).ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnsupportedImageType,
                "mimetype must be one of image/jpeg, image/png, image/webp, image/heic, image/heif, image/gif, video/mp4, video/quicktime, video/webm",
            )
        })?;
        Ok(Self {
            event_id,
            media_type,
            guest_id: optional_uuid(body.user_id.as_deref(), "user_id")?,
        })
    }
}

impl TryFrom<FinalizeUploadRequest> for uploads::Finalize {
    type Error = ApiError;

    fn try_from(body: FinalizeUploadRequest) -> Result<Self, ApiError> {
        let event_id = required_uuid(body.session_id.as_deref(), "session_id")?;
        let raw_key = required(body.s3_key, "s3_key")?;
        let uploader_name = Name::parse(&required(body.u_name, "u_name")?, "u_name")?;
        Ok(Self {
            event_id,
            original_filename: parse_original_filename(body.original_filename.as_deref())?,
            mission_id: parse_mission_id(body.mission_id.as_ref())?,
            key: uploads::parse_issued_key(&raw_key)?,
            uploader_name,
            guest_id: optional_uuid(body.user_id.as_deref(), "user_id")?,
        })
    }
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
    State(app): State<SharedState>,
    PublicBase(base): PublicBase,
    JsonBody(body): JsonBody<InitUploadRequest>,
) -> Result<(StatusCode, Json<InitUploadResponse>), ApiError> {
    let ticket = uploads::init(&app, body.try_into()?, &base).await?;
    Ok((
        StatusCode::CREATED,
        Json(InitUploadResponse {
            upload_url: ticket.upload_url.to_string(),
            key: ticket.key.to_string(),
            bucket: ticket.bucket,
            expires_in: ticket.expires_in_secs,
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
    State(app): State<SharedState>,
    PublicBase(base): PublicBase,
    MaybeAuthHost(host): MaybeAuthHost,
    JsonBody(body): JsonBody<FinalizeUploadRequest>,
) -> Result<(StatusCode, Json<PictureView>), ApiError> {
    let photo = uploads::finalize(&app, body.try_into()?).await?;
    let audience = gallery::audience(&app, photo.event_id, host.as_ref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(picture_view(&app, &base, photo, audience)),
    ))
}

/// `GET /pictures/session` parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GalleryQuery {
    /// The event id
    #[serde(rename = "sessionId")]
    #[param(rename = "sessionId", value_type = Uuid, required = true)]
    pub session_id: Option<String>,
    /// At most this many pictures (1-1000); default: all
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// Only pictures older than this picture (pagination)
    #[param(value_type = Option<Uuid>)]
    pub before: Option<String>,
    /// The asking guest: their own pending photos are included (or the X-Guest-Id header)
    #[allow(dead_code)] // read by RequestingGuest
    #[serde(rename = "userId")]
    #[param(rename = "userId", value_type = Option<Uuid>)]
    pub user_id: Option<String>,
    /// The host's token, as an alternative to the Authorization header (one that does not verify counts as none)
    #[param(value_type = Option<String>)]
    #[allow(dead_code)] // read by MaybeAuthHost
    pub access_token: Option<String>,
    /// Only the photos of this guest (their id; "my photos" with the asking guest's own id)
    #[param(value_type = Option<Uuid>)]
    pub uploader: Option<String>,
    /// `newest` (default) or `loved`: the most reactions first (not with `before`)
    #[param(value_type = Option<String>)]
    pub sort: Option<String>,
}

#[utoipa::path(get, path = "/pictures/session", tag = "pictures",
    params(GalleryQuery),
    responses(
        (status = 200, description = "The gallery, newest first (with an ETag; rendered pages are kept for at most 5 s and dropped when the event changes)", body = [PictureView]),
        (status = 304, description = "Unchanged since the ETag sent in If-None-Match"),
        (status = 400, description = "Missing or malformed parameters", body = ErrorBody),
        (status = 403, description = "The guest belongs to another event", body = ErrorBody),
        (status = 404, description = "Unknown event or guest", body = ErrorBody),
    ))]
pub async fn gallery(
    State(app): State<SharedState>,
    PublicBase(base): PublicBase,
    MaybeAuthHost(host): MaybeAuthHost,
    RequestingGuest(guest_id): RequestingGuest,
    headers: HeaderMap,
    Query(query): Query<GalleryQuery>,
) -> Result<Response, ApiError> {
    let event_id = required_uuid(query.session_id.as_deref(), "sessionId")?;
    let limit = match query.limit.as_deref().filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(
            v.parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::InvalidField,
                        format!("limit must be an integer from 1 to {MAX_PAGE}"),
                    )
                })?,
        ),
    };
    let request = PageRequest {
        event_id,
        host,
        guest_id,
        before: optional_uuid(query.before.as_deref(), "before")?,
        limit,
        uploader: optional_uuid(query.uploader.as_deref(), "uploader")?,
        order: match query.sort.as_deref().filter(|v| !v.is_empty()) {
            None | Some("newest") => PhotoOrder::Newest,
            Some("loved") => PhotoOrder::MostLoved,
            Some(_) => {
                return Err(ApiError::new(
                    ErrorCode::InvalidField,
                    "sort must be newest or loved",
                ));
            }
        },
    };
    let page = gallery::page(&app, request, &base, |content| {
        let mut body = Vec::with_capacity(64 + 1024 * content.photos.len());
        body.push(b'[');
        for (i, photo) in content.photos.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            // The photo's cached entry, then this page's counts as its last fields: the same
            // bytes as encoding the whole PictureView.
            let entry = content.entry(photo, |photo| {
                encode(&picture_view(&app, &base, photo.clone(), content.audience))
            })?;
            let counts = encode(&PageCounts {
                reactions: content.reactions.counts(photo.id),
                my_reaction: content.reactions.mine(photo.id),
                comment_count: content.comment_counts.get(&photo.id).copied().unwrap_or(0),
            })?;
            join_objects(&mut body, &entry, &counts);
        }
        body.push(b']');
        Ok(body)
    })
    .await?;
    Ok(page_response(&headers, page).await)
}

fn encode(value: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("cannot encode gallery: {e}")))
}

/// The per-page fields of a gallery entry, in [`PictureView`]'s order (its last three).
#[derive(Serialize)]
struct PageCounts {
    reactions: ReactionCounts,
    my_reaction: Option<Reaction>,
    comment_count: i64,
}

/// Appends the JSON objects `a` and `b` to `out` as one object: `a`'s fields, then `b`'s.
fn join_objects(out: &mut Vec<u8>, a: &[u8], b: &[u8]) {
    match (a.strip_suffix(b"}"), b.strip_prefix(b"{")) {
        (Some(head), Some(tail)) if tail != b"}" => {
            out.extend_from_slice(head);
            if head != b"{" {
                out.push(b',');
            }
            out.extend_from_slice(tail);
        }
        // `b` is empty (or neither is an object, which serde never gives): `a` as it is.
        _ => out.extend_from_slice(a),
    }
}

/// Brotli quality and gzip level of gallery pages: each page is compressed once and served to
/// every reader until the next change, which under a stream of uploads is seconds.
const PAGE_BROTLI_QUALITY: u32 = 5;
const PAGE_GZIP_LEVEL: u32 = 6;

/// The page in the coding the client prefers (compressed once per page, not per request), or
/// 304 when the client already holds it (`If-None-Match`).
async fn page_response(headers: &HeaderMap, page: Page) -> Response {
    let known = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == page.etag || tag.trim() == "*");
    let mut response = if known {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let encoded = match encoding::preferred(headers) {
            Coding::Brotli => page
                .encoded(PageCoding::Brotli, |body| {
                    encoding::brotli(body, PAGE_BROTLI_QUALITY)
                })
                .await
                .map(|body| (Coding::Brotli, body)),
            Coding::Gzip => page
                .encoded(PageCoding::Gzip, |body| {
                    encoding::gzip(body, PAGE_GZIP_LEVEL)
                })
                .await
                .map(|body| (Coding::Gzip, body)),
            Coding::Identity => None,
        };
        let (coding, body) = encoded.unwrap_or((Coding::Identity, page.body));
        let mut response = (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        // Set here, the router's compression layer leaves the body alone.
        if let Some(value) = coding.header_value() {
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, value);
        }
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(header::ETAG, page.etag);
    // Revalidate every time: photos arrive all the time, and a 304 is cheap.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `/pictures/{id}/…`: the picture a route is about.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PicturePath {
    /// The picture
    pub id: Uuid,
}

#[utoipa::path(delete, path = "/pictures/{id}", tag = "pictures",
    params(
        PicturePath,
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
    State(app): State<SharedState>,
    MaybeAuthHost(host): MaybeAuthHost,
    RequestingGuest(guest_id): RequestingGuest,
    Path(path): Path<PicturePath>,
) -> Result<StatusCode, ApiError> {
    moderation::delete(&app, host.as_ref(), guest_id, path.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/pictures/{id}/approve", tag = "pictures",
    params(PicturePath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Approved: now visible to everybody", body = PictureView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Not the event's host", body = ErrorBody),
        (status = 404, description = "Unknown picture", body = ErrorBody),
    ))]
pub async fn approve(
    State(app): State<SharedState>,
    PublicBase(base): PublicBase,
    AuthHost(host): AuthHost,
    Path(path): Path<PicturePath>,
) -> Result<Json<PictureView>, ApiError> {
    let photo = moderation::approve(&app, &host, path.id).await?;
    Ok(Json(picture_view(&app, &base, photo, Audience::Host)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Whole {
        id: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        video_url: Option<String>,
        reactions: ReactionCounts,
        my_reaction: Option<Reaction>,
        comment_count: i64,
    }

    #[derive(Serialize)]
    struct Entry {
        id: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        video_url: Option<String>,
    }

    #[test]
    fn an_entry_joined_with_its_page_counts_encodes_as_the_whole_view() {
        let reactions = ReactionCounts {
            heart: 2,
            ..ReactionCounts::default()
        };
        for video_url in [None, Some("https://s3/clip.mp4".to_owned())] {
            let whole = encode(&Whole {
                id: 7,
                video_url: video_url.clone(),
                reactions,
                my_reaction: None,
                comment_count: 3,
            })
            .expect("encode");
            let mut joined = Vec::new();
            join_objects(
                &mut joined,
                &encode(&Entry { id: 7, video_url }).expect("encode"),
                &encode(&PageCounts {
                    reactions,
                    my_reaction: None,
                    comment_count: 3,
                })
                .expect("encode"),
            );
            assert_eq!(String::from_utf8(joined), String::from_utf8(whole));
        }
    }
}
