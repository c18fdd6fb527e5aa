//! Release gates over a simulated budget history: events pushed hour by hour on the controlled
//! clock, each SLO evaluated, then the gate asked. A slow burn takes the budget below the
//! policy's 10% (allow → deny), an override opens the gate until it expires, a hotfix label
//! passes anyway; a fast burn fires the page tier and raises the 1 h burn rate, which deny until
//! traffic recovers. Every decision is stored and listed, and a deploy links the allow it passed.

use std::sync::atomic::Ordering;

use crate::common::*;
use axum::http::{Method, StatusCode};
use headroom_core::Timestamp;
use headroom_service::evaluate;
use serde_json::{Value, json};

const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;

const CONFIG: &str = "services:
  - name: checkout
    environments: [staging, production]
    release_policy:
      min_budget_remaining: 10%
      deny_on_page_alert: false
      exempt_labels: [hotfix]
  - name: search
    release_policy: {max_burn_rate_1h: 2, deny_on_page_alert: false}
  - name: cart
    release_policy: {deny_on_page_alert: true}
  - name: docs
slos:
  - {name: checkout-availability, service: checkout, objective: 99, sli: {events: {}}}
  - {name: search-latency, service: search, objective: 99, sli: {events: {}}}
  - {name: cart-availability, service: cart, objective: 99, sli: {events: {}}}
";

/// Moves the clock, pushes `total` events with `bad` of them bad to `slo` at the new time, and
/// evaluates.
async fn hour_of(ctx: &Ctx, slo: &str, advance_ms: i64, total: f64, bad: f64) {
    let now = ctx.clock.fetch_add(advance_ms, Ordering::SeqCst) + advance_ms;
    if total > 0.0 {
        let r = push(
            ctx,
            slo,
            json!({"events": [event(now / 1000, total - bad, total)]}),
            None,
        )
        .await;
        assert_eq!(r.json()["accepted"], 1, "{}", r.text());
    }
    evaluate(&ctx.state, None).await;
}

/// POSTs a JSON body with `token`.
async fn post_json(app: &axum::Router, uri: &str, token: &str, body: Value) -> Resp {
    send(
        app,
        Method::POST,
        uri,
        Some(token),
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await
}

async fn gate(ctx: &Ctx, query: &str) -> Value {
    let r = get(&ctx.app, &format!("/api/v1/gates/{query}"), Some(&ctx.read)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

/// The rules of the reasons that deny, and of all reasons.
fn rules(d: &Value) -> (Vec<String>, Vec<String>) {
    let reasons = d["reasons"].as_array().unwrap();
    let names = |deny_only: bool| {
        reasons
            .iter()
            .filter(|r| !deny_only || r["denies"] == true)
            .map(|r| r["rule"].as_str().unwrap().to_string())
            .collect()
    };
    (names(true), names(false))
}

#[tokio::test]
async fn a_slow_burn_closes_the_gate_and_overrides_and_exemptions_open_it() {
    let (ctx, _path) = setup_file(CONFIG).await;
    let slo = "checkout-availability";
    // A day of clean traffic: the whole budget is left.
    for _ in 0..24 {
        hour_of(&ctx, slo, HOUR, 1000.0, 0.0).await;
    }
    let d = gate(&ctx, "checkout?environment=production").await;
    assert_eq!(d["decision"], "allow", "{d}");
    assert_eq!(rules(&d).1, Vec::<String>::new());

    // Then 2% errors against a 1% budget: after h such hours the budget left is
    // 1 - 20h / (240 + 10h), which passes below 10% between the 19th and 20th hour.
    let mut first_deny = None;
    for h in 1..=24 {
        hour_of(&ctx, slo, HOUR, 1000.0, 20.0).await;
        let d = gate(&ctx, "checkout?environment=production").await;
        let left = 1.0 - 20.0 * h as f64 / (240.0 + 10.0 * h as f64);
        if d["decision"] == "deny" {
            let reason = &d["reasons"][0];
            assert_eq!(reason["rule"], "min_budget_remaining");
            assert_eq!(reason["slo"], slo);
            assert_close(&reason["budget_remaining"], left);
            first_deny.get_or_insert(h);
        } else {
            assert!(left >= 0.1, "hour {h}: allowed with {left} left: {d}");
        }
    }
    assert_eq!(first_deny, Some(20));
    // Staging is not guarded by the policy.
    let d = gate(&ctx, "checkout?environment=staging").await;
    assert_eq!(d["decision"], "allow");
    assert_eq!(rules(&d).1, ["environment_not_gated"]);

    // A two-hour override opens production; its reason names the approver and the reason.
    let until = Timestamp(ctx.clock.load(Ordering::SeqCst) + 2 * HOUR).to_rfc3339();
    let r = post_json(&ctx.app, "/api/v1/gates/checkout/overrides", &ctx.respond, json!({"environment": "production", "reason": "black friday freeze lifted", "until": until, "approver": "alice"}))
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let over = r.json();
    let d = gate(&ctx, "checkout").await;
    assert_eq!(d["decision"], "allow");
    assert_eq!(d["override_id"], over["id"]);
    assert_eq!(
        rules(&d),
        (
            vec![],
            vec!["min_budget_remaining".into(), "override".into()]
        )
    );
    let note = d["reasons"][1]["message"].as_str().unwrap();
    assert!(
        note.contains("alice") && note.contains("black friday"),
        "{note}"
    );
    let allowed_by_override = d["decision_id"].clone();

    // Expired: denied again.
    hour_of(&ctx, slo, 2 * HOUR, 0.0, 0.0).await;
    let d = gate(&ctx, "checkout").await;
    assert_eq!(d["decision"], "deny");
    assert_eq!(d["override_id"], Value::Null);
    // A hotfix passes, with the waived reason kept.
    let d = gate(&ctx, "checkout?label=hotfix&label=urgent").await;
    assert_eq!(d["decision"], "allow");
    assert_eq!(
        rules(&d),
        (
            vec![],
            vec!["min_budget_remaining".into(), "exempt_label".into()]
        )
    );
    assert_eq!(d["labels"], json!(["hotfix", "urgent"]));

    // Every decision is stored, newest first.
    let r = get(
        &ctx.app,
        "/api/v1/gates/checkout/decisions?environment=production&limit=3",
        Some(&ctx.read),
    )
    .await;
    let listed = r.json()["decisions"].as_array().unwrap().clone();
    let verdicts: Vec<&str> = listed
        .iter()
        .map(|d| d["decision"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["allow", "deny", "allow"]);
    assert_eq!(listed[2]["decision_id"], allowed_by_override);

    // A deploy reported now links the latest allow (the hotfix's) within 6 hours before it.
    let r = post_json(
        &ctx.app,
        "/api/v1/deployments",
        &ctx.ingest,
        json!({"service": "checkout", "sha": "a".repeat(40), "labels": ["hotfix"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let deploy = r.json();
    assert_eq!(
        deploy["gate_decision"]["decision_id"],
        listed[0]["decision_id"]
    );
    let r = get(
        &ctx.app,
        &format!("/api/v1/deployments/{}", deploy["id"]),
        Some(&ctx.read),
    )
    .await;
    assert_eq!(r.json()["gate_decision"], listed[0]);
    // Naming a deny is refused, and nothing is stored.
    let r = post_json(&ctx.app, "/api/v1/deployments", &ctx.ingest, json!({"service": "checkout", "sha": "b".repeat(40), "gate_decision_id": listed[1]["decision_id"]}))
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("gate_decision_id"));
    let r = get(
        &ctx.app,
        "/api/v1/deployments?service=checkout",
        Some(&ctx.read),
    )
    .await;
    assert_eq!(r.json()["deploys"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_page_alert_of_the_service_from_elsewhere_denies_until_a_silence_mutes_it() {
    let (ctx, _path) = setup_file(CONFIG).await;
    hour_of(&ctx, "cart-availability", HOUR, 1000.0, 0.0).await;
    assert_eq!(gate(&ctx, "cart").await["decision"], "allow");
    // Posted as an Alertmanager client would: a page of cart, a ticket of cart, a page of search.
    let alert = |name: &str, severity: &str, service: &str| json!({"labels": {"alertname": name, "severity": severity, "service": service}});
    let alerts = json!([
        alert("DatabaseDown", "page", "cart"),
        alert("DiskFilling", "ticket", "cart"),
        alert("SearchDown", "page", "search"),
    ]);
    let r = post_json(&ctx.app, "/api/v2/alerts", &ctx.ingest, alerts).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let d = gate(&ctx, "cart").await;
    assert_eq!(d["decision"], "deny", "{d}");
    assert_eq!(rules(&d).0, ["page_alert"]);
    assert_eq!(d["reasons"][0]["alert"], "DatabaseDown");
    assert_eq!(d["reasons"][0]["slo"], Value::Null);
    // search's policy does not deny on page alerts.
    assert_eq!(gate(&ctx, "search").await["decision"], "allow");

    // Silenced, it pages no one, so it holds no release either.
    let now = ctx.clock.load(Ordering::SeqCst);
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "DatabaseDown", "isRegex": false}],
        "startsAt": Timestamp(now).to_rfc3339(), "endsAt": Timestamp(now + HOUR).to_rfc3339(),
        "createdBy": "alice", "comment": "failover drill"});
    let r = post_json(&ctx.app, "/api/v2/silences", &ctx.respond, silence).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(gate(&ctx, "cart").await["decision"], "allow");
}

#[tokio::test]
async fn a_fast_burn_denies_by_burn_rate_and_page_alert_until_it_recovers() {
    let (ctx, _path) = setup_file(CONFIG).await;
    for _ in 0..6 {
        hour_of(&ctx, "search-latency", HOUR, 1000.0, 0.0).await;
        hour_of(&ctx, "cart-availability", 0, 1000.0, 0.0).await;
    }
    assert_eq!(gate(&ctx, "search").await["decision"], "allow");
    assert_eq!(gate(&ctx, "cart").await["decision"], "allow");

    // Five minutes of 50% errors: both burn at 50x.
    for _ in 0..5 {
        hour_of(&ctx, "search-latency", MINUTE, 100.0, 50.0).await;
        hour_of(&ctx, "cart-availability", 0, 100.0, 50.0).await;
    }
    let d = gate(&ctx, "search").await;
    assert_eq!(d["decision"], "deny", "{d}");
    assert_eq!(rules(&d).0, ["max_burn_rate_1h"]);
    assert!(d["reasons"][0]["burn_rate"].as_f64().unwrap() > 2.0);
    let d = gate(&ctx, "cart").await;
    assert_eq!(d["decision"], "deny", "{d}");
    assert_eq!(rules(&d).0, ["page_alert"]);
    assert_eq!(d["reasons"][0]["alert"], "page");

    // Clean traffic every minute: the 1 h burn rate falls back under 2 and the page resolves.
    let mut search_open = None;
    let mut cart_open = None;
    for m in 1..=90 {
        hour_of(&ctx, "search-latency", MINUTE, 100.0, 0.0).await;
        hour_of(&ctx, "cart-availability", 0, 100.0, 0.0).await;
        if search_open.is_none() && gate(&ctx, "search").await["decision"] == "allow" {
            search_open = Some(m);
        }
        if cart_open.is_none() && gate(&ctx, "cart").await["decision"] == "allow" {
            cart_open = Some(m);
        }
    }
    // 250 bad events in the hour: under 2x once the hour holds 12,500 events or the burst ages
    // out of the hour, whichever comes first.
    let search_open = search_open.expect("the burn rate recovers");
    assert!(
        (50..=61).contains(&search_open),
        "search reopened after {search_open} min"
    );
    let cart_open = cart_open.expect("the page resolves");
    assert!(cart_open <= 10, "cart reopened after {cart_open} min");
}

#[tokio::test]
async fn gates_refuse_bad_requests_and_overrides_are_time_boxed_and_audited() {
    let (ctx, _path) = setup_file(CONFIG).await;
    // A service without a policy always passes, saying so; unknown services and environments
    // are refused naming them.
    let d = gate(&ctx, "docs").await;
    assert_eq!(
        (d["decision"].as_str(), rules(&d).1),
        (Some("allow"), vec!["no_policy".to_string()])
    );
    let r = get(&ctx.app, "/api/v1/gates/nope", Some(&ctx.read)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get(
        &ctx.app,
        "/api/v1/gates/checkout?environment=qa",
        Some(&ctx.read),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("\\\"qa\\\""), "{}", r.text());
    let r = get(&ctx.app, "/api/v1/gates/checkout?env=qa", Some(&ctx.read)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // No data over the window is a warning, not a silent pass.
    let d = gate(&ctx, "checkout").await;
    assert_eq!(d["decision"], "allow");
    assert_eq!(d["reasons"][0]["rule"], "no_data");
    assert_eq!(d["reasons"][0]["denies"], false);

    let now = ctx.clock.load(Ordering::SeqCst);
    let at = |ms: i64| Timestamp(now + ms).to_rfc3339();
    let post = |token: String, body: Value| {
        let app = ctx.app.clone();
        async move { post_json(&app, "/api/v1/gates/checkout/overrides", &token, body).await }
    };
    for (body, status, field) in [
        (
            json!({"environment": "production", "reason": "", "until": at(HOUR)}),
            400,
            "reason",
        ),
        (
            json!({"environment": "production", "reason": "x", "until": at(-1)}),
            400,
            "until",
        ),
        (
            json!({"environment": "production", "reason": "x", "until": at(8 * 24 * HOUR)}),
            422,
            "until",
        ),
        (
            json!({"environment": "production", "reason": "x", "until": "soon"}),
            400,
            "until",
        ),
        (
            json!({"environment": "qa", "reason": "x", "until": at(HOUR)}),
            400,
            "environment",
        ),
    ] {
        let r = post(ctx.respond.clone(), body).await;
        assert_eq!(r.status.as_u16(), status, "{}", r.text());
        assert!(r.text().contains(field), "{}", r.text());
    }
    // The ingest and read scopes cannot open a gate.
    let ok = json!({"environment": "production", "reason": "launch", "until": at(HOUR)});
    for token in [&ctx.ingest, &ctx.read] {
        assert_eq!(
            post(token.clone(), ok.clone()).await.status,
            StatusCode::FORBIDDEN
        );
    }
    let r = get(
        &ctx.app,
        "/api/v1/gates/checkout/overrides",
        Some(&ctx.read),
    )
    .await;
    assert_eq!(
        r.json()["overrides"],
        json!([]),
        "nothing refused was stored"
    );

    // Created by the respond token with it as approver; revoked by the admin, once.
    let made = post(ctx.respond.clone(), ok).await.json();
    assert_eq!(
        (made["approver"].as_str(), made["created_by"].as_str()),
        (Some("respond"), Some("respond"))
    );
    ctx.clock.fetch_add(MINUTE, Ordering::SeqCst);
    let revoke = |token: String| {
        let app = ctx.app.clone();
        let uri = format!("/api/v1/gates/checkout/overrides/{}", made["id"]);
        async move { send(&app, Method::DELETE, &uri, Some(&token), &[], "").await }
    };
    let first = revoke(ctx.admin.clone()).await.json();
    assert_eq!(first["revoked_by"], "admin");
    assert_eq!(first["revoked"], at(MINUTE));
    ctx.clock.fetch_add(MINUTE, Ordering::SeqCst);
    let again = revoke(ctx.respond.clone()).await.json();
    assert_eq!(again, first, "the first revocation stays");
    let r = get(
        &ctx.app,
        "/api/v1/gates/checkout/overrides",
        Some(&ctx.read),
    )
    .await;
    assert_eq!(r.json()["overrides"], json!([first]));
    let r = send(
        &ctx.app,
        Method::DELETE,
        "/api/v1/gates/cart/overrides/1",
        Some(&ctx.respond),
        &[],
        "",
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "an override belongs to its service"
    );
}
