//! kill -9 durability: every batch `headroom serve` acknowledged is counted after a restart, exactly
//! once (a batch whose answer was lost is retried with its Idempotency-Key).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::common::{free_port, random};

const SLO: &str = "example-checkout-availability";

struct Server {
    child: Child,
    addr: SocketAddr,
    /// The admin token printed at first start.
    token: Option<String>,
}

fn start(data: &Path) -> Server {
    let addr = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_headroom"))
        .args(["serve", "--data-dir"])
        .arg(data)
        .args(["--listen", &addr.to_string()])
        .env("RUST_LOG", "warn")
        .env_remove("HEADROOM_CONFIG")
        .env_remove("HEADROOM_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    // Keep draining stdout for the whole life of the process.
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut token = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("headroom serve did not start listening within 30s");
        let t = line.trim();
        if t.starts_with("hr_") {
            token = Some(t.to_string());
        }
        if line.starts_with("headroom listening on") {
            break;
        }
    }
    Server { child, addr, token }
}

/// One HTTP/1.1 request over a fresh connection; `Err` when no full answer came back.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, Value)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("truncated answer: {text:?}")))?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {head:?}")))?;
    let len: Option<usize> = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    });
    if let Some(len) = len
        && rest.len() < len
    {
        return Err(std::io::Error::other("truncated body"));
    }
    let v = serde_json::from_str(rest).unwrap_or(Value::Null);
    Ok((status, v))
}

#[derive(Clone)]
struct Batch {
    key: String,
    total: u64,
    body: String,
}

fn batch(key: String) -> Batch {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let total = 1 + random(500);
    let events: Vec<Value> = (0..4)
        .map(|i| json!({"timestamp": now, "good": total / 4 + u64::from(i == 0) * (total % 4), "total": total / 4 + u64::from(i == 0) * (total % 4)}))
        .collect();
    Batch {
        key,
        total,
        body: json!({"events": events}).to_string(),
    }
}

fn send(addr: SocketAddr, token: &str, b: &Batch) -> std::io::Result<(u16, Value)> {
    http(
        addr,
        "POST",
        &format!("/api/v1/slos/{SLO}/events"),
        token,
        &[("Idempotency-Key", &b.key)],
        &b.body,
    )
}

/// Pushes batches until `stop`; returns the acknowledged sum and the batch whose answer was lost.
fn pusher(
    addr: SocketAddr,
    token: String,
    prefix: String,
    stop: Arc<AtomicBool>,
) -> (u64, Option<Batch>) {
    let mut acked = 0;
    for i in 0.. {
        if stop.load(Ordering::SeqCst) {
            return (acked, None);
        }
        let b = batch(format!("{prefix}-{i}"));
        match send(addr, &token, &b) {
            Ok((200, v)) => {
                assert_eq!(v["duplicate"], false, "{v}");
                acked += b.total;
            }
            Ok((status, v)) => panic!("batch {} answered {status}: {v}", b.key),
            Err(_) => return (acked, Some(b)),
        }
    }
    unreachable!()
}

fn total_events(addr: SocketAddr, token: &str) -> f64 {
    let (status, v) = http(addr, "GET", &format!("/api/v1/slos/{SLO}"), token, &[], "").unwrap();
    assert_eq!(status, 200, "{v}");
    v["total_events"].as_f64().unwrap_or(0.0)
}

/// The evaluator updates the view asynchronously after a push: wait for `want`, then compare.
fn wait_for_total(addr: SocketAddr, token: &str, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = total_events(addr, token);
    while got != want as f64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        got = total_events(addr, token);
    }
    assert_eq!(
        got, want as f64,
        "acknowledged {want} events, the SLO counts {got}"
    );
}

#[test]
fn acknowledged_events_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = start(&data);
    let token = server
        .token
        .clone()
        .expect("no admin token printed at first start");
    let mut acked: u64 = 0;
    for round in 0..3 {
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..2)
            .map(|w| {
                let (addr, token, stop) = (server.addr, token.clone(), stop.clone());
                std::thread::spawn(move || pusher(addr, token, format!("r{round}-w{w}"), stop))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(200 + random(800)));
        // Child::kill sends SIGKILL on unix.
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        stop.store(true, Ordering::SeqCst);
        let mut lost = Vec::new();
        for w in workers {
            let (sum, pending) = w.join().unwrap();
            acked += sum;
            lost.extend(pending);
        }
        assert!(acked > 0, "no batch was acknowledged before the kill");

        let retried = lost.len();
        server = start(&data);
        assert!(server.token.is_none(), "a second admin token was created");
        for b in lost {
            let (status, v) = send(server.addr, &token, &b).unwrap();
            assert_eq!(status, 200, "retry of {} answered {v}", b.key);
            acked += b.total;
        }
        wait_for_total(server.addr, &token, acked);
        eprintln!(
            "round {round}: {acked} events acknowledged and counted ({retried} unanswered batch(es) retried)"
        );
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}
