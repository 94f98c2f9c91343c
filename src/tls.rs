//! HTTPS on the main listener: a certificate from files (swapped when the files change) or from
//! an ACME CA (TLS-ALPN-01 on the same port), a [`TlsListener`] that `axum::serve` drives, and
//! the plain-HTTP listener that only redirects to HTTPS.

use std::{
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::{Duration, SystemTime},
};

use anyhow::Context as _;
use axum::{
    Router,
    http::{HeaderMap, StatusCode, Uri, header, uri::Authority},
    response::{IntoResponse, Response},
};
use futures_util::StreamExt as _;
use rustls::{
    RootCertStore, ServerConfig,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::{Acceptor, ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};
use rustls_acme::{AcmeConfig, AcmeState, caches::DirCache, is_tls_alpn_challenge};
use tokio::{
    io::AsyncWriteExt as _,
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tokio_rustls::{LazyConfigAcceptor, server::TlsStream};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::{AcmeSettings, TlsSettings};

/// How often the certificate files are checked for changes.
pub const RELOAD_EVERY: Duration = Duration::from_secs(2);
/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Let's Encrypt's production directory, the default `ACME_DIRECTORY`.
pub const LETS_ENCRYPT: &str = rustls_acme::acme::LETS_ENCRYPT_PRODUCTION_DIRECTORY;

/// Request extension on every request that came in over TLS: links default to `https://`.
#[derive(Debug, Clone, Copy)]
pub struct ServedOverTls;

/// The same crypto as the rest of the TLS stack (sqlx, reqwest): ring.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a PEM certificate chain (leaf first) and its private key, and checks they belong together.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, String> {
    let chain = read_certificates(cert)?;
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|err| format!("cannot read a private key from {}: {err}", key.display()))?;
    CertifiedKey::from_der(chain, key_der, &provider()).map_err(|err| {
        format!(
            "{} and {} do not make a usable certificate: {err}",
            cert.display(),
            key.display()
        )
    })
}

/// Every PEM certificate in `path`; at least one.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|err| format!("cannot read certificates from {}: {err}", path.display()))?;
    if chain.is_empty() {
        return Err(format!("no PEM certificate in {}", path.display()));
    }
    Ok(chain)
}

/// Hands out the current certificate; [`watch_files`] swaps it.
#[derive(Debug)]
struct FileCertResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl FileCertResolver {
    fn current(&self) -> Arc<CertifiedKey> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, key: CertifiedKey) {
        match self.current.write() {
            Ok(mut current) => *current = Arc::new(key),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(key),
        }
    }
}

impl ResolvesServerCert for FileCertResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// What the TLS side runs while the server does: a file watcher or the ACME order loop.
enum Upkeep {
    Files {
        resolver: Arc<FileCertResolver>,
        cert: PathBuf,
        key: PathBuf,
    },
    Acme(Box<AcmeState<io::Error>>),
}

/// TLS for the main listener, built from the settings before the server starts.
pub struct Tls {
    acceptor: TlsAcceptor,
    upkeep: Upkeep,
}

impl Tls {
    /// Loads the certificate files (an error names the bad file) or prepares the ACME client.
    pub fn new(settings: &TlsSettings) -> anyhow::Result<Self> {
        let provider = provider();
        match settings {
            TlsSettings::Files { cert, key } => {
                let certified = load_certified_key(cert, key).map_err(anyhow::Error::msg)?;
                let resolver = Arc::new(FileCertResolver {
                    current: RwLock::new(Arc::new(certified)),
                });
                Ok(Self {
                    acceptor: TlsAcceptor {
                        server: server_config(provider, resolver.clone())?,
                        challenge: None,
                    },
                    upkeep: Upkeep::Files {
                        resolver,
                        cert: cert.clone(),
                        key: key.clone(),
                    },
                })
            }
            TlsSettings::Acme(acme) => {
                let state = acme_state(acme, provider.clone())?;
                Ok(Self {
                    acceptor: TlsAcceptor {
                        server: server_config(provider.clone(), state.resolver())?,
                        challenge: Some(state.challenge_rustls_config_with_provider(provider)),
                    },
                    upkeep: Upkeep::Acme(Box::new(state)),
                })
            }
        }
    }

    /// Splits into the acceptor (for [`TlsListener::new`]) and the upkeep to run until `stop`.
    pub fn into_parts(self, stop: CancellationToken) -> (TlsAcceptor, impl Future<Output = ()>) {
        let upkeep = async move {
            match self.upkeep {
                Upkeep::Files {
                    resolver,
                    cert,
                    key,
                } => watch_files(resolver, cert, key, stop).await,
                Upkeep::Acme(state) => drive_acme(*state, stop).await,
            }
        };
        (self.acceptor, upkeep)
    }
}

fn server_config(
    provider: Arc<CryptoProvider>,
    resolver: Arc<dyn ResolvesServerCert>,
) -> anyhow::Result<Arc<ServerConfig>> {
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn acme_state(
    settings: &AcmeSettings,
    provider: Arc<CryptoProvider>,
) -> anyhow::Result<AcmeState<io::Error>> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(ca_file) = &settings.ca_file {
        for cert in read_certificates(ca_file).map_err(anyhow::Error::msg)? {
            roots.add(cert).with_context(|| {
                format!("ACME_CA_FILE {} holds an unusable CA", ca_file.display())
            })?;
        }
    }
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // The account and certificate keys live here: readable by this user only.
    create_private_dir(&settings.cache_dir)
        .with_context(|| format!("cannot create {}", settings.cache_dir.display()))?;
    Ok(
        AcmeConfig::new_with_client_config(&settings.domains, Arc::new(client))
            .directory(settings.directory.as_str())
            .contact(settings.email.iter().map(|email| format!("mailto:{email}")))
            .cache(DirCache::new(settings.cache_dir.clone()))
            .state(),
    )
}

fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Orders, renews and deploys the certificate until `stop`; rustls-acme backs off on errors.
async fn drive_acme(mut state: AcmeState<io::Error>, stop: CancellationToken) {
    tracing::info!(
        ?state,
        "ACME: getting a certificate (the CA validates on port 443)"
    );
    loop {
        let event = tokio::select! {
            event = state.next() => event,
            _ = stop.cancelled() => return,
        };
        match event {
            Some(Ok(event)) => tracing::info!(?event, "ACME"),
            Some(Err(err)) => {
                tracing::warn!(error = %err, "ACME: no certificate yet or renewal failed; retrying")
            }
            None => return,
        }
    }
}

/// Size and modification time of both files: a change in either means "load again".
type Stamp = Option<[(SystemTime, u64); 2]>;

fn stamp(cert: &Path, key: &Path) -> Stamp {
    let one = |path: &Path| {
        let meta = std::fs::metadata(path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    };
    Some([one(cert)?, one(key)?])
}

/// Polls the files every [`RELOAD_EVERY`]; new handshakes get a changed certificate, a bad one
/// is logged once and the old one kept. Polling also sees Kubernetes' symlink-swapped secrets.
async fn watch_files(
    resolver: Arc<FileCertResolver>,
    cert: PathBuf,
    key: PathBuf,
    stop: CancellationToken,
) {
    let mut seen = stamp(&cert, &key);
    let mut ticker = tokio::time::interval(RELOAD_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.cancelled() => return,
        }
        let now = stamp(&cert, &key);
        if now == seen {
            continue;
        }
        seen = now;
        let (cert, key) = (cert.clone(), key.clone());
        let loaded = tokio::task::spawn_blocking(move || load_certified_key(&cert, &key)).await;
        match loaded {
            Ok(Ok(certified)) => {
                resolver.replace(certified);
                tracing::info!("TLS certificate reloaded");
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "TLS certificate files changed but cannot be used; still serving the previous certificate")
            }
            Err(err) => tracing::warn!(error = %err, "TLS certificate reload failed"),
        }
    }
}

/// Runs handshakes: answers ACME TLS-ALPN-01 validations itself, hands out everything else.
#[derive(Clone)]
pub struct TlsAcceptor {
    server: Arc<ServerConfig>,
    /// Only with ACME: the configuration that presents the validation certificate.
    challenge: Option<Arc<ServerConfig>>,
}

impl TlsAcceptor {
    /// `None` when the connection was an ACME validation, which ends with its handshake.
    async fn accept(&self, tcp: TcpStream) -> io::Result<Option<TlsStream<TcpStream>>> {
        let start = LazyConfigAcceptor::new(Acceptor::default(), tcp).await?;
        if let Some(challenge) = &self.challenge {
            if is_tls_alpn_challenge(&start.client_hello()) {
                let mut tls = start.into_stream(challenge.clone()).await?;
                tls.shutdown().await?;
                return Ok(None);
            }
        }
        Ok(Some(start.into_stream(self.server.clone()).await?))
    }
}

type Accepted = (TlsStream<TcpStream>, SocketAddr);

/// An `axum::serve` listener that yields finished TLS connections. Handshakes run in their own
/// tasks, so a slow or failing client never holds up the accept loop; dropping the listener
/// (as the graceful shutdown does) stops accepting and closes the port.
pub struct TlsListener {
    accepted: mpsc::Receiver<Accepted>,
    local_addr: SocketAddr,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> io::Result<Self> {
        let local_addr = tcp.local_addr()?;
        let (sender, accepted) = mpsc::channel(64);
        tokio::spawn(accept_loop(tcp, acceptor, sender));
        Ok(Self {
            accepted,
            local_addr,
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(accepted) => accepted,
            // The accept loop holds a sender for as long as this receiver lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

async fn accept_loop(tcp: TcpListener, acceptor: TlsAcceptor, sender: mpsc::Sender<Accepted>) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = tcp.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_error(err).await;
                    continue;
                }
            },
            _ = sender.closed() => return,
        };
        // Without TCP_NODELAY a handshake flight or a photo's last segment waits for a delayed ACK.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "cannot set TCP_NODELAY");
        }
        let acceptor = acceptor.clone();
        let sender = sender.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(Some(tls))) => {
                    let _ = sender.send((tls, peer)).await;
                }
                Ok(Ok(None)) => tracing::info!(%peer, "answered an ACME TLS-ALPN-01 validation"),
                Ok(Err(err)) => tracing::debug!(%peer, error = %err, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

/// As axum does for plain TCP: a vanished client is nothing; anything else (out of file
/// descriptors) is logged and waited out.
async fn accept_error(err: io::Error) {
    if matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %err, "accept error");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// The plain-HTTP listener's app: every request gets a 308 to the same path over HTTPS, on
/// `public_url`'s origin when that is https, else on the request's host and `https_port`.
pub fn redirect_router(https_port: u16, public_url: Option<Url>) -> Router {
    let origin = public_url
        .filter(|url| url.scheme() == "https")
        .map(|url| url.origin().ascii_serialization());
    Router::new().fallback(move |headers: HeaderMap, uri: Uri| {
        let origin = origin.clone();
        async move { redirect(origin, https_port, &headers, &uri) }
    })
}

fn redirect(origin: Option<String>, https_port: u16, headers: &HeaderMap, uri: &Uri) -> Response {
    let origin = match origin {
        Some(origin) => origin,
        None => {
            let Some(host) = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<Authority>().ok())
            else {
                return (StatusCode::BAD_REQUEST, "Host header is required").into_response();
            };
            match https_port {
                443 => format!("https://{}", host.host()),
                port => format!("https://{}:{port}", host.host()),
            }
        }
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, format!("{origin}{path}"))],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(origin: Option<&str>, port: u16, host: &str, uri: &str) -> Option<String> {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().expect("header"));
        let response = redirect(
            origin.map(str::to_owned),
            port,
            &headers,
            &uri.parse().expect("uri"),
        );
        response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    #[test]
    fn redirects_keep_host_and_path_and_name_the_https_port() {
        assert_eq!(
            location(None, 443, "photos.example:80", "/e/abc?x=1").as_deref(),
            Some("https://photos.example/e/abc?x=1")
        );
        assert_eq!(
            location(None, 8443, "192.168.1.10", "/").as_deref(),
            Some("https://192.168.1.10:8443/")
        );
        assert_eq!(
            location(None, 8443, "[fe80::1]:8080", "/a").as_deref(),
            Some("https://[fe80::1]:8443/a")
        );
        assert_eq!(
            location(Some("https://photos.example"), 3000, "10.0.0.1", "/a").as_deref(),
            Some("https://photos.example/a")
        );
    }

    #[test]
    fn a_redirect_without_a_usable_host_is_a_400() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "bad host\\".parse().expect("header"));
        let response = redirect(None, 443, &headers, &"/".parse().expect("uri"));
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let response = redirect(None, 443, &HeaderMap::new(), &"/".parse().expect("uri"));
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
}
