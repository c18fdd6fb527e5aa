//! What the CLI's process tests share: free ports and a `headroom serve` started as a process.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Starts `headroom serve` configured through environment variables only, and returns once it
/// listens, with the admin token a first start prints.
pub fn start_with_token(data: &Path, config: &Path, addr: SocketAddr) -> (Child, String) {
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
    let mut token = String::new();
    for line in out.lines() {
        let line = line.unwrap();
        if line.trim().starts_with("hr_") {
            token = line.trim().to_string();
        }
        if line.starts_with("headroom listening on") {
            return (child, token);
        }
    }
    let status = child.wait().unwrap();
    panic!("headroom serve exited before listening: {status}");
}

/// A little randomness without a crate: the clock's nanoseconds, mixed.
pub fn random(bound: u64) -> u64 {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut x = n ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x % bound
}

/// Runs the CLI against `server` with `token` from the environment, as a pipeline would.
pub fn headroom(server: &str, token: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_headroom"))
        .args(args)
        .env("HEADROOM_URL", server)
        .env("HEADROOM_TOKEN", token)
        .output()
        .unwrap()
}

/// What a run printed, stdout then stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
