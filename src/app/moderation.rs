//! Moderation: the host approves photos waiting for approval; the host, or the guest who uploaded
//! a photo (when the event allows it), deletes it with its files.

use uuid::Uuid;

use super::{App, Error, ErrorCode, Host, Result, events};
use crate::{
    db::PhotoRecord, domain::photo_key::PhotoKey, domain::rules::EventRules, events::LiveEvent,
};

pub async fn approve(app: &App, host: &Host, photo_id: Uuid) -> Result<PhotoRecord> {
    let photo = app.photo(photo_id).await?;
    let event = app.event(photo.event_id).await?;
    app.require_host(&event, Some(host)).await?;
    let approved = app
        .db
        .approve_photo(photo_id)
        .await?
        .ok_or_else(Error::photo_not_found)?;
    app.events
        .publish(LiveEvent::PictureUpdated {
            picture: approved.clone(),
        })
        .await;
    Ok(approved)
}

/// Deletes a photo for its event's host (owner or co-host), or for the guest who uploaded it.
pub async fn delete(
    app: &App,
    host: Option<&Host>,
    guest_id: Option<Uuid>,
    photo_id: Uuid,
) -> Result<()> {
    if host.is_none() && guest_id.is_none() {
        return Err(Error::new(
            ErrorCode::MissingToken,
            "A host token or X-Guest-Id is required",
        ));
    }
    let photo = app.photo(photo_id).await?;
    let event = app.event(photo.event_id).await?;
    let is_host = match host {
        Some(host) => app.host_role(&event, host).await?.is_some(),
        None => false,
    };
    if !is_host {
        if guest_id.is_none() || guest_id != photo.guest_id {
            return Err(Error::new(
                ErrorCode::DeleteForbidden,
                "Only the host or the uploader can delete this photo",
            ));
        }
        if !EventRules::from_settings(&event.settings).guest_delete {
            return Err(Error::new(
                ErrorCode::GuestDeleteDisabled,
                "Guests may not delete photos in this event",
            ));
        }
    }
    let Some(deleted) = app.db.delete_photo(photo_id).await? else {
        return Err(Error::photo_not_found());
    };
    // The record is gone first; leftover files would only be unreferenced, never shown.
    if let Some(key) = PhotoKey::parse(&deleted.object_key) {
        for key in key.with_variants() {
            if let Err(err) = app.store.delete(&key).await {
                tracing::warn!(%key, error = %err, "could not delete file of a deleted photo");
            }
        }
    }
    if let Err(err) = events::forget_cover(app, &event, deleted.id).await {
        tracing::warn!(event = %event.id, error = %err, "could not unset the deleted cover photo");
    }
    app.events
        .publish(LiveEvent::PictureDeleted {
            session_id: deleted.event_id,
            picture_id: deleted.id,
            user_id: deleted.guest_id,
            status: deleted.status.as_str().to_owned(),
        })
        .await;
    Ok(())
}
