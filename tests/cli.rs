//! The binary's edge: bad configuration is one clear line and a non-zero exit, never a panic.

#[allow(dead_code, unused_macros, unused_imports)]
#[path = "api/helpers.rs"]
mod helpers;

use std::{process::Command, time::Duration};

use helpers::{TestApp, error_code, eventually};
use reqwest::StatusCode;
use serde_json::json;

fn partypic(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let data = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_partypic"));
    command
        .args(args)
        .env_clear()
        .env("DATA_DIR", data.path())
        .env("PORT", "0")
        .env("HOST", "127.0.0.1");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run partypic");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn bad_configuration_is_one_clear_line_and_exit_code_2() {
    let cases: &[&[(&str, &str)]] = &[
        &[("PORT", "eighty")],
        &[("DATABASE_URL", "mysql://localhost/partypic")],
        &[("DB_HOST", "db.internal")],
        &[("S3_ENDPOINT", "http://127.0.0.1:9")],
        &[
            ("S3_ENDPOINT", "not a url"),
            ("S3_ACCESS_KEY", "a"),
            ("S3_SECRET_KEY", "b"),
        ],
        &[("JWT_SECRET", "short")],
        &[("LOG_FORMAT", "xml")],
        &[("HOST", "localhost")],
        &[("SMTP_URL", "smtp://127.0.0.1:25")],
        &[
            ("SMTP_URL", "http://mail.example"),
            ("PUBLIC_URL", "https://party.example"),
        ],
        &[("RETENTION_DAYS", "-1")],
    ];
    for env in cases {
        let (code, stderr) = partypic(&[], env);
        assert_eq!(code, 2, "{env:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{env:?}: {stderr}");
        assert!(
            lines[0].starts_with("partypic: configuration error: "),
            "{env:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn the_openapi_document_goes_to_a_reader_that_stops_early_without_a_panic() {
    use std::io::Read as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_partypic"))
        .arg("openapi")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut start = [0u8; 16];
    stdout.read_exact(&mut start).expect("the document begins");
    assert!(String::from_utf8_lossy(&start).starts_with('{'));
    // As `partypic openapi | head -c 16` does: the rest of the document meets a closed pipe.
    drop(stdout);
    let output = child.wait_with_output().expect("exit");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn help_documents_every_setting() {
    let output = Command::new(env!("CARGO_BIN_EXE_partypic"))
        .arg("--help")
        .output()
        .expect("run");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for setting in [
        "DATABASE_URL",
        "DB_HOST",
        "DB_PORT",
        "DB_USER",
        "DB_PASSWORD",
        "DB_NAME",
        "S3_ENDPOINT",
        "S3_REGION",
        "S3_BUCKET_NAME",
        "S3_ACCESS_KEY",
        "S3_SECRET_KEY",
        "S3_SESSION_TOKEN",
        "S3_FORCE_PATH_STYLE",
        "S3_PUBLIC_ENDPOINT",
        "S3_CORS_ORIGINS",
        "JWT_SECRET",
        "PUBLIC_URL",
        "LOG_FORMAT",
        "PORT",
        "DATA_DIR",
        "RATE_LIMIT_AUTH_PER_MINUTE",
        "SHUTDOWN_TIMEOUT_SECS",
        "RETENTION_DAYS",
        "SMTP_URL",
        "SMTP_FROM",
        "EVENT_QUOTA_MB",
        "HOST_QUOTA_MB",
    ] {
        assert!(help.contains(setting), "--help does not mention {setting}");
    }
}

#[test]
fn migrate_applies_the_embedded_migrations_and_exits() {
    let (code, stderr) = partypic(&["migrate"], &[]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn admin_commands_work_on_a_fresh_data_dir_and_refuse_bad_arguments() {
    let data = tempfile::tempdir().expect("temp dir");
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_partypic"))
            .args(args)
            .env_clear()
            .env("DATA_DIR", data.path())
            .output()
            .expect("run partypic");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run(&["admin", "users"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("(none)"), "{stdout}");
    let (code, stdout, stderr) = run(&["admin", "events", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "[]");
    let (code, _, stderr) = run(&[
        "admin",
        "delete-event",
        "7d3c8f0e-3b9a-4b8e-9d2a-1f0c2b3a4d5e",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no event with id"), "{stderr}");
    let (code, _, stderr) = run(&["admin", "frobnicate"]);
    assert_eq!(code, 2, "{stderr}");
}

/// Without ffmpeg on the PATH the server still starts, says so in one log line and refuses clips
/// with `upload.video_unsupported` (announced or recognised by their bytes); photos go in.
#[tokio::test]
async fn without_ffmpeg_the_server_starts_says_so_once_and_refuses_clips() {
    let data = tempfile::tempdir().expect("data dir");
    let no_tools = tempfile::tempdir().expect("an empty PATH");
    let logs = tempfile::tempdir().expect("log dir");
    let log_path = logs.path().join("server.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_partypic"))
        .env_clear()
        .env("PATH", no_tools.path())
        .env("DATA_DIR", data.path())
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("METRICS_PORT", "0")
        .env("LOG_FORMAT", "json")
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("start partypic");
    let app = TestApp::attach(format!("http://127.0.0.1:{port}"));
    let ready = eventually(Duration::from_secs(30), || async {
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
    assert!(
        ready,
        "not ready: {}",
        std::fs::read_to_string(&log_path).unwrap_or_default()
    );

    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let init = app
        .post_json(
            "/pictures/init-upload",
            &json!({"session_id": session_id, "mimetype": "video/mp4"}),
        )
        .await;
    assert_eq!(
        error_code(init, StatusCode::UNSUPPORTED_MEDIA_TYPE).await,
        "upload.video_unsupported"
    );
    // An MP4 announced as a photo is recognised by its `ftyp` box at finalize.
    let mut clip = b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41".to_vec();
    clip.extend_from_slice(&[0u8; 4096]);
    let (key, put) = app.put_photo(session_id, "image/jpeg", clip).await;
    assert_eq!(put.status(), StatusCode::OK);
    let finalize = app.finalize(session_id, &key, "Ben").await;
    assert_eq!(
        error_code(finalize, StatusCode::UNSUPPORTED_MEDIA_TYPE).await,
        "upload.video_unsupported"
    );
    // Photos are unaffected.
    let photo = app.upload(session_id, helpers::jpeg_bytes(1)).await;
    assert!(photo["id"].is_string(), "{photo}");

    server.start_kill().expect("stop the server");
    let _ = server.wait().await;
    let log = std::fs::read_to_string(&log_path).expect("log");
    let about_ffmpeg: Vec<&str> = log.lines().filter(|l| l.contains("ffmpeg")).collect();
    assert_eq!(about_ffmpeg.len(), 1, "{log}");
    assert!(about_ffmpeg[0].contains("video clips are refused"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}
