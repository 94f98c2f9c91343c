//! Events: creating one, its settings and rules, its missions, ending it, and a host's list.

use chrono::{DateTime, Utc};
use futures_util::future::try_join_all;
use serde_json::Value;
use uuid::Uuid;

use super::{App, Error, ErrorCode, Host, Result, now};
use crate::{
    db::{Database, DbError, EventRecord, EventSummary, PhotoQuery, PhotoRecord, PhotoStatus},
    domain::{
        event_pin::{PinChange, store_pin, take_pin_change},
        host_role::HostRole,
        identity::EventIdentity,
        join_code::JoinCode,
        missions::MissionList,
        photo_key::PhotoKey,
        rules::{merge_settings, new_event_settings},
    },
    events::LiveEvent,
    store::PhotoStore,
};

pub async fn create(app: &App, host: &Host, mut settings: Option<Value>) -> Result<EventRecord> {
    let now = now();
    let pin = take_pin_change(&mut settings)?;
    let (mut settings, ends_at) = new_event_settings(settings, now)?;
    apply_pin(app, &mut settings, pin).await?;
    let mut event = EventRecord {
        id: Uuid::new_v4(),
        host_id: host.id,
        settings,
        missions: MissionList::defaults(),
        created_at: now,
        ends_at,
        join_code: None,
    };
    insert_with_join_code(app.db.as_ref(), &mut event, || {
        JoinCode::generate(&mut rand::rng())
    })
    .await
    .map_err(|err| match err {
        // A valid token whose account no longer exists (e.g. the database was reset).
        DbError::MissingReference(_) => Error::new(ErrorCode::UnknownAccount, "Unknown user"),
        other => other.into(),
    })?;
    app.metrics.sessions_created.inc();
    tracing::info!(event_id = %event.id, host = %host.email, "event created");
    Ok(event)
}

/// Codes tried before creating an event fails: with 30^8 codes a second collision in a row
/// means something else is wrong.
const JOIN_CODE_ATTEMPTS: usize = 5;

/// Inserts `event` with a fresh join code from `next_code`, drawing another while the code is
/// taken (the unique index decides, so two replicas never hand out the same code).
pub async fn insert_with_join_code(
    db: &dyn Database,
    event: &mut EventRecord,
    mut next_code: impl FnMut() -> JoinCode,
) -> std::result::Result<(), DbError> {
    let mut attempt = 1;
    loop {
        event.join_code = Some(next_code().compact().to_owned());
        match db.insert_event(event).await {
            Err(DbError::Conflict(_)) if attempt < JOIN_CODE_ATTEMPTS => {
                tracing::info!(event_id = %event.id, "join code taken; drawing another");
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The event a guest's join code names. `input` is what they typed; a malformed code is a 400,
/// an unknown one a 404 (lookups are rate-limited per address at the edge).
pub async fn by_join_code(app: &App, input: &str) -> Result<EventRecord> {
    let code = JoinCode::parse(input).ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidField,
            "A join code has 8 letters and digits, like K7QM-2XDP",
        )
    })?;
    app.db
        .event_by_join_code(code.compact())
        .await?
        .ok_or_else(Error::event_not_found)
}

/// The host's events, co-hosted ones included, each with the host's role in it.
pub async fn of_host(app: &App, host: &Host) -> Result<Vec<(EventSummary, HostRole)>> {
    Ok(app
        .db
        .events_of_host(host.id)
        .await?
        .into_iter()
        .map(|summary| {
            let role = if summary.event.host_id == host.id {
                HostRole::Owner
            } else {
                HostRole::CoHost
            };
            (summary, role)
        })
        .collect())
}

pub struct SetMissions {
    pub event_id: Uuid,
    pub missions: MissionList,
}

pub async fn set_missions(app: &App, host: &Host, command: SetMissions) -> Result<EventRecord> {
    let SetMissions {
        event_id: id,
        missions,
    } = command;
    app.hosted_event(host, id).await?;
    let event = app
        .db
        .update_missions(id, &missions)
        .await?
        .ok_or_else(Error::event_not_found)?;
    // Moves the event's change generation (cached event reads) and tells open views.
    app.events
        .publish(LiveEvent::SessionUpdated { session_id: id })
        .await;
    Ok(event)
}

/// Merges `patch` into the event's settings (`null` removes a key) and applies its rules.
pub async fn update_settings(
    app: &App,
    host: &Host,
    id: Uuid,
    mut patch: Option<Value>,
) -> Result<EventRecord> {
    let event = app.hosted_event(host, id).await?;
    let pin = take_pin_change(&mut patch)?;
    let (mut settings, ends_at) = merge_settings(&event.settings, patch, event.ends_at, now())?;
    apply_pin(app, &mut settings, pin).await?;
    let cover = EventIdentity::from_settings(&settings).cover_picture_id;
    if let Some(cover) =
        cover.filter(|c| Some(*c) != EventIdentity::from_settings(&event.settings).cover_picture_id)
    {
        if cover_photo_of(app, id, cover).await?.is_none() {
            return Err(Error::new(
                ErrorCode::InvalidField,
                "settings.cover_picture_id must be one of the event's approved photos",
            ));
        }
    }
    save(app, id, &settings, ends_at).await
}

/// Hashes a new PIN into the settings, or removes the PIN; the PIN itself is never stored or
/// logged.
async fn apply_pin(app: &App, settings: &mut Value, change: PinChange) -> Result<()> {
    match change {
        PinChange::Keep => {}
        PinChange::Clear => store_pin(settings, None),
        PinChange::Set(pin) => {
            let hash = app.hasher.hash(pin.as_str()).await?;
            store_pin(settings, Some((hash, pin.is_numeric())));
        }
    }
    Ok(())
}

/// The event's cover photo, for its join page, slideshow and link previews. 404 when the host
/// chose none, or the photo is gone or no longer approved.
pub async fn cover(app: &App, event_id: Uuid) -> Result<PhotoRecord> {
    let event = app.event(event_id).await?;
    let no_cover = || Error::new(ErrorCode::CoverNotSet, "This event has no cover photo");
    let cover = EventIdentity::from_settings(&event.settings)
        .cover_picture_id
        .ok_or_else(no_cover)?;
    cover_photo_of(app, event_id, cover)
        .await?
        .ok_or_else(no_cover)
}

/// After `photo_id` was deleted: an event whose cover it was has no cover any more.
pub async fn forget_cover(app: &App, event: &EventRecord, photo_id: Uuid) -> Result<()> {
    if EventIdentity::from_settings(&event.settings).cover_picture_id != Some(photo_id) {
        return Ok(());
    }
    // Re-read: the settings may have changed since `event` was loaded.
    let current = app.event(event.id).await?;
    let mut settings = current.settings.clone();
    if let Some(map) = settings.as_object_mut() {
        if map.get("cover_picture_id").and_then(Value::as_str) == Some(&photo_id.to_string()) {
            map.remove("cover_picture_id");
            save(app, event.id, &settings, current.ends_at).await?;
        }
    }
    Ok(())
}

/// A photo that may be an event's cover: the event's own, approved (so seen by every guest).
async fn cover_photo_of(app: &App, event_id: Uuid, photo_id: Uuid) -> Result<Option<PhotoRecord>> {
    Ok(app
        .db
        .photo(photo_id)
        .await?
        .filter(|p| p.event_id == event_id && p.status == PhotoStatus::Approved))
}

/// Ends the event now: uploads close, the gallery stays readable.
pub async fn end(app: &App, host: &Host, id: Uuid) -> Result<EventRecord> {
    let event = app.hosted_event(host, id).await?;
    let now = now();
    let ends_at = event.ends_at.min(now);
    let patch = serde_json::json!({ "ends_at": ends_at.to_rfc3339() });
    let (settings, ends_at) = merge_settings(&event.settings, Some(patch), event.ends_at, now)?;
    save(app, id, &settings, ends_at).await
}

async fn save(
    app: &App,
    id: Uuid,
    settings: &Value,
    ends_at: DateTime<Utc>,
) -> Result<EventRecord> {
    let updated = app
        .db
        .update_settings(id, settings, ends_at)
        .await?
        .ok_or_else(Error::event_not_found)?;
    app.events
        .publish(LiveEvent::SessionUpdated { session_id: id })
        .await;
    Ok(updated)
}

/// Uploads close when the event ends.
pub fn ensure_open(event: &EventRecord) -> Result<()> {
    if now() >= event.ends_at {
        Err(Error::new(
            ErrorCode::EventEnded,
            "Uploads are closed: this event has ended",
        ))
    } else {
        Ok(())
    }
}

/// Deletes an event for good: uploads close at once, then its records (photos, guests, the
/// event) and every photo's original and thumbnail in the store. Only its owner may.
pub async fn delete_event(app: &App, host: &Host, id: Uuid) -> Result<()> {
    let event = app.owned_event(host, id).await?;
    // Ended first: init-upload and finalize refuse new photos while the records go.
    if event.ends_at > now() {
        save(app, id, &event.settings, now()).await?;
    }
    // One deletion for the host, the admin command and retention: files first, then rows.
    let deleted = delete_stored(app.db.as_ref(), app.store.as_ref(), id).await?;
    app.events
        .publish(LiveEvent::SessionUpdated { session_id: id })
        .await;
    tracing::info!(event_id = %id, host = %host.email, photos = deleted.photos, "event deleted by its host");
    Ok(())
}

/// What deleting an event removed.
#[derive(Debug, Clone)]
pub struct DeletedEvent {
    pub event: EventRecord,
    pub photos: usize,
}

/// Object deletions run at once per event.
const DELETE_CONCURRENCY: usize = 8;

/// Deletes the event with every stored object of its photos (originals and thumbnails), its
/// guests and its rows. Used by the host's delete ([`delete_event`], after its host check),
/// `partypic admin delete-event` and retention.
///
/// Objects go first: when one cannot be deleted the event stays, and a retry finishes the job
/// (no object is ever left without a row pointing at it).
pub async fn delete_stored(
    db: &dyn Database,
    store: &dyn PhotoStore,
    id: Uuid,
) -> Result<DeletedEvent> {
    db.event(id).await?.ok_or_else(Error::event_not_found)?;
    let everything = PhotoQuery::all();
    let listed = db.photos(id, everything).await?;
    delete_objects(store, &listed).await?;
    // Photos finalized since the listing: their rows go now, their objects right after.
    let rows = db.delete_event_photos(id).await?;
    let late: Vec<PhotoRecord> = rows
        .iter()
        .filter(|row| !listed.iter().any(|photo| photo.id == row.id))
        .cloned()
        .collect();
    if let Err(err) = delete_objects(store, &late).await {
        tracing::warn!(event_id = %id, error = %err, "could not delete the files of late photos");
    }
    if let Err(err) = store.delete_event_objects(id).await {
        tracing::warn!(event_id = %id, error = %err, "could not delete the event's remaining files");
    }
    let event = db
        .delete_event(id)
        .await?
        .ok_or_else(Error::event_not_found)?;
    tracing::info!(event_id = %id, photos = rows.len(), "event deleted");
    Ok(DeletedEvent {
        event,
        photos: rows.len().max(listed.len()),
    })
}

/// Deletes each photo's original and thumbnail (whether or not one was made).
async fn delete_objects(store: &dyn PhotoStore, photos: &[PhotoRecord]) -> Result<()> {
    let keys: Vec<PhotoKey> = photos
        .iter()
        .filter_map(|photo| PhotoKey::parse(&photo.object_key))
        .flat_map(|key| key.with_variants())
        .collect();
    for chunk in keys.chunks(DELETE_CONCURRENCY) {
        try_join_all(chunk.iter().map(|key| store.delete(key))).await?;
    }
    Ok(())
}
