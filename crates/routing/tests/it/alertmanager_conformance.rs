//! The dispatcher against a real Alertmanager 0.25 (Debian's `prometheus-alertmanager`).
//!
//! One configuration (nested routes, `continue`, `group_by` by labels and `['...']`, three
//! webhook receivers with and without `send_resolved`, an inhibit rule, 1 s / 2 s / 1 h timers)
//! is written as YAML for Alertmanager and built as routing types for the [`Dispatcher`]. The
//! same alerts are posted to both at the same offsets (even seconds, so that every group flush,
//! which falls on odd seconds, is a second away from any post), a silence holds one alert back
//! until it is expired, and finally the configuration is reloaded with one route added.
//! Alertmanager's webhooks are recorded, and both must produce the same notifications per
//! (receiver, group key): the same alerts (fingerprint and status) in the same order, flush
//! after flush, each within a fraction of a second of the simulated instant.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use headroom_routing::alert::PostableAlert;
use headroom_routing::dispatch::{DispatchConfig, Dispatcher, Receiver};
use headroom_routing::inhibit::InhibitRule;
use headroom_routing::label_set;
use headroom_routing::matcher::parse_matchers;
use headroom_routing::route::{GroupBy, Route};
use headroom_routing::silence::Silence;
use serde_json::{Value, json};

const BINARY: &str = "/usr/bin/prometheus-alertmanager";

/// What identifies a notification stream: receiver and group key.
type Stream = (String, String);
/// One notification: its alerts as (fingerprint, status), in order.
type Sent = Vec<(String, String)>;
/// When each notification of a stream went out, in seconds after the first post.
type Times = BTreeMap<Stream, Vec<f64>>;

/// How far a real notification may be from its simulated instant: posts and flushes are a
/// second apart, so this only absorbs scheduling and HTTP latency.
const TIME_TOLERANCE: f64 = 0.6;

const CONFIG: &str = r#"
global:
  resolve_timeout: 5m
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
  routes:
    # RELOADED_ROUTE
    - receiver: db-pager
      matchers: ['team="db"']
      group_by: [alertname, cluster]
      continue: true
      routes:
        - matchers: ['severity="critical"']
    - receiver: audit
      matchers: ['team=~"db|web"']
      group_by: ['...']
receivers:
  - name: default
    webhook_configs:
      - url: http://127.0.0.1:HOOK_PORT/default
        send_resolved: true
  - name: db-pager
    webhook_configs:
      - url: http://127.0.0.1:HOOK_PORT/db-pager
        send_resolved: false
  - name: audit
    webhook_configs:
      - url: http://127.0.0.1:HOOK_PORT/audit
        send_resolved: true
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [cluster]
"#;

/// The route the reloaded configuration adds in front of the others.
const RELOADED_ROUTE: &str = "- receiver: audit\n      matchers: ['instance=\"x2\"']";

/// Alertmanager's configuration file, before or after the reload.
fn config_yaml(hook_port: u16, reloaded: bool) -> String {
    let extra = if reloaded { RELOADED_ROUTE } else { "" };
    CONFIG
        .replace("HOOK_PORT", &hook_port.to_string())
        .replace("# RELOADED_ROUTE", extra)
}

/// The same configuration as routing types.
fn dispatch_config(reloaded: bool) -> DispatchConfig {
    let labels = |names: &[&str]| GroupBy::Labels(names.iter().map(|s| s.to_string()).collect());
    let route = Route {
        receiver: Some("default".into()),
        group_by: Some(labels(&["alertname"])),
        group_wait: Some(Duration::from_secs(1)),
        group_interval: Some(Duration::from_secs(2)),
        repeat_interval: Some(Duration::from_secs(3600)),
        routes: vec![
            Route {
                receiver: Some("db-pager".into()),
                matchers: parse_matchers(r#"team="db""#).unwrap(),
                group_by: Some(labels(&["alertname", "cluster"])),
                continue_: true,
                routes: vec![Route {
                    matchers: parse_matchers(r#"severity="critical""#).unwrap(),
                    ..Route::default()
                }],
                ..Route::default()
            },
            Route {
                receiver: Some("audit".into()),
                matchers: parse_matchers(r#"team=~"db|web""#).unwrap(),
                group_by: Some(GroupBy::All),
                ..Route::default()
            },
        ],
        ..Route::default()
    };
    let mut route = route;
    if reloaded {
        let moved = Route {
            receiver: Some("audit".into()),
            matchers: parse_matchers(r#"instance="x2""#).unwrap(),
            ..Route::default()
        };
        route.routes.insert(0, moved);
    }
    let mut config = DispatchConfig::new(
        route,
        vec![
            Receiver::new("default", true),
            Receiver::new("db-pager", false),
            Receiver::new("audit", true),
        ],
    );
    config.inhibit_rules = vec![InhibitRule {
        source_matchers: parse_matchers(r#"severity="critical""#).unwrap(),
        target_matchers: parse_matchers(r#"severity="warning""#).unwrap(),
        equal: vec!["cluster".into()],
    }];
    config
}

/// One posted alert: its labels and whether it is posted as resolved (`endsAt` = now).
struct Post {
    labels: Vec<(&'static str, &'static str)>,
    resolve: bool,
}

fn fire(labels: &[(&'static str, &'static str)]) -> Post {
    Post {
        labels: labels.to_vec(),
        resolve: false,
    }
}

fn resolve(labels: &[(&'static str, &'static str)]) -> Post {
    Post {
        labels: labels.to_vec(),
        resolve: true,
    }
}

/// The silenced alert's instance.
const SILENCED: &str = "web9";
/// When the silence is expired, in seconds after the first post.
const SILENCE_EXPIRED_AT: u64 = 4;

/// The scripted sequence: (offset in seconds, alerts posted together).
fn script() -> Vec<(u64, Vec<Post>)> {
    let a1 = [
        ("alertname", "DiskFull"),
        ("team", "db"),
        ("cluster", "c1"),
        ("severity", "critical"),
        ("instance", "db1"),
    ];
    // Inhibited by a1 (then a3) until both resolve.
    let a2 = [
        ("alertname", "DiskFull"),
        ("team", "db"),
        ("cluster", "c1"),
        ("severity", "warning"),
        ("instance", "db2"),
    ];
    let a3 = [
        ("alertname", "DiskFull"),
        ("team", "db"),
        ("cluster", "c1"),
        ("severity", "critical"),
        ("instance", "db3"),
    ];
    let b1 = [
        ("alertname", "HighLatency"),
        ("team", "web"),
        ("cluster", "c2"),
        ("severity", "warning"),
        ("instance", "web1"),
    ];
    // Silenced until the silence is expired.
    let d1 = [
        ("alertname", "Deploy"),
        ("team", "web"),
        ("instance", SILENCED),
    ];
    let c1 = [("alertname", "Other"), ("team", "ops"), ("instance", "x1")];
    let c2 = [("alertname", "Other"), ("team", "ops"), ("instance", "x2")];
    vec![
        (
            0,
            vec![fire(&a1), fire(&a2), fire(&b1), fire(&c1), fire(&d1)],
        ),
        (2, vec![fire(&c2), fire(&a3)]),
        (4, vec![resolve(&a1), resolve(&c1)]),
        (6, vec![resolve(&a3)]),
    ]
}

/// Seconds after the first post by which every notification has been sent.
const SETTLED_AT: u64 = 10;
/// When the configuration is reloaded with [`RELOADED_ROUTE`]: the groups are rebuilt, the
/// moved alert is news to its new receiver, its old group is left with only a resolved alert,
/// and everything else was already notified.
const RELOAD_AT: u64 = 8;

/// The dispatcher's notifications for the script, on a simulated clock.
fn simulate() -> (BTreeMap<Stream, Vec<Sent>>, Times) {
    let t0 = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
    let at = |s: u64| t0 + chrono::Duration::seconds(s as i64);
    let mut dispatcher = Dispatcher::new(dispatch_config(false), t0).unwrap();
    let silences = [Silence {
        id: "maintenance".into(),
        matchers: parse_matchers(&format!(r#"instance="{SILENCED}""#)).unwrap(),
        starts_at: t0 - chrono::Duration::seconds(1),
        ends_at: at(SILENCE_EXPIRED_AT),
        created_by: "conformance".into(),
        comment: "held back until expired".into(),
    }];
    let mut out: BTreeMap<Stream, Vec<Sent>> = BTreeMap::new();
    let mut times = Times::new();
    let mut flush_until = |d: &mut Dispatcher, until: DateTime<Utc>| {
        while let Some(due) = d.next_wakeup().filter(|due| *due <= until) {
            for n in d.flush_due(due, &silences) {
                let sent = n
                    .alerts
                    .iter()
                    .map(|a| (a.fingerprint().to_string(), a.status(n.at).to_string()))
                    .collect();
                let stream = (n.receiver, n.group_key);
                let secs = (n.at - t0).num_milliseconds() as f64 / 1000.0;
                times.entry(stream.clone()).or_default().push(secs);
                out.entry(stream).or_default().push(sent);
            }
        }
    };
    for (offset, posts) in script() {
        let now = at(offset);
        flush_until(&mut dispatcher, now);
        for post in posts {
            let alert = PostableAlert {
                labels: label_set(post.labels.iter().copied()),
                ends_at: post.resolve.then_some(now),
                ..PostableAlert::default()
            };
            dispatcher.post(alert, now).unwrap();
        }
    }
    flush_until(&mut dispatcher, at(RELOAD_AT));
    dispatcher
        .reload(dispatch_config(true), at(RELOAD_AT))
        .unwrap();
    flush_until(&mut dispatcher, at(SETTLED_AT));
    (out, times)
}

/// Kills the Alertmanager process when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal HTTP/1.1 exchange; returns the status code and body.
fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((status, body))
}

/// Reads one request from a webhook connection and answers 200; returns the body.
fn read_webhook(mut stream: TcpStream) -> Option<String> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .ok()?;
    Some(String::from_utf8_lossy(&buf[header_end..header_end + length]).into_owned())
}

fn start_alertmanager(dir: &Path, hook_port: u16) -> (Running, u16) {
    let config = dir.join("alertmanager.yml");
    std::fs::write(&config, config_yaml(hook_port, false)).unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.join("alertmanager.log")).unwrap();
    let child = Command::new(BINARY)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--web.external-url=http://127.0.0.1:{port}/"))
        .arg("--cluster.listen-address=")
        .arg("--log.level=debug")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {BINARY}: {e}"));
    let running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok((200, _)) = http(port, "GET", "/-/ready", "") {
            return (running, port);
        }
        assert!(
            Instant::now() < deadline,
            "Alertmanager not ready within 15 s; log:\n{}",
            std::fs::read_to_string(dir.join("alertmanager.log")).unwrap_or_default()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

fn post_json(post: &Post) -> Value {
    let labels: serde_json::Map<String, Value> = post
        .labels
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let mut alert = json!({ "labels": labels });
    if post.resolve {
        alert["endsAt"] = json!(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true));
    }
    alert
}

/// Creates the silence of the script and returns its id.
fn create_silence(port: u16) -> String {
    let now = Utc::now();
    let body = json!({
        "matchers": [{ "name": "instance", "value": SILENCED, "isRegex": false, "isEqual": true }],
        "startsAt": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Millis, true),
        "createdBy": "conformance",
        "comment": "held back until expired",
    });
    let (status, answer) = http(port, "POST", "/api/v2/silences", &body.to_string()).unwrap();
    assert_eq!(status, 200, "creating the silence: {answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    answer["silenceID"].as_str().unwrap().to_owned()
}

fn sent_of(payload: &Value) -> (Stream, Sent) {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let stream = (text(&payload["receiver"]), text(&payload["groupKey"]));
    let sent = payload["alerts"]
        .as_array()
        .map(|alerts| {
            alerts
                .iter()
                .map(|a| (text(&a["fingerprint"]), text(&a["status"])))
                .collect()
        })
        .unwrap_or_default();
    (stream, sent)
}

#[test]
fn dispatcher_sends_what_alertmanager_sends() {
    assert!(
        Path::new(BINARY).exists(),
        "{BINARY} is missing: install Debian's prometheus-alertmanager package \
         (apt-get install prometheus-alertmanager) to run this conformance test"
    );
    let (expected, expected_times) = simulate();
    let total: usize = expected.values().map(Vec::len).sum();
    // The simulation itself must exercise what the script is for.
    assert_eq!(total, 15, "simulated notifications: {expected:#?}");

    let dir = tempfile::tempdir().unwrap();
    let hooks = TcpListener::bind("127.0.0.1:0").unwrap();
    let hook_port = hooks.local_addr().unwrap().port();
    let received: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let sink = Arc::clone(&received);
    thread::spawn(move || {
        for stream in hooks.incoming().flatten() {
            if let Some(body) = read_webhook(stream) {
                sink.lock().unwrap().push((Instant::now(), body));
            }
        }
    });
    let (_alertmanager, port) = start_alertmanager(dir.path(), hook_port);
    let silence_id = create_silence(port);

    let start = Instant::now();
    for (offset, posts) in script() {
        let when = start + Duration::from_secs(offset);
        thread::sleep(when.saturating_duration_since(Instant::now()));
        if offset == SILENCE_EXPIRED_AT {
            let (status, answer) =
                http(port, "DELETE", &format!("/api/v2/silence/{silence_id}"), "").unwrap();
            assert_eq!(status, 200, "expiring the silence: {answer}");
        }
        let body = Value::Array(posts.iter().map(post_json).collect()).to_string();
        let (status, answer) = http(port, "POST", "/api/v2/alerts", &body).unwrap();
        assert_eq!(status, 200, "posting alerts: {answer}");
    }
    thread::sleep(
        (start + Duration::from_secs(RELOAD_AT)).saturating_duration_since(Instant::now()),
    );
    std::fs::write(
        dir.path().join("alertmanager.yml"),
        config_yaml(hook_port, true),
    )
    .unwrap();
    let (status, answer) = http(port, "POST", "/-/reload", "").unwrap();
    assert_eq!(status, 200, "reloading: {answer}");
    // Bounded polling: wait for as many notifications as the simulation sent, then a little
    // longer to catch any extra one.
    let deadline = start + Duration::from_secs(SETTLED_AT + 10);
    while received.lock().unwrap().len() < total && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    let settle = start + Duration::from_secs(SETTLED_AT) + Duration::from_millis(1500);
    thread::sleep(settle.saturating_duration_since(Instant::now()));

    let mut actual: BTreeMap<Stream, Vec<Sent>> = BTreeMap::new();
    let mut actual_times = Times::new();
    for (when, body) in received.lock().unwrap().iter() {
        let payload: Value = serde_json::from_str(body).unwrap();
        assert_eq!(payload["version"], "4", "webhook payload version");
        let (stream, sent) = sent_of(&payload);
        let secs = when.saturating_duration_since(start).as_secs_f64();
        actual_times.entry(stream.clone()).or_default().push(secs);
        actual.entry(stream).or_default().push(sent);
    }
    let log = || std::fs::read_to_string(dir.path().join("alertmanager.log")).unwrap_or_default();
    assert_eq!(
        actual,
        expected,
        "Alertmanager (left) and the dispatcher (right) differ; Alertmanager log:\n{}",
        log()
    );
    for (stream, expected) in &expected_times {
        let actual = &actual_times[stream];
        let close = actual
            .iter()
            .zip(expected)
            .all(|(a, e)| (a - e).abs() < TIME_TOLERANCE);
        assert!(
            close,
            "{stream:?}: Alertmanager notified at {actual:?} s, the dispatcher at {expected:?} s"
        );
    }
}
