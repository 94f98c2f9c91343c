//! Photo variants (issue 13): guests only ever get metadata-free display copies and thumbnails
//! (or the placeholder until they exist); the host gets the original with its metadata.

use std::time::Duration;

use image::ImageFormat;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{Host, TestApp, body, eventually};
use crate::live::{EventStream, encode};
use crate::on_both_backends;

on_both_backends!(
    guests_get_an_upright_display_copy_without_gps_and_the_host_the_original,
    live_updates_give_guests_variants_and_the_host_the_original,
    an_iphone_heic_gets_a_jpeg_thumbnail_and_display_copy,
    a_truncated_jpeg_and_a_heic_bomb_fail_and_guests_keep_the_placeholder,
);

const HEIC: &[u8] = include_bytes!("../fixtures/photo.heic");
const PLACEHOLDER: &str = "/assets/processing.svg";
/// What guests get for a photo whose variants could not be made.
const UNAVAILABLE: &str = "/assets/unavailable.svg";
/// Berlin, 52°31'12" N 13°24'36" E: where the test photos say they were taken.
const LATITUDE: f64 = 52.52;

/// A landscape JPEG whose EXIF says "rotate 90° clockwise" and carries a GPS position.
fn jpeg_with_gps(width: u32, height: u32) -> Vec<u8> {
    let jpeg = encode(width, height, ImageFormat::Jpeg);
    let mut tiff: Vec<u8> = b"MM\0\x2a\0\0\0\x08".to_vec();
    let entry = |tiff: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        tiff.extend(tag.to_be_bytes());
        tiff.extend(kind.to_be_bytes());
        tiff.extend(count.to_be_bytes());
        tiff.extend(value);
    };
    // IFD0 at 8: Orientation = 6 and the GPS IFD's offset (8 + 2 + 2 × 12 + 4 = 38).
    tiff.extend(2u16.to_be_bytes());
    entry(&mut tiff, 0x0112, 3, 1, [0, 6, 0, 0]);
    entry(&mut tiff, 0x8825, 4, 1, 38u32.to_be_bytes());
    tiff.extend(0u32.to_be_bytes());
    // GPS IFD at 38, its rationals after it at 38 + 2 + 4 × 12 + 4 = 92.
    tiff.extend(4u16.to_be_bytes());
    entry(&mut tiff, 0x0001, 2, 2, *b"N\0\0\0");
    entry(&mut tiff, 0x0002, 5, 3, 92u32.to_be_bytes());
    entry(&mut tiff, 0x0003, 2, 2, *b"E\0\0\0");
    entry(&mut tiff, 0x0004, 5, 3, 116u32.to_be_bytes());
    tiff.extend(0u32.to_be_bytes());
    for part in [52u32, 31, 12, 13, 24, 36] {
        tiff.extend(part.to_be_bytes());
        tiff.extend(1u32.to_be_bytes());
    }
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend(
        u16::try_from(2 + 6 + tiff.len())
            .expect("small")
            .to_be_bytes(),
    );
    app1.extend(b"Exif\0\0");
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend(app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// The JPEG's metadata segments (APP1…APP15, COM), read up to the image data.
fn metadata_segments(jpeg: &[u8]) -> Vec<(u8, &[u8])> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "not a JPEG");
    let mut found = Vec::new();
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        if marker == 0xDA || marker == 0xD9 {
            break;
        }
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        let body = &jpeg[at + 4..(at + 2 + len).min(jpeg.len())];
        if (0xE1..=0xEF).contains(&marker) || marker == 0xFE {
            found.push((marker, body));
        }
        at += 2 + len;
    }
    found
}

/// The GPS latitude in the JPEG's EXIF, parsed from its TIFF structure.
fn gps_latitude(jpeg: &[u8]) -> Option<f64> {
    let (_, app1) = metadata_segments(jpeg)
        .into_iter()
        .find(|(marker, body)| *marker == 0xE1 && body.starts_with(b"Exif\0\0"))?;
    let tiff = &app1[6..];
    let big = tiff.starts_with(b"MM");
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(at..at + 2)?.try_into().ok()?;
        Some(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(at..at + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let entry_value = |ifd: usize, tag: u16| -> Option<u32> {
        (0..usize::from(u16_at(ifd)?))
            .map(|i| ifd + 2 + i * 12)
            .find(|&e| u16_at(e) == Some(tag))
            .and_then(|e| u32_at(e + 8))
    };
    let gps = usize::try_from(entry_value(usize::try_from(u32_at(4)?).ok()?, 0x8825)?).ok()?;
    let values = usize::try_from(entry_value(gps, 0x0002)?).ok()?;
    let rational = |i: usize| -> Option<f64> {
        Some(f64::from(u32_at(values + i * 8)?) / f64::from(u32_at(values + i * 8 + 4)?))
    };
    Some(rational(0)? + rational(1)? / 60.0 + rational(2)? / 3600.0)
}

/// The gallery as a guest of the event (`userId`) or as its host (bearer token).
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

/// Waits until the job has decided on the photo's variants; returns the status.
async fn variants_decided(app: &TestApp, session_id: Uuid, id: &Value) -> String {
    let decided = eventually(Duration::from_secs(60), || async {
        entry(app, session_id, id, None, None).await["variants"] != "pending"
    })
    .await;
    assert!(decided, "variants still pending");
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

fn size(jpeg: &[u8]) -> (u32, u32) {
    let image = image::load_from_memory_with_format(jpeg, ImageFormat::Jpeg).expect("a JPEG");
    (image.width(), image.height())
}

fn is_placeholder(url: &Value) -> bool {
    has_path(url, PLACEHOLDER)
}

fn has_path(url: &Value, path: &str) -> bool {
    url.as_str()
        .and_then(|u| url::Url::parse(u).ok())
        .is_some_and(|u| u.path() == path)
}

async fn guests_get_an_upright_display_copy_without_gps_and_the_host_the_original(
    backend: crate::helpers::Backend,
) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ben").await;
    let original = jpeg_with_gps(2200, 1100);
    assert!((gps_latitude(&original).expect("fixture has GPS") - LATITUDE).abs() < 0.001);

    let created = body(
        app.upload_as_guest(session_id, guest, "image/jpeg", original.clone())
            .await,
    )
    .await;
    // Nothing made yet: the uploader's response already hides the original.
    assert_eq!(created["variants"], "pending");
    assert!(is_placeholder(&created["url"]), "{created}");
    assert!(is_placeholder(&created["thumbUrl"]), "{created}");
    let id = created["id"].clone();

    assert_eq!(variants_decided(&app, session_id, &id).await, "ready");
    for viewer in [Some(guest), None] {
        let seen = entry(&app, session_id, &id, viewer, None).await;
        let display = fetch(&app, &seen["url"]).await;
        let thumb = fetch(&app, &seen["thumbUrl"]).await;
        for variant in [&display, &thumb] {
            assert_eq!(gps_latitude(variant), None, "GPS served to a guest");
            assert!(
                metadata_segments(variant).is_empty(),
                "metadata served to a guest"
            );
            assert!(!variant.windows(4).any(|w| w == b"Exif"));
        }
        // Upright (EXIF orientation 6) and fitted into 2048 px and 400 px.
        assert_eq!(size(&display), (1024, 2048));
        assert_eq!(size(&thumb), (200, 400));
    }

    let hosts = entry(&app, session_id, &id, None, Some(&host)).await;
    assert_eq!(hosts["variants"], "ready");
    let served = fetch(&app, &hosts["url"]).await;
    assert_eq!(served, original, "the host gets the original");
    assert!((gps_latitude(&served).expect("GPS kept for the host") - LATITUDE).abs() < 0.001);
    assert_eq!(size(&fetch(&app, &hosts["thumbUrl"]).await), (200, 400));
}

async fn live_updates_give_guests_variants_and_the_host_the_original(
    backend: crate::helpers::Backend,
) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ben").await;
    let events = format!("/sessions/{session_id}/events");
    let mut guests = EventStream::open(&app, &format!("{events}?userId={guest}")).await;
    let mut hosts = EventStream::open(&app, &format!("{events}?access_token={}", host.token)).await;

    let picture = app.upload(session_id, jpeg_with_gps(640, 320)).await;
    let key = picture["s3_key"].as_str().expect("key").to_owned();
    let created = guests
        .next_named("picture.created", Duration::from_secs(10))
        .await;
    assert!(is_placeholder(&created["url"]), "{created}");
    let created = hosts
        .next_named("picture.created", Duration::from_secs(10))
        .await;
    assert!(
        created["url"].as_str().expect("url").contains(&key),
        "{created}"
    );
    // Usually still pending: this guest page with the placeholder is now in the gallery cache.
    let early = entry(&app, session_id, &picture["id"], Some(guest), None).await;
    assert!(
        early["variants"] == "ready" || is_placeholder(&early["url"]),
        "{early}"
    );

    let updated = guests
        .next_named("picture.updated", Duration::from_secs(30))
        .await;
    assert_eq!(updated["variants"], "ready");
    // The update moved the event's generation: the cached placeholder page is not served again.
    let now = entry(&app, session_id, &picture["id"], Some(guest), None).await;
    assert_eq!(now["variants"], "ready", "a stale gallery page: {now}");
    assert!(
        now["url"].as_str().expect("url").contains(".display.jpg"),
        "{now}"
    );
    let display = fetch(&app, &updated["url"]).await;
    assert_eq!(gps_latitude(&display), None);
    assert_eq!(size(&display), (320, 640));
    let updated = hosts
        .next_named("picture.updated", Duration::from_secs(30))
        .await;
    assert_eq!(updated["variants"], "ready");
    assert!(gps_latitude(&fetch(&app, &updated["url"]).await).is_some());
}

async fn an_iphone_heic_gets_a_jpeg_thumbnail_and_display_copy(backend: crate::helpers::Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ben").await;
    let created = body(
        app.upload_as_guest(session_id, guest, "image/heic", HEIC.to_vec())
            .await,
    )
    .await;
    assert_eq!(created["mimetype"], "image/heic");
    let id = created["id"].clone();
    assert_eq!(variants_decided(&app, session_id, &id).await, "ready");
    let seen = entry(&app, session_id, &id, Some(guest), None).await;
    let display = fetch(&app, &seen["url"]).await;
    let thumb = fetch(&app, &seen["thumbUrl"]).await;
    assert_eq!(size(&display), (640, 480));
    assert_eq!(size(&thumb), (400, 300));
    for variant in [&display, &thumb] {
        assert!(
            metadata_segments(variant).is_empty(),
            "HEIC metadata passed on"
        );
    }
    // The host still gets the HEIC itself (and its ZIP).
    let hosts = entry(&app, session_id, &id, None, Some(&host)).await;
    assert_eq!(fetch(&app, &hosts["url"]).await, HEIC);
}

/// The fixture with every declared image size (`ispe`) set to 40000 × 40000: 1.6 gigapixels
/// claimed by a 2.5 KB file.
fn heic_bomb() -> Vec<u8> {
    let mut bomb = HEIC.to_vec();
    let spots: Vec<usize> = bomb
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"ispe")
        .map(|(at, _)| at)
        .collect();
    assert!(!spots.is_empty(), "fixture declares its size");
    for at in spots {
        bomb[at + 8..at + 12].copy_from_slice(&40_000u32.to_be_bytes());
        bomb[at + 12..at + 16].copy_from_slice(&40_000u32.to_be_bytes());
    }
    bomb
}

async fn a_truncated_jpeg_and_a_heic_bomb_fail_and_guests_keep_the_placeholder(
    backend: crate::helpers::Backend,
) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let guest = app.join(session_id, "Ben").await;
    let whole = jpeg_with_gps(800, 600);
    let truncated = whole[..whole.len() / 2].to_vec();
    let broken = [
        body(
            app.upload_as_guest(session_id, guest, "image/jpeg", truncated)
                .await,
        )
        .await,
        body(
            app.upload_as_guest(session_id, guest, "image/heic", heic_bomb())
                .await,
        )
        .await,
    ];
    for picture in &broken {
        let id = picture["id"].clone();
        assert_eq!(
            variants_decided(&app, session_id, &id).await,
            "failed",
            "{picture}"
        );
        let seen = entry(&app, session_id, &id, Some(guest), None).await;
        assert!(
            has_path(&seen["url"], UNAVAILABLE) && has_path(&seen["thumbUrl"], UNAVAILABLE),
            "{seen}"
        );
        let image = app
            .client
            .get(seen["url"].as_str().expect("url"))
            .send()
            .await
            .expect("placeholder");
        assert_eq!(
            image.status(),
            StatusCode::OK,
            "the web client ships the placeholder"
        );
        assert_eq!(image.headers()["content-type"], "image/svg+xml");
        let hosts = entry(&app, session_id, &id, None, Some(&host)).await;
        assert!(
            !is_placeholder(&hosts["url"]),
            "the host keeps the original"
        );
    }
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
}
