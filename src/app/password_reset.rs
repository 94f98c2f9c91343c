//! Password reset by e-mail (when `SMTP_URL` is set): a host asks for a link, the mail carries a
//! random token, and the token sets a new password once. Only the token's SHA-256 is stored; it
//! expires after [`TOKEN_LIFETIME`]. Asking never tells whether an account exists.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore as _;
use sha2::{Digest, Sha256};

use super::{App, Error, ErrorCode, Result};
use crate::domain::values::{Email, Password};

pub const TOKEN_LIFETIME: TimeDelta = TimeDelta::hours(1);

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn invalid_token() -> Error {
    Error::new(
        ErrorCode::ResetTokenInvalid,
        "This reset link is invalid, used or expired; ask for a new one",
    )
}

/// Accepts the request for `email` and, when it names an account, mails a link in the
/// background (so the answer takes as long either way).
pub async fn request(app: &Arc<App>, email: &Email, now: DateTime<Utc>) -> Result<()> {
    let (Some(mailer), Some(base)) = (&app.mailer, &app.public_url) else {
        return Err(Error::new(
            ErrorCode::ResetByMailDisabled,
            "Password reset by e-mail is not configured on this server; ask its administrator",
        ));
    };
    if let Some(wait) = app.reset_limiter.check(email.normalized()) {
        return Err(Error::new(
            ErrorCode::RateLimited,
            format!(
                "Too many reset requests for this address, please wait {} minutes",
                wait.div_ceil(60)
            ),
        ));
    }
    let (app, mailer, base, email) = (
        app.clone(),
        mailer.clone(),
        base.clone(),
        email.normalized().to_owned(),
    );
    tokio::spawn(async move {
        if let Err(err) = send_link(&app, &mailer, &base, &email, now).await {
            tracing::warn!(error = %format!("{err:#}"), "could not send a password-reset mail");
        }
    });
    Ok(())
}

async fn send_link(
    app: &App,
    mailer: &crate::mail::Mailer,
    base: &url::Url,
    email: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let Some(host) = app.db.host_by_email(email).await? else {
        tracing::info!("password reset asked for an unknown address");
        return Ok(());
    };
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    app.db
        .insert_password_reset(&hash(&token), host.id, now, now + TOKEN_LIFETIME)
        .await?;
    let mut link = base.clone();
    link.set_path(&format!("{}/reset", base.path().trim_end_matches('/')));
    link.set_query(None);
    link.query_pairs_mut().append_pair("token", &token);
    let body = format!(
        "Hallo {name},\n\n\
         jemand (hoffentlich du) möchte ein neues Passwort für dein PartyPic-Konto festlegen.\n\
         Über diesen Link geht das, eine Stunde lang und nur einmal:\n\n{link}\n\n\
         Wenn du das nicht warst, ignoriere diese E-Mail; dein Passwort bleibt, wie es ist.\n\n\
         ---\n\n\
         Hello {name},\n\n\
         someone (hopefully you) asked to set a new password for your PartyPic account.\n\
         This link does it, for one hour and only once:\n\n{link}\n\n\
         If it was not you, ignore this mail; your password stays as it is.\n",
        name = host.username,
    );
    mailer
        .send(
            &host.email,
            "PartyPic: Passwort zurücksetzen / Reset your password",
            body,
        )
        .await?;
    tracing::info!(host_id = %host.id, "password-reset link sent");
    Ok(())
}

/// Sets the new password with a token from a reset mail, once.
pub async fn confirm(
    app: &App,
    token: &str,
    password: &Password,
    now: DateTime<Utc>,
) -> Result<()> {
    let token_hash = hash(token.trim());
    // Checked before the (expensive) hash, used after it: a busy hasher does not burn the link.
    if app
        .db
        .password_reset_host(&token_hash, now)
        .await?
        .is_none()
    {
        return Err(invalid_token());
    }
    let password_hash = app.hasher.hash(password.expose()).await?;
    let host_id = app
        .db
        .use_password_reset(&token_hash, now)
        .await?
        .ok_or_else(invalid_token)?;
    if !app.db.set_password_hash(host_id, &password_hash).await? {
        return Err(invalid_token());
    }
    tracing::info!(%host_id, "password reset by mail");
    Ok(())
}
