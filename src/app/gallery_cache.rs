//! Rendered gallery pages, kept for a few seconds. A busy party means many phones reloading the
//! same gallery; a hit costs no database round trip and none of the ~100 URL signatures of a
//! 50-photo page.
//!
//! Entries are keyed on the event's change generation ([`crate::events::EventBus::generation`]),
//! read before the database is: a page is never served once a change to its event is known to
//! this replica. The replica that made a change knows at once; the others when PostgreSQL's
//! notification arrives (milliseconds). [`MAX_AGE`] bounds everything else, and keeps presigned
//! URLs in a served page far from their expiry. Only one request renders a missing page; the
//! others asking for it meanwhile wait for it instead of rendering it too.
//!
//! Every upload changes its event, so under a stream of uploads few pages live long. What does
//! live is a photo's rendered entry (its JSON with signed URLs): a page is assembled
//! from those and only the new or changed photos are rendered and signed again.

use std::{
    collections::HashSet,
    hash::{Hash, Hasher},
    sync::Arc,
    time::{Duration, Instant},
};

use axum::http::HeaderValue;
use bytes::Bytes;
use quick_cache::{
    DefaultHashBuilder, Weighter,
    sync::{Cache, DefaultLifecycle, EntryAction, EntryResult, PlaceholderGuard},
};
use tokio::sync::OnceCell;
use url::Url;
use uuid::Uuid;

use crate::db::{EventRecord, PhotoOrder, PhotoQuery, PhotoRecord};

/// The oldest page or event record served.
pub const MAX_AGE: Duration = Duration::from_secs(5);

/// Whether a page or event record made at `made` may still be served at `now`.
fn within_max_age(made: Instant, now: Instant) -> bool {
    now.saturating_duration_since(made) < MAX_AGE
}
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

/// The content codings a page is kept in besides its plain body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageCoding {
    Brotli,
    Gzip,
}

#[derive(Clone)]
pub struct Page {
    pub body: Bytes,
    pub etag: HeaderValue,
    made: Instant,
    /// The body in each [`PageCoding`] (`None`: not smaller), made by the first request that
    /// takes it and shared by every copy of this page.
    encoded: Arc<[OnceCell<Option<Bytes>>; 2]>,
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
            encoded: Arc::default(),
        }
    }

    /// The body in `coding`, made by `encode` once per page: compressing a large gallery costs
    /// far more than serving it, and phones all ask for br or gzip. `None` when `encode` gives
    /// none (the body does not get smaller).
    pub async fn encoded(
        &self,
        coding: PageCoding,
        encode: fn(&[u8]) -> Option<Bytes>,
    ) -> Option<Bytes> {
        let slot = match coding {
            PageCoding::Brotli => 0,
            PageCoding::Gzip => 1,
        };
        let body = self.body.clone();
        self.encoded[slot]
            .get_or_init(|| async move {
                // Milliseconds for a large page: not on the async threads.
                tokio::task::spawn_blocking(move || encode(&body))
                    .await
                    .ok()
                    .flatten()
            })
            .await
            .clone()
    }

    fn fresh(&self) -> bool {
        self.fresh_at(Instant::now())
    }

    fn fresh_at(&self, now: Instant) -> bool {
        within_max_age(self.made, now)
    }
}

#[derive(Clone)]
struct PageWeight;

impl Weighter<PageKey, Page> for PageWeight {
    fn weight(&self, key: &PageKey, page: &Page) -> u64 {
        // A quarter more for the compressed copies made later (a fifth of the body or less).
        (page.body.len() * 5 / 4 + key.base.len() + 128) as u64
    }
}

/// A photo's entry for one audience at one base address. The base is hashed to keep lookups
/// free of allocations; the entry holds the base itself, so a collision is a miss.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntryKey {
    photo_id: Uuid,
    /// Host entries carry the original, guest entries never: never served across.
    originals: bool,
    base_hash: u64,
}

/// One photo rendered for a gallery (its JSON object with signed URLs, without the per-page
/// reactions and comment count), with the record it was rendered from.
struct Entry {
    /// Reused only for a photo whose record still equals this one: an approval, a new
    /// thumbnail or any other change of the photo renders it again.
    photo: PhotoRecord,
    base: String,
    json: Bytes,
    made: Instant,
}

impl Entry {
    fn fresh_at(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.made) < ENTRY_MAX_AGE
    }
}

/// How long a rendered entry is reused: half the lifetime of the URLs it holds, so every URL a
/// gallery hands out stays valid for at least half an hour ([`crate::store::DOWNLOAD_URL_TTL`]).
pub const ENTRY_MAX_AGE: Duration =
    Duration::from_secs(crate::store::DOWNLOAD_URL_TTL.as_secs() / 2);
/// For sizing the entry table; the byte budget is what limits it.
const TYPICAL_ENTRY_BYTES: u64 = 1536;

#[derive(Clone)]
struct EntryWeight;

impl Weighter<EntryKey, Arc<Entry>> for EntryWeight {
    fn weight(&self, _key: &EntryKey, entry: &Arc<Entry>) -> u64 {
        // The record's strings and the base are about as long as the URLs in the JSON.
        (2 * entry.json.len() + entry.base.len() + 256) as u64
    }
}

/// A page being rendered by this request: whoever else asks for it waits for `keep_page`.
pub struct PageGuard<'a>(
    PlaceholderGuard<
        'a,
        PageKey,
        Page,
        PageWeight,
        DefaultHashBuilder,
        DefaultLifecycle<PageKey, Page>,
    >,
);

/// What [`GalleryCache::page_or_guard`] found.
pub enum Lookup<'a> {
    Hit(Page),
    /// Render the page, then hand it to [`GalleryCache::keep_page`].
    Miss(PageGuard<'a>),
    /// Render the page and keep it nowhere.
    Bypass,
}

/// Who sees a gallery of their own in an event (see [`GalleryCache::personal_viewers`]).
pub type PersonalViewers = Arc<HashSet<Uuid>>;

/// Values per event and change generation, served for [`MAX_AGE`] at most.
struct PerGeneration<V>(Cache<(Uuid, u64), (V, Instant)>);

impl<V: Clone> PerGeneration<V> {
    fn new() -> Self {
        Self(Cache::new(EVENTS_KEPT))
    }

    fn get(&self, session_id: Uuid, generation: u64) -> Option<V> {
        self.0
            .get(&(session_id, generation))
            .filter(|(_, loaded)| within_max_age(*loaded, Instant::now()))
            .map(|(value, _)| value)
    }

    fn keep(&self, session_id: Uuid, generation: u64, value: V) {
        self.0
            .insert((session_id, generation), (value, Instant::now()));
    }

    fn sweep_at(&self, now: Instant) {
        self.0.retain(|_, (_, loaded)| within_max_age(*loaded, now));
    }
}

pub struct GalleryCache {
    pages: Cache<PageKey, Page, PageWeight>,
    entries: Cache<EntryKey, Arc<Entry>, EntryWeight>,
    events: PerGeneration<Arc<EventRecord>>,
    /// Who sees a gallery of their own (`Database::gallery_personal_viewers`).
    personal_viewers: PerGeneration<PersonalViewers>,
    /// Guest → their event. Guests never move between events, so this never goes stale.
    guests: Cache<Uuid, Uuid>,
}

impl GalleryCache {
    /// `None` when the budget is 0: no caching. Pages and photo entries get half each.
    pub fn new(budget_bytes: u64) -> Option<Self> {
        let half = budget_bytes / 2;
        (budget_bytes > 0).then(|| Self {
            pages: Cache::with_weighter(
                (half / TYPICAL_PAGE_BYTES).max(16) as usize,
                half.max(1),
                PageWeight,
            ),
            entries: Cache::with_weighter(
                (half / TYPICAL_ENTRY_BYTES).max(16) as usize,
                half.max(1),
                EntryWeight,
            ),
            events: PerGeneration::new(),
            personal_viewers: PerGeneration::new(),
            guests: Cache::new(GUESTS_KEPT),
        })
    }

    /// Drops what can no longer be served: pages and event records past [`MAX_AGE`], entries
    /// past their reuse. Under a stream of uploads every page is replaced within seconds; the
    /// dead ones filled the byte budget (32 MB by default) and stayed until evicted.
    pub fn sweep(&self) {
        self.sweep_at(Instant::now());
    }

    fn sweep_at(&self, now: Instant) {
        self.pages.retain(|_, page| page.fresh_at(now));
        self.entries.retain(|_, entry| entry.fresh_at(now));
        self.events.sweep_at(now);
        self.personal_viewers.sweep_at(now);
    }

    /// The hash of a base address for [`Self::entry_key`] (once per page, not per photo).
    pub fn base_hash(base: &Url) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        base.as_str().hash(&mut hasher);
        hasher.finish()
    }

    pub fn entry_key(photo_id: Uuid, originals: bool, base_hash: u64) -> EntryKey {
        EntryKey {
            photo_id,
            originals,
            base_hash,
        }
    }

    /// The entry rendered for `photo` as it is now, while its URLs are fresh.
    pub fn entry(&self, key: &EntryKey, photo: &PhotoRecord, base: &Url) -> Option<Bytes> {
        self.entries
            .get(key)
            .filter(|e| e.fresh_at(Instant::now()) && e.base == base.as_str())
            .filter(|e| e.photo == *photo)
            .map(|e| e.json.clone())
    }

    pub fn keep_entry(&self, key: EntryKey, photo: PhotoRecord, base: &Url, json: Bytes) {
        let entry = Entry {
            photo,
            base: base.as_str().to_owned(),
            json,
            made: Instant::now(),
        };
        self.entries.insert(key, Arc::new(entry));
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

    #[cfg(test)]
    fn page(&self, key: &PageKey) -> Option<Page> {
        self.pages.get(key).filter(Page::fresh)
    }

    /// The fresh page under `key`, or the right to render it. While one request renders a
    /// page, the others asking for it wait for that page (a burst of readers after each upload
    /// renders it once, not once per reader).
    pub async fn page_or_guard(&self, key: &PageKey) -> Lookup<'_> {
        let found = self
            .pages
            .entry_async(key, |_, page| {
                if page.fresh() {
                    EntryAction::Retain(page.clone())
                } else {
                    EntryAction::ReplaceWithGuard
                }
            })
            .await;
        match found {
            EntryResult::Retained(page) => Lookup::Hit(page),
            EntryResult::Vacant(guard) | EntryResult::Replaced(guard, _) => {
                Lookup::Miss(PageGuard(guard))
            }
            // Neither happens (nothing here removes, and an unbounded wait does not time out);
            // were they to, the page is rendered and not kept.
            EntryResult::Removed(..) | EntryResult::Timeout => Lookup::Bypass,
        }
    }

    /// Keeps the page rendered under `guard` and hands it to the requests waiting for it.
    pub fn keep_page(guard: PageGuard<'_>, page: Page) {
        // A guard whose key was replaced meanwhile gives the page to its waiters only.
        let _ = guard.0.insert(page);
    }

    pub fn event(&self, session_id: Uuid, generation: u64) -> Option<Arc<EventRecord>> {
        self.events.get(session_id, generation)
    }

    pub fn keep_event(&self, generation: u64, session: Arc<EventRecord>) {
        self.events.keep(session.id, generation, session);
    }

    pub fn personal_viewers(&self, session_id: Uuid, generation: u64) -> Option<PersonalViewers> {
        self.personal_viewers.get(session_id, generation)
    }

    pub fn keep_personal_viewers(
        &self,
        session_id: Uuid,
        generation: u64,
        viewers: PersonalViewers,
    ) {
        self.personal_viewers.keep(session_id, generation, viewers);
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

    /// Keeps `page` the way a request that rendered it does.
    async fn keep(cache: &GalleryCache, key: PageKey, page: Page) {
        match cache.page_or_guard(&key).await {
            Lookup::Miss(guard) => GalleryCache::keep_page(guard, page),
            Lookup::Hit(_) | Lookup::Bypass => panic!("the page was not missing"),
        }
    }

    #[tokio::test]
    async fn a_page_is_compressed_once_for_all_its_copies() {
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        fn encode(body: &[u8]) -> Option<Bytes> {
            CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Some(Bytes::from(body.iter().rev().copied().collect::<Vec<_>>()))
        }
        let page = Page::new(b"[1,2]".to_vec());
        let copy = page.clone();
        let (a, b) = tokio::join!(
            page.encoded(PageCoding::Brotli, encode),
            copy.encoded(PageCoding::Brotli, encode)
        );
        assert_eq!(a.as_deref(), Some(&b"]2,1["[..]));
        assert_eq!(a, b);
        assert_eq!(CALLS.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Each coding is its own copy; a coding that gives nothing stays nothing.
        assert_eq!(copy.encoded(PageCoding::Gzip, |_| None).await, None);
        assert_eq!(page.encoded(PageCoding::Gzip, encode).await, None);
        assert_eq!(CALLS.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn pages_are_keyed_on_generation_and_pagination_is_not_cached() {
        let cache = GalleryCache::new(1024 * 1024).expect("cache");
        let base = Url::parse("http://127.0.0.1:8080/").expect("url");
        let session = Uuid::new_v4();
        assert!(GalleryCache::page_key(session, 1, &query(true), false, None, &base).is_none());
        let key =
            GalleryCache::page_key(session, 1, &query(false), false, None, &base).expect("key");
        keep(&cache, key.clone(), Page::new(b"[]".to_vec())).await;
        assert_eq!(
            cache.page(&key).expect("hit").body,
            Bytes::from_static(b"[]")
        );
        let next =
            GalleryCache::page_key(session, 2, &query(false), false, None, &base).expect("key");
        assert!(cache.page(&next).is_none());
    }

    #[tokio::test]
    async fn a_sweep_drops_what_can_no_longer_be_served() {
        let cache = GalleryCache::new(1024 * 1024).expect("cache");
        let base = Url::parse("http://127.0.0.1:8080/").expect("url");
        let key = GalleryCache::page_key(Uuid::new_v4(), 1, &query(false), false, None, &base)
            .expect("key");
        keep(&cache, key.clone(), Page::new(b"[]".to_vec())).await;
        let photo = photo();
        let entry = GalleryCache::entry_key(photo.id, false, GalleryCache::base_hash(&base));
        cache.keep_entry(entry, photo.clone(), &base, Bytes::from_static(b"{}"));
        let event = Arc::new(EventRecord {
            id: photo.event_id,
            host_id: Uuid::new_v4(),
            settings: serde_json::json!({}),
            missions: crate::domain::missions::MissionList::defaults(),
            created_at: chrono::Utc::now(),
            ends_at: chrono::Utc::now(),
            join_code: None,
        });
        cache.keep_event(7, event.clone());

        cache.sweep();
        assert!(cache.page(&key).is_some(), "fresh ones stay");
        assert!(cache.event(event.id, 7).is_some());
        cache.sweep_at(Instant::now() + MAX_AGE);
        assert_eq!(cache.pages.len(), 0);
        assert_eq!(cache.events.0.len(), 0);
        assert!(
            cache.entry(&entry, &photo, &base).is_some(),
            "entries live longer"
        );
        cache.sweep_at(Instant::now() + ENTRY_MAX_AGE);
        assert_eq!(cache.entries.len(), 0);
    }

    #[tokio::test]
    async fn a_host_page_is_never_a_guest_page() {
        let cache = GalleryCache::new(1024 * 1024).expect("cache");
        let base = Url::parse("http://127.0.0.1:8080/").expect("url");
        let session = Uuid::new_v4();
        let host =
            GalleryCache::page_key(session, 1, &query(false), true, None, &base).expect("key");
        keep(&cache, host, Page::new(b"[\"original\"]".to_vec())).await;
        let guest =
            GalleryCache::page_key(session, 1, &query(false), false, None, &base).expect("key");
        assert!(cache.page(&guest).is_none());
    }

    #[tokio::test]
    async fn the_owners_page_is_never_a_co_hosts_page() {
        // Both see the host view, but each page marks its reader's own reactions.
        let cache = GalleryCache::new(1024 * 1024).expect("cache");
        let base = Url::parse("http://127.0.0.1:8080/").expect("url");
        let session = Uuid::new_v4();
        let key = |reactor| {
            GalleryCache::page_key(session, 1, &query(false), true, Some(reactor), &base)
                .expect("key")
        };
        let (owner, co_host) = (Uuid::new_v4(), Uuid::new_v4());
        keep(&cache, key(owner), Page::new(b"[\"mine\"]".to_vec())).await;
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

    #[tokio::test]
    async fn readers_of_a_page_being_rendered_wait_for_it_instead_of_rendering_it_again() {
        let cache = Arc::new(GalleryCache::new(1024 * 1024).expect("cache"));
        let base = Url::parse("http://127.0.0.1:8080/").expect("url");
        let key = GalleryCache::page_key(Uuid::new_v4(), 1, &query(false), false, None, &base)
            .expect("key");
        let Lookup::Miss(guard) = cache.page_or_guard(&key).await else {
            panic!("an empty cache has no page");
        };
        let waiter = tokio::spawn({
            let (cache, key) = (cache.clone(), key.clone());
            async move {
                match cache.page_or_guard(&key).await {
                    Lookup::Hit(page) => page.body,
                    Lookup::Miss(_) | Lookup::Bypass => Bytes::from_static(b"rendered twice"),
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiter.is_finished(),
            "the second reader waits for the first"
        );
        GalleryCache::keep_page(guard, Page::new(b"[1]".to_vec()));
        assert_eq!(waiter.await.expect("waiter"), Bytes::from_static(b"[1]"));
    }

    fn photo() -> PhotoRecord {
        PhotoRecord {
            id: Uuid::new_v4(),
            event_id: Uuid::new_v4(),
            uploader_name: "Ana".into(),
            original_filename: "cake.jpg".into(),
            object_key: "e/p.jpg".into(),
            bucket: "photos".into(),
            mimetype: "image/jpeg".into(),
            filesize_bytes: 1000,
            mission_id: None,
            created_at: chrono::Utc::now(),
            guest_id: None,
            status: crate::db::PhotoStatus::Pending,
            content_hash: None,
            thumb_key: None,
            display_key: None,
            thumb_status: crate::db::ThumbStatus::Pending,
            duration_ms: None,
        }
    }

    #[test]
    fn an_entry_is_reused_only_for_the_photo_as_it_was_rendered() {
        let cache = GalleryCache::new(1024 * 1024).expect("cache");
        let base = Url::parse("http://127.0.0.1:8080/").expect("url");
        let hash = GalleryCache::base_hash(&base);
        let photo = photo();
        let key = GalleryCache::entry_key(photo.id, false, hash);
        cache.keep_entry(
            key,
            photo.clone(),
            &base,
            Bytes::from_static(b"{\"pending\":1}"),
        );
        assert!(cache.entry(&key, &photo, &base).is_some());
        let approved = PhotoRecord {
            status: crate::db::PhotoStatus::Approved,
            ..photo.clone()
        };
        assert!(cache.entry(&key, &approved, &base).is_none());
        let thumbnailed = PhotoRecord {
            thumb_status: crate::db::ThumbStatus::Ready,
            thumb_key: Some("e/p.thumb.jpg".into()),
            display_key: Some("e/p.display.jpg".into()),
            ..photo.clone()
        };
        assert!(cache.entry(&key, &thumbnailed, &base).is_none());
    }

    #[test]
    fn a_host_entry_is_never_a_guest_entry_nor_one_for_another_address() {
        let cache = GalleryCache::new(1024 * 1024).expect("cache");
        let base = Url::parse("http://127.0.0.1:8080/").expect("url");
        let other = Url::parse("http://192.168.1.2:8080/").expect("url");
        let photo = photo();
        let host = GalleryCache::entry_key(photo.id, true, GalleryCache::base_hash(&base));
        cache.keep_entry(
            host,
            photo.clone(),
            &base,
            Bytes::from_static(b"{\"original\":1}"),
        );
        let guest = GalleryCache::entry_key(photo.id, false, GalleryCache::base_hash(&base));
        assert!(cache.entry(&guest, &photo, &base).is_none());
        // Even were two addresses to hash alike, the entry names its own.
        assert!(cache.entry(&host, &photo, &other).is_none());
        let elsewhere = GalleryCache::entry_key(photo.id, true, GalleryCache::base_hash(&other));
        assert!(cache.entry(&elsewhere, &photo, &other).is_none());
    }

    #[test]
    fn an_entry_is_reused_while_at_least_half_of_its_urls_lifetime_remains() {
        assert_eq!(
            ENTRY_MAX_AGE * 2,
            crate::store::DOWNLOAD_URL_TTL,
            "served URLs keep at least half their lifetime"
        );
        let cache = GalleryCache::new(1024 * 1024).expect("cache");
        let base = Url::parse("http://127.0.0.1:8080/").expect("url");
        let photo = photo();
        let key = GalleryCache::entry_key(photo.id, false, GalleryCache::base_hash(&base));
        cache.keep_entry(key, photo.clone(), &base, Bytes::from_static(b"{}"));
        let entry = cache.entries.get(&key).expect("kept");
        assert!(entry.fresh_at(entry.made + ENTRY_MAX_AGE - Duration::from_secs(1)));
        assert!(!entry.fresh_at(entry.made + ENTRY_MAX_AGE));
        assert!(cache.entry(&key, &photo, &base).is_some());
    }

    #[test]
    fn a_zero_budget_disables_the_cache() {
        assert!(GalleryCache::new(0).is_none());
    }
}
