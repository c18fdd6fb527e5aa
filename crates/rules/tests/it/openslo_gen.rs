//! Rules for OpenSLO specs whose queries are not in Sloth's windowed form: counters
//! (`counter: true` over `sum(http_requests{…})`), per-interval counts and threshold metrics.
//! promtool accepts every fixture's rules, and the real `promtool test rules` evaluates them to
//! the error ratios computed by hand from the series fed.

use std::path::{Path, PathBuf};
use std::process::Command;

use headroom_rules::{Format, Options, Rule, generate, to_yaml};

use crate::common;

const OPENSLO: &str = "../../../shared/fixtures/openslo";

/// The OpenSLO fixtures that define SLOs.
const WITH_SLOS: &[&str] = &[
    "v1/slos.yaml",
    "budgeting-method/low-traffic-timeslices-slo.yaml",
    "budgeting-method/occurences-slo.yaml",
    "budgeting-method/ratio-timeslices.yaml",
    "budgeting-method/timeslices-slo.yaml",
];

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(OPENSLO)
        .join(rel)
}

fn rules_of(rel: &str) -> (Vec<headroom_rules::RuleGroup>, String) {
    let cfg = headroom_spec::load_paths_for_rules(&[fixture(rel)])
        .unwrap_or_else(|p| panic!("{rel}: {p:?}"));
    let groups = generate(&cfg.slos, &Options::default()).expect("generate");
    let text = to_yaml(&groups, &Format::Prometheus);
    (groups, text)
}

/// The expression recording the SLI over `window` for the first SLO of the groups.
fn sli_expr(groups: &[headroom_rules::RuleGroup], window: &str) -> String {
    let record = format!("slo:sli_error:ratio_rate{window}");
    groups
        .iter()
        .flat_map(|g| &g.rules)
        .find_map(|r| match r {
            Rule::Record {
                record: r, expr, ..
            } if *r == record => Some(expr.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {record}"))
}

fn run(promtool: &Path, args: &[&Path], what: &str) -> String {
    let mut cmd = Command::new(promtool);
    for a in args {
        cmd.arg(a);
    }
    let out = cmd.output().expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what}: promtool failed:\n{text}");
    text
}

#[test]
fn openslo_fixtures_generate_rules_promtool_accepts() {
    let promtool = common::promtool();
    let tmp = tempfile::tempdir().expect("tempdir");
    for rel in WITH_SLOS {
        let (groups, text) = rules_of(rel);
        let rules: usize = groups.iter().map(|g| g.rules.len()).sum();
        let out = tmp.path().join(rel.replace('/', "-"));
        std::fs::write(&out, text).expect("write rules");
        let said = run(
            &promtool,
            &[
                Path::new("check"),
                Path::new("rules"),
                Path::new("--lint=none"),
                &out,
            ],
            rel,
        );
        assert!(
            said.contains(&format!("SUCCESS: {rules} rules found")),
            "{rel}: expected {rules} rules checked, promtool said:\n{said}"
        );
    }
}

#[test]
fn each_form_is_counted_over_the_window() {
    let (groups, _) = rules_of("v1/slos.yaml");
    let expr = sli_expr(&groups, "5m");
    assert!(
        expr.contains(r#"sum(increase(http_requests{code=~"2xx|4xx",component="web",k8s_cluster="prod"}[5m]))"#)
            && expr.contains(r#"sum(increase(http_requests{component="web",k8s_cluster="prod"}[5m]))"#),
        "{expr}"
    );
    let (groups, _) = rules_of("budgeting-method/ratio-timeslices.yaml");
    assert_eq!(
        sli_expr(&groups, "30m"),
        "1 - (\n(sum_over_time(Any[30m]))\n/\n(sum_over_time(Any[30m]))\n)\n"
    );
    let (groups, _) = rules_of("budgeting-method/occurences-slo.yaml");
    assert_eq!(
        sli_expr(&groups, "1h"),
        "1 - (\n(sum(sum_over_time(((Any) < bool 500)[1h:])))\n/\n(sum(count_over_time((Any)[1h:])))\n)\n"
    );
}

/// A `promtool test rules` case: one rule file, series fed each minute, and probes that each
/// expect exactly one sample of value 1 (a comparison made with `bool`, counted).
fn unit_test(rule_file: &Path, series: &[(&str, &str)], probes: &[(&str, u32)]) -> String {
    let mut t = format!(
        "rule_files: [{:?}]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n",
        rule_file.display().to_string()
    );
    for (s, values) in series {
        t.push_str(&format!(
            "      - series: '{s}'\n        values: '{values}'\n"
        ));
    }
    t.push_str("    promql_expr_test:\n");
    for (expr, minute) in probes {
        t.push_str(&format!(
            "      - expr: '{expr}'\n        eval_time: {minute}m\n        exp_samples: [{{labels: '{{}}', value: 1}}]\n"
        ));
    }
    t
}

#[test]
fn promtool_evaluates_counter_and_threshold_rules_to_the_ratios_fed() {
    let promtool = common::promtool();
    let tmp = tempfile::tempdir().expect("tempdir");

    // slos.yaml, `counter: true`: per minute 6 2xx, 3 4xx (both good) and 1 5xx of prod's web
    // requests, and a dev cluster's errors that the queries do not select: error ratio 1/10.
    let (_, rules) = rules_of("v1/slos.yaml");
    let rule_file = tmp.path().join("counter.yml");
    std::fs::write(&rule_file, rules).expect("write rules");
    let test = tmp.path().join("counter-test.yml");
    let one_in_ten = "count(abs(slo:sli_error:ratio_rate5m - 0.1) < 1e-9)";
    std::fs::write(
        &test,
        unit_test(
            &rule_file,
            &[
                (
                    r#"http_requests{k8s_cluster="prod",component="web",code="2xx"}"#,
                    "0+6x30",
                ),
                (
                    r#"http_requests{k8s_cluster="prod",component="web",code="4xx"}"#,
                    "0+3x30",
                ),
                (
                    r#"http_requests{k8s_cluster="prod",component="web",code="5xx"}"#,
                    "0+1x30",
                ),
                (
                    r#"http_requests{k8s_cluster="dev",component="web",code="5xx"}"#,
                    "0+100x30",
                ),
            ],
            &[(one_in_ten, 10), (one_in_ten, 25)],
        ),
    )
    .expect("write test");
    run(
        &promtool,
        &[Path::new("test"), Path::new("rules"), &test],
        "counter",
    );

    // occurences-slo.yaml, `lt 500`: ten minutes at 100 ms, then 600 ms: no error, then all.
    let (_, rules) = rules_of("budgeting-method/occurences-slo.yaml");
    let rule_file = tmp.path().join("threshold.yml");
    std::fs::write(&rule_file, rules).expect("write rules");
    let test = tmp.path().join("threshold-test.yml");
    std::fs::write(
        &test,
        unit_test(
            &rule_file,
            &[("Any", "100x10 600x20")],
            &[
                ("count(slo:sli_error:ratio_rate5m == 0)", 8),
                ("count(slo:sli_error:ratio_rate5m == 1)", 20),
            ],
        ),
    )
    .expect("write test");
    run(
        &promtool,
        &[Path::new("test"), Path::new("rules"), &test],
        "threshold",
    );
}
