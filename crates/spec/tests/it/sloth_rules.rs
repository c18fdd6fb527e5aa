//! What a Sloth spec says about the rules Sloth generates from it: each format's spelling, and
//! the SLO plugin chain in the order Sloth runs it.

use std::collections::BTreeMap;

use headroom_core::{RuleStep, Span};
use headroom_spec::{Config, Problem, ProblemKind, Purpose, load_sources_for};

fn load(text: &str) -> Result<Config, Vec<Problem>> {
    load_sources_for(&[("test.yaml".into(), text.into())], Purpose::Rules)
}

fn ok(text: &str) -> Config {
    load(text).unwrap_or_else(|p| panic!("should load:\n{}", lines(&p)))
}

fn lines(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("{p}\n")).collect()
}

/// A `prometheus/v1` spec of one SLO, with `group` and `slo` written at the spec's and the
/// SLO's level (each already indented for its place).
fn v1(group: &str, slo: &str) -> String {
    format!(
        "version: prometheus/v1\nservice: svc\n{group}slos:\n  - name: a\n    objective: 99.9\n{slo}    \
         sli:\n      events:\n        error_query: sum(rate(e[{{{{.window}}}}]))\n        \
         total_query: sum(rate(t[{{{{.window}}}}]))\n    alerting:\n      name: A\n"
    )
}

fn steps(text: &str) -> Vec<RuleStep> {
    ok(text).slos[0].rules.steps.clone()
}

const DEFAULTS: [RuleStep; 3] = [
    RuleStep::SliRecordings { optimized: true },
    RuleStep::MetaRecordings,
    RuleStep::Alerts,
];

fn info(label: &str) -> RuleStep {
    RuleStep::InfoLabels {
        metric: "sloth_slo_info".into(),
        labels: [("k".to_string(), label.to_string())].into(),
    }
}

fn info_plugin(priority: i64, label: &str) -> String {
    format!(
        "    - id: sloth.dev/contrib/info_labels/v1\n      priority: {priority}\n      config: \
         {{labels: {{k: {label}}}}}\n"
    )
}

#[test]
fn plugins_run_by_priority_around_the_defaults() {
    // The spec's and the SLO's plugins sorted together, stably; below 0 before the defaults.
    let group = format!(
        "slo_plugins:\n  chain:\n{}{}",
        info_plugin(10, "g10"),
        info_plugin(-5, "g-5")
    );
    let slo = format!(
        "    plugins:\n      chain:\n{}{}",
        info_plugin(0, "s0")
            .replace("    -", "        -")
            .replace("\n      ", "\n          "),
        info_plugin(-5, "s-5")
            .replace("    -", "        -")
            .replace("\n      ", "\n          "),
    );
    let mut want = vec![info("g-5"), info("s-5")];
    want.extend(DEFAULTS);
    want.extend([info("s0"), info("g10")]);
    assert_eq!(steps(&v1(&group, &slo)), want);
}

#[test]
fn override_previous_drops_the_defaults_and_at_an_slo_the_specs_chain() {
    let group = format!(
        "slo_plugins:\n  overridePrevious: true\n  chain:\n    - id: sloth.dev/core/sli_rules/v1\n      \
         config: {{disableOptimized: true}}\n{}",
        info_plugin(1, "g")
    );
    assert_eq!(
        steps(&v1(&group, "")),
        [RuleStep::SliRecordings { optimized: false }, info("g")]
    );
    let slo = "    plugins:\n      overridePrevious: true\n      chain:\n        - id: \
               sloth.dev/core/metadata_rules/v1\n";
    assert_eq!(
        steps(&v1(
            &format!("slo_plugins:\n  chain:\n{}", info_plugin(1, "g")),
            slo
        )),
        [RuleStep::MetaRecordings]
    );
}

#[test]
fn contrib_plugins_read_their_config() {
    let chain = |plugin: &str| format!("    plugins:\n      chain:\n        - id: {plugin}\n");
    let last = |text: String| steps(&text).pop().unwrap();
    assert_eq!(
        last(v1(
            "",
            &format!(
                "{}          config: {{interval: {{default: 5m, alert: 1m}}}}\n",
                chain("sloth.dev/contrib/rule_intervals/v1")
            )
        )),
        RuleStep::Intervals {
            sli: Span::minutes(5),
            meta: Span::minutes(5),
            alerts: Span::minutes(1)
        }
    );
    assert_eq!(
        last(v1(
            "",
            &format!(
                "{}          config: {{preserveLabels: [team], skipMetrics: [slo:objective:ratio]}}\n",
                chain("sloth.dev/contrib/remove_labels/v1")
            )
        )),
        RuleStep::RemoveLabels {
            preserve: vec!["team".into()],
            skip: vec!["slo:objective:ratio".into()]
        }
    );
    assert_eq!(
        last(v1(
            "",
            &chain("sloth.dev/contrib/error_budget_exhausted_alert/v1")
        )),
        RuleStep::BudgetExhaustedAlert {
            name: "ErrorBudgetExhausted".into(),
            threshold: 0.0,
            for_: Span::minutes(5),
            selector: BTreeMap::new(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }
    );
    // Plugins that only check or log change no rule.
    for id in [
        "sloth.dev/core/debug/v1",
        "sloth.dev/core/noop/v1",
        "sloth.dev/core/validate/v1",
        "sloth.dev/contrib/validate_victoria_metrics/v1",
    ] {
        assert_eq!(steps(&v1("", &chain(id))), DEFAULTS, "{id}");
    }
    // The ones with a required setting say so at the id.
    let problems = load(&v1("", &chain("sloth.dev/contrib/rule_intervals/v1"))).unwrap_err();
    assert_eq!(
        lines(&problems),
        "test.yaml:8:15: SLO plugin \"sloth.dev/contrib/rule_intervals/v1\" needs \
         config.interval.default\n"
    );
}

#[test]
fn an_unknown_slo_plugin_is_refused_by_id_as_not_supported() {
    let problems = load(&v1(
        "slo_plugins:\n  chain:\n    - id: example.com/slo/custom/v1\n",
        "",
    ))
    .unwrap_err();
    assert_eq!(problems.len(), 1, "{}", lines(&problems));
    assert_eq!(
        problems[0].to_string(),
        "test.yaml:5:11: Sloth SLO plugin \"example.com/slo/custom/v1\" is not supported: \
         headroom does not run Sloth's Go plugins and has no native version of this one; drop it \
         from the chain"
    );
    assert_eq!(problems[0].kind, ProblemKind::NotSupported);
}

#[test]
fn the_denominator_correction_needs_an_events_sli() {
    let text = "version: prometheus/v1\nservice: svc\nslo_plugins:\n  chain:\n    - id: \
                sloth.dev/contrib/denominator_corrected_rules/v1\nslos:\n  - name: a\n    \
                objective: 99.9\n    sli: {raw: {error_ratio_query: 'x[{{.window}}]'}}\n    \
                alerting: {name: A}\n";
    let problems = load(text).unwrap_err();
    assert_eq!(
        lines(&problems),
        "test.yaml:5:11: SLO plugin \"sloth.dev/contrib/denominator_corrected_rules/v1\" \
         corrects the error and total queries: the SLI must be events (error_query and \
         total_query)\n"
    );
    assert_eq!(problems[0].kind, ProblemKind::Invalid);
}

/// Sloth reads a format's own spelling only and drops the other silently; headroom drops it
/// too, so its rules stay Sloth's, and says so.
#[test]
fn the_other_formats_spelling_is_ignored_with_a_warning() {
    let crd = "apiVersion: sloth.slok.dev/v1\nkind: PrometheusServiceLevel\nmetadata: {name: x}\n\
               spec:\n  service: svc\n  slos:\n    - name: a\n      objective: 99.9\n      sli:\n        \
               events:\n          errorQuery: sum(rate(e[{{.window}}]))\n          totalQuery: \
               sum(rate(t[{{.window}}]))\n      alerting:\n        name: A\n        page_alert:\n          \
               labels: {severity: critical}\n        ticketAlert:\n          labels: {severity: \
               warning}\n";
    let c = ok(crd);
    let tiers = &c.slos[0].alerting.tiers;
    assert!(!tiers[0].labels.contains_key("severity"), "{tiers:?}");
    assert_eq!(tiers[1].labels["severity"], "warning");
    assert_eq!(
        lines(&c.warnings),
        "test.yaml:15:9: \"page_alert\" is ignored: a PrometheusServiceLevel spells it \
         \"pageAlert\", and Sloth drops the other spelling, so none of it applies (write \
         \"pageAlert\")\n"
    );

    let c = ok(&v1(
        &format!("sloPlugins:\n  chain:\n{}", info_plugin(1, "g")),
        "",
    ));
    assert_eq!(c.slos[0].rules.steps, DEFAULTS);
    assert_eq!(
        lines(&c.warnings),
        "test.yaml:3:1: \"sloPlugins\" is ignored: a prometheus/v1 spec spells it \
         \"slo_plugins\", and Sloth drops the other spelling, so none of it applies (write \
         \"slo_plugins\")\n"
    );
}
