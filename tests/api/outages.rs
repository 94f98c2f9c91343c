//! A database outage (issue 14): requests fail fast instead of each waiting the pool's acquire
//! timeout, and recover by themselves.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use partypic::db::{Database, DbError, fail_fast::FailFast, postgres::PostgresDatabase};
use reqwest::StatusCode;
use tokio::{net::TcpListener, task::JoinHandle};
use uuid::Uuid;

use crate::helpers::{Backend, BackendEnv, TestApp, body, eventually};

/// A port nothing listens on (bound, then released).
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

#[tokio::test]
async fn against_a_closed_postgresql_port_only_the_first_call_waits_the_acquire_timeout() {
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/partypic",
        closed_port().await
    );
    let acquire_timeout = Duration::from_secs(1);
    let pool = PostgresDatabase::connect(&url, 2, acquire_timeout).expect("lazy pool");
    let db = FailFast::new(Arc::new(pool));

    let started = Instant::now();
    assert!(matches!(
        db.event(Uuid::nil()).await,
        Err(DbError::Unavailable(_))
    ));
    let first = started.elapsed();
    assert!(
        first >= acquire_timeout,
        "the first call finds out: {first:?}"
    );

    let started = Instant::now();
    for _ in 0..10 {
        assert!(matches!(
            db.host(Uuid::nil()).await,
            Err(DbError::Unavailable(_))
        ));
        assert!(matches!(db.ping().await, Err(DbError::Unavailable(_))));
    }
    let next = started.elapsed();
    assert!(next < Duration::from_millis(50), "20 calls took {next:?}");
    assert!(db.is_down());
}

/// Forwards TCP to PostgreSQL until cut: then the port is closed and open connections die, as
/// when the database server stops.
struct Proxy {
    addr: SocketAddr,
    target: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let proxy = Self {
            addr,
            target,
            tasks: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (target, tasks) = (self.target, self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().expect("lock").push(conn);
            }
        });
        self.tasks.lock().expect("lock").push(accept);
    }

    fn cut(&self) {
        for task in self.tasks.lock().expect("lock").drain(..) {
            task.abort();
        }
    }

    async fn restore(&self) {
        let listener = TcpListener::bind(self.addr).await.expect("rebind");
        self.serve(listener);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgresql_is_unreachable_requests_answer_503_at_once_and_recover_by_themselves() {
    if crate::helpers::skip_postgres_s3() {
        return;
    }
    let env = BackendEnv::new(Backend::PostgresS3).await;
    let real = url::Url::parse(env.database_url.as_deref().expect("postgres")).expect("url");
    let target = format!(
        "{}:{}",
        real.host_str().expect("host"),
        real.port().unwrap_or(5432)
    );
    let target = tokio::net::lookup_host(target)
        .await
        .expect("resolve")
        .next()
        .expect("address");
    let proxy = Proxy::start(target).await;
    let mut proxied = real.clone();
    proxied.set_port(Some(proxy.addr.port())).expect("port");
    proxied
        .set_host(Some(&proxy.addr.ip().to_string()))
        .expect("host");
    let app = TestApp::spawn_on(&env, |config| {
        config.database_url = Some(proxied.to_string().into());
        config.db_acquire_timeout_secs = 2;
    })
    .await;
    let host = app.register().await;
    let session_id = app.create_session(&host).await;
    let path = format!("/sessions/get?sessionId={session_id}");
    assert_eq!(app.get(&path).await.status(), StatusCode::OK);
    let gallery = format!("/pictures/session?sessionId={session_id}");
    assert_eq!(app.get(&gallery).await.status(), StatusCode::OK);

    proxy.cut();
    // The page just rendered is in the gallery cache, but with the live-update connection gone
    // this replica could miss other replicas' changes: it must stop serving it at once, not
    // once the listener's reconnect attempt times out.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.get(&gallery).await.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "no cached gallery once the listener lost its connection"
    );
    let timed = || async {
        let started = Instant::now();
        let response = app.get(&path).await;
        (response, started.elapsed())
    };
    let (first, waited) = timed().await;
    assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(waited < Duration::from_secs(4), "no hang: {waited:?}");
    for _ in 0..5 {
        let (response, took) = timed().await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().get("retry-after").is_some());
        assert!(took < Duration::from_millis(300), "fails fast: {took:?}");
    }
    let started = Instant::now();
    let ready = app.get("/readyz").await;
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_ne!(body(ready).await["checks"]["database"], "ok");

    proxy.restore().await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            app.get(&path).await.status() == StatusCode::OK
        })
        .await,
        "recovers without a restart"
    );
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
}
