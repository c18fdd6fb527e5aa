//! Each supported PromQL shape with its exact terms, and each rejected construct's message.

use headroom_core::{PromQuery, RatioQueries, Sli};
use headroom_metrics::query::count_query;
use headroom_metrics::{CountExpr, LabelMatcher, MatchOp, Reading, Selector, Term, plan};

fn sel(metric: &str, matchers: &[(&str, MatchOp, &str)]) -> Selector {
    Selector {
        metric: metric.to_string(),
        matchers: matchers
            .iter()
            .map(|(n, op, v)| LabelMatcher::new(*n, *op, *v).unwrap())
            .collect(),
    }
}

fn term(coef: f64, selector: Selector, reading: Reading) -> Term {
    Term {
        coef,
        selector,
        reading,
    }
}

fn count(q: &str) -> CountExpr {
    count_query("good", q, &[]).unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn grouped(q: &str, grouping: &[&str]) -> Result<CountExpr, headroom_metrics::Unsupported> {
    let g: Vec<String> = grouping.iter().map(|s| s.to_string()).collect();
    count_query("total", q, &g)
}

fn inc(metric: &str, matchers: &[(&str, MatchOp, &str)]) -> Term {
    term(1.0, sel(metric, matchers), Reading::Increase)
}

#[test]
fn sum_of_rate_with_matchers() {
    let c = count(
        r#"sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{.window}}]))"#,
    );
    assert_eq!(
        c.terms,
        [inc(
            "http_request_duration_seconds_count",
            &[
                ("job", MatchOp::Equal, "myservice"),
                ("code", MatchOp::Regex, "(5..|429)")
            ]
        )]
    );
}

#[test]
fn bare_rate_and_increase_and_window_spellings() {
    assert_eq!(count("rate(x_total[5m])").terms, [inc("x_total", &[])]);
    assert_eq!(
        count("increase(x_total[{{ .window }}])").terms,
        [inc("x_total", &[])]
    );
    assert_eq!(
        count(r#"increase({__name__="x_total",a!="b"}[1h])"#).terms,
        [inc("x_total", &[("a", MatchOp::NotEqual, "b")])]
    );
}

#[test]
fn linear_combinations_and_coefficients() {
    let c = count(
        "(sum(rate(a_total[5m])) - sum(rate(b_total[5m]))) + 2 * sum(rate(c_total[5m])) + rate(d_total[5m]) / 4 - -rate(e_total[5m]) * 3",
    );
    let coefs: Vec<(String, f64)> = c
        .terms
        .iter()
        .map(|t| (t.selector.metric.clone(), t.coef))
        .collect();
    assert_eq!(
        coefs,
        [
            ("a_total".to_string(), 1.0),
            ("b_total".to_string(), -1.0),
            ("c_total".to_string(), 2.0),
            ("d_total".to_string(), 0.25),
            ("e_total".to_string(), 3.0),
        ]
    );
}

#[test]
fn gauge_readings() {
    let c = count("sum(sum_over_time(g[{{.window}}])) + sum(count_over_time(g[{{.window}}]))");
    assert_eq!(
        c.terms,
        [
            term(1.0, sel("g", &[]), Reading::SampleSum),
            term(1.0, sel("g", &[]), Reading::SampleCount)
        ]
    );
}

#[test]
fn grouping_labels_must_survive_every_aggregation() {
    assert!(grouped("sum by (route) (rate(x[5m]))", &["route"]).is_ok());
    assert!(grouped("sum(rate(x[5m])) by (route, code)", &["route"]).is_ok());
    assert!(grouped("sum without (instance) (rate(x[5m]))", &["route"]).is_ok());
    assert!(grouped("rate(x[5m])", &["route"]).is_ok());
    assert!(
        grouped(
            "sum by (route) (sum by (route, code) (rate(x[5m])))",
            &["route"]
        )
        .is_ok()
    );

    // A plain sum of a grouped SLO sums within each group, as Pyrra reads `grouping`.
    assert!(grouped("sum(rate(x[5m]))", &["route"]).is_ok());
    let e = grouped("sum by (code) (rate(x[5m]))", &["route"]).unwrap_err();
    assert_eq!(e.query, "total");
    assert_eq!(
        e.construct,
        "grouping label `route` dropped by `sum by (code)`"
    );
    let e = grouped("sum without (route) (rate(x[5m]))", &["route"]).unwrap_err();
    assert_eq!(
        e.construct,
        "grouping label `route` dropped by `sum without (route)`"
    );
    // One term of two losing it is enough to refuse.
    let e = grouped(
        "sum by (route) (rate(x[5m])) + sum by (code) (rate(y[5m]))",
        &["route"],
    )
    .unwrap_err();
    assert!(e.construct.starts_with("grouping label `route`"));
}

fn q(s: &str) -> PromQuery {
    PromQuery(s.to_string())
}

#[test]
fn ratio_forms_fold_into_good_and_total() {
    let (a, b) = ("sum(rate(a_total[5m]))", "sum(rate(b_total[5m]))");
    let bad_total = Sli::Ratio {
        queries: RatioQueries::BadTotal {
            bad: q(a),
            total: q(b),
        },
    };
    let p = plan(&bad_total, &[]).unwrap().unwrap();
    assert_eq!(p.total.terms, [inc("b_total", &[])]);
    assert_eq!(
        p.good.terms,
        [
            inc("b_total", &[]),
            term(-1.0, sel("a_total", &[]), Reading::Increase)
        ]
    );

    let good_bad = Sli::Ratio {
        queries: RatioQueries::GoodBad {
            good: q(a),
            bad: q(b),
        },
    };
    let p = plan(&good_bad, &[]).unwrap().unwrap();
    assert_eq!(p.good.terms, [inc("a_total", &[])]);
    assert_eq!(p.total.terms, [inc("a_total", &[]), inc("b_total", &[])]);

    let threshold = Sli::Threshold {
        good: q(r#"sum(rate(d_bucket{le="0.3"}[5m]))"#),
        total: q("sum(rate(d_count[5m]))"),
        threshold: Some(0.3),
    };
    let p = plan(&threshold, &[]).unwrap().unwrap();
    assert_eq!(
        p.good.terms,
        [inc("d_bucket", &[("le", MatchOp::Equal, "0.3")])]
    );
    assert_eq!(p.total.terms, [inc("d_count", &[])]);

    assert_eq!(plan(&Sli::Events, &[]).unwrap(), None);
}

#[test]
fn raw_error_ratios() {
    let raw = |s: &str| Sli::RawErrorRatio { error_ratio: q(s) };
    let p = plan(
        &raw("sum(rate(err_total[5m])) / sum(rate(req_total[5m]))"),
        &[],
    )
    .unwrap()
    .unwrap();
    assert_eq!(p.total.terms, [inc("req_total", &[])]);
    assert_eq!(
        p.good.terms,
        [
            inc("req_total", &[]),
            term(-1.0, sel("err_total", &[]), Reading::Increase)
        ]
    );

    let p = plan(
        &raw("1 - (sum(sum_over_time(s[{{.window}}])) / sum(count_over_time(s[{{.window}}])))"),
        &[],
    )
    .unwrap()
    .unwrap();
    assert_eq!(p.good.terms, [term(1.0, sel("s", &[]), Reading::SampleSum)]);
    assert_eq!(
        p.total.terms,
        [term(1.0, sel("s", &[]), Reading::SampleCount)]
    );

    let e = plan(&raw("sum(rate(err_total[5m]))"), &[]).unwrap_err();
    assert_eq!(e.query, "error_ratio");
    assert_eq!(
        e.construct,
        "an error ratio that is not `A / B` or `1 - (G / T)`"
    );
}

#[test]
fn matchers_are_anchored_and_absent_labels_are_empty() {
    let m = LabelMatcher::new("code", MatchOp::Regex, "5..").unwrap();
    assert!(m.matches(Some("503")));
    assert!(!m.matches(Some("5030")));
    assert!(!m.matches(Some("x503")));
    assert!(!m.matches(None));
    let m = LabelMatcher::new("code", MatchOp::NotRegex, "5..|429").unwrap();
    assert!(m.matches(None));
    assert!(!m.matches(Some("429")));
    let m = LabelMatcher::new("verb", MatchOp::NotEqual, "WATCH").unwrap();
    assert!(m.matches(None));
    assert!(LabelMatcher::new("a", MatchOp::Regex, "(").is_err());
}

/// (query, construct named) for every rejected construct.
const REJECTED: &[(&str, &str)] = &[
    ("sum_over_time((count(up))[{{.window}}:])", "subquery"),
    ("sum(rate(x[5m:1m]))", "subquery"),
    (
        r#"1 - histogram_share(0.2, sum by (vmrange) (rate(d_bucket[{{.window}}])))"#,
        "`histogram_share()`",
    ),
    ("vector(1)", "`vector()`"),
    ("sum(rate(x[5m])) > 0", "comparison `>`"),
    ("sum(rate(x[5m])) or on() vector(0)", "`or`"),
    ("sum(min_over_time(lag[2m]))", "`min_over_time()`"),
    ("sum(irate(x[5m]))", "`irate()`"),
    (
        r#"sum(http_requests{code=~"2xx"})"#,
        "instant selector without a range",
    ),
    ("avg(rate(x[5m]))", "`avg` aggregation"),
    ("max(rate(x[5m]))", "`max` aggregation"),
    (
        r#"sum(rate({job="api"}[5m]))"#,
        "selector without a metric name",
    ),
    ("sum(rate(x[5m] offset 1h))", "`offset`"),
    ("sum(rate(x[5m] @ 1700000000))", "`@` modifier"),
    ("sum(rate(x[5m])) / sum(rate(y[5m]))", "division"),
    (
        "sum(rate(x[5m])) * sum(rate(y[5m]))",
        "product of two vectors",
    ),
    (
        "sum(rate(x[5m])) - on(job) sum(rate(y[5m]))",
        "vector matching",
    ),
    ("sum(rate(x[5m])) + 1", "number `1`"),
    ("sum(rate(x[5m])) ^ 2", "operator `^`"),
    (
        "sum(rate(x[5m])) + sum(increase(y[5m]))",
        "`rate()` mixed with `increase()`",
    ),
    (
        "sum:trace.http.request.hits{*}.as_count()",
        "PromQL that does not parse",
    ),
];

#[test]
fn rejected_constructs_are_named_with_the_way_out() {
    for (query, construct) in REJECTED {
        let e = count_query("bad", query, &[]).expect_err(query);
        assert!(
            e.construct.starts_with(construct),
            "{query}: construct {:?}, expected {construct:?}",
            e.construct
        );
        assert_eq!(e.query, "bad");
        assert!(
            e.message
                .starts_with(&format!("{} is not supported natively", e.construct)),
            "{query}: {}",
            e.message
        );
        assert!(
            e.message.contains(
                "external Prometheus-compatible backend (declare it under `backends:`, then name it as the SLI's `backend:` or mark it `default: true`)"
            ),
            "{query}: {}",
            e.message
        );
    }
}
