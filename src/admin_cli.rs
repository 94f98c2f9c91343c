//! `partypic admin …`: the command line face of [`crate::app::admin`]. Tables for people,
//! `--json` for scripts. Exit codes: 0 done, 1 no such account or event (or a failure), 2 bad
//! arguments.

use std::{io::Read as _, process::ExitCode};

use rand::Rng as _;
use serde_json::json;

use crate::{
    app::{ErrorCode, admin::Admin},
    config::AdminCommand,
    domain::values::{Email, Password, parse_uuid},
};

/// Length of a generated password (alphanumeric: ~119 bits).
const GENERATED_PASSWORD_CHARS: usize = 20;

pub async fn run(admin: &Admin, command: AdminCommand) -> ExitCode {
    match execute(admin, command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("partypic admin: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(message)) => {
            eprintln!("partypic admin: {message}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    /// Bad arguments: exit code 2.
    Usage(String),
    /// No such account or event, or the work failed: exit code 1.
    Failed(String),
}

impl From<crate::app::Error> for Failure {
    fn from(err: crate::app::Error) -> Self {
        match err {
            crate::app::Error::Internal(source) => Self::Failed(format!("{source:#}")),
            other => Self::Failed(other.to_string()),
        }
    }
}

async fn execute(admin: &Admin, command: AdminCommand) -> Result<(), Failure> {
    match command {
        AdminCommand::Users { json } => {
            let users = admin.users().await?;
            if json {
                let rows: Vec<_> = users
                    .iter()
                    .map(|u| {
                        json!({
                            "id": u.host.id,
                            "email": u.host.email,
                            "name": u.host.username,
                            "events": u.event_count,
                            "createdAt": u.host.created_at.to_rfc3339(),
                        })
                    })
                    .collect();
                print_json(&rows);
            } else {
                let rows = users
                    .iter()
                    .map(|u| {
                        vec![
                            u.host.id.to_string(),
                            u.host.email.clone(),
                            u.host.username.clone(),
                            u.event_count.to_string(),
                            u.host.created_at.format("%Y-%m-%d %H:%M").to_string(),
                        ]
                    })
                    .collect();
                print_table(&["ID", "EMAIL", "NAME", "EVENTS", "CREATED (UTC)"], rows);
            }
        }
        AdminCommand::Events { json } => {
            let events = admin.events().await?;
            if json {
                let rows: Vec<_> = events
                    .iter()
                    .map(|e| {
                        json!({
                            "id": e.summary.event.id,
                            "hostId": e.summary.event.host_id,
                            "hostEmail": e.host_email,
                            "name": event_name(&e.summary.event.settings),
                            "createdAt": e.summary.event.created_at.to_rfc3339(),
                            "endsAt": e.summary.event.ends_at.to_rfc3339(),
                            "photos": e.summary.picture_count + e.summary.pending_count,
                            "pendingPhotos": e.summary.pending_count,
                            "guests": e.summary.guest_count,
                            "storedBytes": e.stored_bytes,
                        })
                    })
                    .collect();
                print_json(&rows);
            } else {
                let rows = events
                    .iter()
                    .map(|e| {
                        vec![
                            e.summary.event.id.to_string(),
                            e.host_email.clone(),
                            event_name(&e.summary.event.settings),
                            e.summary
                                .event
                                .created_at
                                .format("%Y-%m-%d %H:%M")
                                .to_string(),
                            e.summary.event.ends_at.format("%Y-%m-%d %H:%M").to_string(),
                            (e.summary.picture_count + e.summary.pending_count).to_string(),
                            e.summary.guest_count.to_string(),
                            format!("{:.1}", e.stored_bytes as f64 / (1024.0 * 1024.0)),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "ID",
                        "HOST",
                        "NAME",
                        "CREATED (UTC)",
                        "ENDS (UTC)",
                        "PHOTOS",
                        "GUESTS",
                        "MB",
                    ],
                    rows,
                );
            }
        }
        AdminCommand::ResetPassword {
            email,
            password_stdin,
        } => {
            let email = Email::parse(&email).map_err(|e| Failure::Usage(e.message))?;
            let (password, generated) = if password_stdin {
                let mut input = String::new();
                std::io::stdin()
                    .read_to_string(&mut input)
                    .map_err(|e| Failure::Usage(format!("cannot read standard input: {e}")))?;
                let line = input.lines().next().unwrap_or_default().to_owned();
                (line, false)
            } else {
                let password: String = rand::rng()
                    .sample_iter(&rand::distr::Alphanumeric)
                    .take(GENERATED_PASSWORD_CHARS)
                    .map(char::from)
                    .collect();
                (password, true)
            };
            let password = Password::parse(password).map_err(|e| Failure::Usage(e.message))?;
            admin
                .reset_password(&email, &password)
                .await
                .map_err(|err| match err.code() {
                    ErrorCode::UnknownAccount => {
                        Failure::Failed(format!("no account with email {}", email.as_str()))
                    }
                    _ => err.into(),
                })?;
            if generated {
                println!("{}", password.expose());
                eprintln!(
                    "New password for {} set (shown once, above).",
                    email.as_str()
                );
            } else {
                eprintln!("New password for {} set.", email.as_str());
            }
        }
        AdminCommand::DeleteEvent { id } => {
            let id = parse_uuid(id.trim(), "event id").map_err(|e| Failure::Usage(e.message))?;
            let deleted = admin
                .delete_event(id)
                .await
                .map_err(|err| match err.code() {
                    ErrorCode::EventNotFound => Failure::Failed(format!("no event with id {id}")),
                    _ => err.into(),
                })?;
            println!(
                "Deleted event {id} with {} photo(s) and their files.",
                deleted.photos
            );
        }
    }
    Ok(())
}

/// The event's display name from its settings, if it has one.
fn event_name(settings: &serde_json::Value) -> String {
    settings
        .get("name")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn print_json(rows: &[serde_json::Value]) {
    match serde_json::to_string_pretty(rows) {
        Ok(text) => println!("{text}"),
        Err(err) => eprintln!("partypic admin: cannot render JSON: {err}"),
    }
}

/// Left-aligned columns, two spaces apart.
fn print_table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    let count = rows.len();
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    if count == 0 {
        println!("(none)");
    }
}
