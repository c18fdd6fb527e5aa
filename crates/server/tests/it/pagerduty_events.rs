//! PagerDuty's Events API v2 on headroom, driven by PagerDuty's own Python client (PyPI
//! `pagerduty`, installed by .ci/run) with its base URL pointed at headroom: trigger,
//! acknowledge and resolve by dedup key, generated keys, PagerDuty's error and throttle answers.

use std::net::SocketAddr;
use std::process::Command;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::*;

const KEY: &str = "0123456789abcdef0123456789abcdef";

/// Serves the app over HTTPS (the client refuses plain HTTP) with a certificate made now;
/// returns the address and the certificate's PEM file, which the client trusts.
async fn serve(ctx: &Ctx) -> (SocketAddr, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = ctx._dir.path();
    let (cert_file, key_file) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    let acceptor = headroom_server::tls::acceptor(&cert_file, &key_file).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(headroom_server::listener::serve(
        listener,
        Some(acceptor),
        ctx.app.clone(),
        Default::default(),
        std::future::pending(),
    ));
    (addr, cert_file.display().to_string())
}

async fn setup() -> Ctx {
    let hash = hex::encode(Sha256::digest(KEY.as_bytes()));
    let (ctx, _) = setup_file(&format!(
        "integrations:\n  - name: cron\n    pagerduty_events: {{routing_key_sha256: {hash}}}\n    service: billing\n    labels: {{team: money}}\n"
    ))
    .await;
    ctx
}

/// Runs `code` with `c`, a client for headroom at `addr` trusting `ca`, and returns what it
/// printed.
async fn python(server: &(SocketAddr, String), key: &str, code: &str) -> (bool, String) {
    let (addr, ca) = server;
    let script = format!(
        "import pagerduty, ssl\nc = pagerduty.EventsApiV2Client({key:?}, base_url='https://localhost:{}', verify=ssl.create_default_context(cafile={ca:?}))\n{code}\n",
        addr.port()
    );
    let out =
        tokio::task::spawn_blocking(move || Command::new("python3").arg("-c").arg(script).output())
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("python3 is needed: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'pagerduty'"),
        "this test needs PagerDuty's Python client: pip install pagerduty"
    );
    (
        out.status.success(),
        format!("{}{stderr}", String::from_utf8_lossy(&out.stdout)),
    )
}

async fn firing(ctx: &Ctx) -> Vec<Value> {
    get(&ctx.app, "/api/v2/alerts", Some(&ctx.read))
        .await
        .json()
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn the_official_client_triggers_and_resolves_through_headroom() {
    let ctx = setup().await;
    let addr = serve(&ctx).await;

    let (ok, out) = python(
        &addr,
        KEY,
        "print(c.trigger('Disk full on db-1', 'db-1', severity='critical', dedup_key='disk-1', custom_details={'free': '0%'}, links=[{'href': 'https://runbook', 'text': 'Runbook'}]))",
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "disk-1");
    let alerts = firing(&ctx).await;
    assert_eq!(alerts.len(), 1);
    let labels = &alerts[0]["labels"];
    assert_eq!(labels["dedup_key"], "disk-1");
    assert_eq!(labels["severity"], "critical");
    assert_eq!(labels["source"], "db-1");
    assert_eq!(labels["service"], "billing");
    assert_eq!(labels["team"], "money");
    assert_eq!(alerts[0]["annotations"]["summary"], "Disk full on db-1");
    assert_eq!(
        alerts[0]["annotations"]["custom_details"],
        r#"{"free":"0%"}"#
    );
    assert_eq!(
        alerts[0]["annotations"]["link_0"],
        "Runbook <https://runbook>"
    );

    // A trigger without a key gets one generated and returned.
    let (ok, out) = python(&addr, KEY, "print(c.trigger('CPU hot', 'web-2'))").await;
    assert!(ok, "{out}");
    let generated = out.trim().to_string();
    assert_eq!(generated.len(), 32);
    assert_eq!(firing(&ctx).await.len(), 2);

    // Acknowledging keeps it firing; resolving ends it.
    let (ok, out) = python(&addr, KEY, "print(c.acknowledge('disk-1'))").await;
    assert!(ok, "{out}");
    assert_eq!(firing(&ctx).await.len(), 2);
    let (ok, out) = python(&addr, KEY, "print(c.resolve('disk-1'))").await;
    assert!(ok, "{out}");
    let left = firing(&ctx).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["labels"]["dedup_key"], generated);

    // A wrong routing key is PagerDuty's 400, which the client raises.
    let (ok, out) = python(
        &addr,
        "ffffffffffffffffffffffffffffffff",
        "c.trigger('x', 'y')",
    )
    .await;
    assert!(!ok);
    assert!(out.contains("400"), "{out}");
    assert_eq!(firing(&ctx).await.len(), 1, "nothing changed");
}

#[tokio::test]
async fn invalid_events_get_pagerdutys_errors_and_change_nothing() {
    let ctx = setup().await;
    let post = |body: Value| {
        let app = ctx.app.clone();
        async move {
            send(
                &app,
                Method::POST,
                "/v2/enqueue",
                None,
                &[],
                body.to_string(),
            )
            .await
        }
    };
    let r = post(json!({"routing_key": KEY, "event_action": "trigger", "payload": {"summary": "s", "source": "x", "severity": "fatal"}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json(),
        json!({"status": "invalid event", "message": "Event object is invalid",
            "errors": ["'payload.severity' is invalid (\"fatal\"; must be one of critical, error, warning, info)"]})
    );
    let r = post(
        json!({"routing_key": KEY.replace('0', "1"), "event_action": "resolve", "dedup_key": "k"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["errors"], json!(["Invalid routing key"]));
    assert!(firing(&ctx).await.is_empty());

    // The sustained rate is PagerDuty's 120 a minute per integration: the 121st at once is a 429.
    for i in 0..120 {
        let r = post(
            json!({"routing_key": KEY, "event_action": "resolve", "dedup_key": format!("k{i}")}),
        )
        .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    }
    let r = post(json!({"routing_key": KEY, "event_action": "resolve", "dedup_key": "k"})).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.json()["status"], "throttle event");
    // Half a minute later the bucket holds 60 again.
    ctx.clock
        .fetch_add(30_000, std::sync::atomic::Ordering::SeqCst);
    let r = post(json!({"routing_key": KEY, "event_action": "resolve", "dedup_key": "k"})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn an_acknowledge_event_acknowledges_the_page() {
    let hash = hex::encode(Sha256::digest(KEY.as_bytes()));
    let (ctx, _) = setup_file(&format!(
        r#"
integrations:
  - {{name: cron, pagerduty_events: {{routing_key_sha256: {hash}}}}}
route: {{receiver: oncall, group_wait: 0s}}
receivers:
  - {{name: oncall, escalation_policy: urgent}}
users:
  - {{id: ann, name: Ann, email: ann@example.com}}
schedules:
  - id: primary
    time_zone: UTC
    layers: [{{users: [ann], turn: weekly, rotation_start: "2026-01-05T09:00"}}]
escalation_policies:
  - {{id: urgent, levels: [{{delay: 10m, targets: [{{schedule: primary}}]}}]}}
"#
    ))
    .await;
    let event = |action: &str| {
        json!({"routing_key": KEY, "event_action": action, "dedup_key": "disk-1",
            "payload": {"summary": "Disk full", "source": "db-1", "severity": "critical"}})
        .to_string()
    };
    let r = send(
        &ctx.app,
        Method::POST,
        "/v2/enqueue",
        None,
        &[],
        event("trigger"),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    headroom_service::workers::dispatch_round(&ctx.state).await;
    let open = get(&ctx.app, "/api/v1/escalations?open=true", Some(&ctx.read))
        .await
        .json();
    let list = open
        .as_array()
        .or_else(|| open["escalations"].as_array())
        .unwrap()
        .clone();
    assert_eq!(list.len(), 1, "{open}");
    assert_eq!(list[0]["state"], "triggered");

    let r = send(
        &ctx.app,
        Method::POST,
        "/v2/enqueue",
        None,
        &[],
        event("acknowledge"),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let id = list[0]["id"].as_str().unwrap();
    let one = get(
        &ctx.app,
        &format!("/api/v1/escalations/{id}"),
        Some(&ctx.read),
    )
    .await
    .json();
    assert_eq!(one["state"], "acknowledged", "{one}");
    assert_eq!(one["acknowledged_by"], "pagerduty:cron");
}
