//! `POST /api/v1/write`: Prometheus remote-write 1.0, answered the way Prometheus expects:
//! 204 on success, 400 for a body that can never be accepted (Prometheus drops it), 5xx only when
//! a retry can succeed.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use headroom_api::ErrorBody;
use headroom_ingest::remote_write::{Limits, decode};
use std::sync::atomic::Ordering;

use crate::auth::{Auth, needs, scope};
use crate::error::ApiError;
use crate::limits::{MAX_BODY_BYTES, MAX_DECOMPRESSED};
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/api/v1/write",
    summary = "Prometheus remote_write 1.0 (snappy-compressed protobuf WriteRequest): samples of series some SLO selects are counted",
    description = needs::INGEST,
    security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/x-protobuf"),
    responses((status = 204, description = "stored"), (status = 400, description = "malformed body: Prometheus does not retry it", body = ErrorBody), (status = 413, description = "body too large", body = ErrorBody), (status = 503, description = "storage failed: retry", body = ErrorBody))
)]
pub async fn write(
    State(state): State<AppState>,
    _auth: Auth<scope::Ingest>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let health = &state.signals.health;
    health.remote_write_requests.fetch_add(1, Ordering::Relaxed);
    let slot = state
        .decode_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    let st = state.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let limits = Limits {
            max_compressed: MAX_BODY_BYTES,
            max_decompressed: MAX_DECOMPRESSED,
        };
        let series = decode(&body, &limits).map_err(|e| ApiError::bad_request(e.to_string()))?;
        st.take_samples(
            series
                .iter()
                .map(|s| (s.labels.as_slice(), s.samples.as_slice())),
        )
        .map_err(|e| ApiError::unavailable_logged("samples not stored", e))
    })
    .await
    .map_err(ApiError::internal)?;
    match outcome {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(e) => {
            health.remote_write_rejected.fetch_add(1, Ordering::Relaxed);
            Err(e)
        }
    }
}
