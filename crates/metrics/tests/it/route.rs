//! The router against hand-computed increments and, with proptest, against a naive model of
//! Prometheus's `increase()` and of the good ≤ total carry.

use std::collections::BTreeMap;

use headroom_core::{
    Bound, Comparison, PromQuery, QueryForm, RatioQueries, Sli, SloId, Span, Timestamp,
};
use headroom_ingest::Event;
use headroom_ingest::remote_write::STALE_NAN_BITS;
use headroom_metrics::{Limits, NativePlan, RoutedSlo, Router, plan};
use proptest::prelude::*;

pub const T0: i64 = 1_700_000_040_000; // a minute boundary

pub fn at(secs: i64) -> Timestamp {
    Timestamp(T0 + secs * 1000)
}

pub fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    v.sort();
    v
}

fn q(s: &str) -> PromQuery {
    PromQuery(s.to_string())
}

pub fn ratio(good: &str, total: &str, grouping: &[&str]) -> NativePlan {
    let grouping: Vec<String> = grouping.iter().map(|s| s.to_string()).collect();
    let sli = Sli::Ratio {
        queries: RatioQueries::GoodTotal {
            good: q(good),
            total: q(total),
        },
        form: QueryForm::Windowed,
    };
    plan(&sli, &grouping).unwrap().unwrap()
}

fn ratio_bad(bad: &str, total: &str) -> NativePlan {
    let sli = Sli::Ratio {
        queries: RatioQueries::BadTotal {
            bad: q(bad),
            total: q(total),
        },
        form: QueryForm::Windowed,
    };
    plan(&sli, &[]).unwrap().unwrap()
}

pub fn slo(name: &str, grouping: &[&str], plan: NativePlan) -> RoutedSlo {
    RoutedSlo {
        slo: name.into(),
        grouping: grouping.iter().map(|s| s.to_string()).collect(),
        plan,
    }
}

/// The availability SLO most tests use: good = non-5xx requests, total = all requests.
pub fn availability() -> RoutedSlo {
    slo(
        "api-availability",
        &[],
        ratio(
            r#"sum(rate(http_requests_total{job="api",code!~"5.."}[{{.window}}]))"#,
            r#"sum(rate(http_requests_total{job="api"}[{{.window}}]))"#,
            &[],
        ),
    )
}

pub fn req(code: &str) -> Vec<(String, String)> {
    labels(&[
        ("__name__", "http_requests_total"),
        ("job", "api"),
        ("instance", "10.0.0.1:8080"),
        ("code", code),
    ])
}

pub fn samples(points: &[(i64, f64)]) -> Vec<(Timestamp, f64)> {
    points.iter().map(|&(s, v)| (at(s), v)).collect()
}

/// (minute offset from T0, good, total) of one SLO's drained events, ungrouped.
pub fn flat(out: &[(SloId, Vec<Event>)], slo: &str) -> Vec<(i64, f64, f64)> {
    out.iter()
        .filter(|(s, _)| s == slo)
        .flat_map(|(_, evs)| evs.iter())
        .map(|e| ((e.at.0 - T0) / 60_000, e.good, e.total))
        .collect()
}

#[test]
fn increases_per_minute_with_counter_reset() {
    let mut r = Router::new(vec![availability()], Limits::default());
    r.observe(
        &req("200"),
        &samples(&[(0, 100.0), (30, 110.0), (60, 130.0), (90, 5.0)]),
    );
    r.observe(
        &req("500"),
        &samples(&[(0, 7.0), (30, 7.0), (60, 9.0), (90, 9.0)]),
    );
    let out = r.drain(at(120)).increments;
    // Minute 0: +10 good. Minute 1: +20 then a reset to 5 (+5) good, +2 bad.
    assert_eq!(
        flat(&out, "api-availability"),
        [(0, 10.0, 10.0), (1, 25.0, 27.0)]
    );
    assert!(
        r.drain(at(121)).increments.is_empty(),
        "a drain empties what it returned"
    );
}

#[test]
fn staleness_markers_and_nan_are_skipped() {
    let mut r = Router::new(vec![availability()], Limits::default());
    let stale = f64::from_bits(STALE_NAN_BITS);
    r.observe(
        &req("200"),
        &samples(&[(0, 10.0), (15, stale), (30, f64::NAN), (45, 16.0)]),
    );
    // Across the gap the difference counts, as a range selector ignores the markers.
    assert_eq!(
        flat(&r.drain(at(60)).increments, "api-availability"),
        [(0, 6.0, 6.0)]
    );
}

#[test]
fn retried_and_out_of_order_samples_count_once() {
    let mut r = Router::new(vec![availability()], Limits::default());
    let batch = samples(&[(0, 10.0), (15, 12.0), (30, 20.0)]);
    r.observe(&req("200"), &batch);
    r.observe(&req("200"), &batch); // a retried remote_write request
    r.observe(&req("200"), &samples(&[(20, 15.0)])); // late, before the last one
    assert_eq!(
        flat(&r.drain(at(60)).increments, "api-availability"),
        [(0, 10.0, 10.0)]
    );
    let s = r.stats();
    assert_eq!(s.samples_out_of_order, 4);
    assert_eq!(s.samples_matched, 7);
    assert_eq!(s.series_tracked, 1);
}

#[test]
fn series_that_match_nothing_are_not_tracked() {
    let mut r = Router::new(vec![availability()], Limits::default());
    let other_job = labels(&[
        ("__name__", "http_requests_total"),
        ("job", "web"),
        ("code", "200"),
    ]);
    let other_metric = labels(&[("__name__", "go_goroutines"), ("job", "api")]);
    r.observe(&other_job, &samples(&[(0, 1.0), (10, 5.0)]));
    r.observe(&other_metric, &samples(&[(0, 1.0), (10, 5.0)]));
    assert!(r.drain(at(60)).increments.is_empty());
    let s = r.stats();
    assert_eq!((s.series_tracked, s.samples_matched), (0, 0));
}

#[test]
fn series_that_come_and_go() {
    let limits = Limits {
        forget_after: Span::minutes(10),
        ..Limits::default()
    };
    let mut r = Router::new(vec![availability()], limits);
    r.observe(&req("200"), &samples(&[(0, 10.0), (30, 14.0)]));
    assert_eq!(
        flat(&r.drain(at(60)).increments, "api-availability"),
        [(0, 4.0, 4.0)]
    );
    assert_eq!(r.stats().series_tracked, 1);
    // Silent for 10 minutes past its last sample: forgotten.
    assert!(r.drain(at(30 + 601)).increments.is_empty());
    assert_eq!(r.stats().series_tracked, 0);
    // Back (say its pod restarted with a higher count left over): the first sample is a new
    // baseline, not an increase from the forgotten one.
    r.observe(&req("200"), &samples(&[(900, 50.0), (930, 53.0)]));
    assert_eq!(
        flat(&r.drain(at(960)).increments, "api-availability"),
        [(15, 3.0, 3.0)]
    );
    assert_eq!(r.stats().series_tracked, 1);
}

#[test]
fn grouping_gives_each_group_its_events() {
    let plan = ratio(
        r#"sum by (route) (rate(http_requests_total{code!~"5.."}[{{.window}}]))"#,
        r#"sum(rate(http_requests_total[{{.window}}])) by (route, code)"#,
        &["route"],
    );
    let mut r = Router::new(vec![slo("per-route", &["route"], plan)], Limits::default());
    let series = |route: &str, code: &str| {
        labels(&[
            ("__name__", "http_requests_total"),
            ("route", route),
            ("code", code),
        ])
    };
    r.observe(&series("/a", "200"), &samples(&[(0, 0.0), (10, 4.0)]));
    r.observe(&series("/a", "500"), &samples(&[(0, 0.0), (10, 1.0)]));
    r.observe(&series("/b", "200"), &samples(&[(0, 0.0), (10, 9.0)]));
    // No route label: its group is the empty value, as `sum by` makes it.
    r.observe(
        &labels(&[("__name__", "http_requests_total"), ("code", "200")]),
        &samples(&[(0, 0.0), (10, 2.0)]),
    );
    let out = r.drain(at(60)).increments;
    assert_eq!(out.len(), 1);
    let mut got: Vec<(String, f64, f64)> = out[0]
        .1
        .iter()
        .map(|e| {
            assert_eq!(e.at, at(0));
            assert_eq!(e.labels.len(), 1);
            (e.labels["route"].clone(), e.good, e.total)
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        [
            (String::new(), 2.0, 2.0),
            ("/a".to_string(), 4.0, 5.0),
            ("/b".to_string(), 9.0, 9.0)
        ]
    );
}

#[test]
fn group_cap_refuses_new_groups() {
    let plan = ratio(
        "sum by (route) (rate(req_total[5m]))",
        "sum by (route) (rate(req_total[5m]))",
        &["route"],
    );
    let limits = Limits {
        max_groups: 2,
        ..Limits::default()
    };
    let mut r = Router::new(vec![slo("s", &["route"], plan)], limits);
    for route in ["a", "b", "c"] {
        r.observe(
            &labels(&[("__name__", "req_total"), ("route", route)]),
            &samples(&[(0, 0.0), (10, 1.0)]),
        );
    }
    let out = r.drain(at(60)).increments;
    assert_eq!(out[0].1.len(), 2);
    // good and total each tried to open the third group.
    assert_eq!(r.stats().groups_refused, 2);
}

#[test]
fn bad_total_plan_emits_total_minus_bad() {
    let sli = Sli::Ratio {
        queries: RatioQueries::BadTotal {
            bad: q(r#"sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))"#),
            total: q(r#"sum(rate(http_requests_total{job="api"}[{{.window}}]))"#),
        },
        form: QueryForm::Windowed,
    };
    let plan = plan(&sli, &[]).unwrap().unwrap();
    let mut r = Router::new(vec![slo("s", &[], plan)], Limits::default());
    r.observe(&req("200"), &samples(&[(0, 0.0), (20, 90.0)]));
    r.observe(&req("503"), &samples(&[(0, 0.0), (20, 10.0)]));
    assert_eq!(flat(&r.drain(at(60)).increments, "s"), [(0, 90.0, 100.0)]);
}

#[test]
fn raw_error_ratio_over_gauge_samples() {
    // raw-home-wifi.yml's shape: good = Σ satisfaction samples, total = their count.
    let sli = Sli::RawErrorRatio {
        error_ratio: q("1 - (
            sum(sum_over_time(unifipoller_client_satisfaction_ratio[{{.window}}]))
            /
            sum(count_over_time(unifipoller_client_satisfaction_ratio[{{.window}}]))
        )"),
    };
    let plan = plan(&sli, &[]).unwrap().unwrap();
    let mut r = Router::new(vec![slo("wifi", &[], plan)], Limits::default());
    let client = |mac: &str| {
        labels(&[
            ("__name__", "unifipoller_client_satisfaction_ratio"),
            ("mac", mac),
        ])
    };
    r.observe(&client("a"), &samples(&[(0, 1.0), (30, 0.5), (60, 0.75)]));
    r.observe(&client("b"), &samples(&[(0, 0.25), (30, f64::NAN)]));
    assert_eq!(
        flat(&r.drain(at(120)).increments, "wifi"),
        [(0, 1.75, 3.0), (1, 0.75, 1.0)]
    );
}

#[test]
fn openslo_counters_per_interval_counts_and_threshold_values() {
    let openslo = |good: &str, total: &str, form| {
        let sli = Sli::Ratio {
            queries: RatioQueries::GoodTotal {
                good: q(good),
                total: q(total),
            },
            form,
        };
        plan(&sli, &[]).unwrap().unwrap()
    };
    let threshold = plan(
        &Sli::ThresholdMetric {
            query: q("latency_ms"),
            good_when: Bound::new(Comparison::Lte, 300.0).unwrap(),
        },
        &[],
    )
    .unwrap()
    .unwrap();
    let mut r = Router::new(
        vec![
            slo(
                "counter",
                &[],
                openslo(r#"sum(hits{code="200"})"#, "sum(hits)", QueryForm::Counter),
            ),
            slo(
                "per-interval",
                &[],
                openslo(
                    r#"sum(hits{code="200"})"#,
                    "sum(hits)",
                    QueryForm::PerInterval,
                ),
            ),
            slo("latency", &[], threshold),
        ],
        Limits::default(),
    );
    let hits = |code: &str| labels(&[("__name__", "hits"), ("code", code)]);
    // The same series read both ways: 10 → 25 → 4 (a reset) → 4 (a retry) → 9.
    r.observe(
        &hits("200"),
        &samples(&[(0, 10.0), (20, 25.0), (40, 4.0), (40, 4.0), (70, 9.0)]),
    );
    r.observe(&hits("500"), &samples(&[(0, 1.0), (20, 3.0), (70, 2.0)]));
    r.observe(
        &labels(&[("__name__", "latency_ms")]),
        &samples(&[
            (0, 120.0),
            (20, 300.0),
            (40, 301.0),
            (70, f64::NAN),
            (80, 90.0),
        ]),
    );
    let out = r.drain(at(120)).increments;
    // A counter: the first sample is a baseline, a drop a reset counting the new value whole.
    // Minute 0: good +15 +4, total +19 +2; minute 1: good +5, total +5 and the 500s' reset to 2.
    assert_eq!(flat(&out, "counter"), [(0, 19.0, 21.0), (1, 5.0, 7.0)]);
    // Per-interval counts: every sample counts whole (the first too, a drop is just a smaller
    // interval), a retry once.
    assert_eq!(
        flat(&out, "per-interval"),
        [(0, 39.0, 43.0), (1, 9.0, 11.0)]
    );
    // A threshold metric: every value an event, good when ≤ 300; NaN is no value.
    assert_eq!(flat(&out, "latency"), [(0, 2.0, 3.0), (1, 1.0, 1.0)]);
}

#[test]
fn good_and_total_arriving_apart_add_up_exactly() {
    // Prometheus shards its remote_write queue by series: one scrape's good and total can arrive
    // in different requests, drained in between. Each drain emits what it has; the sums agree.
    let plan = ratio("sum(rate(good_total[5m]))", "sum(rate(all_total[5m]))", &[]);
    let mut r = Router::new(vec![slo("split", &[], plan)], Limits::default());
    let good = labels(&[("__name__", "good_total")]);
    let all = labels(&[("__name__", "all_total")]);
    r.observe(&good, &samples(&[(0, 0.0), (10, 8.0)]));
    r.observe(&all, &samples(&[(0, 0.0)]));
    assert_eq!(flat(&r.drain(at(15)).increments, "split"), [(0, 8.0, 0.0)]);
    r.observe(&all, &samples(&[(10, 9.0)]));
    assert_eq!(flat(&r.drain(at(20)).increments, "split"), [(0, 0.0, 9.0)]);
    r.observe(&all, &samples(&[(70, 12.0)]));
    r.observe(&good, &samples(&[(70, 11.0)]));
    assert_eq!(flat(&r.drain(at(80)).increments, "split"), [(1, 3.0, 3.0)]);
}

#[test]
fn a_bad_count_arriving_after_its_total_is_subtracted() {
    let plan = ratio_bad(
        r#"sum(rate(req_total{code="500"}[5m]))"#,
        "sum(rate(req_total[5m]))",
    );
    let mut r = Router::new(vec![slo("bt", &[], plan)], Limits::default());
    let ok = labels(&[("__name__", "req_total"), ("code", "200")]);
    let bad = labels(&[("__name__", "req_total"), ("code", "500")]);
    r.observe(&ok, &samples(&[(0, 0.0), (30, 95.0)]));
    r.observe(&bad, &samples(&[(0, 0.0)]));
    // The 500 series is late: its total counts as good for now.
    assert_eq!(flat(&r.drain(at(31)).increments, "bt"), [(0, 95.0, 95.0)]);
    r.observe(&bad, &samples(&[(30, 5.0)]));
    assert_eq!(flat(&r.drain(at(32)).increments, "bt"), [(0, 0.0, 5.0)]);
}

#[test]
fn replace_keeps_counter_state_of_series_that_still_match() {
    let mut r = Router::new(vec![availability()], Limits::default());
    r.observe(&req("200"), &samples(&[(0, 10.0)]));
    r.observe(&req("500"), &samples(&[(0, 3.0)]));
    // The new config only counts 200s, under a new SLO name.
    let plan = ratio(
        r#"sum(rate(http_requests_total{code="200"}[5m]))"#,
        r#"sum(rate(http_requests_total{code="200"}[5m]))"#,
        &[],
    );
    r.replace(vec![slo("ok-only", &[], plan)]);
    assert_eq!(r.stats().series_tracked, 1);
    r.observe(&req("200"), &samples(&[(30, 15.0)]));
    r.observe(&req("500"), &samples(&[(30, 4.0)]));
    // The 200 series kept its baseline of 10: +5, not a fresh baseline.
    assert_eq!(
        flat(&r.drain(at(60)).increments, "ok-only"),
        [(0, 5.0, 5.0)]
    );
}

#[test]
fn series_cap_refuses_new_series() {
    let limits = Limits {
        max_series: 2,
        ..Limits::default()
    };
    let mut r = Router::new(vec![availability()], limits);
    for code in ["200", "201", "202"] {
        r.observe(&req(code), &samples(&[(0, 0.0), (10, 1.0)]));
    }
    let s = r.stats();
    assert_eq!(
        (s.series_tracked, s.series_refused, s.samples_over_cap),
        (2, 1, 2)
    );
    assert_eq!(
        flat(&r.drain(at(60)).increments, "api-availability"),
        [(0, 2.0, 2.0)]
    );
}

/// Prometheus's formula, written independently: over the accepted samples (non-NaN, each
/// after the last accepted one), last − first plus every value that a reset dropped.
pub fn naive_increase(samples: &[(i64, f64)]) -> f64 {
    let mut accepted: Vec<(i64, f64)> = Vec::new();
    for &(t, v) in samples {
        if v.is_nan() || accepted.last().is_some_and(|&(lt, _)| t <= lt) {
            continue;
        }
        accepted.push((t, v));
    }
    let (Some(first), Some(last)) = (accepted.first(), accepted.last()) else {
        return 0.0;
    };
    let resets: f64 = accepted
        .windows(2)
        .filter(|w| w[1].1 < w[0].1)
        .map(|w| w[0].1)
        .sum();
    last.1 - first.1 + resets
}

pub fn sample_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => (0u32..1000).prop_map(f64::from),
        1 => Just(f64::from_bits(STALE_NAN_BITS)),
        1 => Just(f64::NAN),
    ]
}

proptest! {
    #[test]
    fn increase_matches_the_naive_model(
        points in prop::collection::vec((0i64..600, sample_value()), 0..60),
        cuts in prop::collection::vec(0usize..60, 0..6),
    ) {
        let plan = ratio("sum(increase(c_total[5m]))", "sum(increase(c_total[5m]))", &[]);
        let mut r = Router::new(vec![slo("c", &[], plan)], Limits::default());
        let series = labels(&[("__name__", "c_total")]);
        // The same samples in batches of any size, with drains in between.
        let mut cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= points.len()).collect();
        cuts.push(points.len());
        cuts.sort();
        let (mut from, mut total) = (0, 0.0);
        for c in cuts {
            r.observe(&series, &samples(&points[from..c]));
            from = c;
            for (_, evs) in r.drain(at(600)).increments {
                for e in evs {
                    prop_assert_eq!(e.good, e.total);
                    total += e.total;
                }
            }
        }
        prop_assert!((total - naive_increase(&points)).abs() < 1e-6);
    }

    #[test]
    fn good_and_total_add_up_exactly_in_any_arrival_order(
        ticks in prop::collection::vec((0u32..50, 0u32..50), 1..40),
        order in prop::collection::vec(any::<bool>(), 0..120),
        drains in prop::collection::vec(any::<bool>(), 0..120),
    ) {
        let plan = ratio("sum(rate(good_total[5m]))", "sum(rate(all_total[5m]))", &[]);
        let mut r = Router::new(vec![slo("s", &[], plan)], Limits::default());
        let good_series = labels(&[("__name__", "good_total")]);
        let all_series = labels(&[("__name__", "all_total")]);
        // Cumulative counters, one sample each per 20 s tick; good ≤ total in each tick.
        let (mut g, mut t) = (0.0, 0.0);
        let mut good_samples = vec![(0i64, 0.0)];
        let mut all_samples = vec![(0i64, 0.0)];
        let mut per_minute: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
        for (i, &(a, b)) in ticks.iter().enumerate() {
            let (tick_total, tick_good) = (f64::from(a.max(b)), f64::from(a.min(b)));
            g += tick_good;
            t += tick_total;
            let secs = 20 * (i as i64 + 1);
            good_samples.push((secs, g));
            all_samples.push((secs, t));
            let m = per_minute.entry(secs / 60).or_default();
            m.0 += tick_good;
            m.1 += tick_total;
        }
        let end = 20 * (ticks.len() as i64 + 1);

        // Deliver the two series in a random interleaving, draining at random points.
        let (mut gi, mut ai, mut k) = (0, 0, 0);
        let mut emitted: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
        let mut take = |out: Vec<(SloId, Vec<Event>)>| {
            for (_, evs) in out {
                for e in evs {
                    let m = emitted.entry((e.at.0 - T0) / 60_000).or_default();
                    m.0 += e.good;
                    m.1 += e.total;
                }
            }
        };
        while gi < good_samples.len() || ai < all_samples.len() {
            let take_good = ai == all_samples.len()
                || (gi < good_samples.len() && order.get(k).copied().unwrap_or(true));
            if take_good {
                r.observe(&good_series, &samples(&good_samples[gi..=gi]));
                gi += 1;
            } else {
                r.observe(&all_series, &samples(&all_samples[ai..=ai]));
                ai += 1;
            }
            if drains.get(k).copied().unwrap_or(false) {
                take(r.drain(at(end)).increments);
            }
            k += 1;
        }
        take(r.drain(at(end)).increments);
        // Once everything arrived, every minute holds exactly its good and total, whatever the
        // order and the drains in between.
        per_minute.retain(|_, v| *v != (0.0, 0.0));
        emitted.retain(|_, v| *v != (0.0, 0.0));
        prop_assert_eq!(emitted, per_minute);
    }
}
