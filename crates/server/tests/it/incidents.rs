//! Incidents over HTTP on a controlled clock: the response's life (declare, acknowledge, status
//! moves, resolve) with its timeline and response times, refusals that change nothing, scopes,
//! policies opening and joining incidents from posted alerts and headroom's own burn alerts,
//! MTTA/MTTR over a range, and the postmortem with the budget an SLO lost during the impact.

use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use headroom_service::evaluate;
use serde_json::{Value, json};

use crate::common::*;

const CONFIG: &str = r#"
services:
  - name: checkout
    labels: {team: payments}
  - name: search
    labels: {team: discovery}
slos:
  - name: checkout-availability
    service: checkout
    objective: 99
    window: 30d
    sli:
      events: {}
incident_policies:
  - name: pages
    matchers: ['severity="page"']
    severity: SEV2
    title: "{{alertname}} on {{service}}"
    group_by: [service]
"#;

const MINUTE: i64 = 60_000;

fn set_clock(ctx: &Ctx, ms: i64) {
    ctx.clock.store(ms, Ordering::SeqCst);
}

fn advance(ctx: &Ctx, ms: i64) {
    ctx.clock.fetch_add(ms, Ordering::SeqCst);
}

fn rfc3339(ms: i64) -> String {
    headroom_core::Timestamp(ms).to_rfc3339()
}

async fn declare(ctx: &Ctx, body: Value) -> Value {
    let r = post(ctx, &ctx.respond, "/api/v1/incidents", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()
}

/// `POST /api/v1/incidents/{id}/{op}`, expected to succeed.
async fn op(ctx: &Ctx, id: i64, op: &str, body: Value) -> Value {
    let r = post(
        ctx,
        &ctx.respond,
        &format!("/api/v1/incidents/{id}/{op}"),
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{op}: {}", r.text());
    r.json()
}

async fn incident(ctx: &Ctx, id: i64) -> Value {
    let r = get(
        &ctx.app,
        &format!("/api/v1/incidents/{id}"),
        Some(&ctx.read),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

async fn open_incidents(ctx: &Ctx) -> Vec<Value> {
    let r = get(&ctx.app, "/api/v1/incidents", Some(&ctx.read)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["incidents"].as_array().unwrap().clone()
}

fn types(incident: &Value) -> Vec<String> {
    incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

async fn post_alerts(ctx: &Ctx, alerts: Value) {
    let r = post(ctx, &ctx.ingest, "/api/v2/alerts", alerts).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn declare_acknowledge_move_and_resolve_with_a_timeline_in_order() {
    let (ctx, _path) = setup_file(CONFIG).await;
    let v = declare(
        &ctx,
        json!({"title": "Checkout errors", "severity": "sev2", "services": ["checkout"],
               "slos": ["checkout-availability"], "commander": "alice"}),
    )
    .await;
    let id = v["id"].as_i64().unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["status"], "triggered");
    assert_eq!(v["severity"], "SEV2");
    assert_eq!(v["opened_at"], rfc3339(NOW));
    assert_eq!(
        v["started_at"],
        rfc3339(NOW),
        "impact starts at the declaration by default"
    );
    assert_eq!(v["roles"]["commander"], "alice");
    assert_eq!(types(&v), ["declared", "role_assigned"]);
    assert_eq!(
        v["timeline"][0]["actor"], "respond",
        "the actor is the token's name"
    );

    advance(&ctx, 2 * MINUTE);
    let v = op(&ctx, id, "acknowledge", json!({})).await;
    assert_eq!(v["status"], "acknowledged");
    assert_eq!(v["time_to_acknowledge_seconds"], 120.0);
    assert_eq!(v["version"], 2);

    advance(&ctx, MINUTE);
    op(&ctx, id, "status", json!({"status": "investigating"})).await;
    advance(&ctx, MINUTE);
    let v = op(&ctx, id, "status", json!({"status": "identified"})).await;
    assert_eq!(v["version"], 4);

    // Refused moves change nothing, not even the version.
    let r = post(
        &ctx,
        &ctx.respond,
        &format!("/api/v1/incidents/{id}/status"),
        json!({"status": "triggered"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(r.json()["error"], "conflict");
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("cannot move from identified to triggered"),
        "{}",
        r.text()
    );
    let r = post(
        &ctx,
        &ctx.respond,
        &format!("/api/v1/incidents/{id}/acknowledge"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.json()["detail"],
        "already acknowledged (status is identified)"
    );
    let r = post(
        &ctx,
        &ctx.respond,
        &format!("/api/v1/incidents/{id}/roles"),
        json!({"role": "commander", "user": "alice"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let unchanged = incident(&ctx, id).await;
    assert_eq!(unchanged["version"], 4);
    assert_eq!(unchanged["status"], "identified");
    assert_eq!(unchanged["timeline"].as_array().unwrap().len(), 5);

    op(
        &ctx,
        id,
        "notes",
        json!({"text": "rolled back deploy 1234"}),
    )
    .await;
    op(&ctx, id, "severity", json!({"severity": "SEV1"})).await;
    op(&ctx, id, "roles", json!({"role": "scribe", "user": "bob"})).await;
    advance(&ctx, 6 * MINUTE);
    let v = op(&ctx, id, "resolve", json!({})).await;
    assert_eq!(v["status"], "resolved");
    assert_eq!(v["severity"], "SEV1");
    assert_eq!(v["roles"]["scribe"], "bob");
    assert_eq!(v["resolved_at"], rfc3339(NOW + 10 * MINUTE));
    assert_eq!(v["time_to_acknowledge_seconds"], 120.0);
    assert_eq!(v["time_to_resolve_seconds"], 600.0);
    assert_eq!(v["version"], 8);

    let v = incident(&ctx, id).await;
    assert_eq!(
        types(&v),
        [
            "declared",
            "role_assigned",
            "acknowledged",
            "status_changed",
            "status_changed",
            "note",
            "severity_changed",
            "role_assigned",
            "status_changed",
        ]
    );
    let times: Vec<&str> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_str().unwrap())
        .collect();
    assert_eq!(times[2], rfc3339(NOW + 2 * MINUTE));
    assert_eq!(times[4], rfc3339(NOW + 4 * MINUTE));
    assert_eq!(times[8], rfc3339(NOW + 10 * MINUTE));
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(v["timeline"][4]["from"], "investigating");
    assert_eq!(v["timeline"][4]["to"], "identified");
    assert_eq!(v["timeline"][5]["text"], "rolled back deploy 1234");
    assert_eq!(v["timeline"][8]["text"], "Status identified → resolved");

    // Resolved: not listed as open; listed with `all`, without its timeline.
    assert!(open_incidents(&ctx).await.is_empty());
    let all = get(&ctx.app, "/api/v1/incidents?status=all", Some(&ctx.read))
        .await
        .json();
    assert_eq!(all["incidents"].as_array().unwrap().len(), 1);
    assert_eq!(all["incidents"][0]["id"], id);
    assert!(all["incidents"][0].get("timeline").is_none());

    // Action items: added, changed, refused when they change nothing or do not exist.
    let r = post(
        &ctx,
        &ctx.respond,
        &format!("/api/v1/incidents/{id}/action-items"),
        json!({"text": "Alert on the deploy error rate", "owner": "carol", "due": "2027-02-01"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let item = &r.json()["action_items"][0];
    assert_eq!(item["id"], 1);
    assert_eq!(item["status"], "open");
    assert_eq!(item["due"], "2027-02-01T00:00:00Z");
    let patch = |n: u32, body: Value| {
        let app = ctx.app.clone();
        let token = ctx.respond.clone();
        async move {
            send(
                &app,
                Method::PATCH,
                &format!("/api/v1/incidents/{id}/action-items/{n}"),
                Some(&token),
                &[],
                body.to_string(),
            )
            .await
        }
    };
    let r = patch(1, json!({"status": "done", "owner": null})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let item = &r.json()["action_items"][0];
    assert_eq!(item["status"], "done");
    assert_eq!(item["owner"], Value::Null);
    assert_eq!(
        item["text"], "Alert on the deploy error rate",
        "absent fields stay"
    );
    let r = patch(1, json!({"status": "done"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = patch(9, json!({"status": "done"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["detail"], "no action item 9");
    let r = patch(1, json!({"status": "closed"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(incident(&ctx, id).await["version"], 10);
}

#[tokio::test]
async fn a_read_token_cannot_write() {
    let (ctx, _path) = setup_file(CONFIG).await;
    let body = json!({"title": "t", "severity": "SEV3"});
    let r = post(&ctx, &ctx.read, "/api/v1/incidents", body.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("needs respond"),
        "{}",
        r.text()
    );
    let r = send(
        &ctx.app,
        Method::POST,
        "/api/v1/incidents",
        None,
        &[],
        body.to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = get(&ctx.app, "/api/v1/incidents", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "anonymous_read is off");

    let id = declare(&ctx, body).await["id"].as_i64().unwrap();
    for (uri, body) in [
        ("acknowledge", json!({})),
        ("notes", json!({"text": "x"})),
        ("resolve", json!({})),
        ("status", json!({"bogus": 1})),
    ] {
        let r = post(
            &ctx,
            &ctx.read,
            &format!("/api/v1/incidents/{id}/{uri}"),
            body,
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
    }
    let v = incident(&ctx, id).await;
    assert_eq!(v["version"], 1);
    assert_eq!(v["status"], "triggered");
    // The admin scope includes ingest; its name is the actor.
    let r = post(
        &ctx,
        &ctx.admin,
        &format!("/api/v1/incidents/{id}/acknowledge"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["timeline"][1]["actor"], "admin");
}

#[tokio::test]
async fn missing_incidents_and_malformed_requests() {
    let (ctx, _path) = setup_file(CONFIG).await;
    let r = get(&ctx.app, "/api/v1/incidents/99", Some(&ctx.read)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.json(),
        json!({"error": "not_found", "detail": "no incident 99"})
    );
    let r = post(
        &ctx,
        &ctx.respond,
        "/api/v1/incidents/99/acknowledge",
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get(
        &ctx.app,
        "/api/v1/incidents/abc/postmortem",
        Some(&ctx.read),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["detail"], "incident id \"abc\" is not a number");

    for (body, status, want) in [
        (
            json!({"title": "t", "severity": "SEV5"}),
            StatusCode::BAD_REQUEST,
            "unknown severity \"SEV5\" (expected one of SEV1, SEV2, SEV3, SEV4)",
        ),
        (
            json!({"title": "  ", "severity": "SEV1"}),
            StatusCode::BAD_REQUEST,
            "title must not be empty",
        ),
        (
            json!({"severity": "SEV1"}),
            StatusCode::BAD_REQUEST,
            "body: missing field `title`",
        ),
        (
            json!({"title": "t", "severity": "SEV1", "slos": ["nope"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no SLO \"nope\"",
        ),
        (
            json!({"title": "t", "severity": "SEV1", "services": ["a", "a"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "service \"a\" is already listed",
        ),
        (
            json!({"title": "t", "severity": "SEV1", "started_at": "yesterday"}),
            StatusCode::BAD_REQUEST,
            "started_at: ",
        ),
    ] {
        let r = post(&ctx, &ctx.respond, "/api/v1/incidents", body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert!(
            r.json()["detail"].as_str().unwrap().starts_with(want),
            "{body}: {}",
            r.text()
        );
    }
    let r = send(
        &ctx.app,
        Method::POST,
        "/api/v1/incidents",
        Some(&ctx.respond),
        &[],
        Body::from("{"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        open_incidents(&ctx).await.is_empty(),
        "nothing refused was stored"
    );

    let id = declare(&ctx, json!({"title": "t", "severity": "SEV3"})).await["id"]
        .as_i64()
        .unwrap();
    for (path, body, want) in [
        (
            "status",
            json!({"status": "done"}),
            "unknown status \"done\"",
        ),
        (
            "severity",
            json!({"severity": "high"}),
            "unknown severity \"high\"",
        ),
        (
            "roles",
            json!({"role": "boss", "user": "x"}),
            "unknown role \"boss\"",
        ),
        ("notes", json!({"text": ""}), "note must not be empty"),
        ("notes", json!({"txt": "x"}), "body: unknown field `txt`"),
    ] {
        let r = post(
            &ctx,
            &ctx.respond,
            &format!("/api/v1/incidents/{id}/{path}"),
            body,
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.text());
        assert!(
            r.json()["detail"].as_str().unwrap().starts_with(want),
            "{path}: {}",
            r.text()
        );
    }
    assert_eq!(incident(&ctx, id).await["version"], 1);
    let r = get(&ctx.app, "/api/v1/incidents?status=closed", Some(&ctx.read)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = get(
        &ctx.app,
        "/api/v1/incidents/metrics?from=1800000100&to=1800000000",
        Some(&ctx.read),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["detail"], "from must be before to");
}

#[tokio::test]
async fn policies_open_incidents_from_alerts_and_join_later_ones() {
    let (ctx, _path) = setup_file(CONFIG).await;
    let started = rfc3339(NOW - 2 * MINUTE);
    post_alerts(
        &ctx,
        json!([{"labels": {"alertname": "CheckoutDown", "severity": "page", "service": "checkout"},
                "startsAt": started}]),
    )
    .await;
    let open = open_incidents(&ctx).await;
    assert_eq!(open.len(), 1);
    let id = open[0]["id"].as_i64().unwrap();
    let v = incident(&ctx, id).await;
    assert_eq!(v["title"], "CheckoutDown on checkout");
    assert_eq!(v["severity"], "SEV2");
    assert_eq!(v["services"], json!(["checkout"]));
    assert_eq!(
        v["started_at"], started,
        "the impact started when the alert did"
    );
    assert_eq!(v["opened_at"], rfc3339(NOW));
    assert_eq!(
        types(&v),
        ["alert", "declared"],
        "the alert fired before the declaration"
    );
    assert_eq!(v["timeline"][1]["actor"], "policy:pages");
    assert_eq!(
        v["timeline"][0]["text"],
        "Alert CheckoutDown fired (service=checkout, severity=page)"
    );

    // Another page for checkout joins; a ticket is ignored; a page for search opens its own.
    advance(&ctx, MINUTE);
    post_alerts(
        &ctx,
        json!([
            {"labels": {"alertname": "CheckoutSlow", "severity": "page", "service": "checkout"}},
            {"labels": {"alertname": "CheckoutSlow", "severity": "ticket", "service": "checkout"}},
            {"labels": {"alertname": "SearchDown", "severity": "page", "service": "search"}},
        ]),
    )
    .await;
    let open = open_incidents(&ctx).await;
    assert_eq!(open.len(), 2);
    let v = incident(&ctx, id).await;
    assert_eq!(types(&v), ["alert", "declared", "alert"]);
    assert_eq!(v["alerts"].as_array().unwrap().len(), 2);
    assert_eq!(v["alerts"][1]["labels"]["alertname"], "CheckoutSlow");
    assert_eq!(v["timeline"][2]["at"], rfc3339(NOW + MINUTE));
    let search = open.iter().find(|i| i["id"] != id).unwrap();
    assert_eq!(search["title"], "SearchDown on search");

    // A repeat of a linked alert changes nothing.
    let version = v["version"].clone();
    post_alerts(&ctx, json!([{"labels": {"alertname": "CheckoutSlow", "severity": "page", "service": "checkout"}}])).await;
    assert_eq!(incident(&ctx, id).await["version"], version);

    // headroom's own burn alert for an SLO of checkout joins too, adding the SLO.
    advance(&ctx, MINUTE);
    let r = push(
        &ctx,
        "checkout-availability",
        json!({"events": [event((NOW + 2 * MINUTE) / 1000, 50.0, 100.0)]}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    evaluate(&ctx.state, None).await;
    let v = incident(&ctx, id).await;
    assert_eq!(v["slos"], json!(["checkout-availability"]));
    let own: Vec<&Value> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["labels"]["slo"] == "checkout-availability")
        .collect();
    assert_eq!(own.len(), 1, "the page joined, the ticket did not: {v}");
    assert_eq!(own[0]["labels"]["severity"], "page");
    assert_eq!(open_incidents(&ctx).await.len(), 2);

    // A resolved alert is noted on its incident once, and the incident stays open.
    advance(&ctx, MINUTE);
    let resolved = json!([{"labels": {"alertname": "CheckoutDown", "severity": "page", "service": "checkout"},
                           "startsAt": started, "endsAt": rfc3339(NOW + 3 * MINUTE)}]);
    post_alerts(&ctx, resolved.clone()).await;
    post_alerts(&ctx, resolved).await;
    let v = incident(&ctx, id).await;
    let notes: Vec<&Value> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "note")
        .collect();
    assert_eq!(notes.len(), 1, "{v}");
    assert_eq!(
        notes[0]["text"],
        "Alert CheckoutDown resolved (service=checkout, severity=page)"
    );
    assert_eq!(notes[0]["at"], rfc3339(NOW + 3 * MINUTE));
    assert_eq!(v["status"], "triggered");
}

#[tokio::test]
async fn mtta_and_mttr_over_a_range_by_service_and_team() {
    let (ctx, _path) = setup_file(CONFIG).await;
    let at = |ctx: &Ctx, secs: i64| set_clock(ctx, NOW + secs * 1000);
    let new = |service: &str| json!({"title": format!("{service} trouble"), "severity": "SEV3", "services": [service]});
    // A (checkout): acknowledged after 60 s, resolved after 600 s.
    let a = declare(&ctx, new("checkout")).await["id"].as_i64().unwrap();
    at(&ctx, 60);
    op(&ctx, a, "acknowledge", json!({})).await;
    at(&ctx, 600);
    op(&ctx, a, "resolve", json!({})).await;
    // B (search), opened at 600 s: acknowledged after 180 s, resolved after 1800 s.
    let b = declare(&ctx, new("search")).await["id"].as_i64().unwrap();
    at(&ctx, 780);
    op(&ctx, b, "status", json!({"status": "investigating"})).await;
    // C (checkout), opened at 1200 s: acknowledged after 120 s, never resolved.
    at(&ctx, 1200);
    let c = declare(&ctx, new("checkout")).await["id"].as_i64().unwrap();
    at(&ctx, 1320);
    op(&ctx, c, "acknowledge", json!({})).await;
    at(&ctx, 2400);
    op(&ctx, b, "resolve", json!({})).await;
    // D (checkout), opened at 7200 s: outside the first hour.
    at(&ctx, 7200);
    let d = declare(&ctx, new("checkout")).await["id"].as_i64().unwrap();
    at(&ctx, 7230);
    op(&ctx, d, "acknowledge", json!({})).await;

    let from = NOW / 1000;
    let metrics = |query: String| {
        let app = ctx.app.clone();
        let token = ctx.read.clone();
        async move {
            let r = get(
                &app,
                &format!("/api/v1/incidents/metrics?{query}"),
                Some(&token),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            r.json()
        }
    };
    let hour = format!("from={from}&to={}", from + 3600);
    let m = metrics(hour.clone()).await;
    // MTTA (60 + 180 + 120) / 3 = 120; MTTR (600 + 1800) / 2 = 1200, C excluded.
    assert_eq!(
        m["mtta"],
        json!({"seconds": 120.0, "counted": 3, "excluded": 0})
    );
    assert_eq!(
        m["mttr"],
        json!({"seconds": 1200.0, "counted": 2, "excluded": 1})
    );
    assert_eq!(m["from"], rfc3339(NOW));

    let m = metrics(format!("{hour}&service=checkout")).await;
    assert_eq!(
        m["mtta"],
        json!({"seconds": 90.0, "counted": 2, "excluded": 0})
    );
    assert_eq!(
        m["mttr"],
        json!({"seconds": 600.0, "counted": 1, "excluded": 1})
    );

    let m = metrics(format!("{hour}&team=discovery")).await;
    assert_eq!(m["team_services"], json!(["search"]));
    assert_eq!(
        m["mtta"],
        json!({"seconds": 180.0, "counted": 1, "excluded": 0})
    );
    assert_eq!(
        m["mttr"],
        json!({"seconds": 1800.0, "counted": 1, "excluded": 0})
    );

    // The next two hours hold only D: acknowledged after 30 s, still open.
    let m = metrics(format!("from={}&to={}", from + 3600, from + 3 * 3600)).await;
    assert_eq!(
        m["mtta"],
        json!({"seconds": 30.0, "counted": 1, "excluded": 0})
    );
    assert_eq!(
        m["mttr"],
        json!({"seconds": null, "counted": 0, "excluded": 1})
    );

    // The default range is the 30 days before now: all four.
    let m = metrics(String::new()).await;
    assert_eq!(m["mtta"]["counted"], 4);
}

#[tokio::test]
async fn postmortem_shows_impact_budget_detection_and_timeline() {
    let (ctx, _path) = setup_file(CONFIG).await;
    // Before the incident: 900 good events of 900.
    assert_eq!(
        push_event(&ctx, "checkout-availability", 900.0, 900.0)
            .await
            .status,
        StatusCode::OK
    );

    // A page that started at T0+5m reaches headroom at T0+6m and opens an incident.
    set_clock(&ctx, T0 + 6 * MINUTE);
    post_alerts(
        &ctx,
        json!([{"labels": {"alertname": "CheckoutErrors", "severity": "page", "service": "checkout",
                           "slo": "checkout-availability"},
                "startsAt": rfc3339(T0 + 5 * MINUTE)}]),
    )
    .await;
    let id = open_incidents(&ctx).await[0]["id"].as_i64().unwrap();
    // During it: 5 bad events of 100.
    set_clock(&ctx, T0 + 7 * MINUTE);
    let r = push(
        &ctx,
        "checkout-availability",
        json!({"events": [event(T0 / 1000 + 6 * 60 + 30, 95.0, 100.0)]}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // The investigation finds the impact began at T0+4m.
    let v = op(
        &ctx,
        id,
        "impact-start",
        json!({"started_at": rfc3339(T0 + 4 * MINUTE)}),
    )
    .await;
    assert_eq!(v["started_at"], rfc3339(T0 + 4 * MINUTE));
    set_clock(&ctx, T0 + 8 * MINUTE);
    op(&ctx, id, "acknowledge", json!({})).await;
    op(
        &ctx,
        id,
        "notes",
        json!({"text": "error rate | 5% after deploy"}),
    )
    .await;
    set_clock(&ctx, T0 + 10 * MINUTE);
    op(&ctx, id, "resolve", json!({})).await;
    // After the resolution: bad events that are not the incident's.
    set_clock(&ctx, T0 + 12 * MINUTE);
    push(
        &ctx,
        "checkout-availability",
        json!({"events": [event(T0 / 1000 + 11 * 60 + 30, 0.0, 10.0)]}),
        None,
    )
    .await;

    let r = get(
        &ctx.app,
        &format!("/api/v1/incidents/{id}/postmortem"),
        Some(&ctx.read),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    let md = r.text();
    assert!(
        md.starts_with("# Postmortem: CheckoutErrors on checkout\n"),
        "{md}"
    );
    // Impact from T0+4m to the resolution at T0+10m.
    assert!(
        md.contains("- **Duration:** 6m (from the impact start to the resolution)"),
        "{md}"
    );
    assert!(
        md.contains("- **Time to resolve:** 4m after declaration"),
        "{md}"
    );
    // 5 bad events during the impact, of a budget of 1% of the 1,000 events in the SLO window
    // ending at the resolution (the 10 after it are outside both): 5 / 10.
    assert!(md.contains("| checkout-availability | 50.0% |"), "{md}");
    assert!(
        md.contains("- **Detection delay:** fired 1m after the impact start"),
        "{md}"
    );
    assert!(
        md.contains("- **Declared:** 2m after the impact start"),
        "{md}"
    );
    assert!(
        md.contains("- **Time to acknowledge:** 2m after declaration"),
        "{md}"
    );
    let rows = [
        "| 2027-01-15 08:05:00 | policy:pages | Alert CheckoutErrors fired (service=checkout, severity=page, slo=checkout-availability) |",
        "| 2027-01-15 08:06:00 | policy:pages | Declared SEV2: CheckoutErrors on checkout |",
        "| 2027-01-15 08:07:00 | respond | Impact start 2027-01-15T08:05:00Z → 2027-01-15T08:04:00Z |",
        "| 2027-01-15 08:08:00 | respond | Acknowledged |",
        "| 2027-01-15 08:08:00 | respond | error rate \\| 5% after deploy |",
        "| 2027-01-15 08:10:00 | respond | Status acknowledged → resolved |",
    ];
    let mut at = 0;
    for row in rows {
        let found = md[at..]
            .find(row)
            .unwrap_or_else(|| panic!("{row} not after byte {at} in\n{md}"));
        at += found + row.len();
    }
}
