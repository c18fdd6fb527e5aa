//! `headroom incident` against a running `headroom serve`: declare, list, note, status,
//! severity, roles, action items, resolve and the postmortem, as a responder types them.

use std::process::{Command, Output};

use crate::common::{free_port, start_with_token};

const CONFIG: &str = "slos:
  - name: checkout-availability
    service: checkout
    objective: 99
    window: 30d
    sli:
      events: {}
";

/// Kills the server when the test ends, passing or not.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn headroom(server: &str, token: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_headroom"))
        .args(["incident", "--server", server, "--token", token])
        .args(args)
        .output()
        .unwrap()
}

fn stdout_ok(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{:?}: {text}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn declare_list_note_resolve_and_print_the_postmortem() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("slos.yaml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let addr = free_port();
    let (child, token) = start_with_token(&dir.path().join("data"), &cfg, addr);
    let _server = Server(child);
    assert!(token.starts_with("hr_"));
    let url = format!("http://{addr}");
    let run = |args: &[&str]| headroom(&url, &token, args);

    let out = stdout_ok(&run(&[
        "declare",
        "--title",
        "Checkout errors",
        "--severity",
        "SEV2",
        "--service",
        "checkout",
        "--slo",
        "checkout-availability",
    ]));
    assert_eq!(out, "declared incident 1 (SEV2): Checkout errors\n");

    let out = stdout_ok(&run(&["list"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("    ID SEVERITY STATUS"), "{out}");
    assert!(lines[1].starts_with("     1 SEV2     triggered"), "{out}");
    assert!(lines[1].ends_with("Checkout errors"), "{out}");

    let out = stdout_ok(&run(&["note", "1", "rolled back the 14:02 deploy"]));
    assert_eq!(out, "incident 1 noted (status triggered)\n");
    let out = stdout_ok(&run(&["status", "1", "investigating"]));
    assert_eq!(
        out,
        "incident 1 moved to investigating (status investigating)\n"
    );
    let out = stdout_ok(&run(&["severity", "1", "SEV1"]));
    assert_eq!(out, "incident 1 is now SEV1 (status investigating)\n");
    let out = stdout_ok(&run(&["role", "1", "scribe", "carol"]));
    assert_eq!(
        out,
        "incident 1 has carol as scribe (status investigating)\n"
    );
    let out = stdout_ok(&run(&[
        "action",
        "add",
        "1",
        "Alert on deploy error rate",
        "--owner",
        "alice",
        "--due",
        "2030-01-31T00:00:00Z",
    ]));
    assert_eq!(
        out,
        "incident 1 has a new action item (status investigating)\n"
    );
    stdout_ok(&run(&["action", "add", "1", "Canary the payment client"]));
    let out = stdout_ok(&run(&["action", "done", "1", "1"]));
    assert_eq!(
        out,
        "incident 1 action item 1 done (status investigating)\n"
    );
    let out = run(&["action", "done", "1", "9"]);
    assert_eq!(out.status.code(), Some(1), "no item 9");

    let out = stdout_ok(&run(&["resolve", "1"]));
    assert_eq!(out, "incident 1 resolved (status resolved)\n");

    // Resolved: gone from the open list, there with --all.
    let out = stdout_ok(&run(&["list"]));
    assert_eq!(out.lines().count(), 1, "{out}");
    let out = stdout_ok(&run(&["list", "--all"]));
    assert!(out.lines().nth(1).unwrap().contains("resolved"), "{out}");

    let md = stdout_ok(&run(&["postmortem", "1"]));
    assert!(md.starts_with("# Postmortem: Checkout errors\n"), "{md}");
    assert!(md.contains("- **Status:** resolved"), "{md}");
    assert!(md.contains("| checkout-availability | no data |"), "{md}");
    assert!(md.contains("| rolled back the 14:02 deploy |"), "{md}");
    assert!(md.contains("- **Severity:** SEV1"), "{md}");
    assert!(md.contains("- **Scribe:** carol"), "{md}");
    assert!(
        md.contains("| 1 | Alert on deploy error rate | alice | done | 2030-01-31 |"),
        "{md}"
    );
    assert!(
        md.contains("| 2 | Canary the payment client | - | open | - |"),
        "{md}"
    );

    // Client mistakes exit 1 with the server's reason.
    let out = run(&["ack", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("409") && err.contains("already acknowledged"),
        "{err}"
    );
    let out = run(&["postmortem", "7"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no incident 7"));
}
