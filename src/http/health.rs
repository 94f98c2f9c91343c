//! Probes. Liveness is cheap; readiness checks the database and reports the object store.

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::SharedState;
use crate::app::health;

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process is alive")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready to serve; `status` is `degraded` while the shared object store is unreachable (uploads and galleries answer 503)"),
    (status = 503, description = "Database unreachable, or shutting down"),
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
        "status": if !ready { "unavailable" } else if readiness.degraded() { "degraded" } else { "ok" },
        "checks": {"database": readiness.database, "object_store": readiness.object_store},
    });
    (status, Json(body)).into_response()
}
