//! Guests: joining an event with a name, coming back, staying "online", and the one check that a
//! guest belongs to an event.

use uuid::Uuid;

use super::{App, Error, ErrorCode, Host, Result, now};
use crate::{
    db::{EventRecord, GuestRecord},
    domain::{presence, rules::EventRules, values::Name, visibility::Viewer},
    events::LiveEvent,
};

pub struct Join {
    pub event_id: Uuid,
    pub name: Name,
}

pub struct Rejoin {
    pub guest_id: Uuid,
    pub event_id: Uuid,
}

pub async fn join(app: &App, command: Join) -> Result<GuestRecord> {
    let Join { event_id, name } = command;
    app.event(event_id).await?;
    let now = now();
    let guest = GuestRecord {
        id: Uuid::new_v4(),
        event_id,
        name: name.into_inner(),
        created_at: now,
        last_seen: now,
    };
    app.db.insert_guest(&guest).await?;
    app.events
        .publish(LiveEvent::GuestsChanged {
            session_id: event_id,
        })
        .await;
    Ok(guest)
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
    let event = app.event(guest.event_id).await?;
    let limit = EventRules::from_settings(&event.settings).upload_limit_per_guest;
    let taken = app.db.count_guest_photos(event.id, guest.id).await?;
    Ok(FilmRoll {
        taken: u64::try_from(taken).unwrap_or(0),
        limit,
    })
}

pub async fn heartbeat(app: &App, guest_id: Uuid) -> Result<()> {
    app.db
        .touch_guest(guest_id, now())
        .await?
        .ok_or_else(Error::guest_not_found)?;
    Ok(())
}

/// The guest, when they exist and belong to the event: the one membership check.
pub async fn member(app: &App, event_id: Uuid, guest_id: Uuid) -> Result<GuestRecord> {
    let guest = app
        .db
        .guest(guest_id)
        .await?
        .ok_or_else(Error::guest_not_found)?;
    if guest.event_id != event_id {
        return Err(Error::new(
            ErrorCode::GuestOfOtherEvent,
            "This guest belongs to another session",
        ));
    }
    Ok(guest)
}

/// Who is asking about `event`: its host, one of its guests (checked), or anybody with the link.
pub async fn viewer(
    app: &App,
    event: &EventRecord,
    host: Option<&Host>,
    guest_id: Option<Uuid>,
) -> Result<Viewer> {
    if host.is_some_and(|h| h.id == event.host_id) {
        return Ok(Viewer::Host);
    }
    match guest_id {
        None => Ok(Viewer::Anonymous),
        Some(id) => {
            member(app, event.id, id).await?;
            Ok(Viewer::Guest(id))
        }
    }
}
