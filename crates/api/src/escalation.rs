//! Escalations: `GET /api/v1/escalations?open=true`, `GET /api/v1/escalations/{id}`,
//! `POST /api/v1/escalations/{id}/ack`, `POST /api/v1/escalations/{id}/resolve`. (The signed
//! links `/ack/{token}` and `/resolve/{token}` answer HTML pages.)

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Time;

/// `GET /api/v1/escalations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EscalationList {
    pub escalations: Vec<Escalation>,
}

/// The paging of one alert group of a receiver through an escalation policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Escalation {
    pub id: String,
    pub receiver: String,
    pub group_key: String,
    pub group_labels: BTreeMap<String, String>,
    /// The escalation policy's id.
    pub policy: String,
    pub state: EscalationState,
    pub started_at: Time,
    /// While acknowledged.
    #[schema(required = true)]
    pub acknowledged_at: Option<Time>,
    #[schema(required = true)]
    pub acknowledged_by: Option<String>,
    #[schema(required = true)]
    pub resolved_at: Option<Time>,
    #[schema(required = true)]
    pub resolved_by: Option<String>,
    /// When the next page is due; `null` once nothing more is.
    #[schema(required = true)]
    pub next_page_at: Option<Time>,
    pub pages: Vec<Page>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EscalationState {
    Triggered,
    Acknowledged,
    Resolved,
}

/// The users one level paged, on one pass through the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Page {
    /// The policy's level, from 0.
    pub level: u64,
    /// The pass through the policy, from 0 (`repeat` passes again).
    pub pass: u32,
    /// User ids.
    pub users: Vec<String>,
    pub at: Time,
}

/// The body of `…/ack` and `…/resolve` (optional): who acts; the token's name when absent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct Responder {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}
