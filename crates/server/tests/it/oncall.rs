//! On-call and escalation through the API on the test's clock: who is on call across a
//! hand-off and under an override added through the API, the iCalendar feeds read by a real
//! parser, escalations paging level after level to contact methods on a real socket until
//! acknowledged or resolved, a restart in the middle, and signed action links.

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, StatusCode};
use headroom_core::Timestamp;
use headroom_notify::Client;
use headroom_server::app;
use headroom_service::escalation::{Action, link_token};
use headroom_service::workers::{dispatch_round, escalation_round, send_round};
use headroom_service::{ConfigSource, Headroom, build_state};
use headroom_store::{ActionLinkStore, OutboxStore, Store};
use headroom_tsdb::Tsdb;
use serde_json::{Value, json};

use crate::common::*;

const MINUTE: i64 = 60_000;

/// What the contact methods' endpoint saw: (path, body).
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

async fn receiver() -> (SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
        let s = s.clone();
        async move {
            let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
            s.lock().unwrap().push((uri.path().to_string(), v));
            StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

/// Bob is on call until 2027-01-15T09:00Z (an hour after the tests start), then Alice. The
/// `pager` receiver pages policy `urgent`: the schedule, then Carol ten minutes later, then
/// (one repeat) the schedule again fifteen minutes after that.
fn config(addr: SocketAddr) -> String {
    format!(
        r#"
route:
  receiver: pager
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
receivers:
  - name: pager
    webhook_configs: [{{url: "http://{addr}/team", send_resolved: true}}]
    escalation_policy: urgent
users:
  - {{id: alice, name: Alice, email: alice@example.com, contact_methods: [{{webhook: "http://{addr}/alice"}}]}}
  - {{id: bob, name: Bob, email: bob@example.com, contact_methods: [{{slack: "http://{addr}/bob"}}]}}
  - {{id: carol, name: Carol, email: carol@example.com, contact_methods: [{{webhook: "http://{addr}/carol"}}]}}
schedules:
  - id: primary
    name: Primary
    time_zone: UTC
    layers:
      - name: days
        users: [alice, bob]
        turn: daily
        rotation_start: "2027-01-11T09:00"
escalation_policies:
  - id: urgent
    repeat: 1
    levels:
      - {{delay: 10m, targets: [{{schedule: primary}}]}}
      - {{delay: 15m, targets: [{{user: carol}}]}}
"#
    )
}

fn advance(clock: &AtomicI64, ms: i64) {
    clock.fetch_add(ms, Ordering::SeqCst);
}

async fn post(app: &Router, uri: &str, token: Option<&str>, body: Value) -> Resp {
    send(
        app,
        Method::POST,
        uri,
        token,
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await
}

/// The id of the one open escalation.
async fn open_id(ctx: &Ctx) -> String {
    open_escalations(&ctx.app, &ctx.read).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn escalation(ctx: &Ctx, id: &str) -> Value {
    get(
        &ctx.app,
        &format!("/api/v1/escalations/{id}"),
        Some(&ctx.read),
    )
    .await
    .json()
}

/// What a browser sends when the confirm page's button is pressed.
async fn post_link(app: &Router, uri: &str) -> Resp {
    send(
        app,
        Method::POST,
        uri,
        None,
        &[("content-type", "application/x-www-form-urlencoded")],
        String::new(),
    )
    .await
}

async fn oncall(ctx: &Ctx, at: &str) -> Value {
    let r = get(
        &ctx.app,
        &format!("/api/v1/schedules/primary/oncall?at={at}"),
        Some(&ctx.read),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

#[tokio::test]
async fn who_is_on_call_across_a_handoff_and_an_override() {
    let (addr, _seen) = receiver().await;
    let (ctx, _path) = setup_file(&config(addr)).await;

    let now = get(
        &ctx.app,
        "/api/v1/schedules/primary/oncall",
        Some(&ctx.read),
    )
    .await
    .json();
    assert_eq!(now["user"], json!({"id": "bob", "name": "Bob"}));
    assert_eq!(
        now["source"],
        json!({"type": "layer", "layer": 0, "name": "days"})
    );
    assert_eq!(now["since"], "2027-01-14T09:00:00Z");
    assert_eq!(now["until"], "2027-01-15T09:00:00Z");
    assert_eq!(
        oncall(&ctx, "2027-01-15T08:59:59Z").await["user"]["id"],
        "bob"
    );
    assert_eq!(
        oncall(&ctx, "2027-01-15T09:00:00Z").await["user"]["id"],
        "alice"
    );

    let r = post(
        &ctx.app,
        "/api/v1/schedules/primary/overrides",
        Some(&ctx.respond),
        json!({"user": "carol", "start": "2027-01-15T12:00:00Z", "end": "2027-01-15T14:00:00+00:00"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();

    let during = oncall(&ctx, "2027-01-15T13:00:00Z").await;
    assert_eq!(during["user"]["id"], "carol");
    assert_eq!(
        during["source"],
        json!({"type": "override", "id": id, "from_config": false})
    );
    assert_eq!(during["since"], "2027-01-15T12:00:00Z");
    assert_eq!(during["until"], "2027-01-15T14:00:00Z");
    assert_eq!(
        oncall(&ctx, "2027-01-15T14:00:00Z").await["user"]["id"],
        "alice"
    );

    let shifts = get(
        &ctx.app,
        "/api/v1/schedules/primary/shifts?from=2027-01-15T08:00:00Z&to=2027-01-15T16:00:00Z",
        Some(&ctx.read),
    )
    .await
    .json();
    let got: Vec<(String, String, String)> = shifts["shifts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["user"]["id"].as_str().unwrap().to_string(),
                s["start"].as_str().unwrap()[11..16].to_string(),
                s["end"].as_str().unwrap()[11..16].to_string(),
            )
        })
        .collect();
    let want = [
        ("bob", "08:00", "09:00"),
        ("alice", "09:00", "12:00"),
        ("carol", "12:00", "14:00"),
        ("alice", "14:00", "16:00"),
    ];
    assert_eq!(
        got,
        want.map(|(u, s, e)| (u.to_string(), s.to_string(), e.to_string()))
    );

    // The listing shows who is on call now; users and teams come from the config.
    let schedules = get(&ctx.app, "/api/v1/schedules", Some(&ctx.read))
        .await
        .json();
    assert_eq!(schedules["schedules"][0]["oncall_now"]["id"], "bob");
    let users = get(&ctx.app, "/api/v1/users", Some(&ctx.read)).await.json();
    let ids: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["alice", "bob", "carol"]);
    assert_eq!(
        users["users"][1]["contact_methods"],
        json!([{"type": "slack"}])
    );
    let teams = get(&ctx.app, "/api/v1/teams", Some(&ctx.read)).await;
    assert_eq!(teams.json(), json!({"teams": []}));

    let del = |id: String| {
        let app = ctx.app.clone();
        let token = ctx.respond.clone();
        async move {
            send(
                &app,
                Method::DELETE,
                &format!("/api/v1/overrides/{id}"),
                Some(&token),
                &[],
                Body::empty(),
            )
            .await
        }
    };
    assert_eq!(del(id.clone()).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        oncall(&ctx, "2027-01-15T13:00:00Z").await["user"]["id"],
        "alice"
    );
    let again = del(id).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.json()["error"], "not_found");
}

#[tokio::test]
async fn oncall_api_refuses_bad_input() {
    let (addr, _seen) = receiver().await;
    let (ctx, _path) = setup_file(&config(addr)).await;
    let o = "/api/v1/schedules/primary/overrides";

    for (uri, status, detail) in [
        ("/api/v1/schedules/primary/oncall?at=yesterday", 400, "at: "),
        ("/api/v1/schedules/nope/oncall", 404, "no schedule \"nope\""),
        ("/api/v1/schedules/nope/shifts", 404, "no schedule \"nope\""),
        (
            "/api/v1/schedules/primary/shifts?from=2027-01-15T10:00:00Z&to=2027-01-15T09:00:00Z",
            400,
            "to: must be after from",
        ),
        ("/api/v1/schedules/primary/shifts?from=soon", 400, "from: "),
        (
            "/api/v1/users/nobody/calendar.ics",
            404,
            "no user \"nobody\"",
        ),
        (
            "/api/v1/schedules/nope/calendar.ics",
            404,
            "no schedule \"nope\"",
        ),
        (
            "/api/v1/escalations/e-none",
            404,
            "no escalation \"e-none\"",
        ),
        ("/api/v1/escalations?open=false", 400, "open: "),
    ] {
        let r = get(&ctx.app, uri, Some(&ctx.read)).await;
        assert_eq!(r.status.as_u16(), status, "{uri}: {}", r.text());
        let d = r.json()["detail"].as_str().unwrap().to_string();
        assert!(d.starts_with(detail), "{uri}: {d}");
    }

    let ok =
        json!({"user": "carol", "start": "2027-01-15T12:00:00Z", "end": "2027-01-15T14:00:00Z"});
    for (body, status, detail) in [
        (
            json!({"user": "dave", "start": "2027-01-15T12:00:00Z", "end": "2027-01-15T14:00:00Z"}),
            400,
            "user: unknown user \"dave\"",
        ),
        (
            json!({"user": "carol", "start": "noon", "end": "2027-01-15T14:00:00Z"}),
            400,
            "start: \"noon\" is not an RFC 3339 time",
        ),
        (
            json!({"user": "carol", "start": "2027-01-15T12:00:00Z", "end": "2027-01-15T11:00:00Z"}),
            400,
            "end: must be after start",
        ),
        (
            json!({"user": "carol", "start": "2027-01-15T12:00:00Z"}),
            400,
            "end: required",
        ),
    ] {
        let r = post(&ctx.app, o, Some(&ctx.respond), body).await;
        assert_eq!(r.status.as_u16(), status, "{}", r.text());
        let d = r.json()["detail"].as_str().unwrap().to_string();
        assert!(d.starts_with(detail), "{d}");
    }
    let r = send(&ctx.app, Method::POST, o, Some(&ctx.respond), &[], "{").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = post(
        &ctx.app,
        "/api/v1/schedules/nope/overrides",
        Some(&ctx.respond),
        ok.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = post(&ctx.app, o, Some(&ctx.read), ok.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["error"], "forbidden");
    let r = post(&ctx.app, o, None, ok).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Nothing was stored by the refusals.
    let who = oncall(&ctx, "2027-01-15T13:00:00Z").await;
    assert_eq!(who["user"]["id"], "alice");
}

const PARSER: &str = r#"
import json, sys
import icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read().decode("utf-8"))
print(json.dumps([
    {"start": ev["DTSTART"].dt.isoformat(), "end": ev["DTEND"].dt.isoformat(),
     "summary": str(ev["SUMMARY"])}
    for ev in cal.walk("VEVENT")
]))
"#;

/// The feed's events as Python's `icalendar` reads them. Fails when it is not installed.
fn parse_ical(feed: &str) -> Value {
    let mut child = Command::new("python3")
        .args(["-c", PARSER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 with the icalendar module is required: pip install icalendar");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(feed.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "icalendar refused the feed: {}\n{feed}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn calendar_feeds_read_through_their_keys() {
    let (addr, _seen) = receiver().await;
    let (ctx, _path) = setup_file(&config(addr)).await;
    let r = post(
        &ctx.app,
        "/api/v1/schedules/primary/overrides",
        Some(&ctx.respond),
        json!({"user": "carol", "start": "2027-01-15T12:00:00Z", "end": "2027-01-15T14:00:00Z"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);

    let uri = feed_path(&ctx, "/api/v1/schedules/primary/calendar-key").await;
    let r = get(&ctx.app, &uri, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.headers["content-type"], "text/calendar; charset=utf-8");
    let events = parse_ical(&r.text());
    let events = events.as_array().unwrap();
    // A week back to 90 days ahead, one turn a day, the override splitting today's.
    assert!(events.len() > 90, "{}", events.len());
    let today: Vec<(&str, &str, &str)> = events
        .iter()
        .filter(|e| e["start"].as_str().unwrap().starts_with("2027-01-15"))
        .map(|e| {
            (
                e["start"].as_str().unwrap(),
                e["end"].as_str().unwrap(),
                e["summary"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        today,
        [
            (
                "2027-01-15T09:00:00+00:00",
                "2027-01-15T12:00:00+00:00",
                "On call: Alice (Primary)"
            ),
            (
                "2027-01-15T12:00:00+00:00",
                "2027-01-15T14:00:00+00:00",
                "On call: Carol (Primary)"
            ),
            (
                "2027-01-15T14:00:00+00:00",
                "2027-01-16T09:00:00+00:00",
                "On call: Alice (Primary)"
            ),
        ]
    );

    let uri = feed_path(&ctx, "/api/v1/users/carol/calendar-key").await;
    let r = get(&ctx.app, &uri, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let carol = parse_ical(&r.text());
    assert_eq!(
        carol,
        json!([{"start": "2027-01-15T12:00:00+00:00", "end": "2027-01-15T14:00:00+00:00",
            "summary": "On call: Carol (Primary)"}])
    );

    let r = get(&ctx.app, "/api/v1/schedules/primary/calendar.ics", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = get(&ctx.app, "/calendars/hrf_nope/feed.ics", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// The path of a new subscription URL made at `rotate`.
async fn feed_path(ctx: &Ctx, rotate: &str) -> String {
    let r = send(
        &ctx.app,
        Method::POST,
        rotate,
        Some(&ctx.respond),
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let url = r.json()["url"].as_str().unwrap().to_string();
    url[url.find("/calendars/").unwrap()..].to_string()
}

async fn fire(app: &Router, token: &str, ends_at: Option<&str>) {
    // Firing until the next day (an API alert without an end resolves after 5 minutes).
    let mut alert = json!({"labels": {"alertname": "Down", "service": "api"},
        "endsAt": "2027-01-16T08:00:00Z"});
    if let Some(e) = ends_at {
        alert["startsAt"] = json!("2027-01-15T08:00:30Z");
        alert["endsAt"] = json!(e);
    }
    let r = post(app, "/api/v2/alerts", Some(token), json!([alert])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

/// One dispatch round, one escalation round, then sends what they queued.
async fn tick(state: &Headroom) {
    dispatch_round(state).await;
    escalation_round(state).await;
    let client = Client::new(std::time::Duration::from_secs(5)).unwrap();
    send_round(state, &client).await;
}

fn paths(seen: &Seen) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|(p, _)| p.clone())
        .collect()
}

async fn open_escalations(app: &Router, token: &str) -> Vec<Value> {
    let r = get(app, "/api/v1/escalations?open=true", Some(token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["escalations"].as_array().unwrap().clone()
}

/// The action links of the newest page queued for `integration`.
async fn page_links(state: &Headroom, integration: &str) -> (String, String) {
    let items = state.store.list_outbox(None, 100).await.unwrap();
    let item = items
        .iter()
        .find(|i| i.integration == integration)
        .unwrap_or_else(|| panic!("no page for {integration}"));
    let m: Value = serde_json::from_str(&item.payload_json).unwrap();
    let path = |url: &Value| {
        let url = url.as_str().unwrap();
        url[url.find("/ack/").or(url.find("/resolve/")).unwrap()..].to_string()
    };
    (
        path(&m["actions"]["acknowledgeURL"]),
        path(&m["actions"]["resolveURL"]),
    )
}

#[tokio::test]
async fn escalation_pages_level_after_level_until_acknowledged() {
    let (addr, seen) = receiver().await;
    let (ctx, _path) = setup_file(&config(addr)).await;
    fire(&ctx.app, &ctx.ingest, None).await;

    // The receiver's own notification and level 0: the schedule, where Bob is on call.
    tick(&ctx.state).await;
    let mut got = paths(&seen);
    got.sort();
    assert_eq!(got, ["/bob", "/team"]);
    let bob = seen
        .lock()
        .unwrap()
        .iter()
        .find(|(p, _)| p == "/bob")
        .unwrap()
        .1
        .clone();
    let buttons = bob["attachments"][0]["actions"].to_string();
    assert!(
        buttons.contains("/ack/"),
        "the Slack page has the links: {bob}"
    );

    let open = open_escalations(&ctx.app, &ctx.read).await;
    assert_eq!(open.len(), 1);
    let e = &open[0];
    let id = e["id"].as_str().unwrap().to_string();
    assert_eq!(e["receiver"], "pager");
    assert_eq!(e["policy"], "urgent");
    assert_eq!(e["state"], "triggered");
    assert_eq!(
        e["pages"],
        json!([{"level": 0, "pass": 0, "users": ["bob"], "at": "2027-01-15T08:00:30Z"}])
    );
    assert_eq!(e["next_page_at"], "2027-01-15T08:10:30Z");

    // Not before its delay; then level 1, Carol.
    advance(&ctx.clock, 10 * MINUTE - 1);
    tick(&ctx.state).await;
    assert_eq!(paths(&seen).len(), 2);
    advance(&ctx.clock, 1);
    tick(&ctx.state).await;
    assert_eq!(paths(&seen).last().unwrap(), "/carol");

    let r = post(
        &ctx.app,
        &format!("/api/v1/escalations/{id}/ack"),
        Some(&ctx.respond),
        json!({"by": "carol"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let acked = r.json();
    assert_eq!(acked["state"], "acknowledged");
    assert_eq!(acked["acknowledged_by"], "carol");
    assert_eq!(acked["acknowledged_at"], "2027-01-15T08:10:30Z");
    assert_eq!(acked["next_page_at"], Value::Null);

    // The repeat pass would have paged the schedule 15 minutes later: acknowledged, it does not.
    let before = paths(&seen).len();
    advance(&ctx.clock, 30 * MINUTE);
    tick(&ctx.state).await;
    assert_eq!(paths(&seen).len(), before);
    // Still open (its alert fires), acknowledged.
    let open = open_escalations(&ctx.app, &ctx.read).await;
    assert_eq!(open[0]["state"], "acknowledged");

    let r = post(
        &ctx.app,
        &format!("/api/v1/escalations/{id}/ack"),
        Some(&ctx.read),
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &ctx.app,
        Method::POST,
        &format!("/api/v1/escalations/{id}/resolve"),
        Some(&ctx.respond),
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(r.json()["state"], "resolved");
    assert!(open_escalations(&ctx.app, &ctx.read).await.is_empty());
    let r = post(
        &ctx.app,
        &format!("/api/v1/escalations/{id}/ack"),
        Some(&ctx.respond),
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
}

#[tokio::test]
async fn an_acknowledgement_that_times_out_pages_again_from_the_first_level() {
    let (addr, seen) = receiver().await;
    let cfg = config(addr).replace("    repeat: 1\n", "    repeat: 1\n    ack_timeout: 30m\n");
    let (ctx, _path) = setup_file(&cfg).await;
    fire(&ctx.app, &ctx.ingest, None).await;
    tick(&ctx.state).await;
    let id = open_id(&ctx).await;
    let r = post(
        &ctx.app,
        &format!("/api/v1/escalations/{id}/ack"),
        Some(&ctx.respond),
        json!({"by": "bob"}),
    )
    .await;
    assert_eq!(r.json()["acknowledged_at"], "2027-01-15T08:00:30Z");
    assert_eq!(r.json()["next_page_at"], "2027-01-15T08:30:30Z");

    // Held for 29 minutes: no page.
    let before = paths(&seen).len();
    advance(&ctx.clock, 29 * MINUTE);
    tick(&ctx.state).await;
    assert_eq!(paths(&seen).len(), before);
    assert_eq!(escalation(&ctx, &id).await["state"], "acknowledged");

    // Lapsed, still firing: the schedule (Bob, until 09:00) is paged again.
    advance(&ctx.clock, MINUTE);
    tick(&ctx.state).await;
    assert_eq!(paths(&seen)[before..], ["/bob"]);
    let e = escalation(&ctx, &id).await;
    assert_eq!(e["state"], "triggered");
    assert_eq!(e["acknowledged_by"], Value::Null);
    assert_eq!(e["started_at"], "2027-01-15T08:30:30Z");
    assert_eq!(
        e["pages"][1],
        json!({"level": 0, "pass": 0, "users": ["bob"], "at": "2027-01-15T08:30:30Z"})
    );
    assert_eq!(e["next_page_at"], "2027-01-15T08:40:30Z");
}

#[tokio::test]
async fn escalation_resolves_with_its_alerts() {
    let (addr, seen) = receiver().await;
    let (ctx, _path) = setup_file(&config(addr)).await;
    fire(&ctx.app, &ctx.ingest, None).await;
    tick(&ctx.state).await;
    let id = open_id(&ctx).await;

    advance(&ctx.clock, 2 * MINUTE);
    fire(&ctx.app, &ctx.ingest, Some("2027-01-15T08:02:00Z")).await;
    tick(&ctx.state).await;
    assert!(open_escalations(&ctx.app, &ctx.read).await.is_empty());
    let e = escalation(&ctx, &id).await;
    assert_eq!(e["state"], "resolved");
    assert_eq!(e["resolved_by"], "alerts resolved");
    assert_eq!(e["resolved_at"], "2027-01-15T08:02:30Z");

    // No level 1 page for a resolved alert.
    advance(&ctx.clock, 20 * MINUTE);
    tick(&ctx.state).await;
    assert!(
        !paths(&seen).contains(&"/carol".to_string()),
        "{:?}",
        paths(&seen)
    );

    // A new firing starts a new escalation.
    fire(&ctx.app, &ctx.ingest, None).await;
    tick(&ctx.state).await;
    let open = open_escalations(&ctx.app, &ctx.read).await;
    assert_eq!(open.len(), 1);
    assert_ne!(open[0]["id"], id.as_str());
}

/// A second server state on the same database, on its own clock at `at`.
async fn restart(ctx: &Ctx, at: i64) -> (Headroom, Router, Arc<AtomicI64>) {
    let (clock, cell) = clock_at(at);
    let dir = ctx._dir.path();
    let store = Store::open(&format!("sqlite://{}", dir.join("state.db").display()))
        .await
        .unwrap();
    let source = ConfigSource::Paths(vec![dir.join("slos.yaml")]);
    let state = build_state(source, Tsdb::in_memory(), store, clock)
        .await
        .unwrap();
    (state.clone(), app(state), cell)
}

#[tokio::test]
async fn a_restart_in_the_middle_still_pages_the_next_level_on_time() {
    let (addr, seen) = receiver().await;
    let (ctx, _path) = setup_file(&config(addr)).await;
    fire(&ctx.app, &ctx.ingest, None).await;
    tick(&ctx.state).await;
    let (_, resolve) = page_links(&ctx.state, "user:bob:0").await;

    // The server stops five minutes in; a new one starts on the same database.
    let (state, app2, clock) = restart(&ctx, NOW + 5 * MINUTE).await;
    tick(&state).await;
    assert!(!paths(&seen).contains(&"/carol".to_string()));
    advance(&clock, 5 * MINUTE - 1);
    tick(&state).await;
    assert!(!paths(&seen).contains(&"/carol".to_string()));
    advance(&clock, 1);
    tick(&state).await;
    assert_eq!(paths(&seen).last().unwrap(), "/carol");
    let open = open_escalations(&app2, &ctx.read).await;
    assert_eq!(open[0]["pages"][1]["at"], "2027-01-15T08:10:30Z");

    // The link key survived the restart: a link from before it still works.
    let r = post_link(&app2, &resolve).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.text().contains("is resolved"), "{}", r.text());
    assert!(open_escalations(&app2, &ctx.read).await.is_empty());
}

#[tokio::test]
async fn a_down_server_pages_what_fell_due_at_the_next_round() {
    let (addr, seen) = receiver().await;
    let (ctx, _path) = setup_file(&config(addr)).await;
    fire(&ctx.app, &ctx.ingest, None).await;
    tick(&ctx.state).await;
    // Down from minute 1 to minute 12: level 1 (due at 10) goes out when it comes back.
    let (state, _app2, _clock) = restart(&ctx, NOW + 12 * MINUTE).await;
    tick(&state).await;
    assert_eq!(paths(&seen).last().unwrap(), "/carol");
}

#[tokio::test]
async fn signed_links_work_once_and_refuse_forgeries_and_expiry() {
    let (addr, _seen) = receiver().await;
    let (ctx, _path) = setup_file(&config(addr)).await;
    fire(&ctx.app, &ctx.ingest, None).await;
    tick(&ctx.state).await;
    let (ack, resolve) = page_links(&ctx.state, "user:bob:0").await;
    let id = open_id(&ctx).await;

    // Forged: the signature of another escalation, or a changed one.
    let other = ack.replace(&id, "e-0000000000000000");
    let r = get(&ctx.app, &other, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("forged link")
    );
    let last = ack.chars().last().unwrap();
    let flipped = format!(
        "{}{}",
        &ack[..ack.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    assert_eq!(
        get(&ctx.app, &flipped, None).await.status,
        StatusCode::FORBIDDEN
    );
    let key = b"not the server's key";
    let foreign = link_token(key, &id, Action::Acknowledge, Timestamp(NOW + 3_600_000));
    assert_eq!(
        get(&ctx.app, &format!("/ack/{foreign}"), None).await.status,
        StatusCode::FORBIDDEN
    );
    let r = get(&ctx.app, "/ack/garbage", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // An acknowledge link is not a resolve link.
    let r = get(&ctx.app, &ack.replace("/ack/", "/resolve/"), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());

    // Opening the link (or a mail scanner fetching it) only shows a button that POSTs.
    for _ in 0..2 {
        let r = get(&ctx.app, &ack, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert!(
            r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let text = r.text();
        assert!(text.contains("<form method=post>"), "{text}");
        assert!(
            text.contains(&format!("Acknowledge escalation {id}?")),
            "{text}"
        );
        assert_eq!(escalation(&ctx, &id).await["state"], "triggered");
        // The page runs no script, cannot be framed, and does not hand its URL (a signed
        // link) to another site.
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(r.headers["x-frame-options"], "DENY");
        assert_eq!(r.headers["referrer-policy"], "no-referrer");
    }
    // A forged link is refused on POST as on GET, and changes nothing.
    let r = post_link(&ctx.app, &other).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert_eq!(escalation(&ctx, &id).await["state"], "triggered");

    let r = post_link(&ctx.app, &ack).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(
        r.text()
            .contains(&format!("Escalation {id} is acknowledged"))
    );
    let e = escalation(&ctx, &id).await;
    assert_eq!(e["state"], "acknowledged");
    assert_eq!(e["acknowledged_by"], "link");

    // Used: both the page and the action say so.
    for r in [
        get(&ctx.app, &ack, None).await,
        post_link(&ctx.app, &ack).await,
    ] {
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert!(
            r.json()["detail"]
                .as_str()
                .unwrap()
                .starts_with("used link")
        );
    }

    // A day and a minute later the resolve link has expired.
    advance(&ctx.clock, 24 * 60 * MINUTE + MINUTE);
    for r in [
        get(&ctx.app, &resolve, None).await,
        post_link(&ctx.app, &resolve).await,
    ] {
        assert_eq!(r.status, StatusCode::GONE, "{}", r.text());
        assert!(
            r.json()["detail"]
                .as_str()
                .unwrap()
                .starts_with("expired link")
        );
    }
    let e = escalation(&ctx, &id).await;
    assert_eq!(e["state"], "acknowledged");
}

#[tokio::test]
async fn a_link_whose_action_fails_is_not_used_up() {
    let (addr, _seen) = receiver().await;
    let (ctx, _path) = setup_file(&config(addr)).await;
    fire(&ctx.app, &ctx.ingest, None).await;
    tick(&ctx.state).await;
    let (ack, _) = page_links(&ctx.state, "user:bob:0").await;
    let id = open_id(&ctx).await;
    let r = send(
        &ctx.app,
        Method::POST,
        &format!("/api/v1/escalations/{id}/resolve"),
        Some(&ctx.respond),
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.json()["resolved_by"],
        "respond",
        "the token's name when no `by` is given"
    );

    // Acknowledging a resolved escalation is refused, and the link stays unused.
    let r = post_link(&ctx.app, &ack).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert!(
        !r.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("used link")
    );
    let payload = ack["/ack/".len()..].rsplit_once('.').unwrap().0;
    assert!(!ctx.state.store.action_link_used(payload).await.unwrap());
    assert_eq!(get(&ctx.app, &ack, None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn pages_and_their_acknowledgement_reach_the_incident_of_the_alert() {
    let (addr, _seen) = receiver().await;
    let policy = "incident_policies:\n  - {name: api, matchers: ['service=\"api\"'], severity: SEV2, title: \"{{alertname}}\"}\n";
    let (ctx, _path) = setup_file(&format!("{}{policy}", config(addr))).await;
    fire(&ctx.app, &ctx.ingest, None).await;
    tick(&ctx.state).await;

    let incident = get(&ctx.app, "/api/v1/incidents/1", Some(&ctx.read))
        .await
        .json();
    assert_eq!(incident["status"], "triggered", "{incident}");
    let text: Vec<String> = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(text.iter().any(|t| t == "Paged bob (level 1)"), "{text:?}");

    let esc = open_escalations(&ctx.app, &ctx.read).await;
    let id = esc[0]["id"].as_str().unwrap();
    let r = post(
        &ctx.app,
        &format!("/api/v1/escalations/{id}/ack"),
        Some(&ctx.respond),
        json!({"by": "bob"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let incident = get(&ctx.app, "/api/v1/incidents/1", Some(&ctx.read))
        .await
        .json();
    assert_eq!(incident["status"], "acknowledged", "{incident}");
    let last = incident["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["actor"].as_str(), last["text"].as_str()),
        (Some("bob"), Some("Acknowledged")),
        "{last}"
    );
}
