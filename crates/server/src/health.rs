//! `GET /healthz` (the process answers) and `GET /readyz` (storage open, first evaluation done).

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;

use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/healthz",
    summary = "Liveness",
    responses((status = 200, description = "alive", body = String, content_type = "text/plain"))
)]
pub async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(
    get,
    path = "/readyz",
    summary = "Readiness: storage open and first evaluation done",
    responses(
        (status = 200, description = "ready", body = String, content_type = "text/plain"),
        (status = 503, description = "starting", body = String, content_type = "text/plain")
    )
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    }
}
