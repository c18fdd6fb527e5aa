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

/// What a ratio SLI's queries are written as: what the value of a series read without a range
/// (`sum(x)`, `x{code="200"}`) means. Range functions (`rate(x[…])`, `increase`,
/// `sum_over_time`, `count_over_time`) count over their own range in every form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryForm {
    /// Sloth's form: every count is a range function over `{{.window}}`
    /// (`sum(rate(x[{{.window}}]))`); a series without a range has no meaning.
    #[default]
    Windowed,
    /// OpenSLO `counter: true`: a series' value is a running total of events, so the events of
    /// an interval are its increase (resets counted as `increase()` counts them).
    Counter,
    /// OpenSLO `counter: false`: each sample's value is the number of events in its own interval,
    /// the time since the series' previous sample; an interval's events are the sum of its
    /// samples (`sum_over_time()`).
    PerInterval,
}

impl QueryForm {
    pub fn is_windowed(&self) -> bool {
        *self == QueryForm::Windowed
    }
}

/// How a measurement is compared with a threshold (OpenSLO's objective `op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Lt,
    Lte,
    Gt,
    Gte,
}

impl Comparison {
    /// PromQL's operator for it.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Lt => "<",
            Comparison::Lte => "<=",
            Comparison::Gt => ">",
            Comparison::Gte => ">=",
        }
    }
}

/// What a good measurement meets: `measurement op value`, e.g. latency `lt 500`. The value is
/// finite, so bounds compare and hash by their bits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "BoundParts", into = "BoundParts")]
pub struct Bound {
    op: Comparison,
    value: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("threshold value {0} is not a finite number")]
pub struct BoundError(pub f64);

impl Bound {
    pub fn new(op: Comparison, value: f64) -> Result<Self, BoundError> {
        if value.is_finite() {
            Ok(Bound { op, value })
        } else {
            Err(BoundError(value))
        }
    }
    pub fn op(self) -> Comparison {
        self.op
    }
    pub fn value(self) -> f64 {
        self.value
    }
    /// Whether a measurement meets the bound; NaN meets none.
    pub fn met_by(self, measurement: f64) -> bool {
        match self.op {
            Comparison::Lt => measurement < self.value,
            Comparison::Lte => measurement <= self.value,
            Comparison::Gt => measurement > self.value,
            Comparison::Gte => measurement >= self.value,
        }
    }
}

impl Eq for Bound {}

impl std::hash::Hash for Bound {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.op.hash(h);
        self.value.to_bits().hash(h);
    }
}

#[derive(Serialize, Deserialize)]
struct BoundParts {
    op: Comparison,
    value: f64,
}

impl TryFrom<BoundParts> for Bound {
    type Error = BoundError;
    fn try_from(p: BoundParts) -> Result<Self, BoundError> {
        Bound::new(p.op, p.value)
    }
}

impl From<Bound> for BoundParts {
    fn from(b: Bound) -> Self {
        BoundParts {
            op: b.op,
            value: b.value,
        }
    }
}

/// How the SLI is measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Sli {
    /// Good and total counts pushed to headroom's events API.
    Events,
    /// A ratio of two counting queries.
    Ratio {
        queries: RatioQueries,
        #[serde(default, skip_serializing_if = "QueryForm::is_windowed")]
        form: QueryForm,
    },
    /// Events under a threshold, e.g. a latency histogram's `_bucket{le="0.3"}` against its `_count`.
    Threshold {
        good: PromQuery,
        total: PromQuery,
        threshold: Option<f64>,
    },
    /// Every value of one query is an event, good when it meets `good_when` (OpenSLO
    /// `thresholdMetric`, e.g. a latency gauge against `lt 500`).
    ThresholdMetric { query: PromQuery, good_when: Bound },
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
            Sli::ThresholdMetric { .. } => "threshold_metric",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_compare_as_their_op_says_and_hold_only_finite_values() {
        let lt = Bound::new(Comparison::Lt, 500.0).unwrap();
        assert!(lt.met_by(499.9) && !lt.met_by(500.0) && !lt.met_by(f64::NAN));
        let gte = Bound::new(Comparison::Gte, 0.5).unwrap();
        assert!(gte.met_by(0.5) && !gte.met_by(0.49));
        assert!(Bound::new(Comparison::Lte, 1.0).unwrap().met_by(1.0));
        assert!(!Bound::new(Comparison::Gt, 1.0).unwrap().met_by(1.0));
        assert_eq!(
            Bound::new(Comparison::Lt, f64::INFINITY),
            Err(BoundError(f64::INFINITY))
        );
        assert!(Bound::new(Comparison::Lt, f64::NAN).is_err());

        // What passed the edge reads back only as valid.
        let json = serde_json::to_string(&lt).unwrap();
        assert_eq!(json, r#"{"op":"lt","value":500.0}"#);
        assert_eq!(serde_json::from_str::<Bound>(&json).unwrap(), lt);
        assert!(serde_json::from_str::<Bound>(r#"{"op":"lt","value":1e999}"#).is_err());
    }

    #[test]
    fn a_ratio_in_sloth_form_serializes_as_before() {
        let sli = Sli::Ratio {
            queries: RatioQueries::GoodTotal {
                good: PromQuery("g".into()),
                total: PromQuery("t".into()),
            },
            form: QueryForm::Windowed,
        };
        let json = serde_json::to_value(&sli).unwrap();
        assert_eq!(json.get("form"), None);
        assert_eq!(serde_json::from_value::<Sli>(json).unwrap(), sli);
        let counter = Sli::Ratio {
            queries: RatioQueries::GoodTotal {
                good: PromQuery("sum(g)".into()),
                total: PromQuery("sum(t)".into()),
            },
            form: QueryForm::Counter,
        };
        let json = serde_json::to_value(&counter).unwrap();
        assert_eq!(json["form"], "counter");
        assert_eq!(serde_json::from_value::<Sli>(json).unwrap(), counter);
    }
}
