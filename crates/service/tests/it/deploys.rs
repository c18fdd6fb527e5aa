//! Deploys and changes from verified hooks and CI reports, stored for the services naming the
//! repository: GitHub and GitLab examples, credentials refused before anything is read, the
//! monorepo path filter, a GitLab short sha resolved from pushed commits, idempotent retries.

use std::path::Path;
use std::sync::Arc;

use headroom_core::Timestamp;
use headroom_incident::{IncidentStatus, Severity};
use headroom_ingest::github;
use headroom_service::ServiceError;
use headroom_service::deploys::{
    Deploys, GitlabCredentials, HookOutcome, HookRefused, ReportedCommit, ReportedDeploy,
};
use headroom_service::incidents::Incidents;
use headroom_store::{ChangeStore, DeployFilter, DeploySource, DeployStatus, DeployStore, Store};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures");
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ingest/tests/data");
const GITHUB_SECRET: &str = "gh-secret-for-tests";
const GITLAB_TOKEN: &str = "gl-token-for-tests";
/// 2027-01-15T08:00:00Z.
const NOW: i64 = 1_800_000_000_000;

fn read(dir: &str, rel: &str) -> Vec<u8> {
    let p = Path::new(dir).join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const CONFIG: &str = "hooks:
  github: {secret: gh-secret-for-tests}
  gitlab: {token: gl-token-for-tests}
services:
  - name: hello
    repositories: [codertocat/hello-world]
    environments: [production, staging]
  - name: octo
    repositories: [octo-org/octo-repo]
    deploy_workflows: [test.yml]
  - name: octo-docs
    repositories: [octo-org/octo-repo]
  - name: cards
    repositories: [{name: acme/checkout, path: src}]
  - name: legacy
    repositories: [{name: acme/checkout, path: legacy}]
  - name: checkout
    repositories: [shop/checkout, root/test-deployment-webhooks]
    environments: [staging, production]
";

struct Ctx {
    deploys: Deploys,
    incidents: Arc<Incidents>,
    store: Store,
    _dir: tempfile::TempDir,
}

async fn ctx(config: &str) -> Ctx {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("h.db").to_str().unwrap())
        .await
        .unwrap();
    let config = headroom_spec::load_str("c.yaml", config).unwrap();
    let clock: headroom_service::Clock = Arc::new(|| Timestamp(NOW));
    let incidents = Arc::new(Incidents::new(&config, store.clone(), clock.clone()));
    let deploys = Deploys::new(&config, store.clone(), clock, incidents.clone());
    Ctx {
        deploys,
        incidents,
        store,
        _dir: dir,
    }
}

fn all() -> DeployFilter {
    DeployFilter {
        service: None,
        environment: None,
        from: None,
        to: None,
        limit: 100,
    }
}

async fn github_delivery(c: &Ctx, event: &str, body: &[u8]) -> HookOutcome {
    let sig = github::signature(GITHUB_SECRET.as_bytes(), body);
    c.deploys
        .github(Some(event), Some(&sig), body)
        .await
        .unwrap_or_else(|e| panic!("{event}: {e}"))
}

#[tokio::test]
async fn a_github_deployment_status_is_one_deploy_however_often_it_arrives() {
    let c = ctx(CONFIG).await;
    let body = read(FIXTURES, "github/deployment_status/payload.json");
    let first = github_delivery(&c, "deployment_status", &body).await;
    assert_eq!(first.ignored, None);
    assert_eq!(first.deploys.len(), 1);
    let again = github_delivery(&c, "deployment_status", &body).await;
    assert_eq!(
        again.deploys, first.deploys,
        "a retried delivery updates the same deploy"
    );
    let stored = c.store.list_deploys(&all()).await.unwrap();
    assert_eq!(stored.len(), 1);
    let d = &stored[0].deploy;
    assert_eq!(d.service, "hello");
    assert_eq!(d.status, DeployStatus::Success);
    assert_eq!(d.source, DeploySource::Github);
    assert_eq!(d.environment, "production");
    assert_eq!(d.sha.len(), 40);

    // Still in progress: nothing to record.
    let pages = read(FIXTURES, "github/deployment_status/gh-pages.payload.json");
    let out = github_delivery(&c, "deployment_status", &pages).await;
    assert_eq!(
        out.ignored.as_deref(),
        Some("deployment status in_progress is not an outcome")
    );
    assert_eq!(c.store.list_deploys(&all()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_completed_deploy_workflow_is_a_production_deploy_of_the_services_naming_it() {
    let c = ctx(CONFIG).await;
    let body = read(FIXTURES, "github/workflow_run/completed.payload.json");
    let out = github_delivery(&c, "workflow_run", &body).await;
    assert_eq!(out.deploys.len(), 1, "{out:?}");
    let d = c.deploys.get(out.deploys[0]).await.unwrap().deploy;
    assert_eq!(
        (d.service.as_str(), d.environment.as_str()),
        ("octo", "production")
    );
    assert_eq!(d.status, DeployStatus::Success);
    assert!(d.started.unwrap() <= d.finished);

    // A running workflow run is refused by nothing, recorded as nothing.
    let running = read(DATA, "github/workflow_run/in_progress.json");
    let sig = github::signature(GITHUB_SECRET.as_bytes(), &running);
    let out = c
        .deploys
        .github(Some("workflow_run"), Some(&sig), &running)
        .await
        .unwrap();
    assert!(out.ignored.is_some() && out.deploys.is_empty(), "{out:?}");
    assert_eq!(c.store.list_deploys(&all()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn pushed_commits_are_kept_for_the_monorepo_paths_services_name() {
    let c = ctx(CONFIG).await;
    let body = read(DATA, "github/push/merge-to-main.json");
    let out = github_delivery(&c, "push", &body).await;
    assert_eq!(out.commits, 2, "{out:?}");
    let kept = c
        .store
        .list_commits("acme/checkout", Timestamp(0), Timestamp(i64::MAX))
        .await
        .unwrap();
    assert_eq!(kept.len(), 2);
    assert!(
        kept.iter()
            .all(|k| k.files.as_ref().is_some_and(|f| !f.is_empty()))
    );
    let again = github_delivery(&c, "push", &body).await;
    assert_eq!(again.commits, 0, "idempotent");
    assert_eq!(
        again.ignored.as_deref(),
        Some("every pushed commit of acme/checkout was already stored")
    );

    // Only `legacy/` named: no commit of this push touches it.
    let only_legacy = ctx(
        "hooks: {github: {secret: gh-secret-for-tests}}\nservices:\n  - {name: legacy, repositories: [{name: acme/checkout, path: legacy}]}\n",
    )
    .await;
    let out = github_delivery(&only_legacy, "push", &body).await;
    assert_eq!(out.commits, 0);
    assert_eq!(
        out.ignored.as_deref(),
        Some("no pushed commit touches a path a service of acme/checkout names")
    );
}

#[tokio::test]
async fn merged_pull_requests_are_kept_and_unknown_repositories_ignored() {
    let c = ctx(CONFIG).await;
    let body = read(DATA, "github/pull_request/closed.merged-squash.json");
    let out = github_delivery(&c, "pull_request", &body).await;
    assert_eq!(out.pull_requests, 1, "{out:?}");
    let prs = c
        .store
        .list_pull_requests("acme/checkout", Timestamp(0), Timestamp(i64::MAX))
        .await
        .unwrap();
    assert_eq!(prs.len(), 1);
    assert!(prs[0].opened <= prs[0].merged);

    let elsewhere = ctx("hooks: {github: {secret: gh-secret-for-tests}}\nservices: [{name: x, repositories: [a/b]}]\n").await;
    let out = github_delivery(&elsewhere, "pull_request", &body).await;
    assert_eq!(
        out.ignored.as_deref(),
        Some("no service names repository acme/checkout under repositories")
    );
}

#[tokio::test]
async fn credentials_are_refused_before_the_body_is_read() {
    let c = ctx(CONFIG).await;
    let body = read(FIXTURES, "github/deployment_status/payload.json");
    let wrong = github::signature(b"another secret", &body);
    for sig in [None, Some(wrong.as_str()), Some("sha256=zz")] {
        match c
            .deploys
            .github(Some("deployment_status"), sig, &body)
            .await
        {
            Err(HookRefused::Credential(_)) => {}
            other => panic!("{sig:?}: expected a credential refusal, got {other:?}"),
        }
    }
    // A good signature over a body that is not JSON is malformed, not a credential problem.
    let junk = b"{not json";
    let sig = github::signature(GITHUB_SECRET.as_bytes(), junk);
    assert!(matches!(
        c.deploys.github(Some("push"), Some(&sig), junk).await,
        Err(HookRefused::Malformed(_))
    ));
    let gl = read(FIXTURES, "gitlab/deployment.json");
    for token in [None, Some("wrong")] {
        let creds = GitlabCredentials {
            token,
            ..Default::default()
        };
        assert!(matches!(
            c.deploys.gitlab(Some("Deployment Hook"), creds, &gl).await,
            Err(HookRefused::Credential(_))
        ));
    }
    assert!(c.store.list_deploys(&all()).await.unwrap().is_empty());

    // No secret configured: every delivery refused, even a correctly signed one.
    let open = ctx("services: [{name: hello, repositories: [codertocat/hello-world]}]\n").await;
    let sig = github::signature(GITHUB_SECRET.as_bytes(), &body);
    let e = open
        .deploys
        .github(Some("deployment_status"), Some(&sig), &body)
        .await
        .unwrap_err();
    assert!(matches!(e, HookRefused::NotConfigured("github")), "{e:?}");
    assert!(!e.to_string().contains(GITHUB_SECRET));
    assert!(matches!(
        open.deploys
            .gitlab(None, GitlabCredentials::default(), &gl)
            .await,
        Err(HookRefused::NotConfigured("gitlab"))
    ));
}

#[tokio::test]
async fn a_gitlab_deployment_takes_its_commit_from_the_url_or_the_pushed_commits() {
    let c = ctx(CONFIG).await;
    let creds = GitlabCredentials {
        token: Some(GITLAB_TOKEN),
        ..Default::default()
    };
    let body = read(FIXTURES, "gitlab/deployment.json");
    let out = c
        .deploys
        .gitlab(Some("Deployment Hook"), creds, &body)
        .await
        .unwrap();
    assert_eq!(out.deploys.len(), 1, "{out:?}");
    let d = c.deploys.get(out.deploys[0]).await.unwrap().deploy;
    assert_eq!(d.sha, "279484c09fbe69ededfced8c1bb6e6d24616b468");
    assert_eq!(
        (d.service.as_str(), d.environment.as_str()),
        ("checkout", "staging")
    );
    assert_eq!(d.source, DeploySource::Gitlab);

    // The same deployment of shop/checkout without commit_url: unknown until the push arrives.
    let mut v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    v["commit_url"] = serde_json::Value::Null;
    v["deployment_id"] = 99.into();
    v["project"]["path_with_namespace"] = "shop/checkout".into();
    let short = serde_json::to_vec(&v).unwrap();
    let out = c
        .deploys
        .gitlab(Some("Deployment Hook"), creds, &short)
        .await
        .unwrap();
    assert_eq!(
        out.ignored.as_deref(),
        Some(
            "deployment 99: commit 279484c0 is not one pushed commit of shop/checkout headroom knows"
        )
    );
    let push = read(DATA, "gitlab/push.json");
    let pushed = c
        .deploys
        .gitlab(Some("Push Hook"), creds, &push)
        .await
        .unwrap();
    assert_eq!(pushed.commits, 2);
    let out = c
        .deploys
        .gitlab(Some("Deployment Hook"), creds, &short)
        .await
        .unwrap();
    assert_eq!(out.deploys.len(), 1, "{out:?}");
    let d = c.deploys.get(out.deploys[0]).await.unwrap().deploy;
    assert!(d.sha.starts_with("279484c09f"), "{}", d.sha);

    let pipeline = read(FIXTURES, "gitlab/pipeline.json");
    let out = c
        .deploys
        .gitlab(Some("Pipeline Hook"), creds, &pipeline)
        .await
        .unwrap();
    assert!(out.ignored.is_some() && out.deploys.is_empty(), "{out:?}");
}

fn reported(sha: &str) -> ReportedDeploy {
    ReportedDeploy {
        service: "checkout".into(),
        environment: None,
        version: Some("1.4.0".into()),
        sha: sha.into(),
        started: Some(Timestamp(NOW - 60_000)),
        finished: None,
        status: DeployStatus::Success,
        labels: vec!["hotfix".into()],
        changes: None,
        commits: Vec::new(),
        source: DeploySource::Api,
        idempotency_key: Some("ci-run-7".into()),
        gate_decision_id: None,
    }
}

#[tokio::test]
async fn a_reported_deploy_is_checked_whole_and_recorded_once_per_key() {
    let c = ctx(CONFIG).await;
    let sha = "a".repeat(40);
    let mut r = reported(&sha);
    r.commits = vec![ReportedCommit {
        sha: "b".repeat(40),
        parents: vec!["c".repeat(40)],
        authored: Timestamp(NOW - 120_000),
        committed: Timestamp(NOW - 90_000),
        files: Some(vec!["src/tax.rs".into()]),
    }];
    let d = c.deploys.report(r.clone()).await.unwrap();
    assert_eq!(d.deploy.environment, "production");
    assert_eq!(d.deploy.finished, Timestamp(NOW));
    assert_eq!(d.deploy.labels, ["hotfix"]);
    assert_eq!(c.deploys.report(r).await.unwrap().id, d.id);
    assert_eq!(
        c.store
            .get_commits("shop/checkout", &["b".repeat(40)])
            .await
            .unwrap()
            .len(),
        1
    );

    let refusals: Vec<(ReportedDeploy, &str)> = vec![
        (
            ReportedDeploy {
                service: "nope".into(),
                ..reported(&sha)
            },
            "service: \"nope\" is not a service of the config",
        ),
        (
            ReportedDeploy {
                environment: Some("qa".into()),
                ..reported(&sha)
            },
            "environment: \"qa\" is not one of service checkout's environments [\"staging\", \"production\"]",
        ),
        (
            ReportedDeploy {
                started: Some(Timestamp(NOW + 1)),
                ..reported(&sha)
            },
            "started: 2027-01-15T08:00:00.001Z is after finished 2027-01-15T08:00:00Z",
        ),
        (
            ReportedDeploy {
                labels: vec![String::new()],
                ..reported(&sha)
            },
            "labels[0] is empty",
        ),
        (
            ReportedDeploy {
                changes: Some(vec!["xyz".into()]),
                idempotency_key: Some("other".into()),
                ..reported(&sha)
            },
            "changes[0]: ",
        ),
    ];
    for (r, want) in refusals {
        let e = c.deploys.report(r).await.unwrap_err();
        assert!(
            matches!(e, ServiceError::Invalid(_) | ServiceError::Unacceptable(_)),
            "{e:?}"
        );
        assert!(e.to_string().starts_with(want), "{e} / {want}");
    }
    let bad_sha = c.deploys.report(reported("123")).await.unwrap_err();
    assert!(bad_sha.to_string().starts_with("sha: "), "{bad_sha}");
    assert_eq!(c.store.list_deploys(&all()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_github_issue_labelled_incident_is_one_incident_of_the_services_naming_its_repository() {
    let c = ctx(CONFIG).await;
    // The project's own closed issue: labelled `incident` and `sev2`, in acme/checkout.
    let body = read(DATA, "github/issues/closed.incident.json");
    let out = github_delivery(&c, "issues", &body).await;
    assert_eq!(out.ignored, None);
    assert_eq!(out.incidents.len(), 1);
    let id = out.incidents[0];
    assert_eq!(
        out.opened.iter().map(|i| i.id()).collect::<Vec<_>>(),
        [id.to_string()],
        "opened by this delivery"
    );
    let incident = c.incidents.get(id).await.unwrap().incident;
    assert_eq!(incident.title(), "Checkout returns 502 for card payments");
    assert_eq!(incident.severity(), Severity::Sev2);
    assert_eq!(incident.services(), ["cards", "legacy"]);
    assert_eq!(incident.status(), IncidentStatus::Resolved);
    let at = |s: &str| Timestamp::from_chrono(&chrono::DateTime::parse_from_rfc3339(s).unwrap());
    assert_eq!(incident.started_at(), at("2026-03-07T02:11:09Z"));
    assert_eq!(incident.resolved_at(), Some(at("2026-03-07T03:48:51Z")));
    // Redelivered: the same incident, unchanged.
    let version = c.incidents.get(id).await.unwrap().version;
    let again = github_delivery(&c, "issues", &body).await;
    assert_eq!(again.incidents, vec![id]);
    assert!(again.opened.is_empty(), "{again:?}");
    assert_eq!(c.incidents.get(id).await.unwrap().version, version);
    assert_eq!(
        c.incidents.listed(false, None, None).await.unwrap().len(),
        1
    );

    // GitHub's own examples carry `bug`, not an incident label by default.
    let opened = read(FIXTURES, "github/issues/opened.payload.json");
    let ignored = github_delivery(&c, "issues", &opened).await;
    assert!(
        ignored
            .ignored
            .as_deref()
            .unwrap()
            .contains("none of the incident labels"),
        "{ignored:?}"
    );
    assert!(ignored.incidents.is_empty());
}

#[tokio::test]
async fn configured_incident_labels_open_then_keep_one_incident_per_issue() {
    let config = CONFIG.replace(
        "github: {secret: gh-secret-for-tests}",
        "github: {secret: gh-secret-for-tests, incident_labels: [BUG]}",
    );
    let c = ctx(&config).await;
    let opened = github_delivery(
        &c,
        "issues",
        &read(FIXTURES, "github/issues/opened.payload.json"),
    )
    .await;
    assert_eq!(opened.incidents.len(), 1, "{opened:?}");
    let id = opened.incidents[0];
    let incident = c.incidents.get(id).await.unwrap().incident;
    assert_eq!(incident.services(), ["hello"]);
    assert!(incident.is_open());
    assert_eq!(incident.severity(), Severity::Sev3);
    for event in ["labeled", "reopened", "edited"] {
        let out = github_delivery(
            &c,
            "issues",
            &read(FIXTURES, &format!("github/issues/{event}.payload.json")),
        )
        .await;
        if event == "edited" {
            assert!(out.ignored.is_some(), "{out:?}");
        } else {
            assert_eq!(out.incidents, vec![id], "{event}");
        }
    }
    assert!(c.incidents.get(id).await.unwrap().incident.is_open());
    assert_eq!(
        c.incidents.listed(false, None, None).await.unwrap().len(),
        1
    );
}
