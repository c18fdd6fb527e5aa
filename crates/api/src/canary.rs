//! Canary judgement: `POST /api/v1/canary/judge`, also what `headroom canary judge --input`
//! reads and prints. Field names are Kayenta's camelCase ones (`mustHaveData`, `effectSize`,
//! `allowedIncrease`, `meanRatio`), as in its canary configs; labels are Kayenta's words
//! (`Pass`, `High`, `Low`, `Nodata`, `NodataFailMetric`; `Pass`, `Marginal`, `Fail`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What to judge: metrics with the samples of both sides, and how to score them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JudgeRequest {
    pub metrics: Vec<CanaryMetric>,
    /// Percent of the summary score per group; groups not named share what is left equally.
    /// With every group named, the weights add up to 100.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub group_weights: BTreeMap<String, f64>,
    /// Default: pass 90, marginal 75.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Thresholds>,
    /// The time range side queries run over; required when any side is a query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<QueryRange>,
}

/// Summary score thresholds (0–100): Pass at or above `pass`, Marginal at or above `marginal`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub pass: f64,
    pub marginal: f64,
}

/// A range query's span: `start` and `end` as RFC 3339 or unix seconds, `step` a Prometheus
/// duration (`30s`, `1m`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRange {
    pub start: String,
    pub end: String,
    pub step: String,
}

/// One metric and its rules; every rule has Kayenta's default when left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CanaryMetric {
    pub name: String,
    /// The groups it is scored in (at least one).
    pub groups: Vec<String>,
    /// Default `either`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Default `remove`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nan_strategy: Option<NanStrategy>,
    /// Default: kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outliers: Option<Outliers>,
    /// Default: `meanRatio`, every threshold 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect_size: Option<EffectSize>,
    /// A significant change beyond the critical thresholds, or no data, fails the canary.
    #[serde(default)]
    pub critical: bool,
    /// No data counts against the metric's groups (NodataFailMetric) rather than leaving it out.
    #[serde(default)]
    pub must_have_data: bool,
    pub baseline: Samples,
    pub canary: Samples,
}

/// One side's samples: given (numbers, `null` for a missing one), or a PromQL query run over
/// the request's `range` against a configured backend (`backend` named, else the default).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Samples {
    Values(Vec<Option<f64>>),
    Query(SampleQuery),
}

/// Read by its shape, so that a side that is neither says what a side may be (an untagged
/// enum would only say that nothing matched).
impl<'de> Deserialize<'de> for Samples {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(d)? {
            v @ serde_json::Value::Array(_) => {
                serde_json::from_value(v).map(Samples::Values).map_err(|e| {
                    D::Error::custom(format!("samples: {e} (numbers, null where missing)"))
                })
            }
            v @ serde_json::Value::Object(_) => serde_json::from_value(v)
                .map(Samples::Query)
                .map_err(|e| D::Error::custom(format!("query: {e}"))),
            other => Err(D::Error::custom(format!(
                "a side is an array of numbers (null where missing) or {{\"query\": …}}, not {other}"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleQuery {
    /// Must give one series (aggregate it: `sum(…)`, `avg(…)`); no series is no data.
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Increase,
    Decrease,
    Either,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NanStrategy {
    /// Missing samples are dropped.
    Remove,
    /// Missing samples count as 0.
    Replace,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Outliers {
    pub strategy: OutlierStrategy,
    /// Interquartile ranges beyond the quartiles (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlier_factor: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutlierStrategy {
    Keep,
    Remove,
}

/// Thresholds on the effect size; each defaults to no change (1 for `meanRatio`, 0.5 for
/// `cles`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EffectSize {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<EffectMeasure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_increase: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_decrease: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical_increase: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical_decrease: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum EffectMeasure {
    /// mean(canary) / mean(baseline).
    #[serde(rename = "meanRatio")]
    MeanRatio,
    /// The share of (canary, baseline) pairs with the canary larger.
    #[serde(rename = "cles")]
    Cles,
}

/// The judgement: the verdict, the summary and group scores, and each metric's label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Judgement {
    pub verdict: Verdict,
    /// 0–100, two decimals.
    pub score: f64,
    /// Why the score was forced to 0 (a critical metric, too many without data).
    #[schema(required = true)]
    pub reason: Option<String>,
    pub thresholds: Thresholds,
    /// In the order groups first appear among the metrics.
    pub groups: Vec<GroupScore>,
    /// In the order given.
    pub metrics: Vec<MetricResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Verdict {
    Pass,
    Marginal,
    Fail,
}

/// A group's score: the percent of its Pass among Pass, High, Low and NodataFailMetric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupScore {
    pub name: String,
    pub score: f64,
    /// Only Nodata metrics: the group counts as 100 in the summary.
    pub no_data: bool,
    pub metrics: u64,
    pub pass: u64,
    pub high: u64,
    pub low: u64,
    pub nodata: u64,
    pub nodata_fail_metric: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Classification {
    Pass,
    High,
    Low,
    Nodata,
    NodataFailMetric,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricResult {
    pub name: String,
    pub groups: Vec<String>,
    pub classification: Classification,
    #[schema(required = true)]
    pub reason: Option<String>,
    /// This metric alone fails the canary.
    pub critical: bool,
    /// mean(canary) / mean(baseline); `null` when a mean is 0 or a side has no data.
    #[schema(required = true)]
    pub deviation: Option<f64>,
    /// By the metric's measure; `null` when it cannot be computed.
    #[schema(required = true)]
    pub effect_size: Option<f64>,
    /// `null` when the test did not run (no data, identical sides, one value throughout).
    #[schema(required = true)]
    pub test: Option<MannWhitney>,
    pub baseline: SampleSummary,
    pub canary: SampleSummary,
}

/// The two-sided Mann-Whitney U test of canary against baseline, with the Hodges-Lehmann
/// estimate of canary − baseline and its confidence interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MannWhitney {
    /// U of the canary (pairs with the canary larger, ties one half).
    pub u: f64,
    /// Not rounded: its small digits are its meaning.
    pub p_value: f64,
    pub method: PValueMethod,
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
    pub confidence: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PValueMethod {
    /// The exact distribution of U (no ties, a sample of at most 8).
    Exact,
    /// The normal approximation with tie and continuity corrections.
    Asymptotic,
}

/// One side's samples as judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SampleSummary {
    pub count: u64,
    /// Missing samples (removed, or counted as 0).
    pub missing: u64,
    /// Samples dropped as outliers.
    pub outliers: u64,
    #[schema(required = true)]
    pub min: Option<f64>,
    #[schema(required = true)]
    pub max: Option<f64>,
    #[schema(required = true)]
    pub mean: Option<f64>,
    #[schema(required = true)]
    pub std: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_side_is_numbers_or_a_query_and_says_so() {
        let values: Samples = serde_json::from_str("[1.5, null, 2]").unwrap();
        assert_eq!(values, Samples::Values(vec![Some(1.5), None, Some(2.0)]));
        let query: Samples = serde_json::from_str(r#"{"query": "up", "backend": "b"}"#).unwrap();
        assert_eq!(
            query,
            Samples::Query(SampleQuery {
                query: "up".into(),
                backend: Some("b".into())
            })
        );
        let err = |text: &str| {
            serde_json::from_str::<Samples>(text)
                .unwrap_err()
                .to_string()
        };
        assert!(
            err("\"up\"").contains("a side is an array of numbers"),
            "{}",
            err("\"up\"")
        );
        assert!(
            err("[1, \"x\"]").contains("samples: invalid type: string"),
            "{}",
            err("[1, \"x\"]")
        );
        assert!(err(r#"{"qurey": "up"}"#).contains("query: unknown field `qurey`"));
        // Written back as it was read.
        assert_eq!(serde_json::to_string(&values).unwrap(), "[1.5,null,2.0]");
    }
}
