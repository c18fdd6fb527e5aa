//! Automated actions: the configured actions (secrets hidden), their runs (the audit log), a
//! run by hand, and approvals.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Time;

/// `GET /api/v1/actions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActionList {
    pub actions: Vec<Action>,
}

/// A configured action, with its secrets hidden.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Action {
    pub name: String,
    /// `http`, `github_dispatch` or `gitlab_trigger`.
    pub kind: String,
    /// The request it makes: method and URL (credentials in it shown as `<secret>`).
    pub method: String,
    pub url: String,
    /// Header names; their values are never shown.
    pub headers: Vec<String>,
    /// What fires it besides a run by hand, one line each (`alert: severity="page"`).
    pub triggers: Vec<String>,
    pub approval_required: bool,
    pub dry_run: bool,
    pub timeout_seconds: f64,
    pub max_attempts: u32,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    AwaitingApproval,
    Queued,
    DryRun,
    Delivered,
    Failed,
    Rejected,
}

/// `GET /api/v1/actions/runs`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunList {
    pub runs: Vec<Run>,
}

/// One run of an action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Run {
    pub id: String,
    pub action: String,
    /// `gate_denied`, `canary_failed`, `alert`, `incident_declared`, `budget_below` or `manual`.
    pub trigger: String,
    pub state: RunState,
    /// `trigger:<kind>`, or the name of the token that ran it by hand.
    pub requested_by: String,
    pub created_at: Time,
    /// What the templates saw.
    #[schema(value_type = Object)]
    pub context: serde_json::Value,
    /// The request as rendered, secrets as `<secret>`; `null` when it could not be rendered.
    #[schema(required = true)]
    pub request: Option<RunRequest>,
    /// Who approved or rejected it.
    #[schema(required = true)]
    pub decided_by: Option<String>,
    #[schema(required = true)]
    pub decided_at: Option<Time>,
    /// Why it was rejected.
    #[schema(required = true)]
    pub reason: Option<String>,
    pub attempts: u64,
    #[schema(required = true)]
    pub last_error: Option<String>,
    #[schema(required = true)]
    pub finished_at: Option<Time>,
    /// The incident whose timeline records it.
    #[schema(required = true)]
    pub incident: Option<String>,
}

/// A rendered request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<Header>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// `POST /api/v1/actions/{name}/runs` (the body is optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunByHand {
    /// Free keys the templates see under `context`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub context: Option<serde_json::Map<String, serde_json::Value>>,
    /// Overrides the action's `dry_run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// `POST /api/v1/actions/runs/{id}/reject`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    pub reason: String,
}
