//! Classifying each metric (Kayenta's `MannWhitneyClassifier`), scoring the groups
//! (`WeightedSumScorer`) and the verdict (`ThresholdScoreClassifier`).

use serde::{Deserialize, Serialize};

use super::config::{
    CanaryError, CanaryMetric, Direction, EffectMeasure, NanStrategy, OutlierStrategy, Scoring,
    validate,
};
use super::stats::{self, MannWhitney};

/// Confidence level of the Mann-Whitney interval.
pub const CONFIDENCE: f64 = 0.98;
/// A shift counts only when the interval clears this share of the estimate's size.
pub const TOLERANCE: f64 = 0.25;
/// Share of metrics (percent) without data at which the canary scores 0.
pub const NODATA_THRESHOLD: f64 = 50.0;

/// A metric's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Classification {
    Pass,
    /// The canary is significantly above the baseline.
    High,
    /// The canary is significantly below the baseline.
    Low,
    /// A side had no samples; left out of its groups' scores.
    Nodata,
    /// A side had no samples and the metric must have data: counts as a failure in its groups.
    NodataFailMetric,
}

impl Classification {
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Pass => "Pass",
            Classification::High => "High",
            Classification::Low => "Low",
            Classification::Nodata => "Nodata",
            Classification::NodataFailMetric => "NodataFailMetric",
        }
    }
}

/// What one side's samples were after NaN and outlier handling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SampleSummary {
    /// Samples judged.
    pub count: usize,
    /// Samples that were NaN (removed or replaced by 0).
    pub missing: usize,
    /// Samples removed as outliers.
    pub outliers: usize,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    /// Sample standard deviation.
    pub std: Option<f64>,
}

/// One metric's judgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricResult {
    pub name: String,
    pub groups: Vec<String>,
    pub classification: Classification,
    pub reason: Option<String>,
    /// This metric fails the whole canary: critical and High/Low beyond the critical
    /// thresholds, or critical without data.
    pub critical: bool,
    /// mean(canary) / mean(baseline), when both means are known and not 0.
    pub deviation: Option<f64>,
    /// By the metric's measure; `None` when it cannot be computed (then the thresholds on it
    /// are not applied).
    pub effect_size: Option<f64>,
    /// The test, when it ran (not when a side is empty, both sides are identical or only one
    /// value occurs).
    pub test: Option<MannWhitney>,
    pub baseline: SampleSummary,
    pub canary: SampleSummary,
}

/// Pass, Marginal or Fail, by the summary score and the thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    Pass,
    Marginal,
    Fail,
}

/// A group's score: the percent of its scored metrics (Pass, High, Low, NodataFailMetric)
/// that passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupScore {
    pub name: String,
    pub score: f64,
    /// Every metric of the group had no data: it counts as 100 in the summary.
    pub no_data: bool,
    pub metrics: usize,
    pub pass: usize,
    pub high: usize,
    pub low: usize,
    pub nodata: usize,
    pub nodata_fail_metric: usize,
}

/// The whole judgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Judgement {
    /// In the order they were given.
    pub metrics: Vec<MetricResult>,
    /// In the order the groups first appear among the metrics.
    pub groups: Vec<GroupScore>,
    /// 0–100, rounded to two decimals.
    pub score: f64,
    pub verdict: Verdict,
    /// Why the score was forced to 0, when it was.
    pub reason: Option<String>,
}

/// Judges a canary: every metric classified, the groups scored, the verdict given. Refuses
/// (judging nothing) when any metric or the scoring is invalid.
pub fn judge(metrics: &[CanaryMetric], scoring: &Scoring) -> Result<Judgement, CanaryError> {
    validate(metrics, scoring)?;
    let results: Vec<MetricResult> = metrics
        .iter()
        .map(|m| classify(m, CONFIDENCE, TOLERANCE))
        .collect();
    Ok(score(results, scoring))
}

/// One side after NaN and outlier handling.
fn prepare(values: &[f64], metric: &CanaryMetric) -> (Vec<f64>, SampleSummary) {
    let missing = values.iter().filter(|v| v.is_nan()).count();
    let mut kept: Vec<f64> = match metric.nan_strategy {
        NanStrategy::Remove => values.iter().copied().filter(|v| !v.is_nan()).collect(),
        NanStrategy::Replace => values
            .iter()
            .map(|&v| if v.is_nan() { 0.0 } else { v })
            .collect(),
    };
    let mut outliers = 0;
    if metric.outliers.strategy == OutlierStrategy::Remove {
        let flagged = stats::outliers(&kept, metric.outliers.outlier_factor, true);
        outliers = flagged.iter().filter(|&&f| f).count();
        kept = kept
            .into_iter()
            .zip(flagged)
            .filter_map(|(v, out)| (!out).then_some(v))
            .collect();
    }
    let summary = SampleSummary {
        count: kept.len(),
        missing,
        outliers,
        min: kept.iter().copied().reduce(f64::min),
        max: kept.iter().copied().reduce(f64::max),
        mean: stats::mean(&kept),
        std: stats::std_dev(&kept),
    };
    (kept, summary)
}

/// Classifies one metric with the given confidence and tolerance (the judge's are
/// [`CONFIDENCE`] and [`TOLERANCE`]).
pub(crate) fn classify(metric: &CanaryMetric, confidence: f64, tolerance: f64) -> MetricResult {
    let (baseline, baseline_summary) = prepare(&metric.baseline, metric);
    let (canary, canary_summary) = prepare(&metric.canary, metric);
    let name = &metric.name;
    let effect = match metric.effect_size.measure {
        EffectMeasure::MeanRatio => stats::mean_ratio(&baseline, &canary),
        EffectMeasure::Cles => stats::cles(&baseline, &canary),
    };
    let mut result = MetricResult {
        name: name.clone(),
        groups: metric.groups.clone(),
        classification: Classification::Pass,
        reason: None,
        critical: false,
        deviation: stats::mean_ratio(&baseline, &canary),
        effect_size: effect,
        test: None,
        baseline: baseline_summary,
        canary: canary_summary,
    };

    if baseline.is_empty() || canary.is_empty() {
        // With NaN replaced there is no data only when none was sent: Kayenta passes that.
        if metric.nan_strategy == NanStrategy::Remove {
            result.reason = Some(format!("Missing data for {name}"));
            if metric.must_have_data && !metric.critical {
                result.classification = Classification::NodataFailMetric;
            } else {
                result.classification = Classification::Nodata;
                result.critical = metric.critical;
            }
        }
        return result;
    }
    let (mut b_sorted, mut c_sorted) = (baseline.clone(), canary.clone());
    b_sorted.sort_by(f64::total_cmp);
    c_sorted.sort_by(f64::total_cmp);
    if b_sorted == c_sorted {
        result.reason = Some("The Canary and Baseline data are identical".to_string());
        return result;
    }
    if b_sorted[0] == b_sorted[b_sorted.len() - 1]
        && c_sorted[0] == c_sorted[c_sorted.len() - 1]
        && b_sorted[0] == c_sorted[0]
    {
        return result;
    }

    let test =
        stats::mann_whitney(&canary, &baseline, confidence).expect("both sides have samples here");
    // The interval must clear a share of the estimate's own size on the same side of 0.
    let bound = tolerance * test.estimate.abs();
    let e = &metric.effect_size;
    let at_least = |threshold: f64| effect.is_none_or(|v| v >= threshold);
    let at_most = |threshold: f64| effect.is_none_or(|v| v <= threshold);
    let high = metric.direction != Direction::Decrease
        && test.lower > bound
        && at_least(e.allowed_increase());
    let low = metric.direction != Direction::Increase
        && test.upper < -bound
        && at_most(e.allowed_decrease());
    result.test = Some(test);
    if high {
        result.classification = Classification::High;
        if metric.critical && at_least(e.critical_increase()) {
            result.critical = true;
            result.reason = Some(format!(
                "The metric {name} was classified as High (Critical)"
            ));
        } else {
            result.reason = Some(format!("{name} was classified as High"));
        }
    } else if low {
        result.classification = Classification::Low;
        if metric.critical && at_most(e.critical_decrease()) {
            result.critical = true;
            result.reason = Some(format!(
                "The metric {name} was classified as Low (Critical)"
            ));
        } else {
            result.reason = Some(format!("{name} was classified as Low"));
        }
    }
    result
}

/// Group scores, the summary score and the verdict.
fn score(results: Vec<MetricResult>, scoring: &Scoring) -> Judgement {
    let mut groups: Vec<GroupScore> = Vec::new();
    for r in &results {
        for g in &r.groups {
            let i = match groups.iter().position(|s| &s.name == g) {
                Some(i) => i,
                None => {
                    groups.push(GroupScore {
                        name: g.clone(),
                        score: 0.0,
                        no_data: false,
                        metrics: 0,
                        pass: 0,
                        high: 0,
                        low: 0,
                        nodata: 0,
                        nodata_fail_metric: 0,
                    });
                    groups.len() - 1
                }
            };
            let s = &mut groups[i];
            s.metrics += 1;
            match r.classification {
                Classification::Pass => s.pass += 1,
                Classification::High => s.high += 1,
                Classification::Low => s.low += 1,
                Classification::Nodata => s.nodata += 1,
                Classification::NodataFailMetric => s.nodata_fail_metric += 1,
            }
        }
    }
    for s in &mut groups {
        let scored = s.pass + s.high + s.low + s.nodata_fail_metric;
        s.no_data = scored == 0;
        s.score = if s.no_data {
            0.0
        } else {
            s.pass as f64 / scored as f64 * 100.0
        };
    }

    let nodata = results
        .iter()
        .filter(|r| r.classification == Classification::Nodata)
        .count();
    let (score, reason) = if let Some(failed) = results.iter().find(|r| r.critical) {
        let why = failed.reason.as_deref().unwrap_or_default();
        (0.0, Some(format!("Canary Failed: {why}")))
    } else if nodata as f64 / results.len() as f64 * 100.0 >= NODATA_THRESHOLD {
        (
            0.0,
            Some(format!(
                "Canary Failed: {NODATA_THRESHOLD}% or more metrics returned NODATA"
            )),
        )
    } else {
        (summary_score(&groups, scoring), None)
    };
    let t = scoring.thresholds;
    let verdict = if score >= t.pass {
        Verdict::Pass
    } else if score >= t.marginal {
        Verdict::Marginal
    } else {
        Verdict::Fail
    };
    Judgement {
        metrics: results,
        groups,
        score,
        verdict,
        reason,
    }
}

/// The weighted sum of group scores (a group without data counts 100), rounded to two
/// decimals half up.
fn summary_score(groups: &[GroupScore], scoring: &Scoring) -> f64 {
    let weights = &scoring.group_weights;
    let unweighted = groups
        .iter()
        .filter(|g| !weights.contains_key(&g.name))
        .count();
    let share = if unweighted > 0 {
        (100.0 - weights.values().sum::<f64>()) / unweighted as f64
    } else {
        0.0
    };
    let mut total = 0.0;
    for g in groups {
        let effective = if g.no_data { 100.0 } else { g.score };
        let weight = weights.get(&g.name).copied().unwrap_or(share);
        total += effective * (weight / 100.0);
    }
    round_half_up_2(total)
}

/// Rounds to two decimals, half up, on the number's shortest decimal form (so 89.995 gives
/// 90.00 as a person reading it expects, where scaling by 100 in binary would give 89.99).
fn round_half_up_2(x: f64) -> f64 {
    let text = format!("{}", x.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut digits: Vec<u8> = int.bytes().map(|b| b - b'0').collect();
    let frac: Vec<u8> = frac.bytes().map(|b| b - b'0').collect();
    digits.extend((0..2).map(|i| frac.get(i).copied().unwrap_or(0)));
    if frac.get(2).is_some_and(|&d| d >= 5) {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, 1);
                break;
            }
            i -= 1;
            if digits[i] == 9 {
                digits[i] = 0;
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let hundredths = digits.iter().fold(0.0, |acc, &d| acc * 10.0 + d as f64);
    (hundredths / 100.0).copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_up_on_the_decimal_form() {
        assert_eq!(round_half_up_2(89.995), 90.0);
        assert_eq!(round_half_up_2(33.333_333_333_333_336), 33.33);
        assert_eq!(round_half_up_2(66.666_666_666_666_67), 66.67);
        assert_eq!(round_half_up_2(99.999), 100.0);
        assert_eq!(round_half_up_2(100.0), 100.0);
        assert_eq!(round_half_up_2(0.0), 0.0);
        assert_eq!(round_half_up_2(1.005), 1.01);
    }
}
