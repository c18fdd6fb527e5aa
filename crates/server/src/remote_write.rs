//! `POST /api/v1/write`: Prometheus remote-write 1.0, answered the way Prometheus expects:
//! 204 on success, 400 for a body that can never be accepted (Prometheus drops it), 5xx only when
//! a retry can succeed.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use headroom_ingest::remote_write::{Limits, decode};
use headroom_store::Scope;
use std::sync::atomic::Ordering;

use crate::auth::require;
use crate::error::ApiError;
use crate::signals::deliver;
use crate::state::AppState;

/// Largest decompressed request: Prometheus sends at most a few MiB (2,000 samples per request by
/// default); the limit is checked against the snappy header before any allocation.
pub const MAX_DECOMPRESSED: usize = 64 << 20;

pub async fn write(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    require(&state, &headers, Scope::Ingest).await?;
    let health = &state.signals.health;
    health.remote_write_requests.fetch_add(1, Ordering::Relaxed);
    let st = state.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let limits = Limits {
            max_compressed: crate::MAX_BODY_BYTES,
            max_decompressed: MAX_DECOMPRESSED,
        };
        let series = decode(&body, &limits).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let now = st.now();
        let batches = st.signals.route(
            series
                .iter()
                .map(|s| (s.labels.as_slice(), s.samples.as_slice())),
            now,
        );
        deliver(&st, batches).map_err(|e| ApiError::unavailable(e.to_string()))
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
