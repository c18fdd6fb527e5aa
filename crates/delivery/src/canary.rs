//! Canary judgement with the semantics of Kayenta's NetflixACAJudge.
//!
//! Per metric, the canary's samples are compared with the baseline's:
//! 1. NaN samples are removed (or, with `nanStrategy: replace`, counted as 0); with
//!    `outliers.strategy: remove`, values beyond `outlierFactor` (default 3) interquartile
//!    ranges from the quartiles, or beyond the 1st/99th percentiles where those lie further
//!    out, are dropped from each side (R-7 percentiles).
//! 2. A side left empty is `Nodata` (`NodataFailMetric` when the metric `mustHaveData` and is
//!    not `critical`); identical sides, or one value throughout, `Pass`.
//! 3. Otherwise a two-sided Mann-Whitney U test of canary against baseline, with the
//!    Hodges-Lehmann estimate of the shift (the median of all canary − baseline differences)
//!    and its 98% confidence interval. The canary is `High` when the interval's lower bound
//!    is above 0.25 × |estimate| and the effect size (`meanRatio`, or `cles`) is at least
//!    `allowedIncrease`, and `direction` is `increase` or `either`; `Low` mirrors it; else
//!    `Pass`. An effect size that cannot be computed (a mean of 0) does not hold a label back.
//! 4. A `critical` metric that is High/Low beyond `criticalIncrease`/`criticalDecrease`, or
//!    without data, fails the canary: the score is 0. So does a canary with 50% or more of its
//!    metrics `Nodata`.
//! 5. A group scores the percent of its Pass among Pass, High, Low and NodataFailMetric (a
//!    group of only Nodata counts as 100); the summary is the weighted sum of the group
//!    scores (`groupWeights` in percent; unnamed groups share the rest equally), rounded to two
//!    decimals. At least `pass` (default 90) is `Pass`, at least `marginal` (75) `Marginal`,
//!    else `Fail`.
//!
//! Which p-value, when: with no value occurring twice in the two samples together and at most
//! 8 values in the smaller sample, the exact distribution of U; otherwise the normal
//! approximation with tie-corrected variance and continuity correction. That is the choice of
//! `scipy.stats.mannwhitneyu`'s default method, and U and p agree with it. The interval uses
//! the same method: exactly, the order statistics of the pairwise differences that R's
//! `wilcox.test(conf.int = TRUE)` picks with `qwilcox`; approximately, those at which the
//! corrected normal statistic Kayenta (like R) solves for crosses the quantile. Kayenta finds
//! the estimate and the bounds with a root finder on that step function, so its values lie
//! within its solver's tolerance of these; here they are the exact differences. Kayenta also
//! adds tiny random noise when each side holds a single value, only to keep its solver away
//! from a zero variance; selecting order statistics needs no such noise, so the judgement is
//! deterministic.

mod config;
mod judge;
pub mod stats;

pub use config::{
    CanaryError, CanaryMetric, Direction, EffectMeasure, EffectSize, NanStrategy, OutlierStrategy,
    Outliers, ScoreThresholds, Scoring, Side,
};
pub use judge::{
    CONFIDENCE, Classification, GroupScore, Judgement, MetricResult, NODATA_THRESHOLD,
    SampleSummary, TOLERANCE, Verdict, judge,
};
pub use stats::{MannWhitney, PValueMethod};

#[cfg(test)]
mod tests;
