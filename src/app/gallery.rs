//! The gallery: which photos a viewer sees (the domain's [`Visibility`]), page by page, with
//! rendered pages kept briefly in the [`GalleryCache`](super::gallery_cache::GalleryCache).

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use bytes::Bytes;
use url::Url;
use uuid::Uuid;

use super::{
    App, Error, ErrorCode, Host, Result, comments,
    gallery_cache::{GalleryCache, Lookup, Page},
    guests,
    reactions::{self, GalleryReactions},
};
use crate::{
    db::{EventRecord, PhotoOrder, PhotoQuery, PhotoRecord, ThumbStatus},
    domain::{
        media::MediaType,
        photo_key::PhotoKey,
        rules::EventRules,
        visibility::{Viewer, Visibility},
    },
};

/// Largest page of the gallery.
pub const MAX_PAGE: u32 = 1000;

pub struct PageRequest {
    pub event_id: Uuid,
    pub host: Option<Host>,
    pub guest_id: Option<Uuid>,
    /// Only photos older than this one (pagination).
    pub before: Option<Uuid>,
    pub limit: Option<u32>,
    /// Only this guest's photos (what the viewer may see of them).
    pub uploader: Option<Uuid>,
    pub order: PhotoOrder,
}

/// Who a photo's links are for. Only the event's host gets the original (with its metadata);
/// everybody else gets the metadata-free variants, or the placeholder until they exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Host,
    Guests,
}

impl From<Viewer> for Audience {
    fn from(viewer: Viewer) -> Self {
        match viewer {
            Viewer::Host => Self::Host,
            Viewer::Guest(_) | Viewer::Anonymous => Self::Guests,
        }
    }
}

/// The audience of a response about `event_id`: the host when `host` runs the event.
pub async fn audience(app: &App, event_id: Uuid, host: Option<&Host>) -> Result<Audience> {
    let Some(host) = host else {
        return Ok(Audience::Guests);
    };
    let event = app.event(event_id).await?;
    Ok(if app.host_role(&event, host).await?.is_some() {
        Audience::Host
    } else {
        Audience::Guests
    })
}

/// The image guests get while a photo's variants are being made; the web client ships it
/// (`web/assets/processing.svg`).
pub const PLACEHOLDER_PATH: &str = "/assets/processing.svg";
/// The image guests get for a photo whose variants could not be made (`web/assets/unavailable.svg`).
pub const UNAVAILABLE_PATH: &str = "/assets/unavailable.svg";

/// Where a client fetches a photo and its thumbnail.
pub struct PhotoLinks {
    /// The original for the host; the display copy (a clip's rendition), or the placeholder, for
    /// everybody else.
    pub url: String,
    /// The thumbnail; until it exists the original (host) or the placeholder (guests).
    pub thumb_url: String,
    /// Whether `url`/`thumb_url` are variants yet (`pending`, `ready`, `failed`).
    pub variants: ThumbStatus,
    /// A clip's web rendition once it exists, for everybody (the host's `url` is the original,
    /// which browsers may not play: HEVC, QuickTime).
    pub video_url: Option<String>,
}

pub fn links(app: &App, photo: &PhotoRecord, base: &Url, audience: Audience) -> PhotoLinks {
    let signed = |key: Option<&str>| {
        key.and_then(PhotoKey::parse)
            .map(|key| app.store.download_url(&key, base).to_string())
    };
    let thumb = signed(photo.thumb_key.as_deref());
    let rendition = PhotoKey::parse(&photo.object_key)
        .filter(|_| MediaType::mime_is_video(&photo.mimetype))
        .map(|key| app.store.download_url(&key.rendition(), base).to_string());
    let video_url = rendition
        .clone()
        .filter(|_| photo.thumb_status == ThumbStatus::Ready);
    let (url, thumb_url) = match audience {
        Audience::Host => {
            let original = signed(Some(&photo.object_key)).unwrap_or_default();
            let thumb_url = thumb.unwrap_or_else(|| original.clone());
            (original, thumb_url)
        }
        Audience::Guests => match (
            photo.thumb_status,
            // A clip's rendition key is derived, not stored: it exists once `ready`.
            rendition.or_else(|| signed(photo.display_key.as_deref())),
            thumb,
        ) {
            (ThumbStatus::Ready, Some(display), Some(thumb)) => (display, thumb),
            (status, ..) => {
                let mut placeholder = base.clone();
                placeholder.set_path(if status == ThumbStatus::Failed {
                    UNAVAILABLE_PATH
                } else {
                    PLACEHOLDER_PATH
                });
                placeholder.set_query(None);
                (placeholder.to_string(), placeholder.to_string())
            }
        },
    };
    PhotoLinks {
        url,
        thumb_url,
        variants: photo.thumb_status,
        video_url,
    }
}

/// The visible photos of a page and who they are rendered for.
pub struct PageContent<'a> {
    pub photos: Vec<PhotoRecord>,
    pub audience: Audience,
    pub reactions: GalleryReactions,
    /// Comments per photo (approved ones; for the host pending ones too).
    pub comment_counts: HashMap<Uuid, i64>,
    /// Where rendered entries are kept, with the hash of `base` for their keys.
    entries: Option<(&'a GalleryCache, u64)>,
    base: &'a Url,
}

impl PageContent<'_> {
    /// `photo` as `render` encodes it for this page's audience (its URLs signed), reused from
    /// an earlier page while the photo's record is unchanged and its URLs are fresh (see
    /// [`crate::app::gallery_cache::ENTRY_MAX_AGE`]). Reactions and comment counts change
    /// with every page and are not part of an entry.
    pub fn entry(
        &self,
        photo: &PhotoRecord,
        render: impl FnOnce(&PhotoRecord) -> Result<Vec<u8>>,
    ) -> Result<Bytes> {
        let Some((cache, base_hash)) = self.entries else {
            return render(photo).map(Bytes::from);
        };
        let key = GalleryCache::entry_key(photo.id, self.audience == Audience::Host, base_hash);
        if let Some(json) = cache.entry(&key, photo, self.base) {
            return Ok(json);
        }
        let json = Bytes::from(render(photo)?);
        cache.keep_entry(key, photo.clone(), self.base, json.clone());
        Ok(json)
    }
}

/// The image every guest may see of a photo (the cover, link previews): its display copy, or
/// the placeholder until it exists.
pub fn guest_image_url(app: &App, photo: &PhotoRecord, base: &Url) -> String {
    let display = photo
        .display_key
        .as_deref()
        .and_then(PhotoKey::parse)
        .filter(|_| photo.thumb_status == ThumbStatus::Ready);
    match display {
        // A clip's display copy is its poster frame: an image, unlike its `url`.
        Some(key) if MediaType::mime_is_video(&photo.mimetype) => {
            app.store.download_url(&key, base).to_string()
        }
        _ => links(app, photo, base, Audience::Guests).url,
    }
}

/// One page of the gallery as `render` encodes it, newest (or most loved) first; served from the cache while
/// nothing in the event changed.
pub async fn page(
    app: &App,
    request: PageRequest,
    base: &Url,
    render: impl FnOnce(PageContent) -> Result<Vec<u8>>,
) -> Result<Page> {
    let event_id = request.event_id;
    // Read before the database, so whatever is cached under it predates any later change.
    let cache = app
        .gallery_cache
        .as_ref()
        .zip(app.events.generation(event_id));
    let event = app.cached_event(event_id).await?;
    app.require_store()?;
    // A host token always takes the full check: it may be the owner's or a co-host's.
    let viewer = match request.guest_id {
        Some(id)
            if request.host.is_none()
                && cache.is_some_and(|(cache, _)| cache.guest_event(id) == Some(event.id)) =>
        {
            Viewer::Guest(id)
        }
        guest_id => {
            let viewer = guests::viewer(app, &event, request.host.as_ref(), guest_id).await?;
            if let (Viewer::Guest(id), Some((cache, _))) = (viewer, cache) {
                cache.keep_guest(id, event.id);
            }
            viewer
        }
    };
    let before = match request.before {
        None => None,
        Some(_) if request.order != PhotoOrder::Newest => {
            return Err(Error::new(
                ErrorCode::InvalidField,
                "before pages through the newest-first order only; use limit with sort=loved",
            ));
        }
        Some(id) => {
            let anchor = app
                .db
                .photo(id)
                .await?
                .filter(|p| p.event_id == event_id)
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::InvalidField,
                        "before must be the id of a picture in this session",
                    )
                })?;
            Some((anchor.created_at, anchor.id))
        }
    };
    let visibility = Visibility::new(viewer, &EventRules::from_settings(&event.settings));
    let mut query = PhotoQuery {
        uploader: request.uploader,
        order: request.order,
        ..visibility.query(before, request.limit)
    };
    // The viewer's own reactions are cached with the page, so the key names whose they are:
    // the guest's, or the owner's or a co-host's (both see the host view); anonymous pages carry
    // none. Reactions move the event's generation, so counts are as fresh as the photos.
    let mut reactor = match viewer {
        Viewer::Host => request.host.as_ref().map(|host| host.id),
        Viewer::Guest(id) => Some(id),
        Viewer::Anonymous => None,
    };
    // Most viewers of a busy event see the same page: one render per change then serves them
    // all, instead of one per viewer. Only cached pages are worth the extra read.
    if let Some((cache, generation)) = cache.filter(|_| query.before.is_none()) {
        let own = match viewer {
            // A guest's own approved photos are everybody's while everybody's are visible.
            Viewer::Guest(id) if query.approved_visible => Some(id),
            Viewer::Host => reactor,
            Viewer::Guest(_) | Viewer::Anonymous => None,
        };
        if let Some(id) = own
            && !personal_viewers(app, cache, event_id, generation)
                .await?
                .contains(&id)
        {
            // No reaction of theirs to mark, no photo only they see: everybody's page.
            query.viewer = None;
            reactor = None;
        }
    }
    let page_key = cache.and_then(|(_, generation)| {
        GalleryCache::page_key(
            event_id,
            generation,
            &query,
            Audience::from(visibility.viewer()) == Audience::Host,
            reactor,
            base,
        )
    });
    let lookup = match (cache, &page_key) {
        (Some((cache, _)), Some(key)) => cache.page_or_guard(key).await,
        _ => Lookup::Bypass,
    };
    let result = match (&lookup, &page_key) {
        (Lookup::Hit(_), _) => "hit",
        (Lookup::Miss(_), _) | (Lookup::Bypass, Some(_)) => "miss",
        (Lookup::Bypass, None) => "bypass",
    };
    app.metrics.gallery_cache.with_label_values(&[result]).inc();
    let guard = match lookup {
        Lookup::Hit(page) => return Ok(page),
        Lookup::Miss(guard) => Some(guard),
        Lookup::Bypass => None,
    };
    let photos = app.db.photos(event_id, query).await?;
    // The comment count differs for the host only (pending comments), whom the page key tells
    // apart.
    let social = app
        .db
        .gallery_social(event_id, reactor, comments::counts_include_pending(viewer))
        .await?;
    let page = Page::new(render(PageContent {
        photos,
        audience: visibility.viewer().into(),
        reactions: reactions::for_gallery(social.reactions, social.mine),
        comment_counts: social.comments.into_iter().collect(),
        entries: cache.map(|(cache, _)| (cache, GalleryCache::base_hash(base))),
        base,
    })?);
    if let Some(guard) = guard {
        GalleryCache::keep_page(guard, page.clone());
    }
    Ok(page)
}

/// Who sees a gallery of their own in the event as of `generation` (see
/// [`crate::db::Database::gallery_personal_viewers`]).
async fn personal_viewers(
    app: &App,
    cache: &GalleryCache,
    event_id: Uuid,
    generation: u64,
) -> Result<Arc<HashSet<Uuid>>> {
    if let Some(viewers) = cache.personal_viewers(event_id, generation) {
        return Ok(viewers);
    }
    let viewers = Arc::new(
        app.db
            .gallery_personal_viewers(event_id)
            .await?
            .into_iter()
            .collect::<HashSet<_>>(),
    );
    cache.keep_personal_viewers(event_id, generation, viewers.clone());
    Ok(viewers)
}

/// The viewer's visibility for an event, for live updates and downloads.
pub async fn visibility(
    app: &App,
    event: &EventRecord,
    host: Option<&Host>,
    guest_id: Option<Uuid>,
) -> Result<Visibility> {
    let viewer = guests::viewer(app, event, host, guest_id).await?;
    Ok(Visibility::new(
        viewer,
        &EventRules::from_settings(&event.settings),
    ))
}
