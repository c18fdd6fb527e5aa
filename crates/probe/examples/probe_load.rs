//! What 1,000 HTTP probes at a 10 s interval cost, next to Prometheus's blackbox exporter
//! doing the same work.
//!
//! ```text
//! probe_load --serve 127.0.0.1:18080                      # the target, in its own process
//! probe_load --target 127.0.0.1:18080 --seconds 120       # headroom's fleet, measured here
//! probe_load --target 127.0.0.1:18080 --seconds 120 \
//!     --blackbox http://127.0.0.1:19115 --pid PID         # drive and measure the exporter
//! ```
//!
//! Options: `--probes N` (1000), `--interval S` (10). The target runs separately so its CPU is
//! not counted against either prober.
//!
//! Figures and the full procedure: BENCHMARKS.md, "Probes".

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use headroom_probe::{HeartbeatBoard, HttpProbe, ProbeFleet, ProbeKind, ProbeSpec};

struct Options {
    serve: Option<String>,
    target: String,
    seconds: u64,
    probes: usize,
    interval: Duration,
    blackbox: Option<String>,
    pid: Option<u32>,
}

fn options() -> Options {
    let mut options = Options {
        serve: None,
        target: "127.0.0.1:18080".into(),
        seconds: 120,
        probes: 1000,
        interval: Duration::from_secs(10),
        blackbox: None,
        pid: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--serve" => options.serve = Some(value()),
            "--target" => options.target = value(),
            "--seconds" => options.seconds = value().parse().expect("--seconds N"),
            "--probes" => options.probes = value().parse().expect("--probes N"),
            "--interval" => {
                options.interval = Duration::from_secs(value().parse().expect("--interval S"))
            }
            "--blackbox" => options.blackbox = Some(value()),
            "--pid" => options.pid = Some(value().parse().expect("--pid PID")),
            other => panic!("unknown option {other}"),
        }
    }
    options
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        match (&options.serve, &options.blackbox) {
            (Some(addr), _) => serve(addr).await,
            (None, Some(url)) => drive_blackbox(&options, url).await,
            (None, None) => run_fleet(&options).await,
        }
    });
}

async fn serve(addr: &str) {
    let app = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    eprintln!("serving http://{}/health", listener.local_addr().unwrap());
    axum::serve(listener, app).await.expect("serve");
}

fn urls(options: &Options) -> Vec<String> {
    (0..options.probes)
        .map(|i| format!("http://{}/health?i={i}", options.target))
        .collect()
}

async fn run_fleet(options: &Options) {
    let specs = urls(options)
        .into_iter()
        .enumerate()
        .map(|(i, url)| ProbeSpec {
            name: format!("load-{i}"),
            kind: ProbeKind::Http(HttpProbe::get(url)),
            interval: options.interval,
            timeout: Duration::from_secs(5),
            conditions: Vec::new(),
        })
        .collect();
    let runs = Arc::new(AtomicU64::new(0));
    let successes = Arc::new(AtomicU64::new(0));
    let (sink_runs, sink_successes) = (runs.clone(), successes.clone());
    let cpu_before = cpu_seconds("self");
    let started = Instant::now();
    let fleet = ProbeFleet::spawn(
        specs,
        64,
        Arc::new(HeartbeatBoard::new()),
        Arc::new(move |_: &ProbeSpec, result| {
            sink_runs.fetch_add(1, Ordering::Relaxed);
            if result.success {
                sink_successes.fetch_add(1, Ordering::Relaxed);
            }
        }),
        Arc::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or_default()
        }),
    );
    tokio::time::sleep(Duration::from_secs(options.seconds)).await;
    fleet.stop().await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds("self") - cpu_before;
    report(
        "headroom",
        elapsed,
        cpu,
        vm_hwm_kib("self"),
        runs.load(Ordering::Relaxed),
        successes.load(Ordering::Relaxed),
    );
}

/// Scrapes the exporter's `/probe` for every target once per interval, spread evenly as
/// Prometheus spreads its scrapes, and measures the exporter process.
async fn drive_blackbox(options: &Options, exporter: &str) {
    let pid = options
        .pid
        .expect("--pid of the exporter is needed to measure it")
        .to_string();
    let client = reqwest::Client::new();
    let runs = Arc::new(AtomicU64::new(0));
    let successes = Arc::new(AtomicU64::new(0));
    let cpu_before = cpu_seconds(&pid);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let targets = urls(options);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, target) in targets.into_iter().enumerate() {
        let offset = options.interval.mul_f64(i as f64 / options.probes as f64);
        let url = format!("{exporter}/probe?module=http_2xx&target={target}");
        let (client, runs, successes) = (client.clone(), runs.clone(), successes.clone());
        let interval = options.interval;
        tasks.spawn(async move {
            let mut ticks = tokio::time::interval_at((started + offset).into(), interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                // Stop at the deadline itself, not at the first tick after it, so the
                // measured wall time is all under load.
                if tokio::time::timeout_at(deadline.into(), ticks.tick())
                    .await
                    .is_err()
                {
                    return;
                }
                let response = client
                    .get(&url)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                runs.fetch_add(1, Ordering::Relaxed);
                if let Ok(response) = response
                    && let Ok(text) = response.text().await
                    && text.lines().any(|line| line == "probe_success 1")
                {
                    successes.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(&pid) - cpu_before;
    report(
        "blackbox_exporter",
        elapsed,
        cpu,
        vm_hwm_kib(&pid),
        runs.load(Ordering::Relaxed),
        successes.load(Ordering::Relaxed),
    );
}

fn report(who: &str, elapsed: f64, cpu: f64, hwm_kib: u64, runs: u64, successes: u64) {
    println!(
        "{who}: {elapsed:.1} s wall, {cpu:.2} s CPU = {:.2}% of one core, peak RSS {:.1} MiB, \
         {runs} probes ({successes} successful), {:.1} µs CPU per probe",
        100.0 * cpu / elapsed,
        hwm_kib as f64 / 1024.0,
        1e6 * cpu / runs.max(1) as f64,
    );
}

/// User plus system CPU of a process, from /proc/PID/stat (fields 14 and 15, in clock ticks
/// of 1/100 s on Linux).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    // The command name may contain spaces; fields are counted after its closing parenthesis.
    let after_name = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// Peak resident set size in KiB.
fn vm_hwm_kib(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
