//! DORA's five software delivery metrics: `GET /api/v1/dora`.
//!
//! `null` wherever there is no data (a rate over no deploys, a median over no changes, and
//! their tiers), never 0. Tiers are the 2024 clusters of the DORA report named in
//! `tiers_source` and `tiers_year`; rework rate has none.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Time;

/// `GET /api/v1/dora`: the range's figures, each week's, and every incident the report
/// touches with how it was tied to a deploy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DoraReport {
    pub from: Time,
    pub to: Time,
    #[schema(required = true)]
    pub service: Option<String>,
    #[schema(required = true)]
    pub team: Option<String>,
    pub environment: String,
    #[serde(flatten)]
    pub metrics: DoraMetrics,
    /// Monday-aligned weeks (UTC), the first and last cut to the range.
    pub weeks: Vec<DoraWeek>,
    pub incidents: Vec<IncidentAttribution>,
    /// How long before an incident a deploy may have finished to be blamed for it by time.
    pub attribution_window_seconds: f64,
    pub tiers_source: String,
    pub tiers_year: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DoraWeek {
    pub from: Time,
    pub to: Time,
    #[serde(flatten)]
    pub metrics: DoraMetrics,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DoraMetrics {
    pub deployment_frequency: DeploymentFrequency,
    pub lead_time: LeadTime,
    pub change_failure_rate: ChangeFailureRate,
    pub recovery_time: RecoveryTime,
    pub rework_rate: ReworkRate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Elite,
    High,
    Medium,
    Low,
}

/// Successful deploys that finished in the range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentFrequency {
    pub deployments: u64,
    #[schema(required = true)]
    pub per_day: Option<f64>,
    /// Distinct UTC days with a deploy × 7 ÷ days in the range.
    #[schema(required = true)]
    pub deployment_days_per_week: Option<f64>,
    #[schema(required = true)]
    pub tier: Option<Tier>,
}

/// From a change's first commit to the deploy that shipped it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LeadTime {
    pub changes: u64,
    #[schema(required = true)]
    pub median_seconds: Option<f64>,
    #[schema(required = true)]
    pub p90_seconds: Option<f64>,
    #[schema(required = true)]
    pub tier: Option<Tier>,
    /// First commit → pull request opened.
    pub coding: Stage,
    /// Opened → merged.
    pub review: Stage,
    /// Merged → deployed.
    pub deploy: Stage,
    /// Deploys whose changes are unknown (a first deploy, a commit never received).
    pub unlinked_deployments: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Stage {
    pub changes: u64,
    #[schema(required = true)]
    pub median_seconds: Option<f64>,
}

/// Deploys with at least one incident attributed ÷ deploys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChangeFailureRate {
    pub deployments: u64,
    pub failed: u64,
    #[schema(required = true)]
    pub rate: Option<f64>,
    #[schema(required = true)]
    pub tier: Option<Tier>,
}

/// From a failed deploy's finish to its incidents' last resolution (or the next successful
/// deploy, for a deploy that itself failed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecoveryTime {
    pub failures: u64,
    /// Failures not recovered yet (not in the median).
    pub unrecovered: u64,
    #[schema(required = true)]
    pub median_seconds: Option<f64>,
    #[schema(required = true)]
    pub tier: Option<Tier>,
}

/// Unplanned deploys (labelled `hotfix` or `rollback`, or finished while an incident of the
/// service was open) ÷ deploys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReworkRate {
    pub deployments: u64,
    pub rework: u64,
    #[schema(required = true)]
    pub rate: Option<f64>,
}

/// An incident and how it was tied to a deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IncidentAttribution {
    pub incident: i64,
    pub started: Time,
    #[schema(required = true)]
    pub resolved: Option<Time>,
    pub attribution: Attribution,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Attribution {
    pub how: AttributionHow,
    /// The deploy it is counted against (`explicit`, `window`), or the one it named that no
    /// stored deploy is (`unresolved`).
    #[schema(required = true)]
    pub deploy: Option<i64>,
    /// The version it named, when it named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `explicit`: it named its deploy or version; `window`: the latest successful production
/// deploy of an affected service within the window before it started; `not_caused_by_change`:
/// so marked; `unresolved`: what it named matches no deploy; `none`: no deploy in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttributionHow {
    Explicit,
    Window,
    NotCausedByChange,
    Unresolved,
    None,
}
