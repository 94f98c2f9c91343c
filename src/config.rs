//! Command line and environment configuration, resolved once at start into [`Settings`].

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

#[derive(Debug, Parser)]
#[command(
    name = "partypic",
    version,
    about = "PartyPic: photo sharing for weddings and parties.",
    long_about = "PartyPic: photo sharing for weddings and parties.\n\n\
        Without configuration it runs on embedded defaults: SQLite and photos under DATA_DIR.\n\
        Set DATABASE_URL (or DB_HOST...) for PostgreSQL and S3_ENDPOINT/S3_BUCKET_NAME for S3;\n\
        the two are chosen independently."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the HTTP server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI document (what GET /openapi.json serves) and exit.
    Openapi,
    /// Write a consistent snapshot of the embedded default (SQLite database and photos in
    /// DATA_DIR) to FILE while the server keeps running (see docs/operations.md).
    Backup {
        /// The archive to write (a tar file; replaced atomically).
        file: PathBuf,
    },
    /// Restore a backup archive into an empty DATA_DIR, verifying every checksum.
    Restore {
        /// The archive `partypic backup` wrote.
        file: PathBuf,
    },
    /// Write one event (its rules, missions, guests and photos) to a portable archive.
    Export {
        /// The event (session) id.
        event_id: uuid::Uuid,
        /// The archive to write (a tar file; replaced atomically).
        file: PathBuf,
    },
    /// Load an event archive into this installation (either backend pair).
    Import {
        /// The archive `partypic export` wrote.
        file: PathBuf,
        /// The host who gets the event (default: the exported host's e-mail). A host that does
        /// not exist yet is created with a random password, printed once.
        #[arg(long)]
        host_email: Option<String>,
    },
    /// Administer accounts and events in the configured database (exit code 1: no such
    /// account or event, 2: bad arguments).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// List every host account.
    Users {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List every event with its host, photos and guests.
    Events {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Set a new password for the account with this email. Without --password-stdin a
    /// password is generated and printed once.
    ResetPassword {
        email: String,
        /// Read the new password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete an event with all its photos, thumbnails and guests. Cannot be undone.
    DeleteEvent { id: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Secrets are [`SecretString`]s: `Debug` (and so the start-up log) shows them redacted.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Address of the metrics listener (default: HOST).
    #[arg(long, env = "METRICS_HOST")]
    pub metrics_host: Option<String>,
    /// Port of the metrics listener, which serves only `GET /metrics` (0 = no metrics listener).
    #[arg(long, env = "METRICS_PORT", default_value_t = 9464)]
    pub metrics_port: u16,
    /// Directory for the embedded defaults: SQLite database, local photos, generated JWT secret.
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Log output format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,

    /// PostgreSQL URL (postgres://user:pass@host:port/db). Takes precedence over DB_HOST etc.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<SecretString>,
    /// PostgreSQL host; setting it selects PostgreSQL.
    #[arg(long, env = "DB_HOST")]
    pub db_host: Option<String>,
    /// PostgreSQL port.
    #[arg(long, env = "DB_PORT", default_value_t = 5432)]
    pub db_port: u16,
    /// PostgreSQL user.
    #[arg(long, env = "DB_USER", default_value = "postgres")]
    pub db_user: String,
    /// PostgreSQL password.
    #[arg(long, env = "DB_PASSWORD", hide_env_values = true)]
    pub db_password: Option<SecretString>,
    /// PostgreSQL database name.
    #[arg(long, env = "DB_NAME", default_value = "partypic")]
    pub db_name: String,
    /// Maximum database connections per replica.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// Seconds a request waits for a database connection before answering 503.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 3)]
    pub db_acquire_timeout_secs: u64,

    /// S3 endpoint URL (e.g. https://s3.eu-central-1.amazonaws.com); setting it selects S3.
    #[arg(long, env = "S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// S3 region (must match the store's region for signatures).
    #[arg(long, env = "S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// S3 bucket for photos; created at start when missing.
    #[arg(long, env = "S3_BUCKET_NAME", default_value = "partypic")]
    pub s3_bucket_name: String,
    /// S3 access key id.
    #[arg(long, env = "S3_ACCESS_KEY", hide_env_values = true)]
    pub s3_access_key: Option<String>,
    /// S3 secret access key.
    #[arg(long, env = "S3_SECRET_KEY", hide_env_values = true)]
    pub s3_secret_key: Option<SecretString>,
    /// S3 session token (temporary credentials).
    #[arg(long, env = "S3_SESSION_TOKEN", hide_env_values = true)]
    pub s3_session_token: Option<SecretString>,
    /// Use path-style bucket addressing (http://endpoint/bucket/key), needed by most self-hosted stores.
    #[arg(long, env = "S3_FORCE_PATH_STYLE", default_value_t = false, action = clap::ArgAction::Set)]
    pub s3_force_path_style: bool,
    /// Endpoint put into presigned URLs when clients reach S3 under another name than the server.
    #[arg(long, env = "S3_PUBLIC_ENDPOINT")]
    pub s3_public_endpoint: Option<String>,
    /// Comma-separated web origins allowed to PUT/GET presigned URLs (bucket CORS). Default:
    /// CORS_ORIGINS plus PUBLIC_URL's origin, or * when CORS_ORIGINS is unset.
    #[arg(long, env = "S3_CORS_ORIGINS")]
    pub s3_cors_origins: Option<String>,
    /// Comma-separated web origins (https://app.example.com) whose pages may call the API.
    /// Default (or *): any origin, without credentials (the API uses bearer tokens, not cookies).
    #[arg(long, env = "CORS_ORIGINS")]
    pub cors_origins: Option<String>,

    /// HS256 secret for access tokens (required with PostgreSQL; generated into DATA_DIR otherwise).
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<SecretString>,
    /// Access token lifetime in seconds.
    #[arg(long, env = "JWT_EXPIRES_IN_SECS", default_value_t = 7 * 24 * 3600)]
    pub jwt_expires_in_secs: u64,
    /// Absolute base URL for URLs the server hands out; otherwise derived from Host / X-Forwarded-*.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Largest accepted photo in bytes.
    #[arg(long, env = "MAX_UPLOAD_BYTES", default_value_t = 25 * 1024 * 1024)]
    pub max_upload_bytes: u64,
    /// Largest accepted video clip in bytes (photos keep MAX_UPLOAD_BYTES).
    #[arg(long, env = "MAX_VIDEO_BYTES", default_value_t = 300 * 1024 * 1024)]
    pub max_video_bytes: u64,
    /// Longest accepted video clip in seconds; an event may set a shorter `max_video_secs`.
    #[arg(long, env = "MAX_VIDEO_SECS", default_value_t = 180)]
    pub max_video_secs: u64,
    /// Argon2id memory cost in KiB. OWASP lists m=19456/t=2 … m=7168/t=5 as equal in
    /// strength; 7168/5 measured the least CPU and memory per hash here (docs/performance.md).
    /// Hashes stored with other parameters keep verifying (they carry their own).
    #[arg(long, env = "ARGON2_MEMORY_KIB", default_value_t = 7168)]
    pub argon2_memory_kib: u32,
    /// Argon2id iterations (OWASP: 5 with 7168 KiB).
    #[arg(long, env = "ARGON2_ITERATIONS", default_value_t = 5)]
    pub argon2_iterations: u32,
    /// Argon2id parallelism (OWASP: 1).
    #[arg(long, env = "ARGON2_PARALLELISM", default_value_t = 1)]
    pub argon2_parallelism: u32,
    /// Password hashes run at once (default: the cores available to the process).
    #[arg(long, env = "HASH_CONCURRENCY")]
    pub hash_concurrency: Option<usize>,
    /// Hard cap on password hashes waiting; beyond it 503 + Retry-After (default: 128 per
    /// hashing slot). Admission is normally decided by `HASH_MAX_WAIT_MS`.
    #[arg(long, env = "HASH_QUEUE_LIMIT")]
    pub hash_queue_limit: Option<usize>,
    /// A register/login is admitted while its password hash would probably start within this
    /// many milliseconds (from the measured time per hash); beyond it 503 + Retry-After.
    /// 0: the queue's hard cap alone decides.
    #[arg(long, env = "HASH_MAX_WAIT_MS", default_value_t = 2000)]
    pub hash_max_wait_ms: u64,
    /// Nice value (0-19) of the threads that hash passwords and make thumbnails: under load,
    /// request handling and the database get the CPU first (Linux).
    #[arg(long, env = "WORKER_NICE", default_value_t = 10, value_parser = clap::value_parser!(i32).range(0..=19))]
    pub worker_nice: i32,
    /// Hand the pages of the server's binary back to the kernel once start-up is done and after
    /// 30 s without requests (Linux ≥ 5.4): only what serving runs is read back. `false` keeps
    /// them resident: the first requests after a quiet spell then read no code from disk.
    #[arg(long, env = "RELEASE_BINARY_PAGES", default_value_t = true, action = clap::ArgAction::Set)]
    pub release_binary_pages: bool,
    /// Memory for rendered gallery pages and photo entries in MiB, half each (0 = no cache).
    /// Pages are dropped when their event changes on any replica, and after a few seconds at
    /// most; a photo's entry lives while the photo is unchanged and its URLs are fresh.
    #[arg(long, env = "GALLERY_CACHE_MB", default_value_t = 32)]
    pub gallery_cache_mb: u64,
    /// Processing jobs (photo variants) this replica runs at once; 0 = none (the replica only
    /// serves requests; others process).
    #[arg(long, env = "PROCESSING_CONCURRENCY", default_value_t = 1)]
    pub processing_concurrency: usize,
    /// How long a claimed job stays with its replica without a sign of life (the lease is renewed
    /// while the job runs); a dead replica's jobs go to another one after this.
    #[arg(long, env = "JOB_LEASE_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(3..))]
    pub job_lease_secs: u64,
    /// Guests' heartbeats are written together this often in milliseconds (0 = each at once).
    /// Well inside the 60 s a guest counts as online; a stopping replica writes what it holds.
    #[arg(long, env = "HEARTBEAT_FLUSH_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(0..=30_000))]
    pub heartbeat_flush_ms: u64,

    /// Login/register attempts per minute and client IP (0 = off; keep it off for load tests).
    #[arg(long, env = "RATE_LIMIT_AUTH_PER_MINUTE", default_value_t = 0)]
    pub rate_limit_auth_per_minute: u32,
    /// Attempts a client IP may make at once before the per-minute rate applies.
    #[arg(long, env = "RATE_LIMIT_AUTH_BURST", default_value_t = 10)]
    pub rate_limit_auth_burst: u32,
    /// Join-code lookups per minute and client IP (0 = off): guessing codes stays hopeless.
    #[arg(long, env = "RATE_LIMIT_JOIN_CODE_PER_MINUTE", default_value_t = 30)]
    pub rate_limit_join_code_per_minute: u32,
    /// Join-code lookups a client IP may make at once before the per-minute rate applies.
    #[arg(long, env = "RATE_LIMIT_JOIN_CODE_BURST", default_value_t = 10)]
    pub rate_limit_join_code_burst: u32,
    /// Wrong PINs of a protected event one client IP may try within the window below; the
    /// next attempts get 429 until the window ends. Kept in the database: holds across replicas.
    #[arg(long, env = "RATE_LIMIT_JOIN_PIN_ATTEMPTS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_join_pin_attempts: u32,
    /// The window of RATE_LIMIT_JOIN_PIN_ATTEMPTS, in seconds.
    #[arg(long, env = "RATE_LIMIT_JOIN_PIN_WINDOW_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    pub rate_limit_join_pin_window_secs: u64,

    /// PEM certificate chain (leaf first) for HTTPS on PORT; reloaded when the file changes.
    #[arg(long, env = "TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of TLS_CERT_FILE.
    #[arg(long, env = "TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// Comma-separated domain names to get a certificate for from an ACME CA (TLS-ALPN-01:
    /// the CA must reach PORT as 443). The certificate is kept in DATA_DIR/acme.
    #[arg(long, env = "ACME_DOMAIN")]
    pub acme_domain: Option<String>,
    /// Contact email registered with the ACME account (optional).
    #[arg(long, env = "ACME_EMAIL")]
    pub acme_email: Option<String>,
    /// ACME directory URL. Let's Encrypt staging: https://acme-staging-v02.api.letsencrypt.org/directory
    #[arg(long, env = "ACME_DIRECTORY", default_value = crate::tls::LETS_ENCRYPT)]
    pub acme_directory: String,
    /// PEM CA certificate(s) trusted for ACME_DIRECTORY besides the public roots (test CAs).
    #[arg(long, env = "ACME_CA_FILE")]
    pub acme_ca_file: Option<PathBuf>,
    /// Port of a plain-HTTP listener that redirects (308) to HTTPS; needs TLS (0 = none; 80 usual).
    #[arg(long, env = "HTTP_REDIRECT_PORT", default_value_t = 0)]
    pub http_redirect_port: u16,
    /// max-age of the Strict-Transport-Security header sent over HTTPS (0 tells browsers to forget).
    #[arg(long, env = "HSTS_MAX_AGE_SECS", default_value_t = 365 * 24 * 3600)]
    pub hsts_max_age_secs: u64,

    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value_t = 25)]
    pub shutdown_timeout_secs: u64,
    /// Seconds between refreshes of the database-derived gauges.
    #[arg(long, env = "METRICS_REFRESH_SECS", default_value_t = 10)]
    pub metrics_refresh_secs: u64,

    /// Storage per event in MiB (photos as uploaded; 0 = unlimited). Hosts may set a lower
    /// limit per event (`storage_limit_mb`).
    #[arg(long, env = "EVENT_QUOTA_MB", default_value_t = 0)]
    pub event_quota_mb: u64,
    /// Storage per host, all their events together, in MiB (0 = unlimited).
    #[arg(long, env = "HOST_QUOTA_MB", default_value_t = 0)]
    pub host_quota_mb: u64,

    /// SMTP server for password-reset mails: smtp://host:port, smtp://user:pass@host:587?tls=required
    /// (STARTTLS) or smtps://user:pass@host (TLS). Needs PUBLIC_URL (the links point there).
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<SecretString>,
    /// Sender of the mails, e.g. "PartyPic <noreply@party.example>" (default: noreply@PUBLIC_URL's host).
    #[arg(long, env = "SMTP_FROM")]
    pub smtp_from: Option<String>,

    /// Delete events (photos, thumbnails, guests) this many days after they end (0 = never).
    #[arg(long, env = "RETENTION_DAYS", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=36500))]
    pub retention_days: u32,
}

#[derive(Debug, Clone)]
pub enum DatabaseSettings {
    Sqlite {
        path: PathBuf,
    },
    /// The URL carries the password.
    Postgres {
        url: SecretString,
    },
}

#[derive(Debug, Clone)]
pub struct S3Settings {
    pub endpoint: Url,
    pub public_endpoint: Url,
    pub region: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: SecretString,
    pub session_token: Option<SecretString>,
    pub path_style: bool,
    pub cors_origins: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum StoreSettings {
    Filesystem { root: PathBuf },
    S3(Box<S3Settings>),
}

/// Which web origins may call the API from the browser (CORS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    /// Serialized origins (`https://app.example.com`), as browsers send them in `Origin`.
    Only(Vec<String>),
}

impl CorsOrigins {
    /// `None`, empty or `*` is any origin; otherwise a comma-separated list of origins.
    fn parse(name: &str, value: Option<&str>) -> Result<Self, String> {
        let entries: Vec<&str> = value
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .collect();
        if entries.is_empty() || entries.contains(&"*") {
            return Ok(Self::Any);
        }
        entries
            .into_iter()
            .map(|entry| {
                let url = parse_http_url(name, entry)?;
                if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
                    return Err(format!(
                        "{name} lists origins (scheme://host[:port]), not URLs with a path: {entry}"
                    ));
                }
                Ok(url.origin().ascii_serialization())
            })
            .collect::<Result<_, _>>()
            .map(Self::Only)
    }
}

/// Video clip limits (`MAX_VIDEO_BYTES`, `MAX_VIDEO_SECS`).
#[derive(Debug, Clone, Copy)]
pub struct VideoLimits {
    pub max_bytes: u64,
    pub max_secs: u64,
}

#[derive(Debug, Clone)]
pub struct HashSettings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub concurrency: usize,
    pub queue_limit: usize,
    /// Admit a hash while it would start within this; `None`: the queue cap alone.
    pub max_wait: Option<Duration>,
    /// Nice value of the hashing threads.
    pub nice: i32,
}

#[derive(Debug, Clone)]
pub struct AcmeSettings {
    pub domains: Vec<String>,
    pub email: Option<String>,
    pub directory: Url,
    pub ca_file: Option<PathBuf>,
    /// Account key and certificates.
    pub cache_dir: PathBuf,
}

/// Where the HTTPS certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSettings {
    /// Checked at start; reloaded when the files change.
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    Acme(AcmeSettings),
}

/// Validated configuration: everything below the edge trusts it.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Where `GET /metrics` is served, apart from the public API; `None` = not at all.
    pub metrics_listen: Option<SocketAddr>,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    pub database: DatabaseSettings,
    pub store: StoreSettings,
    /// `None` means: generate once and keep in `data_dir`.
    pub jwt_secret: Option<SecretString>,
    pub jwt_expires_in: Duration,
    pub public_url: Option<Url>,
    /// Origins whose pages may call the API (CORS).
    pub cors_origins: CorsOrigins,
    pub max_upload_bytes: u64,
    pub video: VideoLimits,
    pub hashing: HashSettings,
    /// Nice value of the background threads (thumbnails).
    pub worker_nice: i32,
    /// Whether the server binary hands its pages back when ready and when quiet.
    pub release_binary_pages: bool,
    /// Byte budget of the rendered-gallery cache; 0 disables it.
    pub gallery_cache_bytes: u64,
    /// Processing jobs run at once on this replica; 0 = none.
    pub processing_concurrency: usize,
    /// A claimed job's lease, renewed while it runs.
    pub job_lease: Duration,
    /// How often heartbeats are written behind; `None` = each at once.
    pub heartbeat_flush: Option<Duration>,
    pub db_max_connections: u32,
    pub db_acquire_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub metrics_refresh: Duration,
    /// Per-IP login/register limit: (per minute, burst); per minute 0 = off.
    pub auth_rate_limit: (u32, u32),
    /// Per-IP join-code lookup limit: (per minute, burst); per minute 0 = off.
    pub join_code_rate_limit: (u32, u32),
    /// Wrong event PINs per event and client IP in a window.
    pub join_pin_limit: crate::app::throttle::PinAttemptLimit,
    /// `Some`: the main listener serves HTTPS.
    pub tls: Option<TlsSettings>,
    /// The plain-HTTP listener that redirects to HTTPS; only with `tls`.
    pub http_redirect_listen: Option<SocketAddr>,
    /// Strict-Transport-Security max-age on HTTPS responses.
    pub hsts_max_age: Duration,
    /// Events are deleted this long after they end; `None` = kept for good.
    pub retention: Option<chrono::TimeDelta>,
    /// Password-reset mails; `None` = reset by mail is off.
    pub smtp: Option<SmtpSettings>,
    /// Bytes of photos per event and per host; `None` = unlimited.
    pub event_quota_bytes: Option<u64>,
    pub host_quota_bytes: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// May carry the SMTP password.
    pub url: SecretString,
    pub from: String,
}

fn parse_http_url(name: &str, value: &str) -> Result<Url, String> {
    let url = Url::parse(value.trim())
        .map_err(|e| format!("{name} is not a valid URL ({e}): {value}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "{name} must be an http(s) URL with a host: {value}"
        ));
    }
    // These URLs are logged and handed out; credentials have no place in them.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{name} must not contain credentials"));
    }
    Ok(url)
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn non_empty_secret(value: &Option<SecretString>) -> Option<&str> {
    value
        .as_ref()
        .map(|v| v.expose_secret().trim())
        .filter(|v| !v.is_empty())
}

impl Config {
    /// Turns raw flags into [`Settings`], or one clear message saying what is wrong.
    pub fn resolve(&self) -> Result<Settings, String> {
        let ip: std::net::IpAddr = self
            .host
            .parse()
            .map_err(|_| format!("HOST must be an IP address, got {:?}", self.host))?;
        let listen = SocketAddr::new(ip, self.port);
        let metrics_listen = match (self.metrics_port, non_empty(&self.metrics_host)) {
            (0, _) => None,
            (port, None) => Some(SocketAddr::new(ip, port)),
            (port, Some(host)) => Some(SocketAddr::new(
                host.parse()
                    .map_err(|_| format!("METRICS_HOST must be an IP address, got {host:?}"))?,
                port,
            )),
        };
        if metrics_listen == Some(listen) {
            return Err(
                "METRICS_PORT must differ from PORT: metrics have their own listener".into(),
            );
        }

        let database = if let Some(url) = non_empty_secret(&self.database_url) {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err("DATABASE_URL must start with postgres:// or postgresql://".into());
            }
            DatabaseSettings::Postgres { url: url.into() }
        } else if let Some(host) = non_empty(&self.db_host) {
            let mut url = Url::parse("postgres://localhost").map_err(|e| e.to_string())?;
            url.set_host(Some(host))
                .map_err(|e| format!("DB_HOST is invalid: {e}"))?;
            url.set_port(Some(self.db_port))
                .map_err(|_| "DB_PORT is invalid".to_owned())?;
            url.set_username(&self.db_user)
                .map_err(|_| "DB_USER is invalid".to_owned())?;
            if let Some(password) = non_empty_secret(&self.db_password) {
                url.set_password(Some(password))
                    .map_err(|_| "DB_PASSWORD is invalid".to_owned())?;
            }
            url.set_path(&self.db_name);
            DatabaseSettings::Postgres {
                url: url.to_string().into(),
            }
        } else {
            DatabaseSettings::Sqlite {
                path: self.data_dir.join("partypic.sqlite"),
            }
        };

        let public_url = non_empty(&self.public_url)
            .map(|v| parse_http_url("PUBLIC_URL", v))
            .transpose()?;
        let cors_origins = CorsOrigins::parse("CORS_ORIGINS", non_empty(&self.cors_origins))?;

        let store = if let Some(endpoint) = non_empty(&self.s3_endpoint) {
            let endpoint = parse_http_url("S3_ENDPOINT", endpoint)?;
            let public_endpoint = match non_empty(&self.s3_public_endpoint) {
                Some(v) => parse_http_url("S3_PUBLIC_ENDPOINT", v)?,
                None => endpoint.clone(),
            };
            let access_key = non_empty(&self.s3_access_key)
                .ok_or("S3_ACCESS_KEY is required when S3_ENDPOINT is set")?
                .to_owned();
            let secret_key = non_empty_secret(&self.s3_secret_key)
                .ok_or("S3_SECRET_KEY is required when S3_ENDPOINT is set")?
                .into();
            let bucket = self.s3_bucket_name.trim().to_owned();
            if bucket.len() < 3
                || bucket.len() > 63
                || !bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            {
                return Err(format!(
                    "S3_BUCKET_NAME is not a valid bucket name: {bucket:?}"
                ));
            }
            let bucket_origins = match non_empty(&self.s3_cors_origins) {
                Some(list) => list
                    .split(',')
                    .map(|o| o.trim().to_owned())
                    .filter(|o| !o.is_empty())
                    .collect(),
                // The API's origins, and the embedded client's own (PUBLIC_URL): both PUT photos.
                None => match &cors_origins {
                    CorsOrigins::Any => vec!["*".to_owned()],
                    CorsOrigins::Only(origins) => {
                        let mut origins = origins.clone();
                        if let Some(url) = &public_url {
                            let own = url.origin().ascii_serialization();
                            if !origins.contains(&own) {
                                origins.push(own);
                            }
                        }
                        origins
                    }
                },
            };
            StoreSettings::S3(Box::new(S3Settings {
                endpoint,
                public_endpoint,
                region: self.s3_region.trim().to_owned(),
                bucket,
                access_key,
                secret_key,
                session_token: non_empty_secret(&self.s3_session_token).map(SecretString::from),
                path_style: self.s3_force_path_style,
                cors_origins: bucket_origins,
            }))
        } else {
            StoreSettings::Filesystem {
                root: self.data_dir.join("photos"),
            }
        };

        let jwt_secret = non_empty_secret(&self.jwt_secret).map(SecretString::from);
        if let Some(secret) = &jwt_secret {
            if secret.expose_secret().len() < 32 {
                return Err("JWT_SECRET must be at least 32 characters".into());
            }
        } else if matches!(database, DatabaseSettings::Postgres { .. }) {
            return Err(
                "JWT_SECRET is required with PostgreSQL: every replica must share it".into(),
            );
        }

        if self.jwt_expires_in_secs == 0 {
            return Err("JWT_EXPIRES_IN_SECS must be positive".into());
        }
        if self.max_upload_bytes == 0 {
            return Err("MAX_UPLOAD_BYTES must be positive".into());
        }
        if self.max_video_bytes == 0 || self.max_video_secs == 0 {
            return Err("MAX_VIDEO_BYTES and MAX_VIDEO_SECS must be positive".into());
        }
        if self.db_max_connections == 0 {
            return Err("DB_MAX_CONNECTIONS must be positive".into());
        }
        if self.argon2_memory_kib < 8 * self.argon2_parallelism.max(1)
            || self.argon2_iterations == 0
            || self.argon2_parallelism == 0
        {
            return Err("ARGON2_* parameters are out of range".into());
        }
        let tls = self.tls()?;
        let http_redirect_listen = match self.http_redirect_port {
            0 => None,
            _ if tls.is_none() => {
                return Err(
                    "HTTP_REDIRECT_PORT needs HTTPS: set TLS_CERT_FILE and TLS_KEY_FILE, or ACME_DOMAIN"
                        .into(),
                );
            }
            port => Some(SocketAddr::new(ip, port)),
        };
        if http_redirect_listen.is_some_and(|addr| Some(addr) == metrics_listen || addr == listen) {
            return Err("HTTP_REDIRECT_PORT must differ from PORT and METRICS_PORT".into());
        }

        let smtp = match non_empty_secret(&self.smtp_url) {
            None => None,
            Some(url) => {
                if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                    return Err("SMTP_URL must start with smtp:// or smtps://".into());
                }
                let Some(public_url) = &public_url else {
                    return Err(
                        "SMTP_URL needs PUBLIC_URL: reset links must point at this server".into(),
                    );
                };
                let from = match non_empty(&self.smtp_from) {
                    Some(from) => from.to_owned(),
                    None => format!(
                        "PartyPic <noreply@{}>",
                        public_url.host_str().unwrap_or("localhost")
                    ),
                };
                Some(SmtpSettings {
                    url: url.into(),
                    from,
                })
            }
        };

        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let concurrency = self.hash_concurrency.unwrap_or(cores).max(1);
        let queue_limit = self.hash_queue_limit.unwrap_or(concurrency * 128);

        Ok(Settings {
            listen,
            metrics_listen,
            data_dir: self.data_dir.clone(),
            log_format: self.log_format,
            database,
            store,
            jwt_secret,
            jwt_expires_in: Duration::from_secs(self.jwt_expires_in_secs),
            public_url,
            cors_origins,
            max_upload_bytes: self.max_upload_bytes,
            video: VideoLimits {
                max_bytes: self.max_video_bytes,
                max_secs: self.max_video_secs,
            },
            hashing: HashSettings {
                memory_kib: self.argon2_memory_kib,
                iterations: self.argon2_iterations,
                parallelism: self.argon2_parallelism,
                concurrency,
                queue_limit,
                max_wait: (self.hash_max_wait_ms > 0)
                    .then(|| Duration::from_millis(self.hash_max_wait_ms)),
                nice: self.worker_nice,
            },
            worker_nice: self.worker_nice,
            release_binary_pages: self.release_binary_pages,
            gallery_cache_bytes: self.gallery_cache_mb.saturating_mul(1024 * 1024),
            processing_concurrency: self.processing_concurrency,
            job_lease: Duration::from_secs(self.job_lease_secs),
            heartbeat_flush: (self.heartbeat_flush_ms > 0)
                .then(|| Duration::from_millis(self.heartbeat_flush_ms)),
            db_max_connections: self.db_max_connections,
            db_acquire_timeout: Duration::from_secs(self.db_acquire_timeout_secs.max(1)),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout_secs),
            metrics_refresh: Duration::from_secs(self.metrics_refresh_secs.max(1)),
            auth_rate_limit: (self.rate_limit_auth_per_minute, self.rate_limit_auth_burst),
            join_code_rate_limit: (
                self.rate_limit_join_code_per_minute,
                self.rate_limit_join_code_burst,
            ),
            join_pin_limit: crate::app::throttle::PinAttemptLimit {
                attempts: self.rate_limit_join_pin_attempts,
                window: Duration::from_secs(self.rate_limit_join_pin_window_secs),
            },
            tls,
            http_redirect_listen,
            hsts_max_age: Duration::from_secs(self.hsts_max_age_secs),
            smtp,
            event_quota_bytes: (self.event_quota_mb > 0)
                .then(|| self.event_quota_mb.saturating_mul(1024 * 1024)),
            host_quota_bytes: (self.host_quota_mb > 0)
                .then(|| self.host_quota_mb.saturating_mul(1024 * 1024)),
            retention: (self.retention_days > 0)
                .then(|| chrono::TimeDelta::days(i64::from(self.retention_days))),
        })
    }

    /// Certificate files (loaded once here, so a bad file is a configuration error) or ACME.
    fn tls(&self) -> Result<Option<TlsSettings>, String> {
        let cert = self
            .tls_cert_file
            .as_ref()
            .filter(|p| !p.as_os_str().is_empty());
        let key = self
            .tls_key_file
            .as_ref()
            .filter(|p| !p.as_os_str().is_empty());
        let domains: Vec<String> = non_empty(&self.acme_domain)
            .map(|list| {
                list.split(',')
                    .map(|d| d.trim().to_ascii_lowercase())
                    .filter(|d| !d.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        match (cert, key, domains.is_empty()) {
            (None, None, true) => {
                if non_empty(&self.acme_email).is_some() || self.acme_ca_file.is_some() {
                    return Err("ACME_EMAIL and ACME_CA_FILE need ACME_DOMAIN".into());
                }
                Ok(None)
            }
            (Some(_), _, false) | (_, Some(_), false) => Err(
                "TLS_CERT_FILE/TLS_KEY_FILE and ACME_DOMAIN exclude each other: pick one source of certificates"
                    .into(),
            ),
            (Some(cert), Some(key), true) => {
                crate::tls::load_certified_key(cert, key)
                    .map_err(|err| format!("TLS_CERT_FILE/TLS_KEY_FILE: {err}"))?;
                Ok(Some(TlsSettings::Files {
                    cert: cert.clone(),
                    key: key.clone(),
                }))
            }
            (Some(_), None, true) | (None, Some(_), true) => {
                Err("TLS_CERT_FILE and TLS_KEY_FILE go together: set both".into())
            }
            (None, None, false) => {
                for domain in &domains {
                    let valid = rustls::pki_types::ServerName::try_from(domain.as_str())
                        .is_ok_and(|name| matches!(name, rustls::pki_types::ServerName::DnsName(_)));
                    if !valid || !domain.contains(|c: char| c.is_ascii_alphabetic()) {
                        return Err(format!("ACME_DOMAIN must list DNS names, got {domain:?}"));
                    }
                }
                let email = non_empty(&self.acme_email)
                    .map(|email| {
                        email
                            .parse::<email_address::EmailAddress>()
                            .map(|_| email.to_owned())
                            .map_err(|_| format!("ACME_EMAIL is not an email address: {email:?}"))
                    })
                    .transpose()?;
                let directory = parse_http_url("ACME_DIRECTORY", &self.acme_directory)?;
                let ca_file = self.acme_ca_file.clone().filter(|p| !p.as_os_str().is_empty());
                if let Some(ca_file) = &ca_file {
                    crate::tls::read_certificates(ca_file)
                        .map_err(|err| format!("ACME_CA_FILE: {err}"))?;
                }
                Ok(Some(TlsSettings::Acme(AcmeSettings {
                    domains,
                    email,
                    directory,
                    ca_file,
                    cache_dir: self.data_dir.join("acme"),
                })))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Config {
        let mut argv = vec!["partypic"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).expect("valid args").config
    }

    #[test]
    fn embedded_defaults_need_no_configuration() {
        let settings = parse(&[]).resolve().expect("defaults resolve");
        assert!(matches!(settings.database, DatabaseSettings::Sqlite { .. }));
        assert!(matches!(settings.store, StoreSettings::Filesystem { .. }));
    }

    #[test]
    fn metrics_get_their_own_port_unless_turned_off() {
        let settings = parse(&[]).resolve().expect("defaults resolve");
        assert_eq!(
            settings.metrics_listen,
            Some("0.0.0.0:9464".parse().expect("addr"))
        );
        let local = parse(&["--metrics-host", "127.0.0.1", "--metrics-port", "9100"])
            .resolve()
            .expect("resolves");
        assert_eq!(
            local.metrics_listen,
            Some("127.0.0.1:9100".parse().expect("addr"))
        );
        let off = parse(&["--metrics-port", "0"]).resolve().expect("resolves");
        assert_eq!(off.metrics_listen, None);
        let err = parse(&["--port", "9464"]).resolve().expect_err("clash");
        assert!(err.contains("METRICS_PORT"), "{err}");
    }

    #[test]
    fn postgres_without_jwt_secret_is_rejected() {
        let err = parse(&["--db-host", "db"]).resolve().expect_err("error");
        assert!(err.contains("JWT_SECRET"), "{err}");
    }

    #[test]
    fn db_host_builds_a_postgres_url() {
        let secret = "x".repeat(32);
        let settings = parse(&[
            "--db-host",
            "db",
            "--db-password",
            "p@ss",
            "--jwt-secret",
            &secret,
        ])
        .resolve()
        .expect("resolves");
        match settings.database {
            DatabaseSettings::Postgres { url } => {
                assert_eq!(
                    url.expose_secret(),
                    "postgres://postgres:p%40ss@db:5432/partypic"
                )
            }
            DatabaseSettings::Sqlite { .. } => panic!("expected postgres"),
        }
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let jwt = "jwt-secret-jwt-secret-jwt-secret-42";
        let cli = Cli::try_parse_from([
            "partypic",
            "--db-host",
            "db",
            "--db-password",
            "db-password-17",
            "--jwt-secret",
            jwt,
            "--s3-endpoint",
            "http://garage:3900",
            "--s3-access-key",
            "GK-access-id",
            "--s3-secret-key",
            "s3-secret-key-99",
            "--s3-session-token",
            "s3-session-token-7",
        ])
        .expect("valid args");
        let settings = cli.config.resolve().expect("resolves");
        let with_url = parse(&["--database-url", "postgres://u:url-password-5@db/x"]);
        for shown in [
            format!("{cli:?}"),
            format!("{settings:?}"),
            format!("{settings:#?}"),
            format!("{with_url:?}"),
        ] {
            for secret in [
                jwt,
                "db-password-17",
                "s3-secret-key-99",
                "s3-session-token-7",
                "url-password-5",
            ] {
                assert!(!shown.contains(secret), "{secret} shown in {shown}");
            }
            assert!(shown.contains("REDACTED"), "{shown}");
        }
        // Still useful: the rest is there.
        assert!(format!("{settings:?}").contains("garage"));
    }

    #[test]
    fn service_urls_with_credentials_are_rejected() {
        let err = parse(&["--public-url", "https://user:pw@photos.example.com"])
            .resolve()
            .expect_err("error");
        assert!(
            err.contains("PUBLIC_URL must not contain credentials"),
            "{err}"
        );
    }

    #[test]
    fn cors_origins_default_to_any_and_the_bucket_follows_them() {
        let s3 = [
            "--s3-endpoint",
            "http://localhost:3900",
            "--s3-access-key",
            "GK1",
            "--s3-secret-key",
            "secret",
        ];
        let bucket_origins = |settings: &Settings| match &settings.store {
            StoreSettings::S3(s3) => s3.cors_origins.clone(),
            StoreSettings::Filesystem { .. } => panic!("expected S3"),
        };
        let open = parse(&s3).resolve().expect("resolves");
        assert_eq!(open.cors_origins, CorsOrigins::Any);
        assert_eq!(bucket_origins(&open), ["*"]);

        let mut args = s3.to_vec();
        args.extend([
            "--cors-origins",
            " https://app.example.com , http://localhost:5173/",
            "--public-url",
            "https://photos.example.com/",
        ]);
        let listed = parse(&args).resolve().expect("resolves");
        assert_eq!(
            listed.cors_origins,
            CorsOrigins::Only(vec![
                "https://app.example.com".into(),
                "http://localhost:5173".into()
            ])
        );
        assert_eq!(
            bucket_origins(&listed),
            [
                "https://app.example.com",
                "http://localhost:5173",
                "https://photos.example.com"
            ]
        );
        assert_eq!(
            parse(&["--cors-origins", "*"])
                .resolve()
                .expect("resolves")
                .cors_origins,
            CorsOrigins::Any
        );
        let err = parse(&["--cors-origins", "https://app.example.com/path"])
            .resolve()
            .expect_err("a path is not an origin");
        assert!(err.contains("CORS_ORIGINS"), "{err}");
    }

    #[test]
    fn acme_domains_are_a_trimmed_lowercase_list_cached_in_the_data_dir() {
        let settings = parse(&[
            "--data-dir",
            "/srv/partypic",
            "--acme-domain",
            " Photos.Example.com, www.photos.example.com ,",
            "--acme-email",
            "host@example.com",
        ])
        .resolve()
        .expect("resolves");
        let Some(TlsSettings::Acme(acme)) = settings.tls else {
            panic!("expected ACME");
        };
        assert_eq!(
            acme.domains,
            ["photos.example.com", "www.photos.example.com"]
        );
        assert_eq!(acme.directory.as_str(), crate::tls::LETS_ENCRYPT);
        assert_eq!(acme.cache_dir, PathBuf::from("/srv/partypic/acme"));
        assert_eq!(acme.email.as_deref(), Some("host@example.com"));
    }

    #[test]
    fn plain_http_is_the_default_and_the_redirect_port_needs_tls() {
        let settings = parse(&[]).resolve().expect("defaults resolve");
        assert!(settings.tls.is_none());
        assert!(settings.http_redirect_listen.is_none());
        let err = parse(&["--http-redirect-port", "80"])
            .resolve()
            .expect_err("error");
        assert!(err.contains("HTTP_REDIRECT_PORT needs HTTPS"), "{err}");
        let err = parse(&[
            "--acme-domain",
            "photos.example.com",
            "--http-redirect-port",
            "3000",
        ])
        .resolve()
        .expect_err("error");
        assert!(err.contains("must differ"), "{err}");
        let settings = parse(&[
            "--acme-domain",
            "photos.example.com",
            "--http-redirect-port",
            "80",
        ])
        .resolve()
        .expect("resolves");
        assert_eq!(
            settings.http_redirect_listen,
            Some("0.0.0.0:80".parse().expect("addr"))
        );
    }

    #[test]
    fn s3_without_keys_is_rejected() {
        let err = parse(&["--s3-endpoint", "http://localhost:3900"])
            .resolve()
            .expect_err("error");
        assert!(err.contains("S3_ACCESS_KEY"), "{err}");
    }
}
