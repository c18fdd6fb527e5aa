//! The same SLO evaluated natively by headroom and by a real Prometheus running the rules
//! headroom generates for it, over the same data, agree: budget remaining within 0.1 percentage
//! point, and every alert firing and resolving within one evaluation interval of headroom.
//!
//! headroom's side is its backtest: per-minute (good, total) events replayed through the engine.
//! Prometheus's side is `promtool test rules` (Debian's prometheus package): the same minutes as
//! cumulative counter samples, the generated rules evaluated every minute by Prometheus's own rule
//! manager and PromQL engine.
//!
//! One time axis for both: the event of minute `m` is stamped `T0 + m` minutes and the counters
//! sampled at Prometheus time `m` minutes include it. headroom evaluating at minute `m` sees the
//! windows ending with minute `m`'s bucket; Prometheus's `rate(x[w])` at `m` takes the samples at
//! `m - w ..= m` (2.x ranges include their start), so both read the same minutes. The counters
//! start at 0 at time 0, one minute before the first event, so a window reaching back before the
//! data has a zero first sample and Prometheus does not extrapolate it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use headroom_core::{AlertState, Sli, Slo, Span, Timestamp};
use headroom_engine::backtest::{self, Report};
use headroom_ingest::{Event, RecordedEvent};
use headroom_rules::{Format, Options, generate, prom_duration, to_yaml};
use headroom_spec::{Purpose, load_sources_for};

use crate::common;

const SPEC: &str = r#"
version: "prometheus/v1"
service: "checkout"
slos:
  - name: "requests-availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      name: CheckoutHighErrorRate
      page_alert:
        labels:
          severity: critical
      ticket_alert:
        labels:
          severity: warning
"#;

const MIN_MS: i64 = 60_000;
/// 2026-01-05 00:00 UTC, headroom's time of Prometheus time 0.
const T0: i64 = 1_767_571_200_000;

/// Requests per minute, constant: Sloth's period SLI averages the 5m error ratios, which is the
/// period's error ratio only when every minute carries the same traffic.
const REQUESTS: f64 = 10_000.0;
/// Errors per minute outside the burst: 0.01%, a tenth of the budget's rate.
const STEADY_ERRORS: f64 = 1.0;
/// Errors per minute in the burst: 2%, a 20× burn that pages through the 1h/5m window pair.
const BURST_ERRORS: f64 = 200.0;
/// Three days and a bit of steady traffic first, so even the 3d window is full of it.
const BURST_START: i64 = 4400;
/// Long enough for the ticket's 3d/6h condition (1×) to fire as well.
const BURST_MINUTES: i64 = 200;
const BURST_END: i64 = BURST_START + BURST_MINUTES;
/// Long enough after the burst for both alerts to resolve.
const LAST_MINUTE: i64 = BURST_END + 400;

/// Prometheus's evaluation interval, and the alert-time tolerance.
const INTERVAL_S: i64 = 60;
/// Budget tolerance: 0.1 percentage point.
const BUDGET_TOLERANCE: f64 = 0.001;

/// Instants (minutes) at which the budgets are compared: before the burst, shortly after it,
/// after the page and ticket resolve, and at the end. Each has at least four minutes at the
/// steady error rate behind it: Sloth's period SLI is the mean of the 5m ratios recorded each
/// minute, in which the last four minutes weigh 4/5, 3/5, 2/5 and 1/5 and the first four of the
/// data as much too much, so it equals the period's error ratio only when those minutes have the
/// error rate of the first ones.
const BUDGET_INSTANTS: [i64; 4] = [
    BURST_START - 1,
    BURST_END + 10,
    BURST_END + 360,
    LAST_MINUTE,
];
/// An instant inside the burst, where Sloth's figure trails by that weighting; compared against
/// the trail predicted from it instead.
const MID_BURST: i64 = BURST_START + 100;

fn errors_in(minute: i64) -> f64 {
    if (BURST_START..BURST_END).contains(&minute) {
        BURST_ERRORS
    } else {
        STEADY_ERRORS
    }
}

fn slos() -> Vec<Slo> {
    let cfg = load_sources_for(&[("checkout.yml".into(), SPEC.into())], Purpose::Rules)
        .unwrap_or_else(|p| panic!("spec: {p:?}"));
    assert_eq!(cfg.slos.len(), 1);
    cfg.slos
}

/// headroom's own SLO: the same one, its SLI counts pushed as events.
fn native(slo: &Slo) -> Slo {
    Slo {
        sli: Sli::Events,
        ..slo.clone()
    }
}

fn events(slo: &str, through: i64) -> Vec<RecordedEvent> {
    (1..=through)
        .map(|m| RecordedEvent {
            slo: slo.to_string(),
            event: Event {
                at: Timestamp(T0 + m * MIN_MS),
                good: REQUESTS - errors_in(m),
                total: REQUESTS,
                labels: BTreeMap::new(),
            },
        })
        .collect()
}

/// The counter values at Prometheus times `0, 1m, …, LAST_MINUTE`: 0, then the running sums.
fn counter(per_minute: impl Fn(i64) -> f64) -> String {
    let mut sum = 0.0;
    let mut values = vec!["0".to_string()];
    for m in 1..=LAST_MINUTE {
        sum += per_minute(m);
        values.push(format!("{sum}"));
    }
    values.join(" ")
}

/// One figure read from Prometheus: `expr` evaluated at `minute`.
struct Probe {
    expr: String,
    minute: i64,
}

/// The `promtool test rules` file. promtool prints a result only when it differs from the
/// expected one, so every probe expects no samples and its value is read from the failure report.
fn unit_test(rule_file: &str, groups: &[String], probes: &[Probe]) -> String {
    let mut t = String::new();
    writeln!(t, "rule_files: [{rule_file:?}]").unwrap();
    writeln!(t, "evaluation_interval: {INTERVAL_S}s").unwrap();
    // Recordings before the rules that read them, as each Prometheus group would see the others'
    // latest results; without an order promtool evaluates the groups in map order.
    writeln!(t, "group_eval_order:").unwrap();
    for g in groups {
        writeln!(t, "  - {g:?}").unwrap();
    }
    writeln!(t, "tests:").unwrap();
    writeln!(t, "  - interval: {INTERVAL_S}s").unwrap();
    writeln!(t, "    input_series:").unwrap();
    writeln!(t, "      - series: 'http_requests_total{{code=\"500\"}}'").unwrap();
    writeln!(t, "        values: '{}'", counter(errors_in)).unwrap();
    writeln!(t, "      - series: 'http_requests_total{{code=\"200\"}}'").unwrap();
    writeln!(
        t,
        "        values: '{}'",
        counter(|m| REQUESTS - errors_in(m))
    )
    .unwrap();
    writeln!(t, "    promql_expr_test:").unwrap();
    for p in probes {
        writeln!(t, "      - expr: {:?}", p.expr).unwrap();
        writeln!(t, "        eval_time: {}m", p.minute).unwrap();
        writeln!(t, "        exp_samples: []").unwrap();
    }
    t
}

/// Runs promtool and reads each probe's single value from its report.
fn run_probes(
    promtool: &Path,
    dir: &Path,
    rules: &str,
    groups: &[String],
    probes: &[Probe],
) -> Vec<f64> {
    std::fs::write(dir.join("rules.yml"), rules).expect("write rules");
    let test = dir.join("test.yml");
    std::fs::write(&test, unit_test("rules.yml", groups, probes)).expect("write test");
    let out = Command::new(promtool)
        .arg("test")
        .arg("rules")
        .arg(&test)
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Report lines: `expr: "<Go-quoted expr>", time: <t>,`, `exp: nil`, `got: {labels} <value>`.
    let mut got: BTreeMap<(String, String), String> = BTreeMap::new();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("expr: ") else {
            continue;
        };
        let (quoted, time) = rest
            .rsplit_once(", time: ")
            .unwrap_or_else(|| panic!("unexpected promtool line {line:?}:\n{text}"));
        let expr = quoted[1..quoted.len() - 1]
            .replace("\\\"", "\"")
            .replace("\\\\", "\\");
        let value = lines
            .get(i + 2)
            .and_then(|l| l.strip_prefix("got: "))
            .unwrap_or_else(|| panic!("no result after {line:?}:\n{text}"));
        got.insert((expr, time.trim_end_matches(',').to_string()), value.into());
    }
    probes
        .iter()
        .map(|p| {
            // promtool prints the time as Prometheus writes durations.
            let key = (p.expr.clone(), prom_duration(Span::minutes(p.minute)));
            let value = got.get(&key).unwrap_or_else(|| {
                panic!(
                    "Prometheus returned nothing for {:?} at {}m:\n{text}",
                    p.expr, p.minute
                )
            });
            assert!(
                !value.contains(", {"),
                "{:?} at {}m: more than one series: {value}",
                p.expr,
                p.minute
            );
            let (_, v) = value.rsplit_once(' ').expect("labels and value");
            v.parse()
                .unwrap_or_else(|e| panic!("{:?}: bad value {v:?}: {e}", p.expr))
        })
        .collect()
}

/// Minutes of headroom's transitions of `severity` to `to`.
fn transitions(report: &Report, severity: &str, to: AlertState) -> Vec<i64> {
    report
        .transitions
        .iter()
        .filter(|t| t.severity == severity && t.to == to)
        .map(|t| (t.at.millis() - T0) / MIN_MS)
        .collect()
}

fn headroom_budget(slo: &Slo, at: i64) -> f64 {
    let report = backtest::run(vec![slo.clone()], events(&slo.id, at)).expect("backtest");
    assert_eq!(report.summary.len(), 1);
    report.summary[0].budget_remaining
}

#[test]
fn headroom_and_prometheus_agree_on_budget_and_alerts() {
    let promtool = common::promtool();
    let slos = slos();
    let slo = native(&slos[0]);
    let id = slo.id.to_string();

    // headroom.
    let report = backtest::run(vec![slo.clone()], events(&id, LAST_MINUTE)).expect("backtest");

    // Prometheus.
    let groups = generate(&slos, &Options::default()).expect("generate");
    let group_names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
    let rules = to_yaml(&groups, &Format::Prometheus);
    // The rules name the SLO as Sloth does.
    let sloth_id = slo.rules.id.as_str();
    let budget_expr = format!("slo:period_error_budget_remaining:ratio{{sloth_id={sloth_id:?}}}");
    let mut probes: Vec<Probe> = BUDGET_INSTANTS
        .iter()
        .chain([&MID_BURST])
        .map(|&minute| Probe {
            expr: budget_expr.clone(),
            minute,
        })
        .collect();
    let severities = ["page", "ticket"];
    for sev in severities {
        let firing = format!(
            "ALERTS{{alertstate=\"firing\", sloth_id={sloth_id:?}, sloth_severity=\"{sev}\"}}"
        );
        // First and last minute it was firing, and in how many evaluations.
        for expr in [
            format!("min_over_time(timestamp({firing})[{LAST_MINUTE}m:1m])"),
            format!("max_over_time(timestamp({firing})[{LAST_MINUTE}m:1m])"),
            format!("count_over_time({firing}[{LAST_MINUTE}m])"),
        ] {
            probes.push(Probe {
                expr,
                minute: LAST_MINUTE,
            });
        }
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let values = run_probes(&promtool, tmp.path(), &rules, &group_names, &probes);

    let mut failures = Vec::new();

    println!("budget remaining, percent (headroom vs Prometheus):");
    for (i, &minute) in BUDGET_INSTANTS.iter().enumerate() {
        let ours = headroom_budget(&slo, minute);
        let theirs = values[i];
        let diff = (ours - theirs).abs();
        println!(
            "  minute {minute:>4}: headroom {:>9.4}  Prometheus {:>9.4}  |diff| {:.1e} pp",
            ours * 100.0,
            theirs * 100.0,
            diff * 100.0
        );
        if diff >= BUDGET_TOLERANCE {
            failures.push(format!(
                "budget at minute {minute}: headroom {ours}, Prometheus {theirs}"
            ));
        }
    }
    {
        let ours = headroom_budget(&slo, MID_BURST);
        let theirs = values[BUDGET_INSTANTS.len()];
        // In Sloth's mean of the 5m ratios over j samples the first four minutes of data count two
        // minutes too much and the last four two minutes too little.
        let budget = 1.0 - slo.objective.ratio();
        let trail = 2.0 * (BURST_ERRORS - STEADY_ERRORS) / REQUESTS / (MID_BURST as f64 * budget);
        println!(
            "  minute {MID_BURST:>4} (in the burst): headroom {:.4}  Prometheus {:.4}  \
             Sloth's 5m-mean trail predicted {:.4} pp, seen {:.4} pp",
            ours * 100.0,
            theirs * 100.0,
            trail * 100.0,
            (theirs - ours) * 100.0
        );
        if (theirs - (ours + trail)).abs() >= BUDGET_TOLERANCE {
            failures.push(format!(
                "budget in the burst (minute {MID_BURST}): headroom {ours} + Sloth's trail \
                 {trail}, Prometheus {theirs}"
            ));
        }
    }

    println!("alerts, minute firing / resolved (headroom vs Prometheus):");
    for (k, sev) in severities.iter().enumerate() {
        let fired = transitions(&report, sev, AlertState::Firing);
        let resolved = transitions(&report, sev, AlertState::Resolved);
        assert_eq!(
            (fired.len(), resolved.len()),
            (1, 1),
            "{sev}: the scenario should fire and resolve it once in headroom: fired {fired:?}, \
             resolved {resolved:?}"
        );
        let base = BUDGET_INSTANTS.len() + 1 + 3 * k;
        let (first, last, count) = (values[base], values[base + 1], values[base + 2]);
        // One unbroken firing spell, from `first` through `last`.
        let spell = (last - first) / INTERVAL_S as f64 + 1.0;
        if count != spell {
            failures.push(format!(
                "{sev}: Prometheus fired in {count} evaluations between {first}s and {last}s: \
                 more than one spell"
            ));
        }
        let (p_fire, p_resolve) = (first, last + INTERVAL_S as f64);
        let (h_fire, h_resolve) = ((fired[0] * 60) as f64, (resolved[0] * 60) as f64);
        println!(
            "  {sev:<6}: firing   headroom {:>4}  Prometheus {:>4}\n          resolved headroom \
             {:>4}  Prometheus {:>4}",
            fired[0],
            p_fire / 60.0,
            resolved[0],
            p_resolve / 60.0
        );
        for (what, h, p) in [
            ("fires", h_fire, p_fire),
            ("resolves", h_resolve, p_resolve),
        ] {
            if (h - p).abs() > INTERVAL_S as f64 {
                failures.push(format!(
                    "{sev} {what}: headroom at {}m, Prometheus at {}m",
                    h / 60.0,
                    p / 60.0
                ));
            }
        }
    }
    // The scenario exercises what it means to: the page within the burst, resolved after it.
    let page = transitions(&report, "page", AlertState::Firing)[0];
    assert!((BURST_START..BURST_END).contains(&page), "page at {page}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
