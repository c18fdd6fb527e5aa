//! The API types against the server that answers them: a realistic scenario through every
//! endpoint of a server built in process (SQLite in a temp dir, the test's clock, one token per
//! scope), with each request body built from its `headroom_api` type and each JSON answer read
//! into its type and written back unchanged — the same fields, `null` where `null`, absent where
//! absent, integers as integers. The CLI reads and prints answers through these types, so this
//! is what keeps its `--output json` the server's JSON.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode};
use headroom_api::alertmanager::{
    AlertGroup, AlertmanagerStatus, GettableAlert, GettableSilence, Matcher, NotificationStatus,
    PostableAlert, PostableSilence, Receiver, SilenceCreated, SilenceState, WebhookAccepted,
    WebhookAlert, WebhookMessage,
};
use headroom_api::calendar::FeedSubscription;
use headroom_api::dora::DoraReport;
use headroom_api::escalation::{Escalation, EscalationList, EscalationState, Responder};
use headroom_api::incident::{
    ActionItemPatch, ActionItemStatus, Cause, Declaration, ImpactStart, Incident, IncidentList,
    IncidentMetrics, IncidentStatus, NewActionItem, Note, RoleAssignment, Severity, SeverityChange,
    StatusChange, TimelineEvent,
};
use headroom_api::oncall::{
    NewOverride, OnCallAt, Override, ScheduleList, ShiftList, ShiftSource, TeamList, UserList,
};
use headroom_api::pagerduty::{
    EventAction, EventLink, EventPayload, EventResponse, EventSeverity, PagerDutyEvent,
};
use headroom_api::probe::{HeartbeatReceived, ProbeList, ProbeResults, TargetList};
use headroom_api::reload::Reloaded;
use headroom_api::slo::{
    Event, EventBatch, EventTime, EventsAccepted, Indicator, Slices, Slo, SloList, SloSeries,
    Standing, TransitionList,
};
use headroom_api::{ErrorBody, Time};
use headroom_core::Timestamp;
use headroom_server::app;
use headroom_service::workers::{
    dispatch_round, escalation_round, restart_sources, start_delivery,
};
use headroom_service::{ConfigSource, Headroom, build_state, evaluate, load_config};
use headroom_store::{Scope, Store, TokenStore};
use headroom_tsdb::Tsdb;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tower::ServiceExt;

/// 2027-01-15T08:00:00Z, a minute boundary; the scenario starts half a minute later.
const T0: i64 = 1_800_000_000_000;
const MINUTE: i64 = 60_000;
/// PagerDuty routing keys are 32 characters.
const ROUTING_KEY: &str = "0123456789abcdef0123456789abcdef";

/// `web` serves the probe and the scrape target; `closed` is a port nothing listens on.
fn config(web: SocketAddr, closed: SocketAddr, key_file: &Path) -> String {
    let key_file = key_file.display();
    format!(
        r#"anonymous_read: false
services:
  - {{name: checkout, labels: {{team: payments}}, repositories: [acme/checkout], release_policy: {{min_budget_remaining: 10%, max_burn_rate_1h: 14.4, exempt_labels: [rollback]}}}}
actions:
  - name: rollback
    kind: http
    url: "http://{closed}/rollback"
    headers: {{X-Key: api-types-secret}}
    approval: required
    on: [{{incident_declared: {{}}}}]
probes:
  - name: web
    http: {{url: "http://{web}/health"}}
    interval: 1m
    conditions: ["[STATUS] == 200", "[BODY] == ok"]
  - name: db
    tcp: {{address: "{closed}"}}
    interval: 1m
  - name: nightly
    heartbeat: {{}}
    interval: 1h
scrape:
  - job: shop
    interval: 1h
    targets: ["{web}"]
slos:
  - name: checkout-availability
    service: checkout
    description: Checkouts that succeeded.
    objective: 99
    window: 7d
    sli: {{events: {{}}}}
    labels: {{team: payments}}
    alerting: {{name: CheckoutErrors}}
  - name: checkout-by-region
    service: checkout
    objective: 99.5
    window: 30d
    sli: {{events: {{}}}}
    grouping: [region]
  - name: search-by-region
    service: search
    objective: 99
    window: 7d
    sli: {{events: {{}}}}
    grouping: [region]
  - name: checkout-minutes
    service: checkout
    objective: 99
    window: {{calendar: month, time_zone: Europe/Berlin}}
    budgeting: {{timeslices: {{target: 0.95, slice: 1m}}}}
    sli: {{events: {{}}}}
  - name: checkout-ratio-minutes
    service: checkout
    objective: 99
    window: 7d
    budgeting: {{ratio_timeslices: {{slice: 5m}}}}
    sli: {{events: {{}}}}
  - name: shop-errors
    service: shop
    objective: 99
    window: 7d
    sli:
      ratio:
        bad: sum(rate(http_requests_total{{job="shop",code=~"5.."}}[{{{{.window}}}}]))
        total: sum(rate(http_requests_total{{job="shop"}}[{{{{.window}}}}]))
  - name: shop-latency
    service: shop
    objective: 99
    window: 7d
    sli:
      threshold:
        good: sum(rate(http_request_duration_seconds_bucket{{le="0.3"}}[{{{{.window}}}}]))
        total: sum(rate(http_request_duration_seconds_count[{{{{.window}}}}]))
        threshold: 0.3
  - name: web-fast
    service: shop
    objective: 99
    window: 7d
    sli: {{probe: {{name: web, latency: 200ms}}}}
route:
  receiver: team
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
  routes:
    - matchers: ['severity="page"']
      receiver: pager
inhibit_rules:
  - {{source_matchers: ['severity="page"'], target_matchers: ['severity="ticket"'], equal: [service]}}
receivers:
  - name: team
  - name: pager
    webhook_configs: [{{url: "http://{closed}/pager"}}]
    escalation_policy: urgent
users:
  - id: alice
    name: Alice Adams
    email: alice@example.com
    time_zone: Europe/Berlin
    contact_methods: [{{email: alice@example.com}}, {{webhook: "http://{closed}/alice"}}]
  - {{id: bob, name: Bob Brown, email: bob@example.com, contact_methods: [{{slack: "http://{closed}/bob"}}]}}
  - {{id: carol, name: Carol, email: carol@example.com}}
teams:
  - {{id: payments, name: Payments, members: [alice, bob], escalation_policy: urgent}}
  - {{id: ops, members: [carol]}}
schedules:
  - id: primary
    name: Primary
    time_zone: UTC
    layers:
      - {{name: days, users: [alice, bob], turn: daily, rotation_start: "2027-01-11T09:00"}}
      - {{name: nights, users: [carol], turn: {{hours: 12}}, rotation_start: "2027-01-11T21:00", restrictions: [{{daily: {{start: "21:00", end: "07:00"}}}}]}}
    overrides:
      - {{id: swap-1, user: carol, start: "2027-01-16T09:00:00Z", end: "2027-01-16T12:00:00Z"}}
  - id: office
    time_zone: Europe/Berlin
    layers:
      - users: [bob, carol]
        turn: {{days: 7}}
        rotation_start: "2027-01-04T09:00"
        restrictions: [{{weekly: {{start: "monday 09:00", end: "friday 17:00"}}}}]
escalation_policies:
  - id: urgent
    repeat: 1
    levels:
      - {{delay: 10m, targets: [{{schedule: primary}}]}}
      - {{delay: 15m, targets: [{{user: carol}}]}}
incident_policies:
  - {{name: api, matchers: ['service="api"'], severity: SEV2, title: "{{{{alertname}}}}"}}
integrations:
  - name: cron
    pagerduty_events: {{routing_key_file: {key_file}}}
    service: billing
"#
    )
}

/// A local site: `/health` for the probe, `/metrics` for the scrape job.
async fn web() -> SocketAddr {
    let app = Router::new()
        .route("/health", axum::routing::get(|| async { "ok" }))
        .route(
            "/metrics",
            axum::routing::get(|| async { "http_requests_total{job=\"shop\",code=\"200\"} 10\n" }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn closed_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The server in process, with a token of every scope, and the response types seen so far.
struct Server {
    state: Headroom,
    app: Router,
    admin: String,
    ingest: String,
    respond: String,
    read: String,
    clock: Arc<AtomicI64>,
    config: PathBuf,
    seen: Mutex<BTreeSet<&'static str>>,
    _dir: tempfile::TempDir,
}

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("cron.key");
    std::fs::write(&key_file, ROUTING_KEY).unwrap();
    let path = dir.path().join("headroom.yaml");
    std::fs::write(&path, config(web().await, closed_port(), &key_file)).unwrap();

    let cell = Arc::new(AtomicI64::new(T0 + 30_000));
    let c = cell.clone();
    let clock = Arc::new(move || Timestamp(c.load(Ordering::SeqCst)));
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("state.db").display()
    ))
    .await
    .unwrap();
    let now = clock();
    let mut tokens = Vec::new();
    for (name, scope) in [
        ("admin", Scope::Admin),
        ("ingest", Scope::Ingest),
        ("respond", Scope::Respond),
        ("read", Scope::Read),
    ] {
        tokens.push(store.create_token(name, scope, now).await.unwrap().1);
    }
    let source = ConfigSource::Paths(vec![path.clone()]);
    let state = build_state(source, Tsdb::in_memory(), store, clock)
        .await
        .unwrap();
    evaluate(&state, None).await;
    let [admin, ingest, respond, read] = <[String; 4]>::try_from(tokens).unwrap();
    Server {
        app: app(state.clone()),
        state,
        admin,
        ingest,
        respond,
        read,
        clock: cell,
        config: path,
        seen: Mutex::default(),
        _dir: dir,
    }
}

/// Reads `original` into `T` and writes it back: the JSON must come out as it went in.
#[track_caller]
fn faithful<T: DeserializeOwned + Serialize>(what: &str, original: &Value) -> T {
    let typed: T = serde_json::from_value(original.clone()).unwrap_or_else(|e| {
        panic!(
            "{what}: {} does not read it: {e}\n{original:#}",
            std::any::type_name::<T>()
        )
    });
    let again = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        again,
        original.clone(),
        "{what}: {} wrote it back differently",
        std::any::type_name::<T>()
    );
    typed
}

impl Server {
    /// Sends a request and returns the status and the body as JSON (`Null` when empty).
    async fn send(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(b)
            }
            None => Body::empty(),
        };
        let resp = self
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!("{uri}: not JSON ({e}): {}", String::from_utf8_lossy(&bytes))
            })
        };
        (status, v)
    }

    /// One exchange: the body built from its type, the answer checked to be `want` and to
    /// read and write through `T` unchanged.
    async fn call<T: DeserializeOwned + Serialize>(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        body: Option<&dyn erased::Body>,
        want: StatusCode,
    ) -> T {
        self.call_with(method, uri, token, &[], body, want).await
    }

    /// [`Server::call`] with more headers.
    async fn call_with<T: DeserializeOwned + Serialize>(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: Option<&dyn erased::Body>,
        want: StatusCode,
    ) -> T {
        let body = body.map(erased::Body::json);
        let (status, v) = self
            .send(method.clone(), uri, Some(token), headers, body)
            .await;
        assert_eq!(status, want, "{method} {uri}: {v:#}");
        self.seen.lock().unwrap().insert(std::any::type_name::<T>());
        faithful(&format!("{method} {uri}"), &v)
    }

    /// An exchange whose answer has no body.
    async fn bodiless(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        body: Option<String>,
        want: StatusCode,
    ) {
        let (status, v) = self.send(method.clone(), uri, Some(token), &[], body).await;
        assert_eq!((status, v), (want, Value::Null), "{method} {uri}");
    }

    async fn get<T: DeserializeOwned + Serialize>(&self, uri: &str) -> T {
        self.call(Method::GET, uri, &self.read, None, StatusCode::OK)
            .await
    }

    async fn post<T: DeserializeOwned + Serialize>(
        &self,
        uri: &str,
        token: &str,
        body: &dyn erased::Body,
        want: StatusCode,
    ) -> T {
        self.call(Method::POST, uri, token, Some(body), want).await
    }

    fn advance(&self, ms: i64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }

    fn now(&self) -> Timestamp {
        Timestamp(self.clock.load(Ordering::SeqCst))
    }
}

/// Request bodies of any type behind one reference.
mod erased {
    pub trait Body {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Body for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap()
        }
    }
}

fn event(at: EventTime, good: f64, total: f64, labels: &[(&str, &str)]) -> Event {
    Event {
        timestamp: at,
        good,
        total,
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn labels(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn every_answer_reads_and_writes_through_its_type_unchanged() {
    let s = start().await;
    slos_and_their_data(&s).await;
    probes_and_targets(&s).await;
    alerts_and_silences(&s).await;
    let acked = escalations(&s).await;
    oncall(&s).await;
    incidents(&s, &acked).await;
    cli_prints_the_servers_json(&s).await;
    canary(&s).await;
    let allowed = gates(&s).await;
    deploys(&s, allowed).await;
    actions(&s).await;
    reload(&s).await;
    errors(&s).await;

    // Every response type of the API went through the checks above.
    let seen = s.seen.lock().unwrap().clone();
    let expected = [
        std::any::type_name::<SloList>(),
        std::any::type_name::<Slo>(),
        std::any::type_name::<SloSeries>(),
        std::any::type_name::<EventsAccepted>(),
        std::any::type_name::<TransitionList>(),
        std::any::type_name::<ProbeList>(),
        std::any::type_name::<ProbeResults>(),
        std::any::type_name::<HeartbeatReceived>(),
        std::any::type_name::<TargetList>(),
        std::any::type_name::<Vec<GettableAlert>>(),
        std::any::type_name::<Vec<AlertGroup>>(),
        std::any::type_name::<AlertmanagerStatus>(),
        std::any::type_name::<Vec<Receiver>>(),
        std::any::type_name::<Vec<GettableSilence>>(),
        std::any::type_name::<GettableSilence>(),
        std::any::type_name::<SilenceCreated>(),
        std::any::type_name::<WebhookAccepted>(),
        std::any::type_name::<EventResponse>(),
        std::any::type_name::<UserList>(),
        std::any::type_name::<TeamList>(),
        std::any::type_name::<ScheduleList>(),
        std::any::type_name::<OnCallAt>(),
        std::any::type_name::<ShiftList>(),
        std::any::type_name::<Override>(),
        std::any::type_name::<FeedSubscription>(),
        std::any::type_name::<EscalationList>(),
        std::any::type_name::<Escalation>(),
        std::any::type_name::<IncidentList>(),
        std::any::type_name::<Incident>(),
        std::any::type_name::<IncidentMetrics>(),
        std::any::type_name::<headroom_api::canary::Judgement>(),
        std::any::type_name::<headroom_api::delivery::Deploy>(),
        std::any::type_name::<headroom_api::delivery::DeployList>(),
        std::any::type_name::<headroom_api::actions::ActionList>(),
        std::any::type_name::<headroom_api::actions::Run>(),
        std::any::type_name::<headroom_api::actions::RunList>(),
        std::any::type_name::<headroom_api::delivery::DeployDetail>(),
        std::any::type_name::<DoraReport>(),
        std::any::type_name::<headroom_api::gate::GateDecision>(),
        std::any::type_name::<headroom_api::gate::GateDecisionList>(),
        std::any::type_name::<headroom_api::gate::GateOverride>(),
        std::any::type_name::<headroom_api::gate::GateOverrideList>(),
        std::any::type_name::<Reloaded>(),
        std::any::type_name::<ErrorBody>(),
    ];
    let missing: Vec<_> = expected.iter().filter(|t| !seen.contains(*t)).collect();
    assert!(missing.is_empty(), "not exercised: {missing:?}");
}

async fn canary(s: &Server) {
    use headroom_api::canary::{
        CanaryMetric, Classification, Direction, EffectSize, JudgeRequest, Judgement, Samples,
        Thresholds, Verdict,
    };
    let metric = |name: &str, group: &str, baseline: Vec<Option<f64>>, canary: Vec<Option<f64>>| {
        CanaryMetric {
            name: name.into(),
            groups: vec![group.into()],
            direction: Some(Direction::Increase),
            nan_strategy: None,
            outliers: None,
            effect_size: Some(EffectSize {
                measure: None,
                allowed_increase: Some(1.2),
                allowed_decrease: None,
                critical_increase: None,
                critical_decrease: None,
            }),
            critical: false,
            must_have_data: false,
            baseline: Samples::Values(baseline),
            canary: Samples::Values(canary),
        }
    };
    let series = |centre: f64| -> Vec<Option<f64>> {
        (0..15)
            .map(|i| Some(centre + (i % 4) as f64 * 0.25))
            .collect()
    };
    let mut missing = series(5.0);
    missing[3] = None;
    let request = JudgeRequest {
        metrics: vec![
            metric("latency", "perf", series(10.0), series(14.0)),
            metric("errors", "errors", series(5.0), missing),
        ],
        group_weights: [("perf".to_string(), 70.0)].into(),
        thresholds: Some(Thresholds {
            pass: 95.0,
            marginal: 80.0,
        }),
        range: None,
    };
    let j: Judgement = s
        .post("/api/v1/canary/judge", &s.read, &request, StatusCode::OK)
        .await;
    assert_eq!((j.verdict, j.score), (Verdict::Fail, 30.0));
    assert_eq!(j.metrics[0].classification, Classification::High);
    assert_eq!(j.metrics[1].canary.missing, 1);
}

async fn slos_and_their_data(s: &Server) {
    let at = EventTime::UnixSeconds((T0 / 1000 + 10) as f64);
    let text = EventTime::Text("2027-01-15T08:00:20Z".to_string());
    let push = |slo: &'static str, events: Vec<Event>, key: Option<&'static str>| async move {
        let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
        s.call_with::<EventsAccepted>(
            Method::POST,
            &format!("/api/v1/slos/{slo}/events"),
            &s.ingest,
            &headers,
            Some(&EventBatch { events }),
            StatusCode::OK,
        )
        .await
    };
    // Half the checkouts fail: the page tier fires. The same batch again counts nothing.
    for (accepted, duplicate) in [(1, false), (0, true)] {
        let answer = push(
            "checkout-availability",
            vec![event(at.clone(), 50.0, 100.0, &[])],
            Some("batch-1"),
        )
        .await;
        assert_eq!((answer.accepted, answer.duplicate), (accepted, duplicate));
    }
    push(
        "checkout-by-region",
        vec![
            event(at.clone(), 99.0, 100.0, &[("region", "eu")]),
            event(text.clone(), 100.0, 100.0, &[("region", "us")]),
        ],
        None,
    )
    .await;
    for slo in ["checkout-minutes", "checkout-ratio-minutes"] {
        push(slo, vec![event(text.clone(), 97.0, 100.0, &[])], None).await;
    }
    s.advance(MINUTE);
    evaluate(&s.state, None).await;

    let list: SloList = s.get("/api/v1/slos").await;
    let by_id = |id: &str| list.slos.iter().find(|x| x.id == id).unwrap().clone();
    let checkout = by_id("checkout-availability");
    let figures = checkout.standing.figures();
    assert_eq!(
        (figures.good_events, figures.total_events),
        (Some(50.0), Some(100.0))
    );
    assert!(
        figures
            .alerts
            .iter()
            .any(|a| a.name == "page" && a.state == headroom_api::slo::AlertState::Firing),
        "{:?}",
        figures.alerts
    );
    assert!(matches!(
        by_id("search-by-region").standing,
        Standing::NoGroupYet(_)
    ));
    assert_eq!(
        by_id("search-by-region").groups.map(|g| g.len()),
        Some(0),
        "grouped: an empty list of groups"
    );
    let regions: Vec<String> = by_id("checkout-by-region")
        .groups
        .unwrap()
        .iter()
        .map(|g| g.group.clone())
        .collect();
    assert_eq!(regions, ["region=eu", "region=us"]);
    let slices = |id: &str| match by_id(id).standing {
        Standing::Measured(m) => m.measurement.slices,
        Standing::NoGroupYet(_) => None,
    };
    assert!(matches!(
        slices("checkout-minutes"),
        Some(Slices::Counted { .. })
    ));
    assert!(matches!(
        slices("checkout-ratio-minutes"),
        Some(Slices::Ratios { .. })
    ));
    let kinds: BTreeSet<&str> = list
        .slos
        .iter()
        .map(|x| match x.indicator {
            Indicator::Events {} => "events",
            Indicator::Ratio { .. } => "ratio",
            Indicator::Threshold { .. } => "threshold",
            Indicator::RawErrorRatio { .. } => "raw_error_ratio",
            Indicator::Probe { .. } => "probe",
        })
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["events", "probe", "ratio", "threshold"])
    );

    for slo in &list.slos {
        let one: Slo = s.get(&format!("/api/v1/slos/{}", slo.id)).await;
        assert_eq!(&one, slo);
    }
    let series: SloSeries = s
        .get("/api/v1/slos/checkout-availability/series?from=2027-01-15T07:50:00Z&step=5m")
        .await;
    assert_eq!(series.points.len(), 3);
    assert_eq!(series.points[2].t.as_str(), "2027-01-15T08:00:00Z");
    let grouped: SloSeries = s
        .get("/api/v1/slos/checkout-by-region/series?group=region%3Deu&from=2027-01-15T07:00:00Z")
        .await;
    assert_eq!(grouped.group, "region=eu");

    let transitions: TransitionList = s.get("/api/v1/alerts/transitions").await;
    assert!(
        transitions
            .transitions
            .iter()
            .any(|t| t.slo == "checkout-availability"
                && t.to == headroom_api::slo::AlertState::Firing),
        "{:?}",
        transitions.transitions
    );
}

async fn probes_and_targets(s: &Server) {
    let (config, _) = load_config(&ConfigSource::Paths(vec![s.config.clone()])).unwrap();
    let clients = headroom_probe::Clients::new();
    for name in ["web", "db"] {
        let spec = config.probes.iter().find(|p| p.name == name).unwrap();
        let result = headroom_probe::execute(spec, &clients, s.now().0).await;
        s.state.signals.record_probe(name, result);
    }
    let ping: HeartbeatReceived = s
        .post(
            "/api/v1/heartbeats/nightly",
            &s.ingest,
            &serde_json::Map::new(),
            StatusCode::OK,
        )
        .await;
    assert_eq!(ping.received_at.as_str(), "2027-01-15T08:01:30Z");
    let judged = s.state.signals.heartbeats.judge(
        "nightly",
        std::time::Duration::from_secs(3600),
        s.now().0,
    );
    s.state.signals.record_probe("nightly", judged);

    let probes: ProbeList = s.get("/api/v1/probes").await;
    let web = probes.probes.iter().find(|p| p.name == "web").unwrap();
    let last = web.last.as_ref().expect("the web probe ran");
    assert!(last.success, "{last:?}");
    assert_eq!(last.status_code, Some(200));
    let db: ProbeResults = s.get("/api/v1/probes/db/results?limit=5").await;
    assert!(!db.results[0].success);
    assert!(db.results[0].error.is_some(), "{:?}", db.results[0]);
    let _: ProbeResults = s.get("/api/v1/probes/web/results").await;

    // Scrape targets come from the running sources: start them (without the probe fleet, whose
    // runs would race the results above).
    let _ = s.state.deliveries.set(start_delivery(s.state.clone()));
    let mut scrape_only = config.clone();
    scrape_only.probes.clear();
    restart_sources(&s.state, &scrape_only).await;
    let targets: TargetList = s.get("/api/v1/targets").await;
    assert_eq!(targets.targets.len(), 1);
    assert_eq!(targets.targets[0].job, "shop");
}

async fn alerts_and_silences(s: &Server) {
    let alert = |pairs: &[(&str, &str)]| PostableAlert {
        labels: labels(pairs),
        annotations: labels(&[("summary", "the API is down")]),
        starts_at: None,
        ends_at: Some(Time::from("2027-01-16T08:00:00Z")),
        generator_url: Some("http://prometheus.example/graph".to_string()),
    };
    let body = vec![
        alert(&[
            ("alertname", "Down"),
            ("service", "api"),
            ("severity", "page"),
        ]),
        alert(&[
            ("alertname", "Slow"),
            ("service", "api"),
            ("severity", "ticket"),
        ]),
        PostableAlert {
            labels: labels(&[("alertname", "Disk"), ("service", "db")]),
            annotations: Default::default(),
            starts_at: Some(Time::from("2027-01-15T08:00:00Z")),
            ends_at: None,
            generator_url: None,
        },
    ];
    s.bodiless(
        Method::POST,
        "/api/v2/alerts",
        &s.ingest,
        Some(serde_json::to_string(&body).unwrap()),
        StatusCode::OK,
    )
    .await;

    let forwarded = WebhookMessage {
        version: "4".to_string(),
        group_key: "{}:{alertname=\"Forwarded\"}".to_string(),
        truncated_alerts: 0,
        status: NotificationStatus::Firing,
        receiver: "upstream".to_string(),
        group_labels: labels(&[("alertname", "Forwarded")]),
        common_labels: labels(&[("alertname", "Forwarded")]),
        common_annotations: Default::default(),
        external_url: "http://alertmanager.example".to_string(),
        alerts: vec![WebhookAlert {
            status: NotificationStatus::Firing,
            labels: labels(&[("alertname", "Forwarded"), ("service", "mail")]),
            annotations: Default::default(),
            starts_at: Time::from("2027-01-15T07:59:00Z"),
            ends_at: Time::from("0001-01-01T00:00:00Z"),
            generator_url: String::new(),
            fingerprint: "0123456789abcdef".to_string(),
        }],
    };
    let accepted: WebhookAccepted = s
        .post(
            "/api/v1/integrations/alertmanager",
            &s.ingest,
            &forwarded,
            StatusCode::OK,
        )
        .await;
    assert_eq!(accepted.alerts, 1);

    let trigger = PagerDutyEvent {
        routing_key: ROUTING_KEY.to_string(),
        event_action: EventAction::Trigger,
        dedup_key: Some("nightly-backup".to_string()),
        payload: Some(EventPayload {
            summary: "Backup failed".to_string(),
            source: "cron-1".to_string(),
            severity: EventSeverity::Error,
            timestamp: Some(Time::from("2027-01-15T08:01:00Z")),
            component: Some("backup".to_string()),
            group: None,
            class: Some("BackupFailed".to_string()),
            custom_details: Some(serde_json::json!({"exit": 2, "disk": "full"})),
        }),
        client: Some("cron".to_string()),
        client_url: None,
        links: vec![EventLink {
            href: "http://runbooks.example/backup".to_string(),
            text: Some("runbook".to_string()),
        }],
    };
    let ok: EventResponse = s
        .post("/v2/enqueue", "", &trigger, StatusCode::ACCEPTED)
        .await;
    assert_eq!(ok.dedup_key.as_deref(), Some("nightly-backup"));
    let refused: EventResponse = s
        .post(
            "/v2/enqueue",
            "",
            &PagerDutyEvent {
                routing_key: "short".to_string(),
                payload: None,
                ..trigger.clone()
            },
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert!(refused.errors.is_some_and(|e| e.len() >= 2));
    let acknowledge = PagerDutyEvent {
        event_action: EventAction::Acknowledge,
        payload: None,
        links: Vec::new(),
        client: None,
        ..trigger.clone()
    };
    let _: EventResponse = s
        .post("/v2/enqueue", "", &acknowledge, StatusCode::ACCEPTED)
        .await;

    // Silences: one muting the forwarded alert (then moved in place), one pending, one expired.
    let matcher = |name: &str, value: &str, is_regex: bool| Matcher {
        name: name.to_string(),
        value: value.to_string(),
        is_regex,
        is_equal: true,
    };
    let silence = |matchers, starts: &str, ends: &str| PostableSilence {
        id: None,
        matchers,
        starts_at: Time::from(starts),
        ends_at: Time::from(ends),
        created_by: "alice".to_string(),
        comment: "mail relay swap".to_string(),
    };
    let muting = silence(
        vec![matcher("alertname", "Forwarded", false)],
        "2027-01-15T08:00:00Z",
        "2027-01-15T10:00:00Z",
    );
    let created: SilenceCreated = s
        .post("/api/v2/silences", &s.respond, &muting, StatusCode::OK)
        .await;
    // Moving only its end keeps the silence (and its id): the start must be the stored one.
    let stored: GettableSilence = s
        .get(&format!("/api/v2/silence/{}", created.silence_id))
        .await;
    let moved: SilenceCreated = s
        .post(
            "/api/v2/silences",
            &s.respond,
            &PostableSilence {
                id: Some(created.silence_id.clone()),
                starts_at: stored.starts_at,
                ends_at: Time::from("2027-01-15T11:00:00Z"),
                ..muting.clone()
            },
            StatusCode::OK,
        )
        .await;
    assert_eq!(moved.silence_id, created.silence_id, "updated in place");
    let _: SilenceCreated = s
        .post(
            "/api/v2/silences",
            &s.respond,
            &silence(
                vec![
                    matcher("service", "db|web", true),
                    Matcher {
                        is_equal: false,
                        ..matcher("env", "staging", false)
                    },
                ],
                "2027-01-16T00:00:00Z",
                "2027-01-16T06:00:00Z",
            ),
            StatusCode::OK,
        )
        .await;
    let doomed: SilenceCreated = s
        .post(
            "/api/v2/silences",
            &s.respond,
            &silence(
                vec![matcher("alertname", "Disk", false)],
                "2027-01-15T08:00:00Z",
                "2027-01-15T09:00:00Z",
            ),
            StatusCode::OK,
        )
        .await;
    let expire = format!("/api/v2/silence/{}", doomed.silence_id);
    s.bodiless(Method::DELETE, &expire, &s.respond, None, StatusCode::OK)
        .await;
    let silences: Vec<GettableSilence> = s.get("/api/v2/silences").await;
    let states: BTreeSet<String> = silences
        .iter()
        .map(|x| format!("{:?}", x.status.state))
        .collect();
    assert_eq!(
        states,
        BTreeSet::from(["Active".into(), "Expired".into(), "Pending".into()])
    );
    let one: GettableSilence = s
        .get(&format!("/api/v2/silence/{}", created.silence_id))
        .await;
    assert_eq!(one.status.state, SilenceState::Active);
    assert_eq!(one.ends_at.as_str(), "2027-01-15T11:00:00.000Z");

    let alerts: Vec<GettableAlert> = s.get("/api/v2/alerts").await;
    let by_name = |name: &str| {
        alerts
            .iter()
            .find(|a| a.labels["alertname"] == name)
            .unwrap_or_else(|| panic!("{name} in {alerts:?}"))
    };
    assert_eq!(
        by_name("Forwarded").status.silenced_by,
        std::slice::from_ref(&created.silence_id)
    );
    assert_eq!(by_name("Slow").status.inhibited_by.len(), 1);
    assert_eq!(
        by_name("Down").receivers,
        [Receiver {
            name: "pager".into()
        }]
    );
    assert_eq!(by_name("BackupFailed").annotations["client"], "cron");
    let _: Vec<GettableAlert> = s
        .get("/api/v2/alerts?filter=service%3D%22api%22&silenced=false")
        .await;
    let groups: Vec<AlertGroup> = s.get("/api/v2/alerts/groups").await;
    assert!(groups.iter().any(|g| g.receiver.name == "pager"));
    // The config as written for admin tokens only: others see notification URLs redacted.
    let status: AlertmanagerStatus = s.get("/api/v2/status").await;
    assert!(!status.config.original.contains("/pager"), "redacted");
    let as_admin: AlertmanagerStatus = s
        .call(
            Method::GET,
            "/api/v2/status",
            &s.admin,
            None,
            StatusCode::OK,
        )
        .await;
    assert!(as_admin.config.original.contains("/pager"));
    let receivers: Vec<Receiver> = s.get("/api/v2/receivers").await;
    assert_eq!(receivers.len(), 2);
}

/// Pages through the `pager` receiver (the `Down` alert and the SLOs' page-tier burns);
/// acknowledges `Down`'s escalation (returned) and resolves the others.
async fn escalations(s: &Server) -> Escalation {
    dispatch_round(&s.state).await;
    escalation_round(&s.state).await;
    s.advance(10 * MINUTE);
    escalation_round(&s.state).await;
    let open: EscalationList = s.get("/api/v1/escalations?open=true").await;
    assert!(open.escalations.len() >= 2, "{:?}", open.escalations);
    let down = open
        .escalations
        .iter()
        .find(|e| e.group_labels.get("alertname").map(String::as_str) == Some("Down"))
        .unwrap();
    assert_eq!(down.pages.len(), 2, "{:?}", down.pages);
    let one: Escalation = s.get(&format!("/api/v1/escalations/{}", down.id)).await;
    assert_eq!(&one, down);

    let acked: Escalation = s
        .post(
            &format!("/api/v1/escalations/{}/ack", down.id),
            &s.respond,
            &Responder {
                by: Some("carol".to_string()),
            },
            StatusCode::OK,
        )
        .await;
    assert_eq!(acked.state, EscalationState::Acknowledged);
    assert_eq!(acked.acknowledged_by.as_deref(), Some("carol"));
    for other in open.escalations.iter().filter(|e| e.id != down.id) {
        let resolved: Escalation = s
            .post(
                &format!("/api/v1/escalations/{}/resolve", other.id),
                &s.respond,
                &Responder::default(),
                StatusCode::OK,
            )
            .await;
        assert_eq!(resolved.state, EscalationState::Resolved);
        assert_eq!(
            resolved.resolved_by.as_deref(),
            Some("respond"),
            "the token's name"
        );
    }
    let open: EscalationList = s.get("/api/v1/escalations").await;
    assert_eq!(
        open.escalations,
        std::slice::from_ref(&acked),
        "acknowledged ones stay open"
    );
    acked
}

async fn oncall(s: &Server) {
    let users: UserList = s.get("/api/v1/users").await;
    assert_eq!(users.users.len(), 3);
    let teams: TeamList = s.get("/api/v1/teams").await;
    assert_eq!(teams.teams[0].members.len(), 2);
    let schedules: ScheduleList = s.get("/api/v1/schedules").await;
    assert_eq!(
        schedules.schedules[0]
            .oncall_now
            .as_ref()
            .map(|u| u.id.as_str()),
        Some("bob")
    );

    let now: OnCallAt = s.get("/api/v1/schedules/primary/oncall").await;
    assert!(
        matches!(now.source, Some(ShiftSource::Layer { .. })),
        "{now:?}"
    );
    let swapped: OnCallAt = s
        .get("/api/v1/schedules/primary/oncall?at=2027-01-16T10:00:00Z")
        .await;
    assert_eq!(
        swapped.source,
        Some(ShiftSource::Override {
            id: "swap-1".into(),
            from_config: true
        })
    );
    // Saturday: the office schedule covers weekdays only.
    let nobody: OnCallAt = s
        .get("/api/v1/schedules/office/oncall?at=2027-01-16T12:00:00Z")
        .await;
    assert_eq!((nobody.user, nobody.source), (None, None));
    let shifts: ShiftList = s
        .get("/api/v1/schedules/primary/shifts?from=2027-01-15T00:00:00Z&to=2027-01-17T00:00:00Z")
        .await;
    assert!(shifts.shifts.len() >= 4, "{:?}", shifts.shifts);

    let added: Override = s
        .post(
            "/api/v1/schedules/primary/overrides",
            &s.respond,
            &NewOverride {
                user: "alice".into(),
                start: Time::from("2027-01-15T12:00:00Z"),
                end: Time::from("2027-01-15T14:00:00Z"),
                by: Some("bob".into()),
            },
            StatusCode::CREATED,
        )
        .await;
    let covered: OnCallAt = s
        .get("/api/v1/schedules/primary/oncall?at=2027-01-15T13:00:00Z")
        .await;
    assert_eq!(
        covered.source,
        Some(ShiftSource::Override {
            id: added.id.clone(),
            from_config: false
        })
    );
    let remove = format!("/api/v1/overrides/{}", added.id);
    s.bodiless(
        Method::DELETE,
        &remove,
        &s.respond,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let refused: ErrorBody = s
        .call(
            Method::DELETE,
            "/api/v1/overrides/swap-1",
            &s.respond,
            None,
            StatusCode::CONFLICT,
        )
        .await;
    assert_eq!(refused.error, "conflict");

    for feed in ["users/alice", "schedules/primary"] {
        let sub: FeedSubscription = s
            .post(
                &format!("/api/v1/{feed}/calendar-key"),
                &s.respond,
                &serde_json::Map::new(),
                StatusCode::OK,
            )
            .await;
        assert!(sub.url.contains("/calendars/"), "{sub:?}");
    }
}

async fn incidents(s: &Server, acked: &Escalation) {
    // The policy opened incident 1 for the `Down` alert; its page's acknowledgement reached it.
    let opened: Incident = s.get("/api/v1/incidents/1").await;
    assert_eq!(opened.title, "Down");
    assert_eq!(
        opened.status,
        IncidentStatus::Acknowledged,
        "by {}",
        acked.id
    );

    let declared: Incident = s
        .post(
            "/api/v1/incidents",
            &s.respond,
            &Declaration {
                title: "Checkout errors".into(),
                severity: "sev2".into(),
                services: vec!["checkout".into()],
                slos: vec!["checkout-availability".into()],
                started_at: Some("2027-01-15T07:55:00Z".into()),
                commander: Some("alice".into()),
                deploy: None,
                version: Some("v1.4.2".into()),
                not_caused_by_change: false,
            },
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(declared.severity, Severity::Sev2);
    let uri = |op: &str| format!("/api/v1/incidents/{}/{op}", declared.id);
    let empty = serde_json::Map::new();
    let status = StatusChange {
        status: "investigating".into(),
    };
    let severity = SeverityChange {
        severity: "SEV1".into(),
    };
    let role = RoleAssignment {
        role: "Scribe".into(),
        user: "carol".into(),
    };
    let note = Note {
        text: "rolled back the 07:50 deploy".into(),
    };
    let impact = ImpactStart {
        started_at: "2027-01-15T07:50:00Z".into(),
    };
    let item = |text: &str, owner: Option<&str>, due: Option<&str>| NewActionItem {
        text: text.into(),
        owner: owner.map(Into::into),
        due: due.map(Into::into),
    };
    let (first, second) = (
        item(
            "Alert on deploy error rate",
            Some("alice"),
            Some("2027-02-01"),
        ),
        item("Canary the payment client", None, None),
    );
    let operations: [(&str, &dyn erased::Body, StatusCode); 8] = [
        ("acknowledge", &empty, StatusCode::OK),
        ("status", &status, StatusCode::OK),
        ("severity", &severity, StatusCode::OK),
        ("roles", &role, StatusCode::OK),
        ("notes", &note, StatusCode::OK),
        ("impact-start", &impact, StatusCode::OK),
        ("action-items", &first, StatusCode::CREATED),
        ("action-items", &second, StatusCode::CREATED),
    ];
    for (op, body, want) in operations {
        let _: Incident = s.post(&uri(op), &s.respond, body, want).await;
    }
    let patched: Incident = s
        .call(
            Method::PATCH,
            &uri("action-items/1"),
            &s.respond,
            Some(&ActionItemPatch {
                status: Some(ActionItemStatus::Done),
                owner: Some(None),
                due: Some(Some("2027-02-15T00:00:00Z".into())),
                ..Default::default()
            }),
            StatusCode::OK,
        )
        .await;
    let item = &patched.action_items[0];
    assert_eq!(
        (item.status, item.owner.clone()),
        (ActionItemStatus::Done, None)
    );
    let attributed: Incident = s
        .call(
            Method::PUT,
            &uri("attribution"),
            &s.respond,
            Some(&Cause {
                not_caused_by_change: true,
                ..Cause::default()
            }),
            StatusCode::OK,
        )
        .await;
    assert!(attributed.cause.not_caused_by_change);
    let resolved: Incident = s
        .post(&uri("resolve"), &s.respond, &empty, StatusCode::OK)
        .await;
    assert_eq!(resolved.status, IncidentStatus::Resolved);

    let kinds: BTreeSet<String> = resolved
        .timeline
        .iter()
        .flatten()
        .chain(opened.timeline.iter().flatten())
        .map(|e| {
            serde_json::to_value(&e.event).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for kind in [
        "declared",
        "alert",
        "page",
        "acknowledged",
        "status_changed",
        "severity_changed",
        "role_assigned",
        "impact_start_changed",
        "action_item_added",
        "action_item_updated",
        "attributed",
        "note",
    ] {
        assert!(kinds.contains(kind), "no {kind} entry in {kinds:?}");
    }
    let impact = resolved
        .timeline
        .as_ref()
        .unwrap()
        .iter()
        .find_map(|e| match e.event {
            TimelineEvent::ImpactStartChanged { from, to } => Some((from, to)),
            _ => None,
        });
    assert_eq!(
        impact,
        Some((T0 - 5 * MINUTE, T0 - 10 * MINUTE)),
        "unix milliseconds"
    );

    // Open ones: the policy's (`Down`, and `Slow` in an incident of its own), not the resolved.
    let open: IncidentList = s.get("/api/v1/incidents").await;
    let ids: Vec<i64> = open.incidents.iter().map(|i| i.id).collect();
    assert!(ids.contains(&1) && !ids.contains(&declared.id), "{ids:?}");
    assert!(
        open.incidents[0].timeline.is_none(),
        "lists carry no timeline"
    );
    let all: IncidentList = s.get("/api/v1/incidents?status=all").await;
    assert_eq!(all.incidents.len(), ids.len() + 1);
    // Metrics count the incidents opened before `to` (now, by default).
    s.advance(MINUTE);
    let metrics: IncidentMetrics = s.get("/api/v1/incidents/metrics").await;
    assert_eq!(
        metrics.mtta.counted + metrics.mtta.excluded,
        all.incidents.len() as u64
    );
    assert_eq!(metrics.mttr.counted, 1);
    let team: IncidentMetrics = s
        .get("/api/v1/incidents/metrics?team=payments&service=checkout")
        .await;
    assert_eq!(team.team_services, Some(vec!["checkout".to_string()]));

    let refused: ErrorBody = s
        .call(
            Method::POST,
            &uri("acknowledge"),
            &s.respond,
            None,
            StatusCode::CONFLICT,
        )
        .await;
    assert!(refused.detail.contains("acknowledged"), "{refused:?}");
}

/// `headroom … --output json` prints the server's answer pretty-printed, as it did when it
/// printed the server's JSON as it came: the typed answer written back is that JSON.
async fn cli_prints_the_servers_json(s: &Server) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    let app = s.app.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let at = "2027-01-16T10:00:00Z";
    let oncall = format!("/api/v1/schedules/primary/oncall?at={at}");
    // The arguments, the endpoint, and the part of its answer the CLI prints.
    type Case<'a> = (&'a [&'a str], &'a str, fn(Value) -> Value);
    let cases: [Case; 5] = [
        (&["slo", "list"], "/api/v1/slos", |v| v["slos"].clone()),
        (
            &["slo", "get", "checkout-availability"],
            "/api/v1/slos/checkout-availability",
            |v| v,
        ),
        (
            &["incident", "list", "--all"],
            "/api/v1/incidents?status=all",
            |v| v["incidents"].clone(),
        ),
        (&["silence", "list", "--expired"], "/api/v2/silences", |v| v),
        (
            &["oncall", "who", "--schedule", "primary", "--at", at],
            &oncall,
            |v| Value::Array(vec![v]),
        ),
    ];
    for (args, uri, printed) in cases {
        let (status, v) = s.send(Method::GET, uri, Some(&s.read), &[], None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        let want = format!("{}\n", serde_json::to_string_pretty(&printed(v)).unwrap());
        let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_headroom"));
        cli.args(args)
            .args(["--output", "json", "--server", &server, "--token", &s.read]);
        let out = tokio::task::spawn_blocking(move || cli.output().unwrap())
            .await
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert_eq!(String::from_utf8(out.stdout).unwrap(), want, "{args:?}");
    }
}

/// The checkout SLOs burn (their page tier fires): the gate denies, an override opens it, and
/// the allow it gave is returned for a deploy to name.
async fn gates(s: &Server) -> i64 {
    use headroom_api::gate::{
        GateDecision, GateDecisionList, GateOverride, GateOverrideList, GateRule, GateVerdict,
        NewGateOverride,
    };
    let denied: GateDecision = s
        .call(
            Method::GET,
            "/api/v1/gates/checkout?environment=production&label=canary",
            &s.read,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(denied.decision, GateVerdict::Deny);
    assert_eq!(denied.labels, ["canary"]);
    assert_eq!(denied.actor, "read");
    assert!(
        denied.reasons.iter().any(|r| r.rule == GateRule::PageAlert
            && r.denies
            && r.alert.as_deref() == Some("page")),
        "{denied:?}"
    );
    let until = headroom_core::Timestamp(s.clock.load(Ordering::SeqCst) + 3_600_000).to_rfc3339();
    let over: GateOverride = s
        .call(
            Method::POST,
            "/api/v1/gates/checkout/overrides",
            &s.respond,
            Some(&NewGateOverride {
                environment: "production".into(),
                reason: "payment provider migration".into(),
                until: until.clone(),
                approver: Some("alice".into()),
            }),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(
        (over.approver.as_str(), over.created_by.as_str()),
        ("alice", "respond")
    );
    let allowed: GateDecision = s.get("/api/v1/gates/checkout").await;
    assert_eq!(allowed.decision, GateVerdict::Allow);
    assert_eq!(allowed.override_id, Some(over.id));
    let list: GateDecisionList = s
        .get("/api/v1/gates/checkout/decisions?environment=production&limit=5")
        .await;
    assert_eq!(list.decisions, [allowed.clone(), denied]);
    let revoked: GateOverride = s
        .call(
            Method::DELETE,
            &format!("/api/v1/gates/checkout/overrides/{}", over.id),
            &s.respond,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(revoked.revoked_by.as_deref(), Some("respond"));
    let overrides: GateOverrideList = s.get("/api/v1/gates/checkout/overrides").await;
    assert_eq!(overrides.overrides, [revoked]);
    allowed.decision_id
}

async fn actions(s: &Server) {
    use headroom_api::actions::{ActionList, Rejection, Run, RunByHand, RunList, RunState};
    let listed: ActionList = s.get("/api/v1/actions").await;
    assert_eq!(listed.actions[0].headers, ["X-Key"]);
    let by_hand = RunByHand {
        context: Some(serde_json::Map::from_iter([(
            "host".to_string(),
            json!("web-1"),
        )])),
        dry_run: None,
    };
    let uri = "/api/v1/actions/rollback/runs";
    let first: Run = s.post(uri, &s.respond, &by_hand, StatusCode::CREATED).await;
    assert_eq!(first.state, RunState::AwaitingApproval);
    let second: Run = s
        .post(uri, &s.respond, &RunByHand::default(), StatusCode::CREATED)
        .await;
    let approved: Run = s
        .post(
            &format!("/api/v1/actions/runs/{}/approve", first.id),
            &s.respond,
            &json!({}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(approved.state, RunState::Queued);
    let rejection = Rejection {
        reason: "not now".into(),
    };
    let rejected: Run = s
        .post(
            &format!("/api/v1/actions/runs/{}/reject", second.id),
            &s.respond,
            &rejection,
            StatusCode::OK,
        )
        .await;
    assert_eq!(rejected.reason.as_deref(), Some("not now"));
    let runs: RunList = s.get("/api/v1/actions/runs?action=rollback").await;
    assert!(runs.runs.len() >= 2);
    let one: Run = s.get(&format!("/api/v1/actions/runs/{}", first.id)).await;
    assert_eq!(one.id, first.id);
}

async fn deploys(s: &Server, gate_decision: i64) {
    use headroom_api::delivery::{Deploy, DeployDetail, DeployList, DeployReport, ReportedCommit};
    let report = DeployReport {
        service: "checkout".into(),
        environment: None,
        version: Some("2.0.1".into()),
        sha: "c".repeat(40),
        started: Some("2027-01-10T09:58:00Z".into()),
        finished: Some("2027-01-10T10:00:00Z".into()),
        status: Some("failure".into()),
        labels: vec!["rollback".into()],
        changes: Some(vec!["b".repeat(40), "c".repeat(40)]),
        commits: vec![ReportedCommit {
            sha: "c".repeat(40),
            parents: vec!["b".repeat(40)],
            authored: "2027-01-09T10:00:00Z".into(),
            committed: "2027-01-09T11:00:00Z".into(),
            files: Some(vec!["src/main.rs".into()]),
        }],
        source: Some("cli".into()),
        idempotency_key: Some("run-9".into()),
        gate_decision_id: Some(gate_decision),
    };
    let made: Deploy = s
        .call(
            Method::POST,
            "/api/v1/deployments",
            &s.ingest,
            Some(&report),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(made.environment, "production");
    assert_eq!(
        made.gate_decision.as_ref().map(|g| g.decision_id),
        Some(gate_decision)
    );
    assert_eq!(
        made.started.as_ref().map(|t| t.as_str()),
        Some("2027-01-10T09:58:00Z")
    );
    let list: DeployList = s
        .call(
            Method::GET,
            "/api/v1/deployments?service=checkout",
            &s.read,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(list.deploys, std::slice::from_ref(&made));
    let one: DeployDetail = s
        .call(
            Method::GET,
            &format!("/api/v1/deployments/{}", made.id),
            &s.read,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(one.deploy, made);
    let dora: DoraReport = s
        .call(
            Method::GET,
            "/api/v1/dora?service=checkout&from=2027-01-01&to=2027-01-15",
            &s.read,
            None,
            StatusCode::OK,
        )
        .await;
    // The one deploy reported failed: none counted, so no rate and no tier.
    assert_eq!(dora.metrics.deployment_frequency.deployments, 0);
    assert_eq!(dora.metrics.change_failure_rate.rate, None);
    assert_eq!(dora.weeks.len(), 3);
}

async fn reload(s: &Server) {
    let done: Reloaded = s
        .call(Method::POST, "/-/reload", &s.admin, None, StatusCode::OK)
        .await;
    assert_eq!(done.slos, 8);
    let text = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(&s.config, text.replace("objective: 99.5", "objective: 100")).unwrap();
    let refused: ErrorBody = s
        .call(
            Method::POST,
            "/-/reload",
            &s.admin,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert!(refused.detail.contains("headroom.yaml"), "{refused:?}");
    std::fs::write(&s.config, text).unwrap();
}

async fn errors(s: &Server) {
    use StatusCode as S;
    let read = s.read.as_str();
    for (method, uri, token, want) in [
        (Method::GET, "/api/v1/slos", "", S::UNAUTHORIZED),
        (Method::POST, "/-/reload", read, S::FORBIDDEN),
        (Method::GET, "/api/v1/slos/nope", read, S::NOT_FOUND),
        (Method::PUT, "/api/v1/slos", read, S::METHOD_NOT_ALLOWED),
        (
            Method::GET,
            "/api/v1/slos/web-fast/series?step=0",
            read,
            S::BAD_REQUEST,
        ),
    ] {
        let e: ErrorBody = s.call(method, uri, token, None, want).await;
        assert!(!e.detail.is_empty(), "{uri}");
    }
}
