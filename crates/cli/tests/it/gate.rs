//! `headroom gate` against a real `headroom serve`: exit 0 on allow, 1 on deny with the reasons
//! printed, 2 when the gate cannot be asked; `gate override` opens the gate until a time, and
//! `deploy record --gate-decision` links the allow the deploy passed.

use std::net::SocketAddr;
use std::process::{Command, Output};

use crate::common::{free_port, start_with_token};

fn headroom(addr: SocketAddr, token: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_headroom"))
        .args(args)
        .env("HEADROOM_URL", format!("http://{addr}"))
        .env("HEADROOM_TOKEN", token)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn gate_exit_codes_follow_the_decision_and_an_override_opens_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.yaml");
    // No data yet, and the policy denies on missing data: the gate starts closed.
    std::fs::write(
        &config,
        "services:\n  - name: shop\n    environments: [staging, production]\n    release_policy: {deny_on_no_data: true, exempt_labels: [hotfix]}\nslos:\n  - {name: shop-availability, service: shop, objective: 99, sli: {events: {}}}\n",
    )
    .unwrap();
    let addr = free_port();
    let (mut child, token) = start_with_token(&dir.path().join("data"), &config, addr);
    let run = |args: &[&str]| headroom(addr, &token, args);

    let denied = run(&["gate", "--service", "shop", "--environment", "production"]);
    assert_eq!(denied.status.code(), Some(1), "{}", stderr(&denied));
    let text = stdout(&denied);
    assert!(
        text.starts_with("deny release of shop to production"),
        "{text}"
    );
    assert!(
        text.contains("deny no_data") && text.contains("SLO shop-availability has no data"),
        "{text}"
    );

    let json = run(&["gate", "--service", "shop", "--output", "json"]);
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["reasons"][0]["rule"], "no_data");

    let hotfix = run(&["gate", "--service", "shop", "--label", "hotfix"]);
    assert_eq!(hotfix.status.code(), Some(0), "{}", stdout(&hotfix));
    assert!(
        stdout(&hotfix).contains("note exempt_label"),
        "{}",
        stdout(&hotfix)
    );
    let staging = run(&["gate", "--service", "shop", "--environment", "staging"]);
    assert_eq!(staging.status.code(), Some(0));

    // Errors are 2: an unknown service or environment, no server at all.
    for args in [
        &["gate", "--service", "nope"][..],
        &["gate", "--service", "shop", "--environment", "qa"][..],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    assert!(stderr(&run(&["gate", "--service", "shop", "--environment", "qa"])).contains("\"qa\""));
    let unreachable = headroom(free_port(), &token, &["gate", "--service", "shop"]);
    assert_eq!(unreachable.status.code(), Some(2));
    assert!(
        stderr(&unreachable).contains("cannot reach"),
        "{}",
        stderr(&unreachable)
    );

    // An override for two hours opens the gate, naming its approver and reason.
    let over = run(&[
        "gate",
        "override",
        "--service",
        "shop",
        "--environment",
        "production",
        "--reason",
        "data pipeline backfill",
        "--until",
        "2h",
        "--approver",
        "alice",
    ]);
    assert_eq!(over.status.code(), Some(0), "{}", stderr(&over));
    assert!(
        stdout(&over).contains("approved by alice: data pipeline backfill"),
        "{}",
        stdout(&over)
    );
    let too_long = run(&[
        "gate",
        "override",
        "--service",
        "shop",
        "--environment",
        "production",
        "--reason",
        "x",
        "--until",
        "8d",
    ]);
    assert_eq!(too_long.status.code(), Some(2));
    assert!(
        stderr(&too_long).contains("time-boxed"),
        "{}",
        stderr(&too_long)
    );
    let allowed = run(&["gate", "--service", "shop", "--output", "json"]);
    assert_eq!(allowed.status.code(), Some(0), "{}", stdout(&allowed));
    let v: serde_json::Value = serde_json::from_slice(&allowed.stdout).unwrap();
    assert_eq!(v["reasons"][1]["rule"], "override");
    let decision = v["decision_id"].to_string();

    // The deploy names the allow it passed.
    let record = run(&[
        "deploy",
        "record",
        "--service",
        "shop",
        "--commit",
        &"a".repeat(40),
        "--gate-decision",
        &decision,
    ]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(record.status.success(), "{}", stderr(&record));
    assert!(
        stdout(&record).contains(&format!("passed gate decision {decision}")),
        "{}",
        stdout(&record)
    );
}
