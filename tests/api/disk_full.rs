//! A full disk on the local backend: the upload that does not fit is answered 507 and leaves no
//! partial file; the photos stored before stay intact. Needs root (it mounts a 4 MiB tmpfs as
//! the photo folder); skipped with a note otherwise.

use std::{path::PathBuf, process::Command};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, BackendEnv, TestApp, body};

/// Unmounts the tmpfs when the test ends, however it ends.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A JPEG of about `len` bytes (a real header, filler, the end marker).
fn jpeg_of(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01,
    ];
    bytes.extend((0..len as u32).map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed)));
    bytes.extend([0xFF, 0xD9]);
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_507_and_keeps_every_photo_stored_before() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("note: skipping the disk-full test: mounting a tmpfs needs root");
        return;
    }
    let env = BackendEnv::new(Backend::SqliteFs).await;
    let photos = env.data_dir.path().join("photos");
    std::fs::create_dir_all(&photos).expect("photo folder");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&photos)
        .status()
        .expect("run mount");
    assert!(mounted.success(), "cannot mount a tmpfs as root");
    let _unmount = Mounted(photos.clone());

    let app = TestApp::spawn_on(&env, |_| {}).await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let mut stored: Vec<(Value, Vec<u8>)> = Vec::new();
    let mut full = None;
    for seed in 0..8u8 {
        let bytes = jpeg_of(900 * 1024, seed);
        let (key, put) = app.put_photo(session_id, "image/jpeg", bytes.clone()).await;
        if put.status() != StatusCode::OK {
            full = Some((key, put));
            break;
        }
        let response = app.finalize(session_id, &key, "Ben").await;
        assert_eq!(response.status(), StatusCode::CREATED);
        stored.push((body(response).await, bytes));
    }
    let (key, put) = full.expect("4 MiB cannot hold eight 900 KiB photos");
    assert_eq!(put.status(), StatusCode::INSUFFICIENT_STORAGE);
    assert_eq!(body(put).await["code"], "storage.full");
    assert!(stored.len() >= 2, "only {} photos fit", stored.len());

    // Nothing half-written: no staging file, no file under the refused key.
    let staging: Vec<_> = std::fs::read_dir(photos.join(".staging"))
        .expect("staging dir")
        .flatten()
        .collect();
    assert!(staging.is_empty(), "left behind: {staging:?}");
    assert!(!photos.join(&key).exists(), "{key} exists");
    let response = app.finalize(session_id, &key, "Ben").await;
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "the refused upload is not a photo"
    );

    for (picture, bytes) in &stored {
        let url = app.original_url(&host, session_id, picture).await;
        let file = app.client.get(url).send().await.expect("GET");
        assert_eq!(file.status(), StatusCode::OK);
        assert_eq!(
            file.bytes().await.expect("bytes").as_ref(),
            bytes.as_slice()
        );
    }
}
