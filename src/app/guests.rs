//! Guests: joining an event with a name, coming back, staying "online", and the one check that a
//! guest belongs to an event.

use std::net::IpAddr;

use chrono::TimeDelta;
use uuid::Uuid;

use super::{App, Error, ErrorCode, Host, Result, now};
use crate::{
    db::{EventRecord, GuestRecord},
    domain::{event_pin, presence, rules::EventRules, values::Name, visibility::Viewer},
    events::LiveEvent,
};

pub struct Join {
    pub event_id: Uuid,
    pub name: Name,
    /// The event's PIN as the guest typed it; only a protected event asks for one.
    pub pin: Option<String>,
    /// Where the request came from: wrong PINs are limited per address.
    pub client: IpAddr,
}

pub struct Rejoin {
    pub guest_id: Uuid,
    pub event_id: Uuid,
}

pub async fn join(app: &App, command: Join) -> Result<GuestRecord> {
    let Join {
        event_id,
        name,
        pin,
        client,
    } = command;
    let event = app.cached_event(event_id).await?;
    if let Some(hash) = event_pin::pin_hash(&event.settings) {
        check_pin(app, event_id, hash, pin.as_deref(), client).await?;
    }
    let now = now();
    let guest = GuestRecord {
        id: Uuid::new_v4(),
        event_id,
        name: name.into_inner(),
        created_at: now,
        last_seen: now,
    };
    app.db.insert_guest(&guest).await?;
    if let Some(cache) = &app.gallery_cache {
        cache.keep_guest(guest.id, event_id);
    }
    app.events
        .publish(LiveEvent::GuestsChanged {
            session_id: event_id,
        })
        .await;
    Ok(guest)
}

/// Longer input is wrong without hashing it.
const MAX_PIN_CHARS: usize = 64;

/// A protected event's PIN check. Every attempt is counted first, in the database, so parallel
/// guesses on any replica cannot slip past the limit; the right PIN forgets the address's count.
async fn check_pin(
    app: &App,
    event_id: Uuid,
    hash: &str,
    pin: Option<&str>,
    client: IpAddr,
) -> Result<()> {
    let pin = pin
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            Error::new(
                ErrorCode::JoinPinRequired,
                "This event is protected: please enter its PIN",
            )
        })?;
    let limit = app.join_pin_limit;
    let window = TimeDelta::from_std(limit.window).unwrap_or(TimeDelta::minutes(15));
    let now = now();
    let window_after = now - window;
    let client = client.to_string();
    let (attempts, started) = app
        .db
        .count_pin_attempt(event_id, &client, now, window_after)
        .await?;
    if attempts > i64::from(limit.attempts) {
        let wait_ms = (started + window - now).num_milliseconds().max(1);
        let wait = u64::try_from((wait_ms + 999) / 1000).unwrap_or(1);
        tracing::info!(event_id = %event_id, client = %client, "too many wrong event PINs");
        return Err(Error::unavailable(
            ErrorCode::JoinPinLocked,
            "Too many wrong PINs from this address, please wait",
            wait,
        ));
    }
    let right = pin.chars().count() <= MAX_PIN_CHARS && app.hasher.verify(pin, Some(hash)).await?;
    if !right {
        return Err(Error::new(ErrorCode::JoinPinWrong, "That PIN is not right"));
    }
    app.db
        .clear_pin_attempts(event_id, &client, window_after)
        .await?;
    Ok(())
}

/// A returning guest (same phone, later): marks them online again.
pub async fn rejoin(app: &App, command: Rejoin) -> Result<GuestRecord> {
    let Rejoin { guest_id, event_id } = command;
    let guest = match member(app, event_id, guest_id).await {
        Err(err) if err.code() == ErrorCode::GuestOfOtherEvent => {
            // An unknown event is reported as such rather than as a mismatch.
            app.event(event_id).await?;
            return Err(err);
        }
        other => other?,
    };
    let was_online = presence::is_online(guest.last_seen, now());
    let guest = app.db.touch_guest(guest_id, now()).await?.unwrap_or(guest);
    if !was_online {
        app.events
            .publish(LiveEvent::GuestsChanged {
                session_id: event_id,
            })
            .await;
    }
    Ok(guest)
}

/// A guest's "film roll": the photos they uploaded and, when the host set a per-guest limit,
/// how many they may still take ("7 of 24 left").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilmRoll {
    pub taken: u64,
    pub limit: Option<u64>,
}

impl FilmRoll {
    pub fn left(&self) -> Option<u64> {
        self.limit.map(|limit| limit.saturating_sub(self.taken))
    }
}

pub async fn film_roll(app: &App, guest: &GuestRecord) -> Result<FilmRoll> {
    let event = app.cached_event(guest.event_id).await?;
    let limit = EventRules::from_settings(&event.settings).upload_limit_per_guest;
    let taken = app.db.count_guest_photos(event.id, guest.id).await?;
    Ok(FilmRoll {
        taken: u64::try_from(taken).unwrap_or(0),
        limit,
    })
}

/// A guest's phone says they are still here. With write-behind on, a guest this replica knows
/// (guests never move between events) of an event that still exists costs no database round
/// trip; their beat is written with the others within `HEARTBEAT_FLUSH_MS`.
pub async fn heartbeat(app: &App, guest_id: Uuid) -> Result<()> {
    let Some(buffer) = &app.heartbeats else {
        app.db
            .touch_guest(guest_id, now())
            .await?
            .ok_or_else(Error::guest_not_found)?;
        return Ok(());
    };
    let event_id = event_of(app, guest_id).await?;
    // A deleted event took its guests with it.
    match app.cached_event(event_id).await {
        Err(err) if err.code() == ErrorCode::EventNotFound => return Err(Error::guest_not_found()),
        other => other?,
    };
    buffer.record(guest_id, now());
    Ok(())
}

/// The guest, when they exist and belong to the event: the membership check for callers that
/// need the record (its name).
pub async fn member(app: &App, event_id: Uuid, guest_id: Uuid) -> Result<GuestRecord> {
    let guest = read_guest(app, guest_id).await?;
    same_event(guest.event_id, event_id)?;
    Ok(guest)
}

/// The membership check alone: the guest exists and belongs to the event. A guest seen here
/// before costs no database read (see [`event_of`]): a phone names its guest in every upload
/// and gallery call.
pub async fn check_member(app: &App, event_id: Uuid, guest_id: Uuid) -> Result<()> {
    same_event(event_of(app, guest_id).await?, event_id)
}

/// The event a guest belongs to. Guests never change events and are deleted only with their
/// event, so what this replica once read is kept (in the gallery cache) and stays true while
/// the event exists; callers check the event themselves.
async fn event_of(app: &App, guest_id: Uuid) -> Result<Uuid> {
    if let Some(event_id) = app
        .gallery_cache
        .as_ref()
        .and_then(|cache| cache.guest_event(guest_id))
    {
        return Ok(event_id);
    }
    Ok(read_guest(app, guest_id).await?.event_id)
}

/// Reads the guest (404 when unknown) and remembers their event.
async fn read_guest(app: &App, guest_id: Uuid) -> Result<GuestRecord> {
    let guest = app
        .db
        .guest(guest_id)
        .await?
        .ok_or_else(Error::guest_not_found)?;
    if let Some(cache) = &app.gallery_cache {
        cache.keep_guest(guest_id, guest.event_id);
    }
    Ok(guest)
}

fn same_event(guest_event: Uuid, event_id: Uuid) -> Result<()> {
    if guest_event != event_id {
        return Err(Error::new(
            ErrorCode::GuestOfOtherEvent,
            "This guest belongs to another session",
        ));
    }
    Ok(())
}

/// Who is asking about `event`: its host (owner or co-host), one of its guests (checked), or anybody with the link.
pub async fn viewer(
    app: &App,
    event: &EventRecord,
    host: Option<&Host>,
    guest_id: Option<Uuid>,
) -> Result<Viewer> {
    if let Some(host) = host {
        if app.host_role(event, host).await?.is_some() {
            return Ok(Viewer::Host);
        }
    }
    match guest_id {
        None => Ok(Viewer::Anonymous),
        Some(id) => {
            check_member(app, event.id, id).await?;
            Ok(Viewer::Guest(id))
        }
    }
}
