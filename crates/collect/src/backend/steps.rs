//! From an SLO's SLI queries to good/total counts per step.
//!
//! SLI queries count over Sloth's `{{.window}}` placeholder, set to the step `s`: a range
//! query's value at `t` counts `(t − s, t]`. A `rate()` query's value is per second, so the
//! step's count is that value times `s` in seconds; an `increase()` or `_over_time` query's value
//! is the count itself ([`headroom_metrics::windowed::scale`]). OpenSLO's counters and
//! per-interval counts are asked as `increase(sel[s])` and `sum_over_time(sel[s])`, and a
//! threshold metric as counts of its values in the step
//! ([`headroom_metrics::windowed`]), so a step counts what headroom would count natively.
//!
//! No data is not good data: a step whose total is absent (or NaN) yields no count at all.
//! The other query of a pair may be absent where the total is not; it then counts as zero,
//! because `sum(rate(x[5m]))` over no series returns nothing rather than 0 in Prometheus: a
//! good/total SLI with no good series had no good events, a bad/total SLI with no error series
//! (the usual case: a `code=~"5.."` series appears with the first error) had no bad ones.
//! A raw error ratio has no counts: each step with a ratio is one event, good by `1 − ratio`.

use std::collections::{BTreeMap, BTreeSet};

use headroom_core::{PromQuery, RatioQueries, Sli, Span, Timestamp};
use headroom_metrics::windowed::{Scale, query_over_window, scale, threshold_queries};

use super::RangeSeries;

/// The PromQL to ask for one step size; which ones depends on what the SLI names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepQueries {
    GoodTotal { good: String, total: String },
    BadTotal { bad: String, total: String },
    GoodBad { good: String, bad: String },
    ErrorRatio { error_ratio: String },
}

impl StepQueries {
    /// The queries in the order [`step_counts`] takes their results: `(first, second)`.
    pub fn queries(&self) -> (&str, Option<&str>) {
        match self {
            StepQueries::GoodTotal { good, total } => (good, Some(total)),
            StepQueries::BadTotal { bad, total } => (bad, Some(total)),
            StepQueries::GoodBad { good, bad } => (good, Some(bad)),
            StepQueries::ErrorRatio { error_ratio } => (error_ratio, None),
        }
    }
}

/// Good and total events in the step `(at − step, at]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepCount {
    pub at: Timestamp,
    pub good: f64,
    pub total: f64,
}

/// The queries for steps of `step`, or `None` for an SLI that is not queried from a backend.
pub fn step_queries(sli: &Sli, step: Span) -> Option<StepQueries> {
    let w = |q: &PromQuery| with_window(&q.0, step);
    Some(match sli {
        // Pushed to the events API or measured by headroom's own probes: nothing to query.
        Sli::Events | Sli::Probe { .. } => return None,
        Sli::Ratio { queries, form } => {
            let window = step.to_string();
            let w = |q: &PromQuery| query_over_window(q, *form, &window);
            match queries {
                RatioQueries::GoodTotal { good, total } => StepQueries::GoodTotal {
                    good: w(good),
                    total: w(total),
                },
                RatioQueries::BadTotal { bad, total } => StepQueries::BadTotal {
                    bad: w(bad),
                    total: w(total),
                },
                RatioQueries::GoodBad { good, bad } => StepQueries::GoodBad {
                    good: w(good),
                    bad: w(bad),
                },
            }
        }
        // The threshold is already in the good query (a bucket's `le`); it is good over total.
        Sli::Threshold { good, total, .. } => StepQueries::GoodTotal {
            good: w(good),
            total: w(total),
        },
        Sli::ThresholdMetric { query, good_when } => {
            let (good, total) = threshold_queries(query, *good_when);
            StepQueries::GoodTotal {
                good: w(&good),
                total: w(&total),
            }
        }
        Sli::RawErrorRatio { error_ratio } => StepQueries::ErrorRatio {
            error_ratio: w(error_ratio),
        },
    })
}

/// Replaces every `{{.window}}` (spaces inside the braces allowed, as Go templates do) with
/// `window` in Prometheus duration syntax.
pub fn with_window(query: &str, window: Span) -> String {
    let w = window.to_string();
    let mut out = String::with_capacity(query.len());
    let mut rest = query;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let inner = after.trim_start();
        let placeholder = inner
            .strip_prefix(".window")
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix("}}"));
        match placeholder {
            Some(tail) => {
                out.push_str(&w);
                rest = tail;
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Combines the range results of [`StepQueries::queries`] (`second` empty for an error ratio)
/// into counts per step, summing over all series returned.
pub fn step_counts(
    queries: &StepQueries,
    step: Span,
    first: &[RangeSeries],
    second: &[RangeSeries],
) -> Vec<StepCount> {
    grouped_step_counts(queries, step, first, second, &[])
        .into_values()
        .next()
        .unwrap_or_default()
}

/// As [`step_counts`], per value of the SLO's grouping labels: series are summed within a group
/// and the two queries' series are matched by group. The key holds the grouping labels a series
/// carries, sorted by name.
pub fn grouped_step_counts(
    queries: &StepQueries,
    step: Span,
    first: &[RangeSeries],
    second: &[RangeSeries],
    grouping: &[String],
) -> BTreeMap<Vec<(String, String)>, Vec<StepCount>> {
    // What turns each query's value into the step's count.
    let factor = |q: &str| match scale(q) {
        Scale::PerSecond => step.as_secs_f64(),
        Scale::PerWindow => 1.0,
    };
    let (first_query, second_query) = queries.queries();
    let (fa, fb) = (factor(first_query), second_query.map_or(1.0, factor));
    let a = sum_by_group(first, grouping);
    let b = sum_by_group(second, grouping);
    let empty = BTreeMap::new();
    let keys: BTreeSet<&Vec<(String, String)>> = a.keys().chain(b.keys()).collect();
    let mut out = BTreeMap::new();
    for key in keys {
        let a = a.get(key).unwrap_or(&empty);
        let b = b.get(key).unwrap_or(&empty);
        let counts: Vec<StepCount> = match queries {
            StepQueries::GoodTotal { .. } => b
                .iter()
                .map(|(&at, &total)| {
                    let total = (total * fb).max(0.0);
                    let good = a.get(&at).map_or(0.0, |g| g * fa);
                    StepCount {
                        at,
                        good: good.clamp(0.0, total),
                        total,
                    }
                })
                .collect(),
            StepQueries::BadTotal { .. } => b
                .iter()
                .map(|(&at, &total)| {
                    let total = (total * fb).max(0.0);
                    let bad = a.get(&at).map_or(0.0, |x| x * fa);
                    StepCount {
                        at,
                        good: (total - bad).clamp(0.0, total),
                        total,
                    }
                })
                .collect(),
            StepQueries::GoodBad { .. } => {
                let steps: BTreeSet<Timestamp> = a.keys().chain(b.keys()).copied().collect();
                steps
                    .into_iter()
                    .map(|at| {
                        let good = a.get(&at).map_or(0.0, |g| (g * fa).max(0.0));
                        let bad = b.get(&at).map_or(0.0, |x| (x * fb).max(0.0));
                        StepCount {
                            at,
                            good,
                            total: good + bad,
                        }
                    })
                    .collect()
            }
            StepQueries::ErrorRatio { .. } => a
                .iter()
                .map(|(&at, &ratio)| StepCount {
                    at,
                    good: 1.0 - ratio.clamp(0.0, 1.0),
                    total: 1.0,
                })
                .collect(),
        };
        if !counts.is_empty() {
            out.insert(key.clone(), counts);
        }
    }
    out
}

type Group = Vec<(String, String)>;

/// Per group, the sum of its series' values at each step; NaN and infinite values are no data.
fn sum_by_group(
    series: &[RangeSeries],
    grouping: &[String],
) -> BTreeMap<Group, BTreeMap<Timestamp, f64>> {
    let mut out: BTreeMap<Group, BTreeMap<Timestamp, f64>> = BTreeMap::new();
    for s in series {
        let key: Group = s
            .labels
            .iter()
            .filter(|(n, _)| grouping.contains(n))
            .cloned()
            .collect();
        let sums = out.entry(key).or_default();
        for &(at, v) in &s.points {
            if v.is_finite() {
                *sums.entry(at).or_insert(0.0) += v;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use headroom_core::{Bound, Comparison, QueryForm};

    fn q(s: &str) -> PromQuery {
        PromQuery(s.into())
    }

    fn series(labels: &[(&str, &str)], points: &[(i64, f64)]) -> RangeSeries {
        RangeSeries {
            labels: labels
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            points: points.iter().map(|&(t, v)| (Timestamp(t), v)).collect(),
        }
    }

    fn counts(c: &[StepCount]) -> Vec<(i64, f64, f64)> {
        c.iter().map(|s| (s.at.0, s.good, s.total)).collect()
    }

    #[test]
    fn window_placeholder_becomes_the_step() {
        assert_eq!(
            with_window(
                "sum(rate(x{code!~\"5..\"}[{{.window}}])) / {{ .window }} {{.other}}",
                Span::minutes(5)
            ),
            "sum(rate(x{code!~\"5..\"}[5m])) / 5m {{.other}}"
        );
        assert_eq!(with_window("{{", Span::MINUTE), "{{");
        let sli = Sli::Ratio {
            queries: RatioQueries::BadTotal {
                bad: q("sum(rate(err[{{.window}}]))"),
                total: q("sum(rate(all[{{.window}}]))"),
            },
            form: QueryForm::Windowed,
        };
        assert_eq!(
            step_queries(&sli, Span::minutes(90)),
            Some(StepQueries::BadTotal {
                bad: "sum(rate(err[1h30m]))".into(),
                total: "sum(rate(all[1h30m]))".into()
            })
        );
        assert_eq!(step_queries(&Sli::Events, Span::MINUTE), None);
        let threshold = Sli::Threshold {
            good: q("g[{{.window}}]"),
            total: q("t[{{.window}}]"),
            threshold: Some(0.3),
        };
        assert!(matches!(
            step_queries(&threshold, Span::MINUTE),
            Some(StepQueries::GoodTotal { good, .. }) if good == "g[1m]"
        ));
    }

    #[test]
    fn openslo_counters_and_thresholds_are_asked_as_counts_of_the_step() {
        let counter = Sli::Ratio {
            queries: RatioQueries::GoodTotal {
                good: q(r#"sum(http_requests{component="web",code=~"2xx|4xx"})"#),
                total: q(r#"sum(http_requests{component="web"})"#),
            },
            form: QueryForm::Counter,
        };
        assert_eq!(
            step_queries(&counter, Span::MINUTE),
            Some(StepQueries::GoodTotal {
                good: r#"sum(increase(http_requests{code=~"2xx|4xx",component="web"}[1m]))"#.into(),
                total: r#"sum(increase(http_requests{component="web"}[1m]))"#.into(),
            })
        );
        let per_interval = Sli::Ratio {
            queries: RatioQueries::BadTotal {
                bad: q("errors"),
                total: q("requests"),
            },
            form: QueryForm::PerInterval,
        };
        assert_eq!(
            step_queries(&per_interval, Span::minutes(5)),
            Some(StepQueries::BadTotal {
                bad: "sum_over_time(errors[5m])".into(),
                total: "sum_over_time(requests[5m])".into(),
            })
        );
        let threshold = Sli::ThresholdMetric {
            query: q("search_latency_ms"),
            good_when: Bound::new(Comparison::Lt, 500.0).unwrap(),
        };
        assert_eq!(
            step_queries(&threshold, Span::MINUTE),
            Some(StepQueries::GoodTotal {
                good: "sum(sum_over_time(((search_latency_ms) < bool 500)[1m:]))".into(),
                total: "sum(count_over_time((search_latency_ms)[1m:]))".into(),
            })
        );
    }

    #[test]
    fn counts_of_the_step_are_taken_as_they_are() {
        // An increase over the step is the step's count: not multiplied by its seconds, as a
        // rate is. Each query has its own scale.
        let qs = StepQueries::GoodTotal {
            good: "sum(increase(good[1m]))".into(),
            total: "sum(rate(all[1m]))".into(),
        };
        let good = [series(&[], &[(60_000, 45.0)])];
        let total = [series(&[], &[(60_000, 1.0)])];
        let got = step_counts(&qs, Span::MINUTE, &good, &total);
        assert_eq!(counts(&got), vec![(60_000, 45.0, 60.0)]);
    }

    #[test]
    fn good_total_counts_are_rates_times_the_step() {
        let qs = StepQueries::GoodTotal {
            good: String::new(),
            total: String::new(),
        };
        let good = [series(&[], &[(60_000, 1.5), (120_000, f64::NAN)])];
        let total = [series(
            &[],
            &[
                (60_000, 2.0),
                (120_000, 1.0),
                (180_000, 0.5),
                (240_000, 1.0),
            ],
        )];
        let got = step_counts(&qs, Span::MINUTE, &good, &total);
        // 120s: good is NaN (no data) but the total is there: zero good. 240s: no good series.
        assert_eq!(
            counts(&got),
            vec![
                (60_000, 90.0, 120.0),
                (120_000, 0.0, 60.0),
                (180_000, 0.0, 30.0),
                (240_000, 0.0, 60.0)
            ]
        );
    }

    #[test]
    fn no_total_is_no_event() {
        let qs = StepQueries::GoodTotal {
            good: String::new(),
            total: String::new(),
        };
        let good = [series(&[], &[(60_000, 1.0), (120_000, 1.0)])];
        let total = [series(&[], &[(60_000, f64::NAN), (120_000, 2.0)])];
        let got = step_counts(&qs, Span::MINUTE, &good, &total);
        assert_eq!(counts(&got), vec![(120_000, 60.0, 120.0)]);
        assert!(step_counts(&qs, Span::MINUTE, &good, &[]).is_empty());
    }

    #[test]
    fn bad_total_derives_good_and_clamps() {
        let qs = StepQueries::BadTotal {
            bad: String::new(),
            total: String::new(),
        };
        // Two bad series are summed; at 180s bad exceeds total (scrape skew): good is 0, not < 0.
        let bad = [
            series(&[("code", "500")], &[(60_000, 0.25), (180_000, 3.0)]),
            series(&[("code", "503")], &[(60_000, 0.25)]),
        ];
        let total = [series(
            &[],
            &[(60_000, 2.0), (120_000, 1.0), (180_000, 1.0)],
        )];
        let got = step_counts(&qs, Span::MINUTE, &bad, &total);
        assert_eq!(
            counts(&got),
            vec![
                (60_000, 90.0, 120.0),
                (120_000, 60.0, 60.0),
                (180_000, 0.0, 60.0)
            ]
        );
    }

    #[test]
    fn good_bad_derives_total() {
        let qs = StepQueries::GoodBad {
            good: String::new(),
            bad: String::new(),
        };
        let good = [series(&[], &[(10_000, 1.0), (20_000, 2.0)])];
        let bad = [series(&[], &[(10_000, 0.5), (30_000, 0.1)])];
        let got = step_counts(&qs, Span(10_000), &good, &bad);
        assert_eq!(
            counts(&got),
            vec![
                (10_000, 10.0, 15.0),
                (20_000, 20.0, 20.0),
                (30_000, 0.0, 1.0)
            ]
        );
    }

    #[test]
    fn error_ratio_is_one_event_per_step() {
        let qs = StepQueries::ErrorRatio {
            error_ratio: String::new(),
        };
        let r = [series(
            &[],
            &[
                (60_000, 0.25),
                (120_000, f64::NAN),
                (180_000, 1.5),
                (240_000, -0.1),
            ],
        )];
        let got = step_counts(&qs, Span::MINUTE, &r, &[]);
        assert_eq!(
            counts(&got),
            vec![
                (60_000, 0.75, 1.0),
                (180_000, 0.0, 1.0),
                (240_000, 1.0, 1.0)
            ]
        );
    }

    #[test]
    fn groups_are_matched_by_their_labels() {
        let qs = StepQueries::GoodTotal {
            good: String::new(),
            total: String::new(),
        };
        let good = [
            series(&[("route", "/a"), ("code", "200")], &[(60_000, 1.0)]),
            series(&[("route", "/a"), ("code", "204")], &[(60_000, 0.5)]),
        ];
        let total = [
            series(&[("route", "/a")], &[(60_000, 2.0)]),
            series(&[("route", "/b")], &[(60_000, 1.0)]),
        ];
        let got = grouped_step_counts(&qs, Span::MINUTE, &good, &total, &["route".into()]);
        let a = &got[&vec![("route".to_string(), "/a".to_string())]];
        let b = &got[&vec![("route".to_string(), "/b".to_string())]];
        assert_eq!(counts(a), vec![(60_000, 90.0, 120.0)]);
        assert_eq!(counts(b), vec![(60_000, 0.0, 60.0)]);
        assert_eq!(got.len(), 2);
    }
}
