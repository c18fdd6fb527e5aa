//! The body of every error answer (except PagerDuty's Events API, which answers as PagerDuty).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{"error", "detail"}`: a short code and the reason, naming what was wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// `bad_request`, `unauthorized`, `forbidden`, `not_found`, `conflict`, `unprocessable`,
    /// `payload_too_large`, `limit_reached`, `too_many_requests`, `internal`, `unavailable`, …
    /// (an open set: clients show `detail`).
    pub error: String,
    pub detail: String,
}
