//! `headroom action run|runs|approve|reject` against a running `headroom serve`, whose outbox
//! sends approved runs to a receiver made here that records each request line.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{free_port, headroom, start_with_token, text};

/// Request lines and bodies a receiver saw.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// Answers every request 204 and records its request line and body.
fn recording_receiver() -> (std::net::SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let s = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut length = 0;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            s.lock().unwrap().push((
                line.trim().to_string(),
                String::from_utf8_lossy(&body).into_owned(),
            ));
            let _ = stream.write_all(
                b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    (addr, seen)
}

fn run_id(o: &Output) -> String {
    assert!(o.status.success(), "{}", text(o));
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn runs_by_hand_wait_for_approval_and_are_listed() {
    let (rx, seen) = recording_receiver();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.yaml");
    std::fs::write(
        &config,
        format!(
            r#"actions:
  - name: restart
    kind: http
    url: http://{rx}/restart
    body: '{{"host": {{{{ context.host }}}}}}'
    approval: required
"#
        ),
    )
    .unwrap();
    let addr = free_port();
    let (mut child, token) = start_with_token(&dir.path().join("data"), &config, addr);
    let server = format!("http://{addr}");

    let dry = headroom(
        &server,
        &token,
        &[
            "action",
            "run",
            "restart",
            "--dry-run",
            "--set",
            "host=web-1",
        ],
    );
    assert!(text(&dry).contains("restart dry_run"), "{}", text(&dry));
    let waiting = headroom(
        &server,
        &token,
        &["action", "run", "restart", "--set", "host=web-2"],
    );
    assert!(
        text(&waiting).contains("restart awaiting_approval"),
        "{}",
        text(&waiting)
    );
    let approved = run_id(&waiting);
    let doomed = run_id(&headroom(&server, &token, &["action", "run", "restart"]));
    let bad = headroom(
        &server,
        &token,
        &["action", "run", "restart", "--set", "nokey"],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));

    let o = headroom(
        &server,
        &token,
        &["action", "reject", &doomed, "--reason", "wrong host"],
    );
    assert!(text(&o).contains("rejected"), "{}", text(&o));
    let o = headroom(&server, &token, &["action", "approve", &approved]);
    assert!(
        text(&o).contains(&format!("{approved} restart queued")),
        "{}",
        text(&o)
    );
    let o = headroom(&server, &token, &["action", "approve", &doomed]);
    assert!(
        !o.status.success(),
        "a rejected run cannot be approved: {}",
        text(&o)
    );

    // The server's sender delivers the approved run on its own clock.
    let deadline = Instant::now() + Duration::from_secs(20);
    let runs = loop {
        let o = headroom(
            &server,
            &token,
            &["action", "runs", "--action", "restart", "--output", "json"],
        );
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let state = |id: &str| {
            v["runs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] == id)
                .map(|r| r["state"].clone())
        };
        if state(&approved) == Some("delivered".into()) || Instant::now() > deadline {
            assert_eq!(state(&approved), Some("delivered".into()), "{v}");
            assert_eq!(state(&doomed), Some("rejected".into()));
            break v;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(runs["runs"].as_array().unwrap().len(), 3);
    let table = headroom(&server, &token, &["action", "runs"]);
    let table = text(&table);
    assert!(table.starts_with("RUN "), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&doomed) && l.contains("rejected")),
        "{table}"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [(
            "POST /restart HTTP/1.1".to_string(),
            r#"{"host": "web-2"}"#.to_string()
        )]
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
