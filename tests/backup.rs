//! Backup and restore of the embedded default, and event export/import between the backend
//! pairs, through the real binary against servers spawned on random ports.

#[allow(dead_code, unused_macros, unused_imports)]
#[path = "api/helpers.rs"]
mod helpers;

use std::{
    collections::{HashMap, HashSet},
    io::{Cursor, Read},
    path::Path,
    process::Output,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use helpers::{Backend, BackendEnv, JWT_SECRET, TestApp, body, external};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

/// Runs `partypic ARGS` with only `env` set (the embedded default unless it says otherwise).
async fn partypic(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_partypic"));
    command.args(args).env_clear().env("LOG_FORMAT", "json");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().await.expect("run partypic")
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn data_env(dir: &Path) -> Vec<(&'static str, String)> {
    vec![("DATA_DIR", dir.display().to_string())]
}

fn as_env<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A real JPEG (so thumbnails get made), different for every `(client, n)`.
fn photo(client: u8, n: u32) -> Vec<u8> {
    let [a, b, c, d] = n.to_le_bytes();
    let image = image::RgbImage::from_fn(48, 32, |x, y| {
        image::Rgb([
            (x as u8).wrapping_mul(5) ^ a ^ c,
            (y as u8).wrapping_mul(7) ^ b ^ d,
            client.wrapping_mul(40),
        ])
    });
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
        .encode_image(&image)
        .expect("encode JPEG");
    bytes
}

/// The host's view of an event: every photo, pending ones included.
async fn gallery(app: &TestApp, token: &str, event: Uuid) -> Vec<Value> {
    let response = app
        .client
        .get(app.url(&format!("/pictures/session?sessionId={event}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("gallery");
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await.as_array().expect("array").clone()
}

async fn download(app: &TestApp, url: &str) -> Vec<u8> {
    let response = app.client.get(url).send().await.expect("download");
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    response.bytes().await.expect("bytes").to_vec()
}

async fn login(app: &TestApp, email: &str, password: &str) -> String {
    let response = app
        .post_json(
            "/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// Photos whose finalize answered 201: when, which, and their bytes.
type Acknowledged = Arc<Mutex<Vec<(Instant, Uuid, Vec<u8>)>>>;

/// Uploads until `stop`; returns every acknowledged (201) photo with when it was acknowledged.
/// `partypic restore FILE` into a fresh directory, and a server on what it restored.
async fn restore_and_serve(file: &Path) -> (TestApp, BackendEnv) {
    let restored = tempfile::tempdir().expect("temp dir");
    let output = partypic(
        &["restore", file.to_str().expect("path")],
        &as_env(&data_env(restored.path())),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output));
    let env = BackendEnv {
        backend: Backend::SqliteFs,
        data_dir: restored,
        database_url: None,
    };
    let app = TestApp::spawn_on(&env, |_| {}).await;
    (app, env)
}

async fn upload_until(
    app: Arc<TestApp>,
    event: Uuid,
    client: u8,
    stop: Arc<AtomicBool>,
    acked: Acknowledged,
) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let bytes = photo(client, n);
        let (key, put) = app.put_photo(event, "image/jpeg", bytes.clone()).await;
        assert_eq!(put.status(), StatusCode::OK);
        let response = app.finalize(event, &key, &format!("Guest {client}")).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let id = body(response).await["id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid");
        acked
            .lock()
            .expect("lock")
            .push((Instant::now(), id, bytes));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_upload_load_restores_every_acknowledged_photo() {
    let (app, env) = TestApp::spawn(Backend::SqliteFs).await;
    let host = app.register().await;
    let event = app.create_session(&host).await;
    let app = Arc::new(app);
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let uploaders: Vec<_> = (0..4)
        .map(|client| {
            tokio::spawn(upload_until(
                app.clone(),
                event,
                client,
                stop.clone(),
                acked.clone(),
            ))
        })
        .collect();
    // The host deletes photos meanwhile: the backup must never reference a deleted one's file.
    let deleted = Arc::new(Mutex::new(HashSet::new()));
    let deleter = {
        let (app, stop, acked, deleted) =
            (app.clone(), stop.clone(), acked.clone(), deleted.clone());
        let token = host.token.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(150)).await;
                let victim = acked.lock().expect("lock").last().map(|(_, id, _)| *id);
                if let Some(id) = victim.filter(|id| deleted.lock().expect("lock").insert(*id)) {
                    let response = app
                        .client
                        .delete(app.url(&format!("/pictures/{id}")))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .expect("delete");
                    assert!(response.status().is_success(), "{}", response.status());
                }
            }
        })
    };

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let backup_started = Instant::now();
    let archive = tempfile::tempdir().expect("temp dir");
    let file = archive.path().join("party.tar");
    let output = partypic(
        &["backup", file.to_str().expect("path")],
        &as_env(&data_env(env.data_dir.path())),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output));
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for task in uploaders {
        task.await.expect("uploader");
    }
    deleter.await.expect("deleter");
    let acked = std::mem::take(&mut *acked.lock().expect("lock"));
    let deleted = std::mem::take(&mut *deleted.lock().expect("lock"));
    let expected: Vec<_> = acked
        .iter()
        .filter(|(at, id, _)| *at < backup_started && !deleted.contains(id))
        .collect();
    assert!(expected.len() >= 10, "too little load: {}", expected.len());
    let uploaded: HashMap<Uuid, &Vec<u8>> =
        acked.iter().map(|(_, id, bytes)| (*id, bytes)).collect();

    let (restored_app, _restored_env) = restore_and_serve(&file).await;
    let pictures = gallery(&restored_app, &host.token, event).await;
    let restored_ids: HashSet<Uuid> = pictures
        .iter()
        .map(|p| p["id"].as_str().expect("id").parse().expect("uuid"))
        .collect();
    for (_, id, _) in &expected {
        assert!(
            restored_ids.contains(id),
            "acknowledged photo {id} is missing"
        );
    }
    // Every restored photo (and its thumbnail) is there, byte for byte.
    for picture in &pictures {
        let id: Uuid = picture["id"].as_str().expect("id").parse().expect("uuid");
        let original = download(&restored_app, picture["url"].as_str().expect("url")).await;
        assert_eq!(&&original, uploaded.get(&id).expect("a photo we uploaded"));
        download(
            &restored_app,
            picture["thumbUrl"].as_str().expect("thumbUrl"),
        )
        .await;
    }
    eprintln!(
        "backup under load: {} acknowledged, {} before the backup, {} restored",
        acked.len(),
        expected.len(),
        pictures.len()
    );
}

/// Uploads `count` photos to a new event; returns the server, its data, the host and the event.
async fn event_with_photos(count: u32) -> (TestApp, BackendEnv, helpers::Host, Uuid, Vec<Value>) {
    let (app, env) = TestApp::spawn(Backend::SqliteFs).await;
    let host = app.register().await;
    let event = app.create_session(&host).await;
    let mut pictures = Vec::new();
    for n in 0..count {
        pictures.push(app.upload(event, photo(9, n)).await);
    }
    (app, env, host, event, pictures)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_whose_file_is_gone_is_left_out_of_the_backup_and_reported() {
    let (app, env, host, event, pictures) = event_with_photos(3).await;
    let gone = &pictures[1];
    let key = gone["s3_key"].as_str().expect("key");
    std::fs::remove_file(env.data_dir.path().join("photos").join(key)).expect("remove file");

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("backup.tar");
    let output = partypic(
        &["backup", file.to_str().expect("path")],
        &as_env(&data_env(env.data_dir.path())),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let gone_id = gone["id"].as_str().expect("id");
    assert!(
        stdout.contains(&format!("photo {gone_id} was deleted during the backup")),
        "{stdout}"
    );
    drop(app);

    let (restored_app, _restored_env) = restore_and_serve(&file).await;
    let restored: Vec<Value> = gallery(&restored_app, &host.token, event).await;
    let ids: Vec<&Value> = restored.iter().map(|p| &p["id"]).collect();
    // Newest first: the third and the first photo.
    assert_eq!(ids, [&pictures[2]["id"], &pictures[0]["id"]]);
}

/// The offset of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in haystack")
}

fn is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut entries| entries.next().is_none())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_damaged_archives_and_non_empty_directories_and_leaves_nothing() {
    let (_app, env, _host, _event, _pictures) = event_with_photos(2).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("backup.tar");
    let output = partypic(
        &["backup", file.to_str().expect("path")],
        &as_env(&data_env(env.data_dir.path())),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output));
    let archive = std::fs::read(&file).expect("archive");

    // One flipped bit inside a photo.
    let mut flipped = archive.clone();
    let at = find(&archive, &photo(9, 1)) + 100;
    flipped[at] ^= 0x01;
    // The archive cut short.
    let truncated = archive[..archive.len() / 2].to_vec();
    for (name, bytes, complaint) in [
        ("flipped.tar", flipped, "checksum"),
        ("truncated.tar", truncated, "archive"),
    ] {
        let damaged = dir.path().join(name);
        std::fs::write(&damaged, bytes).expect("write");
        let target = tempfile::tempdir().expect("temp dir");
        let output = partypic(
            &["restore", damaged.to_str().expect("path")],
            &as_env(&data_env(target.path())),
        )
        .await;
        assert_eq!(output.status.code(), Some(1), "{name}: {}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(complaint), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(is_empty(target.path()), "{name} left files behind");
    }

    // A non-empty DATA_DIR is refused before anything is written.
    let occupied = tempfile::tempdir().expect("temp dir");
    std::fs::write(occupied.path().join("notes.txt"), "keep me").expect("write");
    let output = partypic(
        &["restore", file.to_str().expect("path")],
        &as_env(&data_env(occupied.path())),
    )
    .await;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("is not empty"), "{stderr}");
    assert_eq!(std::fs::read_dir(occupied.path()).expect("dir").count(), 1);

    // The intact archive restores.
    let target = tempfile::tempdir().expect("temp dir");
    let output = partypic(
        &["restore", file.to_str().expect("path")],
        &as_env(&data_env(target.path())),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output));
    assert!(target.path().join("partypic.sqlite").is_file());
}

#[tokio::test]
async fn backup_and_restore_refuse_postgresql_and_s3_with_one_line_naming_the_docs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().display().to_string();
    let postgres = [
        ("DATA_DIR", data.as_str()),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/partypic"),
        ("JWT_SECRET", JWT_SECRET),
    ];
    let s3 = [
        ("DATA_DIR", data.as_str()),
        ("S3_ENDPOINT", "http://127.0.0.1:1"),
        ("S3_ACCESS_KEY", "a"),
        ("S3_SECRET_KEY", "b"),
    ];
    for env in [&postgres[..], &s3[..]] {
        for command in ["backup", "restore"] {
            let output = partypic(&[command, "/tmp/partypic-never-written.tar"], env).await;
            assert_eq!(output.status.code(), Some(2), "{}", text(&output));
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
            assert!(stderr.contains("docs/operations.md"), "{stderr}");
        }
    }
}

/// The settings, missions, guests and photos of an exported event (`event.json`), without the
/// export's own time.
fn without_thumbnails(mut document: Value) -> Value {
    for photo in document["photos"].as_array_mut().into_iter().flatten() {
        photo["thumbnail"] = Value::Null;
        photo["thumb_status"] = Value::Null;
    }
    document
}

fn exported_event(file: &Path) -> Value {
    let bytes = std::fs::read(file).expect("archive");
    let mut archive = tar::Archive::new(Cursor::new(bytes));
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        if entry.path().expect("path").to_str() == Some("event.json") {
            let mut json = String::new();
            entry.read_to_string(&mut json).expect("read");
            let mut document: Value = serde_json::from_str(&json).expect("JSON");
            document["exported_at"] = Value::Null;
            return document;
        }
    }
    panic!("no event.json in {}", file.display());
}

fn postgres_s3_env(env: &BackendEnv) -> Vec<(&'static str, String)> {
    vec![
        ("DATA_DIR", env.data_dir.path().display().to_string()),
        ("DATABASE_URL", env.database_url.clone().expect("database")),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        ("S3_ENDPOINT", external::var(external::S3_ENDPOINT)),
        ("S3_REGION", external::var(external::S3_REGION)),
        ("S3_ACCESS_KEY", external::var(external::S3_ACCESS_KEY)),
        ("S3_SECRET_KEY", external::var(external::S3_SECRET_KEY)),
        (
            "S3_BUCKET_NAME",
            std::env::var(external::S3_BUCKET).unwrap_or_else(|_| "partypic-test".into()),
        ),
        ("S3_FORCE_PATH_STYLE", "true".to_owned()),
    ]
}

/// Checks that `app` shows `event` with the photos of `original`, byte for byte.
async fn assert_same_event(app: &TestApp, token: &str, event: Uuid, original: &[(Value, Vec<u8>)]) {
    let pictures = gallery(app, token, event).await;
    assert_eq!(pictures.len(), original.len());
    for (expected, bytes) in original {
        let found = pictures
            .iter()
            .find(|p| p["id"] == expected["id"])
            .unwrap_or_else(|| panic!("photo {} missing", expected["id"]));
        for field in [
            "s3_key",
            "u_name",
            "status",
            "user_id",
            "mission_id",
            "created_at",
        ] {
            assert_eq!(found[field], expected[field], "{field}");
        }
        assert_eq!(
            &download(app, found["url"].as_str().expect("url")).await,
            bytes
        );
    }
    let response = app.get(&format!("/sessions/get?sessionId={event}")).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_moves_from_sqlite_to_postgresql_and_s3_and_back() {
    if helpers::skip_postgres_s3() {
        return;
    }
    an_event_moves_to_and_back(Backend::PostgresS3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_moves_to_another_embedded_installation_and_back() {
    an_event_moves_to_and_back(Backend::SqliteFs).await;
}

/// The environment for the binary on `env`'s backend pair.
fn cli_env(env: &BackendEnv) -> Vec<(&'static str, String)> {
    match env.backend {
        Backend::SqliteFs => data_env(env.data_dir.path()),
        Backend::PostgresS3 => postgres_s3_env(env),
    }
}

/// Exports an event from SQLite + disk, imports it on `middle` (for a new host), exports it there
/// and imports that into a fresh SQLite + disk installation (for an existing host).
async fn an_event_moves_to_and_back(middle: Backend) {
    // On SQLite + disk: an event with pre-approval, missions, two guests and three photos.
    let (source, source_env) = TestApp::spawn(Backend::SqliteFs).await;
    let host = source.register().await;
    let response = source
        .post_json_auth(
            "/sessions/create",
            &host.token,
            &json!({"settings": {"name": "Hochzeit", "require_approval": true}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let event: Uuid = body(response).await["sessionId"]
        .as_str()
        .expect("sessionId")
        .parse()
        .expect("uuid");
    let response = source
        .post_json_auth(
            "/sessions/setmissions",
            &host.token,
            &json!({"sessionId": event, "missions": {"data": [{"id": "m1", "description": "Tanzen"}]}}),
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    let anna = source.join(event, "Anna").await;
    let ben = source.join(event, "Ben").await;
    let mut original = Vec::new();
    for (n, (guest, name)) in [(anna, "Anna"), (anna, "Anna"), (ben, "Ben")]
        .into_iter()
        .enumerate()
    {
        let bytes = photo(7, n as u32);
        // Pre-approval: uploads name their guest.
        let response = source
            .post_json(
                "/pictures/init-upload",
                &json!({"session_id": event, "mimetype": "image/jpeg", "user_id": guest}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let init = body(response).await;
        let put = source
            .client
            .put(init["uploadUrl"].as_str().expect("uploadUrl"))
            .header("content-type", "image/jpeg")
            .body(bytes.clone())
            .send()
            .await
            .expect("PUT");
        assert_eq!(put.status(), StatusCode::OK);
        let finalize = json!({
            "u_name": name, "session_id": event, "s3_key": init["key"], "mission_id": "m1",
            "user_id": guest,
        });
        let response = source
            .post_json("/pictures/finalize-upload", &finalize)
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let picture = body(response).await;
        original.push((picture, bytes));
    }
    let approve = original[0].0["id"].as_str().expect("id").to_owned();
    let response = source
        .post_json_auth(
            &format!("/pictures/{approve}/approve"),
            &host.token,
            &json!({}),
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    let original: Vec<(Value, Vec<u8>)> = {
        let now = gallery(&source, &host.token, event).await;
        original
            .into_iter()
            .map(|(p, bytes)| {
                let current = now
                    .iter()
                    .find(|c| c["id"] == p["id"])
                    .expect("photo")
                    .clone();
                (current, bytes)
            })
            .collect()
    };

    let dir = tempfile::tempdir().expect("temp dir");
    let first = dir.path().join("event.tar");
    let event_arg = event.to_string();
    let output = partypic(
        &["export", &event_arg, first.to_str().expect("path")],
        &as_env(&data_env(source_env.data_dir.path())),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output));

    // Into the other installation, where the host does not exist yet.
    let target_env = BackendEnv::new(middle).await;
    let vars = cli_env(&target_env);
    let output = partypic(&["import", first.to_str().expect("path")], &as_env(&vars)).await;
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let password = stdout
        .split("with the password ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("no password in {stdout}"))
        .to_owned();
    let target = TestApp::spawn_on(&target_env, |_| {}).await;
    let token = login(&target, &host.email, &password).await;
    assert_same_event(&target, &token, event, &original).await;

    // The same event again: refused, ids are kept.
    let output = partypic(&["import", first.to_str().expect("path")], &as_env(&vars)).await;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("already exists"));

    // And back, to a fresh SQLite installation and an existing host of another e-mail.
    let second = dir.path().join("event-again.tar");
    let output = partypic(
        &["export", &event_arg, second.to_str().expect("path")],
        &as_env(&vars),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output));
    // The importing server makes every photo's variants again, so whether a thumbnail was in
    // the store at the moment of the second export depends on its jobs: compared without it.
    assert_eq!(
        without_thumbnails(exported_event(&second)),
        without_thumbnails(exported_event(&first))
    );

    let (back, back_env) = TestApp::spawn(Backend::SqliteFs).await;
    let other = back.register().await;
    let output = partypic(
        &[
            "import",
            second.to_str().expect("path"),
            "--host-email",
            &other.email,
        ],
        &as_env(&data_env(back_env.data_dir.path())),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output));
    assert!(!String::from_utf8_lossy(&output.stdout).contains("password"));
    assert_same_event(&back, &other.token, event, &original).await;
}
