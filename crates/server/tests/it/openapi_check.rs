//! The OpenAPI document against the server's real answers: a scenario through every JSON
//! operation (a success of each, and refusals of each area), each answer recorded with the
//! templated path the router matched, then `scripts/openapi_check.py` validates the document
//! (openapi-spec-validator) and every recorded body against the schema the document gives for
//! its operation and status (jsonschema).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::common::*;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::{Next, from_fn};
use axum::response::Response;
use headroom_service::workers::{dispatch_round, escalation_round};
use serde_json::{Value, json};

const MINUTE: i64 = 60_000;
const ROUTING_KEY: &str = "0123456789abcdef0123456789abcdef";

fn config(key_file: &Path) -> String {
    format!(
        r#"anonymous_read: false
actions:
  - name: rollback
    kind: http
    url: http://127.0.0.1:9/rollback
    headers: {{X-Key: action-secret}}
    approval: required
    on: [{{canary_failed: {{}}}}]
hooks:
  github: {{secret: openapi-check-hook-secret}}
  gitlab: {{token: openapi-check-gitlab-token}}
services:
  - {{name: checkout, labels: {{team: payments}}, repositories: [codertocat/hello-world, root/test-deployment-webhooks], environments: [production, staging], release_policy: {{min_budget_remaining: 10%, max_burn_rate_1h: 14.4, exempt_labels: [hotfix]}}}}
probes:
  - name: nightly
    heartbeat: {{}}
    interval: 1h
slos:
  - name: checkout-availability
    service: checkout
    description: Checkouts that succeeded.
    objective: 99
    window: 7d
    sli: {{events: {{}}}}
  - name: checkout-by-region
    service: checkout
    objective: 99.5
    window: 30d
    sli: {{events: {{}}}}
    grouping: [region]
  - name: checkout-minutes
    service: checkout
    objective: 99
    window: {{calendar: month, time_zone: Europe/Berlin}}
    budgeting: {{timeslices: {{target: 0.95, slice: 1m}}}}
    sli: {{events: {{}}}}
route:
  receiver: team
  group_by: [alertname]
  group_wait: 0s
  routes:
    - matchers: ['severity="page"']
      receiver: pager
receivers:
  - name: team
  - name: pager
    escalation_policy: urgent
users:
  - {{id: alice, name: Alice Adams, email: alice@example.com, contact_methods: [{{email: alice@example.com}}]}}
  - {{id: bob, name: Bob Brown, email: bob@example.com}}
teams:
  - {{id: payments, name: Payments, members: [alice, bob], escalation_policy: urgent}}
schedules:
  - id: primary
    name: Primary
    time_zone: UTC
    layers:
      - {{name: days, users: [alice, bob], turn: daily, rotation_start: "2027-01-11T09:00"}}
escalation_policies:
  - id: urgent
    levels:
      - {{delay: 10m, targets: [{{schedule: primary}}]}}
incident_policies:
  - {{name: pages, matchers: ['severity="page"'], severity: SEV2, title: "{{{{alertname}}}}"}}
integrations:
  - name: cron
    pagerduty_events: {{routing_key_file: {}}}
    service: billing
"#,
        key_file.display()
    )
}

/// One answer as `openapi_check.py` reads it.
type Samples = Arc<Mutex<Vec<Value>>>;

/// Middleware: records each JSON answer with the path it was asked at (templated later).
async fn record(samples: Samples, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_lowercase();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    samples.lock().unwrap().push(
        json!({"method": method, "path": path, "status": parts.status.as_u16(), "body": body}),
    );
    Response::from_parts(parts, Body::from(bytes))
}

struct Scenario {
    ctx: Ctx,
    app: Router,
}

impl Scenario {
    /// Sends a request and checks its status.
    async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
        want: u16,
    ) -> Value {
        let headers: &[(&str, &str)] = if body.is_some() {
            &[("content-type", "application/json")]
        } else {
            &[]
        };
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let r = send(&self.app, method.clone(), uri, token, headers, body).await;
        assert_eq!(r.status.as_u16(), want, "{method} {uri}: {}", r.text());
        if r.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&r.body).unwrap_or(Value::Null)
        }
    }
    async fn read(&self, uri: &str, want: u16) -> Value {
        self.call(Method::GET, uri, Some(&self.ctx.read), None, want)
            .await
    }
    async fn post(&self, uri: &str, token: &str, body: Value, want: u16) -> Value {
        self.call(Method::POST, uri, Some(token), Some(body), want)
            .await
    }
}

#[tokio::test]
async fn every_json_answer_matches_the_documented_schema() {
    let dir = tempfile::TempDir::new().unwrap();
    let key_file = dir.path().join("routing-key");
    write(&key_file, ROUTING_KEY);
    let (ctx, config_path) = setup_file(&config(&key_file)).await;
    let samples: Samples = Arc::default();
    let recorder = samples.clone();
    let app = ctx.app.clone().layer(from_fn(move |req, next| {
        record(recorder.clone(), req, next)
    }));
    let s = Scenario { ctx, app };
    let (admin, ingest, respond) = (
        s.ctx.admin.clone(),
        s.ctx.ingest.clone(),
        s.ctx.respond.clone(),
    );

    // SLOs and their data.
    let batch = json!({"events": [
        {"timestamp": EV_SECS, "good": 90, "total": 100, "labels": {"region": "us"}},
        {"timestamp": EV_SECS, "good": 5, "total": 10, "labels": {"region": "eu"}},
    ]});
    s.post(
        "/api/v1/slos/checkout-by-region/events",
        &ingest,
        batch,
        200,
    )
    .await;
    let one = json!({"events": [{"timestamp": EV_SECS, "good": 90, "total": 100}]});
    for slo in ["checkout-availability", "checkout-minutes"] {
        s.post(
            &format!("/api/v1/slos/{slo}/events"),
            &ingest,
            one.clone(),
            200,
        )
        .await;
    }
    s.post(
        "/api/v1/slos/checkout-availability/events",
        &ingest,
        json!({"events": [{"good": 1}]}),
        400,
    )
    .await;
    s.ctx
        .clock
        .fetch_add(MINUTE, std::sync::atomic::Ordering::SeqCst);
    headroom_service::evaluate(&s.ctx.state, None).await;
    s.read("/api/v1/slos", 200).await;
    s.read("/api/v1/slos/checkout-by-region", 200).await;
    s.read("/api/v1/slos/no-such", 404).await;
    s.read(
        "/api/v1/slos/checkout-by-region/series?group=region%3Deu&step=5m",
        200,
    )
    .await;
    s.read("/api/v1/slos/checkout-availability/series?step=0", 400)
        .await;
    s.read("/api/v1/alerts/transitions", 200).await;
    s.read("/api/v1/alerts/transitions?from=yesterday", 400)
        .await;

    // Probes, heartbeats, targets.
    s.read("/api/v1/probes", 200).await;
    s.read("/api/v1/probes/nightly/results", 200).await;
    s.read("/api/v1/probes/no-such/results", 404).await;
    s.post("/api/v1/heartbeats/nightly", &ingest, json!({}), 200)
        .await;
    s.post("/api/v1/heartbeats/no-such", &ingest, json!({}), 404)
        .await;
    s.read("/api/v1/targets", 200).await;

    // Alertmanager API v2 and a forwarded webhook.
    let alerts = json!([
        {"labels": {"alertname": "Down", "severity": "page", "service": "api"},
         "annotations": {"summary": "api is down"}},
        {"labels": {"alertname": "Slow", "severity": "ticket"}},
    ]);
    s.post("/api/v2/alerts", &ingest, alerts, 200).await;
    s.post("/api/v2/alerts", &ingest, json!([{"labels": {}}]), 400)
        .await;
    s.read("/api/v2/alerts", 200).await;
    s.read("/api/v2/alerts?filter=%7Bbroken", 400).await;
    s.read("/api/v2/alerts/groups", 200).await;
    s.read("/api/v2/status", 200).await;
    s.read("/api/v2/receivers", 200).await;
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "Slow", "isRegex": false}],
        "startsAt": rfc3339(NOW), "endsAt": rfc3339(NOW + 60 * MINUTE),
        "createdBy": "alice", "comment": "known",
    });
    let created = s.post("/api/v2/silences", &respond, silence, 200).await;
    let id = created["silenceID"].as_str().unwrap().to_string();
    s.post("/api/v2/silences", &respond, json!({"matchers": []}), 400)
        .await;
    s.read("/api/v2/silences", 200).await;
    s.read(&format!("/api/v2/silence/{id}"), 200).await;
    s.read("/api/v2/silence/no-such", 404).await;
    let webhook = json!({
        "version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "hr",
        "alerts": [{"status": "firing", "labels": {"alertname": "Forwarded"},
                    "startsAt": rfc3339(NOW), "endsAt": "0001-01-01T00:00:00Z"}],
    });
    s.post("/api/v1/integrations/alertmanager", &ingest, webhook, 200)
        .await;
    s.post(
        "/api/v1/integrations/alertmanager",
        &ingest,
        json!({"alerts": 1}),
        400,
    )
    .await;

    // PagerDuty Events API v2: the routing key authenticates.
    let event = json!({"routing_key": ROUTING_KEY, "event_action": "trigger",
        "payload": {"summary": "backup failed", "source": "cron", "severity": "error"}});
    s.call(Method::POST, "/v2/enqueue", None, Some(event), 202)
        .await;
    s.call(
        Method::POST,
        "/v2/enqueue",
        None,
        Some(json!({"event_action": "trigger"})),
        400,
    )
    .await;

    // On-call.
    s.read("/api/v1/users", 200).await;
    s.read("/api/v1/teams", 200).await;
    s.read("/api/v1/schedules", 200).await;
    s.read("/api/v1/schedules/primary/oncall", 200).await;
    s.read("/api/v1/schedules/no-such/oncall", 404).await;
    s.read("/api/v1/schedules/primary/shifts", 200).await;
    s.read("/api/v1/schedules/primary/shifts?from=soon", 400)
        .await;
    let cover = json!({"user": "bob", "start": rfc3339(NOW), "end": rfc3339(NOW + 60 * MINUTE)});
    s.post("/api/v1/schedules/primary/overrides", &respond, cover, 201)
        .await;
    s.post(
        "/api/v1/schedules/primary/overrides",
        &respond,
        json!({"user": "bob"}),
        400,
    )
    .await;
    s.post("/api/v1/users/alice/calendar-key", &respond, json!({}), 200)
        .await;
    s.post(
        "/api/v1/schedules/primary/calendar-key",
        &respond,
        json!({}),
        200,
    )
    .await;
    s.post(
        "/api/v1/users/no-such/calendar-key",
        &respond,
        json!({}),
        404,
    )
    .await;

    // Escalations: the paging alert's group pages through `urgent`.
    dispatch_round(&s.ctx.state).await;
    escalation_round(&s.ctx.state).await;
    let open = s.read("/api/v1/escalations?open=true", 200).await;
    let esc = open["escalations"][0]["id"]
        .as_str()
        .expect("the paging alert opened an escalation")
        .to_string();
    s.read(&format!("/api/v1/escalations/{esc}"), 200).await;
    s.read("/api/v1/escalations/no-such", 404).await;
    s.read("/api/v1/escalations?open=false", 400).await;
    s.post(
        &format!("/api/v1/escalations/{esc}/ack"),
        &respond,
        json!({"by": "alice"}),
        200,
    )
    .await;
    s.post(
        &format!("/api/v1/escalations/{esc}/resolve"),
        &respond,
        json!({}),
        200,
    )
    .await;

    // Incidents.
    let declared = s
        .post(
            "/api/v1/incidents",
            &respond,
            json!({"title": "Checkout down", "severity": "sev2", "services": ["checkout"],
                   "slos": ["checkout-availability"], "commander": "alice"}),
            201,
        )
        .await;
    let inc = declared["id"].as_i64().unwrap();
    s.post(
        "/api/v1/incidents",
        &respond,
        json!({"title": "x", "severity": "SEV9"}),
        400,
    )
    .await;
    let op = |what: &str| format!("/api/v1/incidents/{inc}/{what}");
    s.post(&op("acknowledge"), &respond, json!({}), 200).await;
    s.post(
        &op("status"),
        &respond,
        json!({"status": "investigating"}),
        200,
    )
    .await;
    s.post(&op("status"), &respond, json!({"status": "triggered"}), 409)
        .await;
    s.post(&op("severity"), &respond, json!({"severity": "SEV1"}), 200)
        .await;
    s.post(
        &op("roles"),
        &respond,
        json!({"role": "scribe", "user": "bob"}),
        200,
    )
    .await;
    s.post(&op("notes"), &respond, json!({"text": "rolled back"}), 200)
        .await;
    s.post(
        &op("impact-start"),
        &respond,
        json!({"started_at": rfc3339(NOW - 5 * MINUTE)}),
        200,
    )
    .await;
    s.post(
        &op("action-items"),
        &respond,
        json!({"text": "alert earlier", "owner": "bob", "due": "2027-02-01"}),
        201,
    )
    .await;
    s.call(
        Method::PATCH,
        &op("action-items/1"),
        Some(&respond),
        Some(json!({"status": "done", "due": null})),
        200,
    )
    .await;
    s.post(&op("resolve"), &respond, json!({}), 200).await;
    s.read("/api/v1/incidents?status=all", 200).await;
    s.read("/api/v1/incidents?status=some", 400).await;
    s.read(&format!("/api/v1/incidents/{inc}"), 200).await;
    s.read("/api/v1/incidents/999", 404).await;
    s.read("/api/v1/incidents/metrics?service=checkout", 200)
        .await;
    s.read("/api/v1/incidents/metrics?from=never", 400).await;

    // Canary judgement: a Fail verdict (a critical metric High beyond its threshold, one
    // without data), and a refusal.
    let read = s.ctx.read.clone();
    let judged = s
        .post(
            "/api/v1/canary/judge",
            &read,
            json!({
                "metrics": [
                    {"name": "latency", "groups": ["perf"], "critical": true,
                     "effectSize": {"criticalIncrease": 1.5},
                     "baseline": [10.0, 10.5, 9.5, 10.2, 9.9, 10.1, 10.4, 9.7, 10.3],
                     "canary": [20.0, 20.5, 19.5, 20.2, 19.9, 20.1, 20.4, 19.7, 20.3]},
                    {"name": "errors", "groups": ["errors"], "baseline": [1.0, 2.0],
                     "canary": [null]}
                ],
                "groupWeights": {"perf": 60},
                "thresholds": {"pass": 95, "marginal": 80}
            }),
            200,
        )
        .await;
    assert_eq!(judged["verdict"], "Fail");
    s.post(
        "/api/v1/canary/judge",
        &read,
        json!({"metrics": [{"name": "a", "groups": [], "baseline": [1], "canary": [2]}]}),
        400,
    )
    .await;

    // Deploys: hooks with their credentials, a reported deploy, the list and one deploy.
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures");
    let gh = std::fs::read(format!("{fixtures}/github/deployment_status/payload.json")).unwrap();
    let sig = headroom_ingest::github::signature(b"openapi-check-hook-secret", &gh);
    for (sig, want) in [(sig.as_str(), 202), ("sha256=00", 401)] {
        let r = send(
            &s.app,
            Method::POST,
            "/hooks/github",
            None,
            &[
                ("X-GitHub-Event", "deployment_status"),
                ("X-Hub-Signature-256", sig),
                ("content-type", "application/json"),
            ],
            gh.clone(),
        )
        .await;
        assert_eq!(r.status.as_u16(), want, "{}", r.text());
    }
    let gl = std::fs::read(format!("{fixtures}/gitlab/deployment.json")).unwrap();
    let r = send(
        &s.app,
        Method::POST,
        "/hooks/gitlab",
        None,
        &[
            ("X-Gitlab-Event", "Deployment Hook"),
            ("X-Gitlab-Token", "openapi-check-gitlab-token"),
            ("content-type", "application/json"),
        ],
        gl,
    )
    .await;
    assert_eq!(r.status.as_u16(), 202, "{}", r.text());
    // Release gates: a decision, an override opening the gate, refusals, the listings.
    let decided = s
        .read(
            "/api/v1/gates/checkout?environment=production&label=hotfix",
            200,
        )
        .await;
    s.read("/api/v1/gates/nope", 404).await;
    s.read("/api/v1/gates/checkout?environment=qa", 400).await;
    let at = chrono::DateTime::parse_from_rfc3339(decided["at"].as_str().unwrap()).unwrap();
    let until = (at + chrono::Duration::hours(2)).to_rfc3339();
    let over = s
        .post(
            "/api/v1/gates/checkout/overrides",
            &respond,
            json!({"environment": "production", "reason": "launch", "until": until}),
            201,
        )
        .await;
    s.post(
        "/api/v1/gates/checkout/overrides",
        &respond,
        json!({"environment": "production", "reason": " ", "until": until}),
        400,
    )
    .await;
    let far = (at + chrono::Duration::days(8)).to_rfc3339();
    s.post(
        "/api/v1/gates/checkout/overrides",
        &respond,
        json!({"environment": "production", "reason": "launch", "until": far}),
        422,
    )
    .await;
    s.read("/api/v1/gates/checkout/overrides", 200).await;
    s.read("/api/v1/gates/checkout/decisions?limit=10", 200)
        .await;
    s.read("/api/v1/gates/checkout/decisions?limit=x", 400)
        .await;
    s.call(
        Method::DELETE,
        &format!("/api/v1/gates/checkout/overrides/{}", over["id"]),
        Some(&respond),
        None,
        200,
    )
    .await;
    s.call(
        Method::DELETE,
        "/api/v1/gates/checkout/overrides/999999",
        Some(&respond),
        None,
        404,
    )
    .await;
    let report = json!({"service": "checkout", "sha": "a".repeat(40), "labels": ["hotfix"], "idempotency_key": "run-1", "gate_decision_id": decided["decision_id"]});
    let made = s.post("/api/v1/deployments", &ingest, report, 201).await;
    assert_eq!(made["gate_decision"]["decision_id"], decided["decision_id"]);
    s.post(
        "/api/v1/deployments",
        &ingest,
        json!({"service": "nope", "sha": "a".repeat(40)}),
        422,
    )
    .await;
    s.post(
        "/api/v1/deployments",
        &ingest,
        json!({"service": "checkout", "sha": "x"}),
        400,
    )
    .await;
    s.read("/api/v1/deployments?service=checkout", 200).await;
    s.read("/api/v1/deployments?from=yesterday", 400).await;
    s.read(&format!("/api/v1/deployments/{}", made["id"]), 200)
        .await;
    s.read("/api/v1/deployments/999999", 404).await;

    // Attribution and DORA.
    let attribution = format!("/api/v1/incidents/{inc}/attribution");
    let put = |body: Value, want: u16| {
        s.call(Method::PUT, &attribution, Some(&respond), Some(body), want)
    };
    put(json!({"deploy": made["id"]}), 200).await;
    put(json!({"deploy": 999999}), 422).await;
    put(json!({"version": "v1", "not_caused_by_change": true}), 400).await;
    put(json!({}), 200).await;
    put(json!({}), 409).await;
    s.call(
        Method::PUT,
        "/api/v1/incidents/999999/attribution",
        Some(&respond),
        Some(json!({})),
        404,
    )
    .await;
    s.read("/api/v1/dora?service=checkout", 200).await;
    s.read("/api/v1/dora?team=nobody", 404).await;
    s.read("/api/v1/dora?from=yesterday", 400).await;
    // Actions: listed, run by hand, approved and rejected, the audit log; refusals of each.
    s.read("/api/v1/actions", 200).await;
    let runs = "/api/v1/actions/rollback/runs";
    let first = s
        .post(runs, &respond, json!({"context": {"why": "check"}}), 201)
        .await;
    let second = s.post(runs, &respond, json!({"dry_run": false}), 201).await;
    s.post("/api/v1/actions/nope/runs", &respond, json!({}), 404)
        .await;
    s.post(runs, &respond, json!({"bogus": 1}), 400).await;
    let big = "x".repeat(20_000);
    s.post(runs, &respond, json!({"context": {"big": big}}), 422)
        .await;
    let (first, second) = (
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    );
    let approve = format!("/api/v1/actions/runs/{first}/approve");
    s.post(&approve, &respond, json!({}), 200).await;
    s.post(&approve, &respond, json!({}), 409).await;
    s.post(
        "/api/v1/actions/runs/run_nope/approve",
        &respond,
        json!({}),
        404,
    )
    .await;
    let reject = format!("/api/v1/actions/runs/{second}/reject");
    s.post(&reject, &respond, json!({}), 400).await;
    s.post(&reject, &respond, json!({"reason": "not now"}), 200)
        .await;
    s.read("/api/v1/actions/runs?action=rollback&limit=10", 200)
        .await;
    s.read("/api/v1/actions/runs?state=lost", 400).await;
    s.read(&format!("/api/v1/actions/runs/{first}"), 200).await;
    s.read("/api/v1/actions/runs/run_nope", 404).await;

    // A PagerDuty change event becomes a change marker; a bad one is refused.
    let change = json!({"routing_key": ROUTING_KEY, "payload": {"summary": "flag flipped", "source": "ops"}, "links": [{"href": "https://ci.example.com/1", "text": "run"}]});
    s.call(Method::POST, "/v2/change/enqueue", None, Some(change), 202)
        .await;
    s.call(
        Method::POST,
        "/v2/change/enqueue",
        None,
        Some(json!({"routing_key": ROUTING_KEY})),
        400,
    )
    .await;

    // Reload: a valid config, then a broken one that is refused.
    s.post("/-/reload", &admin, json!({}), 200).await;
    write(&config_path, "slos: [");
    s.post("/-/reload", &admin, json!({}), 422).await;

    // Refusals every token-taking operation documents.
    s.call(Method::GET, "/api/v1/slos", None, None, 401).await;
    s.post("/-/reload", &respond, json!({}), 403).await;

    s.call(Method::GET, "/api/v1/openapi.json", None, None, 200)
        .await;
    s.call(Method::GET, "/", None, None, 200).await;

    let doc = s.read("/api/v1/openapi.json", 200).await;
    let samples: Vec<Value> = samples
        .lock()
        .unwrap()
        .iter()
        .map(|sample| {
            let mut sample = sample.clone();
            let path = sample["path"].as_str().unwrap();
            sample["path"] = Value::from(template(&doc, path));
            sample
        })
        .collect();
    let missing = undriven(&doc, &samples);
    assert!(
        missing.is_empty(),
        "operations answering JSON without a sample: {missing:?}"
    );
    check(&doc, &samples);
}

/// The document's path a concrete one was routed to: the template whose segments match, the
/// most literal one first (as the router prefers `/incidents/metrics` to `/incidents/{id}`).
fn template(doc: &Value, path: &str) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter_map(|t| {
            let parts: Vec<&str> = t.split('/').collect();
            let fits = parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| p == s || p.starts_with('{'));
            fits.then(|| (parts.iter().filter(|p| p.starts_with('{')).count(), t))
        })
        .min()
        .map(|(_, t)| t.clone())
        .unwrap_or_else(|| panic!("{path} is in no documented path"))
}

/// The operations whose success the document gives a JSON body, without a successful sample.
fn undriven(doc: &Value, samples: &[Value]) -> Vec<String> {
    let driven: BTreeSet<(String, String)> = samples
        .iter()
        .filter(|s| (200..300).contains(&s["status"].as_u64().unwrap()))
        .map(|s| {
            (
                s["method"].as_str().unwrap().to_string(),
                s["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let answers_json = op["responses"]
                .as_object()
                .unwrap()
                .iter()
                .any(|(status, r)| {
                    status.starts_with('2') && r["content"].get("application/json").is_some()
                });
            if answers_json && !driven.contains(&(method.clone(), path.clone())) {
                missing.push(format!("{method} {path}"));
            }
        }
    }
    missing
}

/// Runs the checker on the document and the samples; its output is the failure message.
fn check(doc: &Value, samples: &[Value]) {
    let dir = tempfile::TempDir::new().unwrap();
    let doc_path = dir.path().join("openapi.json");
    let samples_path = dir.path().join("samples.jsonl");
    write(&doc_path, &doc.to_string());
    let lines: Vec<String> = samples.iter().map(Value::to_string).collect();
    write(&samples_path, &lines.join("\n"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/openapi_check.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&doc_path)
        .arg(&samples_path)
        .output()
        .expect("python3 runs the checker");
    assert!(
        out.status.success(),
        "openapi_check.py refused ({} samples):\n{}{}",
        samples.len(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rfc3339(ms: i64) -> String {
    headroom_core::Timestamp(ms).to_rfc3339()
}

#[test]
fn a_body_that_does_not_fit_its_schema_is_refused() {
    // The checker itself, against a document with one operation: a field of the wrong type.
    let doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"get": {"responses": {"200": {"description": "x", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/X"}}}}}}}},
        "components": {"schemas": {"X": {"type": "object", "required": ["n"],
            "properties": {"n": {"type": "integer"}}}}},
    });
    let good = json!({"method": "get", "path": "/x", "status": 200, "body": {"n": 1}});
    check(&doc, &[good]);
    let bad = json!({"method": "get", "path": "/x", "status": 200, "body": {"n": "one"}});
    let refused = std::panic::catch_unwind(|| check(&doc, &[bad]));
    let message = *refused
        .expect_err("a wrong body is refused")
        .downcast::<String>()
        .unwrap();
    assert!(
        message.contains("n: 'one' is not of type 'integer'"),
        "{message}"
    );
}
