//! Generated rules against Sloth v0.16's own output for its examples: group names, intervals and
//! rule order, label and annotation maps, and PromQL expressions byte for byte. A differing
//! expression is also compared as parsed PromQL (numbers numerically), so a failure says whether
//! only the layout differs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use headroom_rules::{Format, InfoLabels, Options, Rule, RuleGroup, generate, to_yaml};
use serde::Deserialize;

use crate::common;

const EXAMPLES: &str = "../../../shared/fixtures/sloth/examples";

/// Specs that must load and match Sloth's output exactly: every example. Those with SLI plugins
/// use `getting_started_availability` (Sloth's example plugin, which headroom writes natively);
/// the SLO plugins of the others are Sloth's own, each run natively too.
const REQUIRED: &[&str] = &[
    "contrib-denominator-corrected.yaml",
    "contrib-slo-plugins.yml",
    "getting-started.yml",
    "home-wifi.yml",
    "k8s-getting-started.yml",
    "k8s-home-wifi.yml",
    "k8s-multifile.yml",
    "kubernetes-apiserver.yml",
    "multifile.yml",
    "no-alerts.yml",
    "openslo-getting-started.yml",
    "openslo-kubernetes-apiserver.yml",
    "plugin-getting-started.yml",
    "plugin-k8s-getting-started.yml",
    "raw-home-wifi.yml",
    "slo-plugin-getting-started.yml",
    "slo-plugin-k8s-getting-started.yml",
    "victoria-metrics.yml",
];

#[derive(Debug, Deserialize)]
struct Doc {
    groups: Option<Vec<G>>,
    spec: Option<Spec>,
}

#[derive(Debug, Deserialize)]
struct Spec {
    groups: Vec<G>,
}

#[derive(Debug, Deserialize, Clone)]
struct G {
    name: String,
    interval: Option<String>,
    #[serde(default)]
    rules: Vec<R>,
}

#[derive(Debug, Deserialize, Clone)]
struct R {
    record: Option<String>,
    alert: Option<String>,
    expr: String,
    #[serde(rename = "for")]
    for_: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

fn parse_groups(text: &str) -> Vec<G> {
    let docs: Vec<Option<Doc>> =
        serde_saphyr::from_multiple(text).unwrap_or_else(|e| panic!("golden YAML: {e}"));
    docs.into_iter()
        .flatten()
        .flat_map(|d| {
            d.groups
                .unwrap_or_default()
                .into_iter()
                .chain(d.spec.map(|s| s.groups).unwrap_or_default())
        })
        .collect()
}

fn ours_as_g(groups: &[RuleGroup]) -> Vec<G> {
    groups
        .iter()
        .map(|g| G {
            name: g.name.clone(),
            interval: g.interval.clone(),
            rules: g
                .rules
                .iter()
                .map(|r| match r {
                    Rule::Record {
                        record,
                        expr,
                        labels,
                    } => R {
                        record: Some(record.clone()),
                        alert: None,
                        expr: expr.clone(),
                        for_: None,
                        labels: labels.clone(),
                        annotations: BTreeMap::new(),
                    },
                    Rule::Alert {
                        alert,
                        expr,
                        for_,
                        labels,
                        annotations,
                    } => R {
                        record: None,
                        alert: Some(alert.clone()),
                        expr: expr.clone(),
                        for_: for_.clone(),
                        labels: labels.clone(),
                        annotations: annotations.clone(),
                    },
                })
                .collect(),
        })
        .collect()
}

#[derive(Debug, PartialEq)]
enum Tok {
    Num(f64),
    Other(String),
}

/// Tokens of a PromQL text: identifiers (with their digits), quoted strings, numbers, and
/// single punctuation characters; whitespace dropped.
fn tokens(s: &str) -> Vec<Tok> {
    let cs: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_alphabetic() || c == '_' || c == ':' {
            let st = i;
            while i < cs.len() && (cs[i].is_alphanumeric() || cs[i] == '_' || cs[i] == ':') {
                i += 1;
            }
            out.push(Tok::Other(
                cs[st..i].iter().collect::<String>().to_lowercase(),
            ));
        } else if c == '"' || c == '\'' || c == '`' {
            let st = i;
            i += 1;
            while i < cs.len() && cs[i] != c {
                if cs[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            let body: String = cs[st + 1..(i - 1).min(cs.len())].iter().collect();
            out.push(Tok::Other(format!("\"{body}\"")));
        } else if c.is_ascii_digit()
            || (c == '.' && cs.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let st = i;
            while i < cs.len()
                && (cs[i].is_ascii_digit()
                    || cs[i] == '.'
                    || ((cs[i] == 'e' || cs[i] == 'E')
                        && cs
                            .get(i + 1)
                            .is_some_and(|n| n.is_ascii_digit() || *n == '-')))
            {
                if cs[i] == 'e' || cs[i] == 'E' {
                    i += 1;
                }
                i += 1;
            }
            let t: String = cs[st..i].iter().collect();
            out.push(match t.parse::<f64>() {
                Ok(v) => Tok::Num(v),
                Err(_) => Tok::Other(t),
            });
        } else {
            out.push(Tok::Other(c.to_string()));
            i += 1;
        }
    }
    out
}

fn same_tokens(a: &str, b: &str) -> bool {
    let (ta, tb) = (tokens(a), tokens(b));
    ta.len() == tb.len()
        && ta.iter().zip(&tb).all(|p| match p {
            (Tok::Num(x), Tok::Num(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
            (x, y) => x == y,
        })
}

/// Whether two expressions are the same PromQL: both parsed and printed, then compared with
/// numbers within 1e-9. `Err` when the parser rejects one of them (text compared instead).
fn same_expr(a: &str, b: &str) -> Result<bool, String> {
    match (
        promql_parser::parser::parse(a),
        promql_parser::parser::parse(b),
    ) {
        (Ok(x), Ok(y)) => Ok(same_tokens(&x.to_string(), &y.to_string())),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// Differences between Sloth's groups and ours; also counts parser fallbacks.
fn diff(want: &[G], got: &[G], fallbacks: &mut Vec<String>) -> Vec<String> {
    let mut d = Vec::new();
    let wn: Vec<&str> = want.iter().map(|g| g.name.as_str()).collect();
    let gn: Vec<&str> = got.iter().map(|g| g.name.as_str()).collect();
    if wn != gn {
        d.push(format!(
            "group names differ:\n  sloth: {wn:?}\n  ours:  {gn:?}"
        ));
        return d;
    }
    for (w, g) in want.iter().zip(got) {
        if w.interval != g.interval {
            d.push(format!(
                "{}: interval {:?} != {:?}",
                w.name, w.interval, g.interval
            ));
        }
        let names = |rs: &[R]| -> Vec<String> {
            rs.iter()
                .map(|r| r.record.clone().or(r.alert.clone()).unwrap_or_default())
                .collect()
        };
        if names(&w.rules) != names(&g.rules) {
            d.push(format!(
                "{}: rules differ:\n  sloth: {:?}\n  ours:  {:?}",
                w.name,
                names(&w.rules),
                names(&g.rules)
            ));
            continue;
        }
        for (i, (wr, gr)) in w.rules.iter().zip(&g.rules).enumerate() {
            let at = format!("{} rule {i} ({})", w.name, names(&w.rules)[i]);
            if wr.record.is_some() != gr.record.is_some() {
                d.push(format!("{at}: record vs alert"));
            }
            if wr.for_ != gr.for_ {
                d.push(format!("{at}: for {:?} != {:?}", wr.for_, gr.for_));
            }
            if wr.labels != gr.labels {
                d.push(format!(
                    "{at}: labels\n  sloth: {:?}\n  ours:  {:?}",
                    wr.labels, gr.labels
                ));
            }
            if wr.annotations != gr.annotations {
                d.push(format!(
                    "{at}: annotations\n  sloth: {:?}\n  ours:  {:?}",
                    wr.annotations, gr.annotations
                ));
            }
            if wr.expr == gr.expr {
                continue;
            }
            let same = match same_expr(&wr.expr, &gr.expr) {
                Ok(s) => s,
                Err(e) => {
                    fallbacks.push(format!("{at}: {e}"));
                    same_tokens(&wr.expr, &gr.expr)
                }
            };
            let how = if same {
                "same PromQL, different text"
            } else {
                "different PromQL"
            };
            d.push(format!(
                "{at}: expr ({how})\n  sloth: {:?}\n  ours:  {:?}",
                wr.expr, gr.expr
            ));
        }
    }
    d
}

/// The options `examplesgen.sh` ran Sloth with: one extra label. The spec and mode on
/// `sloth_slo_info` come from each SLO's format, as they do in Sloth.
fn options() -> Options {
    Options {
        extra_labels: [("cmd".to_string(), "examplesgen.sh".to_string())].into(),
        info: InfoLabels {
            version: "dev".into(),
        },
        ..Options::default()
    }
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLES)
}

#[test]
fn sloth_examples_generate_the_same_rules() {
    let dir = examples();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("examples dir")
        .filter_map(|e| {
            let e = e.ok()?;
            let n = e.file_name().into_string().ok()?;
            (e.file_type().ok()?.is_file() && (n.ends_with(".yml") || n.ends_with(".yaml")))
                .then_some(n)
        })
        .collect();
    files.sort();

    let mut matched = Vec::new();
    let mut differed = Vec::new();
    let mut skipped = Vec::new();
    let mut fallbacks = Vec::new();
    for file in &files {
        let cfg = match headroom_spec::load_paths_for_rules(&[dir.join(file)]) {
            Ok(c) => c,
            Err(problems) => {
                let why = problems
                    .iter()
                    .map(|p| p.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ");
                println!("SKIP {file}: headroom rejects it: {why}");
                skipped.push(file.clone());
                continue;
            }
        };
        let golden = std::fs::read_to_string(dir.join("_gen").join(file)).expect("golden file");
        let want = parse_groups(&golden);
        let got = match generate(&cfg.slos, &options()) {
            Ok(g) => g,
            Err(e) => {
                println!("DIFF {file}: generate failed: {e}");
                differed.push(file.clone());
                continue;
            }
        };
        let d = diff(&want, &ours_as_g(&got), &mut fallbacks);
        if d.is_empty() {
            println!("MATCH {file} ({} groups)", want.len());
            matched.push(file.clone());
        } else {
            println!("DIFF {file}:\n{}", d.join("\n"));
            differed.push(file.clone());
        }
    }
    for f in &fallbacks {
        println!("FALLBACK (text compare, promql-parser rejected): {f}");
    }
    println!(
        "matched {}/{}: {matched:?}\ndiffered: {differed:?}\nskipped: {skipped:?}",
        matched.len(),
        files.len()
    );
    for r in REQUIRED {
        assert!(matched.iter().any(|m| m == r), "{r} must load and match");
    }
    // A new example needs a decision: required, or left out with the reason here.
    for f in &files {
        assert!(REQUIRED.contains(&f.as_str()), "{f} is not in REQUIRED");
    }
}

#[test]
fn yaml_reads_back_as_the_same_rules() {
    let dir = examples();
    for file in ["getting-started.yml", "no-alerts.yml", "raw-home-wifi.yml"] {
        let cfg = headroom_spec::load_paths_for_rules(&[dir.join(file)]).expect("loads");
        let groups = generate(&cfg.slos, &options()).expect("generates");
        let ours = ours_as_g(&groups);
        for format in [
            Format::Prometheus,
            Format::operator_for_service("myservice", Some("monitoring")),
        ] {
            let text = to_yaml(&groups, &format);
            let back = parse_groups(&text);
            let mut fb = Vec::new();
            let d = diff(&ours, &back, &mut fb);
            assert!(d.is_empty(), "{file} {format:?}:\n{}\n{text}", d.join("\n"));
            // Exact text too, not only the same PromQL.
            for (a, b) in ours.iter().zip(&back) {
                for (x, y) in a.rules.iter().zip(&b.rules) {
                    assert_eq!(x.expr, y.expr);
                }
            }
            if matches!(format, Format::PrometheusOperator { .. }) {
                assert!(text.contains("kind: PrometheusRule"));
                assert!(text.contains("apiVersion: monitoring.coreos.com/v1"));
            }
        }
    }
}

#[test]
fn push_fed_slos_cannot_be_generated() {
    let dir = examples();
    let cfg =
        headroom_spec::load_paths_for_rules(&[dir.join("getting-started.yml")]).expect("loads");
    let mut slo = cfg.slos[0].clone();
    slo.sli = headroom_core::Sli::Events;
    let err = generate(&[slo], &Options::default()).unwrap_err();
    assert!(
        err.to_string().contains("myservice-requests-availability"),
        "{err}"
    );
}

/// Runs the real `promtool check rules` (Debian's prometheus package, installed by .ci/run) on the
/// generated rules of every required example, in both output formats' rule-file form.
#[test]
fn generated_rules_pass_promtool_check_rules() {
    let promtool = common::promtool();
    let tmp = tempfile::tempdir().expect("tempdir");
    // victoria-metrics.yml's queries are MetricsQL (`histogram_share`), for vmalert: Prometheus
    // cannot parse them, whoever generates the rules. contrib-slo-plugins.yml's info labels
    // (`plug-l1`) are names only Prometheus 3 accepts, in Sloth's output as in ours; this
    // promtool is 2.x.
    let not_for_prometheus_2 = ["victoria-metrics.yml", "contrib-slo-plugins.yml"];
    for file in REQUIRED
        .iter()
        .filter(|f| !not_for_prometheus_2.contains(f))
    {
        let cfg = headroom_spec::load_paths_for_rules(&[examples().join(file)])
            .unwrap_or_else(|p| panic!("{file}: {p:?}"));
        let groups = generate(&cfg.slos, &options()).expect("generate");
        let rules: usize = groups.iter().map(|g| g.rules.len()).sum();
        let out = tmp.path().join(file);
        std::fs::write(&out, to_yaml(&groups, &Format::Prometheus)).expect("write rules");
        // Lint off: Sloth's own output for multifile.yml repeats an alert rule (two SLOs, one
        // alert name and label set), which promtool's duplicate-rule lint reports; Prometheus
        // loads it all the same.
        let run = std::process::Command::new(&promtool)
            .arg("check")
            .arg("rules")
            .arg("--lint=none")
            .arg(&out)
            .output()
            .expect("run promtool");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(
            run.status.success(),
            "{file}: promtool check rules failed:\n{text}"
        );
        assert!(
            text.contains(&format!("SUCCESS: {rules} rules found")),
            "{file}: expected {rules} rules checked, promtool said:\n{text}"
        );
    }
}
