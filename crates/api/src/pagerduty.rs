//! PagerDuty's Events API v2 on headroom: `POST /v2/enqueue`, in PagerDuty's own shapes (its
//! errors are not `{"error", "detail"}`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Time;

/// An event: trigger, acknowledge or resolve the alert of a `dedup_key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PagerDutyEvent {
    /// One of the config's `integrations` keys (32 characters): it authenticates the sender.
    pub routing_key: String,
    pub event_action: EventAction,
    /// Required to acknowledge or resolve; a trigger without one gets a generated key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
    /// Required for a trigger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<EventPayload>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<EventLink>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventAction {
    Trigger,
    Acknowledge,
    Resolve,
}

/// What a trigger says about the alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventPayload {
    /// At most 1024 characters.
    pub summary: String,
    pub source: String,
    pub severity: EventSeverity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Any JSON object; kept as the alert's `custom_details` annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub custom_details: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventSeverity {
    Critical,
    Error,
    Warning,
    Info,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventLink {
    pub href: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// What became of an event, in PagerDuty's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum EventOutcome {
    #[serde(rename = "success")]
    Success,
    #[serde(rename = "invalid event")]
    Invalid,
    #[serde(rename = "throttle event")]
    Throttled,
}

/// Every answer: 202 `success` with the `dedup_key`; 400 `invalid event` with `errors`;
/// 429 `throttle event`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventResponse {
    pub status: EventOutcome,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
    /// Every defect of a refused event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<String>>,
}
