//! HTTPS with real components: certificates made by rcgen, the server on port 0, reqwest over
//! rustls trusting only the test CA; ACME against Debian's `pebble` on 127.0.0.1.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use clap::Parser;
use partypic::{
    config::{Cli, Config},
    startup::Application,
};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use reqwest::{Client, StatusCode, redirect::Policy, tls::TlsInfo};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

const ONE_YEAR: &str = "max-age=31536000";

/// A CA that signs the test certificates, like a venue's own small CA.
struct TestCa {
    cert: Certificate,
    key: KeyPair,
}

/// A leaf certificate for localhost and 127.0.0.1.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl TestCa {
    fn new() -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "PartyPic test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("CA certificate");
        Self { cert, key }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    fn issue(&self, common_name: &str) -> Leaf {
        let key = KeyPair::generate().expect("leaf key");
        let mut params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("leaf certificate");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

fn write(path: &Path, contents: &str) {
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn base_config(data_dir: &Path) -> Config {
    let mut config = Cli::try_parse_from(["partypic"])
        .expect("default args")
        .config;
    config.host = "127.0.0.1".into();
    config.port = 0;
    config.data_dir = data_dir.to_path_buf();
    config.jwt_secret = Some("test-secret-test-secret-test-secret-0123".into());
    config.public_url = None;
    config.database_url = None;
    config.db_host = None;
    config.s3_endpoint = None;
    config.argon2_memory_kib = 1024;
    config.argon2_iterations = 1;
    config
}

/// A running server; dropping it sends the shutdown signal.
struct Server {
    https: SocketAddr,
    redirect: Option<SocketAddr>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Server {
    async fn start(config: Config, listener: TcpListener, with_redirects: bool) -> Self {
        let settings = config.resolve().expect("test configuration is valid");
        let mut app = Application::build_with_listener(settings, listener, None)
            .await
            .expect("build app");
        if with_redirects {
            let redirect = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            app = app.with_redirect_listener(redirect);
        }
        let https = app.local_addr().expect("addr");
        let redirect = app.redirect_addr().expect("redirect addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        Self {
            https,
            redirect,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https.port())
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("server stops in time")
            .expect("server task")
            .expect("server ran cleanly");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A client that trusts only `root_pem`, with `localhost` pinned to the server.
fn client_trusting(root_pem: &str, server: SocketAddr) -> Client {
    Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(root_pem.as_bytes()).expect("root"))
        .resolve("localhost", server)
        .tls_info(true)
        .pool_max_idle_per_host(0)
        .redirect(Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn peer_certificate(response: &reqwest::Response) -> Vec<u8> {
    response
        .extensions()
        .get::<TlsInfo>()
        .and_then(TlsInfo::peer_certificate)
        .expect("TLS peer certificate")
        .to_vec()
}

/// A server with the certificate files in a fresh data directory.
struct FilesSetup {
    data: tempfile::TempDir,
    ca: TestCa,
    cert: PathBuf,
    key: PathBuf,
    first: Leaf,
}

fn files_setup() -> FilesSetup {
    let data = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new();
    let first = ca.issue("first");
    let cert = data.path().join("cert.pem");
    let key = data.path().join("key.pem");
    write(&cert, &first.cert_pem);
    write(&key, &first.key_pem);
    FilesSetup {
        data,
        ca,
        cert,
        key,
        first,
    }
}

async fn start_with_files(setup: &FilesSetup, with_redirects: bool) -> Server {
    let mut config = base_config(setup.data.path());
    config.tls_cert_file = Some(setup.cert.clone());
    config.tls_key_file = Some(setup.key.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    Server::start(config, listener, with_redirects).await
}

#[tokio::test]
async fn https_serves_the_api_with_hsts_and_hands_out_https_links() {
    let setup = files_setup();
    let server = start_with_files(&setup, false).await;
    let client = client_trusting(&setup.ca.pem(), server.https);

    let response = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("GET /healthz over https");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some(ONE_YEAR)
    );
    assert_eq!(peer_certificate(&response), setup.first.der);

    // Without PUBLIC_URL or X-Forwarded-Proto, the upload URL a guest gets is https too, and
    // the whole upload works through it.
    let post = |path: &str, token: Option<&str>, body: Value| {
        let mut request = client.post(server.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let email = "host@example.com";
    let password = "correct horse battery";
    let registered = post(
        "/auth/register",
        None,
        json!({"username": "Host", "email": email, "password": password}),
    )
    .await
    .expect("register");
    assert_eq!(registered.status(), StatusCode::CREATED);
    let login: Value = post(
        "/auth/login",
        None,
        json!({"email": email, "password": password}),
    )
    .await
    .expect("login")
    .json()
    .await
    .expect("login body");
    let token = login["access_token"].as_str().expect("token");
    let created: Value = post(
        "/sessions/create",
        Some(token),
        json!({"settings": {"name": "Wedding"}}),
    )
    .await
    .expect("create event")
    .json()
    .await
    .expect("event body");
    let session_id = created["sessionId"].as_str().expect("sessionId");
    let init = post(
        "/pictures/init-upload",
        None,
        json!({"session_id": session_id, "mimetype": "image/jpeg"}),
    )
    .await
    .expect("init upload");
    assert_eq!(init.status(), StatusCode::CREATED);
    let init: Value = init.json().await.expect("init body");
    let upload_url = init["uploadUrl"].as_str().expect("uploadUrl");
    assert!(
        upload_url.starts_with(&format!("https://localhost:{}/", server.https.port())),
        "{upload_url}"
    );

    server.stop().await;
}

#[tokio::test]
async fn new_connections_get_the_certificate_that_replaced_the_files() {
    let setup = files_setup();
    let server = start_with_files(&setup, false).await;
    // A new client each time: a client that resumes a TLS session is not sent a certificate.
    let served = || async {
        let response = client_trusting(&setup.ca.pem(), server.https)
            .get(server.url("/healthz"))
            .send()
            .await
            .expect("GET /healthz");
        assert_eq!(response.status(), StatusCode::OK);
        peer_certificate(&response)
    };
    assert_eq!(served().await, setup.first.der);

    let second = setup.ca.issue("second");
    write(&setup.key, &second.key_pem);
    write(&setup.cert, &second.cert_pem);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while served().await != second.der {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new certificate was not served within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A broken replacement is refused: the server keeps the last good certificate.
    write(&setup.cert, "-----BEGIN CERTIFICATE-----\nnot base64\n");
    tokio::time::sleep(partypic::tls::RELOAD_EVERY * 2).await;
    assert_eq!(served().await, second.der);

    server.stop().await;
}

#[tokio::test]
async fn plain_http_on_the_redirect_port_gets_a_308_to_https() {
    let setup = files_setup();
    let server = start_with_files(&setup, true).await;
    let redirect = server.redirect.expect("redirect listener");
    let client = Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");

    let response = client
        .get(format!("http://{redirect}/e/abc?lang=de"))
        .send()
        .await
        .expect("GET over plain http");
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some(format!("https://127.0.0.1:{}/e/abc?lang=de", server.https.port()).as_str())
    );
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none(),
        "HSTS is never sent over plain http"
    );

    // Following it lands on the HTTPS API.
    let follow = client_trusting(&setup.ca.pem(), server.https)
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("https");
    assert_eq!(follow.status(), StatusCode::OK);

    server.stop().await;
    let closed = tokio::net::TcpStream::connect(redirect).await;
    assert!(closed.is_err(), "the redirect listener closes at shutdown");
}

#[tokio::test]
async fn failed_handshakes_do_not_stop_the_server_and_shutdown_closes_the_port() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let setup = files_setup();
    let server = start_with_files(&setup, false).await;

    // Plain HTTP to the HTTPS port, a client that never speaks, and one that does not trust us.
    let mut plain = tokio::net::TcpStream::connect(server.https)
        .await
        .expect("connect");
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut buf)).await;
    assert!(
        !buf.starts_with(b"HTTP/1.1 200"),
        "no plain HTTP on the TLS port"
    );
    let _silent = tokio::net::TcpStream::connect(server.https)
        .await
        .expect("connect");
    let untrusting = Client::builder()
        .tls_built_in_root_certs(false)
        .resolve("localhost", server.https)
        .build()
        .expect("client");
    assert!(untrusting.get(server.url("/healthz")).send().await.is_err());

    let response = client_trusting(&setup.ca.pem(), server.https)
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("the server still answers");
    assert_eq!(response.status(), StatusCode::OK);

    let https = server.https;
    server.stop().await;
    assert!(
        tokio::net::TcpStream::connect(https).await.is_err(),
        "the HTTPS listener closes at shutdown"
    );
}

fn partypic(env: &[(&str, &str)]) -> (i32, String) {
    let data = tempfile::tempdir().expect("temp dir");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_partypic"));
    command
        .env_clear()
        .env("DATA_DIR", data.path())
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("METRICS_PORT", "0");
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
fn bad_tls_settings_are_one_configuration_error_line_and_exit_code_2() {
    let setup = files_setup();
    let garbage = setup.data.path().join("garbage.pem");
    write(&garbage, "not a certificate\n");
    let other_key = setup.data.path().join("other-key.pem");
    write(&other_key, &setup.ca.issue("other").key_pem);
    let cert = setup.cert.to_str().expect("utf-8 path");
    let key = setup.key.to_str().expect("utf-8 path");
    let garbage = garbage.to_str().expect("utf-8 path");
    let other_key = other_key.to_str().expect("utf-8 path");
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("TLS_CERT_FILE", garbage), ("TLS_KEY_FILE", key)],
            "no PEM certificate",
        ),
        (
            &[("TLS_CERT_FILE", cert), ("TLS_KEY_FILE", garbage)],
            "private key",
        ),
        (
            &[("TLS_CERT_FILE", cert), ("TLS_KEY_FILE", other_key)],
            "usable certificate",
        ),
        (
            &[
                ("TLS_CERT_FILE", "/nonexistent/cert.pem"),
                ("TLS_KEY_FILE", key),
            ],
            "cert.pem",
        ),
        (&[("TLS_CERT_FILE", cert)], "go together"),
        (
            &[
                ("TLS_CERT_FILE", cert),
                ("TLS_KEY_FILE", key),
                ("ACME_DOMAIN", "photos.example.com"),
            ],
            "exclude each other",
        ),
        (&[("ACME_DOMAIN", "192.168.1.10")], "DNS names"),
        (
            &[("ACME_DOMAIN", "a.example"), ("ACME_EMAIL", "nobody")],
            "ACME_EMAIL",
        ),
        (
            &[("ACME_DOMAIN", "a.example"), ("ACME_CA_FILE", garbage)],
            "ACME_CA_FILE",
        ),
        (
            &[("HTTP_REDIRECT_PORT", "8080")],
            "HTTP_REDIRECT_PORT needs HTTPS",
        ),
    ];
    for (env, expected) in cases {
        let (code, stderr) = partypic(env);
        assert_eq!(code, 2, "{env:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{env:?}: {stderr}");
        assert!(
            lines[0].starts_with("partypic: configuration error: ") && lines[0].contains(expected),
            "{env:?}: {stderr}"
        );
    }
}

#[test]
fn help_documents_the_https_settings() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_partypic"))
        .arg("--help")
        .output()
        .expect("run");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for setting in [
        "TLS_CERT_FILE",
        "TLS_KEY_FILE",
        "ACME_DOMAIN",
        "ACME_EMAIL",
        "ACME_DIRECTORY",
        "ACME_CA_FILE",
        "HTTP_REDIRECT_PORT",
        "HSTS_MAX_AGE_SECS",
    ] {
        assert!(help.contains(setting), "--help lacks {setting}");
    }
}

/// Kills the child when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_pebble() -> Option<PathBuf> {
    let configured = std::env::var_os("PEBBLE_BIN").map(PathBuf::from);
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("pebble"));
    configured
        .into_iter()
        .chain(on_path)
        .find(|path| path.is_file())
}

async fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Polls `url` until it answers 2xx; returns the body.
async fn wait_for(client: &Client, url: &str, within: Duration) -> String {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let last = match client.get(url).send().await {
            Ok(response) if response.status().is_success() => {
                return response.text().await.expect("body");
            }
            Ok(response) => format!("status {}", response.status()),
            Err(err) => format!("{err:?}"),
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "{url} did not answer within {within:?}: {last}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn acme_gets_a_certificate_from_pebble_over_tls_alpn_01_and_serves_it() {
    let Some(pebble) = find_pebble() else {
        eprintln!("skipped: pebble is not installed (apt-get install pebble)");
        return;
    };
    let work = tempfile::tempdir().expect("temp dir");

    // Pebble's own HTTPS listener needs a certificate; ours comes from the test CA.
    let ca = TestCa::new();
    let pebble_leaf = ca.issue("pebble");
    let ca_file = work.path().join("pebble-ca.pem");
    write(&ca_file, &ca.pem());
    write(&work.path().join("pebble-cert.pem"), &pebble_leaf.cert_pem);
    write(&work.path().join("pebble-key.pem"), &pebble_leaf.key_pem);

    // Our HTTPS port is bound first: pebble's validation (tlsPort) must connect to it.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let https = listener.local_addr().expect("addr");
    let (acme_port, management_port, http_port) =
        (free_port().await, free_port().await, free_port().await);
    let config_file = work.path().join("pebble-config.json");
    write(
        &config_file,
        &json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{acme_port}"),
            "managementListenAddress": format!("127.0.0.1:{management_port}"),
            "certificate": work.path().join("pebble-cert.pem"),
            "privateKey": work.path().join("pebble-key.pem"),
            "httpPort": http_port,
            "tlsPort": https.port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false
        }})
        .to_string(),
    );
    let _pebble = KillOnDrop(
        std::process::Command::new(&pebble)
            .arg("-config")
            .arg(&config_file)
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pebble"),
    );
    let to_pebble = Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).expect("CA"))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let directory = format!("https://127.0.0.1:{acme_port}/dir");
    wait_for(&to_pebble, &directory, Duration::from_secs(20)).await;

    let data = tempfile::tempdir().expect("temp dir");
    let mut config = base_config(data.path());
    config.acme_domain = Some("localhost".into());
    config.acme_email = Some("host@example.com".into());
    config.acme_directory = directory;
    config.acme_ca_file = Some(ca_file);
    let server = Server::start(config, listener, false).await;

    // Pebble makes a new CA per run; trusting only its intermediate proves who issued the
    // certificate we serve.
    let intermediate = wait_for(
        &to_pebble,
        &format!("https://127.0.0.1:{management_port}/intermediates/0"),
        Duration::from_secs(10),
    )
    .await;
    let client = client_trusting(&intermediate, server.https);
    let health = wait_for(&client, &server.url("/healthz"), Duration::from_secs(60)).await;
    assert!(!health.is_empty());
    let response = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("GET /healthz");
    assert_eq!(
        response
            .headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some(ONE_YEAR)
    );

    // The account and certificate are cached in DATA_DIR/acme, readable by us alone ...
    let cache = data.path().join("acme");
    let cached = std::fs::read_dir(&cache).expect("cache dir").count();
    assert!(
        cached >= 2,
        "account and certificate cached, found {cached} files"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cache)
            .expect("cache")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "DATA_DIR/acme is private");
    }

    server.stop().await;

    // ... and a restart serves the cached certificate on another port, where pebble could not
    // validate again.
    let mut config = base_config(data.path());
    config.acme_domain = Some("localhost".into());
    config.acme_directory = format!("https://127.0.0.1:{acme_port}/dir");
    config.acme_ca_file = Some(work.path().join("pebble-ca.pem"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let restarted = Server::start(config, listener, false).await;
    let client = client_trusting(&intermediate, restarted.https);
    wait_for(&client, &restarted.url("/healthz"), Duration::from_secs(10)).await;
    restarted.stop().await;
}
