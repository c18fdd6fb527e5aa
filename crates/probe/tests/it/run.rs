//! Probes run against real local servers: HTTP (axum), HTTPS and TLS with certificates made
//! here, and TCP. DNS has its own module, against dnsmasq.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{any, get};
use chrono::Datelike;
use headroom_probe::{
    ClientCert, Clients, HeartbeatBoard, HttpProbe, ProbeFleet, ProbeKind, ProbeResult, ProbeSpec,
    TcpProbe, TlsProbe, execute, parse,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig, crypto::ring};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub(crate) fn spec(kind: ProbeKind, conditions: &[&str]) -> ProbeSpec {
    ProbeSpec {
        name: "under-test".into(),
        kind,
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(5),
        conditions: conditions.iter().map(|c| parse(c).unwrap()).collect(),
    }
}

pub(crate) async fn run(spec: &ProbeSpec) -> ProbeResult {
    execute(spec, &Clients::new(), now_ms()).await
}

pub(crate) fn details(result: &ProbeResult) -> Vec<&str> {
    result
        .conditions
        .iter()
        .map(|o| o.detail.as_str())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

async fn echo(method: Method, headers: HeaderMap, body: String) -> impl IntoResponse {
    let probe_header = headers
        .get("x-probe")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    axum::Json(serde_json::json!({
        "method": method.as_str(), "header": probe_header, "body": body,
    }))
}

async fn http_server() -> SocketAddr {
    let app = Router::new()
        .route(
            "/status/{code}",
            get(
                |axum::extract::Path(code): axum::extract::Path<u16>| async move {
                    StatusCode::from_u16(code).unwrap()
                },
            ),
        )
        .route(
            "/json",
            get(|| async {
                axum::Json(serde_json::json!({"data": [{"id": 42}, {"id": 7}], "status": "UP"}))
            }),
        )
        .route("/redirect", get(|| async { Redirect::to("/json") }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route(
            "/big",
            get(|| async { ([(header::CONTENT_TYPE, "text/plain")], "x".repeat(3 << 20)) }),
        )
        .route("/echo", any(echo));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn http_status_body_and_ip() {
    let addr = http_server().await;
    let probe = spec(
        ProbeKind::Http(HttpProbe::get(format!("http://{addr}/json"))),
        &[
            "[STATUS] == 200",
            "[BODY].data[0].id == 42",
            "len([BODY].data) == 2",
            "[BODY].status == pat(U*)",
            "[IP] == 127.0.0.1",
            "[RESPONSE_TIME] < 5000",
            "[CONNECTED] == true",
        ],
    );
    let result = run(&probe).await;
    assert!(result.success, "{result:#?}");
    assert_eq!(result.status_code, Some(200));
    assert_eq!(result.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(result.error, None);
    assert_eq!(
        result.certificate_expiry_unix, None,
        "plain HTTP has no certificate"
    );
    assert_eq!(details(&result)[1], "[BODY].data[0].id (42) == 42");
    assert!(result.duration < Duration::from_secs(5));

    let wrong = spec(
        ProbeKind::Http(HttpProbe::get(format!("http://{addr}/json"))),
        &["[BODY].data[1].id == 42"],
    );
    let result = run(&wrong).await;
    assert!(!result.success);
    assert_eq!(result.error, None, "observed fine, the condition failed");
    assert_eq!(details(&result), ["[BODY].data[1].id (7) == 42"]);
}

#[tokio::test]
async fn http_default_condition_is_status_below_400() {
    let addr = http_server().await;
    for (code, up) in [
        (200, true),
        (302, true),
        (399, true),
        (404, false),
        (503, false),
    ] {
        let probe = spec(
            ProbeKind::Http(HttpProbe {
                follow_redirects: false,
                ..HttpProbe::get(format!("http://{addr}/status/{code}"))
            }),
            &[],
        );
        let result = run(&probe).await;
        assert_eq!(result.success, up, "{code}: {result:#?}");
        assert_eq!(result.status_code, Some(code));
        assert_eq!(details(&result), [format!("[STATUS] ({code}) < 400")]);
    }
}

#[tokio::test]
async fn http_method_headers_and_body_are_sent() {
    let addr = http_server().await;
    let probe = spec(
        ProbeKind::Http(HttpProbe {
            method: "post".into(),
            headers: vec![("X-Probe".into(), "synthetic".into())],
            body: Some("hello".into()),
            ..HttpProbe::get(format!("http://{addr}/echo"))
        }),
        &[
            "[BODY].method == POST",
            "[BODY].header == synthetic",
            "[BODY].body == hello",
        ],
    );
    let result = run(&probe).await;
    assert!(result.success, "{result:#?}");
}

#[tokio::test]
async fn http_redirects_followed_or_not() {
    let addr = http_server().await;
    let url = format!("http://{addr}/redirect");
    let followed = run(&spec(
        ProbeKind::Http(HttpProbe::get(url.clone())),
        &["[STATUS] == 200", "[BODY].data[0].id == 42"],
    ))
    .await;
    assert!(followed.success, "{followed:#?}");
    let kept = run(&spec(
        ProbeKind::Http(HttpProbe {
            follow_redirects: false,
            ..HttpProbe::get(url)
        }),
        &["[STATUS] == 303"],
    ))
    .await;
    assert!(kept.success, "{kept:#?}");
    assert_eq!(kept.status_code, Some(303));
}

#[tokio::test]
async fn http_timeout_bounds_the_run() {
    let addr = http_server().await;
    let mut probe = spec(
        ProbeKind::Http(HttpProbe::get(format!("http://{addr}/slow"))),
        &[],
    );
    probe.timeout = Duration::from_millis(300);
    let result = run(&probe).await;
    assert!(!result.success);
    assert_eq!(result.error.as_deref(), Some("timed out after 0.3s"));
    assert!(
        result.duration >= Duration::from_millis(300),
        "{:?}",
        result.duration
    );
    assert!(
        result.duration < Duration::from_secs(3),
        "{:?}",
        result.duration
    );
    assert_eq!(result.status_code, None);
    assert_eq!(details(&result), ["[STATUS] (not observed) < 400"]);
}

#[tokio::test]
async fn http_body_is_capped_at_one_mebibyte() {
    let addr = http_server().await;
    let url = format!("http://{addr}/big");
    let result = run(&spec(
        ProbeKind::Http(HttpProbe::get(url.clone())),
        &["len([BODY]) == 1048576"],
    ))
    .await;
    assert!(result.success, "{:?}", details(&result));
    let result = run(&spec(
        ProbeKind::Http(HttpProbe::get(url)),
        &["[STATUS] == 200"],
    ))
    .await;
    assert!(result.success, "{:?}", details(&result));
}

#[tokio::test]
async fn http_connection_refused_is_an_error() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let result = run(&spec(
        ProbeKind::Http(HttpProbe::get(format!("http://127.0.0.1:{port}/"))),
        &["[CONNECTED] == true"],
    ))
    .await;
    assert!(!result.success);
    let error = result.error.clone().unwrap();
    assert!(error.to_lowercase().contains("refused"), "{error}");
    assert_eq!(details(&result), ["[CONNECTED] (false) == true"]);
}

#[tokio::test]
async fn http_connections_are_reused_across_runs() {
    use axum::serve::ListenerExt;
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = listener.tap_io(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let app = Router::new().route("/health", get(|| async { "ok" }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let clients = Clients::new();
    for i in 0..5 {
        let probe = spec(
            ProbeKind::Http(HttpProbe::get(format!("http://{addr}/health?i={i}"))),
            &["[BODY] == ok"],
        );
        let result = execute(&probe, &clients, now_ms()).await;
        assert!(result.success, "{result:#?}");
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one pooled connection for five runs"
    );

    // Other settings need another client, hence another connection.
    let no_redirects = spec(
        ProbeKind::Http(HttpProbe {
            follow_redirects: false,
            ..HttpProbe::get(format!("http://{addr}/health"))
        }),
        &[],
    );
    assert!(execute(&no_redirects, &clients, now_ms()).await.success);
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

// ---------------------------------------------------------------------------------------------
// HTTPS and TLS
// ---------------------------------------------------------------------------------------------

struct Pki {
    server_cert: CertificateDer<'static>,
    server_cert_pem: String,
    server_key: Vec<u8>,
    not_after_unix: i64,
    ca_cert: CertificateDer<'static>,
    client_cert_pem: String,
    client_key_pem: String,
}

/// A self-signed server certificate for localhost expiring on 1 January two years from now,
/// and a CA with one client certificate.
fn pki() -> Pki {
    pki_expiring(chrono::Utc::now().year() + 2)
}

fn pki_expiring(year: i32) -> Pki {
    let server_key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    params.not_after = rcgen::date_time_ymd(year, 1, 1);
    let server = params.self_signed(&server_key).unwrap();
    let not_after_unix = chrono::NaiveDate::from_ymd_opt(year, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp();

    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "probe test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let client_key = rcgen::KeyPair::generate().unwrap();
    let mut client_params = rcgen::CertificateParams::new(vec!["client".into()]).unwrap();
    client_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let client = client_params.signed_by(&client_key, &ca, &ca_key).unwrap();

    Pki {
        server_cert: server.der().clone(),
        server_cert_pem: server.pem(),
        server_key: server_key.serialize_der(),
        not_after_unix,
        ca_cert: ca.der().clone(),
        client_cert_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

/// A TLS server answering every request with a fixed HTTP/1.1 200, closing after each.
/// With `client_ca`, a client certificate issued by it is required.
async fn https_server(pki: &Pki, client_ca: bool) -> SocketAddr {
    let provider = Arc::new(ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if client_ca {
        let mut roots = RootCertStore::empty();
        roots.add(pki.ca_cert.clone()).unwrap();
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server_key.clone()));
    let config = builder
        .with_single_cert(vec![pki.server_cert.clone()], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let response =
                    "HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nsecure";
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn https_verification_on_rejects_a_self_signed_certificate() {
    let pki = pki();
    let addr = https_server(&pki, false).await;
    let result = run(&spec(
        ProbeKind::Http(HttpProbe::get(format!(
            "https://localhost:{}/",
            addr.port()
        ))),
        &[],
    ))
    .await;
    assert!(!result.success);
    let error = result.error.clone().unwrap();
    assert!(error.contains("certificate"), "{error}");
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert_eq!(result.status_code, None);
}

#[tokio::test]
async fn https_verification_trusts_a_private_ca_file() {
    let pki = pki();
    let addr = https_server(&pki, false).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &pki.server_cert_pem).unwrap();
    let probe = |ca_file| HttpProbe {
        ca_file,
        ..HttpProbe::get(format!("https://localhost:{}/", addr.port()))
    };
    let trusted = run(&spec(
        ProbeKind::Http(probe(Some(ca_file))),
        &["[BODY] == secure"],
    ))
    .await;
    assert!(trusted.success, "{trusted:#?}");
    assert_eq!(trusted.certificate_expiry_unix, Some(pki.not_after_unix));

    let missing = run(&spec(
        ProbeKind::Http(probe(Some(dir.path().join("nope.pem")))),
        &[],
    ))
    .await;
    let error = missing.error.unwrap();
    assert!(error.starts_with("reading CA file "), "{error}");
    assert!(error.contains("nope.pem"), "{error}");
}

#[tokio::test]
async fn https_verification_off_reads_the_certificate_expiry() {
    let pki = pki();
    let addr = https_server(&pki, false).await;
    let now = now_ms();
    let expected_ms = pki.not_after_unix * 1000 - now;
    let lo = expected_ms - 60_000;
    let hi = expected_ms + 60_000;
    let probe = spec(
        ProbeKind::Http(HttpProbe {
            tls_verify: false,
            ..HttpProbe::get(format!("https://127.0.0.1:{}/", addr.port()))
        }),
        &[
            "[STATUS] == 200",
            "[BODY] == secure",
            &format!("[CERTIFICATE_EXPIRATION] > {lo}"),
            &format!("[CERTIFICATE_EXPIRATION] < {hi}"),
            "[CERTIFICATE_EXPIRATION] > 48h",
        ],
    );
    let result = execute(&probe, &Clients::new(), now).await;
    assert!(result.success, "{result:#?}");
    assert_eq!(result.certificate_expiry_unix, Some(pki.not_after_unix));
    assert_eq!(result.ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn https_client_certificate_is_presented_when_configured() {
    let pki = pki();
    let addr = https_server(&pki, true).await;
    let dir = tempfile::tempdir().unwrap();
    let cert_file = dir.path().join("client.pem");
    let key_file = dir.path().join("client.key");
    std::fs::write(&cert_file, &pki.client_cert_pem).unwrap();
    std::fs::write(&key_file, &pki.client_key_pem).unwrap();
    let url = format!("https://127.0.0.1:{}/", addr.port());

    let without = run(&spec(
        ProbeKind::Http(HttpProbe {
            tls_verify: false,
            ..HttpProbe::get(url.clone())
        }),
        &[],
    ))
    .await;
    assert!(!without.success);
    assert!(without.error.is_some(), "{without:#?}");
    assert_eq!(without.status_code, None);

    let with = run(&spec(
        ProbeKind::Http(HttpProbe {
            tls_verify: false,
            client_cert: Some(ClientCert {
                cert_file: cert_file.clone(),
                key_file,
            }),
            ..HttpProbe::get(url.clone())
        }),
        &["[STATUS] == 200", "[BODY] == secure"],
    ))
    .await;
    assert!(with.success, "{with:#?}");

    let missing = run(&spec(
        ProbeKind::Http(HttpProbe {
            tls_verify: false,
            client_cert: Some(ClientCert {
                cert_file,
                key_file: dir.path().join("absent.key"),
            }),
            ..HttpProbe::get(url)
        }),
        &[],
    ))
    .await;
    let error = missing.error.unwrap();
    assert!(error.starts_with("reading client key"), "{error}");
    assert!(error.contains("absent.key"), "{error}");
}

#[tokio::test]
async fn tls_probe_reads_the_leaf_expiry() {
    let pki = pki();
    let addr = https_server(&pki, false).await;
    let now = now_ms();
    let probe = spec(
        ProbeKind::Tls(TlsProbe {
            address: format!("127.0.0.1:{}", addr.port()),
            server_name: Some("localhost".into()),
            tls_verify: false,
            ca_file: None,
        }),
        &[],
    );
    let result = execute(&probe, &Clients::new(), now).await;
    assert!(result.success, "{result:#?}");
    assert_eq!(result.certificate_expiry_unix, Some(pki.not_after_unix));
    assert_eq!(result.ip.as_deref(), Some("127.0.0.1"));
    let days = (pki.not_after_unix * 1000 - now) / 86_400_000;
    assert!(days > 365, "{days}");
    assert!(
        details(&result)[0].starts_with("[CERTIFICATE_EXPIRATION] ("),
        "{:?}",
        details(&result)
    );

    let verified = run(&spec(
        ProbeKind::Tls(TlsProbe {
            tls_verify: true,
            ..match probe.kind {
                ProbeKind::Tls(tls) => tls,
                _ => unreachable!(),
            }
        }),
        &[],
    ))
    .await;
    assert!(!verified.success);
    let error = verified.error.unwrap();
    assert!(
        error.starts_with("TLS handshake with 127.0.0.1:"),
        "{error}"
    );
    assert!(error.contains("certificate"), "{error}");
    assert_eq!(verified.certificate_expiry_unix, None);

    // Verified against a private CA file that holds the server's certificate.
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &pki.server_cert_pem).unwrap();
    let trusted = run(&spec(
        ProbeKind::Tls(TlsProbe {
            address: format!("127.0.0.1:{}", addr.port()),
            server_name: Some("localhost".into()),
            tls_verify: true,
            ca_file: Some(ca_file),
        }),
        &[],
    ))
    .await;
    assert!(trusted.success, "{trusted:#?}");
    assert_eq!(trusted.certificate_expiry_unix, Some(pki.not_after_unix));
}

#[tokio::test]
async fn tls_probe_fails_an_expired_certificate() {
    let pki = pki_expiring(2020);
    let addr = https_server(&pki, false).await;
    let result = run(&spec(
        ProbeKind::Tls(TlsProbe {
            address: format!("localhost:{}", addr.port()),
            server_name: None,
            tls_verify: false,
            ca_file: None,
        }),
        &[],
    ))
    .await;
    assert!(!result.success);
    assert_eq!(
        result.error, None,
        "the certificate was read; the condition judged it"
    );
    assert_eq!(result.certificate_expiry_unix, Some(1_577_836_800));
    assert_eq!(details(&result), ["[CERTIFICATE_EXPIRATION] (0ms) > 0"]);
}

// ---------------------------------------------------------------------------------------------
// TCP
// ---------------------------------------------------------------------------------------------

/// Answers `PING` with `+PONG`, then closes.
async fn pong_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut received = Vec::new();
                let mut buf = [0u8; 64];
                while !received.ends_with(b"\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => received.extend_from_slice(&buf[..n]),
                    }
                }
                if received == b"PING\r\n" {
                    let _ = stream.write_all(b"+PONG\r\n").await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn tcp_send_and_expect() {
    let addr = pong_server().await;
    let ok = run(&spec(
        ProbeKind::Tcp(TcpProbe {
            address: addr.to_string(),
            send: Some("PING\r\n".into()),
            expect: Some("PONG".into()),
        }),
        &[],
    ))
    .await;
    assert!(ok.success, "{ok:#?}");
    assert_eq!(details(&ok), ["[CONNECTED] (true) == true"]);
    assert_eq!(ok.ip.as_deref(), Some("127.0.0.1"));

    let body = run(&spec(
        ProbeKind::Tcp(TcpProbe {
            address: addr.to_string(),
            send: Some("PING\r\n".into()),
            expect: Some("\r\n".into()),
        }),
        &["[BODY] == +PONG"],
    ))
    .await;
    assert!(body.success, "{body:#?}");

    let wrong = run(&spec(
        ProbeKind::Tcp(TcpProbe {
            address: addr.to_string(),
            send: Some("PING\r\n".into()),
            expect: Some("HELLO".into()),
        }),
        &[],
    ))
    .await;
    assert!(!wrong.success);
    assert_eq!(
        wrong.error.as_deref(),
        Some(r#"connection closed before "HELLO" arrived (received 7 bytes: "+PONG\r\n")"#)
    );
}

#[tokio::test]
async fn tcp_expect_times_out_within_the_run() {
    let addr = pong_server().await;
    let mut probe = spec(
        ProbeKind::Tcp(TcpProbe {
            address: addr.to_string(),
            send: None,
            expect: Some("PONG".into()),
        }),
        &[],
    );
    probe.timeout = Duration::from_millis(200);
    let result = run(&probe).await;
    assert!(!result.success);
    assert_eq!(
        result.error.as_deref(),
        Some(r#"timed out waiting for "PONG" (received 0 bytes: "")"#)
    );
    assert_eq!(
        details(&result),
        ["[CONNECTED] (true) == true"],
        "it did connect"
    );
}

#[tokio::test]
async fn tcp_refused_port() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let result = run(&spec(
        ProbeKind::Tcp(TcpProbe {
            address: format!("127.0.0.1:{port}"),
            send: None,
            expect: None,
        }),
        &[],
    ))
    .await;
    assert!(!result.success);
    let error = result.error.clone().unwrap();
    assert!(
        error.starts_with(&format!("connecting to 127.0.0.1:{port}: ")),
        "{error}"
    );
    assert!(error.to_lowercase().contains("refused"), "{error}");
    assert_eq!(details(&result), ["[CONNECTED] (false) == true"]);
}

// ---------------------------------------------------------------------------------------------
// The fleet against a real target
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fleet_runs_real_probes_until_stopped() {
    let addr = http_server().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sink: headroom_probe::ResultSink = Arc::new(move |spec: &ProbeSpec, result| {
        let _ = tx.send((spec.name.clone(), result));
    });
    let probes = [
        ("json", "/json"),
        ("missing", "/status/404"),
        ("slow", "/slow"),
    ]
    .into_iter()
    .map(|(name, path)| ProbeSpec {
        name: name.into(),
        interval: Duration::from_millis(100),
        timeout: Duration::from_secs(5),
        ..spec(
            ProbeKind::Http(HttpProbe::get(format!("http://{addr}{path}"))),
            &[],
        )
    })
    .collect();
    let fleet = ProbeFleet::spawn(
        probes,
        4,
        Arc::new(HeartbeatBoard::new()),
        sink,
        Arc::new(now_ms),
    );
    assert_eq!(fleet.len(), 3);
    let mut runs = std::collections::BTreeMap::new();
    while runs.len() < 3 || runs.values().any(|&n| n < 3) {
        let (name, result) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("results keep coming")
            .unwrap();
        match name.as_str() {
            "json" => assert!(result.success, "{result:#?}"),
            "missing" => assert_eq!(details(&result), ["[STATUS] (404) < 400"]),
            // The 5 s timeout was clamped to the 100 ms interval.
            _ => assert_eq!(result.error.as_deref(), Some("timed out after 0.1s")),
        }
        *runs.entry(name).or_insert(0usize) += 1;
    }
    fleet.stop().await;
    // Stopping dropped every task and with them the sink: the channel drains and closes.
    let drain = async { while rx.recv().await.is_some() {} };
    tokio::time::timeout(Duration::from_secs(5), drain)
        .await
        .expect("the sink was dropped with the fleet");
}
