//! GitHub webhooks: every octokit example in the shared fixtures is read or ignored with its
//! reason, each event's facts are read with their values, and bad bodies name the field.

use std::path::{Path, PathBuf};

use headroom_core::Timestamp;
use headroom_ingest::github::{
    DeploymentState, Hook, IssueAction, MergedPullRequest, RunConclusion, parse,
};
use headroom_ingest::hook::{HookError, MAX_HOOK_BYTES, Sha};
use serde_json::Value;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/github"
);
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/github");

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixture(rel: &str) -> Vec<u8> {
    read(&Path::new(FIXTURES).join(rel))
}

fn data(rel: &str) -> Vec<u8> {
    read(&Path::new(DATA).join(rel))
}

fn at(rfc3339: &str) -> Timestamp {
    Timestamp::from_chrono(&chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap())
}

fn sha(s: &str) -> Sha {
    Sha::parse(s).unwrap()
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(json_files(&path));
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// What a fixture must give, worked out from its folder, its file name and the raw JSON (not
/// from the parser under test).
enum Expect {
    Push,
    Deployment,
    DeploymentStatus,
    WorkflowRun,
    Issue(IssueAction),
    Ignored(String),
}

fn expected(event: &str, file: &str, json: &Value) -> Expect {
    let action = file.split('.').next().unwrap();
    match event {
        "push" if json["deleted"] == true => Expect::Ignored(format!(
            "push deletes {}: nothing was added",
            json["ref"].as_str().unwrap()
        )),
        "push" => Expect::Push,
        "pull_request" => {
            let n = &json["pull_request"]["number"];
            Expect::Ignored(if action == "closed" {
                format!("pull_request #{n} closed without merging")
            } else {
                format!("pull_request #{n} {action}: only a merge lands a change")
            })
        }
        "deployment" => Expect::Deployment,
        "deployment_status" => Expect::DeploymentStatus,
        "workflow_run" if action == "completed" => Expect::WorkflowRun,
        "workflow_run" => Expect::Ignored(format!(
            "workflow_run {} ({}) {action}: only a completed run is read",
            json["workflow_run"]["id"],
            json["workflow"]["name"].as_str().unwrap()
        )),
        "issues" => match action {
            "opened" => Expect::Issue(IssueAction::Opened),
            "closed" => Expect::Issue(IssueAction::Closed),
            "reopened" => Expect::Issue(IssueAction::Reopened),
            "labeled" => Expect::Issue(IssueAction::Labeled),
            "unlabeled" => Expect::Issue(IssueAction::Unlabeled),
            other => Expect::Ignored(format!(
                "issues #{} {other}: neither opens, closes nor relabels the issue",
                json["issue"]["number"]
            )),
        },
        "check_suite" => Expect::Ignored(
            "check_suite: deploys are read from deployment, deployment_status and workflow_run"
                .to_string(),
        ),
        other => panic!("no expectation for {other}/{file}"),
    }
}

fn check_outcome(hook: &Hook, expect: &Expect, name: &str) {
    match (hook, expect) {
        (Hook::Push(_), Expect::Push)
        | (Hook::Deployment(_), Expect::Deployment)
        | (Hook::DeploymentStatus(_), Expect::DeploymentStatus)
        | (Hook::WorkflowRun(_), Expect::WorkflowRun) => {}
        (Hook::Issue(i), Expect::Issue(a)) => assert_eq!(i.action, *a, "{name}"),
        (Hook::Ignored { reason }, Expect::Ignored(want)) => assert_eq!(reason, want, "{name}"),
        (got, _) => panic!("{name}: unexpected outcome {got:?}"),
    }
}

#[test]
fn every_shared_github_example_is_read_or_ignored_with_its_reason() {
    let files = json_files(Path::new(FIXTURES));
    let mut per_event = std::collections::BTreeMap::<String, usize>::new();
    for path in &files {
        let event = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        let file = path.file_name().unwrap().to_str().unwrap();
        let body = read(path);
        let json: Value = serde_json::from_slice(&body).unwrap();
        let name = format!("{event}/{file}");
        let hook = parse(event, &body).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_outcome(&hook, &expected(event, file, &json), &name);
        *per_event.entry(event.to_string()).or_default() += 1;
    }
    // The walk saw every folder of examples, so none was skipped unread.
    let counts: Vec<(&str, usize)> = per_event.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        counts,
        [
            ("check_suite", 8),
            ("deployment", 3),
            ("deployment_status", 3),
            ("issues", 28),
            ("pull_request", 28),
            ("push", 6),
            ("workflow_run", 4),
        ]
    );
}

#[test]
fn every_project_example_is_read() {
    for path in json_files(Path::new(DATA)) {
        let event = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        let hook = parse(event, &read(&path)).unwrap();
        let name = path.display().to_string();
        match (event, &hook) {
            ("pull_request", Hook::MergedPullRequest(_))
            | ("issues", Hook::Issue(_))
            | ("push", Hook::Push(_))
            | ("workflow_run", Hook::Ignored { .. }) => {}
            _ => panic!("{name}: {hook:?}"),
        }
    }
}

#[test]
fn a_push_to_a_new_branch_lists_its_commit() {
    let Hook::Push(p) = parse("push", &fixture("push/with-new-branch.payload.json")).unwrap()
    else {
        panic!("not a push")
    };
    assert_eq!(p.repository, "Codertocat/Hello-World");
    assert_eq!(
        (p.git_ref.as_str(), p.branch.as_str()),
        ("refs/heads/master", "master")
    );
    assert_eq!(p.before, None, "a created branch has no old tip");
    assert!(p.created && !p.forced);
    assert_eq!(p.after, sha("6113728f27ae82c7b1a177c8d03f9e96e0adf246"));
    assert_eq!(p.head, p.after);
    assert_eq!(p.commits.len(), 1);
    let c = &p.commits[0];
    assert_eq!(c.id, sha("6113728f27ae82c7b1a177c8d03f9e96e0adf246"));
    assert_eq!(c.title, "Initial commit");
    assert_eq!(c.timestamp, at("2019-05-15T15:19:25Z"));
    assert_eq!(
        (c.authored_at, c.committed_at, c.parents.clone()),
        (None, None, None)
    );
    assert!(c.distinct);
    assert_eq!(c.added, ["README.md"]);
    assert!(c.modified.is_empty() && c.removed.is_empty());
}

#[test]
fn pushed_commits_keep_their_times_and_files() {
    let Hook::Push(p) = parse("push", &data("push/merge-to-main.json")).unwrap() else {
        panic!("not a push")
    };
    assert_eq!(p.repository, "acme/checkout");
    assert_eq!(p.branch, "main");
    assert_eq!(
        p.before,
        Some(sha("0d1f5e3b9c2a4f6e8d7c6b5a4f3e2d1c0b9a8f7e"))
    );
    assert_eq!(p.head, sha("5f0e4c3b2a1d9e8f7a6b5c4d3e2f1a0b9c8d7e6f"));
    let [first, merge] = &p.commits[..] else {
        panic!("{:?}", p.commits)
    };
    // The first line only; the timestamp's offset is kept as the instant it names.
    assert_eq!(first.title, "Retry card authorisation once");
    assert_eq!(first.timestamp, at("2026-03-02T09:01:44Z"));
    assert_eq!(first.authored_at, Some(at("2026-03-02T09:01:44Z")));
    assert_eq!(first.committed_at, Some(at("2026-03-03T16:39:58Z")));
    assert!(!first.distinct, "already pushed on its branch");
    assert_eq!(
        (first.added.as_slice(), first.modified.as_slice()),
        (
            &["src/retry.rs".to_string()][..],
            &["src/card.rs".to_string()][..]
        )
    );
    assert_eq!(merge.title, "Merge pull request #41 from acme/retry-auth");
    assert_eq!((merge.authored_at, merge.committed_at), (None, None));
    assert_eq!(merge.removed, ["src/legacy.rs"]);
    assert!(merge.distinct);
}

#[test]
fn pushes_that_add_nothing_to_a_branch_say_why() {
    let base: Value = serde_json::from_slice(&data("push/merge-to-main.json")).unwrap();
    type Change = fn(&mut Value);
    let cases: [(Change, &str); 4] = [
        (
            |v| v["ref"] = "refs/tags/v1.4.0".into(),
            "push of tag v1.4.0: a tag adds no commits to a branch",
        ),
        (
            |v| {
                v["deleted"] = true.into();
                v["head_commit"] = Value::Null;
            },
            "push deletes refs/heads/main: nothing was added",
        ),
        (
            |v| v["head_commit"] = Value::Null,
            "push to main has no head commit (head_commit is null)",
        ),
        (
            |v| v["ref"] = "refs/notes/commits".into(),
            "push to refs/notes/commits: not a branch",
        ),
    ];
    for (change, reason) in cases {
        let mut v = base.clone();
        change(&mut v);
        let hook = parse("push", v.to_string().as_bytes()).unwrap();
        assert_eq!(
            hook,
            Hook::Ignored {
                reason: reason.to_string()
            }
        );
    }
}

fn merged(file: &str) -> MergedPullRequest {
    match parse("pull_request", &data(file)).unwrap() {
        Hook::MergedPullRequest(m) => m,
        other => panic!("{file}: {other:?}"),
    }
}

#[test]
fn merged_pull_requests_by_merge_commit_squash_and_rebase() {
    let m = merged("pull_request/closed.merged-merge-commit.json");
    assert_eq!(m.repository, "acme/checkout");
    assert_eq!(
        (m.number, m.title.as_str()),
        (41, "Retry card authorisation once")
    );
    assert_eq!(m.opened_at, at("2026-03-02T09:15:00Z"));
    assert_eq!(m.merged_at, at("2026-03-03T16:40:12Z"));
    assert_eq!(
        m.merge_commit_sha,
        sha("5f0e4c3b2a1d9e8f7a6b5c4d3e2f1a0b9c8d7e6f")
    );
    assert_eq!(
        (m.base_ref.as_str(), m.head_ref.as_str()),
        ("main", "retry-auth")
    );
    assert_eq!(m.head_sha, sha("a3c9e0d6b1f24c7e9d8a7b6c5d4e3f2a1b0c9d8e"));
    assert_eq!(
        (m.commits, m.labels.clone()),
        (Some(2), vec!["payments".to_string()])
    );

    let s = merged("pull_request/closed.merged-squash.json");
    assert_eq!((s.number, s.commits), (42, Some(3)));
    assert_eq!(s.merged_at, at("2026-03-04T13:05:30Z"));
    assert_eq!(
        s.merge_commit_sha,
        sha("c2e4f6a8b0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0")
    );
    assert!(s.labels.is_empty());

    let r = merged("pull_request/closed.merged-rebase.json");
    assert_eq!((r.number, r.head_ref.as_str()), (43, "no-legacy-coupons"));
    // Rebased commits are new commits: the base got neither the head nor its id.
    assert_ne!(r.merge_commit_sha, r.head_sha);
    assert_eq!(
        r.merge_commit_sha,
        sha("e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0")
    );
    assert_eq!(r.labels, ["cleanup", "risk:low"]);
}

#[test]
fn deployments_and_their_statuses() {
    let Hook::Deployment(d) =
        parse("deployment", &fixture("deployment/gh-pages.payload.json")).unwrap()
    else {
        panic!("not a deployment")
    };
    assert_eq!(
        (d.repository.as_str(), d.id),
        ("Codertocat/Hello-World", 145988746)
    );
    assert_eq!(d.sha, sha("f95f852bd8fca8fcc58a9a2d6c842781e32a215e"));
    assert_eq!(
        (d.git_ref.as_str(), d.task.as_str()),
        ("gh-pages", "deploy")
    );
    assert_eq!(d.environment, "github-pages");
    assert_eq!(
        (d.production_environment, d.transient_environment),
        (Some(false), Some(false))
    );
    assert_eq!(d.created_at, at("2022-01-03T01:28:30Z"));
    assert_eq!(d.updated_at, at("2022-01-03T01:28:40Z"));

    // Older payloads say nothing of production; that stays unknown, not false.
    let Hook::Deployment(old) = parse("deployment", &fixture("deployment/payload.json")).unwrap()
    else {
        panic!("not a deployment")
    };
    assert_eq!(
        (old.environment.as_str(), old.production_environment),
        ("production", None)
    );

    let Hook::DeploymentStatus(s) = parse(
        "deployment_status",
        &fixture("deployment_status/payload.json"),
    )
    .unwrap() else {
        panic!("not a deployment status")
    };
    assert_eq!((s.id, s.state), (209916254, DeploymentState::Success));
    assert_eq!(s.environment, "production");
    assert_eq!(s.created_at, at("2019-05-15T15:20:55Z"));
    assert_eq!(
        (s.deployment.id, s.deployment.git_ref.as_str()),
        (145988746, "master")
    );
    assert_eq!(s.deployment.updated_at, at("2019-05-15T15:20:55Z"));

    let Hook::DeploymentStatus(p) = parse(
        "deployment_status",
        &fixture("deployment_status/gh-pages.payload.json"),
    )
    .unwrap() else {
        panic!("not a deployment status")
    };
    assert_eq!(p.state, DeploymentState::InProgress);
    assert_eq!(p.deployment.production_environment, Some(false));

    // Every state GitHub documents reads as itself.
    let base: Value = serde_json::from_slice(&fixture("deployment_status/payload.json")).unwrap();
    for state in DeploymentState::ALL {
        let mut v = base.clone();
        v["deployment_status"]["state"] = state.as_str().into();
        match parse("deployment_status", v.to_string().as_bytes()).unwrap() {
            Hook::DeploymentStatus(s) => assert_eq!(s.state, state),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn completed_workflow_runs_are_read_and_running_ones_ignored() {
    let Hook::WorkflowRun(r) = parse(
        "workflow_run",
        &fixture("workflow_run/completed.payload.json"),
    )
    .unwrap() else {
        panic!("not a run")
    };
    assert_eq!(r.repository, "octo-org/octo-repo");
    // The run has no name of its own here; its workflow's name stands in.
    assert_eq!((r.id, r.name.as_str()), (289782451, "test"));
    assert_eq!(r.path, ".github/workflows/test.yml");
    assert_eq!(r.head_sha, sha("3484a3fb816e0859fd6e1cea078d76385ff50625"));
    assert_eq!(r.head_branch.as_deref(), Some("master"));
    assert_eq!(
        (r.event.as_str(), r.run_number, r.run_attempt),
        ("repository_dispatch", 163, 1)
    );
    assert_eq!(r.conclusion, RunConclusion::Success);
    assert_eq!(r.started_at, at("2020-10-05T16:33:49Z"));
    assert_eq!(r.updated_at, at("2020-10-05T16:33:49Z"));

    let running = parse("workflow_run", &data("workflow_run/in_progress.json")).unwrap();
    assert_eq!(
        running,
        Hook::Ignored {
            reason: "workflow_run 8800000123 (Deploy) in_progress: only a completed run is read"
                .to_string()
        }
    );

    // The same run, completed: a failure is as much a fact as a success.
    let mut v: Value = serde_json::from_slice(&data("workflow_run/in_progress.json")).unwrap();
    v["action"] = "completed".into();
    v["workflow_run"]["status"] = "completed".into();
    v["workflow_run"]["conclusion"] = "failure".into();
    v["workflow_run"]["updated_at"] = "2026-03-03T16:44:02Z".into();
    let Hook::WorkflowRun(done) = parse("workflow_run", v.to_string().as_bytes()).unwrap() else {
        panic!("not a run")
    };
    assert_eq!(
        (done.name.as_str(), done.conclusion),
        ("Deploy", RunConclusion::Failure)
    );
    assert_eq!(done.path, ".github/workflows/deploy.yml");
    assert_eq!(done.started_at, at("2026-03-03T16:40:20Z"));
    assert_eq!(done.updated_at, at("2026-03-03T16:44:02Z"));
}

#[test]
fn issues_opened_labelled_and_closed() {
    let Hook::Issue(closed) = parse("issues", &data("issues/closed.incident.json")).unwrap() else {
        panic!("not an issue")
    };
    assert_eq!(
        (closed.repository.as_str(), closed.number),
        ("acme/checkout", 77)
    );
    assert_eq!(closed.action, IssueAction::Closed);
    assert_eq!(closed.title, "Checkout returns 502 for card payments");
    assert_eq!(closed.labels, ["incident", "sev2"]);
    assert_eq!(closed.label, None);
    assert_eq!(closed.created_at, at("2026-03-07T02:11:09Z"));
    assert_eq!(closed.closed_at, Some(at("2026-03-07T03:48:51Z")));

    let Hook::Issue(labeled) = parse("issues", &fixture("issues/labeled.payload.json")).unwrap()
    else {
        panic!("not an issue")
    };
    assert_eq!(
        (labeled.action, labeled.label.as_deref()),
        (IssueAction::Labeled, Some("bug"))
    );
    assert_eq!(
        (labeled.number, labeled.labels.clone()),
        (1, vec!["bug".to_string()])
    );
    assert_eq!(labeled.created_at, at("2019-05-15T15:20:18Z"));
    assert_eq!(labeled.closed_at, None);

    let Hook::Issue(reopened) = parse("issues", &fixture("issues/reopened.payload.json")).unwrap()
    else {
        panic!("not an issue")
    };
    // Reopened, it still carries when it was last closed.
    assert_eq!(reopened.action, IssueAction::Reopened);
    assert_eq!(reopened.closed_at, Some(at("2021-07-05T18:07:10Z")));
}

#[test]
fn pings_other_events_and_form_bodies() {
    let ping = br#"{"zen":"Design for failure.","hook_id":109948940,"hook":{"type":"Repository"}}"#;
    assert_eq!(
        parse("ping", ping).unwrap(),
        Hook::Ignored {
            reason: "ping: GitHub checking that the hook is reachable".to_string()
        }
    );
    let Hook::Ignored { reason } = parse("star", br#"{"action":"created"}"#).unwrap() else {
        panic!("a star was read")
    };
    assert!(
        reason.starts_with("star: not an event headroom reads"),
        "{reason}"
    );

    // GitHub's form content type: the same JSON, URL-encoded in a `payload` field.
    let json = data("pull_request/closed.merged-squash.json");
    let mut form = b"payload=".to_vec();
    for &b in &json {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => form.push(b),
            b' ' => form.push(b'+'),
            _ => form.extend(format!("%{b:02X}").bytes()),
        }
    }
    assert_eq!(
        parse("pull_request", &form).unwrap(),
        parse("pull_request", &json).unwrap()
    );
}

fn malformed(event: &str, body: &[u8]) -> (String, String) {
    match parse(event, body) {
        Err(HookError::Malformed { event: e, error }) => {
            assert_eq!(e, event);
            (error.path, error.message)
        }
        other => panic!("{event}: {other:?}"),
    }
}

#[test]
fn malformed_bodies_name_the_field() {
    let edit = |file: &str, change: fn(&mut Value)| {
        let mut v: Value = serde_json::from_slice(&data(file)).unwrap();
        change(&mut v);
        v.to_string().into_bytes()
    };
    let push = "push/merge-to-main.json";
    let (path, msg) = malformed(
        "push",
        &edit(push, |v| v["commits"][1]["timestamp"] = "yesterday".into()),
    );
    assert_eq!(path, "commits[1].timestamp");
    assert!(msg.contains("\"yesterday\" is not a time"), "{msg}");
    let (path, msg) = malformed(
        "push",
        &edit(push, |v| v["head_commit"]["id"] = "5f0e4c3".into()),
    );
    assert_eq!(path, "head_commit.id");
    assert!(msg.contains("not a commit id"), "{msg}");
    let (path, _) = malformed("push", &edit(push, |v| v["commits"][0]["added"] = 3.into()));
    assert_eq!(path, "commits[0].added");
    let (path, msg) = malformed(
        "push",
        &edit(push, |v| {
            v.as_object_mut().unwrap().remove("repository");
        }),
    );
    assert_eq!((path.as_str(), msg.as_str()), ("repository", "is required"));

    let squash = "pull_request/closed.merged-squash.json";
    let (path, _) = malformed(
        "pull_request",
        &edit(squash, |v| {
            v["pull_request"]["merge_commit_sha"] = Value::Null
        }),
    );
    assert_eq!(path, "pull_request.merge_commit_sha");
    let (path, _) = malformed(
        "pull_request",
        &edit(squash, |v| v["pull_request"]["head"]["sha"] = 12.into()),
    );
    assert_eq!(path, "pull_request.head.sha");

    let mut status: Value =
        serde_json::from_slice(&fixture("deployment_status/payload.json")).unwrap();
    status["deployment_status"]["state"] = "exploded".into();
    let (path, msg) = malformed("deployment_status", status.to_string().as_bytes());
    assert_eq!(path, "deployment_status.state");
    assert!(
        msg.contains("\"exploded\" is not a deployment state (one of pending, queued, in_progress"),
        "{msg}"
    );

    let mut run: Value =
        serde_json::from_slice(&fixture("workflow_run/completed.payload.json")).unwrap();
    run["workflow_run"]["conclusion"] = Value::Null;
    let (path, msg) = malformed("workflow_run", run.to_string().as_bytes());
    assert_eq!(
        (path.as_str(), msg.as_str()),
        ("workflow_run.conclusion", "is required")
    );

    let (path, msg) = malformed(
        "issues",
        &edit("issues/closed.incident.json", |v| {
            v["issue"]["labels"][1] = "sev2".into()
        }),
    );
    assert_eq!(
        (path.as_str(), msg.as_str()),
        ("issue.labels[1]", "must be a JSON object")
    );

    let (path, msg) = malformed("push", b"{\"ref\": ");
    assert_eq!(path, "");
    assert!(msg.starts_with("invalid JSON at line 1 column"), "{msg}");
    let (path, msg) = malformed("deployment", b"[]");
    assert_eq!((path.as_str(), msg.as_str()), ("", "must be a JSON object"));
}

#[test]
fn oversized_bodies_and_unnamed_events_are_refused() {
    let big = vec![b' '; MAX_HOOK_BYTES + 1];
    assert_eq!(
        parse("push", &big),
        Err(HookError::TooLarge {
            len: MAX_HOOK_BYTES + 1,
            limit: MAX_HOOK_BYTES
        })
    );
    let e = parse(" ", b"{}").unwrap_err();
    assert_eq!(
        e.to_string(),
        "X-GitHub-Event is missing: it names the event the body describes"
    );
}
