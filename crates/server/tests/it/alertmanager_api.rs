//! Alertmanager's API v2 on headroom: alerts in (API and forwarded webhooks), routing through
//! the configured tree, the outbox delivering Alertmanager webhook payloads to a real HTTP
//! receiver, silences, and refusals that change nothing. Time is the test's clock: the
//! dispatch and send rounds run when the test says.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Method, StatusCode};
use headroom_notify::Client;
use headroom_service::workers::{dispatch_round, send_round};
use headroom_store::{OutboxState, OutboxStore, RoutedAlertStore};
use serde_json::{Value, json};

use crate::common::*;

/// What the test receiver saw: (path, idempotency key, body).
type Seen = Arc<Mutex<Vec<(String, String, Value)>>>;

/// A webhook receiver on a real socket answering `status` (shared, so a test can change it).
async fn receiver(status: Arc<Mutex<u16>>) -> (SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let (s, status) = (s.clone(), status.clone());
            async move {
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
                s.lock().unwrap().push((uri.path().to_string(), key, v));
                StatusCode::from_u16(*status.lock().unwrap()).unwrap()
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

fn config(addr: SocketAddr) -> String {
    format!(
        r#"
route:
  receiver: team
  group_by: [alertname]
  group_wait: 10s
  group_interval: 1m
  routes:
    - matchers: ['severity="page"']
      receiver: oncall
      group_wait: 0s
receivers:
  - name: team
    webhook_configs: [{{url: "http://{addr}/team", send_resolved: true}}]
  - name: oncall
    webhook_configs: [{{url: "http://{addr}/oncall", send_resolved: false}}]
inhibit_rules:
  - source_matchers: ['severity="page"']
    target_matchers: ['severity="ticket"']
    equal: [service]
"#
    )
}

async fn post_alerts(ctx: &Ctx, token: &str, body: Value) -> Resp {
    send(
        &ctx.app,
        Method::POST,
        "/api/v2/alerts",
        Some(token),
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await
}

/// Runs dispatch, then sends what it queued.
async fn deliver(ctx: &Ctx) -> usize {
    dispatch_round(&ctx.state).await;
    let client = Client::new(std::time::Duration::from_secs(5)).unwrap();
    send_round(&ctx.state, &client).await
}

fn advance(ctx: &Ctx, ms: i64) {
    ctx.clock.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
}

#[tokio::test]
async fn posted_alerts_are_routed_grouped_and_delivered_as_alertmanager_webhooks() {
    let (addr, seen) = receiver(Arc::new(Mutex::new(200))).await;
    let (ctx, _path) = setup_file(&config(addr)).await;

    let r = post_alerts(
        &ctx,
        &ctx.ingest,
        json!([
            {"labels": {"alertname": "Down", "severity": "page", "service": "api"},
             "annotations": {"summary": "api down"}},
            {"labels": {"alertname": "Slow", "severity": "ticket", "service": "api"}},
            {"labels": {"alertname": "Slow", "severity": "ticket", "service": "web"}},
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // group_wait 0 for pages: the page goes out in the first round; tickets wait 10 s.
    assert_eq!(deliver(&ctx).await, 1);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let (path, key, body) = &seen[0];
        assert_eq!(path, "/oncall");
        assert!(!key.is_empty(), "an idempotency key is sent");
        assert_eq!(body["version"], "4");
        assert_eq!(body["receiver"], "oncall");
        assert_eq!(body["status"], "firing");
        assert_eq!(
            body["groupKey"],
            r#"{}/{severity="page"}:{alertname="Down"}"#
        );
        assert_eq!(body["groupLabels"], json!({"alertname": "Down"}));
        assert_eq!(body["commonAnnotations"], json!({"summary": "api down"}));
        assert_eq!(body["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(body["alerts"][0]["fingerprint"].as_str().unwrap().len(), 16);
    }

    // The ticket for api is inhibited by the page for api; the one for web is not.
    advance(&ctx, 10_000);
    assert_eq!(deliver(&ctx).await, 1);
    {
        let seen = seen.lock().unwrap();
        let (path, _, body) = &seen[1];
        assert_eq!(path, "/team");
        let services: Vec<&str> = body["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["labels"]["service"].as_str().unwrap())
            .collect();
        assert_eq!(services, ["web"]);
    }

    // GET /api/v2/alerts shows the inhibition.
    let r = get(
        &ctx.app,
        "/api/v2/alerts?filter=service%3D%22api%22",
        Some(&ctx.read),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let alerts = r.json();
    let by_name = |name: &str| {
        alerts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["labels"]["alertname"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(alerts.as_array().unwrap().len(), 2);
    assert_eq!(by_name("Down")["status"]["state"], "active");
    assert_eq!(by_name("Down")["receivers"], json!([{"name": "oncall"}]));
    assert_eq!(by_name("Slow")["status"]["state"], "suppressed");
    assert_eq!(
        by_name("Slow")["status"]["inhibitedBy"][0],
        by_name("Down")["fingerprint"]
    );
    let r = get(&ctx.app, "/api/v2/alerts?inhibited=false", Some(&ctx.read)).await;
    assert_eq!(r.json().as_array().unwrap().len(), 2, "Down and web's Slow");
}

#[tokio::test]
async fn refused_batches_change_nothing() {
    let (addr, _seen) = receiver(Arc::new(Mutex::new(200))).await;
    let (ctx, _path) = setup_file(&config(addr)).await;
    let ok = json!([{"labels": {"alertname": "A"}}]);

    let r = post_alerts(&ctx, &ctx.read, ok.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &ctx.app,
        Method::POST,
        "/api/v2/alerts",
        None,
        &[],
        ok.to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    for (body, want) in [
        (
            json!([{"labels": {"alertname": "A"}}, {"labels": {"1x": "b"}}]),
            "[1]: invalid label set: invalid name \"1x\"",
        ),
        (
            json!([{"labels": {"alertname": "A"}, "startsAt": "2027-01-15T08:00:00Z", "endsAt": "2027-01-15T07:00:00Z"}]),
            "[0]: ",
        ),
        (json!({"labels": {}}), "expected a JSON array of alerts"),
    ] {
        let r = post_alerts(&ctx, &ctx.ingest, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        assert!(
            r.json()["detail"].as_str().unwrap().starts_with(want),
            "{}",
            r.text()
        );
    }
    assert!(ctx.state.store.load_alerts().await.unwrap().is_empty());
    let r = get(&ctx.app, "/api/v2/alerts", Some(&ctx.read)).await;
    assert_eq!(r.json(), json!([]));
}

#[tokio::test]
async fn failing_receivers_are_retried_and_refusals_recorded() {
    let status = Arc::new(Mutex::new(503));
    let (addr, seen) = receiver(status.clone()).await;
    let (ctx, _path) = setup_file(&config(addr)).await;
    post_alerts(
        &ctx,
        &ctx.ingest,
        json!([{"labels": {"alertname": "X", "severity": "page"}}]),
    )
    .await;

    assert_eq!(deliver(&ctx).await, 1);
    let items = ctx.state.store.list_outbox(None, 10).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].state, OutboxState::Pending);
    assert_eq!(items[0].attempts, 1);
    assert!(items[0].last_error.as_deref().unwrap().contains("503"));
    let retry_at = items[0].next_attempt_at;
    assert!(retry_at > ctx.state.now(), "backs off");

    // Recovered: the retry is delivered with the same idempotency key.
    *status.lock().unwrap() = 200;
    ctx.clock
        .store(retry_at.0, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(deliver(&ctx).await, 1);
    let item = ctx
        .state
        .store
        .get_outbox(items[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(item.state, OutboxState::Delivered);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].1, seen[1].1);
    }

    // A 4xx other than 429 is not retried: failed, with the reason.
    *status.lock().unwrap() = 400;
    advance(&ctx, 1000);
    post_alerts(
        &ctx,
        &ctx.ingest,
        json!([{"labels": {"alertname": "Y", "severity": "page"}}]),
    )
    .await;
    assert_eq!(deliver(&ctx).await, 1);
    let items = ctx
        .state
        .store
        .list_outbox(Some(OutboxState::Failed), 10)
        .await
        .unwrap();
    assert_eq!(items.len(), 1);
    assert!(items[0].last_error.as_deref().unwrap().contains("400"));
}

#[tokio::test]
async fn forwarded_alertmanager_notifications_fire_and_resolve() {
    let (addr, seen) = receiver(Arc::new(Mutex::new(200))).await;
    let (ctx, _path) = setup_file(&config(addr)).await;
    let payload = |status: &str, ends: &str| {
        json!({"version": "4", "groupKey": "{}:{alertname=\"Disk\"}", "status": status,
            "receiver": "headroom", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://am", "truncatedAlerts": 0,
            "alerts": [{"status": status, "labels": {"alertname": "Disk", "service": "db"},
                "annotations": {}, "startsAt": "2027-01-15T07:59:00Z", "endsAt": ends,
                "generatorURL": "", "fingerprint": "0000000000000000"}]})
        .to_string()
    };
    let r = send(
        &ctx.app,
        Method::POST,
        "/api/v1/integrations/alertmanager",
        Some(&ctx.ingest),
        &[],
        payload("firing", "0001-01-01T00:00:00Z"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // Still firing long after Alertmanager's resolve_timeout: the sender resolves it.
    advance(&ctx, 3_600_000);
    let alerts = get(&ctx.app, "/api/v2/alerts", Some(&ctx.read))
        .await
        .json();
    assert_eq!(alerts.as_array().unwrap().len(), 1);
    deliver(&ctx).await;
    assert_eq!(seen.lock().unwrap()[0].2["status"], "firing");

    let r = send(
        &ctx.app,
        Method::POST,
        "/api/v1/integrations/alertmanager",
        Some(&ctx.ingest),
        &[],
        payload("resolved", "2027-01-15T09:00:00Z"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        get(&ctx.app, "/api/v2/alerts", Some(&ctx.read))
            .await
            .json(),
        json!([])
    );
    advance(&ctx, 60_000);
    deliver(&ctx).await;
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].2["status"], "resolved");
    }

    let bad = send(
        &ctx.app,
        Method::POST,
        "/api/v1/integrations/alertmanager",
        Some(&ctx.ingest),
        &[],
        Body::from(r#"{"version":"4","groupKey":"k","status":"firing","alerts":[{"status":"x"}]}"#),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn silences_mute_and_follow_alertmanagers_rules() {
    let (addr, seen) = receiver(Arc::new(Mutex::new(200))).await;
    let (ctx, _path) = setup_file(&config(addr)).await;
    let silence = |extra: Value| {
        let mut s = json!({"matchers": [{"name": "service", "value": "api", "isRegex": false, "isEqual": true}],
            "startsAt": "2027-01-15T08:00:00Z", "endsAt": "2027-01-15T10:00:00Z",
            "createdBy": "alice", "comment": "deploy"});
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        s.to_string()
    };
    let r = send(
        &ctx.app,
        Method::POST,
        "/api/v2/silences",
        Some(&ctx.respond),
        &[],
        silence(json!({})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let id = r.json()["silenceID"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36);

    post_alerts(
        &ctx,
        &ctx.ingest,
        json!([{"labels": {"alertname": "Down", "severity": "page", "service": "api"}}]),
    )
    .await;
    deliver(&ctx).await;
    assert!(seen.lock().unwrap().is_empty(), "silenced");
    let alerts = get(&ctx.app, "/api/v2/alerts", Some(&ctx.read))
        .await
        .json();
    assert_eq!(alerts[0]["status"]["silencedBy"], json!([id]));

    let one = get(&ctx.app, &format!("/api/v2/silence/{id}"), Some(&ctx.read))
        .await
        .json();
    assert_eq!(one["status"]["state"], "active");
    assert_eq!(one["createdBy"], "alice");

    // A start in the past was moved to now, as Alertmanager does.
    assert_eq!(one["startsAt"], "2027-01-15T08:00:30.000Z");
    // Moving only the end of an active silence updates it in place; changing matchers replaces it.
    let r = send(
        &ctx.app,
        Method::POST,
        "/api/v2/silences",
        Some(&ctx.respond),
        &[],
        silence(json!({"id": id, "startsAt": one["startsAt"], "endsAt": "2027-01-15T11:00:00Z"})),
    )
    .await;
    assert_eq!(r.json()["silenceID"], id);
    let r = send(
        &ctx.app,
        Method::POST,
        "/api/v2/silences",
        Some(&ctx.respond),
        &[],
        silence(
            json!({"id": id, "matchers": [{"name": "service", "value": "ap.*", "isRegex": true}]}),
        ),
    )
    .await;
    let new_id = r.json()["silenceID"].as_str().unwrap().to_string();
    assert_ne!(new_id, id);
    let old = get(&ctx.app, &format!("/api/v2/silence/{id}"), Some(&ctx.read))
        .await
        .json();
    assert_eq!(old["status"]["state"], "expired");

    for (body, want) in [
        (
            silence(json!({"matchers": [{"name": "a", "value": ".*", "isRegex": true}]})),
            "at least one matcher must not match the empty string",
        ),
        (
            silence(json!({"endsAt": "2027-01-15T07:00:00Z"})),
            "end time must not be before start time",
        ),
        (silence(json!({"id": "nope"})), "silence nope not found"),
    ] {
        let r = send(
            &ctx.app,
            Method::POST,
            "/api/v2/silences",
            Some(&ctx.respond),
            &[],
            body,
        )
        .await;
        assert!(r.status.is_client_error(), "{}", r.text());
        assert_eq!(r.json()["detail"], want);
    }

    // Expiring lets the next flush through.
    let r = send(
        &ctx.app,
        Method::DELETE,
        &format!("/api/v2/silence/{new_id}"),
        Some(&ctx.respond),
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let again = send(
        &ctx.app,
        Method::DELETE,
        &format!("/api/v2/silence/{new_id}"),
        Some(&ctx.respond),
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    advance(&ctx, 60_000);
    deliver(&ctx).await;
    assert_eq!(seen.lock().unwrap().len(), 1);

    let list = get(&ctx.app, "/api/v2/silences", Some(&ctx.read))
        .await
        .json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"]["state"] == "expired")
    );
}

#[tokio::test]
async fn alert_groups_list_each_route_group_with_its_muted_alerts() {
    let (addr, _seen) = receiver(Arc::new(Mutex::new(200))).await;
    let (ctx, _path) = setup_file(&config(addr)).await;
    let r = post_alerts(
        &ctx,
        &ctx.ingest,
        json!([
            {"labels": {"alertname": "Down", "severity": "page", "service": "api"}},
            {"labels": {"alertname": "Slow", "severity": "ticket", "service": "api"}},
            {"labels": {"alertname": "Slow", "severity": "ticket", "service": "web"}},
            {"labels": {"alertname": "Gone", "service": "web"}, "endsAt": "2027-01-15T08:00:00Z"},
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let groups = get(&ctx.app, "/api/v2/alerts/groups", Some(&ctx.read))
        .await
        .json();
    // Group labels in LabelSet.Before order, then receiver; the resolved alert is left out.
    let summary: Vec<(Value, Value, Vec<Value>)> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let alerts = g["alerts"].as_array().unwrap();
            (
                g["labels"].clone(),
                g["receiver"]["name"].clone(),
                alerts
                    .iter()
                    .map(|a| a["labels"]["service"].clone())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                json!({"alertname": "Down"}),
                json!("oncall"),
                vec![json!("api")]
            ),
            (
                json!({"alertname": "Slow"}),
                json!("team"),
                vec![json!("api"), json!("web")]
            ),
        ]
    );
    let slow_api = &groups[1]["alerts"][0];
    assert_eq!(slow_api["status"]["state"], "suppressed");
    assert_eq!(
        slow_api["status"]["inhibitedBy"],
        json!([groups[0]["alerts"][0]["fingerprint"]])
    );
    assert_eq!(slow_api["receivers"], json!([{"name": "team"}]));

    // Alertmanager's filters: muted alerts out, a matcher, a receiver regex.
    let list = |q: &str| {
        let ctx = &ctx;
        let q = q.to_string();
        async move {
            let v = get(
                &ctx.app,
                &format!("/api/v2/alerts/groups{q}"),
                Some(&ctx.read),
            )
            .await
            .json();
            v.as_array()
                .unwrap()
                .iter()
                .map(|g| {
                    (
                        g["receiver"]["name"].clone(),
                        g["alerts"].as_array().unwrap().len(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list("?inhibited=false").await,
        [(json!("oncall"), 1), (json!("team"), 1)]
    );
    assert_eq!(
        list("?filter=service%3D%22web%22").await,
        [(json!("team"), 1)]
    );
    assert_eq!(list("?receiver=on.*").await, [(json!("oncall"), 1)]);
    assert_eq!(list("?active=false").await, [(json!("team"), 1)]);

    let r = get(
        &ctx.app,
        "/api/v2/alerts/groups?filter=%7Bbad",
        Some(&ctx.read),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = get(&ctx.app, "/api/v2/alerts/groups", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn config_templates_shape_notifications_and_follow_a_reload() {
    let (addr, seen) = receiver(Arc::new(Mutex::new(200))).await;
    let cfg = |subject: &str| {
        format!(
            r#"
route: {{receiver: chat, group_by: [alertname], group_wait: 0s}}
receivers:
  - name: chat
    slack_configs: [{{api_url: "http://{addr}/slack", send_resolved: true}}]
templates:
  subject: "{subject}"
  slack.text: "{{% include 'owner' %}}"
  owner: "owned by {{{{ commonLabels.team }}}}"
"#
        )
    };
    let (ctx, path) = setup_file(&cfg("{{ status | upper }} {{ groupLabels.alertname }}")).await;
    let alert = json!([{"labels": {"alertname": "Down", "team": "shop"}}]);
    post_alerts(&ctx, &ctx.ingest, alert.clone()).await;
    deliver(&ctx).await;
    {
        let seen = seen.lock().unwrap();
        let attachment = &seen[0].2["attachments"][0];
        // slack.title defaults to the subject, which the config replaced.
        assert_eq!(attachment["title"], "FIRING Down", "{attachment}");
        assert_eq!(attachment["text"], "owned by shop", "{attachment}");
    }

    // A reload brings new templates; one that does not compile is refused, keeping these.
    write(&path, &cfg("{{ status"));
    assert_eq!(reload(&ctx).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    write(&path, &cfg("now {{ status }}"));
    assert_eq!(reload(&ctx).await.status, StatusCode::OK);
    advance(&ctx, 6 * 60_000);
    post_alerts(&ctx, &ctx.ingest, json!([{"labels": {"alertname": "Down", "team": "shop"}, "endsAt": "2027-01-15T08:06:00Z"}])).await;
    deliver(&ctx).await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].2["attachments"][0]["title"], "now resolved");
}

#[tokio::test]
async fn status_and_receivers_describe_the_running_config() {
    let (addr, _seen) = receiver(Arc::new(Mutex::new(200))).await;
    let (ctx, _path) = setup_file(&config(addr)).await;
    let status = get(&ctx.app, "/api/v2/status", Some(&ctx.read))
        .await
        .json();
    assert_eq!(status["cluster"]["status"], "disabled");
    assert!(
        status["config"]["original"]
            .as_str()
            .unwrap()
            .contains("receiver: oncall")
    );
    let names = get(&ctx.app, "/api/v2/receivers", Some(&ctx.read))
        .await
        .json();
    assert_eq!(names, json!([{"name": "team"}, {"name": "oncall"}]));
}

#[tokio::test]
async fn slo_burn_alerts_are_routed_and_resolved_when_their_slo_is_removed() {
    let (addr, seen) = receiver(Arc::new(Mutex::new(200))).await;
    let slo = "slos:\n  - {name: checkout, service: shop, objective: 99, window: 7d, sli: {events: {}}}\n";
    let (ctx, path) = setup_file(&format!("{}{slo}", config(addr))).await;
    let r = push_event(&ctx, "checkout", 0.0, 1000.0).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    headroom_service::evaluate(&ctx.state, None).await;

    let alerts = get(&ctx.app, "/api/v2/alerts", Some(&ctx.read))
        .await
        .json();
    let page = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["severity"] == "page")
        .unwrap_or_else(|| panic!("a page fires: {alerts}"))
        .clone();
    assert_eq!(page["labels"]["slo"], "checkout");
    assert_eq!(page["labels"]["service"], "shop");
    assert!(
        page["generatorURL"]
            .as_str()
            .unwrap()
            .ends_with("/api/v1/slos/checkout")
    );
    deliver(&ctx).await;
    {
        let seen = seen.lock().unwrap();
        let (path, _, body) = &seen[0];
        assert_eq!(path, "/oncall");
        assert_eq!(body["alerts"][0]["labels"]["slo"], "checkout");
    }

    // The SLO leaves the config: its alerts resolve rather than fire forever.
    write(&path, &config(addr));
    assert_eq!(reload(&ctx).await.status, StatusCode::OK);
    let alerts = get(&ctx.app, "/api/v2/alerts", Some(&ctx.read))
        .await
        .json();
    assert_eq!(alerts, json!([]), "{alerts}");
}
