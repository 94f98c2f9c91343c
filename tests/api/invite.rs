//! The join link guests can use: with no PUBLIC_URL, the machine's LAN address.

use partypic::startup::Application;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::{net::TcpListener, sync::oneshot};

use crate::helpers::{Backend, BackendEnv, TestApp, body};

async fn invite_of(app: &TestApp, session: uuid::Uuid) -> Value {
    let response = app.get(&format!("/sessions/{session}/invite")).await;
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_listening_on_every_interface_offers_its_lan_join_link() {
    let env = BackendEnv::new(Backend::SqliteFs).await;
    let settings = env.config().resolve().expect("valid configuration");
    let listener = TcpListener::bind("0.0.0.0:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let application = Application::build_with_listener(settings, listener, None)
        .await
        .expect("build");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until(async move {
        let _ = stopped.await;
    }));
    // The host's browser on this machine: localhost.
    let app = TestApp::attach(format!("http://127.0.0.1:{port}"));
    let host = app.register().await;
    let session = app.create_session(&host).await;
    let invite = invite_of(&app, session).await;
    assert_eq!(
        invite["join_url"],
        format!("http://127.0.0.1:{port}/s/{session}")
    );
    assert_eq!(invite["public_url_set"], false);
    let lan = invite["lan_join_url"].as_str().expect("a LAN join link");
    let lan = url::Url::parse(lan).expect("URL");
    let ip: std::net::Ipv4Addr = lan
        .host_str()
        .expect("host")
        .parse()
        .expect("an IPv4 address");
    assert!(!ip.is_loopback() && !ip.is_unspecified(), "{ip}");
    assert_eq!(lan.port(), Some(port));
    assert_eq!(lan.path(), format!("/s/{session}"));
    // Guests on the network reach the server under it.
    let joined = app
        .client
        .get(format!("http://{ip}:{port}/readyz"))
        .send()
        .await
        .expect("the LAN address answers");
    assert_eq!(joined.status(), StatusCode::OK);
    // Its QR code encodes another link than the localhost one.
    let qr_url = invite["lan_qr_url"].as_str().expect("lan_qr_url");
    let lan_qr = app.client.get(qr_url).send().await.expect("qr");
    assert_eq!(lan_qr.status(), StatusCode::OK);
    let lan_qr = lan_qr.text().await.expect("svg");
    let local_qr = app
        .get(&format!("/sessions/{session}/qr.svg"))
        .await
        .text()
        .await
        .expect("svg");
    assert!(lan_qr.starts_with("<?xml") || lan_qr.contains("<svg"));
    assert_ne!(lan_qr, local_qr);
    let _ = stop.send(());
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_lan_link_is_offered_with_public_url_or_on_loopback() {
    let (app, _env) = TestApp::spawn(Backend::SqliteFs).await;
    let host = app.register().await;
    let session = app.create_session(&host).await;
    let invite = invite_of(&app, session).await;
    assert_eq!(
        invite["lan_join_url"],
        Value::Null,
        "listening on 127.0.0.1"
    );
    let default_qr = app
        .get(&format!("/sessions/{session}/qr.svg"))
        .await
        .text()
        .await;
    let lan_qr = app
        .get(&format!("/sessions/{session}/qr.svg?lan=true"))
        .await
        .text()
        .await;
    assert_eq!(default_qr.expect("svg"), lan_qr.expect("svg"));

    let (app, _env) = TestApp::spawn_with(Backend::SqliteFs, |config| {
        config.public_url = Some("https://photos.example.com".into());
    })
    .await;
    let host = app.register().await;
    let session = app.create_session(&host).await;
    let invite = invite_of(&app, session).await;
    assert_eq!(
        invite["join_url"],
        format!("https://photos.example.com/s/{session}")
    );
    assert_eq!(invite["public_url_set"], true);
    assert_eq!(invite["lan_join_url"], Value::Null);
    let missing = app
        .get("/sessions/00000000-0000-0000-0000-000000000000/invite")
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_join_link_previews_the_event_in_messengers() {
    let (app, _env) = TestApp::spawn(Backend::SqliteFs).await;
    let host = app.register().await;
    let created = app
        .post_json_auth(
            "/sessions/create",
            &host.token,
            &serde_json::json!({"settings": {"name": "Anna & Ben <3 \"2027\""}}),
        )
        .await;
    let created = body(created).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let code = created["join_code"]
        .as_str()
        .expect("code")
        .replace('-', "");
    for path in [format!("/s/{id}"), format!("/j/{code}")] {
        let page = app.get(&path).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()["cache-control"], "no-cache");
        let html = page.text().await.expect("html");
        assert!(
            html.contains(
                r#"<meta property="og:title" content="Anna &amp; Ben &lt;3 &quot;2027&quot;">"#
            ),
            "{path}: {html}"
        );
        assert!(html.contains(&format!(
            r#"<meta property="og:url" content="{}">"#,
            app.url(&path)
        )));
        assert!(html.contains(r#"<meta name="twitter:card" content="summary">"#));
        assert!(html.contains("/assets/js/app.js"), "still the app");
    }
    // Unknown events and other pages get the plain app shell.
    for path in [
        "/s/00000000-0000-0000-0000-000000000000".to_owned(),
        "/j/ZZZZ2222".to_owned(),
        "/host".to_owned(),
    ] {
        let page = app.get(&path).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.expect("html");
        assert!(!html.contains("og:title"), "{path}");
        assert!(html.contains("<title>PartyPic</title>"));
    }
}
