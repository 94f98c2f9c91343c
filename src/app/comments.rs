//! Comments: a guest of the event, or its host, writes short comments on an approved photo they
//! can see. Guests delete their own, the host any. With `comment_approval` a guest's comment
//! waits for the host and is shown to its author and the host only. New, approved and deleted
//! comments reach every live view (across replicas); the host can switch comments off.
//!
//! Like reactions, comments stay open after the event ends: the end closes uploads, and the
//! morning after is when most people browse the gallery. The host turns them off with
//! `comments: false`; comments already written stay readable (and deletable).

use uuid::Uuid;

use super::{App, Error, ErrorCode, Host, Result, guests, now};
use crate::{
    db::{CommentRecord, DbError, EventRecord, PhotoRecord, PhotoStatus},
    domain::{
        comment::{CommentStatus, CommentText},
        rules::EventRules,
        visibility::{Viewer, Visibility},
    },
    events::LiveEvent,
};

/// A comment as its readers see it.
pub struct Comment {
    pub record: CommentRecord,
    /// Written by the event's host (its owner or a co-host).
    pub by_host: bool,
}

impl Comment {
    /// `hosts`: everybody who runs the event ([`App::host_ids`]).
    fn new(record: CommentRecord, hosts: &[Uuid]) -> Self {
        Self {
            by_host: hosts.contains(&record.author_id),
            record,
        }
    }
}

/// Whether `viewer` may read `comment`: approved ones the event's guests and host who see the
/// photo, pending ones their author and the host. Anybody with the link (a slideshow) reads none.
pub fn sees(viewer: Viewer, comment: &CommentRecord) -> bool {
    match viewer {
        Viewer::Host => true,
        Viewer::Guest(id) => comment.status == CommentStatus::Approved || id == comment.author_id,
        Viewer::Anonymous => false,
    }
}

/// The photo, its event and who asks, once the asker may see the photo.
struct Context {
    photo: PhotoRecord,
    event: EventRecord,
    viewer: Viewer,
    /// The asker's id: the guest's, or the host's.
    person_id: Uuid,
    rules: EventRules,
}

async fn context(
    app: &App,
    host: Option<&Host>,
    guest_id: Option<Uuid>,
    photo_id: Uuid,
) -> Result<Context> {
    if host.is_none() && guest_id.is_none() {
        return Err(identity_required());
    }
    let photo = app.photo(photo_id).await?;
    let event = app.event(photo.event_id).await?;
    let viewer = guests::viewer(app, &event, host, guest_id).await?;
    let person_id = match viewer {
        // The owner or a co-host, each under their own id.
        Viewer::Host => host.map_or(event.host_id, |host| host.id),
        Viewer::Guest(id) => id,
        Viewer::Anonymous if host.is_some() => {
            return Err(Error::new(
                ErrorCode::NotHost,
                "Only the host or a guest of this session can comment",
            ));
        }
        Viewer::Anonymous => return Err(identity_required()),
    };
    let rules = EventRules::from_settings(&event.settings);
    // A photo the asker cannot see, or one still waiting for approval, is "not found": a
    // comment must not reveal that it exists.
    if photo.status != PhotoStatus::Approved || !Visibility::new(viewer, &rules).sees(&photo) {
        return Err(Error::photo_not_found());
    }
    Ok(Context {
        photo,
        event,
        viewer,
        person_id,
        rules,
    })
}

/// The photo's comments the asker may read, oldest first.
pub async fn list(
    app: &App,
    host: Option<&Host>,
    guest_id: Option<Uuid>,
    photo_id: Uuid,
) -> Result<Vec<Comment>> {
    let cx = context(app, host, guest_id, photo_id).await?;
    let hosts = app.host_ids(&cx.event).await?;
    Ok(app
        .db
        .photo_comments(cx.photo.id)
        .await?
        .into_iter()
        .filter(|c| sees(cx.viewer, c))
        .map(|c| Comment::new(c, &hosts))
        .collect())
}

/// Writes a comment; a guest's waits for the host when the event asks for approval.
pub async fn post(
    app: &App,
    host: Option<&Host>,
    guest_id: Option<Uuid>,
    photo_id: Uuid,
    text: CommentText,
) -> Result<Comment> {
    let cx = context(app, host, guest_id, photo_id).await?;
    if !cx.rules.comments {
        return Err(Error::new(
            ErrorCode::CommentsDisabled,
            "The host has switched comments off for this session",
        ));
    }
    if let Some(wait) = app.comment_limiter.check(cx.person_id) {
        return Err(Error::unavailable(
            ErrorCode::CommentRateLimited,
            "Too many comments, please wait a moment",
            wait,
        ));
    }
    let (author_name, status) = match cx.viewer {
        Viewer::Guest(id) => {
            let status = if cx.rules.comment_approval {
                CommentStatus::Pending
            } else {
                CommentStatus::Approved
            };
            (guests::member(app, cx.event.id, id).await?.name, status)
        }
        _ => {
            let name = app
                .db
                .host(cx.person_id)
                .await?
                .map(|h| h.username)
                .unwrap_or_default();
            (name, CommentStatus::Approved)
        }
    };
    let record = CommentRecord {
        id: Uuid::new_v4(),
        photo_id: cx.photo.id,
        event_id: cx.event.id,
        author_id: cx.person_id,
        author_name,
        text: text.as_str().to_owned(),
        status,
        created_at: now(),
    };
    match app.db.insert_comment(&record).await {
        // The photo was deleted meanwhile.
        Err(DbError::MissingReference(_)) => return Err(Error::photo_not_found()),
        other => other?,
    }
    app.events
        .publish(LiveEvent::CommentAdded {
            picture: cx.photo,
            comment: record.clone(),
        })
        .await;
    let by_host = cx.viewer == Viewer::Host;
    Ok(Comment { record, by_host })
}

/// Deletes a comment: a guest their own, the host any.
pub async fn delete(
    app: &App,
    host: Option<&Host>,
    guest_id: Option<Uuid>,
    photo_id: Uuid,
    comment_id: Uuid,
) -> Result<()> {
    let cx = context(app, host, guest_id, photo_id).await?;
    let comment = photo_comment(app, &cx.photo, comment_id)
        .await?
        // Someone else's pending comment does not exist for a guest.
        .filter(|c| sees(cx.viewer, c))
        .ok_or_else(comment_not_found)?;
    if let Viewer::Guest(id) = cx.viewer {
        if comment.author_id != id {
            return Err(Error::new(
                ErrorCode::CommentNotAuthor,
                "Guests can only delete their own comments",
            ));
        }
    }
    if app.db.delete_comment(comment.id).await?.is_some() {
        app.events
            .publish(LiveEvent::CommentDeleted {
                session_id: cx.event.id,
                picture_id: cx.photo.id,
                comment_id: comment.id,
            })
            .await;
    }
    Ok(())
}

/// The host approves a pending comment (approving an approved one changes nothing).
pub async fn approve(app: &App, host: &Host, photo_id: Uuid, comment_id: Uuid) -> Result<Comment> {
    let photo = app.photo(photo_id).await?;
    let event = app.event(photo.event_id).await?;
    app.require_host(&event, Some(host)).await?;
    let comment = photo_comment(app, &photo, comment_id)
        .await?
        .ok_or_else(comment_not_found)?;
    if comment.status == CommentStatus::Approved {
        return Ok(Comment::new(comment, &app.host_ids(&event).await?));
    }
    let approved = app
        .db
        .approve_comment(comment.id)
        .await?
        .ok_or_else(comment_not_found)?;
    app.events
        .publish(LiveEvent::CommentAdded {
            picture: photo,
            comment: approved.clone(),
        })
        .await;
    Ok(Comment::new(approved, &app.host_ids(&event).await?))
}

/// Whether the comment counts `viewer` sees include pending comments: the host's do.
pub fn counts_include_pending(viewer: Viewer) -> bool {
    viewer == Viewer::Host
}

async fn photo_comment(
    app: &App,
    photo: &PhotoRecord,
    comment_id: Uuid,
) -> Result<Option<CommentRecord>> {
    Ok(app
        .db
        .comment(comment_id)
        .await?
        .filter(|c| c.photo_id == photo.id))
}

fn comment_not_found() -> Error {
    Error::new(ErrorCode::CommentNotFound, "Comment not found")
}

/// Like deleting a photo: a guest's id or the host's token.
fn identity_required() -> Error {
    Error::new(
        ErrorCode::MissingToken,
        "Comments need X-Guest-Id (a guest of this session) or the host's token",
    )
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn comment(author_id: Uuid, status: CommentStatus) -> CommentRecord {
        CommentRecord {
            id: Uuid::new_v4(),
            photo_id: Uuid::new_v4(),
            event_id: Uuid::new_v4(),
            author_id,
            author_name: "Ada".into(),
            text: "hi".into(),
            status,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_pending_comment_is_seen_by_its_author_and_the_host_only() {
        let (ada, ben) = (Uuid::new_v4(), Uuid::new_v4());
        let pending = comment(ada, CommentStatus::Pending);
        assert!(sees(Viewer::Guest(ada), &pending));
        assert!(sees(Viewer::Host, &pending));
        assert!(!sees(Viewer::Guest(ben), &pending));
        assert!(!sees(Viewer::Anonymous, &pending));
        let approved = comment(ada, CommentStatus::Approved);
        assert!(sees(Viewer::Guest(ben), &approved));
        assert!(
            !sees(Viewer::Anonymous, &approved),
            "comments are for the event's people"
        );
    }
}
