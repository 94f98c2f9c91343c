//! Storage limits: per event (EVENT_QUOTA_MB, or lower by the host's `storage_limit_mb`) and
//! per host (HOST_QUOTA_MB). A photo that does not fit is refused with 413 `upload.quota_exceeded`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp, body};
use crate::on_both_backends;

on_both_backends!(uploads_stop_at_the_event_and_host_limits);

/// A JPEG of about 450 KiB: two fit into 1 MiB, three do not.
fn photo(seed: u8) -> Vec<u8> {
    let mut bytes = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01,
    ];
    bytes.extend((0..450 * 1024u32).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed)));
    bytes.extend([0xFF, 0xD9]);
    bytes
}

async fn uploads_stop_at_the_event_and_host_limits(backend: Backend) {
    let (app, _env) = TestApp::spawn_with(backend, |c| c.host_quota_mb = 2).await;
    let host = app.register().await;
    let limited = body(
        app.post_json_auth(
            "/sessions/create",
            &host.token,
            &json!({"settings": {"name": "Small", "storage_limit_mb": 1}}),
        )
        .await,
    )
    .await["sessionId"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    app.upload(limited, photo(1)).await;
    app.upload(limited, photo(2)).await;
    let (key, put) = app.put_photo(limited, "image/jpeg", photo(3)).await;
    assert_eq!(put.status(), StatusCode::OK);
    let refused = app.finalize(limited, &key, "Ben").await;
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body(refused).await["code"], "upload.quota_exceeded");
    // The refused file is gone: finalizing it again finds no upload.
    let again = app.finalize(limited, &key, "Ben").await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    let bad = app
        .post_json_auth(
            &format!("/sessions/{limited}/settings"),
            &host.token,
            &json!({"settings": {"storage_limit_mb": 0}}),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // The host's 2 MiB: 900 KiB above, 900 KiB here, then nothing more in any event.
    let other = app.create_session(&host).await;
    app.upload(other, photo(4)).await;
    app.upload(other, photo(5)).await;
    let (key, _) = app.put_photo(other, "image/jpeg", photo(6)).await;
    let refused = app.finalize(other, &key, "Ben").await;
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body(refused).await["code"], "upload.quota_exceeded");

    // Another host is not affected.
    let stranger = app.register().await;
    let theirs = app.create_session(&stranger).await;
    app.upload(theirs, photo(7)).await;
}
