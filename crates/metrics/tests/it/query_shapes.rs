//! Each supported PromQL shape with its exact terms, and each rejected construct's message.

use headroom_core::{Bound, Comparison, PromQuery, QueryForm, RatioQueries, Sli};
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
    count_query("good", q, &[], QueryForm::Windowed).unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn grouped(q: &str, grouping: &[&str]) -> Result<CountExpr, headroom_metrics::Unsupported> {
    let g: Vec<String> = grouping.iter().map(|s| s.to_string()).collect();
    count_query("total", q, &g, QueryForm::Windowed)
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
        form: QueryForm::Windowed,
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
        form: QueryForm::Windowed,
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
        let e = count_query("bad", query, &[], QueryForm::Windowed).expect_err(query);
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

fn openslo(good: &str, total: &str, form: QueryForm) -> Sli {
    Sli::Ratio {
        queries: RatioQueries::GoodTotal {
            good: q(good),
            total: q(total),
        },
        form,
    }
}

#[test]
fn openslo_counters_read_bare_selectors_and_sums_of_them_as_increases() {
    let c = |s: &str| {
        count_query("good", s, &[], QueryForm::Counter)
            .unwrap()
            .terms
    };
    let web = |code: Option<&str>| {
        let mut m = vec![
            ("k8s_cluster", MatchOp::Equal, "prod"),
            ("component", MatchOp::Equal, "web"),
        ];
        if let Some(code) = code {
            m.push(("code", MatchOp::Regex, code));
        }
        inc("http_requests", &m)
    };
    // OpenSLO's own example, `counter: true`.
    let p = plan(
        &openslo(
            r#"sum(http_requests{k8s_cluster="prod",component="web",code=~"2xx|4xx"})"#,
            r#"sum(http_requests{k8s_cluster="prod",component="web"})"#,
            QueryForm::Counter,
        ),
        &[],
    )
    .unwrap()
    .unwrap();
    assert_eq!(p.good.terms, [web(Some("2xx|4xx"))]);
    assert_eq!(p.total.terms, [web(None)]);

    // A bare selector, `sum by`, `sum without`, and linear combinations of them.
    assert_eq!(
        c(r#"requests{code="200"}"#),
        [inc("requests", &[("code", MatchOp::Equal, "200")])]
    );
    assert_eq!(c("sum by (code) (requests)"), [inc("requests", &[])]);
    assert_eq!(
        c("sum without (instance) (requests)"),
        [inc("requests", &[])]
    );
    assert_eq!(
        c("sum(a) - 2 * (b)"),
        [inc("a", &[]), term(-2.0, sel("b", &[]), Reading::Increase)]
    );
    // A range function keeps its own meaning: Sloth's form still reads under `counter: true`.
    assert_eq!(c("sum(rate(x[{{.window}}]))"), [inc("x", &[])]);

    // Bad over total folds into good = total − bad as for any ratio.
    let p = plan(
        &Sli::Ratio {
            queries: RatioQueries::BadTotal {
                bad: q(r#"sum(requests{code=~"5.."})"#),
                total: q("sum(requests)"),
            },
            form: QueryForm::Counter,
        },
        &[],
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        p.good.terms,
        [
            inc("requests", &[]),
            term(
                -1.0,
                sel("requests", &[("code", MatchOp::Regex, "5..")]),
                Reading::Increase
            )
        ]
    );

    // Grouping labels must survive the sums, as in Sloth's form.
    let g = vec!["route".to_string()];
    assert!(count_query("total", "sum by (route) (requests)", &g, QueryForm::Counter).is_ok());
    let e = count_query("total", "sum by (code) (requests)", &g, QueryForm::Counter).unwrap_err();
    assert_eq!(
        e.construct,
        "grouping label `route` dropped by `sum by (code)`"
    );
}

#[test]
fn openslo_per_interval_counts_read_bare_selectors_as_sample_sums() {
    let p = plan(&openslo("Any", "sum(Any)", QueryForm::PerInterval), &[])
        .unwrap()
        .unwrap();
    assert_eq!(
        p.good.terms,
        [term(1.0, sel("Any", &[]), Reading::SampleSum)]
    );
    assert_eq!(
        p.total.terms,
        [term(1.0, sel("Any", &[]), Reading::SampleSum)]
    );
    // Mixed with `sum_over_time()` it is one scale; with `rate()` it is not.
    assert!(
        count_query(
            "good",
            "sum(x) + sum(sum_over_time(y[5m]))",
            &[],
            QueryForm::PerInterval
        )
        .is_ok()
    );
}

/// (form, query, construct named) for every construct refused in OpenSLO's forms.
const REJECTED_IN_OPENSLO_FORMS: &[(QueryForm, &str, &str)] = &[
    (
        QueryForm::Counter,
        "sum(x) + sum(rate(y[5m]))",
        "`rate()` mixed with a counter read without a range",
    ),
    (
        QueryForm::PerInterval,
        "sum(rate(y[5m])) - sum(x)",
        "`rate()` mixed with a per-interval count read without a range",
    ),
    (QueryForm::Counter, "avg(x)", "`avg` aggregation"),
    (QueryForm::Counter, "max by (code) (x)", "`max` aggregation"),
    (QueryForm::Counter, "sum(x offset 5m)", "`offset`"),
    (QueryForm::PerInterval, "x @ 1700000000", "`@` modifier"),
    (
        QueryForm::Counter,
        r#"sum({job="api"})"#,
        "selector without a metric name",
    ),
    (QueryForm::Counter, "sum(x) / sum(y)", "division"),
    (QueryForm::Counter, "sum(x) > 0", "comparison `>`"),
    (QueryForm::PerInterval, "sum(x) or vector(0)", "`or`"),
    (QueryForm::Counter, "sum(x) + 1", "number `1`"),
    (
        QueryForm::Counter,
        "sum(x) * sum(y)",
        "product of two vectors",
    ),
    (
        QueryForm::Counter,
        "max_over_time(x[5m])",
        "`max_over_time()`",
    ),
    (
        QueryForm::Counter,
        "x[5m]",
        "range selector outside a function",
    ),
    (
        QueryForm::Counter,
        "sum:trace.http.request.hits{*}.as_count()",
        "PromQL that does not parse",
    ),
    // Sloth's form still refuses a series without a range.
    (
        QueryForm::Windowed,
        "sum(x)",
        "instant selector without a range",
    ),
];

#[test]
fn constructs_refused_in_openslo_forms_are_named() {
    for (form, query, construct) in REJECTED_IN_OPENSLO_FORMS {
        let e = count_query("good", query, &[], *form).expect_err(query);
        assert!(
            e.construct.starts_with(construct),
            "{query} ({form:?}): construct {:?}, expected {construct:?}",
            e.construct
        );
        assert!(
            e.message
                .starts_with(&format!("{} is not supported natively", e.construct)),
            "{query}: {}",
            e.message
        );
    }
}

#[test]
fn openslo_threshold_metrics_read_one_selector_value_by_value() {
    let bound = Bound::new(Comparison::Lt, 500.0).unwrap();
    let metric = |s: &str| Sli::ThresholdMetric {
        query: q(s),
        good_when: bound,
    };
    let p = plan(&metric(r#"(search_latency_ms{job="shop"})"#), &[])
        .unwrap()
        .unwrap();
    let s = sel("search_latency_ms", &[("job", MatchOp::Equal, "shop")]);
    assert_eq!(
        p.good.terms,
        [term(1.0, s.clone(), Reading::SampleMeets(bound))]
    );
    assert_eq!(p.total.terms, [term(1.0, s, Reading::SampleCount)]);

    for (query, construct) in [
        // OpenSLO's own example SLI (slis.yaml, annotator-throughput).
        (
            r#"sum(min_over_time(kafka_consumergroup_lag{k8s_cluster="prod"}[2m]))"#,
            "`sum` of a threshold metric",
        ),
        ("min_over_time(lag[2m])", "`min_over_time()`"),
        ("max_over_time((lag)[5m:])", "`max_over_time()`"),
        ("(lag)[5m:]", "subquery"),
        ("lag / 1000", "operator `/`"),
        ("lag offset 5m", "`offset`"),
        ("vector(3)", "`vector()`"),
        ("3", "an expression that is not a series selector"),
    ] {
        let e = plan(&metric(query), &[]).expect_err(query);
        assert_eq!(e.query, "threshold", "{query}");
        assert!(
            e.construct.starts_with(construct),
            "{query}: construct {:?}, expected {construct:?}",
            e.construct
        );
        assert!(
            e.message.contains("external Prometheus-compatible backend"),
            "{}",
            e.message
        );
    }
}

#[test]
fn raw_ratios_read_without_a_range_are_one_event_per_sample() {
    let raw = |s: &str| Sli::RawErrorRatio { error_ratio: q(s) };
    let sum = term(1.0, sel("r", &[]), Reading::SampleSum);
    let n = term(1.0, sel("r", &[]), Reading::SampleCount);
    // A failure ratio: good = samples − their sum.
    let p = plan(&raw("r"), &[]).unwrap().unwrap();
    assert_eq!(
        p.good.terms,
        [n.clone(), term(-1.0, sel("r", &[]), Reading::SampleSum)]
    );
    assert_eq!(p.total.terms, std::slice::from_ref(&n));
    // A success ratio (OpenSLO `rawType: success`, written `1 - (query)`): good = their sum.
    let p = plan(&raw("1 - (r)"), &[]).unwrap().unwrap();
    assert_eq!(p.good.terms, [sum]);
    assert_eq!(p.total.terms, [n]);

    // `1 - (1 - (G / T))`: OpenSLO's wifi example with `rawType: success` is an error ratio G / T.
    let p = plan(
        &raw(
            "1 - (1 - (sum(sum_over_time(s[{{.window}}])) / sum(count_over_time(s[{{.window}}]))))",
        ),
        &[],
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        p.good.terms,
        [
            term(1.0, sel("s", &[]), Reading::SampleCount),
            term(-1.0, sel("s", &[]), Reading::SampleSum)
        ]
    );
    assert_eq!(
        p.total.terms,
        [term(1.0, sel("s", &[]), Reading::SampleCount)]
    );

    // A ratio of instant values across series needs a PromQL engine.
    let e = plan(&raw("sum(errors) / sum(requests)"), &[]).unwrap_err();
    assert_eq!(e.construct, "instant selector without a range");
    let e = plan(&raw("avg(r)"), &[]).unwrap_err();
    assert_eq!(e.construct, "`avg` aggregation");
}
