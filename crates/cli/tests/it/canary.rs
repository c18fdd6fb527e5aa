//! `headroom canary judge`: the example input, the exit code of each verdict, refusals, and the
//! same judgement from a running server as from the local one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use headroom_api::canary::{Classification, Judgement, Verdict};
use serde_json::{Value, json};

use crate::common::{free_port, start_with_token};

fn headroom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_headroom"))
        .args(args)
        .env_remove("HEADROOM_URL")
        .env_remove("HEADROOM_TOKEN")
        .output()
        .unwrap()
}

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/canary.json")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn judge_file(path: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["canary", "judge", "--input", path.to_str().unwrap()];
    args.extend(extra);
    headroom(&args)
}

fn written(dir: &Path, name: &str, body: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body.to_string()).unwrap();
    path
}

fn around(centre: f64) -> Vec<f64> {
    (0..20).map(|i| centre + (i % 7) as f64 * 0.3).collect()
}

#[test]
fn the_example_passes_with_exit_0() {
    let out = judge_file(&example(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("score 100.00 (pass 90, marginal 75): Pass"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("latency_p99_ms") && l.contains("Pass"))
    );
    // The README shows this very input and output.
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let input = std::fs::read_to_string(example()).unwrap();
    assert!(
        readme.contains(&format!("```json\n{input}```")),
        "README's example input"
    );
    assert!(
        readme.contains(&format!("```\n{stdout}```")),
        "README's example output:\n{stdout}"
    );

    let out = judge_file(&example(), &["--output", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let j: Judgement = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((j.verdict, j.score), (Verdict::Pass, 100.0));
    let names: Vec<&str> = j.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["latency_p99_ms", "error_ratio", "cpu_seconds"]);
    // The missing canary sample of error_ratio, and cpu_seconds' baseline spike removed.
    assert_eq!(
        (j.metrics[1].canary.count, j.metrics[1].canary.missing),
        (11, 1)
    );
    assert_eq!(j.metrics[2].baseline.outliers, 1);
    assert_eq!(j.metrics[2].baseline.max, Some(2.14));
    let t = j.metrics[0].test.as_ref().unwrap();
    assert!(t.lower < 0.0 && 0.0 < t.upper, "{t:?}");
    assert_eq!(t.confidence, 0.98);
}

#[test]
fn exit_codes_follow_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let metric = |name: &str, group: &str, canary: f64| json!({"name": name, "groups": [group], "baseline": around(10.0), "canary": around(canary)});
    // One of two equally weighted groups High: 50, Fail (6).
    let fail = written(
        dir.path(),
        "fail.json",
        &json!({"metrics": [metric("a", "g", 10.0), metric("b", "h", 20.0)]}),
    );
    let out = judge_file(&fail, &["--output", "json"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    let j: Judgement = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((j.verdict, j.score), (Verdict::Fail, 50.0));
    assert_eq!(j.metrics[1].classification, Classification::High);
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));

    // The same with the failing group weighing 20%: 80, Marginal (5).
    let marginal = written(
        dir.path(),
        "marginal.json",
        &json!({"metrics": [metric("a", "g", 10.0), metric("b", "h", 20.0)],
                "groupWeights": {"g": 80, "h": 20}}),
    );
    let out = judge_file(&marginal, &[]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("score 80.00 (pass 90, marginal 75): Marginal"));

    // A critical metric beyond its critical increase fails the canary whatever the weights.
    let mut critical = metric("b", "h", 20.0);
    critical["critical"] = json!(true);
    critical["effectSize"] = json!({"criticalIncrease": 1.5});
    let forced = written(
        dir.path(),
        "critical.json",
        &json!({"metrics": [metric("a", "g", 10.0), critical], "groupWeights": {"g": 99, "h": 1}}),
    );
    let out = judge_file(&forced, &[]);
    assert_eq!(out.status.code(), Some(6));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Canary Failed: The metric b was classified as High (Critical)"),
        "{stdout}"
    );
}

#[test]
fn refused_input_exits_1_naming_where() {
    let dir = tempfile::tempdir().unwrap();
    let twice = json!({"name": "a", "groups": ["g"], "baseline": [1.0], "canary": [2.0]});
    let path = written(dir.path(), "dup.json", &json!({"metrics": [twice, twice]}));
    let out = judge_file(&path, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("metric \"a\" appears twice (metrics 0 and 1)"),
        "{}",
        text(&out.stderr)
    );

    let typo = json!({"metrics": [{"name": "a", "groups": ["g"], "mustHavedata": true,
                                   "baseline": [1.0], "canary": [2.0]}]});
    let out = judge_file(&written(dir.path(), "typo.json", &typo), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("mustHavedata"),
        "{}",
        text(&out.stderr)
    );

    let query = json!({"metrics": [{"name": "lat", "groups": ["g"], "baseline": [1.0],
                                    "canary": {"query": "sum(rate(x[1m]))"}}]});
    let out = judge_file(&written(dir.path(), "query.json", &query), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("metric \"lat\": a side is a PromQL query"),
        "{}",
        text(&out.stderr)
    );

    let out = judge_file(&dir.path().join("absent.json"), &[]);
    assert_eq!(out.status.code(), Some(4));
    assert!(text(&out.stderr).contains("cannot read"));
}

#[test]
fn a_server_judges_as_the_local_command_does() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("headroom.yaml");
    std::fs::write(&config, "slos: []\n").unwrap();
    let addr = free_port();
    let (mut child, token) = start_with_token(&dir.path().join("data"), &config, addr);
    let url = format!("http://{addr}");
    let remote = judge_file(
        &example(),
        &["--output", "json", "--server", &url, "--token", &token],
    );
    let local = judge_file(&example(), &["--output", "json"]);
    // A refused token is the server's refusal: exit 1.
    let refused = judge_file(&example(), &["--server", &url, "--token", "hr_wrong"]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(remote.status.code(), Some(0), "{}", text(&remote.stderr));
    assert_eq!(text(&remote.stdout), text(&local.stdout));
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
}
