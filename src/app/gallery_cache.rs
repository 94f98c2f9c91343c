//! Rendered gallery pages, kept for a few seconds. A busy party means many phones reloading the
//! same gallery; a hit costs no database round trip and none of the ~100 URL signatures of a
//! 50-photo page.
//!
//! Entries are keyed on the event's change generation ([`crate::events::EventBus::generation`]),
//! read before the database is: a page is never served once a change to its event is known to
//! this replica. The replica that made a change knows at once; the others when PostgreSQL's
//! notification arrives (milliseconds). [`MAX_AGE`] bounds everything else, and keeps presigned
//! URLs in a served page far from their expiry.

use std::{
    hash::{Hash, Hasher},
    sync::Arc,
    time::{Duration, Instant},
};

use axum::http::HeaderValue;
use bytes::Bytes;
use quick_cache::{Weighter, sync::Cache};
use url::Url;
use uuid::Uuid;

use crate::db::{EventRecord, PhotoOrder, PhotoQuery};

/// The oldest page or event record served.
pub const MAX_AGE: Duration = Duration::from_secs(5);
const EVENTS_KEPT: usize = 10_000;
const GUESTS_KEPT: usize = 50_000;
/// For sizing the page table; the byte budget is what limits it.
const TYPICAL_PAGE_BYTES: u64 = 32 * 1024;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    session_id: Uuid,
    generation: u64,
    everything: bool,
    /// Host pages carry originals, every other page only variants: never served across.
    originals: bool,
    approved_visible: bool,
    viewer: Option<Uuid>,
    /// Whose own reactions the page marks (a guest, the owner or a co-host).
    reactor: Option<Uuid>,
    limit: Option<u32>,
    uploader: Option<Uuid>,
    order: PhotoOrder,
    /// Local-disk photo URLs are absolute URLs of the address the client used.
    base: String,
}

#[derive(Clone)]
pub struct Page {
    pub body: Bytes,
    pub etag: HeaderValue,
    made: Instant,
}

impl Page {
    pub fn new(body: Vec<u8>) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        body.hash(&mut hasher);
        let etag = HeaderValue::try_from(format!("\"{:016x}\"", hasher.finish()))
            .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        Self {
            body: body.into(),
            etag,
            made: Instant::now(),
        }
    }

    fn fresh(&self) -> bool {
        self.made.elapsed() < MAX_AGE
    }
}

#[derive(Clone)]
struct PageWeight;

impl Weighter<PageKey, Page> for PageWeight {
    fn weight(&self, key: &PageKey, page: &Page) -> u64 {
        (page.body.len() + key.base.len() + 128) as u64
    }
}

pub struct GalleryCache {
    pages: Cache<PageKey, Page, PageWeight>,
    events: Cache<(Uuid, u64), (Arc<EventRecord>, Instant)>,
    /// Guest → their event. Guests never move between events, so this never goes stale.
    guests: Cache<Uuid, Uuid>,
}

impl GalleryCache {
    /// `None` when the budget is 0: no caching.
    pub fn new(budget_bytes: u64) -> Option<Self> {
        (budget_bytes > 0).then(|| Self {
            pages: Cache::with_weighter(
                (budget_bytes / TYPICAL_PAGE_BYTES).max(16) as usize,
                budget_bytes,
                PageWeight,
            ),
            events: Cache::new(EVENTS_KEPT),
            guests: Cache::new(GUESTS_KEPT),
        })
    }

    /// The key of a gallery page; paginated requests (`before`) are not cached.
    pub fn page_key(
        session_id: Uuid,
        generation: u64,
        query: &PhotoQuery,
        originals: bool,
        reactor: Option<Uuid>,
        base: &Url,
    ) -> Option<PageKey> {
        query.before.is_none().then(|| PageKey {
            session_id,
            generation,
            everything: query.everything,
            originals,
            approved_visible: query.approved_visible,
            viewer: query.viewer,
            reactor,
            limit: query.limit,
            uploader: query.uploader,
            order: query.order,
            base: base.as_str().to_owned(),
        })
    }

    pub fn page(&self, key: &PageKey) -> Option<Page> {
        self.pages.get(key).filter(Page::fresh)
    }

    pub fn keep_page(&self, key: PageKey, page: Page) {
        self.pages.insert(key, page);
    }

    pub fn event(&self, session_id: Uuid, generation: u64) -> Option<Arc<EventRecord>> {
        self.events
            .get(&(session_id, generation))
            .filter(|(_, loaded)| loaded.elapsed() < MAX_AGE)
            .map(|(session, _)| session)
    }

    pub fn keep_event(&self, generation: u64, session: Arc<EventRecord>) {
        self.events
            .insert((session.id, generation), (session, Instant::now()));
    }

    pub fn guest_event(&self, guest_id: Uuid) -> Option<Uuid> {
        self.guests.get(&guest_id)
    }

    pub fn keep_guest(&self, guest_id: Uuid, session_id: Uuid) {
        self.guests.insert(guest_id, session_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(before: bool) -> PhotoQuery {
        PhotoQuery {
            everything: false,
            approved_visible: true,
            viewer: None,
            before: before.then(|| (chrono::Utc::now(), Uuid::new_v4())),
            limit: Some(50),
            uploader: None,
            order: crate::db::PhotoOrder::Newest,
        }
    }

    #[test]
    fn pages_are_keyed_on_generation_and_pagination_is_not_cached() {
        let cache = GalleryCache::new(1024 * 1024).expect("cache");
        let base = Url::parse("http://127.0.0.1:8080/").expect("url");
        let session = Uuid::new_v4();
        assert!(GalleryCache::page_key(session, 1, &query(true), false, None, &base).is_none());
        let key =
            GalleryCache::page_key(session, 1, &query(false), false, None, &base).expect("key");
        cache.keep_page(key.clone(), Page::new(b"[]".to_vec()));
        assert_eq!(
            cache.page(&key).expect("hit").body,
            Bytes::from_static(b"[]")
        );
        let next =
            GalleryCache::page_key(session, 2, &query(false), false, None, &base).expect("key");
        assert!(cache.page(&next).is_none());
    }

    #[test]
    fn a_host_page_is_never_a_guest_page() {
        let cache = GalleryCache::new(1024 * 1024).expect("cache");
        let base = Url::parse("http://127.0.0.1:8080/").expect("url");
        let session = Uuid::new_v4();
        let host =
            GalleryCache::page_key(session, 1, &query(false), true, None, &base).expect("key");
        cache.keep_page(host, Page::new(b"[\"original\"]".to_vec()));
        let guest =
            GalleryCache::page_key(session, 1, &query(false), false, None, &base).expect("key");
        assert!(cache.page(&guest).is_none());
    }

    #[test]
    fn the_owners_page_is_never_a_co_hosts_page() {
        // Both see the host view, but each page marks its reader's own reactions.
        let cache = GalleryCache::new(1024 * 1024).expect("cache");
        let base = Url::parse("http://127.0.0.1:8080/").expect("url");
        let session = Uuid::new_v4();
        let key = |reactor| {
            GalleryCache::page_key(session, 1, &query(false), true, Some(reactor), &base)
                .expect("key")
        };
        let (owner, co_host) = (Uuid::new_v4(), Uuid::new_v4());
        cache.keep_page(key(owner), Page::new(b"[\"mine\"]".to_vec()));
        assert!(cache.page(&key(co_host)).is_none());
        assert!(cache.page(&key(owner)).is_some());
    }

    #[test]
    fn equal_bodies_have_equal_etags() {
        assert_eq!(
            Page::new(b"[1]".to_vec()).etag,
            Page::new(b"[1]".to_vec()).etag
        );
        assert_ne!(
            Page::new(b"[1]".to_vec()).etag,
            Page::new(b"[2]".to_vec()).etag
        );
    }

    #[test]
    fn a_zero_budget_disables_the_cache() {
        assert!(GalleryCache::new(0).is_none());
    }
}
