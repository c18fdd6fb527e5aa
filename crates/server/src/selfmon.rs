//! headroom measures its own API: every answered request is counted in the service's tally
//! (`headroom_service::selfmon`), which feeds the built-in SLOs.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// Middleware: counts API requests (not /metrics or health probes, which would measure the scraper).
pub async fn measure(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let counted = req.uri().path().starts_with("/api/");
    let started = Instant::now();
    let resp = next.run(req).await;
    if counted {
        state
            .requests
            .record(resp.status().as_u16(), started.elapsed().as_millis());
    }
    resp
}
