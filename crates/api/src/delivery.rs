//! Deploys and changes: what a CI/CD hook delivery recorded, deploys reported by any CI, and
//! deploys as listed.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Time;

/// What a GitHub or GitLab delivery recorded, or why nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HookResult {
    /// Ids of the deploys recorded (new or updated by a retried delivery).
    pub deploys: Vec<i64>,
    /// Commits newly stored.
    pub commits: u64,
    /// Merged pull/merge requests stored.
    pub pull_requests: u64,
    /// Incidents opened, resolved or reopened by a GitHub issue labelled as an incident.
    #[serde(default)]
    pub incidents: Vec<i64>,
    /// Why nothing was kept, when nothing was.
    #[schema(required = true)]
    pub ignored: Option<String>,
}

/// A deploy reported by a CI job (`POST /api/v1/deployments`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeployReport {
    pub service: String,
    /// The service's production environment when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The deployed commit, full hex.
    pub sha: String,
    /// RFC 3339, unix seconds or a date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    /// Now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// `success`, `failure` or `cancelled`; `success` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Such as `hotfix` or `rollback`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// The commits it ships, full hex, when the sender knows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<String>>,
    /// The commits themselves, read from the repository (`headroom deploy record --git-range`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commits: Vec<ReportedCommit>,
    /// `api` (the default) or `cli`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The same key again updates the same deploy instead of adding one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReportedCommit {
    pub sha: String,
    #[serde(default)]
    pub parents: Vec<String>,
    /// RFC 3339.
    pub authored: String,
    /// RFC 3339.
    pub committed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeployStatus {
    Success,
    Failure,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeploySource {
    Github,
    Gitlab,
    Api,
    Cli,
}

/// A stored deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Deploy {
    pub id: i64,
    pub service: String,
    pub environment: String,
    #[schema(required = true)]
    pub version: Option<String>,
    pub sha: String,
    #[schema(required = true)]
    pub started: Option<Time>,
    pub finished: Time,
    pub status: DeployStatus,
    pub labels: Vec<String>,
    /// `null` when the sender did not list them.
    #[schema(required = true)]
    pub changes: Option<Vec<String>>,
    pub source: DeploySource,
    pub recorded_at: Time,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeployList {
    pub deploys: Vec<Deploy>,
}

/// A deploy as a marker on a series or an incident: when it finished, and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeployMarker {
    pub id: i64,
    /// When it finished.
    pub at: Time,
    pub service: String,
    pub environment: String,
    #[schema(required = true)]
    pub version: Option<String>,
    pub sha: String,
    pub status: DeployStatus,
}

/// A change marker (a PagerDuty change event) on a series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChangeMarker {
    pub id: i64,
    pub at: Time,
    pub summary: String,
    #[schema(required = true)]
    pub source: Option<String>,
}

/// `GET /api/v1/deployments/{id}`: the deploy and the incidents counted against it or naming
/// it, each with how it was attributed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeployDetail {
    #[serde(flatten)]
    pub deploy: Deploy,
    pub incidents: Vec<crate::dora::IncidentAttribution>,
}
