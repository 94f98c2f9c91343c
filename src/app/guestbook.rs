//! The guestbook: a guest of the event, or its host, leaves a message (text, optionally with one
//! of their own photos of the event). Guests delete their own, the host any. With
//! `guestbook_approval` a guest's message waits for the host and is shown to its author and the
//! host only. Anybody with the event's link reads the approved messages, as a slideshow shows
//! approved photos; a message's photo is shown only to those who may see that photo.
//!
//! Like comments, the guestbook stays open after the event ends (the morning after is when
//! people write); the host closes it with `guestbook: false`, which keeps what was written
//! readable (and deletable).

use uuid::Uuid;

use super::{App, Error, ErrorCode, Host, Result, guests, now};
use crate::{
    db::{DbError, EventRecord, GuestbookRecord, PhotoRecord},
    domain::{
        comment::CommentStatus,
        guestbook::MessageText,
        rules::EventRules,
        visibility::{Viewer, Visibility},
    },
    events::LiveEvent,
};

/// A message as its readers see it.
pub struct Message {
    pub record: GuestbookRecord,
    /// Written by the event's host.
    pub by_host: bool,
    /// The message's photo, when the reader may see it.
    pub photo: Option<PhotoRecord>,
}

/// Whether `viewer` may read `message`: approved ones everybody with the link, pending ones their
/// author and the host.
pub fn sees(viewer: Viewer, message: &GuestbookRecord) -> bool {
    match viewer {
        Viewer::Host => true,
        Viewer::Guest(id) => message.status == CommentStatus::Approved || id == message.author_id,
        Viewer::Anonymous => message.status == CommentStatus::Approved,
    }
}

/// What a new message says.
pub struct Post {
    pub event_id: Uuid,
    pub text: MessageText,
    pub photo_id: Option<Uuid>,
}

/// The messages the asker may read, oldest first, and who the asker is.
pub async fn list(
    app: &App,
    host: Option<&Host>,
    guest_id: Option<Uuid>,
    event_id: Uuid,
) -> Result<(Viewer, Vec<Message>)> {
    let event = app.event(event_id).await?;
    let viewer = guests::viewer(app, &event, host, guest_id).await?;
    let visibility = Visibility::new(viewer, &EventRules::from_settings(&event.settings));
    let hosts = app.host_ids(&event).await?;
    let mut messages = Vec::new();
    for record in app.db.guestbook_messages(event.id).await? {
        if !sees(viewer, &record) {
            continue;
        }
        let photo = match record.photo_id {
            Some(id) => app.db.photo(id).await?.filter(|p| visibility.sees(p)),
            None => None,
        };
        messages.push(Message {
            by_host: hosts.contains(&record.author_id),
            record,
            photo,
        });
    }
    Ok((viewer, messages))
}

/// Writes a message; a guest's waits for the host when the event asks for approval.
pub async fn post(
    app: &App,
    host: Option<&Host>,
    guest_id: Option<Uuid>,
    post: Post,
) -> Result<Message> {
    let (event, viewer, person_id) = writer(app, host, guest_id, post.event_id).await?;
    let rules = EventRules::from_settings(&event.settings);
    if !rules.guestbook {
        return Err(Error::new(
            ErrorCode::GuestbookDisabled,
            "The host has closed the guestbook for this session",
        ));
    }
    let photo = match post.photo_id {
        Some(id) => Some(own_photo(app, &event, viewer, id).await?),
        None => None,
    };
    if let Some(wait) = app.guestbook_limiter.check(person_id) {
        return Err(Error::unavailable(
            ErrorCode::GuestbookRateLimited,
            "Too many guestbook messages, please wait a moment",
            wait,
        ));
    }
    let (author_name, status) = match viewer {
        Viewer::Guest(id) => {
            let status = if rules.guestbook_approval {
                CommentStatus::Pending
            } else {
                CommentStatus::Approved
            };
            (guests::member(app, event.id, id).await?.name, status)
        }
        _ => (host_name(app, person_id).await?, CommentStatus::Approved),
    };
    let record = GuestbookRecord {
        id: Uuid::new_v4(),
        event_id: event.id,
        author_id: person_id,
        author_name,
        text: post.text.as_str().to_owned(),
        photo_id: photo.as_ref().map(|p| p.id),
        status,
        created_at: now(),
    };
    match app.db.insert_guestbook_message(&record).await {
        // The photo was deleted meanwhile.
        Err(DbError::MissingReference(_)) => return Err(Error::photo_not_found()),
        other => other?,
    }
    app.events
        .publish(LiveEvent::GuestbookAdded {
            message: record.clone(),
            photo: photo.clone(),
        })
        .await;
    Ok(Message {
        by_host: viewer == Viewer::Host,
        record,
        photo,
    })
}

/// Deletes a message: a guest their own, the host any.
pub async fn delete(
    app: &App,
    host: Option<&Host>,
    guest_id: Option<Uuid>,
    event_id: Uuid,
    message_id: Uuid,
) -> Result<()> {
    let (event, viewer, _) = writer(app, host, guest_id, event_id).await?;
    let message = event_message(app, &event, message_id)
        .await?
        // Someone else's pending message does not exist for a guest.
        .filter(|m| sees(viewer, m))
        .ok_or_else(message_not_found)?;
    if let Viewer::Guest(id) = viewer {
        if message.author_id != id {
            return Err(Error::new(
                ErrorCode::GuestbookNotAuthor,
                "Guests can only delete their own guestbook messages",
            ));
        }
    }
    if app.db.delete_guestbook_message(message.id).await?.is_some() {
        app.events
            .publish(LiveEvent::GuestbookDeleted {
                session_id: event.id,
                message_id: message.id,
            })
            .await;
    }
    Ok(())
}

/// The host approves a pending message (approving an approved one changes nothing).
pub async fn approve(app: &App, host: &Host, event_id: Uuid, message_id: Uuid) -> Result<Message> {
    let event = app.hosted_event(host, event_id).await?;
    let message = event_message(app, &event, message_id)
        .await?
        .ok_or_else(message_not_found)?;
    let was_pending = message.status == CommentStatus::Pending;
    let message = if was_pending {
        app.db
            .approve_guestbook_message(message.id)
            .await?
            .ok_or_else(message_not_found)?
    } else {
        message
    };
    let photo = match message.photo_id {
        Some(id) => app.db.photo(id).await?,
        None => None,
    };
    if was_pending {
        app.events
            .publish(LiveEvent::GuestbookAdded {
                message: message.clone(),
                photo: photo.clone(),
            })
            .await;
    }
    Ok(Message {
        by_host: app.host_ids(&event).await?.contains(&message.author_id),
        record: message,
        photo,
    })
}

/// The event, who writes and their id (the guest's, or the host's), for writing and deleting.
async fn writer(
    app: &App,
    host: Option<&Host>,
    guest_id: Option<Uuid>,
    event_id: Uuid,
) -> Result<(EventRecord, Viewer, Uuid)> {
    if host.is_none() && guest_id.is_none() {
        return Err(identity_required());
    }
    let event = app.event(event_id).await?;
    let viewer = guests::viewer(app, &event, host, guest_id).await?;
    let person_id = match viewer {
        // The owner or a co-host: each writes under their own id.
        Viewer::Host => host.map_or(event.host_id, |h| h.id),
        Viewer::Guest(id) => id,
        // A token, but of another event's host (a guest id would have made a guest or failed).
        Viewer::Anonymous => {
            return Err(Error::new(
                ErrorCode::NotHost,
                "Only the host or a guest of this session can write in its guestbook",
            ));
        }
    };
    Ok((event, viewer, person_id))
}

/// The photo a message may show: one of the event's, and for a guest one they uploaded.
/// Another event's photo does not exist here.
async fn own_photo(
    app: &App,
    event: &EventRecord,
    viewer: Viewer,
    photo_id: Uuid,
) -> Result<PhotoRecord> {
    let photo = app
        .db
        .photo(photo_id)
        .await?
        .filter(|p| p.event_id == event.id)
        .ok_or_else(Error::photo_not_found)?;
    match viewer {
        Viewer::Guest(id) if photo.guest_id != Some(id) => Err(Error::new(
            ErrorCode::GuestbookPhotoNotOwn,
            "A guestbook message can show one of your own photos only",
        )),
        _ => Ok(photo),
    }
}

async fn host_name(app: &App, host_id: Uuid) -> Result<String> {
    Ok(app
        .db
        .host(host_id)
        .await?
        .map(|h| h.username)
        .unwrap_or_default())
}

async fn event_message(
    app: &App,
    event: &EventRecord,
    message_id: Uuid,
) -> Result<Option<GuestbookRecord>> {
    Ok(app
        .db
        .guestbook_message(message_id)
        .await?
        .filter(|m| m.event_id == event.id))
}

fn message_not_found() -> Error {
    Error::new(ErrorCode::GuestbookNotFound, "Guestbook message not found")
}

/// Like comments: a guest's id or the host's token.
fn identity_required() -> Error {
    Error::new(
        ErrorCode::MissingToken,
        "Writing in the guestbook needs X-Guest-Id (a guest of this session) or the host's token",
    )
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn message(author_id: Uuid, status: CommentStatus) -> GuestbookRecord {
        GuestbookRecord {
            id: Uuid::new_v4(),
            event_id: Uuid::new_v4(),
            author_id,
            author_name: "Ada".into(),
            text: "Alles Gute!".into(),
            photo_id: None,
            status,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_pending_message_is_seen_by_its_author_and_the_host_only() {
        let (ada, ben) = (Uuid::new_v4(), Uuid::new_v4());
        let pending = message(ada, CommentStatus::Pending);
        assert!(sees(Viewer::Guest(ada), &pending));
        assert!(sees(Viewer::Host, &pending));
        assert!(!sees(Viewer::Guest(ben), &pending));
        assert!(!sees(Viewer::Anonymous, &pending));
        let approved = message(ada, CommentStatus::Approved);
        assert!(sees(Viewer::Guest(ben), &approved));
        assert!(
            sees(Viewer::Anonymous, &approved),
            "the slideshow shows approved messages"
        );
    }
}
