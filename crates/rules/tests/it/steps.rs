//! The steps of an SLO's `rules` (Sloth's SLO plugins) and its Sloth names, one at a time, on
//! what Sloth's examples do not cover.

use std::collections::BTreeMap;

use headroom_core::{PromQuery, RuleStep, RulesSpec, Slo, SlothSpec, Span};
use headroom_rules::{GenerateError, Options, Rule, RuleGroup, generate};
use headroom_spec::{Purpose, load_sources_for};

const SPEC: &str = r#"
version: "prometheus/v1"
service: "web-service"
labels:
  team: platform
slos:
  - name: "availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      name: WebServiceHighErrorRate
"#;

fn slo() -> Slo {
    let cfg = load_sources_for(&[("web.yml".into(), SPEC.into())], Purpose::Rules)
        .unwrap_or_else(|p| panic!("spec: {p:?}"));
    cfg.slos[0].clone()
}

fn with_steps(steps: Vec<RuleStep>) -> Vec<RuleGroup> {
    let mut s = slo();
    s.rules.steps = steps;
    generate(&[s], &Options::default()).expect("generates")
}

fn defaults_then(more: impl IntoIterator<Item = RuleStep>) -> Vec<RuleStep> {
    RuleStep::defaults().into_iter().chain(more).collect()
}

fn group<'a>(groups: &'a [RuleGroup], prefix: &str) -> &'a RuleGroup {
    groups
        .iter()
        .find(|g| g.name.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} group in {groups:#?}"))
}

fn record<'a>(g: &'a RuleGroup, name: &str) -> (&'a str, &'a BTreeMap<String, String>) {
    g.rules
        .iter()
        .find_map(|r| match r {
            Rule::Record {
                record,
                expr,
                labels,
            } if record == name => Some((expr.as_str(), labels)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {name} in {}", g.name))
}

fn keys(labels: &BTreeMap<String, String>) -> Vec<&str> {
    labels.keys().map(String::as_str).collect()
}

/// The names Sloth gives an SLO, not headroom's id, make the groups, labels and selectors.
#[test]
fn rules_carry_the_sloth_names_not_the_slo_id() {
    let mut s = slo();
    s.id = "checkout".into();
    s.rules = RulesSpec {
        id: "shop-checkout-0".into(),
        service: "shop".into(),
        slo: "checkout-0".into(),
        spec: SlothSpec::OpenSloV1Alpha,
        ..s.rules.clone()
    };
    let groups = generate(&[s], &Options::default()).expect("generates");
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "sloth-slo-sli-recordings-shop-checkout-0",
            "sloth-slo-meta-recordings-shop-checkout-0",
            "sloth-slo-alerts-shop-checkout-0"
        ]
    );
    let (expr, labels) = record(&groups[1], "slo:period_error_budget_remaining:ratio");
    assert_eq!(
        expr,
        "1 - slo:period_burn_rate:ratio{sloth_id=\"shop-checkout-0\", sloth_service=\"shop\", \
         sloth_slo=\"checkout-0\"}"
    );
    assert_eq!(
        (
            labels["sloth_id"].as_str(),
            labels["sloth_service"].as_str(),
            labels["sloth_slo"].as_str()
        ),
        ("shop-checkout-0", "shop", "checkout-0")
    );
    let (_, info) = record(&groups[1], "sloth_slo_info");
    assert_eq!(
        (info["sloth_spec"].as_str(), info["sloth_mode"].as_str()),
        ("openslo/v1alpha", "cli-gen-openslo")
    );
}

/// Sloth writes the raw query an SLI plugin (or OpenSLO's good/total) hands it, in parentheses.
#[test]
fn a_raw_error_ratio_replaces_the_sli_in_the_recordings() {
    let mut s = slo();
    s.rules.raw_error_ratio = Some(PromQuery("\n1 - avg(up[{{.window}}])\n".into()));
    let groups = generate(&[s], &Options::default()).expect("generates");
    let (expr, _) = record(&groups[0], "slo:sli_error:ratio_rate1h");
    assert_eq!(expr, "(\n1 - avg(up[1h])\n)");
}

/// `sloth.dev/core/sli_rules/v1` with `disableOptimized`: the period's ratio from the queries.
#[test]
fn unoptimized_recordings_compute_the_period_from_the_queries() {
    let groups = with_steps(vec![RuleStep::SliRecordings { optimized: false }]);
    assert_eq!(groups.len(), 1, "only the step's group is written");
    let (expr, labels) = record(&groups[0], "slo:sli_error:ratio_rate30d");
    assert_eq!(
        expr,
        "(sum(rate(http_requests_total{code=~\"5..\"}[30d])))\n/\n\
         (sum(rate(http_requests_total[30d])))\n"
    );
    assert_eq!(labels["sloth_window"], "30d");
}

/// `sloth.dev/contrib/denominator_corrected_rules/v1` unoptimized, and its need for events.
#[test]
fn denominator_correction_without_optimization_and_without_events() {
    let groups = with_steps(defaults_then([RuleStep::DenominatorCorrected {
        optimized: false,
    }]));
    let sli = group(&groups, "sloth-slo-sli-recordings-");
    let (expr, _) = record(sli, "slo:sli_error:ratio_rate30d");
    assert_eq!(
        expr,
        "(sum(rate(http_requests_total{code=~\"5..\"}[30d])))\n/\n\
         (sum(rate(http_requests_total[30d])))\n"
    );
    let meta = group(&groups, "sloth-slo-meta-recordings-");
    let (expr, labels) = record(meta, "slo:numerator_correction:ratio2h");
    assert_eq!(
        expr,
        "(sum(rate(http_requests_total[2h])))/(sum(rate(http_requests_total[30d])))"
    );
    assert!(!labels.contains_key("sloth_window"), "{labels:?}");

    let mut s = slo();
    s.rules.raw_error_ratio = Some(PromQuery("x[{{.window}}]".into()));
    s.rules.steps = vec![RuleStep::DenominatorCorrected { optimized: true }];
    assert!(matches!(
        generate(&[s], &Options::default()),
        Err(GenerateError::NeedsEvents { .. })
    ));
}

/// A plugin that runs before Sloth's defaults (priority below 0) and writes rules has them
/// replaced by the defaults, as in Sloth; intervals, which the defaults leave, stay.
#[test]
fn steps_before_the_defaults_are_overwritten_by_them() {
    let info = RuleStep::InfoLabels {
        metric: "sloth_slo_info".into(),
        labels: [("extra".to_string(), "yes".to_string())].into(),
    };
    let intervals = RuleStep::Intervals {
        sli: Span::minutes(1),
        meta: Span::minutes(2),
        alerts: Span::seconds(30),
    };
    let mut steps = vec![info.clone(), intervals];
    steps.extend(RuleStep::defaults());
    let groups = with_steps(steps);
    let intervals: Vec<Option<&str>> = groups.iter().map(|g| g.interval.as_deref()).collect();
    assert_eq!(intervals, [Some("1m"), Some("2m"), Some("30s")]);
    let (_, labels) = record(&groups[1], "sloth_slo_info");
    assert!(!labels.contains_key("extra"));

    let groups = with_steps(defaults_then([info]));
    let (_, labels) = record(&groups[1], "sloth_slo_info");
    assert_eq!(labels["extra"], "yes");
}

/// `sloth.dev/contrib/remove_labels/v1`: recordings keep Sloth's labels and the preserved ones;
/// the info recording and skipped ones keep all.
#[test]
fn removed_labels_leave_sloths_own() {
    let groups = with_steps(defaults_then([RuleStep::RemoveLabels {
        preserve: vec!["cmd".into()],
        skip: vec!["slo:objective:ratio".into()],
    }]));
    let opts = Options {
        extra_labels: [("cmd".to_string(), "gen".to_string())].into(),
        ..Options::default()
    };
    let mut s = slo();
    s.rules.steps = defaults_then([RuleStep::RemoveLabels {
        preserve: vec!["cmd".into()],
        skip: vec!["slo:objective:ratio".into()],
    }]);
    let with_extra = generate(&[s], &opts).expect("generates");
    let (_, labels) = record(&with_extra[0], "slo:sli_error:ratio_rate5m");
    assert_eq!(
        keys(labels),
        [
            "cmd",
            "sloth_id",
            "sloth_service",
            "sloth_slo",
            "sloth_window"
        ]
    );
    let (_, labels) = record(&with_extra[1], "slo:error_budget:ratio");
    assert_eq!(
        keys(labels),
        ["cmd", "sloth_id", "sloth_service", "sloth_slo"]
    );
    for kept in ["slo:objective:ratio", "sloth_slo_info"] {
        let (_, labels) = record(&groups[1], kept);
        assert_eq!(labels["team"], "platform", "{kept}");
    }
    let (_, labels) = record(&groups[1], "slo:time_period:days");
    assert!(!labels.contains_key("team"));
}

/// `sloth.dev/contrib/error_budget_exhausted_alert/v1`, as Sloth's own tests of it expect.
#[test]
fn budget_exhausted_alert_as_sloths_plugin_writes_it() {
    let mut s = slo();
    s.labels.clear();
    s.rules.steps = defaults_then([RuleStep::BudgetExhaustedAlert {
        name: "ErrorBudgetExhausted".into(),
        threshold: -0.1,
        for_: Span::minutes(5),
        selector: [("region".to_string(), "us-west-2".to_string())].into(),
        labels: [("severity".to_string(), "info".to_string())].into(),
        annotations: BTreeMap::new(),
    }]);
    let groups = generate(&[s], &Options::default()).expect("generates");
    let alerts = group(&groups, "sloth-slo-alerts-");
    let Some(Rule::Alert {
        alert,
        expr,
        for_,
        labels,
        annotations,
    }) = alerts.rules.last()
    else {
        panic!("{alerts:#?}");
    };
    assert_eq!(alert, "ErrorBudgetExhausted");
    assert_eq!(
        expr,
        "slo:period_error_budget_remaining:ratio{region=\"us-west-2\", \
         sloth_id=\"web-service-availability\", sloth_service=\"web-service\", \
         sloth_slo=\"availability\"} <= -0.1"
    );
    assert_eq!(for_.as_deref(), Some("5m"));
    assert_eq!(keys(labels), ["severity"]);
    assert!(annotations.is_empty());
}
