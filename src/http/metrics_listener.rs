//! The metrics listener (`METRICS_PORT`): `GET /metrics` in Prometheus text format, on its own
//! port so the public one never exposes it.

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{ApiError, SharedState};

/// Serves `GET /metrics` on `listener` until `stop` fires.
pub async fn serve(
    listener: TcpListener,
    state: SharedState,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
}

async fn scrape(State(state): State<SharedState>) -> Result<Response, ApiError> {
    let queue = i64::try_from(state.hasher.queue_len()).unwrap_or(i64::MAX);
    state.metrics.password_hash_queue.set(queue);
    let text = state.metrics.render()?;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}
