//! headroom among the real programs it stands beside (Debian's `prometheus` 2.42 and
//! `prometheus-alertmanager` 0.25 with `amtool`, installed by .ci/run):
//!
//! - Prometheus alerts into headroom as its Alertmanager (API v2, bearer token): firing alerts
//!   keep Prometheus's labels and generatorURL, reach a webhook receiver, and a rule that stops
//!   firing resolves there.
//! - A real Alertmanager forwards its webhook notifications into headroom: firing, then resolved.
//! - `amtool` drives headroom's API v2: silences (add, query, expire), alerts (query, add),
//!   config (show, routes test).
//! - One Alertmanager routing config loaded by a real Alertmanager and by `headroom serve`, the
//!   same alerts posted to both at the same offsets (and, in a second run, the same reload):
//!   both send the same notifications.
//!
//! Every wait is bounded polling; the timers are a second or two.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use headroom_core::Timestamp;
use serde_json::{Value, json};

use crate::common::free_port;

const PROMETHEUS: &str = "/usr/bin/prometheus";
const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
const AMTOOL: &str = "/usr/bin/amtool";

/// Fails with the Debian package to install when a peer program is missing.
fn require(binary: &str, package: &str) {
    assert!(
        Path::new(binary).exists(),
        "{binary} is missing: install Debian's {package} package \
         (apt-get install {package}; bash .ci/run does)"
    );
}

/// Kills a child process when dropped, so a failing test leaves nothing running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `check` every 100 ms until it holds or `timeout` passes.
fn wait_for(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// An instant `offset_ms` from now as RFC 3339.
fn rfc3339(offset_ms: i64) -> String {
    Timestamp::from_millis(now_ms() + offset_ms).to_rfc3339()
}

/// An RFC 3339 instant (any fraction of a second, `Z`) as whole seconds and milliseconds, for
/// comparing what Go writes in nanoseconds with what headroom writes in milliseconds.
fn to_millis_text(t: &str) -> String {
    let t = t.trim_end_matches('Z');
    let (secs, frac) = t.split_once('.').unwrap_or((t, ""));
    let ms: String = frac.chars().chain("000".chars()).take(3).collect();
    format!("{secs}.{ms}")
}

// ---- HTTP in and out ----

/// One HTTP/1.1 exchange (`Connection: close`): status and body, a chunked body decoded.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return (0, String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return (0, String::new());
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let rest = &raw[end + 4..];
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn dechunk(mut s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = s.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&s[..eol]);
        let n = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        let rest = &s[eol + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        s = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// A GET answered 200 with JSON.
fn get_json(addr: SocketAddr, path: &str, token: Option<&str>) -> Value {
    let (status, body) = http(addr, "GET", path, token, "");
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

fn post_ok(addr: SocketAddr, path: &str, token: Option<&str>, body: &Value) -> String {
    let (status, answer) = http(addr, "POST", path, token, &body.to_string());
    assert_eq!(status, 200, "POST {path} to {addr}: {answer}");
    answer
}

/// One webhook request a [`Sink`] received.
#[derive(Debug, Clone)]
struct Hook {
    path: String,
    authorization: String,
    body: Value,
}

/// A local HTTP listener recording every request (a webhook receiver) and answering 200.
struct Sink {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Hook>>>,
}

impl Sink {
    fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Hook>>> = Arc::default();
        let sink = Arc::clone(&seen);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(hook) = read_hook(stream) {
                    sink.lock().unwrap().push(hook);
                }
            }
        });
        Sink { addr, seen }
    }

    fn hooks(&self) -> Vec<Hook> {
        self.seen.lock().unwrap().clone()
    }

    /// The first request whose path is `path` and whose body satisfies `pred`, waited for.
    fn wait(&self, timeout: Duration, path: &str, pred: impl Fn(&Value) -> bool) -> Option<Hook> {
        let mut found = None;
        wait_for(timeout, || {
            found = self
                .hooks()
                .into_iter()
                .find(|h| h.path == path && pred(&h.body));
            found.is_some()
        });
        found
    }
}

/// Reads one request and answers `200` with `Connection: close`.
fn read_hook(mut stream: TcpStream) -> Option<Hook> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
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
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
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
    let path = head.split(' ').nth(1).unwrap_or_default().to_string();
    let body = serde_json::from_slice(&buf[header_end..header_end + length]).unwrap_or(Value::Null);
    Some(Hook {
        path,
        authorization: header("authorization"),
        body,
    })
}

// ---- the processes ----

/// `headroom serve` with `config`, as [`crate::common::start_with_token`] starts it but logging its
/// stderr to `dir/headroom.log`; returns the process, its address and the first admin token.
fn start_headroom(dir: &Path, config: &str) -> (Running, SocketAddr, String) {
    let file = dir.join("headroom.yaml");
    std::fs::write(&file, config).unwrap();
    let addr = free_port();
    let log = std::fs::File::create(dir.join("headroom.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_headroom"))
        .arg("serve")
        .env("HEADROOM_CONFIG", &file)
        .env("HEADROOM_DATA_DIR", dir.join("headroom-data"))
        .env("HEADROOM_LISTEN", addr.to_string())
        .env("RUST_LOG", "warn")
        .env_remove("HEADROOM_DATABASE_URL")
        .env_remove("HEADROOM_EXTERNAL_URL")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut token = String::new();
    for line in out.lines() {
        let line = line.unwrap();
        if line.trim().starts_with("hr_") {
            token = line.trim().to_string();
        }
        if line.starts_with("headroom listening on") {
            assert!(!token.is_empty(), "no admin token printed at first start");
            return (Running(child), addr, token);
        }
    }
    let status = child.wait().unwrap();
    panic!(
        "headroom serve exited before listening: {status}\n{}",
        log_of(dir, "headroom.log")
    );
}

fn log_of(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// Waits (bounded) until `GET /-/ready` answers 200.
fn wait_ready(addr: SocketAddr, what: &str, dir: &Path, log: &str) {
    assert!(
        wait_for(Duration::from_secs(30), || {
            http(addr, "GET", "/-/ready", None, "").0 == 200
        }),
        "{what} not ready within 30 s; log:\n{}",
        log_of(dir, log)
    );
}

/// Prometheus with `config` written to `dir/prometheus.yml` (rule files are relative to it),
/// reloadable through `POST /-/reload`.
fn start_prometheus(dir: &Path, config: &str) -> (Running, SocketAddr) {
    require(PROMETHEUS, "prometheus");
    let file = dir.join("prometheus.yml");
    std::fs::write(&file, config).unwrap();
    let addr = free_port();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new(PROMETHEUS)
        .arg(format!("--config.file={}", file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .arg(format!("--web.external-url=http://{addr}"))
        .arg("--web.enable-lifecycle")
        // Alerts evaluated before the notifier has discovered its Alertmanager are dropped;
        // resending every second (not every minute) delivers them soon after.
        .arg("--rules.alert.resend-delay=1s")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {PROMETHEUS}: {e}"));
    let running = Running(child);
    wait_ready(addr, "Prometheus", dir, "prometheus.log");
    (running, addr)
}

/// Alertmanager with `config` in its own directory under `dir`, clustering off.
fn start_alertmanager(dir: &Path, config: &str) -> (Running, SocketAddr, PathBuf) {
    require(ALERTMANAGER, "prometheus-alertmanager");
    let home = dir.join("alertmanager");
    std::fs::create_dir_all(&home).unwrap();
    let file = home.join("alertmanager.yml");
    std::fs::write(&file, config).unwrap();
    let addr = free_port();
    let log = std::fs::File::create(home.join("alertmanager.log")).unwrap();
    let child = Command::new(ALERTMANAGER)
        .arg(format!("--config.file={}", file.display()))
        .arg(format!("--storage.path={}", home.join("data").display()))
        .arg(format!("--web.listen-address={addr}"))
        .arg(format!("--web.external-url=http://{addr}/"))
        .arg("--cluster.listen-address=")
        .arg("--log.level=debug")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {ALERTMANAGER}: {e}"));
    let running = Running(child);
    wait_ready(addr, "Alertmanager", &home, "alertmanager.log");
    (running, addr, home)
}

/// The alert of `alerts` (an API v2 list) named `name`.
fn named<'a>(alerts: &'a Value, name: &str) -> Option<&'a Value> {
    alerts
        .as_array()?
        .iter()
        .find(|a| a["labels"]["alertname"] == name)
}

const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

// ---- 1. Prometheus → headroom ----

fn rules(flapping_fires: bool) -> String {
    let flapping = if flapping_fires {
        "vector(1)"
    } else {
        // An empty vector: the alert resolves at the next evaluation.
        "vector(1) < 0"
    };
    format!(
        "groups:
  - name: peers
    interval: 1s
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        for: 0s
        labels: {{severity: page, team: db}}
        annotations: {{summary: always firing}}
      - alert: Flapping
        expr: {flapping}
        for: 0s
        labels: {{severity: ticket}}
"
    )
}

#[test]
fn prometheus_alerts_into_headroom_as_its_alertmanager() {
    require(PROMETHEUS, "prometheus");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let hooks = Sink::start();
    let (_headroom, headroom, token) = start_headroom(
        dir,
        &format!(
            "route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://{}/prometheus
        send_resolved: true
        http_config: {{authorization: {{credentials: hook-secret}}}}
",
            hooks.addr
        ),
    );
    std::fs::write(dir.join("rules.yml"), rules(true)).unwrap();
    let (_prometheus, prom) = start_prometheus(
        dir,
        &format!(
            "global:
  evaluation_interval: 1s
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - api_version: v2
      authorization: {{credentials: {token}}}
      static_configs: [{{targets: ['{headroom}']}}]
"
        ),
    );
    let logs = || {
        format!(
            "headroom log:\n{}\nPrometheus log:\n{}",
            log_of(dir, "headroom.log"),
            log_of(dir, "prometheus.log")
        )
    };

    // Prometheus sends both alerts at its first evaluations.
    let mut alerts = Value::Null;
    let arrived = wait_for(Duration::from_secs(20), || {
        alerts = get_json(headroom, "/api/v2/alerts", Some(&token));
        named(&alerts, "AlwaysFiring").is_some() && named(&alerts, "Flapping").is_some()
    });
    assert!(arrived, "headroom holds {alerts:#}\n{}", logs());
    let managers = get_json(prom, "/api/v1/alertmanagers", None);
    assert_eq!(
        managers["data"]["activeAlertmanagers"][0]["url"],
        format!("http://{headroom}/api/v2/alerts"),
        "{managers}"
    );

    let always = named(&alerts, "AlwaysFiring").unwrap().clone();
    assert_eq!(
        always["labels"],
        json!({"alertname": "AlwaysFiring", "severity": "page", "team": "db"})
    );
    assert_eq!(always["annotations"], json!({"summary": "always firing"}));
    let generator = always["generatorURL"].as_str().unwrap().to_string();
    assert!(
        generator.starts_with(&format!("http://{prom}/graph?g0.expr=vector%281%29")),
        "Prometheus's generatorURL is kept: {generator}"
    );
    // Prometheus sends a firing alert with an end four resend intervals ahead.
    let ends = always["endsAt"].as_str().unwrap_or_default();
    assert!(ends > rfc3339(0).as_str(), "endsAt {ends}");
    assert_eq!(always["status"]["state"], "active");
    assert_eq!(always["receivers"], json!([{"name": "hook"}]));

    // The webhook receiver gets Alertmanager's payload, version 4, after group_wait.
    let firing = hooks.wait(Duration::from_secs(10), "/prometheus", |b| {
        b["groupKey"] == r#"{}:{alertname="AlwaysFiring"}"#
    });
    let firing = firing.unwrap_or_else(|| panic!("no webhook: {:#?}\n{}", hooks.hooks(), logs()));
    let body = &firing.body;
    assert_eq!(firing.authorization, "Bearer hook-secret");
    assert_eq!(body["version"], "4");
    assert_eq!(body["receiver"], "hook");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["groupLabels"], json!({"alertname": "AlwaysFiring"}));
    assert_eq!(body["commonLabels"], always["labels"]);
    assert_eq!(body["alerts"].as_array().unwrap().len(), 1);
    let sent = &body["alerts"][0];
    assert_eq!(sent["status"], "firing");
    assert_eq!(sent["labels"], always["labels"]);
    assert_eq!(sent["generatorURL"], generator.as_str());
    assert_eq!(sent["fingerprint"], always["fingerprint"]);
    // Alertmanager does not expose an end that has not been reached.
    assert_eq!(sent["endsAt"], GO_ZERO_TIME);
    assert!(
        hooks
            .wait(Duration::from_secs(10), "/prometheus", |b| {
                b["groupKey"] == r#"{}:{alertname="Flapping"}"# && b["status"] == "firing"
            })
            .is_some(),
        "Flapping never notified as firing: {:#?}",
        hooks.hooks()
    );

    // The rule stops firing: Prometheus posts it with an end in the past, which resolves it.
    std::fs::write(dir.join("rules.yml"), rules(false)).unwrap();
    let (status, answer) = http(prom, "POST", "/-/reload", None, "");
    assert_eq!(status, 200, "reloading Prometheus: {answer}");
    // Each firing alert ends four seconds after Prometheus last sent it: a reload that pauses
    // evaluation longer on a busy machine lets AlwaysFiring lapse until its next send, so both
    // are waited for together.
    let gone = wait_for(Duration::from_secs(20), || {
        alerts = get_json(headroom, "/api/v2/alerts", Some(&token));
        named(&alerts, "Flapping").is_none() && named(&alerts, "AlwaysFiring").is_some()
    });
    assert!(
        gone,
        "Flapping still active, or the other rule no longer firing, in headroom: {alerts:#}\n{}",
        logs()
    );
    let resolved = hooks.wait(Duration::from_secs(10), "/prometheus", |b| {
        b["groupKey"] == r#"{}:{alertname="Flapping"}"# && b["status"] == "resolved"
    });
    let resolved =
        resolved.unwrap_or_else(|| panic!("no resolved webhook: {:#?}\n{}", hooks.hooks(), logs()));
    let sent = &resolved.body["alerts"][0];
    assert_eq!(sent["status"], "resolved");
    assert_eq!(
        sent["labels"],
        json!({"alertname": "Flapping", "severity": "ticket"})
    );
    let ended = sent["endsAt"].as_str().unwrap();
    assert!(
        ended != GO_ZERO_TIME && ended <= rfc3339(0).as_str(),
        "a resolved alert shows its end: {ended}"
    );
}

// ---- 2. Alertmanager → headroom ----

#[test]
fn alertmanager_forwards_its_notifications_into_headroom() {
    require(ALERTMANAGER, "prometheus-alertmanager");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (_headroom, headroom, token) = start_headroom(dir, "slos: []\n");
    let (_am, am, home) = start_alertmanager(
        dir,
        &format!(
            "route:
  receiver: headroom
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: headroom
    webhook_configs:
      - url: http://{headroom}/api/v1/integrations/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: {token}
"
        ),
    );
    let logs = || {
        format!(
            "headroom log:\n{}\nAlertmanager log:\n{}",
            log_of(dir, "headroom.log"),
            log_of(&home, "alertmanager.log")
        )
    };
    let labels = json!({"alertname": "DiskFull", "instance": "db1", "severity": "page"});
    post_ok(
        am,
        "/api/v2/alerts",
        None,
        &json!([{"labels": labels, "annotations": {"summary": "disk full"},
            "generatorURL": "http://prometheus.example/graph?g0.expr=disk"}]),
    );
    let at_am = get_json(am, "/api/v2/alerts", None);
    let at_am = named(&at_am, "DiskFull").unwrap().clone();

    let mut alerts = Value::Null;
    let arrived = wait_for(Duration::from_secs(15), || {
        alerts = get_json(headroom, "/api/v2/alerts", Some(&token));
        named(&alerts, "DiskFull").is_some()
    });
    assert!(arrived, "headroom holds {alerts:#}\n{}", logs());
    let here = named(&alerts, "DiskFull").unwrap();
    assert_eq!(here["labels"], labels);
    assert_eq!(here["annotations"], json!({"summary": "disk full"}));
    assert_eq!(
        here["generatorURL"],
        "http://prometheus.example/graph?g0.expr=disk"
    );
    assert_eq!(here["fingerprint"], at_am["fingerprint"]);
    assert_eq!(
        to_millis_text(here["startsAt"].as_str().unwrap()),
        to_millis_text(at_am["startsAt"].as_str().unwrap()),
        "the start Alertmanager gave it"
    );
    assert_eq!(here["status"]["state"], "active");

    // Resolved at Alertmanager: its resolved notification ends it in headroom.
    post_ok(
        am,
        "/api/v2/alerts",
        None,
        &json!([{"labels": labels, "endsAt": rfc3339(0)}]),
    );
    let gone = wait_for(Duration::from_secs(15), || {
        alerts = get_json(headroom, "/api/v2/alerts", Some(&token));
        named(&alerts, "DiskFull").is_none()
    });
    assert!(gone, "still active in headroom: {alerts:#}\n{}", logs());
    assert_eq!(alerts, json!([]));
}

// ---- 3. amtool → headroom ----

/// Runs `amtool` against headroom; returns stdout, failing with stderr when it fails.
fn amtool(addr: SocketAddr, dir: &Path, args: &[&str]) -> String {
    let out = Command::new(AMTOOL)
        .arg(format!("--alertmanager.url=http://{addr}"))
        .arg(format!(
            "--http.config.file={}",
            dir.join("amtool-http.yml").display()
        ))
        .args(args)
        .env("HOME", dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {AMTOOL}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "amtool {args:?} failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn amtool_json(addr: SocketAddr, dir: &Path, args: &[&str]) -> Value {
    let out = amtool(addr, dir, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("amtool {args:?}: {e}: {out}"))
}

fn alert_names(alerts: &Value) -> Vec<String> {
    let mut names: Vec<String> = alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["labels"]["alertname"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn amtool_manages_headrooms_silences_alerts_and_config() {
    require(AMTOOL, "prometheus-alertmanager");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let hooks = Sink::start();
    let config = format!(
        "route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://{}/amtool
",
        hooks.addr
    );
    let (_headroom, headroom, token) = start_headroom(dir, &config);
    std::fs::write(
        dir.join("amtool-http.yml"),
        format!("authorization:\n  credentials: {token}\n"),
    )
    .unwrap();
    let am = |args: &[&str]| amtool(headroom, dir, args);
    let am_json = |args: &[&str]| amtool_json(headroom, dir, args);

    // silence add prints the new silence's id.
    let id = am(&[
        "silence",
        "add",
        "alertname=Foo",
        "--comment=maintenance window",
        "--duration=1h",
        "--author=tester",
    ])
    .trim()
    .to_string();
    assert_eq!(id.len(), 36, "a UUID: {id:?}");
    assert_eq!(id.matches('-').count(), 4, "a UUID: {id:?}");

    let listed = am_json(&["silence", "query", "-o", "json"]);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(
        listed[0]["matchers"],
        json!([{"name": "alertname", "value": "Foo", "isRegex": false, "isEqual": true}])
    );
    assert_eq!(listed[0]["createdBy"], "tester");
    assert_eq!(listed[0]["comment"], "maintenance window");
    assert_eq!(listed[0]["status"]["state"], "active");
    assert_eq!(
        am(&["silence", "query", "-q"]).lines().collect::<Vec<_>>(),
        [id.as_str()]
    );
    // The simple table names the matcher and the author.
    let table = am(&["silence", "query"]);
    let row = table
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains("alertname=\"Foo\"") && row.contains("tester"),
        "{table}"
    );

    // Alerts posted to headroom: the silenced one is hidden unless asked for.
    post_ok(
        headroom,
        "/api/v2/alerts",
        Some(&token),
        &json!([{"labels": {"alertname": "Foo", "service": "api"}, "annotations": {"summary": "foo broke"}},
                {"labels": {"alertname": "Bar", "service": "api"}, "annotations": {"summary": "bar broke"}}]),
    );
    let table = am(&["alert", "query"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("Bar") && l.contains("bar broke")),
        "{table}"
    );
    assert!(!table.lines().any(|l| l.starts_with("Foo")), "{table}");
    assert_eq!(
        alert_names(&am_json(&["alert", "query", "-o", "json"])),
        ["Bar"]
    );
    let with_silenced = am_json(&["alert", "query", "-a", "-s", "-o", "json"]);
    assert_eq!(alert_names(&with_silenced), ["Bar", "Foo"]);
    assert_eq!(
        named(&with_silenced, "Foo").unwrap()["status"]["silencedBy"],
        json!([id])
    );
    assert_eq!(
        alert_names(&am_json(&["alert", "query", "service=api", "-o", "json"])),
        ["Bar"]
    );
    // --receiver is a regex over the receivers the routing tree gives, anchored.
    assert_eq!(
        alert_names(&am_json(&[
            "alert",
            "query",
            "--receiver=ho.*",
            "-o",
            "json"
        ])),
        ["Bar"]
    );
    assert_eq!(
        alert_names(&am_json(&["alert", "query", "--receiver=ho", "-o", "json"])),
        Vec::<String>::new(),
        "the receiver regex is anchored"
    );
    // silence query with matchers lists the silences whose matchers they match.
    assert_eq!(am(&["silence", "query", "-q", "alertname=Foo"]).trim(), id);
    assert_eq!(am(&["silence", "query", "-q", "alertname=Bar"]).trim(), "");

    // Expiring: no active silence left, the expired one listed with --expired, Foo unmuted.
    assert_eq!(am(&["silence", "expire", &id]).trim(), "");
    assert_eq!(am(&["silence", "query", "-q"]).trim(), "");
    let expired = am_json(&["silence", "query", "--expired", "-o", "json"]);
    assert_eq!(expired.as_array().unwrap().len(), 1, "{expired:#}");
    assert_eq!(expired[0]["id"], id.as_str());
    assert_eq!(expired[0]["status"]["state"], "expired");
    assert_eq!(
        alert_names(&am_json(&["alert", "query", "-o", "json"])),
        ["Bar", "Foo"]
    );

    // config show prints the config in force, from /api/v2/status.
    let shown = am(&["config", "show"]);
    assert!(
        shown.contains(&format!("url: http://{}/amtool", hooks.addr))
            && shown.contains("receiver: hook"),
        "{shown}"
    );
    // amtool parses that text as an Alertmanager config to test routes.
    let routed = am(&["config", "routes", "test", "alertname=Foo"]);
    assert_eq!(routed.trim(), "hook", "{routed}");
}

/// `amtool alert add` without `--start`/`--end` posts both as Go's zero time
/// (`"0001-01-01T00:00:00.000Z"`), which Alertmanager reads as unset: the alert starts now and
/// fires until its resolve timeout. headroom must read it the same way.
#[test]
fn amtool_alert_add_fires_an_alert_in_headroom() {
    require(AMTOOL, "prometheus-alertmanager");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (_headroom, headroom, token) = start_headroom(dir, "slos: []\n");
    std::fs::write(
        dir.join("amtool-http.yml"),
        format!("authorization:\n  credentials: {token}\n"),
    )
    .unwrap();
    amtool(
        headroom,
        dir,
        &[
            "alert",
            "add",
            "alertname=Baz",
            "service=web",
            "--annotation=summary=baz broke",
        ],
    );
    let alerts = amtool_json(headroom, dir, &["alert", "query", "-o", "json"]);
    assert_eq!(alert_names(&alerts), ["Baz"], "{alerts:#}");
    let baz = named(&alerts, "Baz").unwrap();
    assert!(
        baz["startsAt"].as_str().unwrap() > rfc3339(-60_000).as_str(),
        "starts now, as Alertmanager does: {baz}"
    );
}

// ---- 4. The same routing config in Alertmanager and headroom ----

/// One config for both, as the routing conformance test of the dispatcher has it: nested
/// routes, `continue`, `group_by` by labels and `['...']`, receivers with and without
/// `send_resolved`, an inhibit rule, 1 s / 2 s / 1 h timers. `HOOK` is where each peer's
/// webhooks go (the same listener, a path per peer).
const ROUTING: &str = r#"
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
      - url: HOOK/default
        send_resolved: true
  - name: db-pager
    webhook_configs:
      - url: HOOK/db-pager
        send_resolved: false
  - name: audit
    webhook_configs:
      - url: HOOK/audit
        send_resolved: true
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [cluster]
"#;

type Labels = &'static [(&'static str, &'static str)];

const A1: Labels = &[
    ("alertname", "DiskFull"),
    ("team", "db"),
    ("cluster", "c1"),
    ("severity", "critical"),
    ("instance", "db1"),
];
/// Inhibited by A1 (then A3) until both resolve.
const A2: Labels = &[
    ("alertname", "DiskFull"),
    ("team", "db"),
    ("cluster", "c1"),
    ("severity", "warning"),
    ("instance", "db2"),
];
const A3: Labels = &[
    ("alertname", "DiskFull"),
    ("team", "db"),
    ("cluster", "c1"),
    ("severity", "critical"),
    ("instance", "db3"),
];
const B1: Labels = &[
    ("alertname", "HighLatency"),
    ("team", "web"),
    ("cluster", "c2"),
    ("severity", "warning"),
    ("instance", "web1"),
];
/// Silenced until the silence is expired.
const D1: Labels = &[
    ("alertname", "Deploy"),
    ("team", "web"),
    ("instance", "web9"),
];
const C1: Labels = &[("alertname", "Other"), ("team", "ops"), ("instance", "x1")];
const C2: Labels = &[("alertname", "Other"), ("team", "ops"), ("instance", "x2")];

/// When the silence of D1 is expired, in seconds after the first post.
const SILENCE_EXPIRED_AT: u64 = 4;

/// (offset in seconds, alerts posted together as (labels, resolved)). Posts fall on even
/// seconds and group flushes on odd ones, so delivery latency never reorders anything.
fn script() -> Vec<(u64, Vec<(Labels, bool)>)> {
    vec![
        (
            0,
            vec![
                (A1, false),
                (A2, false),
                (B1, false),
                (C1, false),
                (D1, false),
            ],
        ),
        (2, vec![(C2, false), (A3, false)]),
        (4, vec![(A1, true), (C1, true)]),
        (6, vec![(A3, true)]),
    ]
}

/// The route the reloaded config adds in front of the others.
const RELOADED_ROUTE: &str = "- receiver: audit\n      matchers: ['instance=\"x2\"']";

/// When both reload their config with [`RELOADED_ROUTE`], in seconds after the first post.
const RELOAD_AT: u64 = 8;

/// By then (seconds after the first post) every notification of the script is out.
const SETTLED_AT: u64 = 10;

/// What identifies a notification stream: receiver and group key.
type Stream = (String, String);
/// One notification: its status, group labels, common labels, and its alerts as
/// (fingerprint, status) in order.
type Sent = (String, Value, Value, Vec<(String, String)>);

fn alert_json(labels: Labels, resolved: bool) -> Value {
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let mut alert = json!({"labels": labels});
    if resolved {
        alert["endsAt"] = json!(rfc3339(0));
    }
    alert
}

/// Each peer's notifications per stream, from the webhooks under `/{peer}/…`.
fn notifications(hooks: &[Hook], peer: &str) -> BTreeMap<Stream, Vec<Sent>> {
    let mut out: BTreeMap<Stream, Vec<Sent>> = BTreeMap::new();
    for h in hooks {
        let Some(receiver) = h.path.strip_prefix(&format!("/{peer}/")) else {
            continue;
        };
        let b = &h.body;
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        assert_eq!(b["version"], "4", "{peer}: {b}");
        assert_eq!(
            b["receiver"], receiver,
            "{peer}: sent to its receiver's URL"
        );
        let alerts = b["alerts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|a| (text(&a["fingerprint"]), text(&a["status"])))
                    .collect()
            })
            .unwrap_or_default();
        out.entry((text(&b["receiver"]), text(&b["groupKey"])))
            .or_default()
            .push((
                text(&b["status"]),
                b["groupLabels"].clone(),
                b["commonLabels"].clone(),
                alerts,
            ));
    }
    out
}

fn count(n: &BTreeMap<Stream, Vec<Sent>>) -> usize {
    n.values().map(Vec::len).sum()
}

/// Only what the routing conformance compares: streams and their alert sets in order.
fn alert_sets(n: &BTreeMap<Stream, Vec<Sent>>) -> BTreeMap<&Stream, Vec<&Vec<(String, String)>>> {
    n.iter()
        .map(|(s, sent)| (s, sent.iter().map(|x| &x.3).collect()))
        .collect()
}

#[test]
fn headroom_routes_as_alertmanager_does_for_the_same_config() {
    // The script alone: 13 notifications in 8 (receiver, group) streams.
    same_notifications_as_alertmanager(false, (13, 8));
}

/// As above, with both reloading the config at [`RELOAD_AT`]: the added route takes one alert
/// of group `{}:{alertname="Other"}` (receiver `default`) away, leaving that group only the
/// alert resolved at 4 s. Alertmanager still holds that resolved alert (its alert GC runs every
/// `--alerts.gc-interval`, 30 min), re-routes it on reload, and sends `default` a last
/// notification of it alone, because its log says the group's other alert was firing. headroom
/// keeps resolved alerts as long (its alert GC runs on the same interval), so it sends it too.
#[test]
fn headroom_routes_as_alertmanager_does_across_a_config_reload() {
    same_notifications_as_alertmanager(true, (15, 9));
}

/// Runs the script through a real Alertmanager and headroom (reloading both at [`RELOAD_AT`]
/// when `reload`), checks Alertmanager sent `expected` (notifications, streams), and that
/// headroom sent the same.
fn same_notifications_as_alertmanager(reload: bool, expected: (usize, usize)) {
    require(ALERTMANAGER, "prometheus-alertmanager");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let hooks = Sink::start();
    let config = |peer: &str, reloaded: bool| {
        ROUTING
            .replace("HOOK", &format!("http://{}/{peer}", hooks.addr))
            .replace(
                "# RELOADED_ROUTE",
                if reloaded { RELOADED_ROUTE } else { "" },
            )
    };
    let (_headroom, headroom, token) = start_headroom(dir, &config("headroom", false));
    let (_am, am, home) = start_alertmanager(dir, &config("alertmanager", false));
    let peers = [(am, None), (headroom, Some(token.as_str()))];

    // The same silence in both, holding D1 back until it is expired.
    let silence = json!({
        "matchers": [{"name": "instance", "value": "web9", "isRegex": false, "isEqual": true}],
        "startsAt": rfc3339(0),
        "endsAt": rfc3339(3_600_000),
        "createdBy": "conformance",
        "comment": "held back until expired",
    });
    let silences: Vec<String> = peers
        .iter()
        .map(|(addr, token)| {
            let answer = post_ok(*addr, "/api/v2/silences", *token, &silence);
            let answer: Value = serde_json::from_str(&answer).unwrap();
            answer["silenceID"].as_str().unwrap().to_string()
        })
        .collect();

    let start = Instant::now();
    for (offset, posts) in script() {
        thread::sleep(
            (start + Duration::from_secs(offset)).saturating_duration_since(Instant::now()),
        );
        if offset == SILENCE_EXPIRED_AT {
            for ((addr, token), id) in peers.iter().zip(&silences) {
                let path = format!("/api/v2/silence/{id}");
                let (status, answer) = http(*addr, "DELETE", &path, *token, "");
                assert_eq!(status, 200, "expiring the silence at {addr}: {answer}");
            }
        }
        let body = Value::Array(posts.iter().map(|(l, r)| alert_json(l, *r)).collect());
        for (addr, token) in &peers {
            post_ok(*addr, "/api/v2/alerts", *token, &body);
        }
        if offset == 0 {
            // A second in, A2 is inhibited and D1 silenced: both list the same groups.
            thread::sleep(
                (start + Duration::from_secs(1)).saturating_duration_since(Instant::now()),
            );
            same_groups(&peers, "while A2 is inhibited and D1 silenced", true);
        }
    }

    // Both reload the config with one route added, from the same files they started with.
    if reload {
        thread::sleep(
            (start + Duration::from_secs(RELOAD_AT)).saturating_duration_since(Instant::now()),
        );
        std::fs::write(home.join("alertmanager.yml"), config("alertmanager", true)).unwrap();
        std::fs::write(dir.join("headroom.yaml"), config("headroom", true)).unwrap();
        for (addr, token) in &peers {
            let (status, answer) = http(*addr, "POST", "/-/reload", *token, "");
            assert_eq!(status, 200, "reloading {addr}: {answer}");
        }
    }

    // Settled: past the last flush, and both have sent as many notifications (bounded).
    let settled = start + Duration::from_secs(SETTLED_AT);
    let deadline = settled + Duration::from_secs(10);
    while Instant::now() < deadline {
        let hooks_seen = hooks.hooks();
        let (a, h) = (
            notifications(&hooks_seen, "alertmanager"),
            notifications(&hooks_seen, "headroom"),
        );
        if Instant::now() >= settled && count(&a) == count(&h) {
            break;
        }
        thread::sleep(Duration::from_millis(200));
    }
    // A little longer, to catch a late extra notification from either.
    thread::sleep(Duration::from_millis(1500));
    let hooks_seen = hooks.hooks();
    let from_am = notifications(&hooks_seen, "alertmanager");
    let from_headroom = notifications(&hooks_seen, "headroom");
    println!(
        "Alertmanager sent {} notifications in {} streams, headroom {} in {}",
        count(&from_am),
        from_am.len(),
        count(&from_headroom),
        from_headroom.len()
    );

    // The script exercises what it is for: several streams, a resolve, the inhibited alert and
    // the silenced one notified once freed.
    let fp = |labels: Labels| {
        let at_am = get_json(
            am,
            "/api/v2/alerts?active=true&silenced=true&inhibited=true",
            None,
        );
        let name = labels[0].1;
        let instance = labels.iter().find(|(k, _)| *k == "instance").unwrap().1;
        at_am
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["labels"]["alertname"] == name && a["labels"]["instance"] == instance)
            .map(|a| a["fingerprint"].as_str().unwrap().to_string())
    };
    let everything: Vec<&(String, String)> =
        from_am.values().flatten().flat_map(|s| &s.3).collect();
    for (labels, what) in [(A2, "inhibited DiskFull"), (D1, "silenced Deploy")] {
        let f = fp(labels).unwrap_or_else(|| panic!("{what} is not active at Alertmanager"));
        assert!(
            everything.iter().any(|(x, s)| *x == f && s == "firing"),
            "Alertmanager never notified the {what} once freed: {from_am:#?}"
        );
    }
    assert!(
        everything.iter().any(|(_, s)| s == "resolved"),
        "no resolved alert notified: {from_am:#?}"
    );
    assert_eq!(
        (count(&from_am), from_am.len()),
        expected,
        "Alertmanager's notifications: {from_am:#?}"
    );

    assert_eq!(
        alert_sets(&from_headroom),
        alert_sets(&from_am),
        "headroom (left) and Alertmanager (right) notified differently; headroom log:\n{}\n\
         Alertmanager log:\n{}",
        log_of(dir, "headroom.log"),
        log_of(&home, "alertmanager.log")
    );
    // Beyond the alerts: each notification's status, group labels and common labels.
    assert_eq!(from_headroom, from_am);
    same_groups(&peers, "at the end", false);
}

/// `GET /api/v2/alerts/groups` of one peer, without what differs by design: silence ids
/// (each peer makes its own; their count stays) and times.
fn groups_view(addr: SocketAddr, token: Option<&str>, query: &str) -> Vec<Value> {
    let names = |v: &Value| -> Vec<Value> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].clone())
            .collect()
    };
    let groups = get_json(addr, &format!("/api/v2/alerts/groups{query}"), token);
    let mut view: Vec<Value> = groups
        .as_array()
        .unwrap_or_else(|| panic!("groups from {addr}: {groups}"))
        .iter()
        .map(|g| {
            let alerts: Vec<Value> = g["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    json!({
                        "fingerprint": a["fingerprint"],
                        "state": a["status"]["state"],
                        "silenced": a["status"]["silencedBy"].as_array().unwrap().len(),
                        "inhibitedBy": a["status"]["inhibitedBy"],
                        "receivers": names(&a["receivers"]),
                    })
                })
                .collect();
            json!({"labels": g["labels"], "receiver": g["receiver"]["name"], "alerts": alerts})
        })
        .collect();
    // Groups with the same labels and receiver (a route and its child) are in the order
    // Alertmanager's map iteration gives them: compare each such run in one fixed order.
    for run in
        view.chunk_by_mut(|a, b| a["labels"] == b["labels"] && a["receiver"] == b["receiver"])
    {
        run.sort_by_key(|g| g["alerts"].to_string());
    }
    view
}

/// Both peers list the same groups, unfiltered and filtered; `muted` says the moment has a
/// silenced and an inhibited alert, which the unfiltered list must show.
fn same_groups(peers: &[(SocketAddr, Option<&str>)], when: &str, muted: bool) {
    let [(am, _), (headroom, token)] = peers else {
        panic!("two peers")
    };
    for query in [
        "",
        "?silenced=false&inhibited=false",
        "?receiver=audit&filter=team%3D~%22db%7Cweb%22",
    ] {
        let from_am = groups_view(*am, None, query);
        let from_headroom = groups_view(*headroom, *token, query);
        assert_eq!(
            from_headroom, from_am,
            "groups{query} {when}: headroom (left), Alertmanager (right)"
        );
        if query.is_empty() {
            let states: Vec<&Value> = from_am
                .iter()
                .flat_map(|g| g["alerts"].as_array().unwrap())
                .filter(|a| a["state"] == "suppressed")
                .collect();
            assert_eq!(
                states.iter().any(|a| a["silenced"] == 1)
                    && states.iter().any(|a| a["inhibitedBy"] != json!([])),
                muted,
                "groups {when}: {from_am:#?}"
            );
            assert!(from_am.len() >= 3, "several groups {when}: {from_am:#?}");
        }
    }
}
