//! Co-hosts: the owner of an event invites other hosts by a one-time link; whoever accepts it
//! (logged in) helps run the event (see [`HostRole`]). The owner removes co-hosts; a co-host may
//! leave. Only the link token's SHA-256 is stored; a link works once, for [`INVITE_LIFETIME`].

use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{App, Error, ErrorCode, Host, Result, owner_only};
use crate::{
    db::{CohostInviteRecord, DbError},
    domain::host_role::HostRole,
    events::LiveEvent,
};

pub const INVITE_LIFETIME: TimeDelta = TimeDelta::days(7);
/// Tokens are 32 random bytes in hex; anything much longer is not one of ours.
const MAX_TOKEN_CHARS: usize = 128;

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new co-host link: the token is shown once, to the owner who made it.
#[derive(Debug, Clone)]
pub struct NewInvite {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Makes a one-time co-host link for the event. Owner only.
pub async fn create_invite(
    app: &App,
    host: &Host,
    event_id: Uuid,
    now: DateTime<Utc>,
) -> Result<NewInvite> {
    let event = app.owned_event(host, event_id).await?;
    if let Some(wait) = app.cohost_invite_limiter.check(host.id) {
        return Err(Error::unavailable(
            ErrorCode::CohostInviteRateLimited,
            "Too many co-host links, please wait a moment",
            wait,
        ));
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let expires_at = now + INVITE_LIFETIME;
    app.db
        .insert_cohost_invite(&CohostInviteRecord {
            token_hash: hash(&token),
            event_id: event.id,
            created_by: host.id,
            created_at: now,
            expires_at,
            used_at: None,
            used_by: None,
        })
        .await?;
    tracing::info!(event_id = %event.id, "co-host link created");
    Ok(NewInvite { token, expires_at })
}

fn invite_not_found() -> Error {
    Error::new(
        ErrorCode::CohostInviteNotFound,
        "This co-host link is unknown; ask the event's owner for a new one",
    )
}

fn invite_used() -> Error {
    Error::new(
        ErrorCode::CohostInviteUsed,
        "This co-host link has already been used; ask the event's owner for a new one",
    )
}

fn invite_expired() -> Error {
    Error::new(
        ErrorCode::CohostInviteExpired,
        "This co-host link has expired; ask the event's owner for a new one",
    )
}

/// Makes `host` a co-host of the link's event, using the link up. Refused without using it when
/// `host` already runs the event (its owner, or a co-host).
pub async fn accept(app: &App, host: &Host, token: &str, now: DateTime<Utc>) -> Result<Uuid> {
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_CHARS {
        return Err(invite_not_found());
    }
    let token_hash = hash(token);
    let invite = app
        .db
        .cohost_invite(&token_hash)
        .await?
        .ok_or_else(invite_not_found)?;
    let event = app.event(invite.event_id).await?;
    match app.host_role(&event, host).await? {
        Some(HostRole::Owner) => {
            return Err(Error::new(
                ErrorCode::CohostInviteOwnEvent,
                "This is your own event: you are its owner already",
            ));
        }
        Some(HostRole::CoHost) => {
            return Err(Error::new(
                ErrorCode::AlreadyCohost,
                "You are a co-host of this event already",
            ));
        }
        None => {}
    }
    if invite.used_at.is_some() {
        return Err(invite_used());
    }
    if invite.expires_at <= now {
        return Err(invite_expired());
    }
    match app.db.accept_cohost_invite(&token_hash, host.id, now).await {
        Ok(Some(event_id)) => {
            tracing::info!(%event_id, host = %host.email, "co-host added");
            app.events
                .publish(LiveEvent::SessionUpdated {
                    session_id: event_id,
                })
                .await;
            Ok(event_id)
        }
        // Another request used it between our look and our use (or it expired meanwhile).
        Ok(None) if invite.expires_at <= super::now() => Err(invite_expired()),
        Ok(None) => Err(invite_used()),
        // A valid token whose account no longer exists.
        Err(DbError::MissingReference(_)) => {
            Err(Error::new(ErrorCode::UnknownAccount, "Unknown user"))
        }
        Err(other) => Err(other.into()),
    }
}

/// Someone who runs an event, as its host list shows them.
#[derive(Debug, Clone)]
pub struct EventHost {
    pub host_id: Uuid,
    pub email: String,
    pub username: String,
    pub role: HostRole,
    /// When they became a host of the event (the owner: when they created it).
    pub added_at: DateTime<Utc>,
}

/// The event's owner, then its co-hosts in the order they joined. For the owner and co-hosts.
pub async fn list(app: &App, host: &Host, event_id: Uuid) -> Result<Vec<EventHost>> {
    let event = app.hosted_event(host, event_id).await?;
    let mut hosts = Vec::new();
    if let Some(owner) = app.db.host(event.host_id).await? {
        hosts.push(EventHost {
            host_id: owner.id,
            email: owner.email,
            username: owner.username,
            role: HostRole::Owner,
            added_at: event.created_at,
        });
    }
    hosts.extend(
        app.db
            .co_hosts(event.id)
            .await?
            .into_iter()
            .map(|co_host| EventHost {
                host_id: co_host.host_id,
                email: co_host.email,
                username: co_host.username,
                role: HostRole::CoHost,
                added_at: co_host.added_at,
            }),
    );
    Ok(hosts)
}

/// Removes a co-host: the owner removes anybody but themselves; a co-host only themselves
/// (leaving the event).
pub async fn remove(app: &App, host: &Host, event_id: Uuid, co_host_id: Uuid) -> Result<()> {
    let event = app.event(event_id).await?;
    let role = app.require_host(&event, Some(host)).await?;
    if role == HostRole::CoHost && co_host_id != host.id {
        return Err(owner_only());
    }
    if co_host_id == event.host_id {
        return Err(Error::new(
            ErrorCode::InvalidField,
            "The owner cannot be removed from their own event",
        ));
    }
    if !app.db.delete_co_host(event.id, co_host_id).await? {
        return Err(Error::new(
            ErrorCode::CohostNotFound,
            "This account is not a co-host of this event",
        ));
    }
    tracing::info!(event_id = %event.id, %co_host_id, by = %host.email, "co-host removed");
    // Live views of the removed co-host end on this (see `live::feed`).
    app.events
        .publish(LiveEvent::SessionUpdated {
            session_id: event.id,
        })
        .await;
    Ok(())
}
