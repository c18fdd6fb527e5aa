//! The bounds on what clients can make the server hold or send: each is refused with its own
//! status and message, and a refused request stores nothing.

use crate::common::*;
use axum::body::Body;
use axum::http::{Method, StatusCode};
use headroom_service::limits::*;
use headroom_service::workers::dispatch_round;
use headroom_store::{
    IncidentStore, IncidentUpdate, OutboxStore, OverrideStore, RoutedAlertStore, ScheduleOverride,
    SilenceRecord, SilenceStore, UpdateOutcome,
};
use serde_json::{Value, json};

/// A receiver that is never reached (the outbox is inspected, nothing is sent) and a schedule.
const CONFIG: &str = r#"
route:
  receiver: team
  group_by: [alertname]
  group_wait: 0s
receivers:
  - name: team
    webhook_configs: [{url: "http://127.0.0.1:1/team"}]
users: [{id: alice, name: Alice, email: alice@example.com}]
schedules:
  - id: primary
    time_zone: UTC
    layers: [{users: [alice], turn: weekly, rotation_start: "2026-01-05T09:00"}]
integrations:
  - name: cron
    pagerduty_events: {routing_key_sha256: 3eb1bd439947eb762998e566ccc2e099c791118b2f40579cc4f7da2b5061b7f9}
"#;

async fn stored_alerts(ctx: &Ctx) -> usize {
    ctx.state.store.load_alerts().await.unwrap().len()
}

fn alert(name: &str, instance: usize) -> Value {
    json!({"labels": {"alertname": name, "instance": format!("i{instance}")}})
}

fn assert_refused(r: &Resp, status: StatusCode, says: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let detail = r.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains(says), "{detail}");
    assert!(detail.contains("nothing was stored"), "{detail}");
}

#[tokio::test]
async fn oversized_alerts_are_refused_whole() {
    let (ctx, _path) = setup_file(CONFIG).await;
    let too_many: Vec<Value> = (0..=MAX_ALERTS_PER_REQUEST)
        .map(|i| alert("A", i))
        .collect();
    let r = post(&ctx, &ctx.ingest, "/api/v2/alerts", json!(too_many)).await;
    assert_refused(
        &r,
        StatusCode::PAYLOAD_TOO_LARGE,
        "10001 alerts in one request",
    );

    let labels: serde_json::Map<String, Value> = (0..=MAX_LABELS_PER_ALERT)
        .map(|i| (format!("l{i}"), json!("v")))
        .collect();
    let long_value = "v".repeat(MAX_LABEL_VALUE_BYTES + 1);
    let long_name = "n".repeat(MAX_LABEL_NAME_BYTES + 1);
    let big_annotation = "a".repeat(MAX_ANNOTATION_BYTES);
    for (bad, says) in [
        (
            json!({"labels": labels}),
            "labels, more than the limit of 128",
        ),
        (
            json!({"labels": {"alertname": "A", "x": long_value}}),
            "label \"x\" is 4097 bytes",
        ),
        (
            json!({"labels": {"alertname": "A", long_name: "v"}}),
            "a label name is 257 bytes",
        ),
        (
            json!({"labels": {"alertname": "A"}, "annotations": {"summary": big_annotation}}),
            "annotations is 65543 bytes",
        ),
    ] {
        // A valid alert first: the batch is refused as a whole.
        let r = post(
            &ctx,
            &ctx.ingest,
            "/api/v2/alerts",
            json!([alert("Ok", 0), bad]),
        )
        .await;
        assert_refused(&r, StatusCode::UNPROCESSABLE_ENTITY, says);
        assert!(r.json()["detail"].as_str().unwrap().starts_with("[1]"));
    }
    assert_eq!(stored_alerts(&ctx).await, 0);
}

#[tokio::test]
async fn the_dispatcher_holds_a_bounded_number_of_groups_and_alerts() {
    let (ctx, _path) = setup_file(CONFIG).await;
    // group_by alertname: every name is a group.
    let groups: Vec<Value> = (0..MAX_GROUPS)
        .map(|i| alert(&format!("A{i}"), 0))
        .collect();
    let r = post(&ctx, &ctx.ingest, "/api/v2/alerts", json!(groups)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = post(
        &ctx,
        &ctx.ingest,
        "/api/v2/alerts",
        json!([alert("New", 0)]),
    )
    .await;
    assert_refused(&r, StatusCode::TOO_MANY_REQUESTS, "aggregation groups");
    assert_eq!(stored_alerts(&ctx).await, MAX_GROUPS);
    // An alert joining an existing group still gets in.
    let r = post(&ctx, &ctx.ingest, "/api/v2/alerts", json!([alert("A7", 1)])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // Fill the book within one group until it is full.
    let mut held = MAX_GROUPS + 1;
    let mut next = 2;
    while held < MAX_ALERTS {
        let n = (MAX_ALERTS - held).min(MAX_ALERTS_PER_REQUEST);
        let batch: Vec<Value> = (next..next + n).map(|i| alert("A0", i)).collect();
        let r = post(&ctx, &ctx.ingest, "/api/v2/alerts", json!(batch)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        held += n;
        next += n;
    }
    let r = post(
        &ctx,
        &ctx.ingest,
        "/api/v2/alerts",
        json!([alert("A0", next)]),
    )
    .await;
    assert_refused(&r, StatusCode::TOO_MANY_REQUESTS, "alerts held");
    assert_eq!(stored_alerts(&ctx).await, MAX_ALERTS);
    // Updating an alert already held is not growth.
    let r = post(&ctx, &ctx.ingest, "/api/v2/alerts", json!([alert("A0", 2)])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn one_flush_queues_a_bounded_number_of_notifications_for_a_receiver() {
    let (ctx, _path) = setup_file(CONFIG).await;
    let groups: Vec<Value> = (0..200).map(|i| alert(&format!("A{i}"), 0)).collect();
    let r = post(&ctx, &ctx.ingest, "/api/v2/alerts", json!(groups)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    dispatch_round(&ctx.state).await;
    let queued = ctx.state.store.list_outbox(None, 1000).await.unwrap();
    assert_eq!(queued.len(), MAX_NOTIFICATIONS_PER_RECEIVER);
    // Every alert is in one of them: the last carries the groups past the bound.
    let alerts: usize = queued
        .iter()
        .map(|i| {
            let m: Value = serde_json::from_str(&i.payload_json).unwrap();
            m["alerts"].as_array().unwrap().len()
        })
        .sum();
    assert_eq!(alerts, 200);
}

#[tokio::test]
async fn silences_overrides_timelines_and_details_are_bounded() {
    let (ctx, _path) = setup_file(CONFIG).await;
    let now = ctx.state.now();

    // Silences: a huge comment is refused; past the count, a new one is.
    let silence = |comment: String| {
        json!({"matchers": [{"name": "alertname", "value": "A", "isRegex": false}],
            "startsAt": "2027-01-15T08:00:00Z", "endsAt": "2027-01-16T08:00:00Z",
            "createdBy": "t", "comment": comment})
    };
    let r = post(
        &ctx,
        &ctx.respond,
        "/api/v2/silences",
        silence("c".repeat(MAX_SILENCE_BYTES)),
    )
    .await;
    assert_refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "silence is");
    for i in 0..MAX_SILENCES {
        ctx.state
            .store
            .put_silence(&SilenceRecord {
                id: format!("s{i}"),
                matchers_json:
                    r#"[{"name":"alertname","value":"A","isRegex":false,"isEqual":true}]"#.into(),
                starts_at: now,
                ends_at: now + headroom_core::Span::hours(1),
                created_by: "t".into(),
                comment: String::new(),
                updated_at: now,
            })
            .await
            .unwrap();
    }
    ctx.state.alerting.refresh_silences().await.unwrap();
    let r = post(
        &ctx,
        &ctx.respond,
        "/api/v2/silences",
        silence("one more".into()),
    )
    .await;
    assert_refused(&r, StatusCode::TOO_MANY_REQUESTS, "silences");
    assert_eq!(
        ctx.state.store.list_silences().await.unwrap().len(),
        MAX_SILENCES
    );

    // Overrides of one schedule not yet ended.
    for i in 0..MAX_OVERRIDES_PER_SCHEDULE {
        ctx.state
            .store
            .add_override(&ScheduleOverride {
                id: format!("o{i}"),
                schedule: "primary".into(),
                user_id: "alice".into(),
                starts_at: now + headroom_core::Span::hours(i as i64),
                ends_at: now + headroom_core::Span::hours(i as i64 + 1),
                created_by: "t".into(),
                created_at: now,
            })
            .await
            .unwrap();
    }
    let r = post(
        &ctx,
        &ctx.respond,
        "/api/v1/schedules/primary/overrides",
        json!({"user": "alice", "start": "2027-03-01T00:00:00Z", "end": "2027-03-02T00:00:00Z"}),
    )
    .await;
    assert_refused(
        &r,
        StatusCode::TOO_MANY_REQUESTS,
        "overrides of schedule \"primary\"",
    );

    // Incident text fields.
    let r = post(
        &ctx,
        &ctx.respond,
        "/api/v1/incidents",
        json!({"title": "t".repeat(MAX_TEXT_BYTES + 1), "severity": "SEV3"}),
    )
    .await;
    assert_refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "title is 16385 bytes");
    let r = post(
        &ctx,
        &ctx.respond,
        "/api/v1/incidents",
        json!({"title": "t", "severity": "SEV3"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.json()["id"].as_i64().unwrap();
    let note = format!("/api/v1/incidents/{id}/notes");
    let r = post(
        &ctx,
        &ctx.respond,
        &note,
        json!({"text": "n".repeat(MAX_TEXT_BYTES + 1)}),
    )
    .await;
    assert_refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "text is 16385 bytes");

    // A timeline at its bound takes no more entries (filled in the store: through the API it
    // would take minutes).
    let row = ctx.state.store.get_incident(id).await.unwrap().unwrap();
    let mut incident: headroom_incident::Incident = serde_json::from_str(&row.doc_json).unwrap();
    while incident.timeline().len() < MAX_TIMELINE_ENTRIES {
        incident.note("t", now, "filler").unwrap();
    }
    let full = IncidentUpdate {
        title: row.title.clone(),
        severity: row.severity.clone(),
        status: row.status.clone(),
        opened_at: row.opened_at,
        resolved_at: row.resolved_at,
        services_json: row.services_json.clone(),
        doc_json: serde_json::to_string(&incident).unwrap(),
    };
    let UpdateOutcome::Updated { version } = ctx
        .state
        .store
        .update_incident(id, row.version, &full)
        .await
        .unwrap()
    else {
        panic!("update refused")
    };
    let r = post(&ctx, &ctx.respond, &note, json!({"text": "one more"})).await;
    assert_refused(
        &r,
        StatusCode::TOO_MANY_REQUESTS,
        "timeline entries of incident",
    );
    assert_eq!(
        ctx.state
            .store
            .get_incident(id)
            .await
            .unwrap()
            .unwrap()
            .version,
        version
    );

    // PagerDuty custom_details (the integration's routing key is "0123456789abcdef0123456789abcdef").
    let event = json!({"routing_key": "0123456789abcdef0123456789abcdef", "event_action": "trigger",
        "payload": {"summary": "s", "source": "cron", "severity": "error",
                    "custom_details": {"log": "x".repeat(MAX_CUSTOM_DETAILS_BYTES)}}});
    let r = send(
        &ctx.app,
        Method::POST,
        "/v2/enqueue",
        None,
        &[],
        Body::from(event.to_string()),
    )
    .await;
    assert_refused(
        &r,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload.custom_details is",
    );
    assert_eq!(stored_alerts(&ctx).await, 0);
}

#[tokio::test]
async fn remote_write_refuses_a_body_that_would_decompress_past_the_limit() {
    let (ctx, _path) = setup_file(CONFIG).await;
    let limit = headroom_server::limits::MAX_DECOMPRESSED;
    // A snappy block starts with its decompressed length as a varint: claim one byte too many.
    let mut body = Vec::new();
    let mut n = limit as u64 + 1;
    while n >= 0x80 {
        body.push((n as u8) | 0x80);
        n >>= 7;
    }
    body.push(n as u8);
    body.extend_from_slice(&[0; 16]);
    let r = send(
        &ctx.app,
        Method::POST,
        "/api/v1/write",
        Some(&ctx.ingest),
        &[
            ("content-encoding", "snappy"),
            ("content-type", "application/x-protobuf"),
        ],
        body,
    )
    .await;
    // 400: Prometheus drops such a request instead of retrying it.
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains(&limit.to_string()),
        "{}",
        r.text()
    );
}
