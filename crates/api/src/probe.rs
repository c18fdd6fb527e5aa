//! Synthetic probes, heartbeats and scrape targets: `GET /api/v1/probes`,
//! `GET /api/v1/probes/{name}/results`, `POST /api/v1/heartbeats/{name}`,
//! `GET /api/v1/targets`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Time;

/// `GET /api/v1/probes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProbeList {
    pub probes: Vec<Probe>,
}

/// A configured probe with its latest run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Probe {
    pub name: String,
    pub kind: ProbeKind,
    /// What it checks: a URL (without credentials), `host:port`, `A example.com`, or the
    /// heartbeat's ping path.
    pub target: String,
    pub interval_seconds: f64,
    pub timeout_seconds: f64,
    /// The conditions each run is judged by, in Gatus's syntax.
    pub conditions: Vec<String>,
    /// `null` before the first run.
    #[schema(required = true)]
    pub last: Option<ProbeRun>,
    pub recent: RecentRuns,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    Http,
    Tcp,
    Dns,
    Tls,
    Heartbeat,
}

/// The runs kept in memory and how many of them succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecentRuns {
    pub runs: u64,
    pub successes: u64,
}

/// One run of a probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProbeRun {
    pub started_at: Time,
    pub duration_seconds: f64,
    /// No error and every condition passed.
    pub success: bool,
    #[schema(required = true)]
    pub status_code: Option<u16>,
    /// The peer certificate's expiry (HTTPS and TLS probes).
    #[schema(required = true)]
    pub certificate_expiry: Option<Time>,
    #[schema(required = true)]
    pub ip: Option<String>,
    /// Why the probe could not even observe: refused, timeout, DNS failure, bad certificate…
    #[schema(required = true)]
    pub error: Option<String>,
    /// One per condition, in order.
    pub conditions: Vec<ConditionOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConditionOutcome {
    pub success: bool,
    /// The condition with the values it saw.
    pub detail: String,
}

/// `GET /api/v1/probes/{name}/results`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProbeResults {
    pub probe: String,
    pub results: Vec<ProbeRun>,
}

/// `POST /api/v1/heartbeats/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatReceived {
    pub heartbeat: String,
    pub received_at: Time,
}

/// `GET /api/v1/targets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TargetList {
    pub targets: Vec<ScrapeTarget>,
}

/// A scrape target with its health, as Prometheus reports them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScrapeTarget {
    pub job: String,
    pub url: String,
    pub labels: BTreeMap<String, String>,
    pub health: TargetHealth,
    #[schema(required = true)]
    pub last_error: Option<String>,
    #[schema(required = true)]
    pub last_scrape: Option<Time>,
    #[schema(required = true)]
    pub last_scrape_duration_seconds: Option<f64>,
    /// Samples the last scrape produced (0 when it failed).
    pub samples_scraped: u64,
    pub scrape_interval_seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TargetHealth {
    /// Not scraped yet.
    Unknown,
    Up,
    Down,
}
