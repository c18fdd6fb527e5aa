//! The loader against real Sloth and OpenSLO files (read in place from the shared fixtures),
//! the bundled quickstart, and hand-written native documents.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use headroom_core::{
    AlertWindows, Bound, BudgetWindow, BudgetingMethod, CalendarUnit, Comparison, PromQuery,
    QueryForm, RatioQueries, RuleStep, RulesSpec, Sli, Slo, SlothSpec, Span, Window,
};
use headroom_spec::{
    Config, Problem, ProblemKind, Purpose, load_paths, load_paths_for_rules, load_sources,
    load_sources_for, load_str, parse_alert_windows,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures");
const QUICKSTART: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/quickstart.yaml"
);

fn fixture(rel: &str) -> PathBuf {
    Path::new(FIXTURES).join(rel)
}

fn yaml_files(rel: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    files
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// Loads a file for its format only: PromQL SLIs need not be runnable natively (see
/// `promql_slis_must_run_natively_or_name_a_backend` for that check).
fn load_ok(path: &Path) -> Config {
    load_paths_for_rules(&[path.to_path_buf()])
        .unwrap_or_else(|problems| panic!("{} should load:\n{}", path.display(), render(&problems)))
}

fn load_err(path: &Path) -> Vec<Problem> {
    match load_paths_for_rules(&[path.to_path_buf()]) {
        Ok(c) => panic!("{} should fail, loaded {:?}", path.display(), ids(&c)),
        Err(p) => p,
    }
}

/// Loads in-memory files for their format only (as `load_ok`).
fn rules_only(sources: &[(String, String)]) -> Result<Config, Vec<Problem>> {
    load_sources_for(sources, Purpose::Rules)
}

fn str_ok(text: &str) -> Config {
    load_str("test.yaml", text).unwrap_or_else(|p| panic!("should load:\n{}", render(&p)))
}

fn str_err(text: &str) -> Vec<Problem> {
    match load_str("test.yaml", text) {
        Ok(c) => panic!("should fail, loaded {:?}", ids(&c)),
        Err(p) => p,
    }
}

fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}\n"))
        .collect::<String>()
}

fn ids(c: &Config) -> Vec<&str> {
    c.slos.iter().map(|s| s.id.as_str()).collect()
}

fn slo<'a>(c: &'a Config, id: &str) -> &'a Slo {
    c.slos
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no SLO {id}; have {:?}", ids(c)))
}

fn percent(s: &Slo) -> f64 {
    (s.objective.ratio() * 100.0 * 1e6).round() / 1e6
}

fn q(s: &str) -> PromQuery {
    PromQuery(s.to_string())
}

// ---------------------------------------------------------------------------------------------
// Sloth examples

/// Every example and the SLOs (id, objective percent) it must yield.
const SLOTH_EXAMPLES: &[(&str, &[(&str, f64)])] = &[
    (
        "contrib-denominator-corrected.yaml",
        &[("svc01-slo1", 99.9)],
    ),
    (
        "contrib-slo-plugins.yml",
        &[
            (
                "myservice-requests-availability-contrib-plugin-info-labels-v1",
                99.9,
            ),
            (
                "myservice-requests-availability-contrib-plugin-rule-intervals-v1",
                99.9,
            ),
        ],
    ),
    (
        "getting-started.yml",
        &[("myservice-requests-availability", 99.9)],
    ),
    (
        "home-wifi.yml",
        &[
            ("home-wifi-good-wifi-client-satisfaction", 95.0),
            ("home-wifi-risk-wifi-client-satisfaction", 99.9),
        ],
    ),
    (
        "k8s-getting-started.yml",
        &[("myservice-requests-availability", 99.9)],
    ),
    (
        "k8s-home-wifi.yml",
        &[
            ("home-wifi-good-wifi-client-satisfaction", 95.0),
            ("home-wifi-risk-wifi-client-satisfaction", 99.9),
        ],
    ),
    (
        "k8s-multifile.yml",
        &[
            ("myservice-requests-availability", 99.9),
            ("myservice2-requests-availability", 99.99),
        ],
    ),
    (
        "kubernetes-apiserver.yml",
        &[
            ("k8s-apiserver-requests-availability", 99.9),
            ("k8s-apiserver-requests-latency", 99.0),
        ],
    ),
    (
        "multifile.yml",
        &[
            ("myservice-requests-availability", 99.9),
            ("myservice2-requests-availability", 99.99),
        ],
    ),
    ("no-alerts.yml", &[("myapp-http-availability", 99.99)]),
    (
        "openslo-getting-started.yml",
        &[("sloth-slo-my-service", 99.9)],
    ),
    (
        "openslo-kubernetes-apiserver.yml",
        &[
            ("requests-availability-openslo", 99.9),
            ("requests-latency-openslo", 99.0),
            ("requests-latency-openslo-1", 99.9),
        ],
    ),
    (
        "plugin-getting-started.yml",
        &[("myservice-requests-availability", 99.9)],
    ),
    (
        "plugin-k8s-getting-started.yml",
        &[("myservice-requests-availability", 99.9)],
    ),
    (
        "raw-home-wifi.yml",
        &[("home-wifi-wifi-client-satisfaction", 95.0)],
    ),
    (
        "slo-plugin-getting-started.yml",
        &[("myservice-requests-availability", 99.9)],
    ),
    (
        "slo-plugin-k8s-getting-started.yml",
        &[("myservice-requests-availability", 99.9)],
    ),
    (
        "victoria-metrics.yml",
        &[
            ("foo-bar-grpc-latency-percentile-90", 90.0),
            ("foo-bar-grpc-latency-percentile-99", 99.0),
        ],
    ),
];

#[test]
fn every_sloth_example_loads_with_the_expected_ids_and_objectives() {
    let files = yaml_files("sloth/examples");
    assert_eq!(
        files.len(),
        SLOTH_EXAMPLES.len(),
        "an example has no expectation"
    );
    for path in files {
        let name = file_name(&path);
        let (_, want) = SLOTH_EXAMPLES
            .iter()
            .find(|(f, _)| *f == name)
            .unwrap_or_else(|| panic!("no expectation for {name}"));
        let c = load_ok(&path);
        let got: Vec<(&str, f64)> = c.slos.iter().map(|s| (s.id.as_str(), percent(s))).collect();
        assert_eq!(got, want.to_vec(), "{name}");
        for s in &c.slos {
            // Sloth specs carry no period: Sloth's default 30 days.
            assert_eq!(
                s.window,
                Window::Rolling {
                    length: Span::days(30)
                },
                "{name}"
            );
            assert_eq!(s.source.file, path.display().to_string());
        }
    }
}

/// Sloth's own generated rules name each SLO (`sloth_id`, `sloth_service`, `sloth_slo`), its
/// objective and its alert: ours must agree. OpenSLO SLOs keep `metadata.name` as their id in
/// headroom; their rules carry Sloth's names.
#[test]
fn sloth_examples_agree_with_the_rules_sloth_generated() {
    for path in yaml_files("sloth/examples") {
        let name = file_name(&path);
        let generated = std::fs::read_to_string(fixture("sloth/examples/_gen").join(&name))
            .unwrap_or_else(|e| panic!("_gen/{name}: {e}"));
        let values = |prefix: &str| -> BTreeSet<String> {
            generated
                .lines()
                .filter_map(|l| l.trim().strip_prefix(prefix))
                .map(|v| v.trim().trim_matches('"').to_string())
                .collect()
        };
        let c = load_ok(&path);
        let names = |f: fn(&Slo) -> &str| -> BTreeSet<String> {
            c.slos.iter().map(|s| f(s).to_string()).collect()
        };
        assert_eq!(names(|s| &s.rules.id), values("sloth_id:"), "{name}: ids");
        assert_eq!(
            names(|s| &s.rules.service),
            values("sloth_service:"),
            "{name}: services"
        );
        assert_eq!(
            names(|s| &s.rules.slo),
            values("sloth_slo:"),
            "{name}: SLOs"
        );
        if !name.starts_with("openslo-") {
            // Sloth specs: headroom's id is Sloth's.
            assert_eq!(names(|s| &s.id), values("sloth_id:"), "{name}: ids");
        }
        let objectives: BTreeSet<String> = c.slos.iter().map(|s| percent(s).to_string()).collect();
        assert_eq!(objectives, values("sloth_objective:"), "{name}: objectives");
        let alerts: BTreeSet<String> = c
            .slos
            .iter()
            .filter(|s| !s.alerting.tiers.is_empty() && s.rules.steps.contains(&RuleStep::Alerts))
            .filter_map(|s| s.alerting.name.clone())
            .collect();
        assert_eq!(alerts, values("- alert:"), "{name}: alert names");
    }
}

#[test]
fn sloth_getting_started_maps_labels_queries_and_alerts() {
    let c = load_ok(&fixture("sloth/examples/getting-started.yml"));
    let s = slo(&c, "myservice-requests-availability");
    assert_eq!(s.service, "myservice");
    assert_eq!(s.name, "requests-availability");
    assert_eq!(
        s.description.as_deref(),
        Some("Common SLO based on availability for HTTP request responses.")
    );
    assert_eq!(s.budgeting, BudgetingMethod::Occurrences);
    assert_eq!(
        s.sli,
        Sli::Ratio {
            queries: RatioQueries::BadTotal {
                bad: q(
                    r#"sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{.window}}]))"#
                ),
                total: q(
                    r#"sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}]))"#
                ),
            },
            form: QueryForm::Windowed,
        }
    );
    let labels: Vec<(&str, &str)> = s
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            ("owner", "myteam"),
            ("repo", "myorg/myservice"),
            ("tier", "2")
        ]
    );
    assert_eq!((s.source.line, s.source.column), (9, 5));

    let a = &s.alerting;
    assert_eq!(a.name.as_deref(), Some("MyServiceHighErrorRate"));
    assert_eq!(a.labels["category"], "availability");
    assert_eq!(
        a.annotations["summary"],
        "High error rate on 'myservice' requests responses"
    );
    let page = &a.tiers[0];
    assert_eq!(page.severity, "page");
    assert_eq!(page.labels["severity"], "pageteam");
    assert_eq!(page.labels["routing_key"], "myteam");
    let factors: Vec<f64> = page.conditions.iter().map(|c| c.factor).collect();
    assert!(
        (factors[0] - 14.4).abs() < 1e-9 && (factors[1] - 6.0).abs() < 1e-9,
        "{factors:?}"
    );
    let ticket = &a.tiers[1];
    assert_eq!(ticket.severity, "ticket");
    assert_eq!(ticket.labels["slack_channel"], "#alerts-myteam");
}

#[test]
fn sloth_disabled_alerts_and_raw_slis() {
    let c = load_ok(&fixture("sloth/examples/no-alerts.yml"));
    let s = slo(&c, "myapp-http-availability");
    assert!(s.alerting.tiers.is_empty());
    assert_eq!(s.alerting.name, None);

    let c = load_ok(&fixture("sloth/examples/raw-home-wifi.yml"));
    let Sli::RawErrorRatio { error_ratio } = &slo(&c, "home-wifi-wifi-client-satisfaction").sli
    else {
        panic!("raw SLI expected");
    };
    assert!(error_ratio.0.starts_with(
        "1 - (\n  sum(sum_over_time(unifipoller_client_satisfaction_ratio[{{.window}}]))"
    ));
}

#[test]
fn sloth_label_values_keep_their_spelling() {
    // victoria-metrics.yml writes labels as numbers and booleans, which Sloth reads as text.
    let c = load_ok(&fixture("sloth/examples/victoria-metrics.yml"));
    let s = slo(&c, "foo-bar-grpc-latency-percentile-90");
    assert_eq!(s.labels["generated"], "true");
    assert_eq!(s.labels["actual_le"], "0.2");
    assert_eq!(s.alerting.labels["objective_reversed"], "10");
}

#[test]
fn sloth_example_sli_plugin_is_evaluated_natively() {
    for file in [
        "plugin-getting-started.yml",
        "plugin-k8s-getting-started.yml",
    ] {
        let c = load_ok(&fixture("sloth/examples").join(file));
        let Sli::Ratio {
            queries: RatioQueries::BadTotal { bad, total },
            ..
        } = &slo(&c, "myservice-requests-availability").sli
        else {
            panic!("{file}: a bad/total ratio expected");
        };
        // The queries are the ones Sloth's plugin rendered into the generated rules.
        let generated =
            std::fs::read_to_string(fixture("sloth/examples/_gen/plugin-getting-started.yml"))
                .unwrap();
        for query in [bad, total] {
            let at_5m = query.0.replace("{{.window}}", "5m");
            assert!(
                generated.contains(&at_5m),
                "{file}: {at_5m} not in generated rules"
            );
        }
        assert!(
            bad.0
                .contains(r#"{ f1="v1",f2="v2",job="myservice",code=~"(5..|429)" }"#)
        );
        // Sloth gets one raw query from the plugin, laid out by its template; the rules hold it.
        let raw = slo(&c, "myservice-requests-availability")
            .rules
            .raw_error_ratio
            .clone()
            .expect("the plugin's raw query");
        assert_eq!(raw.0, format!("\n{}\n/\n{}", bad.0, total.0));
    }
}

/// A Sloth SLI plugin headroom has no native version of (here one of Sloth's common plugins,
/// which are Go code) is refused at its id, by name, as not supported: one problem kind a
/// caller checking configs can tell from invalid ones.
#[test]
fn unknown_sloth_sli_plugin_is_refused_by_id_as_not_supported() {
    for (text, at, way_out) in [
        (
            r#"version: "prometheus/v1"
service: "myservice"
slos:
  - name: "requests-availability"
    objective: 99.9
    sli:
      plugin:
        id: "sloth-common/kubernetes/apiserver/availability"
    alerting:
      name: X
"#,
            "test.yaml:8:13",
            "rewrite the SLI as events (error_query, total_query) or raw",
        ),
        (
            r#"apiVersion: sloth.slok.dev/v1
kind: PrometheusServiceLevel
metadata: {name: x}
spec:
  service: myservice
  slos:
    - name: requests-availability
      objective: 99.9
      sli:
        plugin: {id: sloth-common/kubernetes/apiserver/availability}
      alerting: {name: X}
"#,
            "test.yaml:10:22",
            "rewrite the SLI as events (errorQuery, totalQuery) or raw",
        ),
    ] {
        let problems = str_err(text);
        assert_eq!(problems.len(), 1, "{}", render(&problems));
        assert_eq!(
            problems[0].to_string(),
            format!(
                "{at}: Sloth SLI plugin \"sloth-common/kubernetes/apiserver/availability\" is not \
                 supported: headroom does not run Sloth's Go plugins and has no native version of \
                 this one; {way_out}"
            )
        );
        assert_eq!(problems[0].kind, ProblemKind::NotSupported);
    }
    // Any other defect stays an invalid config.
    let problems = str_err("version: prometheus/v1\nservice: s\nslos: []\n");
    assert_eq!(
        problems[0].kind,
        ProblemKind::Invalid,
        "{}",
        render(&problems)
    );
}

#[test]
fn sloth_example_plugin_keeps_its_own_checks() {
    let spec = |labels: &str, options: &str| {
        format!(
            "version: prometheus/v1\nservice: myservice\nlabels: {labels}\nslos:\n  - name: a\n    objective: 99.9\n    sli:\n      plugin:\n        id: getting_started_availability\n        options: {options}\n    alerting: {{name: X}}\n"
        )
    };
    let one = |text: String| -> String {
        let problems = str_err(&text);
        assert_eq!(problems.len(), 1, "{}", render(&problems));
        problems[0].to_string()
    };
    let ok_labels = "{owner: team, tier: 1}";
    assert_eq!(
        one(spec(ok_labels, "{filter: 'f1=\"v1\"'}")),
        "test.yaml:9:9: Sloth SLI plugin \"getting_started_availability\": the job option is required"
    );
    assert_eq!(
        one(spec(ok_labels, "{job: j, filter: 'f1=~\"v1\"'}")),
        "test.yaml:10:35: Sloth SLI plugin \"getting_started_availability\": invalid Prometheus \
         filter \"f1=~\\\"v1\\\"\" (expected name=\"value\" pairs separated by commas)"
    );
    assert_eq!(
        one(spec("{owner: team}", "{job: j}")),
        "test.yaml:9:13: Sloth SLI plugin \"getting_started_availability\": the service needs a \
         \"tier\" label"
    );
}

// ---------------------------------------------------------------------------------------------
// Sloth validate fixtures

#[test]
fn every_sloth_validate_good_spec_loads() {
    let files = yaml_files("sloth/validate/good");
    assert_eq!(files.len(), 7);
    for path in files {
        let c = load_ok(&path);
        assert!(!c.slos.is_empty(), "{}", path.display());
    }
    let c = load_ok(&fixture("sloth/validate/good/good-multi-k8s.yaml"));
    assert_eq!(
        ids(&c),
        ["svc01-slo1", "svc01-slo02", "svc02-slo1", "svc02-slo02"]
    );
    assert!(slo(&c, "svc01-slo02").alerting.tiers.is_empty());
    assert_eq!(c.slos[0].alerting.tiers.len(), 2);
}

/// What Sloth's validator rejects each bad spec for, and where headroom says so.
const SLOTH_BAD: &[(&str, u32, u32, &str)] = &[
    ("bad-aa.yaml", 28, 16, "objective 101 is out of range"),
    ("bad-ab.yaml", 28, 16, "objective 101 is out of range"),
    ("bad-ba.yaml", 28, 16, "objective 101 is out of range"),
    ("bad-k8s.yaml", 7, 12, "service name is empty"),
    ("bad-multi-k8s.yaml", 22, 15, "alert name is empty"),
    ("bad-multi.yaml", 77, 10, "SLI is missing"),
];

/// In the bad set for an older Sloth, which knew only 30-day windows: Sloth v0.16 reads its
/// `count: 28` days as the SLO's period (its OpenSLO loader's own tests do) and ships 28-day
/// alert windows, so it generates rules from it.
const SLOTH_BAD_BEFORE_V016: &str = "bad-openslo.yaml";

#[test]
fn every_sloth_validate_bad_spec_fails_naming_its_defect() {
    let files = yaml_files("sloth/validate/bad");
    assert_eq!(files.len(), SLOTH_BAD.len() + 1);
    for path in files {
        let name = file_name(&path);
        if name == SLOTH_BAD_BEFORE_V016 {
            continue;
        }
        let (_, line, column, message) = SLOTH_BAD
            .iter()
            .find(|(f, ..)| *f == name)
            .unwrap_or_else(|| panic!("no expectation for {name}"));
        let problems = load_err(&path);
        assert_eq!(problems.len(), 1, "{name}:\n{}", render(&problems));
        let p = &problems[0];
        assert_eq!(p.file, path.display().to_string());
        assert_eq!((p.line, p.column), (*line, *column), "{name}: {p}");
        assert!(p.message.starts_with(message), "{name}: {p}");
    }
}

#[test]
fn duplicate_sloth_ids_across_files_name_both_places() {
    // good-aa, good-ab and good-ba define the same SLOs; Sloth's validator flags the repeats
    // unless told to ignore them.
    let problems = load_paths(&[fixture("sloth/validate/good")]).unwrap_err();
    let aa = fixture("sloth/validate/good/good-aa.yaml")
        .display()
        .to_string();
    let ab = fixture("sloth/validate/good/good-ab.yaml")
        .display()
        .to_string();
    let first = &problems[0];
    assert_eq!(first.file, ab);
    assert_eq!((first.line, first.column), (6, 5));
    assert_eq!(
        first.message,
        format!("duplicate SLO id \"svc01-slo1\": already defined at {aa}:6:5")
    );
    assert!(
        problems
            .iter()
            .all(|p| p.message.starts_with("duplicate SLO id"))
    );
}

// ---------------------------------------------------------------------------------------------
// OpenSLO

#[test]
fn every_openslo_v1_file_loads() {
    let files = yaml_files("openslo/v1");
    assert_eq!(files.len(), 7);
    for path in &files {
        load_ok(path);
    }
    let c = load_ok(&fixture("openslo/v1/services.yaml"));
    assert_eq!(c.services.len(), 1, "the same service twice is one service");
    assert_eq!(c.services[0].name, "example-service");
    assert_eq!(
        c.services[0].description.as_deref(),
        Some("Example service description")
    );
    assert_eq!(c.services[0].labels["team"], "team-a,team-b");
}

#[test]
fn openslo_v1_slo_with_calendar_window_and_timeslices() {
    let c = load_ok(&fixture("openslo/v1/slos.yaml"));
    let s = slo(&c, "web-availability");
    assert_eq!(s.service, "web");
    assert_eq!(percent(s), 99.5);
    assert_eq!(
        s.window,
        Window::Calendar {
            unit: CalendarUnit::Week,
            tz: chrono_tz::America::New_York
        }
    );
    assert_eq!(
        s.budgeting,
        BudgetingMethod::Timeslices {
            target: 0.95,
            slice: Span::minutes(1)
        }
    );
    assert_eq!(
        s.sli,
        Sli::Ratio {
            queries: RatioQueries::GoodTotal {
                good: q(
                    r#"sum(http_requests{k8s_cluster="prod",component="web",code=~"2xx|4xx"})"#
                ),
                total: q(r#"sum(http_requests{k8s_cluster="prod",component="web"})"#),
            },
            // `counter: true`: the queries' values are running totals.
            form: QueryForm::Counter,
        }
    );
    assert_eq!(s.labels["env"], "prod");
    // No alert policy: the default page and ticket tiers, factors scaled to a week.
    assert_eq!(s.alerting.tiers.len(), 2);
    assert!((s.alerting.tiers[0].conditions[0].factor - 0.02 * 168.0).abs() < 1e-9);
}

#[test]
fn openslo_budgeting_methods_map_to_core() {
    let load = |f: &str| load_ok(&fixture("openslo/budgeting-method").join(f));

    let c = load("occurences-slo.yaml");
    let s = slo(&c, "search-slo");
    assert_eq!(s.budgeting, BudgetingMethod::Occurrences);
    assert_eq!(
        s.window,
        Window::Rolling {
            length: Span::days(14)
        }
    );
    assert_eq!(percent(s), 99.0);
    // A threshold metric: each value is an event, good when it meets `op: lt, value: 500`.
    assert_eq!(
        s.sli,
        Sli::ThresholdMetric {
            query: q("Any"),
            good_when: Bound::new(Comparison::Lt, 500.0).unwrap(),
        }
    );

    let c = load("ratio-timeslices.yaml");
    let s = slo(&c, "main-page");
    // No `counter`: each value is the count of its own interval, as the OpenSLO SDK reads it.
    assert_eq!(
        s.sli,
        Sli::Ratio {
            queries: RatioQueries::GoodTotal {
                good: q("Any"),
                total: q("Any"),
            },
            form: QueryForm::PerInterval,
        }
    );
    assert_eq!(
        s.budgeting,
        BudgetingMethod::RatioTimeslices {
            slice: Span::minutes(1)
        }
    );
    assert_eq!(
        s.window,
        Window::Rolling {
            length: Span::days(14)
        }
    );

    let c = load("low-traffic-timeslices-slo.yaml");
    let s = slo(&c, "service-availability");
    assert_eq!(percent(s), 99.95);
    assert_eq!(
        s.budgeting,
        BudgetingMethod::Timeslices {
            target: 0.95,
            slice: Span::minutes(1)
        }
    );
    assert_eq!(
        s.window,
        Window::Calendar {
            unit: CalendarUnit::Week,
            tz: chrono_tz::America::New_York
        }
    );
    // No `counter`, which OpenSLO requires: read as `counter: false`, with a warning where the
    // ratioMetric's fields start.
    assert_eq!(c.warnings.len(), 1, "{}", render(&c.warnings));
    let w = &c.warnings[0];
    assert_eq!((w.line, w.column), (14, 9), "{w}");
    assert!(
        w.message.starts_with(
            "ratioMetric has no counter (OpenSLO requires it): its values are read as counts per \
             interval"
        ),
        "{w}"
    );
}

#[test]
fn openslo_calendar_1m_is_read_as_a_month_with_a_warning() {
    let path = fixture("openslo/budgeting-method/timeslices-slo.yaml");
    let c = load_ok(&path);
    // Two objectives, two SLOs.
    assert_eq!(ids(&c), ["service-availability", "service-availability-1"]);
    for (s, pct) in c.slos.iter().zip([99.5, 99.0]) {
        assert_eq!(percent(s), pct);
        assert_eq!(
            s.window,
            Window::Calendar {
                unit: CalendarUnit::Month,
                tz: chrono_tz::America::New_York
            }
        );
        assert_eq!(
            s.budgeting,
            BudgetingMethod::Timeslices {
                target: 0.99,
                slice: Span::minutes(1)
            }
        );
    }
    // The other warning: its ratioMetric has no `counter`.
    assert_eq!(c.warnings.len(), 2, "{}", render(&c.warnings));
    let w = c
        .warnings
        .iter()
        .find(|w| w.message.starts_with("calendar"))
        .expect("the calendar warning");
    assert_eq!(
        (w.file.as_str(), w.line, w.column),
        (path.display().to_string().as_str(), 27, 17)
    );
    assert!(
        w.message
            .starts_with("calendar window \"1m\" read as one month"),
        "{w}"
    );
}

#[test]
fn openslo_budgeting_examples_together_clash_on_a_name() {
    // Two of the spec's examples both call their SLO `service-availability`.
    let problems = load_paths_for_rules(&[fixture("openslo/budgeting-method")]).unwrap_err();
    assert_eq!(problems.len(), 1, "{}", render(&problems));
    let low = fixture("openslo/budgeting-method/low-traffic-timeslices-slo.yaml");
    let ts = fixture("openslo/budgeting-method/timeslices-slo.yaml");
    assert_eq!(problems[0].file, ts.display().to_string());
    assert_eq!(
        problems[0].message,
        format!(
            "duplicate SLO id \"service-availability\": already defined at {}:32:7",
            low.display()
        )
    );
}

fn fixture_source(rel: &str) -> (String, String) {
    (
        rel.to_string(),
        std::fs::read_to_string(fixture(rel)).unwrap(),
    )
}

#[test]
fn openslo_references_resolve_across_files() {
    let slo_text = r#"apiVersion: openslo/v1
kind: SLO
metadata:
  name: search
spec:
  service: example-service
  indicatorRef: search-availability
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - targetPercent: 99.5
  alertPolicies:
    - alertPolicyRef: high-priority
"#;
    let c = rules_only(&[
        fixture_source("openslo/v1/slis.yaml"),
        fixture_source("openslo/v1/alert_policies.yaml"),
        fixture_source("openslo/v1/services.yaml"),
        ("search.yaml".to_string(), slo_text.to_string()),
    ])
    .unwrap_or_else(|p| panic!("{}", render(&p)));
    let s = slo(&c, "search");
    assert_eq!(percent(s), 99.5);
    assert_eq!(
        s.window,
        Window::Rolling {
            length: Span::days(28)
        }
    );
    assert_eq!(
        s.sli,
        Sli::Ratio {
            queries: RatioQueries::GoodTotal {
                good: q(
                    "sum:trace.http.request.hits.by_http_status{http.status_code:200}.as_count()"
                ),
                total: q("sum:trace.http.request.hits.by_http_status{*}.as_count()"),
            },
            form: QueryForm::Counter,
        }
    );
    // high-priority's inline condition: burn rate above 2 over 1h, for 5m.
    let a = &s.alerting;
    assert_eq!(a.name.as_deref(), Some("high-priority"));
    assert_eq!(a.tiers.len(), 1);
    assert_eq!(a.tiers[0].severity, "page");
    assert_eq!(a.tiers[0].for_, Span::minutes(5));
    let c0 = a.tiers[0].conditions[0];
    assert_eq!(
        (c0.long, c0.short, c0.factor),
        (Span::hours(1), Span::minutes(5), 2.0)
    );
    assert_eq!(
        c.services
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["example-service"]
    );
}

#[test]
fn openslo_reference_problems_point_at_the_reference() {
    let slo_text = r#"apiVersion: openslo/v1
kind: SLO
metadata:
  name: search
spec:
  service: web
  indicatorRef: end-user-response
  timeWindow: [{duration: 1w, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.99}]
  alertPolicies:
    - alertPolicyRef: low-priorty
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: other
spec:
  service: web
  indicatorRef: wifi-satisfaction
  timeWindow: [{duration: 1w, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.99}]
"#;
    let problems = load_sources(&[
        fixture_source("openslo/v1/slis.yaml"),
        fixture_source("openslo/v1/alert_policies.yaml"),
        ("slo.yaml".to_string(), slo_text.to_string()),
    ])
    .unwrap_err();
    let text = render(&problems);
    assert_eq!(problems.len(), 4, "{text}");
    // The AppDynamics SLI has no query for bad nor total: reported where its metric sources are.
    for line in [44, 51] {
        assert!(
            text.contains(&format!(
                "openslo/v1/slis.yaml:{line}:11: metric source of type \"AppDynamics\" has no query"
            )),
            "{text}"
        );
    }
    assert!(
        text.contains("slo.yaml:12:23: alertPolicyRef \"low-priorty\" names no AlertPolicy in the loaded files; did you mean \"low-priority\"?"),
        "{text}"
    );
    assert!(
        text.contains(
            "slo.yaml:20:17: indicatorRef \"wifi-satisfaction\" names no SLI in the loaded files"
        ),
        "{text}"
    );
}

#[test]
fn openslo_raw_success_ratio_becomes_an_error_ratio() {
    let slo_text = "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: wifi}\nspec:\n  service: home\n  indicatorRef: wifi-client-satisfaction\n  timeWindow: [{duration: 30d, isRolling: true}]\n  budgetingMethod: Occurrences\n  objectives: [{target: 0.95}]\n";
    let c = rules_only(&[
        fixture_source("openslo/v1/slis.yaml"),
        ("wifi.yaml".to_string(), slo_text.to_string()),
    ])
    .unwrap_or_else(|p| panic!("{}", render(&p)));
    let Sli::RawErrorRatio { error_ratio } = &slo(&c, "wifi").sli else {
        panic!("raw SLI expected")
    };
    assert!(
        error_ratio.0.starts_with(
            "1 - (1 - (\n  sum(sum_over_time(poller_client_satisfaction_ratio[{{.window}}]))"
        ),
        "{}",
        error_ratio.0
    );
}

/// Every OpenSLO fixture loads to run, not only to generate rules: each SLO's queries plan
/// natively (no backend is declared), counters and thresholds included.
#[test]
fn every_openslo_fixture_loads_to_run_natively() {
    let mut files = yaml_files("openslo/v1");
    files.extend(yaml_files("openslo/budgeting-method"));
    let mut slos = 0;
    for path in &files {
        let c = load_paths(std::slice::from_ref(path))
            .unwrap_or_else(|p| panic!("{} should load to run:\n{}", path.display(), render(&p)));
        slos += c.slos.len();
    }
    // slos.yaml: 1; the budgeting-method examples: 1 + 1 + 1 + 2.
    assert_eq!(slos, 6);
}

#[test]
fn openslo_counter_flag_says_what_the_values_are() {
    let doc = |counter: &str| {
        format!(
            "apiVersion: openslo/v1\nkind: SLO\nmetadata: {{name: web}}\nspec:\n  service: web\n  \
             indicator:\n    metadata: {{name: ok}}\n    spec:\n      ratioMetric:\n{counter}        \
             good: {{metricSource: {{type: Prometheus, spec: {{query: 'sum(ok)'}}}}}}\n        \
             total: {{metricSource: {{type: Prometheus, spec: {{query: 'sum(all)'}}}}}}\n  \
             timeWindow: [{{duration: 7d, isRolling: true}}]\n  budgetingMethod: Occurrences\n  \
             objectives: [{{target: 0.99}}]\n"
        )
    };
    for (counter, form, warned) in [
        ("        counter: true\n", QueryForm::Counter, false),
        ("        counter: false\n", QueryForm::PerInterval, false),
        ("", QueryForm::PerInterval, true),
    ] {
        let c = load_str("web.yaml", &doc(counter)).unwrap_or_else(|p| panic!("{}", render(&p)));
        let Sli::Ratio { form: got, .. } = &slo(&c, "web").sli else {
            panic!("a ratio SLI expected")
        };
        assert_eq!(*got, form, "{counter:?}");
        assert_eq!(
            c.warnings.len(),
            usize::from(warned),
            "{counter:?}: {}",
            render(&c.warnings)
        );
    }
    // In Sloth's windowed form the flag changes nothing, and its absence is not worth a warning.
    let sloth_form = doc("")
        .replace("sum(ok)", "sum(rate(ok[{{.window}}]))")
        .replace("sum(all)", "sum(rate(all[{{.window}}]))");
    let c = load_str("web.yaml", &sloth_form).unwrap_or_else(|p| panic!("{}", render(&p)));
    assert!(c.warnings.is_empty(), "{}", render(&c.warnings));
}

#[test]
fn openslo_threshold_metric_has_no_counter() {
    let text = "apiVersion: openslo/v1
kind: SLO
metadata: {name: search}
spec:
  service: shop
  indicator:
    metadata: {name: latency}
    spec:
      thresholdMetric:
        counter: true
        metricSource: {type: Prometheus, spec: {query: search_latency_ms}}
  timeWindow: [{duration: 14d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{op: lt, value: 500, target: 0.99}]
";
    let problems = load_str("search.yaml", text).unwrap_err();
    assert_eq!(
        render(&problems),
        "  search.yaml:10:9: counter belongs to ratioMetric: a thresholdMetric compares each value \
         of its metric with the objective's op and value, so it has no counter to read\n"
    );
    // Without it, the metric's values are compared with the objective, natively.
    let c = load_str("search.yaml", &text.replace("        counter: true\n", ""))
        .unwrap_or_else(|p| panic!("{}", render(&p)));
    assert_eq!(
        slo(&c, "search").sli,
        Sli::ThresholdMetric {
            query: q("search_latency_ms"),
            good_when: Bound::new(Comparison::Lt, 500.0).unwrap(),
        }
    );
}

#[test]
fn openslo_v1alpha_window_is_its_days() {
    let c = load_ok(&fixture("sloth/validate/bad").join(SLOTH_BAD_BEFORE_V016));
    let s = slo(&c, "slo1");
    assert_eq!(
        s.window,
        Window::Rolling {
            length: Span::days(28)
        }
    );
    // The default page and ticket windows, scaled to 28 days as Sloth's google-28d are.
    assert_eq!(s.alerting.tiers.len(), 2);
    let problems = str_err(
        "apiVersion: openslo/v1alpha\nkind: SLO\nmetadata: {name: a}\nspec:\n  service: s\n  \
         budgetingMethod: Occurrences\n  objectives: [{target: 0.9, ratioMetrics: {good: {source: \
         prometheus, queryType: promql, query: 'a[{{.window}}]'}, total: {source: prometheus, \
         queryType: promql, query: 'b[{{.window}}]'}}}]\n  timeWindows: [{count: 2.5, unit: Day}]\n",
    );
    assert_eq!(
        render(&problems),
        "  test.yaml:8:25: count 2.5 must be a whole number of days, 1 to 3650\n"
    );
}

#[test]
fn openslo_v1alpha_is_read_as_sloth_reads_it() {
    let c = load_ok(&fixture("sloth/examples/openslo-getting-started.yml"));
    let s = slo(&c, "sloth-slo-my-service");
    assert_eq!(s.service, "my-service");
    assert_eq!(
        s.sli,
        Sli::Ratio {
            queries: RatioQueries::GoodTotal {
                good: q(
                    r#"sum(rate(http_request_duration_seconds_count{job="myservice",code!~"(5..|429)"}[{{.window}}]))"#
                ),
                total: q(
                    r#"sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}]))"#
                ),
            },
            form: QueryForm::Windowed,
        }
    );
    assert_eq!(
        s.window,
        Window::Rolling {
            length: Span::days(30)
        }
    );
    // In rules: Sloth's names, its raw `1 - good/total`, and no alerts (Sloth disables both).
    let r = &s.rules;
    assert_eq!(
        (r.id.as_str(), r.service.as_str(), r.slo.as_str()),
        (
            "my-service-sloth-slo-my-service-0",
            "my-service",
            "sloth-slo-my-service-0"
        )
    );
    assert_eq!(r.spec, SlothSpec::OpenSloV1Alpha);
    assert!(
        r.raw_error_ratio
            .as_ref()
            .is_some_and(|q| q.0.starts_with("\n  1 - (\n    (\n      sum(rate(")),
        "{:?}",
        r.raw_error_ratio
    );
    assert_eq!(
        r.steps,
        [
            RuleStep::SliRecordings { optimized: true },
            RuleStep::MetaRecordings
        ]
    );
    // The objective as Sloth computes it, through a percentage.
    assert_eq!(s.objective.ratio(), 0.999 * 100.0 / 100.0);
}

/// OpenSLO objectives are SLOs of their own: headroom ids `<name>`, `<name>-1`, …; Sloth's
/// `<service>-<name>-<index>` from index 0, in both OpenSLO versions.
#[test]
fn openslo_objectives_are_named_as_sloth_names_them() {
    let c = load_ok(&fixture("sloth/examples/openslo-kubernetes-apiserver.yml"));
    let named: Vec<(&str, &str, &str, &str)> = c
        .slos
        .iter()
        .map(|s| {
            (
                s.id.as_str(),
                s.rules.id.as_str(),
                s.rules.service.as_str(),
                s.rules.slo.as_str(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            (
                "requests-availability-openslo",
                "k8s-apiserver-requests-availability-openslo-0",
                "k8s-apiserver",
                "requests-availability-openslo-0"
            ),
            (
                "requests-latency-openslo",
                "k8s-apiserver-requests-latency-openslo-0",
                "k8s-apiserver",
                "requests-latency-openslo-0"
            ),
            (
                "requests-latency-openslo-1",
                "k8s-apiserver-requests-latency-openslo-1",
                "k8s-apiserver",
                "requests-latency-openslo-1"
            ),
        ]
    );

    let c = rules_only(&[(
        "v1.yaml".into(),
        r#"apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout}
spec:
  service: shop
  budgetingMethod: Occurrences
  timeWindow: [{duration: 28d, isRolling: true}]
  indicator:
    spec:
      ratioMetric:
        good: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(ok[{{.window}}]))'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(all[{{.window}}]))'}}}
  objectives: [{target: 0.99}, {target: 0.999}]
"#
        .into(),
    )])
    .unwrap_or_else(|p| panic!("{}", render(&p)));
    let named: Vec<(&str, &str, &str)> = c
        .slos
        .iter()
        .map(|s| (s.id.as_str(), s.rules.id.as_str(), s.rules.slo.as_str()))
        .collect();
    assert_eq!(
        named,
        [
            ("checkout", "shop-checkout-0", "checkout-0"),
            ("checkout-1", "shop-checkout-1", "checkout-1")
        ]
    );
    // OpenSLO v1 has alert policies of its own, so its rules keep Sloth's alert step.
    assert_eq!(c.slos[0].rules.steps, RuleStep::defaults());
    assert_eq!(c.slos[0].rules.spec, SlothSpec::OpenSloV1);
    assert_eq!(c.slos[0].rules.raw_error_ratio, None);
}

/// Sloth and native SLOs: Sloth's id is `<service>-<name>`, a native SLO's its name.
#[test]
fn sloth_and_native_slos_are_named_as_before() {
    let c = load_ok(&fixture("sloth/examples/getting-started.yml"));
    assert_eq!(
        c.slos[0].rules,
        RulesSpec::sloth("myservice", "requests-availability")
    );
    let c = load_ok(&fixture("sloth/examples/k8s-getting-started.yml"));
    assert_eq!(c.slos[0].rules.spec, SlothSpec::Kubernetes);
    let c = load_ok(Path::new(QUICKSTART));
    for s in &c.slos {
        assert_eq!(
            s.rules,
            RulesSpec::new(&s.id, &s.service, &s.name),
            "{}",
            s.id
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Alert windows

fn bw(pct: f64, short: Span, long: Span) -> BudgetWindow {
    BudgetWindow {
        error_budget_percent: pct,
        short,
        long,
    }
}

#[test]
fn sloth_alert_window_files_load() {
    let (m, h, d) = (Span::minutes, Span::hours, Span::days);
    let expected = [
        (
            "7d.yaml",
            AlertWindows {
                slo_period: d(7),
                page_quick: bw(8.0, m(5), h(1)),
                page_slow: bw(12.5, m(30), h(6)),
                ticket_quick: bw(20.0, h(2), d(1)),
                ticket_slow: bw(42.0, h(6), d(3)),
            },
        ),
        (
            "custom-30d.yaml",
            AlertWindows {
                slo_period: d(30),
                page_quick: bw(1.0, m(2), m(30)),
                page_slow: bw(2.0, m(15), h(3)),
                ticket_quick: bw(5.0, h(1), h(12)),
                ticket_slow: bw(5.0, h(3), h(36)),
            },
        ),
        ("google-28d.yaml", AlertWindows::google(d(28))),
        ("google-30d.yaml", AlertWindows::google(d(30))),
    ];
    let files = yaml_files("sloth/examples/windows");
    assert_eq!(files.len(), expected.len());
    for (path, (name, want)) in files.iter().zip(expected) {
        assert_eq!(file_name(path), name);
        let got = headroom_spec::load_alert_windows(path)
            .unwrap_or_else(|p| panic!("{name}: {}", render(&p)));
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn alert_windows_in_the_set_set_the_sloth_period_and_windows() {
    let c = load_paths(&[
        fixture("sloth/examples/windows/7d.yaml"),
        fixture("sloth/examples/getting-started.yml"),
    ])
    .unwrap_or_else(|p| panic!("{}", render(&p)));
    assert_eq!(c.alert_windows.map(|w| w.slo_period), Some(Span::days(7)));
    let s = slo(&c, "myservice-requests-availability");
    assert_eq!(
        s.window,
        Window::Rolling {
            length: Span::days(7)
        }
    );
    // 8% of a 7-day budget in 1h: a burn factor of 13.44.
    let f = s.alerting.tiers[0].conditions[0].factor;
    assert!((f - 13.44).abs() < 1e-9, "{f}");
}

#[test]
fn bad_alert_windows_are_located() {
    let problems = parse_alert_windows(
        "w.yaml",
        "apiVersion: sloth.slok.dev/v1\nkind: AlertWindows\nspec:\n  sloPeriod: 30d\n  page:\n    quick: {errorBudgetPercent: 2, shortWindow: 1h, longWindow: 5m}\n    slow: {errorBudgetPercent: 500, shortWindow: 30m, longWindow: 6h}\n  ticket:\n    quick: {errorBudgetPercent: 10, shortWindow: 2h, longWindow: 1d}\n    slwo: {errorBudgetPercent: 10, shortWindow: 6h, longWindow: 3d}\n",
    )
    .unwrap_err();
    let got: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "w.yaml:6:49: shortWindow 1h must be shorter than longWindow 5m",
            "w.yaml:7:32: errorBudgetPercent 500 is out of range: it is the share of the error budget, above 0 and at most 100",
            "w.yaml:10:5: unknown field \"slwo\" in ticket; did you mean \"slow\"?",
            "w.yaml:9:5: missing field \"slow\" in ticket",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Native format

#[test]
fn quickstart_loads() {
    let c = load_paths(&[PathBuf::from(QUICKSTART)]).unwrap_or_else(|p| panic!("{}", render(&p)));
    assert!(c.anonymous_read);
    assert_eq!(
        ids(&c),
        [
            "headroom-api-availability",
            "headroom-api-latency",
            "example-checkout-availability",
            "headroom-ready-probe"
        ]
    );
    let probes: Vec<(&str, &str, u64)> = c
        .probes
        .iter()
        .map(|p| (p.name.as_str(), p.kind.name(), p.interval.as_secs()))
        .collect();
    assert_eq!(
        probes,
        [("headroom-ready", "http", 15), ("example-com", "http", 60)]
    );
    assert_eq!(c.probes[0].conditions.len(), 3);
    assert_eq!(
        slo(&c, "headroom-ready-probe").sli,
        Sli::Probe {
            probe: "headroom-ready".into(),
            latency: None
        }
    );
    let names: Vec<&str> = c.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["headroom", "example"]);
    assert_eq!(c.services[0].labels["team"], "sre");
    assert!(c.warnings.is_empty(), "{}", render(&c.warnings));
    assert_eq!(c.alert_windows, None);

    let a = slo(&c, "headroom-api-availability");
    assert_eq!((a.service.as_str(), percent(a)), ("headroom", 99.9));
    assert_eq!(
        a.window,
        Window::Rolling {
            length: Span::days(30)
        }
    );
    assert_eq!(a.sli, Sli::Events);
    assert_eq!(a.alerting.min_events, 20.0);
    assert_eq!(a.alerting.tiers[0].labels["severity"], "critical");
    assert_eq!(a.alerting.tiers[1].for_, Span::minutes(5));

    let l = slo(&c, "headroom-api-latency");
    assert_eq!(percent(l), 99.0);
    assert_eq!(l.alerting.tiers.len(), 1);
    assert_eq!(l.alerting.tiers[0].severity, "ticket");

    let e = slo(&c, "example-checkout-availability");
    assert_eq!((e.service.as_str(), percent(e)), ("example", 99.5));
    assert_eq!(
        e.window,
        Window::Rolling {
            length: Span::days(7)
        }
    );
    assert!(e.grouping.is_empty());
    assert_eq!(e.sli, Sli::Events);
}

const NATIVE: &str = r#"anonymous_read: false
slos:
  - name: checkout-latency
    service: checkout
    description: Fast checkouts.
    target: 0.99
    window: {calendar: month, time_zone: Europe/Berlin}
    budgeting: {timeslices: {target: 0.9, slice: 5m}}
    sli:
      threshold:
        good: sum(rate(http_request_duration_seconds_bucket{le="0.3"}[{{.window}}]))
        total: sum(rate(http_request_duration_seconds_count[{{.window}}]))
        threshold: 0.3
    grouping: [region, route]
    labels: {team: shop}
    alerting:
      name: CheckoutSlow
      no_data: {after: 15m}
      ticket: {disable: true}
  - name: checkout-errors
    service: checkout
    objective: 99.95
    window: 28d
    budgeting: {ratio_timeslices: {slice: 1m}}
    sli:
      ratio:
        bad: sum(rate(errors[{{ .window }}]))
        total: sum(rate(requests[{{ .window }}]))
"#;

#[test]
fn native_happy_path() {
    let c = str_ok(NATIVE);
    assert!(!c.anonymous_read);
    let s = slo(&c, "checkout-latency");
    assert_eq!(s.name, "checkout-latency");
    assert_eq!(percent(s), 99.0);
    assert_eq!(
        s.window,
        Window::Calendar {
            unit: CalendarUnit::Month,
            tz: chrono_tz::Europe::Berlin
        }
    );
    assert_eq!(
        s.budgeting,
        BudgetingMethod::Timeslices {
            target: 0.9,
            slice: Span::minutes(5)
        }
    );
    assert_eq!(
        s.sli,
        Sli::Threshold {
            good: q(r#"sum(rate(http_request_duration_seconds_bucket{le="0.3"}[{{.window}}]))"#),
            total: q("sum(rate(http_request_duration_seconds_count[{{.window}}]))"),
            threshold: Some(0.3),
        }
    );
    assert_eq!(s.grouping, ["region", "route"]);
    assert_eq!(s.labels["team"], "shop");
    assert_eq!(s.alerting.name.as_deref(), Some("CheckoutSlow"));
    assert_eq!(
        s.alerting
            .tiers
            .iter()
            .map(|t| t.severity.as_str())
            .collect::<Vec<_>>(),
        ["page"]
    );
    let nd = s.alerting.no_data.as_ref().unwrap();
    assert_eq!(
        (nd.after, nd.severity.as_str()),
        (Span::minutes(15), "ticket")
    );
    // A calendar month scales the default factors as 30 days do.
    assert!((s.alerting.tiers[0].conditions[0].factor - 14.4).abs() < 1e-9);
    assert_eq!((s.source.line, s.source.column), (3, 5));

    let e = slo(&c, "checkout-errors");
    assert_eq!(percent(e), 99.95);
    assert_eq!(
        e.window,
        Window::Rolling {
            length: Span::days(28)
        }
    );
    assert_eq!(
        e.budgeting,
        BudgetingMethod::RatioTimeslices {
            slice: Span::minutes(1)
        }
    );
    assert!(matches!(
        e.sli,
        Sli::Ratio {
            queries: RatioQueries::BadTotal { .. },
            form: QueryForm::Windowed,
        }
    ));
    assert_eq!(
        c.services
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["checkout"]
    );
}

#[test]
fn unknown_field_suggests_the_known_one() {
    let problems =
        str_err("slos:\n  - name: a\n    service: s\n    objectve: 99.9\n    sli: {events: {}}\n");
    let got: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "test.yaml:4:5: unknown field \"objectve\" in SLO; did you mean \"objective\"?",
            "test.yaml:2:5: missing field \"objective\" in SLO (a percentage such as 99.9)",
        ]
    );
    let problems = str_err("anonymous_raed: true\n");
    assert_eq!(
        problems[0].to_string(),
        "test.yaml:1:1: unknown field \"anonymous_raed\" in headroom config; did you mean \"anonymous_read\"?"
    );
}

#[test]
fn bad_values_point_at_the_value() {
    let problems = str_err(
        "slos:\n  - name: a\n    service: s\n    objective: 99.9\n    window: 30x\n    sli: {events: {}}\n",
    );
    assert_eq!(problems.len(), 1);
    let p = &problems[0];
    assert_eq!((p.line, p.column), (5, 13));
    assert_eq!(
        p.message,
        "window: invalid duration \"30x\": unknown unit (use Prometheus syntax such as 30s, 5m, 1h30m, 28d, 4w)"
    );

    let problems = str_err(
        "slos:\n  - name: a\n    service: s\n    objective: 99.9\n    window: {calendar: month, time_zone: Europe/Berln}\n    sli: {events: {}}\n",
    );
    assert_eq!(
        problems[0].to_string(),
        "test.yaml:5:42: unknown time zone \"Europe/Berln\"; did you mean \"Europe/Berlin\"?"
    );
}

#[test]
fn every_bad_slo_is_reported_not_just_the_first() {
    let problems = str_err(
        r#"slos:
  - name: "-bad"
    service: s
    objective: 100
    sli: {events: {}}
  - name: ok
    service: s
    objective: 99
    sli:
      ratio: {good: "sum(rate(x[5m]))", total: "sum(rate(y[{{.window}}]))"}
    grouping: [route, 1x]
  - name: ok2
    service: s
    objective: 99
    budgeting: {timeslices: {target: 1.5, slice: 1m}}
    sli: {events: {}, raw: {error_ratio: "x[{{.window}}]"}}
"#,
    );
    let got: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "test.yaml:2:11: SLO name \"-bad\" is not a valid name: use letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
            "test.yaml:4:16: objective 100 is out of range: it must be above 0 and below 100 percent",
            "test.yaml:10:21: good query has no {{.window}} placeholder: the query must take its range from the window being evaluated, e.g. rate(x[{{.window}}])",
            "test.yaml:11:23: grouping label \"1x\" is not a valid Prometheus label name: use letters, digits and '_', not starting with a digit or with \"__\"",
            "test.yaml:15:38: target 1.5 is out of range: a slice target is a ratio above 0 and at most 1",
            "test.yaml:16:10: sli takes exactly one of events, ratio, threshold, raw or probe",
        ]
    );
}

#[test]
fn a_percentage_that_looks_like_a_ratio_warns() {
    let c =
        str_ok("slos:\n  - name: a\n    service: s\n    objective: 0.999\n    sli: {events: {}}\n");
    assert_eq!(c.warnings.len(), 1);
    assert!(
        c.warnings[0]
            .to_string()
            .starts_with("test.yaml:4:16: objective 0.999 is a percentage")
    );
}

#[test]
fn duplicate_ids_across_two_files() {
    let dir = tempfile::tempdir().unwrap();
    let slo = |name: &str| {
        format!(
            "slos:\n  - name: {name}\n    service: s\n    objective: 99\n    sli: {{events: {{}}}}\n"
        )
    };
    std::fs::write(dir.path().join("a.yaml"), slo("shared")).unwrap();
    std::fs::write(
        dir.path().join("b.yml"),
        format!("# second file\n{}", slo("shared")),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not: [yaml").unwrap();
    let problems = load_paths(&[dir.path().to_path_buf()]).unwrap_err();
    let a = dir.path().join("a.yaml").display().to_string();
    let b = dir.path().join("b.yml").display().to_string();
    assert_eq!(problems.len(), 1, "{}", render(&problems));
    assert_eq!(
        problems[0].to_string(),
        format!("{b}:3:5: duplicate SLO id \"shared\": already defined at {a}:2:5")
    );
}

#[test]
fn settings_may_be_given_once() {
    let problems = load_sources(&[
        ("a.yaml".into(), "anonymous_read: true\n".into()),
        ("b.yaml".into(), "anonymous_read: false\n".into()),
    ])
    .unwrap_err();
    assert_eq!(
        problems[0].to_string(),
        "b.yaml:1:17: anonymous_read is already set at a.yaml:1:17; set it once"
    );
}

#[test]
fn syntax_errors_and_unknown_formats_are_located() {
    let problems = str_err("slos:\n  - name: a\n   service: [s\n");
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].message.starts_with("invalid YAML: "),
        "{}",
        problems[0]
    );
    assert_eq!(problems[0].line, 3);

    let problems = str_err("apiVersion: example.com/v9\nkind: Thing\n");
    assert_eq!(
        problems[0].to_string(),
        "test.yaml:1:13: unsupported apiVersion \"example.com/v9\": headroom reads sloth.slok.dev/v1, openslo/v1 and openslo/v1alpha (or its own format, which has no apiVersion)"
    );
}

#[test]
fn problem_display_is_file_line_column_message() {
    let p = Problem {
        file: "a.yaml".into(),
        line: 3,
        column: 7,
        message: "boom".into(),
        kind: ProblemKind::Invalid,
    };
    assert_eq!(p.to_string(), "a.yaml:3:7: boom");
}

#[test]
fn one_directory_mixes_native_sloth_and_openslo() {
    // A config directory as a user keeps it: the files are put there at test time.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("sloth/examples/getting-started.yml"),
        dir.path().join("sloth.yml"),
    )
    .unwrap();
    std::fs::copy(
        fixture("openslo/v1/slos.yaml"),
        dir.path().join("openslo-slos.yaml"),
    )
    .unwrap();
    std::fs::copy(
        fixture("openslo/v1/slis.yaml"),
        dir.path().join("openslo-slis.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("native.yaml"),
        "slos:\n  - name: checkout\n    service: shop\n    objective: 99.5\n    window: 7d\n    sli:\n      events: {}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a config").unwrap();
    let config = load_paths_for_rules(&[dir.path().to_path_buf()])
        .unwrap_or_else(|p| panic!("{}", render(&p)));
    let ids: BTreeSet<&str> = ids(&config).into_iter().collect();
    let sloth_and_native = ["myservice-requests-availability", "checkout"];
    for id in sloth_and_native {
        assert!(ids.contains(id), "{id} missing from {ids:?}");
    }
    let alone = load_paths_for_rules(&[
        fixture("openslo/v1/slos.yaml"),
        fixture("openslo/v1/slis.yaml"),
    ])
    .unwrap();
    for slo in &alone.slos {
        assert!(
            ids.contains(slo.id.as_str()),
            "OpenSLO SLO {} missing from {ids:?}",
            slo.id
        );
    }
    assert_eq!(ids.len(), alone.slos.len() + 2);
    assert_eq!(percent(slo(&config, "checkout")), 99.5);
}
