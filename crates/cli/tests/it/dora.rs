//! `headroom dora report` and `headroom incident attribute` against a running `headroom serve`:
//! two deploys recorded by the CLI, an incident attributed to the latest by the window, then
//! marked not caused by a change; the report as JSON, CSV and a table.

use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{free_port, start_with_token};

const CONFIG: &str = "services: [{name: shop, team: web, repositories: [acme/shop]}]\n";

/// Kills the server when the test ends, passing or not.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stdout_ok(out: &Output) -> String {
    assert!(out.status.success(), "{:?}: {}", out.status, text(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_report_as_json_csv_and_table_follows_a_corrected_attribution() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let addr = free_port();
    let (child, token) = start_with_token(&dir.path().join("data"), &cfg, addr);
    let _server = Server(child);
    let url = format!("http://{addr}");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_headroom"))
            .args(args)
            .env("HEADROOM_URL", &url)
            .env("HEADROOM_TOKEN", &token)
            .output()
            .unwrap()
    };

    let mut deploys = Vec::new();
    for sha in ["a", "b"] {
        let out = run(&[
            "deploy",
            "record",
            "--service",
            "shop",
            "--commit",
            &sha.repeat(40),
            "--output",
            "json",
        ]);
        let d: Value = serde_json::from_str(&stdout_ok(&out)).unwrap();
        deploys.push(d["id"].as_i64().unwrap());
    }
    let out = run(&[
        "incident",
        "declare",
        "--title",
        "Cart errors",
        "--severity",
        "SEV2",
        "--service",
        "shop",
        "--output",
        "json",
    ]);
    let incident: Value = serde_json::from_str(&stdout_ok(&out)).unwrap();
    let id = incident["id"].as_i64().unwrap().to_string();

    let report = |output: &str| {
        stdout_ok(&run(&[
            "dora",
            "report",
            "--service",
            "shop",
            "--output",
            output,
        ]))
    };
    let json: Value = serde_json::from_str(&report("json")).unwrap();
    assert_eq!(json["deployment_frequency"]["deployments"], 2);
    assert_eq!(json["change_failure_rate"]["failed"], 1);
    assert_eq!(json["change_failure_rate"]["rate"], 0.5);
    assert_eq!(json["incidents"][0]["attribution"]["how"], "window");
    assert_eq!(json["incidents"][0]["attribution"]["deploy"], deploys[1]);

    // Refused: a deploy that does not exist, and two causes at once.
    let refused = run(&["incident", "attribute", &id, "--deploy", "999"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("no deploy 999"),
        "{}",
        text(&refused)
    );
    let usage = run(&["incident", "attribute", &id, "--deploy", "1", "--automatic"]);
    assert_eq!(usage.status.code(), Some(2), "{}", text(&usage));

    let out = stdout_ok(&run(&[
        "incident",
        "attribute",
        &id,
        "--not-caused-by-change",
    ]));
    assert_eq!(
        out.trim(),
        format!("incident {id} marked not caused by a change (status triggered)")
    );

    let csv = report("csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("period,from,to,deployments,per_day,"),
        "{csv}"
    );
    // The default 30 days span five or six Monday-aligned weeks, then the total.
    assert!((7..=8).contains(&lines.len()), "{csv}");
    assert!(
        lines[1..lines.len() - 1]
            .iter()
            .all(|l| l.starts_with("week,"))
    );
    let total: Vec<&str> = lines[lines.len() - 1].split(',').collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(total.len(), header.len());
    let cell = |name: &str| total[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(cell("period"), "total");
    assert_eq!(cell("deployments"), "2");
    assert_eq!(cell("failed"), "0");
    assert_eq!(cell("change_failure_rate"), "0");
    assert_eq!(cell("change_failure_rate_tier"), "elite");
    // Unknown is an empty cell, not 0: no change was linked to a deploy.
    assert_eq!(cell("lead_time_median_seconds"), "");
    assert_eq!(cell("recovery_median_seconds"), "");

    let table = report("table");
    for line in [
        "DORA metrics for service shop, production,",
        "2 deploys",
        "0.0% (0 of 2)",
        "Tiers: DORA 2024 Accelerate State of DevOps Report (2024).",
        "not caused by a change",
    ] {
        assert!(table.contains(line), "{line:?} not in:\n{table}");
    }

    // The team's report, and a report naming neither service nor team.
    let team: Value = serde_json::from_str(&stdout_ok(&run(&[
        "dora", "report", "--team", "web", "--output", "json",
    ])))
    .unwrap();
    assert_eq!(team["deployment_frequency"], json["deployment_frequency"]);
    let neither = run(&["dora", "report"]);
    assert_eq!(neither.status.code(), Some(2), "{}", text(&neither));
}
