//! Password reset by e-mail, through a real SMTP server (Python's aiosmtpd, from the tools
//! venv that scripts/lib/ensure-tools.sh fills).

use std::{
    net::TcpListener as StdListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use base64::Engine as _;
use chrono::TimeDelta;
use partypic::{
    app::{ErrorCode, now, password_reset},
    domain::values::Password,
};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp, body, eventually};
use crate::on_both_backends;

on_both_backends!(a_mailed_link_sets_a_new_password_once_and_expires_after_an_hour);

/// A local SMTP server that keeps every mail in a Maildir.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tools_python() -> PathBuf {
    let tools = std::env::var_os("PARTYPIC_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/partypic-tools")
        });
    tools.join("venv/bin/python")
}

/// `None` (with a note) when aiosmtpd is not installed and this run does not require it.
async fn start_smtp() -> Option<SmtpServer> {
    let python = tools_python();
    let installed = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        assert!(
            std::env::var_os("PARTYPIC_TEST_REQUIRE_ALL").is_none(),
            "aiosmtpd is missing from {}: run scripts/lib/ensure-tools.sh",
            python.display()
        );
        eprintln!(
            "note: skipping the SMTP test: aiosmtpd is not installed (scripts/lib/ensure-tools.sh)"
        );
        return None;
    }
    let port = StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let maildir = tempfile::tempdir().expect("maildir");
    let child = Command::new(&python)
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir.path().join("mail"))
        .stdout(Stdio::null())
        .spawn()
        .expect("start aiosmtpd");
    let server = SmtpServer {
        child,
        port,
        maildir,
    };
    let up = eventually(Duration::from_secs(15), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    assert!(up, "aiosmtpd did not start");
    Some(server)
}

fn mails(maildir: &Path) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(maildir.join("mail/new"))
        .map(|dir| dir.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("mail"))
        .collect()
}

/// The decoded text of a single-part mail (quoted-printable, base64 or plain).
fn text_of(mail: &str) -> String {
    let (head, body) = mail
        .split_once("\r\n\r\n")
        .or_else(|| mail.split_once("\n\n"))
        .expect("headers and body");
    let head = head.to_ascii_lowercase();
    if head.contains("content-transfer-encoding: base64") {
        let compact: String = body.split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .expect("base64 body");
        return String::from_utf8(bytes).expect("utf-8");
    }
    if !head.contains("content-transfer-encoding: quoted-printable") {
        return body.to_owned();
    }
    let joined = body.replace("=\r\n", "").replace("=\n", "");
    let mut bytes = Vec::new();
    let raw = joined.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'=' && i + 3 <= raw.len() {
            if let Ok(byte) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                bytes.push(byte);
                i += 3;
                continue;
            }
        }
        bytes.push(raw[i]);
        i += 1;
    }
    String::from_utf8(bytes).expect("utf-8")
}

fn token_of(text: &str) -> String {
    let start = text
        .find("http://party.example/reset?token=")
        .unwrap_or_else(|| panic!("no reset link in: {text}"));
    text[start..]
        .trim_start_matches("http://party.example/reset?token=")
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect()
}

async fn confirm(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/auth/password-reset/confirm",
        &json!({"token": token, "password": password}),
    )
    .await
}

async fn login(app: &TestApp, email: &str, password: &str) -> StatusCode {
    app.post_json(
        "/auth/login",
        &json!({"email": email, "password": password}),
    )
    .await
    .status()
}

async fn a_mailed_link_sets_a_new_password_once_and_expires_after_an_hour(backend: Backend) {
    let Some(smtp) = start_smtp().await else {
        return;
    };
    let (app, _env) = TestApp::spawn_with(backend, |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{}", smtp.port).into());
        c.public_url = Some("http://party.example".into());
    })
    .await;
    let host = app.register().await;
    let ask = |email: String| {
        let app = &app;
        async move {
            app.post_json("/auth/password-reset", &json!({ "email": email }))
                .await
        }
    };

    // The same answer for an unknown address; only the account's gets a mail.
    let unknown = ask("nobody@example.com".into()).await;
    assert_eq!(unknown.status(), StatusCode::ACCEPTED);
    let known = ask(host.email.to_uppercase()).await;
    assert_eq!(known.status(), StatusCode::ACCEPTED);
    assert!(
        eventually(Duration::from_secs(15), || async {
            !mails(smtp.maildir.path()).is_empty()
        })
        .await,
        "no mail arrived"
    );
    let mail = &mails(smtp.maildir.path())[0];
    assert!(mail.contains(&format!("To: {}", host.email)), "{mail}");
    let text = text_of(mail);
    assert!(
        text.contains("Passwort") && text.contains("password"),
        "{text}"
    );
    let token = token_of(&text);
    assert_eq!(token.len(), 64, "{text}");

    let wrong = confirm(&app, &"0".repeat(64), "a brand new secret").await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(wrong).await["code"], "auth.reset_token_invalid");
    let short = confirm(&app, &token, "short").await;
    assert_eq!(short.status(), StatusCode::BAD_REQUEST);

    let done = confirm(&app, &token, "a brand new secret").await;
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        login(&app, &host.email, "a brand new secret").await,
        StatusCode::OK
    );
    assert_eq!(
        login(&app, &host.email, &host.password).await,
        StatusCode::UNAUTHORIZED
    );
    let again = confirm(&app, &token, "yet another secret").await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "a link works once");
    assert_eq!(body(again).await["code"], "auth.reset_token_invalid");

    // A second link, tried an hour and a minute later (the workflow's clock moved), is expired;
    // at the real time it still works.
    assert_eq!(ask(host.email.clone()).await.status(), StatusCode::ACCEPTED);
    assert!(
        eventually(Duration::from_secs(15), || async {
            mails(smtp.maildir.path()).len() == 2
        })
        .await,
        "no second mail"
    );
    let second = token_of(&text_of(&mails(smtp.maildir.path())[1]));
    let password = Password::parse("the hour has passed".into()).expect("valid");
    let later = now() + password_reset::TOKEN_LIFETIME + TimeDelta::minutes(1);
    let expired = password_reset::confirm(app.state(), &second, &password, later).await;
    assert_eq!(
        expired.err().map(|e| e.code()),
        Some(ErrorCode::ResetTokenInvalid)
    );
    assert_eq!(
        confirm(&app, &second, "in time after all").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        login(&app, &host.email, "in time after all").await,
        StatusCode::OK
    );

    // Three requests an hour per address; the next is turned away.
    assert_eq!(ask(host.email.clone()).await.status(), StatusCode::ACCEPTED);
    let flood = ask(host.email.clone()).await;
    assert_eq!(flood.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body(flood).await["code"], "auth.rate_limited");
    assert!(
        mails(smtp.maildir.path())
            .iter()
            .all(|mail| !mail.contains("nobody@example.com")),
        "the unknown address got a mail"
    );
}

#[tokio::test]
async fn without_smtp_a_reset_request_says_reset_by_mail_is_not_configured() {
    let (app, _env) = TestApp::spawn(Backend::SqliteFs).await;
    let response = app
        .post_json(
            "/auth/password-reset",
            &json!({"email": "anna@example.com"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(body(response).await["code"], "auth.reset_by_mail_disabled");
    let malformed = app
        .post_json("/auth/password-reset", &json!({"email": "not-an-email"}))
        .await;
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
}
