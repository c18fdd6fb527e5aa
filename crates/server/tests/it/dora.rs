//! DORA end to end on a simulated clock: deploys reported by CI and by a GitHub workflow run,
//! incidents declared at their time and resolved later (one naming its deploy, one found by
//! the attribution window, one marked not caused by a change), then `GET /api/v1/dora` checked
//! figure by figure against values worked out by hand; the attribution corrected and the
//! figures following; deploy markers on an SLO series and around an incident; a deploy with
//! the incidents counted against it; refusals naming their field.

use std::path::Path;
use std::sync::atomic::Ordering;

use crate::common::*;
use axum::http::{Method, StatusCode};
use headroom_ingest::github;
use headroom_service::ConfigSource;
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures");
const SECRET: &str = "dora-test-secret";

const CONFIG: &str = "hooks:
  github: {secret: dora-test-secret}
services:
  - name: checkout
    team: shop
    repositories: [octo-org/octo-repo]
    deploy_workflows: [test.yml]
  - name: search
    team: shop
slos:
  - name: checkout-availability
    service: checkout
    objective: 99.9
    window: 30d
    sli: {events: {}}
";

fn ms(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

fn set_clock(ctx: &Ctx, rfc3339: &str) {
    ctx.clock.store(ms(rfc3339), Ordering::SeqCst);
}

fn sha(tag: &str) -> String {
    tag.repeat(40 / tag.len())
}

async fn call(ctx: &Ctx, method: Method, uri: &str, token: &str, body: &Value) -> Resp {
    send(
        &ctx.app,
        method,
        uri,
        Some(token),
        &[("content-type", "application/json")],
        serde_json::to_vec(body).unwrap(),
    )
    .await
}

/// A successful (unless `status` says) production deploy of checkout shipping one commit
/// authored at `authored`; its id.
async fn report(ctx: &Ctx, key: &str, finished: &str, authored: &str, extra: Value) -> i64 {
    let commit = sha(key);
    let mut body = json!({
        "service": "checkout",
        "sha": commit,
        "finished": finished,
        "changes": [commit],
        "commits": [{"sha": commit, "authored": authored, "committed": authored}],
        "idempotency_key": key,
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let r = call(ctx, Method::POST, "/api/v1/deployments", &ctx.ingest, &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

/// Declares an incident of checkout at `at` (the clock moves there), resolves it at
/// `resolved`; its id.
async fn incident(ctx: &Ctx, at: &str, resolved: &str, cause: Value) -> i64 {
    set_clock(ctx, at);
    let mut body = json!({"title": format!("checkout errors at {at}"), "severity": "SEV2",
        "services": ["checkout"]});
    body.as_object_mut()
        .unwrap()
        .extend(cause.as_object().unwrap().clone());
    let r = call(ctx, Method::POST, "/api/v1/incidents", &ctx.respond, &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["id"].as_i64().unwrap();
    set_clock(ctx, resolved);
    let r = call(
        ctx,
        Method::POST,
        &format!("/api/v1/incidents/{id}/resolve"),
        &ctx.respond,
        &json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    id
}

async fn dora(ctx: &Ctx, query: &str) -> Value {
    let r = get(&ctx.app, &format!("/api/v1/dora?{query}"), Some(&ctx.read)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

async fn attribute(ctx: &Ctx, id: i64, body: Value) -> Resp {
    call(
        ctx,
        Method::PUT,
        &format!("/api/v1/incidents/{id}/attribution"),
        &ctx.respond,
        &body,
    )
    .await
}

/// Two weeks, Monday 2027-01-04 to Monday 2027-01-18.
const RANGE: &str = "service=checkout&from=2027-01-04&to=2027-01-18T00:00:00Z";

#[tokio::test]
async fn dora_figures_attribution_and_markers_from_stored_deploys_and_incidents() {
    let (ctx, _) = setup_file(CONFIG).await;
    figures_attribution_and_markers(ctx).await;
}

#[tokio::test]
async fn dora_figures_attribution_and_markers_on_postgresql() {
    let Some(pg) = PgSchema::create("dora_figures_attribution_and_markers_on_postgresql").await
    else {
        return;
    };
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("slos.yaml");
    write(&path, CONFIG);
    let ctx = setup_on(ConfigSource::Paths(vec![path]), dir, &pg.url).await;
    figures_attribution_and_markers(ctx).await;
}

async fn figures_attribution_and_markers(ctx: Ctx) {
    set_clock(&ctx, "2027-01-20T08:00:00Z");
    // Week 1: two deploys, leads 4 h and 24 h.
    let d1 = report(
        &ctx,
        "c1",
        "2027-01-05T10:00:00Z",
        "2027-01-05T06:00:00Z",
        json!({}),
    )
    .await;
    let d2 = report(
        &ctx,
        "c2",
        "2027-01-06T10:00:00Z",
        "2027-01-05T10:00:00Z",
        json!({}),
    )
    .await;
    // Week 2: a deploy by GitHub's workflow run (its commit never received: unlinked), a
    // hotfix with a 3 h lead, a failed deploy and its fix an hour later (lead 30 min).
    let mut run: Value = serde_json::from_slice(
        &std::fs::read(Path::new(FIXTURES).join("github/workflow_run/completed.payload.json"))
            .unwrap(),
    )
    .unwrap();
    for key in ["created_at", "run_started_at", "updated_at"] {
        run["workflow_run"][key] = json!("2027-01-12T09:00:00Z");
    }
    let body = serde_json::to_vec(&run).unwrap();
    let sig = github::signature(SECRET.as_bytes(), &body);
    let r = send(
        &ctx.app,
        Method::POST,
        "/hooks/github",
        None,
        &[
            ("X-GitHub-Event", "workflow_run"),
            ("X-Hub-Signature-256", &sig),
            ("content-type", "application/json"),
        ],
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let d3 = r.json()["deploys"][0].as_i64().unwrap();
    let hotfix = json!({"labels": ["hotfix"]});
    let d4 = report(
        &ctx,
        "c4",
        "2027-01-13T15:00:00Z",
        "2027-01-13T12:00:00Z",
        hotfix,
    )
    .await;
    let failed = json!({"status": "failure"});
    let d5 = report(
        &ctx,
        "c5",
        "2027-01-14T10:00:00Z",
        "2027-01-14T09:00:00Z",
        failed,
    )
    .await;
    let d6 = report(
        &ctx,
        "c6",
        "2027-01-14T11:00:00Z",
        "2027-01-14T10:30:00Z",
        json!({}),
    )
    .await;

    // Named: D2 caused it, recovered 4 h after D2 finished.
    let i1 = incident(
        &ctx,
        "2027-01-06T12:00:00Z",
        "2027-01-06T14:00:00Z",
        json!({"deploy": d2}),
    )
    .await;
    // Not caused by a change, though D3 finished an hour before.
    let i3 = incident(
        &ctx,
        "2027-01-12T10:00:00Z",
        "2027-01-12T10:30:00Z",
        json!({"not_caused_by_change": true}),
    )
    .await;
    // By the window: D4 finished an hour before; recovered 2 h after D4.
    let i2 = incident(
        &ctx,
        "2027-01-13T16:00:00Z",
        "2027-01-13T17:00:00Z",
        json!({}),
    )
    .await;
    set_clock(&ctx, "2027-01-20T08:00:00Z");

    let v = dora(&ctx, RANGE).await;
    assert_eq!(v["from"], "2027-01-04T00:00:00Z");
    assert_eq!(v["to"], "2027-01-18T00:00:00Z");
    assert_eq!(v["service"], "checkout");
    assert_eq!(v["team"], Value::Null);
    assert_eq!(v["environment"], "production");
    assert_eq!(
        v["tiers_source"],
        "DORA 2024 Accelerate State of DevOps Report"
    );
    assert_eq!(v["tiers_year"], 2024);
    assert_eq!(v["attribution_window_seconds"], 86_400.0);
    // D1, D2, D3, D4, D6 succeeded: 5 over 14 days, on 5 distinct days.
    let f = &v["deployment_frequency"];
    assert_eq!(f["deployments"], 5);
    assert_close(&f["per_day"], 5.0 / 14.0);
    assert_close(&f["deployment_days_per_week"], 2.5);
    assert_eq!(f["tier"], "high");
    // Leads 1800, 10800, 14400, 86400 s: median 12600, p90 14400 + 0.7 × 72000.
    let l = &v["lead_time"];
    assert_eq!(l["changes"], 4);
    assert_close(&l["median_seconds"], 12_600.0);
    assert_close(&l["p90_seconds"], 64_800.0);
    assert_eq!(l["tier"], "elite");
    assert_eq!(l["unlinked_deployments"], 1);
    // D2 and D4 failed: 2 of 5.
    let c = &v["change_failure_rate"];
    assert_eq!(
        (c["deployments"].clone(), c["failed"].clone()),
        (json!(5), json!(2))
    );
    assert_close(&c["rate"], 0.4);
    assert_eq!(c["tier"], "low");
    // Recoveries: D2 4 h, D4 2 h, the failed D5 to D6 1 h: median 2 h.
    let rt = &v["recovery_time"];
    assert_eq!(rt["failures"], 3);
    assert_eq!(rt["unrecovered"], 0);
    assert_close(&rt["median_seconds"], 7_200.0);
    assert_eq!(rt["tier"], "high");
    // The hotfix is the one rework.
    let w = &v["rework_rate"];
    assert_eq!(w["rework"], 1);
    assert_close(&w["rate"], 0.2);
    assert!(w.get("tier").is_none(), "rework rate has no 2024 tier: {w}");

    let weeks = v["weeks"].as_array().unwrap();
    assert_eq!(weeks.len(), 2);
    let (w1, w2) = (&weeks[0], &weeks[1]);
    assert_eq!(
        (w1["from"].as_str(), w1["to"].as_str()),
        (Some("2027-01-04T00:00:00Z"), Some("2027-01-11T00:00:00Z"))
    );
    assert_eq!(w1["deployment_frequency"]["deployments"], 2);
    assert_close(&w1["deployment_frequency"]["per_day"], 2.0 / 7.0);
    assert_close(&w1["lead_time"]["median_seconds"], 50_400.0);
    assert_close(&w1["change_failure_rate"]["rate"], 0.5);
    assert_close(&w1["recovery_time"]["median_seconds"], 14_400.0);
    assert_close(&w1["rework_rate"]["rate"], 0.0);
    assert_eq!(w2["deployment_frequency"]["deployments"], 3);
    assert_close(&w2["lead_time"]["median_seconds"], 6_300.0);
    assert_eq!(w2["lead_time"]["unlinked_deployments"], 1);
    assert_close(&w2["change_failure_rate"]["rate"], 1.0 / 3.0);
    assert_close(&w2["recovery_time"]["median_seconds"], 5_400.0);
    assert_close(&w2["rework_rate"]["rate"], 1.0 / 3.0);

    // Each incident with how it was attributed, by start.
    let attributed = |v: &Value| -> Vec<(i64, String, Value)> {
        v["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["incident"].as_i64().unwrap(),
                    i["attribution"]["how"].as_str().unwrap().to_string(),
                    i["attribution"]["deploy"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        attributed(&v),
        [
            (i1, "explicit".into(), json!(d2)),
            (i3, "not_caused_by_change".into(), Value::Null),
            (i2, "window".into(), json!(d4)),
        ]
    );

    // The team's figures are the same: search has no deploys.
    let team = dora(&ctx, "team=shop&from=2027-01-04&to=2027-01-18").await;
    assert_eq!(team["deployment_frequency"], v["deployment_frequency"]);
    assert_eq!(team["team"], "shop");

    // Corrected: I3 was D3 after all. Three failures of five; D3 recovered in 1.5 h.
    let r = attribute(&ctx, i3, json!({"deploy": d3})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["cause"], json!({"deploy": d3}));
    let entry = r.json()["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "attributed" && e["cause"] == json!({"deploy": d3}))
        .cloned();
    assert_eq!(
        entry.map(|e| e["text"].clone()),
        Some(json!(format!("Attributed to deploy {d3}")))
    );
    let v = dora(&ctx, RANGE).await;
    assert_eq!(v["change_failure_rate"]["failed"], 3);
    assert_close(&v["change_failure_rate"]["rate"], 0.6);
    // 3600, 5400, 7200, 14400: median 6300.
    assert_close(&v["recovery_time"]["median_seconds"], 6_300.0);
    assert_eq!(attributed(&v)[1], (i3, "explicit".into(), json!(d3)));
    // Back to automatic: the window finds D3 too, and says so.
    let r = attribute(&ctx, i3, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["cause"], json!({}));
    let v = dora(&ctx, RANGE).await;
    assert_eq!(attributed(&v)[1], (i3, "window".into(), json!(d3)));
    assert_eq!(v["change_failure_rate"]["failed"], 3);

    // A deploy with the incidents counted against it.
    let one = get(
        &ctx.app,
        &format!("/api/v1/deployments/{d4}"),
        Some(&ctx.read),
    )
    .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text());
    let one = one.json();
    assert_eq!(one["id"], d4);
    assert_eq!(one["labels"], json!(["hotfix"]));
    assert_eq!(one["incidents"].as_array().unwrap().len(), 1);
    assert_eq!(one["incidents"][0]["incident"], i2);
    assert_eq!(one["incidents"][0]["attribution"]["how"], "window");
    let quiet = get(
        &ctx.app,
        &format!("/api/v1/deployments/{d1}"),
        Some(&ctx.read),
    )
    .await;
    assert_eq!(quiet.json()["incidents"], json!([]));

    // Deploy markers on the SLO's series: the four that finished in it, newest first, the
    // failed one too.
    let series = get(
        &ctx.app,
        "/api/v1/slos/checkout-availability/series?from=2027-01-12T00:00:00Z&to=2027-01-15T00:00:00Z&step=1h",
        Some(&ctx.read),
    )
    .await;
    assert_eq!(series.status, StatusCode::OK, "{}", series.text());
    let markers = series.json()["deploys"].as_array().unwrap().clone();
    let ids: Vec<i64> = markers.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [d6, d5, d4, d3]);
    assert_eq!(markers[1]["status"], "failure");
    assert_eq!(markers[1]["at"], "2027-01-14T10:00:00Z");
    assert_eq!(markers[1]["sha"], sha("c5"));
    assert_eq!(markers[1]["environment"], "production");

    // Around I2: the deploys from a day before it started until it was resolved.
    let around = get(
        &ctx.app,
        &format!("/api/v1/incidents/{i2}"),
        Some(&ctx.read),
    )
    .await;
    let around = around.json();
    let ids: Vec<i64> = around["deploys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [d4]);
    // ... and around I3, D3 an hour before it.
    let around = get(
        &ctx.app,
        &format!("/api/v1/incidents/{i3}"),
        Some(&ctx.read),
    )
    .await;
    assert_eq!(around.json()["deploys"][0]["id"], d3);
}

#[tokio::test]
async fn attribution_and_dora_queries_are_refused_naming_what_is_wrong() {
    let (ctx, _) = setup_file(CONFIG).await;
    let d = report(
        &ctx,
        "c1",
        "2027-01-15T07:00:00Z",
        "2027-01-15T06:00:00Z",
        json!({}),
    )
    .await;
    // A deploy no stored deploy is: 422 naming it, nothing stored.
    let body = json!({"title": "x", "severity": "SEV3", "services": ["checkout"], "deploy": 999});
    let r = call(&ctx, Method::POST, "/api/v1/incidents", &ctx.respond, &body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.json()["detail"].as_str().unwrap().contains("deploy 999"));
    let listed = get(&ctx.app, "/api/v1/incidents?status=all", Some(&ctx.read)).await;
    assert_eq!(listed.json()["incidents"], json!([]));

    let id = incident(
        &ctx,
        "2027-01-15T07:30:00Z",
        "2027-01-15T07:45:00Z",
        json!({}),
    )
    .await;
    let r = attribute(&ctx, id, json!({"deploy": 999})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    // Contradictory: 400 naming the fields.
    let r = attribute(&ctx, id, json!({"deploy": d, "not_caused_by_change": true})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("not_caused_by_change")
    );
    let r = attribute(&ctx, id, json!({"version": ""})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = attribute(&ctx, id, json!({"deploy": d, "surprise": 1})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    // Nothing changed: still automatic, attributed by the window to d.
    let r = get(
        &ctx.app,
        &format!("/api/v1/incidents/{id}"),
        Some(&ctx.read),
    )
    .await;
    assert_eq!(r.json()["cause"], json!({}));
    let v = dora(&ctx, "service=checkout&from=2027-01-15&to=2027-01-16").await;
    assert_eq!(v["incidents"][0]["attribution"]["how"], "window");
    // Naming the same cause twice is a conflict.
    assert_eq!(
        attribute(&ctx, id, json!({"version": "v2"})).await.status,
        StatusCode::OK
    );
    let again = attribute(&ctx, id, json!({"version": "v2"})).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());
    // Only a respond token may attribute.
    let r = send(
        &ctx.app,
        Method::PUT,
        &format!("/api/v1/incidents/{id}/attribution"),
        Some(&ctx.read),
        &[("content-type", "application/json")],
        "{}",
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // An incident of checkout naming another service's deploy: explicit, and counted against no
    // checkout deploy (the other, `id`, now names a version no deploy carries).
    let body = json!({"service": "search", "sha": sha("5e"), "finished": "2027-01-15T07:10:00Z"});
    let r = call(
        &ctx,
        Method::POST,
        "/api/v1/deployments",
        &ctx.ingest,
        &body,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let other = r.json()["id"].as_i64().unwrap();
    let named = incident(
        &ctx,
        "2027-01-15T07:50:00Z",
        "2027-01-15T07:55:00Z",
        json!({"deploy": other}),
    )
    .await;
    let v = dora(&ctx, "service=checkout&from=2027-01-15&to=2027-01-16").await;
    let how: Vec<(Value, Value, Value)> = v["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let a = &i["attribution"];
            (i["incident"].clone(), a["how"].clone(), a["deploy"].clone())
        })
        .collect();
    assert_eq!(
        how,
        [
            (json!(id), json!("unresolved"), Value::Null),
            (json!(named), json!("explicit"), json!(other)),
        ]
    );
    assert_eq!(v["change_failure_rate"]["failed"], 0);

    for (query, status, names) in [
        ("service=nope", StatusCode::NOT_FOUND, "nope"),
        ("team=nobody", StatusCode::NOT_FOUND, "nobody"),
        ("from=yesterday", StatusCode::BAD_REQUEST, "from"),
        (
            "from=2027-01-15&to=2027-01-14",
            StatusCode::BAD_REQUEST,
            "from",
        ),
        (
            "from=2025-01-01&to=2027-01-14",
            StatusCode::BAD_REQUEST,
            "from",
        ),
    ] {
        let r = get(&ctx.app, &format!("/api/v1/dora?{query}"), Some(&ctx.read)).await;
        assert_eq!(r.status, status, "{query}: {}", r.text());
        assert!(
            r.json()["detail"].as_str().unwrap().contains(names),
            "{query}: {}",
            r.text()
        );
    }
    // No data is null, never 0.
    let v = dora(&ctx, "service=search&from=2027-01-01&to=2027-01-08").await;
    assert_eq!(v["deployment_frequency"]["deployments"], 0);
    for field in [
        &v["deployment_frequency"]["per_day"],
        &v["deployment_frequency"]["tier"],
        &v["lead_time"]["median_seconds"],
        &v["change_failure_rate"]["rate"],
        &v["recovery_time"]["median_seconds"],
        &v["rework_rate"]["rate"],
    ] {
        assert_eq!(field, &Value::Null, "{v}");
    }
}
