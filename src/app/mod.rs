//! The application layer: one module per workflow. A workflow takes typed input (a command built
//! at the HTTP edge), applies the domain's rules, and talks to the database and the object store.
//! The HTTP layer calls workflows and maps their results; it never touches storage itself.

pub mod admin;
pub mod cohosts;
pub mod comments;
pub mod error;
pub mod event_archive;
pub mod events;
pub mod export;
pub mod gallery;
pub mod gallery_cache;
pub mod guestbook;
pub mod guestbook_page;
pub mod guests;
pub mod health;
pub mod heartbeats;
pub mod hosts;
pub mod invite;
pub mod live;
pub mod local_files;
pub mod moderation;
pub mod multipart;
pub mod password_reset;
pub mod processing;
pub mod reactions;
pub mod retention;
pub mod throttle;
pub mod uploads;

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use chrono::{DateTime, Utc};
use url::Url;
use uuid::Uuid;

pub use error::{Error, ErrorCode, Result};

use crate::{
    db::{Database, EventRecord, PhotoRecord},
    domain::{host_role::HostRole, password::PasswordHasher, token::TokenIssuer},
    events::EventBus,
    metrics::Metrics,
    store::{PhotoStore, fs::FilesystemStore},
};

/// Everything the workflows need, built once at start and shared by every request.
pub struct App {
    pub db: Arc<dyn Database>,
    pub store: Arc<dyn PhotoStore>,
    /// Set when photos live on the local disk: `/uploads` is then served by this server.
    pub local_store: Option<Arc<FilesystemStore>>,
    pub hasher: PasswordHasher,
    pub tokens: TokenIssuer,
    pub metrics: Metrics,
    pub public_url: Option<Url>,
    /// Without `public_url`: this machine's LAN base URLs, best first (see [`invite`]).
    pub lan_urls: Vec<Url>,
    pub max_upload_bytes: u64,
    /// `MAX_VIDEO_BYTES` and `MAX_VIDEO_SECS`.
    pub video_limits: crate::config::VideoLimits,
    /// Whether ffprobe and ffmpeg are installed; without them clips are refused at finalize.
    pub video_tools: bool,
    /// Nice value of the video probe at finalize (`WORKER_NICE`).
    pub worker_nice: i32,
    /// Cancelled when shutdown begins: readiness turns 503, long-lived streams (live events) end
    /// and the drain finishes.
    pub shutdown: tokio_util::sync::CancellationToken,
    pub events: EventBus,
    /// Rendered gallery pages; `None` when GALLERY_CACHE_MB is 0.
    pub gallery_cache: Option<gallery_cache::GalleryCache>,
    /// Guests' latest heartbeats, written behind; `None` when HEARTBEAT_FLUSH_MS is 0 (each
    /// beat is written at once).
    pub heartbeats: Option<heartbeats::HeartbeatBuffer>,
    /// Runs the photos' processing jobs (variants); woken by each finalize here.
    pub processing: Arc<processing::Processing>,
    pub auth_limiter: Option<throttle::AuthRateLimiter>,
    /// Join-code lookups per client address; `None` when off.
    pub join_code_limiter: Option<throttle::AuthRateLimiter>,
    /// Wrong event PINs per event and client address (`RATE_LIMIT_JOIN_PIN_*`).
    pub join_pin_limit: throttle::PinAttemptLimit,
    /// Kept current by a background probe; uploads and galleries answer 503 while it is false.
    pub store_available: AtomicBool,
    /// Events are deleted this long after their end (`RETENTION_DAYS`); `None` = never.
    pub retention: Option<chrono::TimeDelta>,
    /// Sends password-reset links; `None` without `SMTP_URL`.
    pub mailer: Option<Arc<crate::mail::Mailer>>,
    pub reset_limiter: throttle::AddressRateLimiter,
    /// Reactions per guest or host.
    pub reaction_limiter: throttle::ReactionRateLimiter,
    /// Comments per guest or host (the same kind of per-person limit).
    pub comment_limiter: throttle::ReactionRateLimiter,
    /// Co-host links an owner makes (the same kind of per-person limit).
    pub cohost_invite_limiter: throttle::ReactionRateLimiter,
    /// Guestbook messages per guest or host.
    pub guestbook_limiter: throttle::ReactionRateLimiter,
    /// Bytes of photos per event (`EVENT_QUOTA_MB`) and per host (`HOST_QUOTA_MB`).
    pub event_quota_bytes: Option<u64>,
    pub host_quota_bytes: Option<u64>,
}

/// The authenticated host making a request (from a verified token).
#[derive(Debug, Clone)]
pub struct Host {
    pub id: Uuid,
    pub email: String,
}

impl App {
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// 503 while the object store is unreachable: photos can be neither stored nor shown.
    pub fn require_store(&self) -> Result<()> {
        if self.store_available.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err(Error::storage_unavailable(5))
        }
    }

    /// The event, or `event.not_found`.
    pub async fn event(&self, id: Uuid) -> Result<EventRecord> {
        self.db.event(id).await?.ok_or_else(Error::event_not_found)
    }

    /// The event for reading, from the gallery cache while the record did not change (keyed on
    /// its record generation, read before the database: photos coming in leave it cached).
    /// Workflows that change an event read it with [`App::event`].
    pub async fn cached_event(&self, id: Uuid) -> Result<Arc<EventRecord>> {
        let cache = self
            .gallery_cache
            .as_ref()
            .zip(self.events.record_generation(id));
        if let Some(event) = cache.and_then(|(cache, generation)| cache.event(id, generation)) {
            return Ok(event);
        }
        let event = Arc::new(self.event(id).await?);
        if let Some((cache, generation)) = cache {
            cache.keep_event(generation, event.clone());
        }
        Ok(event)
    }

    /// The photo, or `photo.not_found`.
    pub async fn photo(&self, id: Uuid) -> Result<PhotoRecord> {
        self.db.photo(id).await?.ok_or_else(Error::photo_not_found)
    }

    /// The role `host` holds at `event`: its owner, a co-host, or none. Every host check asks
    /// this (through [`App::require_host`] and the functions built on it).
    pub async fn host_role(&self, event: &EventRecord, host: &Host) -> Result<Option<HostRole>> {
        if host.id == event.host_id {
            return Ok(Some(HostRole::Owner));
        }
        Ok(self
            .db
            .is_co_host(event.id, host.id)
            .await?
            .then_some(HostRole::CoHost))
    }

    /// Everybody who runs `event`: its owner, then its co-hosts.
    pub async fn host_ids(&self, event: &EventRecord) -> Result<Vec<Uuid>> {
        let co_hosts = self.db.co_hosts(event.id).await?;
        Ok(std::iter::once(event.host_id)
            .chain(co_hosts.into_iter().map(|co_host| co_host.host_id))
            .collect())
    }

    /// The asker's role at `event`, or `auth.missing_token` / `event.not_host`.
    pub async fn require_host(&self, event: &EventRecord, host: Option<&Host>) -> Result<HostRole> {
        let Some(host) = host else {
            return Err(Error::new(ErrorCode::MissingToken, "Missing bearer token"));
        };
        self.host_role(event, host).await?.ok_or_else(not_host)
    }

    /// The event when `host` runs it (as its owner or a co-host): `event.not_found` or
    /// `event.not_host` otherwise.
    pub async fn hosted_event(&self, host: &Host, id: Uuid) -> Result<EventRecord> {
        let event = self.event(id).await?;
        self.require_host(&event, Some(host)).await?;
        Ok(event)
    }

    /// The event when `host` owns it: `event.owner_only` for its co-hosts, `event.not_host` for
    /// everybody else.
    pub async fn owned_event(&self, host: &Host, id: Uuid) -> Result<EventRecord> {
        let event = self.event(id).await?;
        match self.require_host(&event, Some(host)).await? {
            HostRole::Owner => Ok(event),
            HostRole::CoHost => Err(owner_only()),
        }
    }
}

fn not_host() -> Error {
    Error::new(
        ErrorCode::NotHost,
        "Only the host of this session can do this",
    )
}

/// What only the event's owner may do, asked by a co-host.
pub fn owner_only() -> Error {
    Error::new(
        ErrorCode::OwnerOnly,
        "Only the owner of this session can do this, not its co-hosts",
    )
}

/// Timestamps are kept to the microsecond, as PostgreSQL stores them.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}
