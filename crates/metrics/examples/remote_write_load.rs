//! Sends remote_write requests shaped like a Prometheus server's (2,000 series × 5 samples,
//! fresh increasing timestamps per request) to a receiver, and with `--pid` reports the CPU the
//! receiving process spent per million samples.
//!
//! cargo run --release -p headroom-metrics --example remote_write_load -- \
//!     --url http://127.0.0.1:9090/api/v1/write --requests 200 --warmup 10 --pid 1234 \
//!     [--token hr_…]
//!
//! With `--flood N --decompressed-mib M`, it instead sends rounds of N concurrent requests, each
//! decompressing to just under M MiB (the receiver's limit), and reports the receiver's resident
//! memory before and at its peak (VmHWM): what a burst of maximal requests costs.

// The example sends the workload's series only; its SLOs are for the bench.
#[allow(dead_code)]
#[path = "../benches/support/workload.rs"]
mod workload;

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use headroom_core::Timestamp;
use headroom_ingest::remote_write::{encode, to_proto};

struct Args {
    url: String,
    requests: u64,
    /// Requests sent before measuring, so the receiver's series already exist.
    warmup: u64,
    pid: Option<u32>,
    /// Sent as `Authorization: Bearer`, as Prometheus's `authorization.credentials` does.
    token: Option<String>,
    /// Concurrent maximal requests per round, instead of the Prometheus-like workload.
    flood: Option<usize>,
    decompressed_mib: usize,
    rounds: usize,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        url: "http://127.0.0.1:9090/api/v1/write".into(),
        requests: 100,
        warmup: 10,
        pid: None,
        token: None,
        flood: None,
        decompressed_mib: 16,
        rounds: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = value()?,
            "--requests" => {
                a.requests = value()?.parse().map_err(|e| format!("--requests: {e}"))?
            }
            "--warmup" => a.warmup = value()?.parse().map_err(|e| format!("--warmup: {e}"))?,
            "--pid" => a.pid = Some(value()?.parse().map_err(|e| format!("--pid: {e}"))?),
            "--token" => a.token = Some(value()?),
            "--flood" => a.flood = Some(value()?.parse().map_err(|e| format!("--flood: {e}"))?),
            "--decompressed-mib" => {
                a.decompressed_mib = value()?
                    .parse()
                    .map_err(|e| format!("--decompressed-mib: {e}"))?
            }
            "--rounds" => a.rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?,
            other => {
                return Err(format!(
                    "unknown argument {other}; use --url, --requests, --warmup, --pid, --token, \
                     --flood, --decompressed-mib, --rounds"
                ));
            }
        }
    }
    Ok(a)
}

/// utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/P/stat).
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // The command name may hold spaces; fields are counted after its closing parenthesis.
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

/// A field of /proc/P/status in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, field: &str) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or(format!("no {field} in /proc/{pid}/status"))
}

/// One request of series that no SLO selects, decompressing to just under `limit` bytes.
fn maximal_body(limit: usize, now_ms: i64) -> Vec<u8> {
    use headroom_ingest::remote_write::proto::{Label, Sample, TimeSeries, WriteRequest};
    use prost::Message;
    let one = |i: usize| TimeSeries {
        labels: vec![
            Label {
                name: b"__name__".to_vec(),
                value: b"flood_requests_total".to_vec(),
            },
            Label {
                name: b"instance".to_vec(),
                value: format!("host-{i:08}").into_bytes(),
            },
            Label {
                name: b"pad".to_vec(),
                value: vec![b'x'; 100],
            },
        ],
        samples: vec![Sample {
            value: i as f64,
            timestamp: now_ms,
        }],
    };
    let mut req = WriteRequest {
        timeseries: Vec::new(),
        metadata: Vec::new(),
    };
    // Each series costs its own length, a tag and a length prefix inside the request.
    let room = limit.saturating_sub(1024);
    let mut size = 0;
    loop {
        let next = one(req.timeseries.len());
        let len = next.encoded_len();
        let cost = len + 1 + prost::encoding::encoded_len_varint(len as u64);
        if size + cost > room {
            break;
        }
        size += cost;
        req.timeseries.push(next);
    }
    debug_assert_eq!(req.encoded_len(), size);
    encode(&req)
}

fn flood(a: &Args, n: usize) -> Result<(), String> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis() as i64;
    let body = maximal_body(a.decompressed_mib << 20, now_ms);
    println!(
        "{n} concurrent requests a round, {} rounds: {:.1} MiB compressed, just under {} MiB decompressed each",
        a.rounds,
        body.len() as f64 / (1 << 20) as f64,
        a.decompressed_mib
    );
    let before = a.pid.map(|p| status_kib(p, "VmRSS")).transpose()?;
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..a.rounds {
        let answers: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    scope.spawn(|| {
                        let mut req = client.post(&a.url);
                        if let Some(t) = &a.token {
                            req = req.bearer_auth(t);
                        }
                        match req
                            .header("Content-Encoding", "snappy")
                            .header("Content-Type", "application/x-protobuf")
                            .body(body.clone())
                            .send()
                        {
                            Ok(r) if r.status().is_success() => r.status().to_string(),
                            Ok(r) => format!("{} {}", r.status(), r.text().unwrap_or_default()),
                            Err(e) => format!("error: {e}"),
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| "panicked".into()))
                .collect()
        });
        for s in answers {
            *statuses.entry(s).or_default() += 1;
        }
    }
    println!(
        "answers in {:.1} s: {statuses:?}",
        started.elapsed().as_secs_f64()
    );
    if let (Some(pid), Some(before)) = (a.pid, before) {
        let peak = status_kib(pid, "VmHWM")?;
        println!(
            "pid {pid}: RSS {:.0} MiB before, peak {:.0} MiB",
            before as f64 / 1024.0,
            peak as f64 / 1024.0
        );
    }
    Ok(())
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

fn main() -> Result<(), String> {
    let a = args()?;
    if let Some(n) = a.flood {
        return flood(&a, n);
    }
    let labels = workload::label_sets();
    let per_request = (workload::SERIES * workload::SAMPLES_PER_SERIES) as u64;
    // Start in the past so the last request's samples are not in the future: a receiver may
    // refuse those, and one that keeps a head block refuses samples far older than its newest.
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis() as i64;
    let all = a.warmup + a.requests;
    let span = all as i64 * workload::SAMPLES_PER_SERIES as i64 * workload::STEP_MS;
    let start = Timestamp(now_ms - span);
    // Bodies are made before sending, so encoding does not compete with the receiver for CPU.
    let mut bodies: Vec<Vec<u8>> = (0..all)
        .map(|n| encode(&to_proto(&workload::request(&labels, start, n))))
        .collect();
    let measured = bodies.split_off(a.warmup as usize);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let send = |body: Vec<u8>| {
        let mut req = client.post(&a.url);
        if let Some(t) = &a.token {
            req = req.bearer_auth(t);
        }
        req.header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .header("User-Agent", "headroom-remote-write-load")
            .body(body)
            .send()
            .map_err(|e| e.to_string())
    };
    for body in bodies {
        let resp = send(body)?;
        if !resp.status().is_success() {
            return Err(format!("warm-up request refused: {}", resp.status()));
        }
    }
    if a.pid.is_some() {
        // Let the receiver settle after the warm-up.
        std::thread::sleep(Duration::from_millis(500));
    }
    let before = a.pid.map(cpu_ticks).transpose()?;
    let started = Instant::now();
    let mut failed = 0;
    for body in measured {
        let resp = send(body)?;
        if !resp.status().is_success() {
            failed += 1;
            if failed == 1 {
                let status = resp.status();
                eprintln!(
                    "first refusal: {status} {}",
                    resp.text().unwrap_or_default()
                );
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let samples = a.requests * per_request;
    println!(
        "sent {} requests ({samples} samples) in {elapsed:.2} s: {:.0} samples/s; {failed} refused",
        a.requests,
        samples as f64 / elapsed
    );
    if let (Some(pid), Some(before)) = (a.pid, before) {
        // Let the receiver finish work it queued (Prometheus appends asynchronously to its WAL).
        std::thread::sleep(Duration::from_millis(500));
        let cpu = (cpu_ticks(pid)? - before) as f64 / clock_ticks_per_second();
        println!(
            "pid {pid}: {cpu:.2} CPU seconds, {:.3} CPU seconds per million samples",
            cpu / (samples as f64 / 1e6)
        );
    }
    Ok(())
}
