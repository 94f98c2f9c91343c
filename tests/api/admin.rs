//! `partypic admin …` against the database and object store a running server uses.

use std::{process::Stdio, time::Duration};

use image::ImageFormat;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::helpers::{Backend, BackendEnv, TestApp, eventually, jpeg_bytes};
use crate::live::encode;
use crate::on_both_backends;

on_both_backends!(
    admin_lists_users_and_events_and_resets_passwords,
    admin_delete_event_removes_the_event_with_every_file,
);

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The environment that points the binary at the test's database and object store.
pub fn cli_env(env: &BackendEnv) -> Vec<(String, String)> {
    let config = env.config();
    let mut vars = vec![
        ("DATA_DIR".into(), env.data_dir.path().display().to_string()),
        ("JWT_SECRET".into(), crate::helpers::JWT_SECRET.into()),
        ("ARGON2_MEMORY_KIB".into(), "1024".into()),
        ("ARGON2_ITERATIONS".into(), "1".into()),
    ];
    if let Some(url) = &env.database_url {
        vars.push(("DATABASE_URL".into(), url.clone()));
    }
    if let Some(endpoint) = &config.s3_endpoint {
        vars.extend([
            ("S3_ENDPOINT".into(), endpoint.clone()),
            ("S3_REGION".into(), config.s3_region.clone()),
            ("S3_BUCKET_NAME".into(), config.s3_bucket_name.clone()),
            ("S3_FORCE_PATH_STYLE".into(), "true".into()),
            (
                "S3_ACCESS_KEY".into(),
                config.s3_access_key.clone().unwrap_or_default(),
            ),
            (
                "S3_SECRET_KEY".into(),
                config
                    .s3_secret_key
                    .as_ref()
                    .map(|s| s.expose_secret().to_owned())
                    .unwrap_or_default(),
            ),
        ]);
    }
    vars
}

/// Runs `partypic ARGS` with the test's configuration, feeding `stdin` when given.
pub async fn partypic(env: &BackendEnv, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_partypic"));
    command
        .args(args)
        .env_clear()
        .envs(cli_env(env))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("run partypic");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("partypic finished in time")
        .expect("partypic ran");
    let output = Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
    output
}

fn json_of(output: &Output) -> Value {
    assert_eq!(output.code, 0, "{}", output.stderr);
    serde_json::from_str(&output.stdout).unwrap_or_else(|_| panic!("not JSON: {}", output.stdout))
}

async fn login_status(app: &TestApp, email: &str, password: &str) -> StatusCode {
    app.post_json(
        "/auth/login",
        &json!({"email": email, "password": password}),
    )
    .await
    .status()
}

async fn admin_lists_users_and_events_and_resets_passwords(backend: Backend) {
    let (app, env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    app.upload(session_id, jpeg_bytes(1)).await;

    let users = json_of(&partypic(&env, &["admin", "users", "--json"], None).await);
    let user = users
        .as_array()
        .expect("array")
        .iter()
        .find(|u| u["email"] == host.email.as_str())
        .expect("the host is listed");
    assert_eq!(user["id"], host.id.to_string());
    assert_eq!(user["events"], 1);
    let table = partypic(&env, &["admin", "users"], None).await;
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.starts_with("ID"), "{}", table.stdout);
    assert!(table.stdout.contains(&host.email), "{}", table.stdout);

    let events = json_of(&partypic(&env, &["admin", "events", "--json"], None).await);
    let event = events
        .as_array()
        .expect("array")
        .iter()
        .find(|e| e["id"] == session_id.to_string())
        .expect("the event is listed");
    assert_eq!(event["hostEmail"], host.email.as_str());
    assert_eq!(event["name"], "Wedding");
    assert_eq!(event["photos"], 1);
    assert!(
        event["storedBytes"].as_i64().expect("bytes") > 4000,
        "{event}"
    );
    let table = partypic(&env, &["admin", "events"], None).await;
    assert!(
        table.stdout.contains(&session_id.to_string()),
        "{}",
        table.stdout
    );

    // A password from standard input replaces the old one.
    let reset = partypic(
        &env,
        &["admin", "reset-password", &host.email, "--password-stdin"],
        Some("a brand new secret\n"),
    )
    .await;
    assert_eq!(reset.code, 0, "{}", reset.stderr);
    assert_eq!(reset.stdout, "", "nothing to show");
    assert_eq!(
        login_status(&app, &host.email, &host.password).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_status(&app, &host.email, "a brand new secret").await,
        StatusCode::OK
    );

    // Without --password-stdin one is generated and printed once.
    let reset = partypic(
        &env,
        &["admin", "reset-password", &host.email.to_uppercase()],
        None,
    )
    .await;
    assert_eq!(reset.code, 0, "{}", reset.stderr);
    let generated = reset.stdout.trim();
    assert_eq!(generated.len(), 20, "{}", reset.stdout);
    assert_eq!(
        login_status(&app, &host.email, generated).await,
        StatusCode::OK
    );

    let unknown = partypic(
        &env,
        &["admin", "reset-password", "nobody@example.com"],
        None,
    )
    .await;
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("no account with email"),
        "{}",
        unknown.stderr
    );
    let too_short = partypic(
        &env,
        &["admin", "reset-password", &host.email, "--password-stdin"],
        Some("short\n"),
    )
    .await;
    assert_eq!(too_short.code, 2, "{}", too_short.stderr);
    let bad_email = partypic(&env, &["admin", "reset-password", "not-an-email"], None).await;
    assert_eq!(bad_email.code, 2, "{}", bad_email.stderr);
    assert_eq!(
        login_status(&app, &host.email, generated).await,
        StatusCode::OK,
        "failed resets change nothing"
    );
}

async fn status_of(app: &TestApp, url: &str) -> StatusCode {
    app.client.get(url).send().await.expect("GET").status()
}

async fn admin_delete_event_removes_the_event_with_every_file(backend: Backend) {
    let (app, env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let doomed = app.create_session(&host).await;
    let kept = app.create_session(&host).await;
    let photo = app.upload(doomed, encode(64, 48, ImageFormat::Jpeg)).await;
    app.upload(doomed, jpeg_bytes(2)).await;
    let survivor = app.upload(kept, jpeg_bytes(3)).await;
    // The host's view: originals and thumbnails (guests' display copies go the same way).
    let gallery = |session| {
        let (app, host) = (&app, &host);
        async move { app.host_gallery(host, session).await }
    };
    // Wait for the thumbnail, so that it is there to be deleted.
    let thumbnail_ready = || async {
        let listed = gallery(doomed).await;
        listed
            .as_array()
            .and_then(|all| all.iter().find(|p| p["id"] == photo["id"]).cloned())
            .is_some_and(|entry| entry["variants"] == "ready")
    };
    assert!(
        eventually(Duration::from_secs(15), thumbnail_ready).await,
        "thumbnail never appeared"
    );
    let urls: Vec<String> = gallery(doomed)
        .await
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| [p["url"].clone(), p["thumbUrl"].clone()])
        .filter_map(|u| u.as_str().map(str::to_owned))
        .collect();
    assert_eq!(urls.len(), 4, "{urls:?}");
    for url in &urls {
        assert_eq!(status_of(&app, url).await, StatusCode::OK, "{url}");
    }

    let deleted = partypic(&env, &["admin", "delete-event", &doomed.to_string()], None).await;
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    assert!(deleted.stdout.contains("2 photo(s)"), "{}", deleted.stdout);

    for url in &urls {
        assert_eq!(status_of(&app, url).await, StatusCode::NOT_FOUND, "{url}");
    }
    // A running server may serve a gallery page it rendered before for a few seconds more.
    assert!(
        eventually(Duration::from_secs(10), || async {
            app.get(&format!("/pictures/session?sessionId={doomed}"))
                .await
                .status()
                == StatusCode::NOT_FOUND
        })
        .await,
        "the gallery is still served"
    );
    if backend == Backend::SqliteFs {
        let dir = env.data_dir.path().join("photos").join(doomed.to_string());
        assert!(!dir.exists(), "{} is left behind", dir.display());
    }
    // The other event is untouched.
    let listed = gallery(kept).await;
    assert_eq!(listed[0]["id"], survivor["id"]);
    let survivor_url = listed[0]["url"].as_str().expect("url").to_owned();
    assert_eq!(status_of(&app, &survivor_url).await, StatusCode::OK);

    let again = partypic(&env, &["admin", "delete-event", &doomed.to_string()], None).await;
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(
        again.stderr.contains("no event with id"),
        "{}",
        again.stderr
    );
    let malformed = partypic(&env, &["admin", "delete-event", "not-a-uuid"], None).await;
    assert_eq!(malformed.code, 2, "{}", malformed.stderr);
}
