//! Drives an Alertmanager API v2 receiver (`headroom serve`, or Alertmanager itself) the way
//! Prometheus does, and runs the webhook receiver its notifications go to.
//!
//! Two modes:
//! - `throughput`: a fixed set of `--alerts` distinct alerts (routed over a small tree with
//!   `group_by`, one inhibit rule, `group_wait: 30s`) re-posted in batches of `--batch` from
//!   `--connections` keep-alive connections as fast as they are answered, for `--seconds`
//!   after one warm-up pass that creates them all. Reports alerts/s answered 200, the server's
//!   CPU (utime + stime from /proc) and peak RSS, and whether `GET /api/v2/alerts` lists exactly
//!   the distinct alerts (deduplication).
//! - `latency`: every alert new (a `seq` label), one per request at `--rate` a second for
//!   `--seconds`, with `group_by: ['...']` and `group_wait: 0s`; reports p50/p90/p99/max from
//!   just before the POST is sent to the arrival of the webhook (payload version 4) carrying it.
//!
//! `--spawn headroom|alertmanager` starts the server itself (config written for the mode, data
//! in a temp dir, an `ingest` token made with `headroom token create`, SQLite store) and stops
//! it afterwards; otherwise point `--url` at a running one whose config came from
//! `--print-config` with the same `--hook`, and pass its `--pid` for the CPU figures.
//!
//! cargo build --release -p headroom -p headroom-server --bins --examples
//! target/release/examples/alerts_load --mode throughput --spawn headroom \
//!     --bin target/release/headroom --seconds 30
//! target/release/examples/alerts_load --mode latency --rate 100 --seconds 30 \
//!     --spawn alertmanager

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use serde_json::{Value, json};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Throughput,
    Latency,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Headroom,
    Alertmanager,
}

struct Args {
    mode: Mode,
    /// The receiver's base URL (`/api/v2/alerts` is appended).
    url: String,
    /// Sent as `Authorization: Bearer`, as Prometheus's `authorization.credentials` does.
    token: Option<String>,
    /// Where the webhook receiver listens (the config's webhook URLs point here).
    hook: SocketAddr,
    spawn: Option<Kind>,
    bin: Option<PathBuf>,
    pid: Option<u32>,
    alerts: usize,
    batch: usize,
    connections: usize,
    rate: f64,
    seconds: f64,
    print_config: bool,
}

const USAGE: &str = "use --mode throughput|latency, --url, --token, --hook ADDR, \
    --spawn headroom|alertmanager, --bin PATH, --pid PID, --alerts N, --batch N, \
    --connections N, --rate PER_SECOND, --seconds S, --print-config";

fn args() -> Result<Args, String> {
    let mut a = Args {
        mode: Mode::Throughput,
        url: "http://127.0.0.1:9093".into(),
        token: None,
        hook: "127.0.0.1:0".parse().expect("address"),
        spawn: None,
        bin: None,
        pid: None,
        alerts: 5_000,
        batch: 64,
        connections: 4,
        rate: 100.0,
        seconds: 30.0,
        print_config: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String>
        where
            T::Err: std::fmt::Display,
        {
            v.parse().map_err(|e| format!("{flag}: {e}"))
        }
        match flag.as_str() {
            "--mode" => {
                a.mode = match value()?.as_str() {
                    "throughput" => Mode::Throughput,
                    "latency" => Mode::Latency,
                    other => return Err(format!("--mode {other}: throughput or latency")),
                }
            }
            "--url" => a.url = value()?.trim_end_matches('/').to_string(),
            "--token" => a.token = Some(value()?),
            "--hook" => a.hook = num(&flag, value()?)?,
            "--spawn" => {
                a.spawn = Some(match value()?.as_str() {
                    "headroom" => Kind::Headroom,
                    "alertmanager" => Kind::Alertmanager,
                    other => return Err(format!("--spawn {other}: headroom or alertmanager")),
                })
            }
            "--bin" => a.bin = Some(PathBuf::from(value()?)),
            "--pid" => a.pid = Some(num(&flag, value()?)?),
            "--alerts" => a.alerts = num(&flag, value()?)?,
            "--batch" => a.batch = num(&flag, value()?)?,
            "--connections" => a.connections = num(&flag, value()?)?,
            "--rate" => a.rate = num(&flag, value()?)?,
            "--seconds" => a.seconds = num(&flag, value()?)?,
            "--print-config" => a.print_config = true,
            other => return Err(format!("unknown argument {other}; {USAGE}")),
        }
    }
    if a.batch == 0 || a.connections == 0 || a.alerts == 0 || a.rate <= 0.0 {
        return Err("--alerts, --batch, --connections and --rate must be positive".into());
    }
    Ok(a)
}

// ---- the configs, in Alertmanager's format (headroom loads it as one of its documents) ----

fn config(mode: Mode, hook: SocketAddr) -> String {
    match mode {
        Mode::Throughput => format!(
            "global:
  resolve_timeout: 5m
route:
  receiver: default
  group_by: [alertname, cluster]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['severity=\"page\"']
      receiver: pager
      group_by: [alertname, cluster, service]
      continue: true
    - matchers: ['team=~\"db|storage\"']
      receiver: data
    - matchers: ['team=\"web\"']
      receiver: web
      routes:
        - matchers: ['env=\"staging\"']
          receiver: staging
inhibit_rules:
  - source_matchers: ['severity=\"page\"']
    target_matchers: ['severity=\"ticket\"']
    equal: [alertname, cluster, service]
receivers:
  - name: default
    webhook_configs: [{{url: 'http://{hook}/default'}}]
  - name: pager
    webhook_configs: [{{url: 'http://{hook}/pager'}}]
  - name: data
    webhook_configs: [{{url: 'http://{hook}/data'}}]
  - name: web
    webhook_configs: [{{url: 'http://{hook}/web'}}]
  - name: staging
    webhook_configs: [{{url: 'http://{hook}/staging'}}]
"
        ),
        Mode::Latency => format!(
            "route:
  receiver: hook
  group_by: ['...']
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs: [{{url: 'http://{hook}/latency', send_resolved: false}}]
"
        ),
    }
}

// ---- the alerts ----

const ALERTNAMES: [&str; 20] = [
    "HighErrorRate",
    "HighLatency",
    "DiskWillFillIn4Hours",
    "DiskFull",
    "HostOutOfMemory",
    "HostHighCpuLoad",
    "TargetDown",
    "InstanceDown",
    "PodCrashLooping",
    "PodNotReady",
    "CertificateExpiringSoon",
    "ReplicationLag",
    "TooManyConnections",
    "QueueBacklog",
    "SlowQueries",
    "KafkaConsumerLag",
    "NodeClockSkew",
    "NetworkErrors",
    "SLOBurnFast",
    "SLOBurnSlow",
];
const CLUSTERS: [&str; 5] = ["eu-1", "eu-2", "us-1", "us-2", "ap-1"];
const TEAMS: [&str; 5] = ["web", "db", "storage", "payments", "search"];

/// Alert `i` of the fixed set: distinct by `instance`, spread over every route.
fn fixed_alert(i: usize, starts: &str, ends: &str) -> Value {
    let alertname = ALERTNAMES[i % ALERTNAMES.len()];
    let cluster = CLUSTERS[(i / 20) % CLUSTERS.len()];
    let service = format!("svc-{}", (i / 100) % 40);
    let team = TEAMS[(i / 7) % TEAMS.len()];
    let env = if (i / 3).is_multiple_of(4) {
        "staging"
    } else {
        "prod"
    };
    let severity = if i.is_multiple_of(5) {
        "page"
    } else {
        "ticket"
    };
    let instance = format!("10.{}.{}.{}:9100", i / 65536, (i / 256) % 256, i % 256);
    json!({
        "labels": {
            "alertname": alertname, "cluster": cluster, "service": service, "team": team,
            "env": env, "severity": severity, "instance": instance, "job": "node",
        },
        "annotations": {
            "summary": format!("{alertname} on {instance}"),
            "description": format!("{alertname} has been firing for {service} in {cluster}."),
        },
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": format!("http://prometheus:9090/graph?g0.expr=ALERTS%7Balertname%3D%22{alertname}%22%7D&g0.tab=1"),
    })
}

fn rfc3339(t: SystemTime) -> String {
    let ms = t.duration_since(UNIX_EPOCH).expect("clock").as_millis() as i64;
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("time")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

// ---- the webhook receiver ----

#[derive(Default)]
struct Hook {
    /// When the tool started, the origin of every instant below.
    origin: Option<Instant>,
    notifications: AtomicU64,
    alerts: AtomicU64,
    not_v4: AtomicU64,
    /// Latency mode: nanoseconds after `origin` each `seq` was sent (0: not yet).
    sent: Vec<AtomicU64>,
    run: String,
    /// Latency mode: (seq, nanoseconds from send to arrival).
    arrivals: Mutex<Vec<(u64, u64)>>,
}

impl Hook {
    fn nanos(&self) -> u64 {
        self.origin.expect("origin").elapsed().as_nanos() as u64
    }

    fn receive(&self, body: &[u8]) {
        let now = self.nanos();
        self.notifications.fetch_add(1, Ordering::Relaxed);
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            self.not_v4.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if v["version"] != "4" {
            self.not_v4.fetch_add(1, Ordering::Relaxed);
        }
        let alerts = v["alerts"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        self.alerts
            .fetch_add(alerts.len() as u64, Ordering::Relaxed);
        let mut arrivals = Vec::new();
        for a in alerts {
            if a["labels"]["run"] != self.run.as_str() {
                continue;
            }
            let Some(seq) = a["labels"]["seq"]
                .as_str()
                .and_then(|s| s.parse::<usize>().ok())
            else {
                continue;
            };
            if let Some(sent) = self.sent.get(seq).map(|s| s.load(Ordering::Acquire))
                && sent != 0
            {
                arrivals.push((seq as u64, now.saturating_sub(sent)));
            }
        }
        if !arrivals.is_empty() {
            self.arrivals.lock().expect("arrivals").extend(arrivals);
        }
    }
}

async fn start_hook(addr: SocketAddr, hook: Arc<Hook>) -> Result<SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("webhook receiver on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let app = axum::Router::new().fallback(move |body: Bytes| {
        let hook = hook.clone();
        async move {
            hook.receive(&body);
            axum::http::StatusCode::OK
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(local)
}

// ---- the server under test ----

/// A spawned server, stopped when dropped.
struct Spawned {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<SocketAddr, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())
}

/// Starts the server with `config`; returns it, its base URL and (headroom) an ingest token.
async fn spawn(
    kind: Kind,
    bin: Option<&Path>,
    config: &str,
) -> Result<(Spawned, String, Option<String>), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("config.yml");
    std::fs::write(&file, config).map_err(|e| e.to_string())?;
    let addr = free_port()?;
    let log = std::fs::File::create(dir.path().join("server.log")).map_err(|e| e.to_string())?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let (child, token, ready) = match kind {
        Kind::Headroom => {
            let bin = bin.map_or_else(
                || PathBuf::from("target/release/headroom"),
                Path::to_path_buf,
            );
            let data = dir.path().join("data");
            let out = Command::new(&bin)
                .args([
                    "token",
                    "create",
                    "--scope",
                    "ingest",
                    "--name",
                    "alerts-load",
                ])
                .arg("--data-dir")
                .arg(&data)
                .env_remove("HEADROOM_DATABASE_URL")
                .output()
                .map_err(|e| format!("{}: {e}", bin.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "token create failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let child = Command::new(&bin)
                .arg("serve")
                .arg("--config")
                .arg(&file)
                .arg("--data-dir")
                .arg(&data)
                .arg("--listen")
                .arg(addr.to_string())
                .env("RUST_LOG", "warn")
                .env_remove("HEADROOM_DATABASE_URL")
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(err)
                .spawn()
                .map_err(|e| format!("{}: {e}", bin.display()))?;
            (child, Some(token), "/readyz")
        }
        Kind::Alertmanager => {
            let bin = bin.map_or_else(
                || PathBuf::from("/usr/bin/prometheus-alertmanager"),
                Path::to_path_buf,
            );
            let child = Command::new(&bin)
                .arg(format!("--config.file={}", file.display()))
                .arg(format!(
                    "--storage.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address={addr}"))
                .arg(format!("--web.external-url=http://{addr}/"))
                .arg("--cluster.listen-address=")
                .arg("--log.level=warn")
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(err)
                .spawn()
                .map_err(|e| format!("{}: {e}", bin.display()))?;
            (child, None, "/-/ready")
        }
    };
    let mut spawned = Spawned { child, _dir: dir };
    let url = format!("http://{addr}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{url}{ready}")).send().await
            && r.status().is_success()
        {
            break;
        }
        if let Ok(Some(status)) = spawned.child.try_wait() {
            let log =
                std::fs::read_to_string(spawned._dir.path().join("server.log")).unwrap_or_default();
            return Err(format!("server exited ({status}) before ready:\n{log}"));
        }
        if Instant::now() > deadline {
            return Err("server not ready after 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((spawned, url, token))
}

// ---- measuring ----

/// utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/P/stat).
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    let rest = &stat[stat.rfind(')').ok_or("malformed stat")? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> Result<u64, String> {
        fields
            .get(n - 3)
            .ok_or("short stat")?
            .parse()
            .map_err(|e| format!("{e}"))
    };
    Ok(field(14)? + field(15)?)
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU seconds a process spent between two readings.
struct Cpu {
    pid: u32,
    ticks: u64,
    tool: u64,
}

impl Cpu {
    fn start(pid: u32) -> Result<Cpu, String> {
        Ok(Cpu {
            pid,
            ticks: cpu_ticks(pid)?,
            tool: cpu_ticks(std::process::id())?,
        })
    }

    /// (server, this tool) CPU seconds since `start`.
    fn since(&self) -> Result<(f64, f64), String> {
        let hz = clock_ticks_per_second();
        Ok((
            (cpu_ticks(self.pid)? - self.ticks) as f64 / hz,
            (cpu_ticks(std::process::id())? - self.tool) as f64 / hz,
        ))
    }
}

fn quantile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1e6
}

fn post(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: Bytes,
) -> reqwest::RequestBuilder {
    let mut req = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("User-Agent", "Prometheus/2.42.0")
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req
}

/// How many alerts `GET /api/v2/alerts` lists, and how many of them `keep` selects.
async fn listed(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    keep: impl Fn(&Value) -> bool,
) -> Result<(usize, usize), String> {
    let mut req = client.get(format!("{url}/api/v2/alerts"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .map_err(|e| format!("GET alerts ({status}): {e}"))?;
    let all = body
        .as_array()
        .ok_or(format!("GET alerts ({status}): not a list: {body}"))?;
    Ok((all.len(), all.iter().filter(|a| keep(a)).count()))
}

async fn throughput(
    a: &Args,
    url: &str,
    token: Option<&str>,
    pid: Option<u32>,
    hook: &Hook,
) -> Result<(), String> {
    let now = SystemTime::now();
    // As Prometheus sends them: a fixed start, an end a few resend intervals ahead.
    let starts = rfc3339(now - Duration::from_secs(600));
    let ends = rfc3339(now + Duration::from_secs(3600));
    let alerts: Vec<Value> = (0..a.alerts)
        .map(|i| fixed_alert(i, &starts, &ends))
        .collect();
    // Bodies are encoded before sending, so encoding does not compete with the server for CPU.
    let bodies: Arc<Vec<Bytes>> = Arc::new(
        alerts
            .chunks(a.batch)
            .map(|c| Bytes::from(serde_json::to_vec(c).expect("json")))
            .collect(),
    );
    let sizes: Arc<Vec<usize>> = Arc::new(alerts.chunks(a.batch).map(<[Value]>::len).collect());
    let endpoint = format!("{url}/api/v2/alerts");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.connections)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    // Warm-up: one pass creates every alert.
    for body in bodies.iter() {
        let resp = post(&client, &endpoint, token, body.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if resp.status() != reqwest::StatusCode::OK {
            let status = resp.status();
            return Err(format!(
                "warm-up batch refused: {status} {}",
                resp.text().await.unwrap_or_default()
            ));
        }
    }
    let notified_before = hook.notifications.load(Ordering::Relaxed);
    let cpu = pid.map(Cpu::start).transpose()?;
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..a.connections {
        let (client, endpoint, bodies, sizes, next, stop) = (
            client.clone(),
            endpoint.clone(),
            bodies.clone(),
            sizes.clone(),
            next.clone(),
            stop.clone(),
        );
        let token = token.map(str::to_string);
        workers.spawn(async move {
            let (mut ok, mut refused, mut failed) = (0u64, 0u64, 0u64);
            let mut times = Vec::new();
            let mut first_refusal = None;
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed) % bodies.len();
                let t = Instant::now();
                match post(&client, &endpoint, token.as_deref(), bodies[i].clone())
                    .send()
                    .await
                {
                    Ok(resp) if resp.status() == reqwest::StatusCode::OK => {
                        ok += sizes[i] as u64;
                        times.push(t.elapsed().as_nanos() as u64);
                    }
                    Ok(resp) => {
                        refused += sizes[i] as u64;
                        if first_refusal.is_none() {
                            let status = resp.status();
                            first_refusal = Some(format!(
                                "{status} {}",
                                resp.text().await.unwrap_or_default()
                            ));
                        }
                    }
                    Err(e) => {
                        failed += sizes[i] as u64;
                        first_refusal.get_or_insert(e.to_string());
                    }
                }
            }
            (ok, refused, failed, times, first_refusal)
        });
    }
    tokio::time::sleep(Duration::from_secs_f64(a.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let measured = started.elapsed().as_secs_f64();
    let used = cpu.as_ref().map(Cpu::since).transpose()?;
    let (mut ok, mut refused, mut failed, mut times) = (0, 0, 0, Vec::new());
    while let Some(r) = workers.join_next().await {
        let (o, r, f, t, why) = r.map_err(|e| e.to_string())?;
        ok += o;
        refused += r;
        failed += f;
        times.extend(t);
        if let Some(why) = why {
            eprintln!("first refusal: {why}");
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    times.sort_unstable();
    println!(
        "throughput: {} distinct alerts in batches of {}, {} connections, {measured:.1} s",
        a.alerts, a.batch, a.connections
    );
    println!(
        "  accepted (200): {ok} alerts, {:.0} alerts/s ({:.0} requests/s); refused {refused}, failed {failed}",
        ok as f64 / elapsed,
        times.len() as f64 / elapsed
    );
    println!(
        "  request time: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        quantile(&times, 0.5),
        quantile(&times, 0.99),
        quantile(&times, 1.0)
    );
    if let (Some(pid), Some((server, tool))) = (pid, used) {
        println!(
            "  server pid {pid}: {server:.2} CPU s = {:.0}% of one core, {:.1} CPU µs per alert; peak RSS {:.1} MiB; this tool {tool:.2} CPU s",
            100.0 * server / measured,
            1e6 * server / ok.max(1) as f64,
            peak_rss_mib(pid).unwrap_or(f64::NAN)
        );
    }
    println!(
        "  webhook notifications during the run: {}",
        hook.notifications.load(Ordering::Relaxed) - notified_before
    );
    let t = Instant::now();
    let (all, ours) = listed(&client, url, token, |v| v["labels"]["job"] == "node").await?;
    println!(
        "  GET /api/v2/alerts: {all} alerts ({ours} of this load; {} distinct posted) in {:.0} ms: dedup {}",
        a.alerts,
        t.elapsed().as_secs_f64() * 1e3,
        if ours == a.alerts { "ok" } else { "MISMATCH" }
    );
    Ok(())
}

async fn latency(
    a: &Args,
    url: &str,
    token: Option<&str>,
    pid: Option<u32>,
    hook: &Arc<Hook>,
) -> Result<(), String> {
    let total = hook.sent.len();
    let endpoint = format!("{url}/api/v2/alerts");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let cpu = pid.map(Cpu::start).transpose()?;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / a.rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let answers = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let refused = Arc::new(AtomicU64::new(0));
    let mut sends = tokio::task::JoinSet::new();
    let started = Instant::now();
    for seq in 0..total {
        tick.tick().await;
        let body = json!([{
            "labels": {
                "alertname": "LoadLatency", "run": hook.run, "seq": seq.to_string(),
                "severity": "page", "job": "alerts-load",
            },
            "annotations": {"summary": format!("latency probe {seq}")},
            "startsAt": rfc3339(SystemTime::now()),
            "generatorURL": "http://prometheus:9090/graph",
        }]);
        let body = Bytes::from(serde_json::to_vec(&body).expect("json"));
        let req = post(&client, &endpoint, token, body);
        let (answers, refused, hook) = (answers.clone(), refused.clone(), hook.clone());
        let origin = hook.origin.expect("origin");
        sends.spawn(async move {
            let t = origin.elapsed().as_nanos() as u64;
            hook.sent[seq].store(t.max(1), Ordering::Release);
            match req.send().await {
                Ok(r) if r.status() == reqwest::StatusCode::OK => {
                    let took = origin.elapsed().as_nanos() as u64 - t;
                    answers.lock().expect("answers").push(took);
                }
                Ok(r) => {
                    if refused.fetch_add(1, Ordering::Relaxed) == 0 {
                        let status = r.status();
                        eprintln!(
                            "first refusal: {status} {}",
                            r.text().await.unwrap_or_default()
                        );
                    }
                }
                Err(e) => {
                    if refused.fetch_add(1, Ordering::Relaxed) == 0 {
                        eprintln!("first failure: {e}");
                    }
                }
            }
        });
    }
    while sends.join_next().await.is_some() {}
    let sent_for = started.elapsed().as_secs_f64();
    // Wait (bounded) for the last notifications.
    let deadline = Instant::now() + Duration::from_secs(10);
    while hook.arrivals.lock().expect("arrivals").len() < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let used = cpu.as_ref().map(Cpu::since).transpose()?;
    let arrivals = hook.arrivals.lock().expect("arrivals").clone();
    let mut seen = vec![0u32; total];
    for (seq, _) in &arrivals {
        seen[*seq as usize] += 1;
    }
    let missing = seen.iter().filter(|n| **n == 0).count();
    let repeated = seen.iter().filter(|n| **n > 1).count();
    let mut lat: Vec<u64> = arrivals.iter().map(|(_, ns)| *ns).collect();
    lat.sort_unstable();
    let mut ans = answers.lock().expect("answers").clone();
    ans.sort_unstable();
    println!(
        "latency: {total} new alerts, one per request, at {} /s for {sent_for:.1} s ({:.1} /s achieved)",
        a.rate,
        total as f64 / sent_for
    );
    println!(
        "  POST to webhook: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} arrived, {missing} missing, {repeated} more than once, {} refused)",
        quantile(&lat, 0.5),
        quantile(&lat, 0.9),
        quantile(&lat, 0.99),
        quantile(&lat, 1.0),
        lat.len(),
        refused.load(Ordering::Relaxed)
    );
    println!(
        "  POST answered: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; payloads not version 4: {}",
        quantile(&ans, 0.5),
        quantile(&ans, 0.99),
        quantile(&ans, 1.0),
        hook.not_v4.load(Ordering::Relaxed)
    );
    if let (Some(pid), Some((server, tool))) = (pid, used) {
        let wall = started.elapsed().as_secs_f64();
        println!(
            "  server pid {pid}: {server:.2} CPU s over {wall:.1} s = {:.1}% of one core; peak RSS {:.1} MiB; this tool {tool:.2} CPU s",
            100.0 * server / wall,
            peak_rss_mib(pid).unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let a = args()?;
    if a.print_config {
        print!("{}", config(a.mode, a.hook));
        return Ok(());
    }
    let run = format!(
        "{:x}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_millis()
    );
    let total = match a.mode {
        Mode::Latency => (a.rate * a.seconds).round() as usize,
        Mode::Throughput => 0,
    };
    let hook = Arc::new(Hook {
        origin: Some(Instant::now()),
        sent: (0..total).map(|_| AtomicU64::new(0)).collect(),
        run,
        ..Hook::default()
    });
    let hook_addr = start_hook(a.hook, hook.clone()).await?;
    let spawned = match a.spawn {
        Some(kind) => Some(spawn(kind, a.bin.as_deref(), &config(a.mode, hook_addr)).await?),
        None => None,
    };
    let (url, token, pid) = match &spawned {
        Some((s, url, token)) => (
            url.clone(),
            token.clone().or(a.token.clone()),
            Some(s.child.id()),
        ),
        None => (a.url.clone(), a.token.clone(), a.pid),
    };
    if let Some(kind) = a.spawn {
        let name = match kind {
            Kind::Headroom => "headroom serve",
            Kind::Alertmanager => "alertmanager",
        };
        println!(
            "spawned {name} at {url} (pid {}), webhooks to {hook_addr}",
            pid.unwrap_or(0)
        );
    }
    let result = match a.mode {
        Mode::Throughput => throughput(&a, &url, token.as_deref(), pid, &hook).await,
        Mode::Latency => latency(&a, &url, token.as_deref(), pid, &hook).await,
    };
    drop(spawned);
    result
}
