//! Join codes: every event gets one, guests look it up (forgivingly typed), lookups are limited.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp, assert_error, body};
use crate::on_both_backends;

on_both_backends!(every_event_gets_a_unique_code_that_finds_it);

fn is_code(code: &str) -> bool {
    let (a, b) = code.split_once('-').unwrap_or_default();
    a.len() == 4
        && b.len() == 4
        && (a.to_owned() + b)
            .bytes()
            .all(|c| b"23456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&c))
}

async fn every_event_gets_a_unique_code_that_finds_it(backend: Backend) {
    let (app, _env) = TestApp::spawn(backend).await;
    let host = app.register().await;
    let created = app
        .post_json_auth("/sessions/create", &host.token, &json!({}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created = body(created).await;
    let code = created["join_code"].as_str().expect("join_code").to_owned();
    assert!(is_code(&code), "{code}");
    let id = created["id"].as_str().expect("id").to_owned();
    let fetched = body(app.get(&format!("/sessions/get?sessionId={id}")).await).await;
    assert_eq!(fetched["join_code"], code.as_str());

    let compact = code.replace('-', "");
    for typed in [code.clone(), compact.to_lowercase(), format!(" {compact} ")] {
        let found = app
            .get(&format!("/sessions/by-code/{}", urlencode(&typed)))
            .await;
        assert_eq!(found.status(), StatusCode::OK, "{typed:?}");
        assert_eq!(body(found).await["id"], id.as_str());
    }
    let invite = body(app.get(&format!("/sessions/{id}/invite")).await).await;
    assert_eq!(invite["code"], code.as_str());
    assert_eq!(invite["short_url"], app.url(&format!("/j/{compact}")));

    // Codes are unique across events.
    let mut codes = vec![code];
    for _ in 0..10 {
        let other = app.create_session(&host).await;
        let other = body(app.get(&format!("/sessions/get?sessionId={other}")).await).await;
        codes.push(other["join_code"].as_str().expect("code").to_owned());
    }
    let count = codes.len();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), count);

    let unknown = app.get("/sessions/by-code/ZZZZ-2222").await;
    if codes.iter().all(|c| c != "ZZZZ-2222") {
        assert_error(unknown, StatusCode::NOT_FOUND).await;
    }
    for bad in ["K7QM", "K7QM-2XD0", "%2E%2E%2Fetc%2Fpasswd", "ABCDEFGHIJ"] {
        let response = app.get(&format!("/sessions/by-code/{bad}")).await;
        assert_error(response, StatusCode::BAD_REQUEST).await;
    }
}

fn urlencode(text: &str) -> String {
    text.replace(' ', "%20")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_codes_is_stopped_by_the_rate_limit() {
    let (app, _env) = TestApp::spawn_with(Backend::SqliteFs, |config| {
        config.rate_limit_join_code_per_minute = 6;
        config.rate_limit_join_code_burst = 5;
    })
    .await;
    for _ in 0..5 {
        let miss = app.get("/sessions/by-code/ZZZZ-2222").await;
        assert_eq!(miss.status(), StatusCode::NOT_FOUND);
    }
    let limited = app.get("/sessions/by-code/ZZZZ-2223").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=11).contains(&wait), "{wait}");
    let limited = body(limited).await;
    assert_eq!(limited["statusCode"], 429);
    // Other endpoints are not limited by it.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_configuration_limits_code_lookups() {
    let (app, _env) = TestApp::spawn(Backend::SqliteFs).await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(app.get("/sessions/by-code/ZZZZ-2222").await.status());
    }
    assert!(statuses[..10].iter().all(|s| *s == StatusCode::NOT_FOUND));
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS));
}
