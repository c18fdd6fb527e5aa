//! What an SLO is, once it has passed the edge: every value here is valid by construction.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::policy::AlertPolicy;
use crate::rules::RulesSpec;
use crate::time::Span;
use crate::window::Window;

pub use crate::ident::SloId;
pub use crate::query::PromQuery;

/// The target fraction of good events (or good slices), strictly between 0 and 1.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Objective(f64);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("objective {0} is out of range: it must be above 0 and below 100 percent")]
pub struct ObjectiveError(pub f64);

impl Objective {
    /// From a ratio in (0, 1).
    pub fn new(ratio: f64) -> Result<Self, ObjectiveError> {
        if ratio.is_finite() && ratio > 0.0 && ratio < 1.0 {
            Ok(Objective(ratio))
        } else {
            Err(ObjectiveError(ratio))
        }
    }
    /// From a percentage in (0, 100), as Sloth writes it.
    pub fn from_percent(p: f64) -> Result<Self, ObjectiveError> {
        Objective::new(p / 100.0).map_err(|_| ObjectiveError(p))
    }
    pub fn ratio(self) -> f64 {
        self.0
    }
    /// The allowed error ratio, `1 - objective`.
    pub fn error_budget_ratio(self) -> f64 {
        1.0 - self.0
    }
}

impl TryFrom<f64> for Objective {
    type Error = ObjectiveError;
    fn try_from(v: f64) -> Result<Self, ObjectiveError> {
        Objective::new(v)
    }
}

impl From<Objective> for f64 {
    fn from(o: Objective) -> f64 {
        o.0
    }
}

/// How the budget is counted (OpenSLO `budgetingMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum BudgetingMethod {
    /// Good events over all events.
    Occurrences,
    /// Good slices over all slices; a slice is good when its SLI is at least `target`.
    Timeslices { target: f64, slice: Span },
    /// The mean of every slice's own good/total ratio.
    RatioTimeslices { slice: Span },
}

impl BudgetingMethod {
    pub fn slice(&self) -> Option<Span> {
        match self {
            BudgetingMethod::Occurrences => None,
            BudgetingMethod::Timeslices { slice, .. }
            | BudgetingMethod::RatioTimeslices { slice } => Some(*slice),
        }
    }
}

/// Prometheus's label name syntax: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Which two of good, bad and total a ratio SLI names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatioQueries {
    GoodTotal { good: PromQuery, total: PromQuery },
    BadTotal { bad: PromQuery, total: PromQuery },
    GoodBad { good: PromQuery, bad: PromQuery },
}

/// How the SLI is measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Sli {
    /// Good and total counts pushed to headroom's events API.
    Events,
    /// A ratio of two counting queries.
    Ratio { queries: RatioQueries },
    /// Events under a threshold, e.g. a latency histogram's `_bucket{le="0.3"}` against its `_count`.
    Threshold {
        good: PromQuery,
        total: PromQuery,
        threshold: Option<f64>,
    },
    /// A query that yields the error ratio directly.
    RawErrorRatio { error_ratio: PromQuery },
    /// The results of one of headroom's own probes: each run is one event, good when every
    /// condition passed (and, with `latency`, when it answered within that time).
    Probe {
        probe: String,
        latency: Option<Span>,
    },
}

impl Sli {
    pub fn kind_name(&self) -> &'static str {
        match self {
            Sli::Events => "events",
            Sli::Ratio { .. } => "ratio",
            Sli::Threshold { .. } => "threshold",
            Sli::RawErrorRatio { .. } => "raw_error_ratio",
            Sli::Probe { .. } => "probe",
        }
    }
}

/// Where a definition came from, for messages that point at it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SourceRef {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl std::fmt::Display for SourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A service level objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    pub id: SloId,
    pub service: String,
    pub name: String,
    pub description: Option<String>,
    pub objective: Objective,
    pub window: Window,
    pub budgeting: BudgetingMethod,
    pub sli: Sli,
    /// Label names whose values each get their own budget (Pyrra's `grouping`). Empty: one budget.
    pub grouping: Vec<String>,
    pub alerting: AlertPolicy,
    /// Labels carried onto alerts and metrics (Sloth's `labels`).
    pub labels: BTreeMap<String, String>,
    /// The external Prometheus-compatible backend that answers this SLO's PromQL SLI; `None`
    /// runs the queries natively on remote-written and scraped samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// How `generate prometheus` names and writes it, as Sloth would.
    pub rules: RulesSpec,
    pub source: SourceRef,
}

impl Slo {
    /// The history the SLI store must keep for this SLO: its window, the longest alert window,
    /// and one slice or one calendar period beyond, so a window that starts mid-bucket is whole.
    pub fn retention(&self) -> Span {
        let longest_alert = self.alerting.longest_window().unwrap_or(Span(0));
        let base = self.window.max_length().max(longest_alert);
        base + Span::DAY
    }
}
