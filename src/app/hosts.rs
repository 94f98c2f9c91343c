//! Hosts: registering an account, logging in, and reading the account back.

use std::time::Duration;

use uuid::Uuid;

use super::{App, Error, ErrorCode, Host, Result, now};
use crate::{
    db::{Database, HostRecord},
    domain::{
        password::PasswordHasher,
        values::{Email, Name, Password},
    },
};

pub struct Register {
    pub name: Name,
    pub email: Email,
    pub password: Password,
}

/// Login input is checked only as far as needed: a malformed email is just a failed login.
pub struct Login {
    pub email: String,
    pub password: String,
}

pub struct Session {
    pub token: String,
    pub lifetime: Duration,
    pub host: HostRecord,
}

pub async fn register(app: &App, command: Register) -> Result<HostRecord> {
    let Register {
        name,
        email,
        password,
    } = command;
    if app.db.host_by_email(email.normalized()).await?.is_some() {
        return Err(email_taken());
    }
    let password_hash = app.hasher.hash(password.expose()).await?;
    let host = HostRecord {
        id: Uuid::new_v4(),
        email: email.as_str().to_owned(),
        email_normalized: email.normalized().to_owned(),
        username: name.into_inner(),
        password_hash,
        created_at: now(),
    };
    app.db.insert_host(&host).await?;
    Ok(host)
}

fn email_taken() -> Error {
    Error::new(ErrorCode::EmailTaken, "Email already registered")
}

pub async fn login(app: &App, command: Login) -> Result<Session> {
    let wrong = || Error::new(ErrorCode::InvalidCredentials, "Invalid email or password");
    if command.password.len() > Password::MAX_BYTES {
        return Err(wrong());
    }
    let host = match Email::parse(&command.email) {
        Ok(email) => app.db.host_by_email(email.normalized()).await?,
        Err(_) => None,
    };
    // Verified even for unknown accounts, so timing does not tell which emails exist.
    let verified = app
        .hasher
        .verify(
            &command.password,
            host.as_ref().map(|h| h.password_hash.as_str()),
        )
        .await?;
    let host = host.filter(|_| verified).ok_or_else(wrong)?;
    let token = app.tokens.issue(host.id, &host.email)?;
    Ok(Session {
        token,
        lifetime: app.tokens.lifetime(),
        host,
    })
}

/// The logged-in host's account; a valid token for a deleted account is `auth.unknown_account`.
pub async fn account(app: &App, host: &Host) -> Result<HostRecord> {
    app.db
        .host(host.id)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::UnknownAccount, "Unknown user"))
}

/// The host a bearer token names, when the token is valid.
pub fn authenticate(app: &App, token: &str) -> Option<Host> {
    app.tokens.verify(token).map(|claims| Host {
        id: claims.sub,
        email: claims.email,
    })
}

/// Gives the account `email` names a new password; `auth.unknown_account` when there is none.
/// Tokens issued before stay valid until they expire.
pub async fn replace_password(
    db: &dyn Database,
    hasher: &PasswordHasher,
    email: &Email,
    password: &Password,
) -> Result<HostRecord> {
    let unknown = || Error::new(ErrorCode::UnknownAccount, "Unknown user");
    let host = db
        .host_by_email(email.normalized())
        .await?
        .ok_or_else(unknown)?;
    let password_hash = hasher.hash(password.expose()).await?;
    if !db.set_password_hash(host.id, &password_hash).await? {
        return Err(unknown());
    }
    tracing::info!(host_id = %host.id, "password replaced");
    Ok(HostRecord {
        password_hash,
        ..host
    })
}
