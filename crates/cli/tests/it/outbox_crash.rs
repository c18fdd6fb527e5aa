//! kill -9 and the notification outbox: `headroom serve` is killed at random moments while
//! alerts are posted to it, and restarted on the same data directory each time. Every alert it
//! acknowledged must reach the webhook receiver (0 lost), never as two different notifications
//! (0 duplicated). A notification re-sent because the kill fell between the receiver's answer
//! and the outbox recording it carries the same Idempotency-Key, so the receiver recognises it;
//! those are counted and printed, not hidden.
//!
//! `HEADROOM_CRASH_RUNS` sets the number of kills (default 10; BENCHMARKS.md reports 100).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{free_port, random};

/// Deliveries seen: alert sequence number → idempotency keys, one entry per delivery.
type Seen = Arc<Mutex<BTreeMap<u64, Vec<String>>>>;

/// Reads one HTTP/1.1 request: (lowercased headers, body).
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(BTreeMap<String, String>, Vec<u8>)> {
    let mut headers = BTreeMap::new();
    let mut line = String::new();
    reader.read_line(&mut line).ok().filter(|n| *n > 0)?;
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some((headers, body))
}

/// The webhook receiver: records each delivery's alerts and key, answers 200.
fn receiver(seen: Seen) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut out = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                while let Some((headers, body)) = read_request(&mut reader) {
                    let key = headers.get("idempotency-key").cloned().unwrap_or_default();
                    if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                        let mut seen = seen.lock().unwrap();
                        for a in v["alerts"].as_array().into_iter().flatten() {
                            if let Some(seq) =
                                a["labels"]["seq"].as_str().and_then(|s| s.parse().ok())
                            {
                                seen.entry(seq).or_default().push(key.clone());
                            }
                        }
                    }
                    let _ = out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
                }
            });
        }
    });
    addr
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

// The caller kills and waits for the process (that is the test).
#[allow(clippy::zombie_processes)]
fn start(data: &Path, config: &Path) -> (Server, Option<String>) {
    let addr = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_headroom"))
        .args(["serve", "--data-dir"])
        .arg(data)
        .arg("--config")
        .arg(config)
        .args(["--listen", &addr.to_string()])
        .env("RUST_LOG", "error")
        .env_remove("HEADROOM_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut token = None;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.trim().starts_with("hr_") {
            token = Some(line.trim().to_string());
        }
        if line.starts_with("headroom listening on") {
            // Keep draining stdout so the server never blocks on it.
            std::thread::spawn(move || for _ in lines {});
            return (Server { child, addr }, token);
        }
    }
    panic!("headroom serve exited before listening");
}

/// Posts one alert; `true` when headroom answered 200 (acknowledged).
fn post(addr: SocketAddr, token: &str, seq: u64) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let body = format!(r#"[{{"labels":{{"alertname":"Crash","seq":"{seq}"}}}}]"#);
    let req = format!(
        "POST /api/v2/alerts HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

#[test]
fn killed_at_random_moments_the_outbox_loses_and_duplicates_nothing() {
    let runs: u64 = std::env::var("HEADROOM_CRASH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let seen: Seen = Arc::default();
    let hook = receiver(seen.clone());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("c.yaml");
    std::fs::write(
        &config,
        format!(
            "route:\n  receiver: hook\n  group_by: ['...']\n  group_wait: 0s\n  group_interval: 1h\n  repeat_interval: 24h\nreceivers:\n  - name: hook\n    webhook_configs: [{{url: 'http://{hook}/', send_resolved: false}}]\n"
        ),
    )
    .unwrap();

    let (mut server, token) = start(&data, &config);
    let token = token.expect("a first start prints an admin token");
    let acked: Arc<Mutex<BTreeSet<u64>>> = Arc::default();
    let next = Arc::new(AtomicU64::new(0));
    for _ in 0..runs {
        // Post alerts one by one while the kill comes at a random moment.
        let stop = Arc::new(AtomicBool::new(false));
        let poster = {
            let (stop, acked, next, token, addr) = (
                stop.clone(),
                acked.clone(),
                next.clone(),
                token.clone(),
                server.addr,
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let seq = next.fetch_add(1, Ordering::SeqCst);
                    if post(addr, &token, seq) {
                        acked.lock().unwrap().insert(seq);
                    }
                }
            })
        };
        std::thread::sleep(Duration::from_millis(20 + random(300)));
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        stop.store(true, Ordering::SeqCst);
        poster.join().unwrap();
        server = start(&data, &config).0;
    }

    // Let the last server deliver everything acknowledged: items the last killed server had
    // claimed wait for their claim (30 s) to lapse.
    let acked = acked.lock().unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        let seen = seen.lock().unwrap();
        if acked.iter().all(|s| seen.contains_key(s)) {
            break;
        }
        drop(seen);
        std::thread::sleep(Duration::from_millis(100));
    }
    // A few more rounds, so a late duplicate would show.
    std::thread::sleep(Duration::from_millis(500));
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let seen = seen.lock().unwrap();
    let lost: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|s| !seen.contains_key(s))
        .collect();
    let duplicated: Vec<u64> = seen
        .iter()
        .filter(|(_, keys)| keys.iter().collect::<BTreeSet<_>>().len() > 1)
        .map(|(s, _)| *s)
        .collect();
    let resent: usize = seen
        .values()
        .map(|keys| keys.len() - keys.iter().collect::<BTreeSet<_>>().len())
        .sum();
    println!(
        "{runs} kills: {} alerts acknowledged, {} delivered, {} lost, {} duplicated, {resent} re-sent with the same Idempotency-Key",
        acked.len(),
        seen.len(),
        lost.len(),
        duplicated.len()
    );
    assert!(acked.len() as u64 >= runs, "some alerts were acknowledged");
    assert!(
        lost.is_empty(),
        "acknowledged but never delivered: {lost:?}"
    );
    assert!(
        duplicated.is_empty(),
        "delivered as different notifications: {duplicated:?}"
    );
}
