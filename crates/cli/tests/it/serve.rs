//! `headroom serve` as a process: its flags as environment variables, a refused config, and
//! reload on SIGHUP (a bad reload keeps the running config).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{free_port, start_with_token};

fn config(slos: &[&str]) -> String {
    let mut y = String::from("anonymous_read: true\nslos:\n");
    for s in slos {
        y.push_str(&format!("  - name: {s}\n    service: svc\n    objective: 99\n    window: 7d\n    sli:\n      events: {{}}\n"));
    }
    y
}

/// Starts `headroom serve` configured through environment variables only.
fn start(data: &Path, config: &Path, addr: SocketAddr) -> Child {
    start_with_token(data, config, addr).0
}

fn get(addr: SocketAddr, path: &str) -> Value {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {resp}"))
}

fn slo_ids(addr: SocketAddr) -> Vec<String> {
    let v = get(addr, "/api/v1/slos");
    v["slos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

/// Waits (bounded) for the server to react to a signal: the reaction is asynchronous.
fn wait_for(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn hangup(child: &Child) {
    let ok = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn sighup_reloads_and_a_bad_reload_keeps_the_running_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("slos.yaml");
    std::fs::write(&cfg, config(&["alpha"])).unwrap();
    let addr = free_port();
    let mut child = start(&dir.path().join("data"), &cfg, addr);
    assert_eq!(slo_ids(addr), vec!["alpha"]);

    std::fs::write(&cfg, config(&["alpha", "beta"])).unwrap();
    hangup(&child);
    assert!(
        wait_for(|| slo_ids(addr) == ["alpha", "beta"]),
        "SIGHUP did not reload: {:?}",
        slo_ids(addr)
    );

    // A broken file: refused, counted, and the two SLOs keep being served.
    std::fs::write(&cfg, "slos:\n  - name: gamma\n    objectve: 99\n").unwrap();
    hangup(&child);
    let failures = || {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut m = String::new();
        s.read_to_string(&mut m).unwrap();
        m.contains("\nheadroom_config_reload_failures_total 1\n")
    };
    assert!(wait_for(failures), "the refused reload was not counted");
    assert_eq!(slo_ids(addr), vec!["alpha", "beta"]);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn an_invalid_config_is_refused_before_anything_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("slos.yaml");
    std::fs::write(
        &cfg,
        "slos:\n  - name: a\n    service: s\n    objective: 101\n    sli:\n      events: {}\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_headroom"))
        .args(["serve", "--listen", &free_port().to_string(), "--data-dir"])
        .arg(&data)
        .arg("--config")
        .arg(&cfg)
        .env_remove("HEADROOM_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:4:16:", cfg.display())), "{err}");
    assert!(err.contains("objective 101 is out of range"), "{err}");
    assert!(!data.exists(), "a refused start created {}", data.display());
}

/// Runs the CLI as a client of `addr`; returns exit code and stdout.
fn cli(addr: SocketAddr, token: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_headroom"))
        .args(args)
        .env("HEADROOM_URL", format!("http://{addr}"))
        .env("HEADROOM_TOKEN", token)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap(),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn cli_client_pushes_and_reads_with_documented_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("slos.yaml");
    std::fs::write(&cfg, config(&["alpha"])).unwrap();
    let addr = free_port();
    let (mut child, token) = start_with_token(&dir.path().join("data"), &cfg, addr);
    assert!(token.starts_with("hr_"), "no admin token printed");

    let (code, out, _) = cli(
        addr,
        &token,
        &["ingest", "alpha", "--good", "97", "--total", "100"],
    );
    assert_eq!(code, 0);
    assert!(out.contains("accepted 1"), "{out}");
    // The same batch twice under one Idempotency-Key: counted once.
    let keyed = [
        "ingest",
        "alpha",
        "--good",
        "3",
        "--total",
        "4",
        "--idempotency-key",
        "k",
    ];
    let (code, out, _) = cli(addr, &token, &keyed);
    assert_eq!((code, out.contains("accepted 1")), (0, true), "{out}");
    let (code, out, _) = cli(addr, &token, &keyed);
    assert_eq!((code, out.contains("already counted")), (0, true), "{out}");
    // Refused input: exit 1 with the server's reason.
    let (code, _, err) = cli(
        addr,
        &token,
        &["ingest", "nope", "--good", "1", "--total", "1"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("no SLO \"nope\""), "{err}");
    let (code, _, err) = cli(
        addr,
        "hr_wrong",
        &["ingest", "alpha", "--good", "1", "--total", "1"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("401"), "{err}");

    // The evaluator runs on new data: wait for it, then read as JSON and as a table.
    let read = || cli(addr, &token, &["slo", "get", "alpha", "--output", "json"]);
    assert!(wait_for(|| serde_json::from_str::<Value>(&read().1)
        .unwrap()["total_events"]
        == 104.0));
    let v: Value = serde_json::from_str(&read().1).unwrap();
    assert_eq!(v["good_events"], 100.0);
    // 4 bad of 104 against a 1% budget of 1.04 events.
    let consumed = v["budget_consumed"].as_f64().unwrap();
    assert!((consumed - 4.0 / 1.04).abs() < 1e-9, "{consumed}");
    let (code, out, _) = cli(addr, &token, &["slo", "list"]);
    assert_eq!(code, 0);
    let line = out
        .lines()
        .find(|l| l.starts_with("alpha"))
        .expect("alpha listed");
    assert!(line.contains("99.0%") && line.contains("0.96154"), "{line}");
    let (_, out, _) = cli(addr, &token, &["slo", "get", "alpha"]);
    assert!(out.contains("events:            100 good of 104"), "{out}");
    assert!(out.contains("burn rates:        5m="), "{out}");
    child.kill().unwrap();
    child.wait().unwrap();

    // Nobody listening: exit 3.
    let (code, _, err) = cli(addr, &token, &["slo", "list"]);
    assert_eq!(code, 3, "{err}");
}

/// Runs `sql` through psql against `url`.
fn psql(url: &str, sql: &str) {
    let ok = Command::new("psql")
        .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .status()
        .unwrap();
    assert!(ok.success(), "psql failed: {sql}");
}

#[test]
fn state_in_postgresql_when_given_a_database_url() {
    let Ok(admin_url) = std::env::var("HEADROOM_TEST_POSTGRES_URL") else {
        eprintln!(
            "SKIPPED state_in_postgresql_when_given_a_database_url: HEADROOM_TEST_POSTGRES_URL is not set"
        );
        return;
    };
    let schema = format!("t_cli_{}", std::process::id());
    psql(&admin_url, &format!("create schema {schema}"));
    let sep = if admin_url.contains('?') { '&' } else { '?' };
    let url = format!("{admin_url}{sep}options[search_path]={schema}");
    let dir = tempfile::tempdir().unwrap();

    // A token made by the CLI in PostgreSQL is the one the server accepts.
    let out = Command::new(env!("CARGO_BIN_EXE_headroom"))
        .args([
            "token",
            "create",
            "--scope",
            "ingest",
            "--database-url",
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let cfg = dir.path().join("slos.yaml");
    std::fs::write(&cfg, config(&["alpha"])).unwrap();
    let addr = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_headroom"))
        .args([
            "serve",
            "--listen",
            &addr.to_string(),
            "--database-url",
            &url,
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .take_while(|l| !l.starts_with("headroom listening on"))
        .collect();
    // A token already exists, so no admin token is minted.
    assert!(!lines.iter().any(|l| l.contains("hr_")), "{lines:?}");
    assert!(
        !dir.path().join("data/headroom.db").exists(),
        "SQLite was used despite --database-url"
    );
    let (code, out, err) = cli(
        addr,
        &token,
        &["ingest", "alpha", "--good", "1", "--total", "1"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = cli(
        addr,
        &format!("{token}x"),
        &["ingest", "alpha", "--good", "1", "--total", "1"],
    );
    assert_eq!(code, 1, "{err}");
    child.kill().unwrap();
    child.wait().unwrap();
    psql(&admin_url, &format!("drop schema {schema} cascade"));
}

/// A connection to `addr` from a chosen loopback address (all of 127.0.0.0/8 reaches this
/// host), so one test can be several clients.
fn connect_from(local: [u8; 4], addr: SocketAddr) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((local, 0))).unwrap();
        socket.connect(addr).await.unwrap().into_std().unwrap()
    });
    stream.set_nonblocking(false).unwrap();
    stream
}

/// The status line of `GET path` with `token`, sent from `local`.
fn status_from(local: [u8; 4], addr: SocketAddr, path: &str, token: &str) -> String {
    let mut s = connect_from(local, addr);
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.lines().next().unwrap_or_default().to_string()
}

#[test]
fn wrong_tokens_are_throttled_per_client_address() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("slos.yaml");
    std::fs::write(&config_path, config(&["a"])).unwrap();
    let addr = free_port();
    let (mut child, admin) = start_with_token(&dir.path().join("data"), &config_path, addr);
    let wrong = format!("hr_{}", "0".repeat(64));
    let first: Vec<String> = (0..21)
        .map(|_| status_from([127, 0, 0, 1], addr, "/api/v1/slos", &wrong))
        .collect();
    assert!(first[..20].iter().all(|s| s.contains(" 401 ")), "{first:?}");
    assert!(first[20].contains(" 429 "), "{first:?}");
    // The throttled address waits even with a good token; another address is served.
    assert!(status_from([127, 0, 0, 1], addr, "/api/v1/slos", &admin).contains(" 429 "));
    assert!(status_from([127, 0, 0, 2], addr, "/api/v1/slos", &admin).contains(" 200 "));
    child.kill().unwrap();
    child.wait().unwrap();
}
