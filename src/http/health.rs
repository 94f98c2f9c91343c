//! Probes and metrics. Liveness is cheap; readiness checks the database and the object store.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{ApiError, SharedState};
use crate::app::health;

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process is alive")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready to serve"),
    (status = 503, description = "Database or object store unreachable, or shutting down"),
))]
pub async fn readyz(State(app): State<SharedState>) -> Response {
    let readiness = health::readiness(&app).await;
    if readiness.shutting_down {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "shutting down"})),
        )
            .into_response();
    }
    let ready = readiness.ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ok" } else { "unavailable" },
        "checks": {"database": readiness.database, "object_store": readiness.object_store},
    });
    (status, Json(body)).into_response()
}

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<SharedState>) -> Result<Response, ApiError> {
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
