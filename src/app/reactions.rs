//! Reactions: a guest of the event, or its host, reacts to an approved photo they can see with
//! one of four emoji; one reaction per person and photo, changeable and removable. Counts reach
//! every live view (across replicas) and the gallery; the host can switch reactions off.
//!
//! Reactions stay open after the event ends: the end closes uploads, and the morning after is
//! when most people browse the gallery. The host turns them off with `reactions: false`.

use std::collections::HashMap;

use uuid::Uuid;

use super::{App, Error, ErrorCode, Host, Result, guests, now};
use crate::{
    db::{DbError, PhotoRecord, PhotoStatus, ReactionCount},
    domain::{
        reaction::{Reaction, ReactionCounts},
        rules::EventRules,
        visibility::{Viewer, Visibility},
    },
    events::LiveEvent,
};

/// A photo's counts after a change, and the reaction of the person who changed it.
pub struct PhotoReactions {
    pub photo_id: Uuid,
    pub reactions: ReactionCounts,
    pub mine: Option<Reaction>,
}

/// What the gallery shows of reactions: counts per photo, and the viewer's own.
#[derive(Default)]
pub struct GalleryReactions {
    counts: HashMap<Uuid, ReactionCounts>,
    mine: HashMap<Uuid, Reaction>,
}

impl GalleryReactions {
    pub fn counts(&self, photo_id: Uuid) -> ReactionCounts {
        self.counts.get(&photo_id).copied().unwrap_or_default()
    }

    pub fn mine(&self, photo_id: Uuid) -> Option<Reaction> {
        self.mine.get(&photo_id).copied()
    }
}

/// Sets (`Some`) or removes (`None`) the asker's reaction to a photo.
pub async fn react(
    app: &App,
    host: Option<&Host>,
    guest_id: Option<Uuid>,
    photo_id: Uuid,
    reaction: Option<Reaction>,
) -> Result<PhotoReactions> {
    if host.is_none() && guest_id.is_none() {
        return Err(identity_required());
    }
    let photo = app.photo(photo_id).await?;
    let event = app.event(photo.event_id).await?;
    let viewer = guests::viewer(app, &event, host, guest_id).await?;
    let reactor_id = match viewer {
        // The owner's or a co-host's own reaction.
        Viewer::Host => host.map_or(event.host_id, |host| host.id),
        Viewer::Guest(id) => id,
        Viewer::Anonymous if host.is_some() => {
            return Err(Error::new(
                ErrorCode::NotHost,
                "Only the host or a guest of this session can react",
            ));
        }
        Viewer::Anonymous => return Err(identity_required()),
    };
    let rules = EventRules::from_settings(&event.settings);
    if !rules.reactions {
        return Err(Error::new(
            ErrorCode::ReactionsDisabled,
            "The host has switched reactions off for this session",
        ));
    }
    // A photo the asker cannot see, or one still waiting for approval, is "not found": a
    // reaction must not reveal that it exists.
    if photo.status != PhotoStatus::Approved || !Visibility::new(viewer, &rules).sees(&photo) {
        return Err(Error::photo_not_found());
    }
    if let Some(wait) = app.reaction_limiter.check(reactor_id) {
        return Err(Error::unavailable(
            ErrorCode::ReactionRateLimited,
            "Too many reactions, please wait a moment",
            wait,
        ));
    }
    match reaction {
        Some(reaction) => match app
            .db
            .set_reaction(photo.id, event.id, reactor_id, reaction.as_str(), now())
            .await
        {
            // The photo was deleted meanwhile.
            Err(DbError::MissingReference(_)) => return Err(Error::photo_not_found()),
            other => other?,
        },
        None => {
            app.db.delete_reaction(photo.id, reactor_id).await?;
        }
    }
    let reactions = photo_counts(app, &photo).await?;
    app.events
        .publish(LiveEvent::PictureReactions {
            picture: photo.clone(),
            reactions,
        })
        .await;
    Ok(PhotoReactions {
        photo_id: photo.id,
        reactions,
        mine: reaction,
    })
}

async fn photo_counts(app: &App, photo: &PhotoRecord) -> Result<ReactionCounts> {
    let rows = app
        .db
        .reaction_counts(photo.event_id, Some(photo.id))
        .await?;
    let mut counts = ReactionCounts::default();
    for ReactionCount {
        reaction, count, ..
    } in rows
    {
        counts.add(&reaction, count);
    }
    Ok(counts)
}

/// The event's reaction counts, and the viewer's own reactions (guests and the host), from what
/// the gallery read ([`crate::db::Database::gallery_social`]).
pub fn for_gallery(counts: Vec<ReactionCount>, mine: Vec<(Uuid, String)>) -> GalleryReactions {
    let mut gallery = GalleryReactions::default();
    for row in counts {
        gallery
            .counts
            .entry(row.photo_id)
            .or_default()
            .add(&row.reaction, row.count);
    }
    gallery.mine = mine
        .into_iter()
        .filter_map(|(photo_id, name)| Reaction::parse(&name).map(|r| (photo_id, r)))
        .collect();
    gallery
}

fn identity_required() -> Error {
    Error::new(
        ErrorCode::ReactionIdentityRequired,
        "Reacting needs X-Guest-Id (a guest of this session) or the host's token",
    )
}
