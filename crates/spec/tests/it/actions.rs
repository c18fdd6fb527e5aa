//! `actions`: each kind and trigger read into its type, secrets read from files and kept out
//! of `Debug`, and mistakes located at their file, line and column.

use std::time::Duration;

use headroom_spec::{ActionKind, ActionTrigger, GithubEvent, load_paths, load_str};

fn problems(text: &str) -> Vec<String> {
    match load_str("a.yaml", text) {
        Ok(_) => panic!("should fail:\n{text}"),
        Err(p) => p.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn each_kind_and_trigger_is_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gh"), "ghp_fromfile\n").unwrap();
    std::fs::write(dir.path().join("key"), "k3y-from-file\n").unwrap();
    let path = dir.path().join("actions.yaml");
    std::fs::write(
        &path,
        r#"
actions:
  - name: rollback
    kind: http
    url: https://deploy.example.com/rollback
    headers: {X-Key: {value_file: key}, X-Team: payments-team}
    body: '{"service": {{ service }}}'
    on:
      - gate_denied: {service: checkout}
      - canary_failed: {}
      - alert: {matchers: ['severity="page"', 'service=~"check.*"']}
      - incident_declared: {severity: [sev1, SEV2], service: checkout}
      - budget_below: {slo: checkout-availability, remaining: 0.2}
    approval: required
    timeout: 30s
    max_attempts: 3
  - name: redeploy
    kind: github_dispatch
    repository: octo-org/shop
    workflow: deploy.yml
    ref: main
    inputs: {reason: "{{ trigger }}"}
    token_file: gh
  - name: notify
    kind: github_dispatch
    repository: octo-org/shop
    event_type: rollback
    client_payload: {service: "{{ service }}"}
    token: ghp_inline
    dry_run: true
  - name: pipeline
    kind: gitlab_trigger
    project: "1234"
    ref: main
    token: glptt-inline
    variables: {REASON: "{{ trigger }}"}
    api_url: https://gitlab.example.com/
"#,
    )
    .unwrap();
    let c = load_paths(&[path]).unwrap();
    let names: Vec<&str> = c.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["rollback", "redeploy", "notify", "pipeline"]);
    let rollback = &c.actions[0];
    let ActionKind::Http(h) = &rollback.kind else {
        panic!("{rollback:?}")
    };
    assert_eq!(h.method, "POST");
    assert_eq!(
        h.headers,
        [
            ("X-Key".to_string(), "k3y-from-file".to_string()),
            ("X-Team".to_string(), "payments-team".to_string())
        ]
    );
    assert!(rollback.approval_required && !rollback.dry_run);
    assert_eq!(
        (rollback.timeout, rollback.max_attempts),
        (Duration::from_secs(30), 3)
    );
    let triggers: Vec<&str> = rollback.on.iter().map(ActionTrigger::name).collect();
    assert_eq!(
        triggers,
        [
            "gate_denied",
            "canary_failed",
            "alert",
            "incident_declared",
            "budget_below"
        ]
    );
    assert!(matches!(&rollback.on[2], ActionTrigger::Alert { matchers } if matchers.len() == 2));
    assert!(matches!(
        &rollback.on[4],
        ActionTrigger::BudgetBelow { remaining, .. } if *remaining == 0.2
    ));
    let ActionKind::GithubDispatch(g) = &c.actions[1].kind else {
        panic!()
    };
    assert_eq!(g.token, "ghp_fromfile");
    assert_eq!(g.api_url, "https://api.github.com");
    assert!(
        matches!(&g.event, GithubEvent::Workflow { workflow, git_ref, .. } if workflow == "deploy.yml" && git_ref == "main")
    );
    assert!(c.actions[2].dry_run);
    let ActionKind::GitlabTrigger(l) = &c.actions[3].kind else {
        panic!()
    };
    assert_eq!(l.api_url, "https://gitlab.example.com");
    assert_eq!(
        (c.actions[3].timeout, c.actions[3].max_attempts),
        (Duration::from_secs(10), 5)
    );
    let shown = format!("{c:?}");
    for secret in [
        "k3y-from-file",
        "payments-team",
        "ghp_fromfile",
        "ghp_inline",
        "glptt-inline",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

#[test]
fn mistakes_are_located() {
    let e = problems(
        r#"actions:
  - name: a
    kind: webhook
  - name: b
    kind: http
    url: ftp://x
  - name: c
    kind: github_dispatch
    workflow: deploy.yml
    ref: main
    token: t
  - name: d
    kind: http
    url: https://x.example.com
  - name: d
    kind: http
    url: https://x.example.com
  - name: e
    kind: http
    url: https://x.example.com
    body: '{{ oops'
    on:
      - budget_below: {remaining: 20}
      - paged: {}
      - alert: {matchers: ['severity=~"("']}
"#,
    );
    let want = [
        "a.yaml:3:11: unknown action kind \"webhook\": expected one of http, github_dispatch, gitlab_trigger",
        "a.yaml:6:10: url \"ftp://x\" must be an http:// or https:// URL with a host",
        "a.yaml:7:5: missing field \"repository\" in action",
    ];
    for (got, want) in e.iter().zip(want) {
        assert_eq!(got, want, "{e:#?}");
    }
    let rest = e[3..].join("\n");
    assert!(rest.contains("a.yaml:25:"), "bad matcher located: {rest}");
    assert!(rest.contains("invalid regex"), "{rest}");
    assert!(
        rest.contains("a.yaml:15:5: action \"d\" is already defined at a.yaml:12:5"),
        "{rest}"
    );
    assert!(rest.contains("a.yaml:21:11: body: template"), "{rest}");
    assert!(
        rest.contains("a.yaml:23:35: remaining is a fraction of the budget"),
        "{rest}"
    );
    assert!(
        rest.contains("a.yaml:24:9: unknown field \"paged\" in trigger"),
        "{rest}"
    );
}

#[test]
fn dispatch_and_trigger_keys_belong_to_their_kind() {
    let e = problems(
        r#"actions:
  - name: a
    kind: github_dispatch
    repository: octo-org/shop
    event_type: go
    ref: main
  - name: b
    kind: gitlab_trigger
    project: /abs
    ref: main
    url: https://x.example.com
  - name: c
    kind: http
    url: https://x.example.com
    approval: maybe
    max_attempts: 50
  - name: d
    kind: github_dispatch
    repository: octo-org/shop
    workflow: "42"
    ref: main
    token: t
    inputs: {a: "1", b: "2", c: "3", d: "4", e: "5", f: "6", g: "7", h: "8", i: "9", j: "10", k: "11"}
"#,
    );
    let all = e.join("\n");
    for want in [
        "a.yaml:6:5: ref goes with workflow, not event_type",
        "a.yaml:2:5: action needs token or token_file",
        "a.yaml:11:5: unknown field \"url\" in action",
        "a.yaml:9:14: project \"/abs\" is not a numeric id or a group/project path",
        "a.yaml:15:15: approval \"maybe\": expected required or none",
        "a.yaml:16:19: max_attempts must be a whole number from 1 to 20",
        "a.yaml:23:13: inputs: GitHub takes at most 10",
    ] {
        assert!(all.contains(want), "{want} not in:\n{all}");
    }
}

#[test]
fn the_readme_example_loads() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README");
    let block = readme
        .split("```yaml\n")
        .filter_map(|b| b.split("```").next())
        .find(|b| b.starts_with("actions:"))
        .expect("README shows actions");
    // The secret files it names do not exist here: the same secrets inline.
    let text = block
        .replace("{value_file: secrets/deploy}", "Bearer x")
        .replace("token_file: secrets/github", "token: x")
        .replace("token_file: secrets/gitlab-trigger", "token: x");
    let c = load_str("README.md", &text).unwrap_or_else(|p| panic!("{p:?}\n{text}"));
    assert_eq!(c.actions.len(), 3);
    assert_eq!(c.actions[0].on.len(), 5);
}
