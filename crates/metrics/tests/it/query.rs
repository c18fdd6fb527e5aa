//! Every PromQL query of the shared Sloth and OpenSLO fixtures, as the loader reads them:
//! each SLO either plans natively or is refused with its construct named. The outcome of every
//! SLO is in the table, so a change in either direction shows up here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use headroom_metrics::plan;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures");

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// Plans natively with this many good and total terms.
    Native { good: usize, total: usize },
    /// Refused: (query, the start of the construct named).
    Refused(&'static str, &'static str),
}
use Outcome::*;

/// One good term and one total term (a rate, a counter's increase, a per-interval sum, a
/// threshold metric's samples).
const RATE_GOOD_TOTAL: Outcome = Native { good: 1, total: 1 };
/// `error_query` / `total_query`: good = total − bad.
const RATE_BAD_TOTAL: Outcome = Native { good: 2, total: 1 };

/// Per file (relative to the fixtures), every SLO id it loads and its outcome.
const TABLE: &[(&str, &[(&str, Outcome)])] = &[
    (
        "sloth/examples/contrib-denominator-corrected.yaml",
        &[("svc01-slo1", RATE_BAD_TOTAL)],
    ),
    (
        "sloth/examples/contrib-slo-plugins.yml",
        &[
            (
                "myservice-requests-availability-contrib-plugin-info-labels-v1",
                RATE_BAD_TOTAL,
            ),
            (
                "myservice-requests-availability-contrib-plugin-rule-intervals-v1",
                RATE_BAD_TOTAL,
            ),
        ],
    ),
    (
        "sloth/examples/getting-started.yml",
        &[("myservice-requests-availability", RATE_BAD_TOTAL)],
    ),
    (
        "sloth/examples/home-wifi.yml",
        &[
            (
                "home-wifi-good-wifi-client-satisfaction",
                Refused("bad", "`or`"),
            ),
            (
                "home-wifi-risk-wifi-client-satisfaction",
                Refused("bad", "`or`"),
            ),
        ],
    ),
    (
        "sloth/examples/k8s-getting-started.yml",
        &[("myservice-requests-availability", RATE_BAD_TOTAL)],
    ),
    (
        "sloth/examples/k8s-home-wifi.yml",
        &[
            (
                "home-wifi-good-wifi-client-satisfaction",
                Refused("bad", "`or`"),
            ),
            (
                "home-wifi-risk-wifi-client-satisfaction",
                Refused("bad", "`or`"),
            ),
        ],
    ),
    (
        "sloth/examples/k8s-multifile.yml",
        &[
            ("myservice-requests-availability", RATE_BAD_TOTAL),
            ("myservice2-requests-availability", RATE_BAD_TOTAL),
        ],
    ),
    (
        "sloth/examples/kubernetes-apiserver.yml",
        &[
            ("k8s-apiserver-requests-availability", RATE_BAD_TOTAL),
            // bad = count − bucket{le="0.4"}, so good = count − (count − bucket).
            (
                "k8s-apiserver-requests-latency",
                Native { good: 3, total: 1 },
            ),
        ],
    ),
    (
        "sloth/examples/multifile.yml",
        &[
            ("myservice-requests-availability", RATE_BAD_TOTAL),
            ("myservice2-requests-availability", RATE_BAD_TOTAL),
        ],
    ),
    (
        "sloth/examples/no-alerts.yml",
        &[("myapp-http-availability", RATE_BAD_TOTAL)],
    ),
    (
        "sloth/examples/openslo-getting-started.yml",
        &[("sloth-slo-my-service", RATE_GOOD_TOTAL)],
    ),
    (
        "sloth/examples/openslo-kubernetes-apiserver.yml",
        &[
            ("requests-availability-openslo", RATE_GOOD_TOTAL),
            ("requests-latency-openslo", RATE_GOOD_TOTAL),
            ("requests-latency-openslo-1", RATE_GOOD_TOTAL),
        ],
    ),
    (
        "sloth/examples/plugin-getting-started.yml",
        &[("myservice-requests-availability", RATE_BAD_TOTAL)],
    ),
    (
        "sloth/examples/plugin-k8s-getting-started.yml",
        &[("myservice-requests-availability", RATE_BAD_TOTAL)],
    ),
    (
        "sloth/examples/raw-home-wifi.yml",
        // 1 - (sum(sum_over_time(…)) / sum(count_over_time(…))).
        &[("home-wifi-wifi-client-satisfaction", RATE_GOOD_TOTAL)],
    ),
    (
        "sloth/examples/slo-plugin-getting-started.yml",
        &[("myservice-requests-availability", RATE_BAD_TOTAL)],
    ),
    (
        "sloth/examples/slo-plugin-k8s-getting-started.yml",
        &[("myservice-requests-availability", RATE_BAD_TOTAL)],
    ),
    (
        "sloth/examples/victoria-metrics.yml",
        &[
            (
                "foo-bar-grpc-latency-percentile-90",
                Refused("bad", "`histogram_share()`"),
            ),
            (
                "foo-bar-grpc-latency-percentile-99",
                Refused("bad", "`histogram_share()`"),
            ),
        ],
    ),
    // Sloth's AlertWindows documents: no SLOs.
    ("sloth/examples/windows/7d.yaml", &[]),
    ("sloth/examples/windows/custom-30d.yaml", &[]),
    ("sloth/examples/windows/google-28d.yaml", &[]),
    ("sloth/examples/windows/google-30d.yaml", &[]),
    (
        "openslo/v1/slos.yaml",
        // `counter: true` over `sum(http_requests{…})`: each selector's increase.
        &[("web-availability", RATE_GOOD_TOTAL)],
    ),
    // SLIs, services, alert policies, conditions, targets and data sources: no SLOs of their own.
    ("openslo/v1/slis.yaml", &[]),
    ("openslo/v1/services.yaml", &[]),
    ("openslo/v1/alert_policies.yaml", &[]),
    ("openslo/v1/alert_conditions.yaml", &[]),
    ("openslo/v1/alert_notification_targets.yaml", &[]),
    ("openslo/v1/data_sources.yaml", &[]),
    // The spec's examples write `query: Any`, which PromQL reads as a bare metric name, and no
    // `counter`: each sample is the count of its own interval.
    (
        "openslo/budgeting-method/low-traffic-timeslices-slo.yaml",
        &[("service-availability", RATE_GOOD_TOTAL)],
    ),
    (
        "openslo/budgeting-method/occurences-slo.yaml",
        // A threshold metric: its samples meeting `lt 500`, of all its samples.
        &[("search-slo", RATE_GOOD_TOTAL)],
    ),
    (
        "openslo/budgeting-method/ratio-timeslices.yaml",
        &[("main-page", RATE_GOOD_TOTAL)],
    ),
    (
        "openslo/budgeting-method/timeslices-slo.yaml",
        // Two objectives: two SLOs.
        &[
            ("service-availability", RATE_GOOD_TOTAL),
            ("service-availability-1", RATE_GOOD_TOTAL),
        ],
    ),
];

fn yaml_files(dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::from(FIXTURES).join(dir)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            // `_gen` holds Sloth's generated rules (not specs), `plugins` Go sources.
            if p.is_dir() && !p.ends_with("_gen") && !p.ends_with("plugins") {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                out.push(p.strip_prefix(FIXTURES).unwrap().display().to_string());
            }
        }
    }
    out
}

/// The outcome of each loaded SLO, from `plan` itself.
fn planned(file: &str, slos: &[headroom_core::Slo]) -> BTreeMap<String, Outcome> {
    slos.iter()
        .map(|s| {
            let outcome = match plan(&s.sli, &s.grouping) {
                Ok(Some(p)) => Native {
                    good: p.good.terms.len(),
                    total: p.total.terms.len(),
                },
                Ok(None) => panic!("{file}: {} has no queries", s.id),
                Err(u) => {
                    assert!(
                        u.message
                            .starts_with(&format!("{} is not supported natively", u.construct))
                            && u.message.contains(BACKEND_HINT),
                        "{file}: {}: {}",
                        s.id,
                        u.message
                    );
                    refused(file, &s.id, u.query, &u.construct)
                }
            };
            (s.id.to_string(), outcome)
        })
        .collect()
}

const BACKEND_HINT: &str = "this SLO can run via an external Prometheus-compatible backend (declare it under `backends:`, then name it as the SLI's `backend:` or mark it `default: true`)";

/// The outcome a loader problem reports: `SLO "<id>": its <query> query cannot run natively:
/// <Unsupported message>`. Any other problem fails the test.
fn refusal(file: &str, message: &str) -> (String, Outcome) {
    let parse = || -> Option<(String, &str, &str)> {
        let rest = message.split_once("SLO \"")?.1;
        let (id, rest) = rest.split_once("\": its ")?;
        let (query, rest) = rest.split_once(" query cannot run natively: ")?;
        let (construct, _) = rest.split_once(" is not supported natively")?;
        rest.contains(BACKEND_HINT)
            .then_some((id.to_string(), query, construct))
    };
    let Some((id, query, construct)) = parse() else {
        panic!("{file} fails to load for another reason: {message}")
    };
    let query = match query {
        "good" => "good",
        "total" => "total",
        "bad" => "bad",
        "error_ratio" => "error_ratio",
        "threshold" => "threshold",
        other => panic!("{file}: {id}: unknown query {other:?}"),
    };
    let outcome = refused(file, &id, query, construct);
    (id, outcome)
}

/// Finds the table's expectation for a refused SLO and checks the construct starts with it.
fn refused(file: &str, id: &str, query: &'static str, construct: &str) -> Outcome {
    let want = TABLE
        .iter()
        .find(|(f, _)| *f == file)
        .and_then(|(_, slos)| slos.iter().find(|(i, _)| *i == id))
        .map(|(_, o)| *o);
    match want {
        Some(Refused(q, c)) if q == query && construct.starts_with(c) => Refused(q, c),
        _ => panic!(
            "{file}: {id}: refused in its {query} query for {construct:?}, table says {want:?}"
        ),
    }
}

#[test]
fn every_fixture_query_plans_natively_or_names_its_construct() {
    let mut files = yaml_files("sloth/examples");
    files.extend(yaml_files("openslo"));
    files.sort();
    let mut listed: Vec<String> = TABLE.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "every fixture file has a row, and every row a file"
    );

    let mut native = 0;
    let mut refusals = 0;
    for (file, want) in TABLE {
        let path = PathBuf::from(FIXTURES).join(file);
        let got = match headroom_spec::load_paths(&[path]) {
            Ok(config) => planned(file, &config.slos),
            // The loader refuses an SLO that cannot run natively and names no backend, with
            // the same `Unsupported` message: read the outcome from its problems.
            Err(problems) => problems.iter().map(|p| refusal(file, &p.message)).collect(),
        };
        let want: BTreeMap<String, Outcome> =
            want.iter().map(|(id, o)| (id.to_string(), *o)).collect();
        assert_eq!(got, want, "{file}");
        for o in want.values() {
            match o {
                Native { .. } => native += 1,
                Refused(..) => refusals += 1,
            }
        }
    }
    assert_eq!((native, refusals), (27, 6));
}
