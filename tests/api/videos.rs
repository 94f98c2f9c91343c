//! Video clips (issue 13): real MP4/MOV/WebM clips made by ffmpeg are probed at finalize, get a
//! poster frame and a metadata-free H.264 MP4 for guests; the host gets the original. Bad clips
//! are refused with a 4xx and deleted.

use std::{path::Path, process::Command, time::Duration};

use partypic::domain::photo_key::PhotoKey;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Host, TestApp, body, error_code, eventually};
use crate::on_both_backends;

on_both_backends!(
    clips_get_a_poster_and_a_metadata_free_rendition_while_the_host_gets_the_original,
    a_renamed_text_file_and_a_truncated_clip_are_refused_and_deleted,
    clips_beyond_the_length_limits_are_refused_and_deleted,
    events_without_videos_refuse_clips,
);

/// Where the MOV fixture says it was filmed (QuickTime `©xyz`).
const LOCATION: &str = "+52.5200+013.4050/";

/// Whether ffmpeg is here; outside CI the tests skip with a note when it is not.
fn ffmpeg_available() -> bool {
    let found = Command::new("ffmpeg").arg("-version").output().is_ok()
        && Command::new("ffprobe").arg("-version").output().is_ok();
    if !found {
        let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(!in_ci, "ffmpeg/ffprobe are required in CI");
        eprintln!(
            "note: skipping the video test: ffmpeg is not installed (scripts/lib/ensure-tools.sh)"
        );
    }
    found
}

/// A 2 s, 320×240 test-pattern clip made by ffmpeg with `codec_args`, in the container `ext`.
fn clip(ext: &str, seconds: u32, codec_args: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join(format!("clip.{ext}"));
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size=320x240:rate=25:duration={seconds}"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:duration={seconds}"))
        .args(codec_args)
        .arg("-y")
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg made no {ext} clip");
    std::fs::read(&out).expect("clip")
}

fn mp4_h264(seconds: u32) -> Vec<u8> {
    clip(
        "mp4",
        seconds,
        &["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"],
    )
}

fn mov_hevc_with_location() -> Vec<u8> {
    clip(
        "mov",
        2,
        &[
            "-c:v",
            "libx265",
            "-x265-params",
            "log-level=error",
            "-tag:v",
            "hvc1",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-metadata",
            &format!("location={LOCATION}"),
        ],
    )
}

fn webm_vp9() -> Vec<u8> {
    clip(
        "webm",
        2,
        &[
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-c:a",
            "libopus",
        ],
    )
}

/// ffprobe's view of `bytes` (format and streams, JSON).
fn probe(bytes: &[u8]) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("probe.bin");
    std::fs::write(&path, bytes).expect("write");
    probe_file(&path)
}

fn probe_file(path: &Path) -> Value {
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(output.status.success(), "ffprobe cannot read the file");
    serde_json::from_slice(&output.stdout).expect("ffprobe JSON")
}

fn location_tag(probed: &Value) -> Option<String> {
    probed["format"]["tags"]["location"]
        .as_str()
        .map(str::to_owned)
}

async fn gallery(
    app: &TestApp,
    session_id: Uuid,
    guest: Option<Uuid>,
    host: Option<&Host>,
) -> Vec<Value> {
    let mut path = format!("/pictures/session?sessionId={session_id}");
    if let Some(guest) = guest {
        path.push_str(&format!("&userId={guest}"));
    }
    let mut request = app.client.get(app.url(&path));
    if let Some(host) = host {
        request = request.bearer_auth(&host.token);
    }
    let response = request.send().await.expect("gallery");
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await.as_array().expect("array").clone()
}

async fn entry(
    app: &TestApp,
    session_id: Uuid,
    id: &Value,
    guest: Option<Uuid>,
    host: Option<&Host>,
) -> Value {
    gallery(app, session_id, guest, host)
        .await
        .into_iter()
        .find(|p| p["id"] == *id)
        .expect("listed")
}

async fn variants_decided(app: &TestApp, session_id: Uuid, id: &Value) -> String {
    let decided = eventually(Duration::from_secs(120), || async {
        entry(app, session_id, id, None, None).await["variants"] != "pending"
    })
    .await;
    assert!(decided, "clip variants still pending");
    entry(app, session_id, id, None, None).await["variants"]
        .as_str()
        .expect("variants")
        .to_owned()
}

async fn fetch(app: &TestApp, url: &Value) -> Vec<u8> {
    let response = app
        .client
        .get(url.as_str().expect("url"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    response.bytes().await.expect("bytes").to_vec()
}

/// Players seek (and Safari plays at all) with `Range` requests: a slice comes back as `206`.
async fn assert_byte_ranges_served(app: &TestApp, url: &Value, whole: &[u8]) {
    let url = url.as_str().expect("url");
    let response = app
        .client
        .get(url)
        .header("range", "bytes=100-299")
        .send()
        .await
        .expect("GET range");
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{url}");
    let range = response
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(
        range.as_deref(),
        Some(format!("bytes 100-299/{}", whole.len()).as_str())
    );
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("video/mp4")
    );
    let slice = response.bytes().await.expect("bytes");
    assert_eq!(&slice[..], &whole[100..300]);
    let beyond = app
        .client
        .get(url)
        .header("range", format!("bytes={}-", whole.len() + 10))
        .send()
        .await
        .expect("GET beyond");
    assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{url}");
}

/// init → PUT (declared `mimetype`) → finalize as `guest`; returns the key and the response.
async fn send_clip(
    app: &TestApp,
    session_id: Uuid,
    guest: Uuid,
    mimetype: &str,
    bytes: Vec<u8>,
) -> (String, reqwest::Response) {
    let init = app
        .post_json(
            "/pictures/init-upload",
            &json!({"session_id": session_id, "mimetype": mimetype, "user_id": guest}),
        )
        .await;
    assert_eq!(init.status(), StatusCode::CREATED);
    let init = body(init).await;
    let key = init["key"].as_str().expect("key").to_owned();
    let put = app
        .client
        .put(init["uploadUrl"].as_str().expect("uploadUrl"))
        .header("content-type", mimetype)
        .body(bytes)
        .send()
        .await
        .expect("PUT");
    assert_eq!(put.status(), StatusCode::OK, "PUT to upload URL");
    let finalized = app
        .post_json(
            "/pictures/finalize-upload",
            &json!({
                "u_name": "Ben", "session_id": session_id, "s3_key": key, "user_id": guest,
                "original_filename": "clip",
            }),
        )
        .await;
    (key, finalized)
}

async fn stored(app: &TestApp, key: &str) -> bool {
    let key = PhotoKey::parse(key).expect("a key");
    app.state()
        .store
        .size(&key)
        .await
        .expect("store reachable")
        .is_some()
}

async fn clips_get_a_poster_and_a_metadata_free_rendition_while_the_host_gets_the_original(
    backend: crate::helpers::Backend,
) {
    if !ffmpeg_available() {
        return;
    }
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ben").await;
    let mov = mov_hevc_with_location();
    assert_eq!(location_tag(&probe(&mov)).as_deref(), Some(LOCATION));
    let clips = [
        ("video/mp4", mp4_h264(2)),
        ("video/quicktime", mov),
        ("video/webm", webm_vp9()),
    ];
    let mut ids = Vec::new();
    for (mimetype, bytes) in &clips {
        let (_, response) = send_clip(&app, session_id, guest, mimetype, bytes.clone()).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{mimetype}");
        let created = body(response).await;
        assert_eq!(created["mimetype"], *mimetype);
        assert_eq!(created["media_type"], "video");
        let secs = created["duration_secs"].as_f64().expect("duration_secs");
        assert!((secs - 2.0).abs() < 0.2, "{mimetype}: {secs} s");
        ids.push(created["id"].clone());
    }

    for ((mimetype, original), id) in clips.iter().zip(&ids) {
        assert_eq!(
            variants_decided(&app, session_id, id).await,
            "ready",
            "{mimetype}"
        );
        let seen = entry(&app, session_id, id, Some(guest), None).await;
        assert!(
            seen["url"].as_str().expect("url").contains(".web.mp4"),
            "{seen}"
        );
        let whole = fetch(&app, &seen["url"]).await;
        assert_byte_ranges_served(&app, &seen["url"], &whole).await;
        let rendition = probe(&whole);
        assert!(
            rendition["format"]["format_name"]
                .as_str()
                .expect("format")
                .contains("mp4"),
            "{mimetype}: {rendition}"
        );
        let video = rendition["streams"]
            .as_array()
            .expect("streams")
            .iter()
            .find(|s| s["codec_type"] == "video")
            .expect("a video stream")
            .clone();
        assert_eq!(video["codec_name"], "h264", "{mimetype}");
        assert_eq!(
            location_tag(&rendition),
            None,
            "{mimetype}: location passed on"
        );
        let poster = fetch(&app, &seen["thumbUrl"]).await;
        let poster = image::load_from_memory_with_format(&poster, image::ImageFormat::Jpeg)
            .expect("a JPEG poster");
        assert_eq!((poster.width(), poster.height()), (320, 240));

        let hosts = entry(&app, session_id, id, None, Some(&host)).await;
        assert_eq!(
            fetch(&app, &hosts["url"]).await,
            *original,
            "host gets the original"
        );
        // Players get the rendition, the host's too (the original may be HEVC).
        assert!(
            hosts["video_url"]
                .as_str()
                .expect("video_url")
                .contains(".web.mp4"),
            "{hosts}"
        );
    }
    let host_mov = entry(&app, session_id, &ids[1], None, Some(&host)).await;
    assert_eq!(
        location_tag(&probe(&fetch(&app, &host_mov["url"]).await)).as_deref(),
        Some(LOCATION)
    );

    // The host's ZIP carries the originals, clips included.
    let response = app
        .get(&format!(
            "/sessions/{session_id}/download?access_token={}",
            host.token
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.bytes().await.expect("zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("zip");
    let mut names: Vec<String> = (0..archive.len())
        .map(|i| archive.by_index(i).expect("entry").name().to_owned())
        .collect();
    names.sort_by_key(|name| name.rsplit('.').next().map(str::to_owned));
    let extensions: Vec<&str> = names.iter().filter_map(|n| n.rsplit('.').next()).collect();
    assert_eq!(extensions, ["mov", "mp4", "webm"], "{names:?}");
}

async fn a_renamed_text_file_and_a_truncated_clip_are_refused_and_deleted(
    backend: crate::helpers::Backend,
) {
    if !ffmpeg_available() {
        return;
    }
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ben").await;

    let text = b"Dear guests, this is not a video at all.\n".repeat(100);
    let (key, response) = send_clip(&app, session_id, guest, "video/mp4", text).await;
    assert_eq!(
        error_code(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await,
        "upload.not_an_image"
    );
    assert!(
        !stored(&app, &key).await,
        "the text file is left in the store"
    );

    // Cut before its index (ffmpeg writes `moov` at the end): unreadable.
    let whole = mp4_h264(2);
    let (key, response) = send_clip(
        &app,
        session_id,
        guest,
        "video/mp4",
        whole[..whole.len() / 2].to_vec(),
    )
    .await;
    assert_eq!(
        error_code(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await,
        "upload.video_unreadable"
    );
    assert!(
        !stored(&app, &key).await,
        "the truncated clip is left in the store"
    );
    assert!(
        gallery(&app, session_id, None, Some(&host))
            .await
            .is_empty()
    );
}

async fn clips_beyond_the_length_limits_are_refused_and_deleted(backend: crate::helpers::Backend) {
    if !ffmpeg_available() {
        return;
    }
    let (app, _env) = TestApp::spawn_with(backend, |config| config.max_video_secs = 3).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ben").await;
    let (key, response) = send_clip(&app, session_id, guest, "video/mp4", mp4_h264(5)).await;
    assert_eq!(
        error_code(response, StatusCode::PAYLOAD_TOO_LARGE).await,
        "upload.video_too_long"
    );
    assert!(!stored(&app, &key).await);

    // The event's own, shorter limit.
    let response = app
        .post_json_auth(
            "/sessions/create",
            &host.token,
            &json!({"settings": {"name": "Short clips", "max_video_secs": 1}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let short: Uuid = body(response).await["sessionId"]
        .as_str()
        .expect("sessionId")
        .parse()
        .expect("uuid");
    let guest = app.join(short, "Ben").await;
    let (key, response) = send_clip(&app, short, guest, "video/mp4", mp4_h264(2)).await;
    assert_eq!(
        error_code(response, StatusCode::PAYLOAD_TOO_LARGE).await,
        "upload.video_too_long"
    );
    assert!(!stored(&app, &key).await);
    // Within both limits: accepted.
    let (_, response) = send_clip(
        &app,
        session_id,
        app.join(session_id, "Eve").await,
        "video/mp4",
        mp4_h264(2),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

async fn events_without_videos_refuse_clips(backend: crate::helpers::Backend) {
    if !ffmpeg_available() {
        return;
    }
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let response = app
        .post_json_auth(
            "/sessions/create",
            &host.token,
            &json!({"settings": {"name": "Photos only", "videos": false}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let session_id: Uuid = body(response).await["sessionId"]
        .as_str()
        .expect("sessionId")
        .parse()
        .expect("uuid");
    let init = app
        .post_json(
            "/pictures/init-upload",
            &json!({"session_id": session_id, "mimetype": "video/mp4"}),
        )
        .await;
    assert_eq!(
        error_code(init, StatusCode::UNSUPPORTED_MEDIA_TYPE).await,
        "upload.videos_disabled"
    );
    // A clip announced as a photo is recognised by its bytes.
    let guest = app.join(session_id, "Ben").await;
    let (key, response) = send_clip(&app, session_id, guest, "image/jpeg", mp4_h264(2)).await;
    assert_eq!(
        error_code(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await,
        "upload.videos_disabled"
    );
    assert!(!stored(&app, &key).await);
    // Photos still go in.
    let photo = app
        .upload_as_guest(
            session_id,
            guest,
            "image/jpeg",
            crate::helpers::jpeg_bytes(3),
        )
        .await;
    assert_eq!(photo.status(), StatusCode::CREATED);
}
