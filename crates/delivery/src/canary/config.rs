//! What a canary judgement is asked: the metrics with their rules and samples, and how the
//! scores are weighed. Names and defaults are Kayenta's (`analysisConfigurations.canary`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Which change of the canary counts against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Only a rise (latency, errors).
    Increase,
    /// Only a fall (throughput, successes).
    Decrease,
    #[default]
    Either,
}

/// What happens to missing samples (NaN; `null` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NanStrategy {
    /// Dropped: a side left without samples has no data.
    #[default]
    Remove,
    /// Counted as 0.
    Replace,
}

/// Whether outliers are dropped before the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutlierStrategy {
    #[default]
    Keep,
    /// Drop values beyond `factor` interquartile ranges from the quartiles (or beyond the 1st
    /// and 99th percentiles, where those lie further out), on each side separately.
    Remove,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outliers {
    #[serde(default)]
    pub strategy: OutlierStrategy,
    #[serde(default = "default_outlier_factor")]
    pub outlier_factor: f64,
}

fn default_outlier_factor() -> f64 {
    3.0
}

impl Default for Outliers {
    fn default() -> Self {
        Outliers {
            strategy: OutlierStrategy::Keep,
            outlier_factor: default_outlier_factor(),
        }
    }
}

/// How big a change must be to count, beside being significant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EffectMeasure {
    /// mean(canary) / mean(baseline).
    #[default]
    #[serde(rename = "meanRatio")]
    MeanRatio,
    /// The share of (canary, baseline) pairs in which the canary is the larger.
    #[serde(rename = "cles")]
    Cles,
}

impl EffectMeasure {
    /// The effect of no change: the default of every threshold.
    pub fn neutral(self) -> f64 {
        match self {
            EffectMeasure::MeanRatio => 1.0,
            EffectMeasure::Cles => 0.5,
        }
    }
}

/// Thresholds on the effect size: a metric is High only with an effect of at least
/// `allowed_increase`, Low only at most `allowed_decrease`; a critical metric fails the canary
/// only beyond `critical_increase` / `critical_decrease`. Unset, each is the measure's
/// neutral value (1 for `meanRatio`, 0.5 for `cles`).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectSize {
    #[serde(default)]
    pub measure: EffectMeasure,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_increase: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_decrease: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical_increase: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical_decrease: Option<f64>,
}

impl EffectSize {
    pub fn allowed_increase(&self) -> f64 {
        self.allowed_increase.unwrap_or(self.measure.neutral())
    }
    pub fn allowed_decrease(&self) -> f64 {
        self.allowed_decrease.unwrap_or(self.measure.neutral())
    }
    pub fn critical_increase(&self) -> f64 {
        self.critical_increase.unwrap_or(self.measure.neutral())
    }
    pub fn critical_decrease(&self) -> f64 {
        self.critical_decrease.unwrap_or(self.measure.neutral())
    }
}

/// One metric of the canary: its rules and the samples of both sides (NaN where a sample is
/// missing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryMetric {
    pub name: String,
    /// The groups it is scored in (at least one).
    pub groups: Vec<String>,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default)]
    pub nan_strategy: NanStrategy,
    #[serde(default)]
    pub outliers: Outliers,
    #[serde(default)]
    pub effect_size: EffectSize,
    /// A significant change beyond the critical thresholds, or no data, fails the whole canary.
    #[serde(default)]
    pub critical: bool,
    /// No data counts against the metric's group (NodataFailMetric) instead of leaving it out.
    #[serde(default)]
    pub must_have_data: bool,
    #[serde(with = "samples")]
    pub baseline: Vec<f64>,
    #[serde(with = "samples")]
    pub canary: Vec<f64>,
}

impl CanaryMetric {
    /// A metric with Kayenta's default rules.
    pub fn new(name: &str, group: &str, baseline: Vec<f64>, canary: Vec<f64>) -> CanaryMetric {
        CanaryMetric {
            name: name.to_string(),
            groups: vec![group.to_string()],
            direction: Direction::default(),
            nan_strategy: NanStrategy::default(),
            outliers: Outliers::default(),
            effect_size: EffectSize::default(),
            critical: false,
            must_have_data: false,
            baseline,
            canary,
        }
    }
}

/// Samples with NaN written as `null`, which JSON has instead.
mod samples {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let opts: Vec<Option<f64>> = v.iter().map(|x| (!x.is_nan()).then_some(*x)).collect();
        opts.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let opts = Vec::<Option<f64>>::deserialize(d)?;
        Ok(opts.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
    }
}

/// Summary score thresholds: Pass at or above `pass`, Marginal at or above `marginal`, else
/// Fail.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoreThresholds {
    pub pass: f64,
    pub marginal: f64,
}

impl Default for ScoreThresholds {
    fn default() -> Self {
        ScoreThresholds {
            pass: 90.0,
            marginal: 75.0,
        }
    }
}

/// How group scores make the summary score.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scoring {
    /// Percent of the summary score per group; groups not named share what is left equally.
    #[serde(default)]
    pub group_weights: BTreeMap<String, f64>,
    #[serde(default)]
    pub thresholds: ScoreThresholds,
}

/// Which side of the comparison a sample is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Baseline,
    Canary,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Baseline => "baseline",
            Side::Canary => "canary",
        })
    }
}

/// Input the judge refuses, naming what and where. Nothing is judged when any part is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CanaryError {
    #[error("no metrics to judge")]
    NoMetrics,
    #[error("metric {index}: the name is empty")]
    EmptyName { index: usize },
    #[error("metric {name:?} appears twice (metrics {first} and {second})")]
    DuplicateMetric {
        name: String,
        first: usize,
        second: usize,
    },
    #[error("metric {metric:?}: belongs to no group (name at least one in groups)")]
    NoGroup { metric: String },
    #[error("metric {metric:?}: group {position} has an empty name")]
    EmptyGroup { metric: String, position: usize },
    #[error(
        "metric {metric:?}: {side} sample {index} is {value}; samples are finite numbers or null (missing)"
    )]
    NotFinite {
        metric: String,
        side: Side,
        index: usize,
        value: f64,
    },
    #[error(
        "metric {metric:?}: outliers.outlierFactor is {value}; it must be a finite number above 0"
    )]
    OutlierFactor { metric: String, value: f64 },
    #[error("metric {metric:?}: effectSize.{field} is {value}; {expected}")]
    EffectSize {
        metric: String,
        field: &'static str,
        value: f64,
        expected: &'static str,
    },
    #[error("scoring: thresholds.{field} is {value}; it must be between 0 and 100")]
    Threshold { field: &'static str, value: f64 },
    #[error("scoring: thresholds.marginal ({marginal}) is above thresholds.pass ({pass})")]
    ThresholdOrder { marginal: f64, pass: f64 },
    #[error(
        "scoring: groupWeights.{group} is {value}; a weight is a finite number of percent, 0 or more"
    )]
    Weight { group: String, value: f64 },
    #[error("scoring: groupWeights names {group:?}, which no metric belongs to")]
    UnknownGroup { group: String },
    #[error("scoring: groupWeights add up to {sum}; they may not exceed 100")]
    WeightsAboveHundred { sum: f64 },
    #[error("scoring: groupWeights weigh every group and add up to {sum}; they must add up to 100")]
    WeightsShort { sum: f64 },
}

/// Every check the judge makes before judging anything.
pub(crate) fn validate(metrics: &[CanaryMetric], scoring: &Scoring) -> Result<(), CanaryError> {
    if metrics.is_empty() {
        return Err(CanaryError::NoMetrics);
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, m) in metrics.iter().enumerate() {
        if m.name.trim().is_empty() {
            return Err(CanaryError::EmptyName { index });
        }
        if let Some(&first) = seen.get(m.name.as_str()) {
            return Err(CanaryError::DuplicateMetric {
                name: m.name.clone(),
                first,
                second: index,
            });
        }
        seen.insert(&m.name, index);
        validate_metric(m)?;
    }
    validate_scoring(metrics, scoring)
}

fn validate_metric(m: &CanaryMetric) -> Result<(), CanaryError> {
    let metric = || m.name.clone();
    if m.groups.is_empty() {
        return Err(CanaryError::NoGroup { metric: metric() });
    }
    if let Some(position) = m.groups.iter().position(|g| g.trim().is_empty()) {
        return Err(CanaryError::EmptyGroup {
            metric: metric(),
            position,
        });
    }
    for (side, values) in [(Side::Baseline, &m.baseline), (Side::Canary, &m.canary)] {
        if let Some(index) = values.iter().position(|v| v.is_infinite()) {
            return Err(CanaryError::NotFinite {
                metric: metric(),
                side,
                index,
                value: values[index],
            });
        }
    }
    let factor = m.outliers.outlier_factor;
    if !(factor.is_finite() && factor > 0.0) {
        return Err(CanaryError::OutlierFactor {
            metric: metric(),
            value: factor,
        });
    }
    let e = &m.effect_size;
    let fields = [
        ("allowedIncrease", e.allowed_increase),
        ("allowedDecrease", e.allowed_decrease),
        ("criticalIncrease", e.critical_increase),
        ("criticalDecrease", e.critical_decrease),
    ];
    for (field, value) in fields {
        let Some(value) = value else { continue };
        let expected = match e.measure {
            EffectMeasure::MeanRatio if !value.is_finite() => "a mean ratio is a finite number",
            EffectMeasure::Cles if !(0.0..=1.0).contains(&value) => {
                "cles is a share of pairs, between 0 and 1"
            }
            _ => continue,
        };
        return Err(CanaryError::EffectSize {
            metric: metric(),
            field,
            value,
            expected,
        });
    }
    Ok(())
}

fn validate_scoring(metrics: &[CanaryMetric], scoring: &Scoring) -> Result<(), CanaryError> {
    let t = scoring.thresholds;
    for (field, value) in [("pass", t.pass), ("marginal", t.marginal)] {
        if !(0.0..=100.0).contains(&value) {
            return Err(CanaryError::Threshold { field, value });
        }
    }
    if t.marginal > t.pass {
        return Err(CanaryError::ThresholdOrder {
            marginal: t.marginal,
            pass: t.pass,
        });
    }
    let groups: std::collections::BTreeSet<&str> = metrics
        .iter()
        .flat_map(|m| m.groups.iter().map(String::as_str))
        .collect();
    let mut sum = 0.0;
    for (group, &value) in &scoring.group_weights {
        if !(value.is_finite() && value >= 0.0) {
            return Err(CanaryError::Weight {
                group: group.clone(),
                value,
            });
        }
        if !groups.contains(group.as_str()) {
            return Err(CanaryError::UnknownGroup {
                group: group.clone(),
            });
        }
        sum += value;
    }
    // Weights are written by people in percent: a rounding error in the sum is no mistake.
    const SLACK: f64 = 1e-9;
    if sum > 100.0 + SLACK {
        return Err(CanaryError::WeightsAboveHundred { sum });
    }
    if groups.len() == scoring.group_weights.len() && sum < 100.0 - SLACK {
        return Err(CanaryError::WeightsShort { sum });
    }
    Ok(())
}
