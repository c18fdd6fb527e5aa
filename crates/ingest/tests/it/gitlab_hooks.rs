//! GitLab webhooks: the documented Deployment and Pipeline examples in the shared fixtures,
//! Push and Merge Request hooks, the deployed commit found from `short_sha`, and bad bodies
//! named by field.

use std::path::Path;

use headroom_core::Timestamp;
use headroom_ingest::gitlab::{
    Deployment, DeploymentStatus, Hook, JobEnvironment, PipelineStatus, parse,
};
use headroom_ingest::hook::{HookError, Sha};
use serde_json::Value;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/gitlab"
);
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/gitlab");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(name)).unwrap()
}

fn data(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(DATA).join(name)).unwrap()
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

fn at(rfc3339: &str) -> Timestamp {
    Timestamp::from_chrono(&chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap())
}

fn sha(s: &str) -> Sha {
    Sha::parse(s).unwrap()
}

/// The header GitLab sends with a body of this `object_kind`.
fn header_for(kind: &str) -> &'static str {
    match kind {
        "push" => "Push Hook",
        "tag_push" => "Tag Push Hook",
        "merge_request" => "Merge Request Hook",
        "pipeline" => "Pipeline Hook",
        "deployment" => "Deployment Hook",
        other => panic!("no header for {other}"),
    }
}

#[test]
fn every_shared_gitlab_example_is_read() {
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(FIXTURES).unwrap() {
        let path = entry.unwrap().path();
        let body = std::fs::read(&path).unwrap();
        let kind = json(&body)["object_kind"].as_str().unwrap().to_string();
        let hook =
            parse(header_for(&kind), &body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            matches!(
                (kind.as_str(), &hook),
                ("deployment", Hook::Deployment(_)) | ("pipeline", Hook::Pipeline(_))
            ),
            "{}: {hook:?}",
            path.display()
        );
        seen.push(kind);
    }
    seen.sort();
    assert_eq!(seen, ["deployment", "pipeline"]);
}

fn deployment(body: &[u8]) -> Deployment {
    match parse("Deployment Hook", body).unwrap() {
        Hook::Deployment(d) => d,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_documented_deployment_hook() {
    let d = deployment(&fixture("deployment.json"));
    assert_eq!(d.project, "root/test-deployment-webhooks");
    assert_eq!((d.deployment_id, d.deployable_id), (15, Some(796)));
    assert_eq!(d.status, DeploymentStatus::Success);
    // "2021-04-28 21:50:00 +0200"
    assert_eq!(d.status_changed_at, at("2021-04-28T19:50:00Z"));
    assert_eq!(d.environment, "staging");
    assert_eq!(d.environment_tier.as_deref(), Some("staging"));
    assert_eq!(
        d.environment_external_url.as_deref(),
        Some("https://staging.example.com")
    );
    assert_eq!(d.short_sha, "279484c0");
    // commit_url carries the full id.
    assert_eq!(d.sha, Some(sha("279484c09fbe69ededfced8c1bb6e6d24616b468")));
    assert_eq!(d.commit_title.as_deref(), Some("Add new file"));
}

#[test]
fn a_deployment_without_its_commit_url_is_resolved_from_pushed_commits() {
    let mut v = json(&fixture("deployment.json"));
    v.as_object_mut().unwrap().remove("commit_url");
    v["status"] = "running".into();
    let d = deployment(v.to_string().as_bytes());
    assert_eq!((d.status, d.sha.clone()), (DeploymentStatus::Running, None));
    assert_eq!(d.short_sha, "279484c0");

    let Hook::Push(push) = parse("Push Hook", &data("push.json")).unwrap() else {
        panic!("not a push")
    };
    let pushed: Vec<Sha> = push.commits.iter().map(|c| c.id.clone()).collect();
    assert_eq!(
        d.resolve_sha(&pushed),
        Some(sha("279484c09fbe69ededfced8c1bb6e6d24616b468"))
    );
    // Not among what was pushed: unresolved, the short id kept.
    assert_eq!(d.resolve_sha(&pushed[..1]), None);
    // Two commits the short id abbreviates: ambiguous, so unresolved.
    let twin = sha("279484c0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_eq!(d.resolve_sha([&pushed[1], &twin, &pushed[1]]), None);
    // The same commit listed twice is still one commit.
    assert_eq!(
        d.resolve_sha([&pushed[1], &pushed[1]]),
        Some(pushed[1].clone())
    );
    // A known id needs no resolving.
    let known = deployment(&fixture("deployment.json"));
    assert_eq!(known.resolve_sha(std::iter::empty()), known.sha);
}

#[test]
fn every_deployment_status_reads() {
    let base = json(&fixture("deployment.json"));
    for status in DeploymentStatus::ALL {
        let mut v = base.clone();
        v["status"] = status.as_str().into();
        assert_eq!(deployment(v.to_string().as_bytes()).status, status);
    }
}

#[test]
fn the_documented_pipeline_hook() {
    let Hook::Pipeline(p) = parse("Pipeline Hook", &fixture("pipeline.json")).unwrap() else {
        panic!("not a pipeline")
    };
    assert_eq!(p.project, "gitlab-org/gitlab-test");
    assert_eq!((p.id, p.iid), (31, Some(3)));
    assert_eq!(p.name.as_deref(), Some("Pipeline for branch: master"));
    assert_eq!((p.git_ref.as_str(), p.tag), ("master", false));
    assert_eq!(p.sha, sha("bcbb5ec396a2c0f828686f14fac9b80b780504f2"));
    assert_eq!(
        p.before_sha,
        Some(sha("bcbb5ec396a2c0f828686f14fac9b80b780504f2"))
    );
    assert_eq!(p.source.as_deref(), Some("merge_request_event"));
    assert_eq!(p.status, PipelineStatus::Success);
    // "2016-08-12 15:23:28 UTC"
    assert_eq!(p.created_at, Some(at("2016-08-12T15:23:28Z")));
    assert_eq!(p.finished_at, Some(at("2016-08-12T15:26:29Z")));
    // One job of the two names an environment.
    assert_eq!(
        p.environments,
        [JobEnvironment {
            job_id: 380,
            job: "production".to_string(),
            stage: Some("deploy".to_string()),
            job_status: "skipped".to_string(),
            finished_at: None,
            environment: "production".to_string(),
            action: Some("start".to_string()),
            tier: Some("production".to_string()),
        }]
    );
}

#[test]
fn only_finished_pipelines_are_read() {
    let base = json(&fixture("pipeline.json"));
    for status in PipelineStatus::ALL {
        let mut v = base.clone();
        v["object_attributes"]["status"] = status.as_str().into();
        let hook = parse("Pipeline Hook", v.to_string().as_bytes()).unwrap();
        match hook {
            Hook::Pipeline(p) => {
                assert!(status.is_finished(), "{status:?}");
                assert_eq!(p.status, status);
            }
            Hook::Ignored { reason } => {
                assert!(!status.is_finished(), "{status:?}");
                assert_eq!(
                    reason,
                    format!(
                        "pipeline 31 is {}: only a finished pipeline is read",
                        status.as_str()
                    )
                );
            }
            other => panic!("{other:?}"),
        }
    }
    let finished: Vec<_> = PipelineStatus::ALL
        .into_iter()
        .filter(|s| s.is_finished())
        .map(PipelineStatus::as_str)
        .collect();
    assert_eq!(finished, ["success", "failed", "canceled", "skipped"]);
}

#[test]
fn a_push_lists_its_commits() {
    let Hook::Push(p) = parse("Push Hook", &data("push.json")).unwrap() else {
        panic!("not a push")
    };
    assert_eq!(p.project, "shop/checkout");
    assert_eq!(
        (p.git_ref.as_str(), p.branch.as_str()),
        ("refs/heads/main", "main")
    );
    assert_eq!(
        p.before,
        Some(sha("7a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a69"))
    );
    assert_eq!(p.after, sha("279484c09fbe69ededfced8c1bb6e6d24616b468"));
    assert_eq!(p.checkout_sha, Some(p.after.clone()));
    assert_eq!(p.total_commits_count, 2);
    let [first, second] = &p.commits[..] else {
        panic!("{:?}", p.commits)
    };
    assert_eq!(first.id, sha("1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e"));
    assert_eq!(first.title, "Add new file");
    assert_eq!(first.timestamp, at("2026-03-09T09:12:40Z"));
    assert_eq!(first.added, ["tax/nordics.csv"]);
    assert_eq!(second.modified, ["src/tax.rs"]);
    assert_eq!(second.removed, ["tax/legacy.csv"]);

    // Without a title the message's first line stands in.
    let mut v = json(&data("push.json"));
    v["commits"][0].as_object_mut().unwrap().remove("title");
    let Hook::Push(p) = parse("Push Hook", v.to_string().as_bytes()).unwrap() else {
        panic!("not a push")
    };
    assert_eq!(p.commits[0].title, "Add new file");

    // A system hook says what it is in its body.
    assert_eq!(
        parse("System Hook", &data("push.json")).unwrap(),
        parse("Push Hook", &data("push.json")).unwrap()
    );
}

#[test]
fn pushes_that_add_nothing_to_a_branch_say_why() {
    let mut deleted = json(&data("push.json"));
    deleted["after"] = "0000000000000000000000000000000000000000".into();
    deleted["checkout_sha"] = Value::Null;
    deleted["commits"] = Value::Array(vec![]);
    assert_eq!(
        parse("Push Hook", deleted.to_string().as_bytes()).unwrap(),
        Hook::Ignored {
            reason: "push deletes branch main: nothing was added".to_string()
        }
    );

    let mut tag = json(&data("push.json"));
    tag["object_kind"] = "tag_push".into();
    tag["event_name"] = "tag_push".into();
    tag["ref"] = "refs/tags/v1.0.0".into();
    assert_eq!(
        parse("Tag Push Hook", tag.to_string().as_bytes()).unwrap(),
        Hook::Ignored {
            reason: "tag push of refs/tags/v1.0.0: a tag adds no commits to a branch".to_string()
        }
    );
}

#[test]
fn a_merged_merge_request() {
    let Hook::MergedMergeRequest(m) =
        parse("Merge Request Hook", &data("merge_request.merged.json")).unwrap()
    else {
        panic!("not a merged merge request")
    };
    assert_eq!(m.project, "shop/checkout");
    assert_eq!((m.id, m.iid), (55120, 87));
    assert_eq!(m.title, "Use the Nordic tax table");
    assert_eq!(
        (m.source_branch.as_str(), m.target_branch.as_str()),
        ("nordic-tax", "main")
    );
    assert_eq!(m.opened_at, at("2026-03-08T15:02:11Z"));
    // No merged_at in the hook: the update the merge made.
    assert_eq!(m.merged_at, at("2026-03-09T09:31:47Z"));
    assert_eq!(
        m.merge_commit_sha,
        Some(sha("9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"))
    );
    assert_eq!(
        m.last_commit,
        Some(sha("279484c09fbe69ededfced8c1bb6e6d24616b468"))
    );
    assert_eq!(m.labels, ["tax"]);

    // A fast-forward merge makes no merge commit; one that says when it merged is believed.
    let mut v = json(&data("merge_request.merged.json"));
    v["object_attributes"]["merge_commit_sha"] = Value::Null;
    v["object_attributes"]["merged_at"] = "2026-03-09T09:31:45Z".into();
    let Hook::MergedMergeRequest(ff) =
        parse("Merge Request Hook", v.to_string().as_bytes()).unwrap()
    else {
        panic!("not a merged merge request")
    };
    assert_eq!(
        (ff.merge_commit_sha, ff.merged_at),
        (None, at("2026-03-09T09:31:45Z"))
    );

    let mut opened = json(&data("merge_request.merged.json"));
    opened["object_attributes"]["action"] = "open".into();
    opened["object_attributes"]["state"] = "opened".into();
    assert_eq!(
        parse("Merge Request Hook", opened.to_string().as_bytes()).unwrap(),
        Hook::Ignored {
            reason: "merge request !87 open: only a merge lands a change".to_string()
        }
    );
}

#[test]
fn other_hooks_are_ignored_with_their_reason() {
    let Hook::Ignored { reason } = parse(
        "Issue Hook",
        br#"{"object_kind":"issue","object_attributes":{}}"#,
    )
    .unwrap() else {
        panic!("an issue was read")
    };
    assert!(
        reason.starts_with("Issue Hook: not an event headroom reads"),
        "{reason}"
    );
    let Hook::Ignored { reason } =
        parse("System Hook", br#"{"event_name":"user_create","name":"x"}"#).unwrap()
    else {
        panic!("a system event was read")
    };
    assert_eq!(
        reason,
        "System Hook (user_create): not an event headroom reads"
    );
}

fn malformed(event: &str, body: &[u8]) -> (String, String) {
    match parse(event, body) {
        Err(HookError::Malformed { error, .. }) => (error.path, error.message),
        other => panic!("{event}: {other:?}"),
    }
}

#[test]
fn malformed_bodies_name_the_field() {
    let mut v = json(&fixture("deployment.json"));
    v["short_sha"] = "xyz".into();
    let (path, msg) = malformed("Deployment Hook", v.to_string().as_bytes());
    assert_eq!(path, "short_sha");
    assert!(msg.contains("not an abbreviated commit id"), "{msg}");

    let mut v = json(&fixture("deployment.json"));
    v["short_sha"] = "aaaabbbb".into();
    let (path, msg) = malformed("Deployment Hook", v.to_string().as_bytes());
    assert_eq!(path, "commit_url");
    assert!(
        msg.contains("short_sha aaaabbbb does not abbreviate"),
        "{msg}"
    );

    let mut v = json(&fixture("deployment.json"));
    v["status_changed_at"] = "28/04/2021".into();
    assert_eq!(
        malformed("Deployment Hook", v.to_string().as_bytes()).0,
        "status_changed_at"
    );

    let mut v = json(&fixture("pipeline.json"));
    v["object_attributes"]["status"] = "exploded".into();
    let (path, msg) = malformed("Pipeline Hook", v.to_string().as_bytes());
    assert_eq!(path, "object_attributes.status");
    assert!(
        msg.starts_with("\"exploded\" is not a pipeline status (one of created,"),
        "{msg}"
    );

    let mut v = json(&fixture("pipeline.json"));
    v["builds"][0]["environment"]["name"] = Value::Null;
    assert_eq!(
        malformed("Pipeline Hook", v.to_string().as_bytes()),
        (
            "builds[0].environment.name".to_string(),
            "is required".to_string()
        )
    );

    let mut v = json(&data("push.json"));
    v["commits"][1]["id"] = "279484c0".into();
    assert_eq!(
        malformed("Push Hook", v.to_string().as_bytes()).0,
        "commits[1].id"
    );

    let mut v = json(&data("merge_request.merged.json"));
    v["object_attributes"]["labels"][0]["title"] = 7.into();
    assert_eq!(
        malformed("Merge Request Hook", v.to_string().as_bytes()),
        (
            "object_attributes.labels[0].title".to_string(),
            "must be a string".to_string()
        )
    );

    // The header and the body disagree: refused, not guessed.
    let (path, msg) = malformed("Push Hook", &fixture("pipeline.json"));
    assert_eq!(path, "object_kind");
    assert_eq!(
        msg,
        "is \"pipeline\", but X-Gitlab-Event says \"Push Hook\""
    );
    assert_eq!(
        malformed("Deployment Hook", b"{}"),
        ("object_kind".to_string(), "is required".to_string())
    );
    // Form bodies are GitHub's; GitLab sends JSON.
    let (path, msg) = malformed("Push Hook", b"payload=%7B%7D");
    assert_eq!(path, "");
    assert!(msg.starts_with("invalid JSON"), "{msg}");
    assert!(matches!(
        parse("", b"{}"),
        Err(HookError::EventMissing {
            header: "X-Gitlab-Event"
        })
    ));
}
