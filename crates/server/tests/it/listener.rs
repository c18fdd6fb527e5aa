//! The bounded accept loop (`listener::serve`) over real loopback sockets, with raw HTTP/1.1
//! clients that misbehave on purpose: stalled heads, idle keep-alive, trickled bodies, more
//! connections than slots, stalled TLS handshakes, shutdown with requests in flight.
//!
//! Limits are short (hundreds of milliseconds) and real: paused tokio time would jump every clock
//! while the runtime waits on the kernel for socket data. Assertions are on outcomes and their
//! order, never on how long something took; `within` only turns a hang into a failure.

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::routing::{get, post};
use headroom_server::listener::{ConnectionLimits, serve};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore, oneshot};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// Holds `/held` requests until the test lets them go.
struct Gate {
    entered: Notify,
    release: Semaphore,
}

impl Gate {
    fn closed() -> Gate {
        Gate {
            entered: Notify::new(),
            release: Semaphore::new(0),
        }
    }
}

fn test_app(gate: Arc<Gate>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route(
            "/echo",
            post(|body: Bytes| async move { body.len().to_string() }),
        )
        .route(
            "/held",
            get(|State(gate): State<Arc<Gate>>| async move {
                gate.entered.notify_one();
                gate.release.acquire().await.unwrap().forget();
                "released"
            }),
        )
        .with_state(gate)
}

fn limits(header: u64, request: u64, idle: u64, max: usize) -> ConnectionLimits {
    ConnectionLimits {
        header_timeout: Duration::from_millis(header),
        request_timeout: Duration::from_millis(request),
        idle_timeout: Duration::from_millis(idle),
        max_connections: NonZeroUsize::new(max).unwrap(),
        shutdown_grace: Duration::from_secs(30),
    }
}

/// A long limit: one a test never reaches.
const NEVER: u64 = 3_600_000;

struct Server {
    addr: SocketAddr,
    gate: Arc<Gate>,
    stop: Option<oneshot::Sender<()>>,
    done: JoinHandle<()>,
}

async fn start(limits: ConnectionLimits, tls: Option<TlsAcceptor>) -> Server {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let gate = Arc::new(Gate::closed());
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let done = tokio::spawn(serve(tcp, tls, test_app(gate.clone()), limits, shutdown));
    Server {
        addr,
        gate,
        stop: Some(stop),
        done,
    }
}

/// A connection whose `/held` request is running in its handler.
async fn held_request(server: &Server) -> TcpStream {
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    c.write_all(b"GET /held HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .unwrap();
    server.gate.entered.notified().await;
    c
}

/// Fails the test instead of hanging it.
async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .unwrap_or_else(|_| panic!("{what}: still waiting after 60 s"))
}

/// Status and body of one response, or `None` if the connection closed first.
async fn read_response<S: AsyncRead + Unpin>(s: &mut S) -> Option<(u16, String, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    while buf.len() < head_end + length {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
    Some((status, head, body))
}

async fn get_on<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, path: &str) -> (u16, String) {
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: t\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let (status, _, body) = read_response(s)
        .await
        .unwrap_or_else(|| panic!("GET {path}: connection closed before an answer"));
    (status, body)
}

/// Reads until the server closes the connection; returns what it sent before closing.
async fn until_closed<S: AsyncRead + Unpin>(s: &mut S) -> Vec<u8> {
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Open-file limit of this process, where the system says (Linux).
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_stalled_heads_are_closed_and_others_are_served_meanwhile() {
    const STALLED: usize = 2000;
    // Each stalled client is two descriptors here: its end and the server's.
    if let Some(limit) = open_file_limit() {
        assert!(
            limit >= 2 * STALLED as u64 + 200,
            "open-file limit {limit} is too low for this test: raise it (ulimit -n 20000)"
        );
    }
    // Long enough to open them all before the first is due, on a busy machine too.
    let server = start(limits(5_000, NEVER, NEVER, STALLED + 100), None).await;
    let mut stalled = Vec::with_capacity(STALLED);
    for _ in 0..STALLED {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\nx-half: ")
            .await
            .unwrap();
        stalled.push(s);
    }

    let mut good = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_on(&mut good, "/healthz").await, (200, "ok".into()));

    // Every stalled client was still open while the good one was served: a peek on the socket
    // itself (not tokio's cached readiness) finds neither data nor end of stream.
    let mut open = Vec::with_capacity(STALLED);
    for s in stalled {
        let s = s.into_std().unwrap();
        let mut byte = [0u8; 1];
        let peeked = s.peek(&mut byte);
        assert!(
            matches!(&peeked, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "a stalled client was answered or closed before the good one was served: {peeked:?}"
        );
        open.push(TcpStream::from_std(s).unwrap());
    }

    within("stalled clients closed by the header timeout", async {
        for mut s in open {
            assert_eq!(
                until_closed(&mut s).await,
                b"",
                "a stalled head got an answer"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let server = start(limits(NEVER, NEVER, 200, 16), None).await;
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_on(&mut c, "/healthz").await, (200, "ok".into()));
    let after = within("idle connection closed", until_closed(&mut c)).await;
    assert_eq!(
        after, b"",
        "nothing is sent when an idle connection is closed"
    );
}

#[tokio::test]
async fn idle_keep_alive_outlives_the_header_timeout() {
    let server = start(limits(500, NEVER, NEVER, 16), None).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_on(&mut idle, "/healthz").await, (200, "ok".into()));
    // A client accepted after `idle` went idle, and stalled on its head: once the header timeout
    // has closed it, `idle` has waited longer than the header timeout too.
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    stalled
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    assert_eq!(
        within("stalled head closed", until_closed(&mut stalled)).await,
        b""
    );
    assert_eq!(
        get_on(&mut idle, "/healthz").await,
        (200, "ok".into()),
        "the idle keep-alive connection was closed by the header timeout"
    );
}

#[tokio::test]
async fn trickled_body_is_cut_with_408_at_the_request_timeout() {
    let server = start(limits(NEVER, 300, NEVER, 16), None).await;
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    const LENGTH: usize = 100_000;
    c.write_all(
        format!("POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: {LENGTH}\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let (mut rd, mut wr) = c.into_split();
    // One byte every 20 ms: steady progress that no read-inactivity timer would ever cut.
    let trickle = tokio::spawn(async move {
        let mut sent = 0usize;
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        while sent < LENGTH {
            tick.tick().await;
            if wr.write_all(b"x").await.is_err() {
                break;
            }
            sent += 1;
        }
        (sent, wr)
    });
    let (status, head, body) = within("answer to the trickled body", read_response(&mut rd))
        .await
        .expect("an answer before the connection closed");
    assert_eq!(status, 408);
    assert!(head.contains("connection: close"), "{head}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "request_timeout");
    assert_eq!(
        within("connection closed after the 408", until_closed(&mut rd)).await,
        b""
    );
    // Writes fail once the server has closed, which ends the trickle.
    let (sent, _) = within("trickle stopped", trickle).await.unwrap();
    assert!(sent < LENGTH, "the whole body was sent: nothing was cut");
}

#[tokio::test]
async fn slow_handler_gets_408_at_the_request_timeout() {
    let server = start(limits(NEVER, 300, NEVER, 16), None).await;
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    let (status, body) = within("answer to the held request", get_on(&mut c, "/held")).await;
    assert_eq!(status, 408, "{body}");
    // The handler had started: the limit cut a running handler, not a queued request.
    server.gate.entered.notified().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_past_max_waits_until_one_closes() {
    let server = start(limits(NEVER, NEVER, NEVER, 2), None).await;
    let mut a = TcpStream::connect(server.addr).await.unwrap();
    let mut b = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_on(&mut a, "/healthz").await, (200, "ok".into()));
    assert_eq!(get_on(&mut b, "/healthz").await, (200, "ok".into()));

    // The kernel completes the third connection; the server does not take it yet.
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .unwrap();
    let a_closed = Arc::new(AtomicBool::new(false));
    let third = {
        let a_closed = a_closed.clone();
        tokio::spawn(async move {
            let answer = read_response(&mut c).await;
            (answer, a_closed.load(Ordering::SeqCst))
        })
    };
    // Both slots keep serving while the third waits.
    for _ in 0..3 {
        assert_eq!(get_on(&mut a, "/healthz").await, (200, "ok".into()));
        assert_eq!(get_on(&mut b, "/healthz").await, (200, "ok".into()));
    }
    a_closed.store(true, Ordering::SeqCst);
    drop(a);
    let (answer, after_a_closed) = within("third connection served", third).await.unwrap();
    let (status, _, body) = answer.expect("the third connection was answered");
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert!(
        after_a_closed,
        "the third connection was served while both slots were taken"
    );
}

fn tls_pair() -> (TlsAcceptor, tokio_rustls::TlsConnector) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    let acceptor = headroom_server::tls::acceptor(&cert_file, &key_file).unwrap();
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    (acceptor, tokio_rustls::TlsConnector::from(Arc::new(config)))
}

#[tokio::test]
async fn stalled_tls_handshake_is_closed_by_the_header_timeout() {
    let (acceptor, connector) = tls_pair();
    let server = start(limits(1_000, NEVER, NEVER, 16), Some(acceptor)).await;
    // The first bytes of a ClientHello record, then nothing.
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    stalled.write_all(&[0x16, 0x03, 0x01]).await.unwrap();

    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let local = tcp.local_addr().unwrap();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut good = connector.connect(name, tcp).await.unwrap();
    assert_eq!(get_on(&mut good, "/peer").await, (200, local.to_string()));

    let after = within("stalled handshake closed", until_closed(&mut stalled)).await;
    assert_eq!(after, b"", "the stalled handshake got an answer");
}

#[tokio::test]
async fn each_request_carries_the_peer_address() {
    let server = start(ConnectionLimits::default(), None).await;
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    let local = c.local_addr().unwrap();
    assert_eq!(get_on(&mut c, "/peer").await, (200, local.to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_connections_and_lets_requests_in_flight_finish() {
    let mut server = start(ConnectionLimits::default(), None).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_on(&mut idle, "/healthz").await, (200, "ok".into()));
    let mut busy = held_request(&server).await;
    server.stop.take().unwrap().send(()).unwrap();
    assert_eq!(
        within("idle connection closed", until_closed(&mut idle)).await,
        b""
    );
    // The listening socket is closed before connections are told to finish.
    let refused = TcpStream::connect(server.addr).await;
    assert!(
        refused.is_err(),
        "a new connection was accepted during shutdown"
    );
    assert!(
        !server.done.is_finished(),
        "serve returned with a request in flight"
    );

    server.gate.release.add_permits(1);
    let (status, _, body) = within("held request answered", read_response(&mut busy))
        .await
        .expect("the request in flight was answered");
    assert_eq!((status, body.as_str()), (200, "released"));
    within("serve returns", &mut server.done).await.unwrap();
}

#[tokio::test]
async fn shutdown_cuts_requests_still_running_after_the_grace_period() {
    let limits = ConnectionLimits {
        shutdown_grace: Duration::from_millis(300),
        ..ConnectionLimits::default()
    };
    let mut server = start(limits, None).await;
    let mut busy = held_request(&server).await;
    server.stop.take().unwrap().send(()).unwrap();
    within("serve returns", &mut server.done).await.unwrap();
    assert_eq!(
        until_closed(&mut busy).await,
        b"",
        "the held request was answered"
    );
}
