//! `headroom serve` as a process: its flags as environment variables, a refused config, and
//! reload on SIGHUP (a bad reload keeps the running config).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn config(slos: &[&str]) -> String {
    let mut y = String::from("anonymous_read: true\nslos:\n");
    for s in slos {
        y.push_str(&format!("  - name: {s}\n    service: svc\n    objective: 99\n    window: 7d\n    sli:\n      events: {{}}\n"));
    }
    y
}

/// Starts `headroom serve` configured through environment variables only.
fn start(data: &Path, config: &Path, addr: SocketAddr) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_headroom"))
        .arg("serve")
        .env("HEADROOM_CONFIG", config)
        .env("HEADROOM_DATA_DIR", data)
        .env("HEADROOM_LISTEN", addr.to_string())
        .env("RUST_LOG", "warn")
        .env_remove("HEADROOM_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    for line in out.lines() {
        if line.unwrap().starts_with("headroom listening on") {
            return child;
        }
    }
    let status = child.wait().unwrap();
    panic!("headroom serve exited before listening: {status}");
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
