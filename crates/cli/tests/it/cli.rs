//! The local commands of the `headroom` binary: validate, token create, backtest.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn headroom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_headroom"))
        .args(args)
        .env_remove("HEADROOM_DATA_DIR")
        .env_remove("HEADROOM_DATABASE_URL")
        .output()
        .unwrap()
}

fn quickstart() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart.yaml")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn validate_accepts_the_quickstart() {
    let out = headroom(&["validate", quickstart().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        "ok: 4 SLOs, 2 probes, 0 scrape jobs, 0 backends in 1 path(s)"
    );
}

#[test]
fn validate_reports_file_line_col_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "slos:\n  - name: checkout\n    service: shop\n    objectve: 99.9\n    window: 30d\n    sli:\n      events: {}\n",
    )
    .unwrap();
    let out = headroom(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    let prefix = format!("{}:", path.display());
    // Every problem is one FILE:LINE:COL: line.
    for l in &lines {
        let rest = l
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("not FILE:LINE:COL: {l:?}"));
        let mut parts = rest.splitn(3, ':');
        let line: u32 = parts.next().unwrap().parse().unwrap();
        let col: u32 = parts.next().unwrap().parse().unwrap();
        assert!(line >= 1 && col >= 1, "{l}");
    }
    let unknown = lines
        .iter()
        .find(|l| l.contains("objectve"))
        .unwrap_or_else(|| panic!("the unknown key is not named: {stdout}"));
    assert!(
        unknown.starts_with(&format!("{prefix}4:5:")),
        "wrong position: {unknown}"
    );
    assert!(
        unknown.to_lowercase().contains("did you mean") && unknown.contains("objective"),
        "no suggestion: {unknown}"
    );
    assert!(text(&out.stderr).contains("problem(s) found"));
}

#[test]
fn token_create_prints_once_and_stores_only_a_hash() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = headroom(&[
        "token",
        "create",
        "--scope",
        "ingest",
        "--name",
        "ci",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "the token and nothing else on stdout: {stdout:?}"
    );
    let token = lines[0].trim();
    assert!(token.starts_with("hr_") && token.len() > 20, "{token}");
    assert!(text(&out.stderr).contains("scope ingest"));

    // Neither the database nor its WAL holds the plaintext (nor its secret part).
    let secret = &token["hr_".len()..];
    let mut files = 0;
    for entry in std::fs::read_dir(&data).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        files += 1;
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the token is stored in plaintext"
        );
    }
    assert!(files >= 1);
    assert!(data.join("headroom.db").exists());

    // The list shows it, by prefix only.
    let out = headroom(&["token", "list", "--data-dir", data.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let list = text(&out.stdout);
    assert!(list.contains("ci") && list.contains("ingest"), "{list}");
    assert!(!list.contains(secret), "{list}");

    let out = headroom(&[
        "token",
        "create",
        "--scope",
        "root",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown scope is a usage error"
    );
}

#[test]
fn backtest_prints_transitions_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("events.csv");
    // Twenty good minutes, then five minutes at 50% errors.
    let t0: i64 = 1_800_000_000; // 2027-01-15T08:00:00Z
    let mut s = String::from("timestamp,slo,good,total\n");
    for m in 0..25 {
        let good = if m < 20 { 100 } else { 50 };
        s.push_str(&format!(
            "{},example-checkout-availability,{good},100\n",
            t0 + m * 60
        ));
    }
    std::fs::write(&csv, s).unwrap();
    let (stdout, lines) = backtest_json(&quickstart(), &csv);
    let (summary, transitions) = lines.split_last().unwrap();
    assert!(!transitions.is_empty(), "{stdout}");
    for t in transitions {
        for k in ["at", "slo", "severity", "state"] {
            assert!(t[k].is_string(), "{k} missing in {t}");
        }
        assert_eq!(t["slo"], "example-checkout-availability");
    }
    // The page fires during the failing minutes, not before.
    let page = transitions
        .iter()
        .find(|t| t["severity"] == "page" && t["state"] == "firing")
        .unwrap_or_else(|| panic!("the page never fired: {stdout}"));
    let at = chrono_secs(page["at"].as_str().unwrap());
    assert!(
        (t0 + 20 * 60..=t0 + 25 * 60).contains(&at),
        "page fired at {}",
        page["at"]
    );

    // 250 bad of 2500; 0.5% of 2500 = 12.5 allowed: 20 budgets consumed.
    let rows = summary["summary"].as_array().unwrap();
    let row = rows
        .iter()
        .find(|r| r["slo"] == "example-checkout-availability")
        .unwrap_or_else(|| panic!("{summary}"));
    let close = |v: &Value, want: f64| (v.as_f64().unwrap() - want).abs() < 1e-9;
    assert!(close(&row["budget_consumed"], 20.0), "{row}");
    assert!(close(&row["budget_remaining"], -19.0), "{row}");
    assert!(close(&row["sli"], 0.9), "{row}");
}

/// `backtest --output json` of `config` over `csv`, which must succeed: its output and lines.
fn backtest_json(config: &std::path::Path, csv: &std::path::Path) -> (String, Vec<Value>) {
    let out = headroom(&[
        "backtest",
        "--config",
        config.to_str().unwrap(),
        "--events",
        csv.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (stdout, lines)
}

/// Seconds of an RFC 3339 time like 2027-01-15T08:21:00+00:00 (UTC, as the CLI prints).
fn chrono_secs(s: &str) -> i64 {
    let (date, time) = s.split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let t: Vec<i64> = time[..8].split(':').map(|x| x.parse().unwrap()).collect();
    assert_eq!((d[0], d[1]), (2027, 1), "{s}");
    assert!(time.ends_with("+00:00") || time.ends_with('Z'), "{s}");
    1_800_000_000 + (d[2] - 15) * 86_400 + (t[0] - 8) * 3600 + t[1] * 60 + t[2]
}

#[test]
fn generate_prometheus_prints_sloths_rules_and_refuses_push_fed_slos() {
    let spec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/sloth/examples/getting-started.yml"
    );
    let out = headroom(&[
        "generate",
        "prometheus",
        spec,
        "--extra-labels",
        "cmd=examplesgen.sh",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    let id = "myservice-requests-availability";
    for group in [
        "sloth-slo-sli-recordings-",
        "sloth-slo-meta-recordings-",
        "sloth-slo-alerts-",
    ] {
        assert!(
            yaml.contains(&format!("- name: {group}{id}\n")),
            "{group}: {yaml}"
        );
    }
    let windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"];
    for w in windows {
        assert!(
            yaml.contains(&format!("- record: slo:sli_error:ratio_rate{w}\n")),
            "{w}"
        );
    }
    // Every rule Sloth labels with the extra label, and no other.
    let golden = std::fs::read_to_string(spec.replace("/examples/", "/examples/_gen/")).unwrap();
    let labelled = |t: &str| t.matches("cmd: examplesgen.sh").count();
    assert_eq!(labelled(&yaml), labelled(&golden), "{yaml}");
    assert!(yaml.contains("alert: MyServiceHighErrorRate"));

    let op = headroom(&[
        "generate",
        "prometheus",
        spec,
        "--format",
        "prometheus-operator",
    ]);
    assert!(text(&op.stdout).contains("kind: PrometheusRule"));

    let out = headroom(&["generate", "prometheus", quickstart().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("headroom-api-availability"),
        "{}",
        text(&out.stderr)
    );
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

/// The YAML files directly in `dir`, or under it at any depth with `deep`.
fn yaml_files(dir: &std::path::Path, deep: bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if deep {
                out.extend(yaml_files(&p, true));
            }
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn validate_accepts_every_spec_sloth_and_openslo_accept() {
    let f = fixtures();
    let mut files = yaml_files(&f.join("sloth/examples"), false);
    files.extend(yaml_files(&f.join("sloth/validate/good"), false));
    files.extend(yaml_files(&f.join("openslo"), true));
    assert!(files.len() > 30, "fixtures missing: {files:?}");
    let mut warned = 0;
    for file in &files {
        let out = headroom(&["validate", file.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}:\n{}{}",
            file.display(),
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(text(&out.stdout).starts_with("ok: "), "{}", file.display());
        // A warning names its place; one about what serve cannot run, the way out too.
        for w in text(&out.stderr)
            .lines()
            .filter(|l| l.starts_with("warning: "))
        {
            let at = format!("warning: {}:", file.display());
            assert!(w.starts_with(&at), "{w}");
            if w.contains("cannot run natively") {
                warned += 1;
                assert!(w.contains("backends:"), "no way out in {w}");
            }
        }
    }
    // Sloth's examples include queries only a backend can run (`or` in home-wifi.yml).
    assert!(warned > 0);
}

#[test]
fn validate_refuses_what_sloth_refuses() {
    let files = yaml_files(&fixtures().join("sloth/validate/bad"), false);
    assert!(files.len() >= 5);
    for file in &files {
        let out = headroom(&["validate", file.to_str().unwrap()]);
        // Bad only for Sloth before v0.16, which knew only 30-day windows; v0.16 reads its
        // 28 days as the period and generates rules from it, and so does headroom.
        if file.ends_with("bad-openslo.yaml") {
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{}", file.display());
        let stdout = text(&out.stdout);
        assert!(
            stdout.starts_with(&format!("{}:", file.display())),
            "{}: {stdout}",
            file.display()
        );
    }
}

#[test]
fn strict_validate_refuses_what_serve_cannot_run() {
    let file = fixtures().join("sloth/examples/home-wifi.yml");
    let file = file.to_str().unwrap();
    let loose = headroom(&["validate", file]);
    assert_eq!(loose.status.code(), Some(0), "{}", text(&loose.stderr));
    let warning = text(&loose.stderr);
    let warning = warning
        .lines()
        .find(|l| l.contains("`or` is not supported natively"))
        .unwrap_or_else(|| panic!("{warning}"))
        .to_string();
    for args in [["--strict", file], ["--for=serve", file]] {
        let out = headroom(&["validate", args[0], args[1]]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        // The same finding, now a problem.
        let problem = warning.strip_prefix("warning: ").unwrap();
        assert!(
            text(&out.stdout).lines().any(|l| l == problem),
            "{args:?}: {}",
            text(&out.stdout)
        );
    }
    let out = headroom(&["validate", "--for=spec", file]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn backtest_runs_on_recorded_events_when_queries_cannot_run_here() {
    // home-wifi's SLIs use `or`, which headroom cannot run natively: the recording stands in.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("events.csv");
    let t0: i64 = 1_800_000_000;
    let mut s = String::from("timestamp,slo,good,total\n");
    for m in 0..10 {
        s.push_str(&format!(
            "{},home-wifi-good-wifi-client-satisfaction,{},100\n",
            t0 + m * 60,
            if m < 5 { 100 } else { 99 }
        ));
    }
    std::fs::write(&csv, s).unwrap();
    let spec = fixtures().join("sloth/examples/home-wifi.yml");
    let (stdout, lines) = backtest_json(&spec, &csv);
    let row = lines.last().unwrap()["summary"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["slo"] == "home-wifi-good-wifi-client-satisfaction")
        .unwrap_or_else(|| panic!("{stdout}"))
        .clone();
    // 5 bad of 1000: the SLI is 0.995, rounded where people read it.
    assert_eq!(row["sli"], serde_json::json!(0.995), "{row}");
}

/// OpenSLO rules carry Sloth's names and info, not headroom's ids; a key Sloth ignores is
/// ignored with a warning on stderr.
#[test]
fn generate_prometheus_names_openslo_objectives_as_sloth_does() {
    let examples = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/sloth/examples"
    );
    let out = headroom(&[
        "generate",
        "prometheus",
        &format!("{examples}/openslo-kubernetes-apiserver.yml"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    let groups: Vec<&str> = yaml
        .lines()
        .filter_map(|l| l.strip_prefix("- name: "))
        .collect();
    assert_eq!(
        groups,
        [
            "sloth-slo-sli-recordings-k8s-apiserver-requests-availability-openslo-0",
            "sloth-slo-meta-recordings-k8s-apiserver-requests-availability-openslo-0",
            "sloth-slo-sli-recordings-k8s-apiserver-requests-latency-openslo-0",
            "sloth-slo-meta-recordings-k8s-apiserver-requests-latency-openslo-0",
            "sloth-slo-sli-recordings-k8s-apiserver-requests-latency-openslo-1",
            "sloth-slo-meta-recordings-k8s-apiserver-requests-latency-openslo-1",
        ]
    );
    assert_eq!(yaml.matches("sloth_mode: cli-gen-openslo").count(), 3);
    assert_eq!(yaml.matches("sloth_spec: openslo/v1alpha").count(), 3);

    let out = headroom(&[
        "generate",
        "prometheus",
        &format!("{examples}/plugin-k8s-getting-started.yml"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(":39:9: \"page_alert\" is ignored"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stdout).contains("routing_key"));
}

#[test]
fn validate_warns_of_a_sloth_plugin_headroom_has_no_version_of() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plugin.yaml");
    std::fs::write(
        &path,
        "version: prometheus/v1\nservice: api\nslos:\n  - name: availability\n    objective: 99.9\n    sli:\n      plugin:\n        id: sloth-common/kubernetes/apiserver/availability\n    alerting:\n      name: X\n",
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let out = headroom(&["validate", path]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!("warning: {path}:8:13: Sloth SLI plugin \"sloth-common/kubernetes/apiserver/availability\" is not supported")),
        "{stderr}"
    );
    let out = headroom(&["validate", "--strict", path]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("is not supported"));
}
