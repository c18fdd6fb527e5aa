//! Automated actions: each kind sent to a receiver made here that records every request (GitHub
//! and GitLab cannot run here, so the receiver stands in for them and the requests are checked
//! against their documented shape), retries through the outbox on the test's clock, approval,
//! dry runs, every trigger, the incident timeline, and secrets that never leave the config
//! except in the request itself.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Method, StatusCode};
use headroom_notify::Client;
use headroom_service::actions::Trigger;
use headroom_service::workers::send_round;
use headroom_store::{ActionRunState, OutboxStore};
use serde_json::{Value, json};

use crate::common::*;

const HEADER_SECRET: &str = "hdr-s3cret-value";
const GITHUB_TOKEN: &str = "ghp_s3cretGithubToken";
const GITLAB_TOKEN: &str = "glptt-s3cretTriggerToken";
const HOOK_SECRET: &str = "hook-secret";

/// One request the receiver saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A receiver on a real socket that records every request and answers with the statuses
/// queued (200 once they run out).
struct Receiver {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let answers: Arc<Mutex<VecDeque<u16>>> = Arc::default();
        let (s, a) = (seen.clone(), answers.clone());
        let app = axum::Router::new().fallback(
            move |method: Method,
                  uri: axum::http::Uri,
                  headers: axum::http::HeaderMap,
                  body: axum::body::Bytes| {
                let (s, a) = (s.clone(), a.clone());
                async move {
                    s.lock().unwrap().push(Seen {
                        method: method.to_string(),
                        path: uri.path().to_string(),
                        headers: headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                            .collect(),
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    let status = a.lock().unwrap().pop_front().unwrap_or(200);
                    (StatusCode::from_u16(status).unwrap(), "receiver says so")
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            addr,
            seen,
            answers,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn answer(&self, statuses: &[u16]) {
        self.answers.lock().unwrap().extend(statuses);
    }
}

fn config(addr: SocketAddr) -> String {
    format!(
        r#"
hooks:
  github: {{secret: {HOOK_SECRET}}}
services:
  - name: checkout
    repositories: [acme/checkout]
    release_policy: {{deny_on_no_data: true}}
  - name: search
slos:
  - name: checkout-availability
    service: checkout
    objective: 99.9
    window: 30d
    sli: {{events: {{}}}}
actions:
  - name: rollback
    kind: http
    method: PUT
    url: http://{addr}/rollback
    headers: {{X-Api-Key: {HEADER_SECRET}}}
    body: '{{"service": {{{{ service }}}}, "why": {{{{ context.why }}}}, "by": {{{{ requested_by }}}}}}'
    on:
      - gate_denied: {{service: checkout}}
      - incident_declared: {{severity: [SEV1, SEV2]}}
      - canary_failed: {{}}
    max_attempts: 3
  - name: redeploy
    kind: github_dispatch
    repository: octo-org/shop
    workflow: deploy.yml
    ref: main
    inputs: {{reason: "{{{{ trigger }}}} {{{{ alert.labels.alertname }}}}"}}
    token: {GITHUB_TOKEN}
    api_url: http://{addr}/github
    on:
      - alert: {{matchers: ['severity="page"', 'service="checkout"']}}
  - name: notify-repo
    kind: github_dispatch
    repository: octo-org/shop
    event_type: budget-low
    client_payload: {{slo: "{{{{ slo.id }}}}", remaining: "{{{{ slo.remaining }}}}"}}
    token: {GITHUB_TOKEN}
    api_url: http://{addr}/github
    on:
      - budget_below: {{slo: checkout-availability, remaining: 0.2}}
  - name: pipeline
    kind: gitlab_trigger
    project: group/sub-project
    ref: main
    token: {GITLAB_TOKEN}
    variables: {{REASON: "{{{{ context.why }}}}", RUN: "{{{{ run_id }}}}"}}
    api_url: http://{addr}/gitlab
  - name: guarded
    kind: http
    url: http://{addr}/guarded
    approval: required
  - name: rehearsal
    kind: http
    url: http://{addr}/rehearsal
    dry_run: true
"#
    )
}

async fn run_by_hand(ctx: &Ctx, name: &str, body: Value) -> Value {
    let r = post(
        ctx,
        &ctx.respond,
        &format!("/api/v1/actions/{name}/runs"),
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()
}

/// Sends what is due now; returns how many items were claimed.
async fn send_due(ctx: &Ctx) -> usize {
    let client = Client::new(std::time::Duration::from_secs(5)).unwrap();
    send_round(&ctx.state, &client).await
}

async fn run(ctx: &Ctx, id: &str) -> Value {
    let r = get(
        &ctx.app,
        &format!("/api/v1/actions/runs/{id}"),
        Some(&ctx.read),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

async fn runs_of(ctx: &Ctx, action: &str) -> Vec<Value> {
    let r = get(
        &ctx.app,
        &format!("/api/v1/actions/runs?action={action}"),
        Some(&ctx.read),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["runs"].as_array().unwrap().clone()
}

#[tokio::test]
async fn http_action_is_sent_as_configured_against_a_recording_receiver() {
    let rx = Receiver::start().await;
    let (ctx, _path) = setup_file(&config(rx.addr)).await;
    let made = run_by_hand(
        &ctx,
        "rollback",
        json!({"context": {"why": "bad \"deploy\"\n<b>"}}),
    )
    .await;
    assert_eq!(made["state"], "queued");
    assert_eq!(made["requested_by"], "respond");
    assert_eq!(send_due(&ctx).await, 1);
    let seen = rx.seen();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!((s.method.as_str(), s.path.as_str()), ("PUT", "/rollback"));
    assert_eq!(s.header("x-api-key"), Some(HEADER_SECRET));
    assert_eq!(s.header("content-type"), Some("application/json"));
    let id = made["id"].as_str().unwrap();
    assert_eq!(
        s.header("idempotency-key"),
        Some(format!("action-run:{id}").as_str())
    );
    // Values are JSON-escaped into the template: quotes and line breaks stay data.
    let body: Value = serde_json::from_str(&s.body).unwrap();
    assert_eq!(
        body,
        json!({"service": null, "why": "bad \"deploy\"\n<b>", "by": "respond"})
    );
    let done = run(&ctx, id).await;
    assert_eq!(done["state"], "delivered");
    assert_eq!(done["attempts"], 1);
    // The stored request shows where it went, never the header's value.
    assert_eq!(
        done["request"]["headers"],
        json!([{"name": "X-Api-Key", "value": "<secret>"}, {"name": "Content-Type", "value": "application/json"}])
    );
    assert_eq!(done["request"]["body"], s.body);
}

#[tokio::test]
async fn github_workflow_and_repository_dispatches_against_a_recording_receiver() {
    let rx = Receiver::start().await;
    let (ctx, _path) = setup_file(&config(rx.addr)).await;
    // A page for checkout fires the workflow dispatch; a repeat of the same alert does not.
    let alert = json!([{"labels": {"alertname": "CheckoutDown", "severity": "page", "service": "checkout"}}]);
    for _ in 0..2 {
        let r = post(&ctx, &ctx.ingest, "/api/v2/alerts", alert.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let other =
        json!([{"labels": {"alertname": "Slow", "severity": "ticket", "service": "checkout"}}]);
    post(&ctx, &ctx.ingest, "/api/v2/alerts", other).await;
    let runs = runs_of(&ctx, "redeploy").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["trigger"], "alert");
    assert_eq!(
        runs[0]["context"]["alert"]["labels"]["alertname"],
        "CheckoutDown"
    );

    // A budget falling below 20% fires the repository dispatch.
    ctx.state
        .actions
        .fire(
            Trigger::Budget {
                slo: "checkout-availability".into(),
                service: "checkout".into(),
                group: "{}".into(),
                remaining: 0.125,
            },
            ctx.state.now(),
        )
        .await;
    assert_eq!(send_due(&ctx).await, 2);
    let mut seen = rx.seen();
    seen.sort_by(|a, b| a.path.cmp(&b.path));
    let [workflow, repo] = &seen[..] else {
        panic!("{seen:?}")
    };
    for s in [repo, workflow] {
        assert_eq!(s.method, "POST");
        assert_eq!(
            s.header("authorization"),
            Some(format!("Bearer {GITHUB_TOKEN}").as_str())
        );
        assert_eq!(s.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(s.header("x-github-api-version"), Some("2022-11-28"));
        assert!(
            s.header("user-agent").is_some(),
            "GitHub refuses requests without one"
        );
    }
    assert_eq!(
        workflow.path,
        "/github/repos/octo-org/shop/actions/workflows/deploy.yml/dispatches"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&workflow.body).unwrap(),
        json!({"ref": "main", "inputs": {"reason": "alert CheckoutDown"}})
    );
    assert_eq!(repo.path, "/github/repos/octo-org/shop/dispatches");
    assert_eq!(
        serde_json::from_str::<Value>(&repo.body).unwrap(),
        json!({"event_type": "budget-low",
               "client_payload": {"slo": "checkout-availability", "remaining": "0.125"}})
    );
}

#[tokio::test]
async fn gitlab_pipeline_trigger_against_a_recording_receiver() {
    let rx = Receiver::start().await;
    let (ctx, _path) = setup_file(&config(rx.addr)).await;
    let made = run_by_hand(&ctx, "pipeline", json!({"context": {"why": "a&b c"}})).await;
    send_due(&ctx).await;
    let seen = rx.seen();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!(s.method, "POST");
    // The project path is URL-encoded into one segment, as GitLab's API asks.
    assert_eq!(
        s.path,
        "/gitlab/api/v4/projects/group%2Fsub-project/trigger/pipeline"
    );
    assert_eq!(
        s.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let id = made["id"].as_str().unwrap();
    assert_eq!(
        s.body,
        format!(
            "token={GITLAB_TOKEN}&ref=main&variables%5BREASON%5D=a%26b+c&variables%5BRUN%5D={id}"
        )
    );
    let stored = run(&ctx, id).await;
    assert!(!stored.to_string().contains(GITLAB_TOKEN));
    assert_eq!(stored["state"], "delivered");
}

#[tokio::test]
async fn retried_through_the_outbox_until_delivered_or_refused() {
    let rx = Receiver::start().await;
    let (ctx, _path) = setup_file(&config(rx.addr)).await;
    rx.answer(&[503, 503]);
    let made = run_by_hand(&ctx, "rollback", json!({})).await;
    let id = made["id"].as_str().unwrap().to_string();
    for attempt in 1..=2 {
        assert_eq!(send_due(&ctx).await, 1);
        let r = run(&ctx, &id).await;
        assert_eq!(
            (r["state"].as_str(), r["attempts"].as_u64()),
            (Some("queued"), Some(attempt))
        );
        assert!(r["last_error"].as_str().unwrap().contains("503"), "{r}");
        // Not due again until the backoff has passed on the test's clock.
        let item = ctx
            .state
            .store
            .list_outbox(None, 1)
            .await
            .unwrap()
            .remove(0);
        assert!(item.next_attempt_at >= ctx.state.now());
        ctx.clock
            .store(item.next_attempt_at.0, std::sync::atomic::Ordering::SeqCst);
    }
    assert_eq!(send_due(&ctx).await, 1);
    let r = run(&ctx, &id).await;
    assert_eq!(
        (r["state"].as_str(), r["attempts"].as_u64()),
        (Some("delivered"), Some(3))
    );
    assert_eq!(r["last_error"], Value::Null);
    let keys: Vec<Option<String>> = rx
        .seen()
        .iter()
        .map(|s| s.header("idempotency-key").map(str::to_string))
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(
        keys.iter().all(|k| k == &keys[0]),
        "one key across retries: {keys:?}"
    );

    // A 4xx is final: failed with the receiver's reason, never tried again.
    rx.answer(&[404]);
    let made = run_by_hand(&ctx, "rollback", json!({})).await;
    assert_eq!(send_due(&ctx).await, 1);
    let r = run(&ctx, made["id"].as_str().unwrap()).await;
    assert_eq!(r["state"], "failed");
    assert_eq!(r["last_error"], "HTTP 404 Not Found: receiver says so");
    ctx.clock
        .fetch_add(3_600_000, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(send_due(&ctx).await, 0);
    assert_eq!(rx.seen().len(), 4);
}

#[tokio::test]
async fn approval_holds_runs_until_approved_and_rejected_ones_never_go() {
    let rx = Receiver::start().await;
    let (ctx, _path) = setup_file(&config(rx.addr)).await;
    let first = run_by_hand(&ctx, "guarded", json!({})).await;
    let second = run_by_hand(&ctx, "guarded", json!({})).await;
    assert_eq!(first["state"], "awaiting_approval");
    assert_eq!(send_due(&ctx).await, 0);
    assert!(rx.seen().is_empty(), "nothing is sent before approval");

    let (a, b) = (
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    );
    // An ingest token may not approve, and a bad body names its field; neither changes the run.
    let r = post(
        &ctx,
        &ctx.ingest,
        &format!("/api/v1/actions/runs/{a}/approve"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post(
        &ctx,
        &ctx.respond,
        &format!("/api/v1/actions/runs/{b}/reject"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["detail"].as_str().unwrap().contains("reason"),
        "{}",
        r.text()
    );
    assert_eq!(run(&ctx, a).await["state"], "awaiting_approval");

    let r = post(
        &ctx,
        &ctx.respond,
        &format!("/api/v1/actions/runs/{a}/approve"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        (r.json()["state"].as_str(), r.json()["decided_by"].as_str()),
        (Some("queued"), Some("respond"))
    );
    let r = post(
        &ctx,
        &ctx.respond,
        &format!("/api/v1/actions/runs/{b}/reject"),
        json!({"reason": "not during the sale"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["state"], "rejected");
    assert_eq!(r.json()["reason"], "not during the sale");
    // Decided once: a second decision conflicts.
    let r = post(
        &ctx,
        &ctx.respond,
        &format!("/api/v1/actions/runs/{b}/approve"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());

    assert_eq!(send_due(&ctx).await, 1);
    let seen = rx.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/guarded");
    assert_eq!(
        seen[0].header("idempotency-key"),
        Some(format!("action-run:{a}").as_str())
    );
    assert_eq!(run(&ctx, a).await["state"], "delivered");
    assert_eq!(run(&ctx, b).await["state"], "rejected");
}

#[tokio::test]
async fn dry_runs_store_the_rendered_request_and_send_nothing() {
    let rx = Receiver::start().await;
    let (ctx, _path) = setup_file(&config(rx.addr)).await;
    let configured = run_by_hand(&ctx, "rehearsal", json!({"context": {"ticket": "OPS-1"}})).await;
    let asked = run_by_hand(&ctx, "rollback", json!({"dry_run": true})).await;
    for (r, method) in [(&configured, "POST"), (&asked, "PUT")] {
        assert_eq!(r["state"], "dry_run");
        assert_eq!(r["request"]["method"], method);
        assert!(r["finished_at"].is_string());
    }
    // Without a body template, the trigger's context is the body.
    let body: Value =
        serde_json::from_str(configured["request"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["context"], json!({"ticket": "OPS-1"}));
    assert_eq!(body["action"], "rehearsal");
    assert_eq!(
        asked["request"]["url"],
        format!("http://{}/rollback", rx.addr)
    );
    assert_eq!(send_due(&ctx).await, 0);
    assert!(rx.seen().is_empty());
    assert!(
        ctx.state
            .store
            .list_outbox(None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn triggers_fire_matching_actions_and_incidents_record_them() {
    let rx = Receiver::start().await;
    let (ctx, _path) = setup_file(&config(rx.addr)).await;

    // Declared incidents: SEV2 matches, SEV3 does not.
    let r = post(
        &ctx,
        &ctx.respond,
        "/api/v1/incidents",
        json!({"title": "Checkout down", "severity": "SEV2", "services": ["checkout"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let incident = r.json()["id"].as_i64().unwrap().to_string();
    let r = post(
        &ctx,
        &ctx.respond,
        "/api/v1/incidents",
        json!({"title": "Minor", "severity": "SEV3"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let runs = runs_of(&ctx, "rollback").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["trigger"], "incident_declared");
    assert_eq!(runs[0]["incident"], incident.as_str());
    assert_eq!(runs[0]["context"]["incident"]["severity"], "SEV2");
    let r = get(
        &ctx.app,
        &format!("/api/v1/incidents/{incident}"),
        Some(&ctx.read),
    )
    .await;
    let timeline = r.json()["timeline"].as_array().unwrap().clone();
    let entry = timeline.last().unwrap();
    assert_eq!(entry["actor"], "action:rollback");
    assert_eq!(
        entry["text"],
        format!(
            "Action rollback (incident_declared): run {} queued",
            runs[0]["id"].as_str().unwrap()
        )
    );

    // A failing canary (a second later, so the listing's order is the firing order).
    ctx.clock
        .fetch_add(1_000, std::sync::atomic::Ordering::SeqCst);
    let failing = json!({"metrics": [{"name": "errors", "groups": ["errors"], "mustHaveData": true,
        "baseline": [0.1, 0.2], "canary": [null, null]}]});
    let r = post(&ctx, &ctx.read, "/api/v1/canary/judge", failing).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["verdict"], "Fail");
    let passing = json!({"metrics": [{"name": "errors", "groups": ["errors"],
        "baseline": [1.0, 2.0, 3.0], "canary": [1.0, 2.0, 3.0]}]});
    post(&ctx, &ctx.read, "/api/v1/canary/judge", passing).await;
    let runs = runs_of(&ctx, "rollback").await;
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["trigger"], "canary_failed");
    assert_eq!(runs[0]["context"]["canary"]["score"], 0.0);

    // A release gate's denial (checkout's SLO has no data, which its policy denies) fires; an
    // allow (search has no policy) does not.
    ctx.clock
        .fetch_add(1_000, std::sync::atomic::Ordering::SeqCst);
    let mut denied = None;
    for service in ["checkout", "search"] {
        let r = get(
            &ctx.app,
            &format!("/api/v1/gates/{service}"),
            Some(&ctx.read),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let decision = r.json();
        if service == "checkout" {
            assert_eq!(decision["decision"], "deny");
            denied = Some(decision);
        } else {
            assert_eq!(decision["decision"], "allow");
        }
    }
    let denied = denied.unwrap();
    let runs = runs_of(&ctx, "rollback").await;
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0]["trigger"], "gate_denied");
    assert_eq!(
        runs[0]["context"]["gate"],
        json!({"decision_id": denied["decision_id"].to_string(),
            "reasons": denied["reasons"][0]["message"]})
    );
    assert_eq!(send_due(&ctx).await, 3);
    let bodies: Vec<Value> = rx
        .seen()
        .iter()
        .map(|s| serde_json::from_str(&s.body).unwrap())
        .collect();
    assert!(
        bodies.contains(&json!({"service": "checkout", "why": null, "by": "trigger:gate_denied"})),
        "{bodies:?}"
    );
}

#[tokio::test]
async fn a_github_issue_opened_as_an_incident_fires_its_declaration() {
    let rx = Receiver::start().await;
    let (ctx, _path) = setup_file(&config(rx.addr)).await;
    // The project's own issue labelled `incident` and `sev2`, in acme/checkout.
    let body = std::fs::read("../ingest/tests/data/github/issues/closed.incident.json").unwrap();
    let sig = headroom_ingest::github::signature(HOOK_SECRET.as_bytes(), &body);
    let headers = [
        ("X-GitHub-Event", "issues"),
        ("X-Hub-Signature-256", sig.as_str()),
    ];
    let deliver = || {
        send(
            &ctx.app,
            Method::POST,
            "/hooks/github",
            None,
            &headers,
            body.clone(),
        )
    };
    let r = deliver().await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let incident = r.json()["incidents"][0].as_i64().unwrap();
    let runs = runs_of(&ctx, "rollback").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["trigger"], "incident_declared");
    assert_eq!(runs[0]["context"]["incident"]["id"], incident);
    assert_eq!(runs[0]["context"]["incident"]["severity"], "SEV2");
    // Redelivered: the same incident, opened once, so nothing fires again.
    assert_eq!(deliver().await.status, StatusCode::ACCEPTED);
    assert_eq!(runs_of(&ctx, "rollback").await.len(), 1);
}

#[tokio::test]
async fn budget_triggers_fire_once_per_crossing() {
    let rx = Receiver::start().await;
    let (ctx, _path) = setup_file(&config(rx.addr)).await;
    let fire = |remaining: f64| {
        let actions = ctx.state.actions.clone();
        let now = ctx.state.now();
        async move {
            actions
                .fire(
                    Trigger::Budget {
                        slo: "checkout-availability".into(),
                        service: "checkout".into(),
                        group: "{}".into(),
                        remaining,
                    },
                    now,
                )
                .await
                .len()
        }
    };
    assert_eq!(fire(0.5).await, 0);
    assert_eq!(fire(0.1).await, 1, "crossed below 0.2");
    assert_eq!(fire(0.05).await, 0, "still below: no new run");
    assert_eq!(fire(0.3).await, 0, "back above: re-armed");
    assert_eq!(fire(0.19).await, 1, "crossed again");
    // Another SLO is not this trigger's.
    let other = ctx
        .state
        .actions
        .fire(
            Trigger::Budget {
                slo: "search-latency".into(),
                service: "search".into(),
                group: "{}".into(),
                remaining: 0.0,
            },
            ctx.state.now(),
        )
        .await;
    assert!(other.is_empty());

    // End to end: bad events spend the budget, the evaluator sees the crossing once.
    let (ctx, _path) = setup_file(&config(rx.addr)).await;
    let r = push_event(&ctx, "checkout-availability", 0.0, 1000.0).await;
    assert!(r.status.is_success(), "{}", r.text());
    headroom_service::evaluate(&ctx.state, None).await;
    headroom_service::evaluate(&ctx.state, None).await;
    let runs = runs_of(&ctx, "notify-repo").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["context"]["slo"]["id"], "checkout-availability");
    assert!(runs[0]["context"]["slo"]["remaining"].as_f64().unwrap() < 0.2);
}

#[tokio::test]
async fn secrets_stay_out_of_answers_runs_and_errors() {
    let rx = Receiver::start().await;
    let (ctx, _path) = setup_file(&config(rx.addr)).await;
    let r = get(&ctx.app, "/api/v1/actions", Some(&ctx.read)).await;
    assert_eq!(r.status, StatusCode::OK);
    let listed = r.json();
    let names: Vec<&str> = listed["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "rollback",
            "redeploy",
            "notify-repo",
            "pipeline",
            "guarded",
            "rehearsal"
        ]
    );
    assert_eq!(listed["actions"][0]["headers"], json!(["X-Api-Key"]));
    assert_eq!(
        listed["actions"][0]["triggers"],
        json!([
            "gate_denied: service=checkout",
            "incident_declared: SEV1 SEV2",
            "canary_failed"
        ])
    );
    rx.answer(&[401]);
    for name in ["rollback", "redeploy", "pipeline"] {
        let body = if name == "redeploy" {
            json!({})
        } else {
            json!({"context": {"why": "x"}})
        };
        run_by_hand(&ctx, name, body).await;
    }
    send_due(&ctx).await;
    let r = get(&ctx.app, "/api/v1/actions/runs", Some(&ctx.read)).await;
    let mut shown = listed.to_string() + &r.text();
    for item in ctx.state.store.list_outbox(None, 10).await.unwrap() {
        shown.push_str(&item.payload_json);
        shown.push_str(item.last_error.as_deref().unwrap_or(""));
    }
    for secret in [HEADER_SECRET, GITHUB_TOKEN, GITLAB_TOKEN] {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
        assert!(
            rx.seen()
                .iter()
                .any(|s| s.body.contains(secret)
                    || s.headers.iter().any(|(_, v)| v.contains(secret))),
            "{secret} was sent"
        );
    }
    // A run by hand of an unknown action is 404; one with a too large context 422.
    let r = post(&ctx, &ctx.respond, "/api/v1/actions/nope/runs", json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let big = "x".repeat(20_000);
    let r = post(
        &ctx,
        &ctx.respond,
        "/api/v1/actions/rollback/runs",
        json!({"context": {"big": big}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let r = send(
        &ctx.app,
        Method::POST,
        "/api/v1/actions/rollback/runs",
        Some(&ctx.respond),
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "an empty body is a run with no context"
    );
    let r = get(&ctx.app, "/api/v1/actions/runs?state=lost", Some(&ctx.read)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["detail"].as_str().unwrap().starts_with("state:"));
}

#[tokio::test]
async fn queued_and_waiting_runs_survive_a_restart() {
    let rx = Receiver::start().await;
    let (ctx, path) = setup_file(&config(rx.addr)).await;
    let queued = run_by_hand(&ctx, "rollback", json!({})).await;
    let waiting = run_by_hand(&ctx, "guarded", json!({})).await;
    // The process stops before its sender ran; a new one opens the same database.
    let db = format!("sqlite://{}", ctx._dir.path().join("state.db").display());
    ctx.state.store.close().await;
    let store = headroom_store::Store::open(&db).await.unwrap();
    let (clock, _) = clock_at(NOW + 60_000);
    let state = headroom_service::build_state(
        headroom_service::ConfigSource::Paths(vec![path]),
        headroom_tsdb::Tsdb::in_memory(),
        store,
        clock,
    )
    .await
    .unwrap();
    let client = Client::new(std::time::Duration::from_secs(5)).unwrap();
    assert_eq!(send_round(&state, &client).await, 1);
    let (q, w) = (
        queued["id"].as_str().unwrap(),
        waiting["id"].as_str().unwrap(),
    );
    assert_eq!(
        state.actions.get(q).await.unwrap().state,
        ActionRunState::Delivered
    );
    assert_eq!(rx.seen().len(), 1);
    assert_eq!(rx.seen()[0].path, "/rollback");
    // The waiting run still waits, and is sent once approved after the restart.
    state.actions.approve(w, "alice").await.unwrap();
    assert_eq!(send_round(&state, &client).await, 1);
    let approved = state.actions.get(w).await.unwrap();
    assert_eq!(
        (approved.state, approved.approved_by.as_deref()),
        (ActionRunState::Delivered, Some("alice"))
    );
}
