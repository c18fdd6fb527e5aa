//! `POST /api/v1/users/{id}/calendar-key` and `POST /api/v1/schedules/{id}/calendar-key`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a calendar app subscribes to: the feed's URL, holding the feed's own key. Rotating the
/// key again ends this URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FeedSubscription {
    /// `user:<id>` or `schedule:<id>`.
    pub feed: String,
    pub url: String,
}
