//! `headroom oncall who` against a running `headroom serve`.

use std::process::{Child, Command, Output};

use crate::common::{free_port, start_with_token};

/// Kills the server when dropped, so a failing test leaves nothing running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Alice holds the day shift (09:00–17:00 UTC) and Bob the rest, every day.
const CONFIG: &str = r#"
users:
  - {id: alice, name: Alice Example, email: alice@example.com}
  - {id: bob, name: Bob Example, email: bob@example.com}
schedules:
  - id: primary
    time_zone: UTC
    layers:
      - {name: nights, users: [bob], turn: daily, rotation_start: "2026-01-01T00:00"}
      - name: days
        users: [alice]
        turn: daily
        rotation_start: "2026-01-01T00:00"
        restrictions: [{daily: {start: "09:00", end: "17:00"}}]
  - id: secondary
    time_zone: UTC
    layers:
      - {users: [bob], turn: weekly, rotation_start: "2026-01-05T09:00"}
"#;

fn headroom(args: &[&str], server: &str, token: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_headroom"))
        .args(args)
        .env("HEADROOM_URL", server)
        .env("HEADROOM_TOKEN", token)
        .output()
        .unwrap()
}

#[test]
fn oncall_who_asks_every_schedule_or_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("oncall.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let addr = free_port();
    let (child, token) = start_with_token(&dir.path().join("data"), &config, addr);
    let _server = Running(child);
    let server = format!("http://{addr}");

    let out = headroom(
        &["oncall", "who", "--at", "2026-03-02T10:00:00Z"],
        &server,
        &token,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec![
                "primary",
                "Alice",
                "Example",
                "layer",
                "days",
                "2026-03-02T17:00:00Z"
            ],
            // One user: no hand-off in sight.
            vec!["secondary", "Bob", "Example", "layer", "layer", "1", "-"],
        ],
        "{text}"
    );

    let out = headroom(
        &[
            "oncall",
            "who",
            "--schedule",
            "primary",
            "--at",
            "2026-03-02T20:00:00+01:00",
            "--output",
            "json",
        ],
        &server,
        &token,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["user"]["id"], "bob");
    assert_eq!(v[0]["since"], "2026-03-02T17:00:00Z");

    let out = headroom(&["oncall", "who", "--at", "tomorrow"], &server, &token);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at: \"tomorrow\""));
    let out = headroom(&["oncall", "ack", "e-none"], &server, &token);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no escalation"));
}
