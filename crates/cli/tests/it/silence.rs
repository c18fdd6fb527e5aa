//! `headroom silence add|list|expire` against a running `headroom serve`.

use crate::common::{free_port, headroom, start_with_token, text};

#[test]
fn silences_are_added_listed_and_expired() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.yaml");
    std::fs::write(
        &config,
        "route: {receiver: team}\nreceivers: [{name: team}]\n",
    )
    .unwrap();
    let addr = free_port();
    let (mut child, token) = start_with_token(&dir.path().join("data"), &config, addr);
    let server = format!("http://{addr}");

    let add = headroom(
        &server,
        &token,
        &[
            "silence",
            "add",
            "alertname=Disk",
            "service=~\"api.*\"",
            "--duration",
            "2h",
            "-c",
            "disk swap",
            "--author",
            "alice",
        ],
    );
    assert!(add.status.success(), "{}", text(&add));
    let id = String::from_utf8_lossy(&add.stdout).trim().to_string();
    assert_eq!(id.len(), 36, "{id}");

    let list = headroom(&server, &token, &["silence", "list"]);
    assert!(list.status.success(), "{}", text(&list));
    let out = text(&list);
    let row = out.lines().find(|l| l.starts_with(&id)).expect("listed");
    assert!(row.contains("active"), "{row}");
    assert!(
        row.contains(r#"alertname="Disk",service=~"api.*" / disk swap"#),
        "{row}"
    );
    assert!(row.contains("alice"), "{row}");

    let json = headroom(&server, &token, &["silence", "list", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v[0]["matchers"][1]["isRegex"], true);

    let bad = headroom(&server, &token, &["silence", "add", "=x", "-c", "c"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));

    let expire = headroom(&server, &token, &["silence", "expire", &id]);
    assert!(expire.status.success(), "{}", text(&expire));
    let list = headroom(&server, &token, &["silence", "list"]);
    assert!(!text(&list).contains(&id));
    let all = headroom(&server, &token, &["silence", "list", "--expired"]);
    assert!(
        text(&all)
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("expired"))
    );
    let again = headroom(&server, &token, &["silence", "expire", &id]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("already expired"));

    child.kill().unwrap();
    child.wait().unwrap();
}
