//! Deploys and changes over HTTP: every shared GitHub and GitLab example through its endpoint
//! with valid credentials (recorded, or ignored with the reason), wrong or missing credentials
//! refused with nothing stored, an unconfigured forge refused, oversized deliveries refused, and
//! deploys reported through the API then listed and filtered.

use std::path::Path;

use crate::common::*;
use axum::http::{Method, StatusCode};
use headroom_ingest::github;
use headroom_ingest::hook::MAX_HOOK_BYTES;
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures");
const SECRET: &str = "deliveries-test-secret";
const TOKEN: &str = "deliveries-test-token";

const CONFIG: &str = "hooks:
  github: {secret: deliveries-test-secret}
  gitlab: {token: deliveries-test-token}
services:
  - name: hello
    repositories: [Codertocat/Hello-World]
    environments: [production, staging]
  - name: octo
    repositories: [octo-org/octo-repo]
    deploy_workflows: [test.yml]
  - name: webhooks
    repositories: [root/test-deployment-webhooks]
";

async fn github_post(ctx: &Ctx, event: &str, sig: Option<&str>, body: Vec<u8>) -> Resp {
    let mut headers = vec![
        ("X-GitHub-Event", event),
        ("content-type", "application/json"),
    ];
    if let Some(s) = sig {
        headers.push(("X-Hub-Signature-256", s));
    }
    send(
        &ctx.app,
        Method::POST,
        "/hooks/github",
        None,
        &headers,
        body,
    )
    .await
}

async fn gitlab_post(ctx: &Ctx, event: &str, token: Option<&str>, body: Vec<u8>) -> Resp {
    let mut headers = vec![
        ("X-Gitlab-Event", event),
        ("content-type", "application/json"),
    ];
    if let Some(t) = token {
        headers.push(("X-Gitlab-Token", t));
    }
    send(
        &ctx.app,
        Method::POST,
        "/hooks/gitlab",
        None,
        &headers,
        body,
    )
    .await
}

async fn deploys(ctx: &Ctx, query: &str) -> Vec<Value> {
    let r = get(
        &ctx.app,
        &format!("/api/v1/deployments{query}"),
        Some(&ctx.read),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["deploys"].as_array().unwrap().clone()
}

fn kept_something(v: &Value) -> bool {
    !v["deploys"].as_array().unwrap().is_empty()
        || v["commits"].as_u64().unwrap() > 0
        || v["pull_requests"].as_u64().unwrap() > 0
}

#[tokio::test]
async fn every_example_delivery_is_recorded_or_ignored_with_its_reason() {
    let (ctx, _) = setup_file(CONFIG).await;
    let mut recorded = Vec::new();
    let dir = Path::new(FIXTURES).join("github");
    let mut events: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    events.sort();
    let mut count = 0;
    for event_dir in events {
        let event = event_dir.file_name().unwrap().to_str().unwrap().to_string();
        let mut files: Vec<_> = std::fs::read_dir(&event_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let body = std::fs::read(&f).unwrap();
            let sig = github::signature(SECRET.as_bytes(), &body);
            let r = github_post(&ctx, &event, Some(&sig), body).await;
            assert_eq!(
                r.status,
                StatusCode::ACCEPTED,
                "{}: {}",
                f.display(),
                r.text()
            );
            let v = r.json();
            let ignored = v["ignored"].as_str().unwrap_or("");
            assert!(
                kept_something(&v) == ignored.is_empty(),
                "{}: either kept or ignored with a reason: {v}",
                f.display()
            );
            if kept_something(&v) {
                recorded.push(format!(
                    "{event}/{}",
                    f.file_name().unwrap().to_str().unwrap()
                ));
            }
            count += 1;
        }
    }
    assert!(count > 50, "{count} examples");
    // What the examples hold that headroom keeps: successful deployment statuses of
    // Hello-World, the one push that carries commits, and the completed runs of octo-repo's
    // test.yml.
    assert_eq!(
        recorded,
        [
            "deployment_status/payload.json",
            "deployment_status/with-installation.payload.json",
            "push/with-new-branch.payload.json",
            "workflow_run/completed.payload.json",
            "workflow_run/completed.with-pull-requests.payload.json",
        ]
    );
    for (file, event) in [
        ("deployment.json", "Deployment Hook"),
        ("pipeline.json", "Pipeline Hook"),
    ] {
        let body = std::fs::read(Path::new(FIXTURES).join("gitlab").join(file)).unwrap();
        let r = gitlab_post(&ctx, event, Some(TOKEN), body).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{file}: {}", r.text());
        let v = r.json();
        if file == "deployment.json" {
            assert_eq!(v["deploys"].as_array().unwrap().len(), 1, "{v}");
        } else {
            assert!(v["ignored"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
        }
    }
    let all = deploys(&ctx, "").await;
    let mut services: Vec<&str> = all.iter().map(|d| d["service"].as_str().unwrap()).collect();
    services.sort();
    // Both Hello-World statuses are of one deployment: one deploy. Both runs are one run.
    assert_eq!(services, ["hello", "octo", "webhooks"], "{all:?}");
    let staging = deploys(&ctx, "?service=webhooks&environment=staging").await;
    assert_eq!(staging.len(), 1);
    assert_eq!(
        staging[0]["sha"],
        "279484c09fbe69ededfced8c1bb6e6d24616b468"
    );
    assert_eq!(staging[0]["source"], "gitlab");
}

#[tokio::test]
async fn wrong_or_missing_credentials_are_refused_and_store_nothing() {
    let (ctx, _) = setup_file(CONFIG).await;
    let body =
        std::fs::read(Path::new(FIXTURES).join("github/deployment_status/payload.json")).unwrap();
    let other = github::signature(b"not the secret", &body);
    for sig in [None, Some(other.as_str()), Some("sha256=zz")] {
        let r = github_post(&ctx, "deployment_status", sig, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{sig:?}: {}", r.text());
        assert!(
            r.json()["detail"]
                .as_str()
                .unwrap()
                .contains("X-Hub-Signature-256")
        );
        assert!(!r.text().contains(SECRET));
    }
    let gl = std::fs::read(Path::new(FIXTURES).join("gitlab/deployment.json")).unwrap();
    for token in [None, Some("wrong")] {
        let r = gitlab_post(&ctx, "Deployment Hook", token, gl.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{token:?}: {}",
            r.text()
        );
        assert!(!r.text().contains(TOKEN));
    }
    // Signed, but not what its event header says: named by JSON path, nothing stored.
    let junk = br#"{"deployment_status": 7}"#.to_vec();
    let sig = github::signature(SECRET.as_bytes(), &junk);
    let r = github_post(&ctx, "deployment_status", Some(&sig), junk).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(deploys(&ctx, "").await.is_empty());
}

#[tokio::test]
async fn a_forge_without_a_secret_and_oversized_deliveries_are_refused() {
    let (ctx, _) =
        setup_file("services: [{name: hello, repositories: [Codertocat/Hello-World]}]\n").await;
    let body =
        std::fs::read(Path::new(FIXTURES).join("github/deployment_status/payload.json")).unwrap();
    let sig = github::signature(SECRET.as_bytes(), &body);
    let r = github_post(&ctx, "deployment_status", Some(&sig), body.clone()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("hooks.github")
    );
    let r = gitlab_post(&ctx, "Deployment Hook", Some(TOKEN), body).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());

    let (ctx, _) = setup_file(CONFIG).await;
    let big = vec![b' '; MAX_HOOK_BYTES + 1];
    let sig = github::signature(SECRET.as_bytes(), &big);
    let r = github_post(&ctx, "push", Some(&sig), big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    // A body over the API's own limit but under the hooks' is read (and here ignored).
    let mut v: Value = serde_json::from_slice(
        &std::fs::read(Path::new(FIXTURES).join("github/deployment_status/gh-pages.payload.json"))
            .unwrap(),
    )
    .unwrap();
    v["padding"] = Value::String("x".repeat(headroom_server::MAX_BODY_BYTES + 1));
    let body = serde_json::to_vec(&v).unwrap();
    let sig = github::signature(SECRET.as_bytes(), &body);
    let r = github_post(&ctx, "deployment_status", Some(&sig), body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
}

#[tokio::test]
async fn reported_deploys_are_listed_and_filtered() {
    let (ctx, _) = setup_file(CONFIG).await;
    let post = |body: Value| {
        let app = ctx.app.clone();
        let token = ctx.ingest.clone();
        async move {
            send(
                &app,
                Method::POST,
                "/api/v1/deployments",
                Some(&token),
                &[("content-type", "application/json")],
                body.to_string(),
            )
            .await
        }
    };
    let sha = "a".repeat(40);
    let first = post(json!({"service": "hello", "sha": sha, "finished": "2027-01-10T10:00:00Z", "labels": ["rollback"], "status": "failure", "idempotency_key": "k1"})).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let id = first.json()["id"].as_i64().unwrap();
    let again = post(json!({"service": "hello", "sha": sha, "finished": "2027-01-10T10:00:00Z", "labels": ["rollback"], "status": "failure", "idempotency_key": "k1"})).await;
    assert_eq!(
        again.json()["id"].as_i64(),
        Some(id),
        "same key, same deploy"
    );
    let staging = post(json!({"service": "hello", "environment": "staging", "sha": sha, "finished": "2027-01-11T10:00:00Z"})).await;
    assert_eq!(staging.status, StatusCode::CREATED, "{}", staging.text());
    let octo =
        post(json!({"service": "octo", "sha": sha, "finished": "2027-01-12T10:00:00Z"})).await;
    assert_eq!(octo.status, StatusCode::CREATED);

    for (body, status, detail) in [
        (
            json!({"service": "nobody", "sha": sha}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "service: \"nobody\" is not a service of the config",
        ),
        (
            json!({"service": "hello", "environment": "qa", "sha": sha}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "environment: \"qa\"",
        ),
        (
            json!({"service": "hello", "sha": sha, "status": "done"}),
            StatusCode::BAD_REQUEST,
            "status: \"done\" is not success, failure or cancelled",
        ),
        (
            json!({"service": "hello", "sha": sha, "finished": "soon"}),
            StatusCode::BAD_REQUEST,
            "finished: ",
        ),
        (
            json!({"sha": sha}),
            StatusCode::BAD_REQUEST,
            "body: missing field `service`",
        ),
    ] {
        let r = post(body).await;
        assert_eq!(r.status, status, "{}", r.text());
        assert!(
            r.json()["detail"].as_str().unwrap().starts_with(detail),
            "{}",
            r.text()
        );
    }

    let ids = |v: Vec<Value>| {
        v.iter()
            .map(|d| {
                d["service"].as_str().unwrap().to_string()
                    + "/"
                    + d["environment"].as_str().unwrap()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(deploys(&ctx, "").await),
        ["octo/production", "hello/staging", "hello/production"]
    );
    assert_eq!(
        ids(deploys(&ctx, "?service=hello").await),
        ["hello/staging", "hello/production"]
    );
    assert_eq!(
        ids(deploys(&ctx, "?service=hello&environment=production").await),
        ["hello/production"]
    );
    assert_eq!(
        ids(deploys(&ctx, "?from=2027-01-11T00:00:00Z&to=2027-01-12T10:00:00Z").await),
        ["hello/staging"]
    );
    let one = get(
        &ctx.app,
        &format!("/api/v1/deployments/{id}"),
        Some(&ctx.read),
    )
    .await;
    assert_eq!(one.status, StatusCode::OK);
    let d = one.json();
    assert_eq!(d["status"], "failure");
    assert_eq!(d["labels"], json!(["rollback"]));
    assert_eq!(d["source"], "api");
    assert_eq!(d["finished"], "2027-01-10T10:00:00Z");
    assert_eq!(
        get(&ctx.app, "/api/v1/deployments/0", Some(&ctx.read))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&ctx.app, "/api/v1/deployments", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn pagerduty_change_events_become_change_markers_of_the_integrations_service() {
    use headroom_store::ChangeStore;
    let dir = tempfile::tempdir().unwrap();
    let key = "0123456789abcdef0123456789abcdef";
    std::fs::write(dir.path().join("pd.key"), key).unwrap();
    let config = format!(
        "{CONFIG}integrations:\n  - name: ops\n    pagerduty_events: {{routing_key_file: {}}}\n    service: hello\nslos: [{{name: hello-up, service: hello, objective: 99, window: 30d, sli: {{events: {{}}}}}}]\n",
        dir.path().join("pd.key").display()
    );
    let (ctx, _) = setup_file(&config).await;
    let post = |body: Value| {
        let app = ctx.app.clone();
        async move {
            send(
                &app,
                Method::POST,
                "/v2/change/enqueue",
                None,
                &[("content-type", "application/json")],
                body.to_string(),
            )
            .await
        }
    };
    let r = post(json!({
        "routing_key": key,
        "payload": {"summary": "Build 42 deployed", "source": "jenkins", "timestamp": "2027-01-10T10:00:00Z",
                    "custom_details": {"build": 42}},
        "links": [{"href": "https://ci.example.com/42", "text": "build 42"}]
    }))
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    assert_eq!(r.json()["message"], "Change event processed");
    for (body, want) in [
        (
            json!({"routing_key": "f".repeat(32), "payload": {"summary": "x"}}),
            "Invalid routing key",
        ),
        (
            json!({"routing_key": key, "payload": {"summary": ""}}),
            "'payload.summary' is missing or blank",
        ),
        (
            json!({"routing_key": key, "payload": {"summary": "x", "timestamp": "noon"}}),
            "'payload.timestamp' is not an ISO 8601 time: \"noon\"",
        ),
    ] {
        let r = post(body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        assert_eq!(r.json()["errors"][0], want, "{}", r.text());
    }
    let markers = ctx
        .state
        .store
        .list_change_markers(
            None,
            headroom_core::Timestamp(0),
            headroom_core::Timestamp(i64::MAX),
            10,
        )
        .await
        .unwrap();
    assert_eq!(markers.len(), 1, "refused events store nothing");
    let m = &markers[0].marker;
    assert_eq!(m.service, "hello");
    assert_eq!(m.summary, "Build 42 deployed");
    assert_eq!(m.source.as_deref(), Some("jenkins"));
    assert_eq!(m.at.to_rfc3339(), "2027-01-10T10:00:00Z");
    assert_eq!(m.custom_details_json.as_deref(), Some(r#"{"build":42}"#));
    assert_eq!(
        m.links_json,
        r#"[{"href":"https://ci.example.com/42","text":"build 42"}]"#
    );
    // A marker on the series of the service's SLO, in range only.
    let series = |range: &str| {
        let app = ctx.app.clone();
        let uri = format!("/api/v1/slos/hello-up/series?{range}&step=1h");
        let read = ctx.read.clone();
        async move { get(&app, &uri, Some(&read)).await.json() }
    };
    let on = series("from=2027-01-10T00:00:00Z&to=2027-01-11T00:00:00Z").await;
    assert_eq!(
        on["changes"],
        json!([{"id": markers[0].id, "at": "2027-01-10T10:00:00Z", "summary": "Build 42 deployed", "source": "jenkins"}])
    );
    let off = series("from=2027-01-11T00:00:00Z&to=2027-01-12T00:00:00Z").await;
    assert_eq!(off["changes"], json!([]));
}
