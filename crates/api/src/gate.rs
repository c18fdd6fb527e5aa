//! Release gates: a gate's decision with its reasons, the listed decisions, and the time-boxed
//! overrides that open a gate (with who created and who revoked them).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Time;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GateVerdict {
    Allow,
    Deny,
}

/// Which part of the release policy a reason comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GateRule {
    MinBudgetRemaining,
    PageAlert,
    #[serde(rename = "max_burn_rate_1h")]
    MaxBurnRate1h,
    NoData,
    ExemptLabel,
    Override,
    NoPolicy,
    EnvironmentNotGated,
}

/// One reason of a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GateReason {
    pub rule: GateRule,
    /// Whether it denies the release (false for warnings and rules an exemption waived).
    pub denies: bool,
    #[schema(required = true)]
    pub slo: Option<String>,
    /// The SLO group's labels, for a grouped SLO.
    #[schema(required = true)]
    pub group: Option<String>,
    /// Fraction of the budget left (negative when overspent); `null` with no data.
    #[schema(required = true)]
    pub budget_remaining: Option<f64>,
    /// The 1 h burn rate; `null` with no events in the hour.
    #[schema(required = true)]
    pub burn_rate: Option<f64>,
    /// The firing alert's name.
    #[schema(required = true)]
    pub alert: Option<String>,
    pub message: String,
}

/// A gate's decision (`GET /api/v1/gates/{service}`), as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GateDecision {
    pub decision: GateVerdict,
    pub reasons: Vec<GateReason>,
    pub decision_id: i64,
    pub service: String,
    pub environment: String,
    pub labels: Vec<String>,
    pub at: Time,
    /// Who asked: the token's name, or `anonymous`.
    pub actor: String,
    /// The override that allowed it.
    #[schema(required = true)]
    pub override_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GateDecisionList {
    pub decisions: Vec<GateDecision>,
}

/// An override to add (`POST /api/v1/gates/{service}/overrides`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewGateOverride {
    pub environment: String,
    /// Why the gate is opened against its policy.
    pub reason: String,
    /// RFC 3339; in the future, at most 7 days away.
    pub until: String,
    /// Who approved it; the token's name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
}

/// An override, in force over `[created, until)` unless revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GateOverride {
    pub id: i64,
    pub service: String,
    pub environment: String,
    pub reason: String,
    pub approver: String,
    /// The token that created it.
    pub created_by: String,
    pub created: Time,
    pub until: Time,
    #[schema(required = true)]
    pub revoked: Option<Time>,
    #[schema(required = true)]
    pub revoked_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GateOverrideList {
    pub overrides: Vec<GateOverride>,
}
