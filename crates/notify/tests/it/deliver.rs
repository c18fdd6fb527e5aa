use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use headroom_notify::*;

use crate::common::*;

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(HeaderMap, String)>>>);

async fn answer(
    Path(code): Path<u16>,
    State(seen): State<Seen>,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    seen.0.lock().unwrap().push((headers, body));
    let status = StatusCode::from_u16(code).unwrap();
    match code {
        429 => (status, [("retry-after", "7")], "slow down").into_response(),
        503 => (status, [("retry-after", "3")], "maintenance").into_response(),
        400 => (
            status,
            format!(
                "{{\"message\": \"bad event\", \"pad\": \"{}\"}}",
                "é".repeat(600)
            ),
        )
            .into_response(),
        404 => (status, "no such hook").into_response(),
        _ => (status, "").into_response(),
    }
}

async fn hang() -> &'static str {
    std::future::pending::<()>().await;
    "never"
}

async fn server() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/status/{code}", post(answer))
        .route("/hang", post(hang))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn webhook(url: String) -> Integration {
    Integration::Webhook(Webhook {
        url,
        send_resolved: true,
        max_alerts: 0,
        tls: None,
        auth: Some(HttpAuth::Credentials {
            scheme: "Bearer".into(),
            credentials: "s3cret".into(),
        }),
    })
}

fn client() -> Client {
    Client::new(Duration::from_secs(5)).unwrap()
}

async fn deliver_to(base: &str, code: u16) -> Outcome {
    deliver(
        &webhook(format!("{base}/status/{code}")),
        &message(),
        &Templates::default(),
        &client(),
        "key-1",
    )
    .await
}

#[tokio::test]
async fn statuses_classify_as_delivered_retry_or_failed() {
    let (base, _) = server().await;
    assert_eq!(deliver_to(&base, 200).await, Outcome::Delivered);
    assert_eq!(deliver_to(&base, 202).await, Outcome::Delivered);
    assert_eq!(
        deliver_to(&base, 429).await,
        Outcome::Retry {
            reason: "HTTP 429 Too Many Requests: slow down".into(),
            after: Some(Duration::from_secs(7))
        }
    );
    assert_eq!(
        deliver_to(&base, 503).await,
        Outcome::Retry {
            reason: "HTTP 503 Service Unavailable: maintenance".into(),
            after: Some(Duration::from_secs(3))
        }
    );
    assert_eq!(
        deliver_to(&base, 500).await,
        Outcome::Retry {
            reason: "HTTP 500 Internal Server Error".into(),
            after: None
        }
    );
    assert_eq!(
        deliver_to(&base, 404).await,
        Outcome::Failed {
            reason: "HTTP 404 Not Found: no such hook".into()
        }
    );
    let Outcome::Failed { reason } = deliver_to(&base, 400).await else {
        panic!("400 must fail")
    };
    assert!(
        reason.starts_with("HTTP 400 Bad Request: {\"message\": \"bad event\""),
        "{reason}"
    );
    // The excerpt is bounded (512 bytes of a 1,200-byte body) and cut on a character boundary.
    assert!(reason.len() < 600, "{} bytes", reason.len());
    assert!(reason.ends_with("é…"), "{reason}");
}

#[tokio::test]
async fn request_carries_idempotency_key_bearer_and_v4_body() {
    let (base, seen) = server().await;
    let outcome = deliver(
        &webhook(format!("{base}/status/200")),
        &message(),
        &Templates::default(),
        &client(),
        "notif-42-attempt",
    )
    .await;
    assert_eq!(outcome, Outcome::Delivered);
    let seen = seen.0.lock().unwrap();
    let (headers, body) = &seen[0];
    assert_eq!(headers["idempotency-key"], "notif-42-attempt");
    assert_eq!(headers["authorization"], "Bearer s3cret");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body, &webhook_body(&message(), 0));
}

#[tokio::test]
async fn basic_auth_and_other_schemes_reach_the_receiver() {
    let (base, seen) = server().await;
    let with = |auth| {
        Integration::Webhook(Webhook {
            url: format!("{base}/status/200"),
            send_resolved: true,
            max_alerts: 0,
            tls: None,
            auth: Some(auth),
        })
    };
    let basic = HttpAuth::Basic {
        username: "alert".into(),
        password: "p:w".into(),
    };
    let token = HttpAuth::Credentials {
        scheme: "Token".into(),
        credentials: "abc".into(),
    };
    for auth in [basic, token] {
        let outcome = deliver(
            &with(auth),
            &message(),
            &Templates::default(),
            &client(),
            "k",
        )
        .await;
        assert_eq!(outcome, Outcome::Delivered);
    }
    let seen = seen.0.lock().unwrap();
    // base64("alert:p:w")
    assert_eq!(seen[0].0["authorization"], "Basic YWxlcnQ6cDp3");
    assert_eq!(seen[1].0["authorization"], "Token abc");
}

#[tokio::test]
async fn slack_and_pagerduty_post_their_bodies_with_the_key() {
    let (base, seen) = server().await;
    let slack = Integration::Slack(Slack {
        url: format!("{base}/status/200"),
        channel: None,
        username: None,
        title: None,
        text: None,
        send_resolved: false,
    });
    let pd = Integration::PagerDuty(PagerDuty {
        routing_key: "rk".into(),
        url: format!("{base}/status/202"),
        severity: "error".into(),
        send_resolved: true,
        event: Default::default(),
    });
    let t = Templates::default();
    assert_eq!(
        deliver(&slack, &message(), &t, &client(), "k-slack").await,
        Outcome::Delivered
    );
    assert_eq!(
        deliver(&pd, &message(), &t, &client(), "k-pd").await,
        Outcome::Delivered
    );
    let seen = seen.0.lock().unwrap();
    let slack_body: serde_json::Value = serde_json::from_str(&seen[0].1).unwrap();
    assert_eq!(seen[0].0["idempotency-key"], "k-slack");
    assert_eq!(slack_body["attachments"][0]["color"], "danger");
    let pd_body: serde_json::Value = serde_json::from_str(&seen[1].1).unwrap();
    assert_eq!(seen[1].0["idempotency-key"], "k-pd");
    assert_eq!(pd_body["dedup_key"], dedup_key(GROUP_KEY));
}

#[tokio::test]
async fn resolved_only_message_is_skipped_when_send_resolved_is_off() {
    let (base, seen) = server().await;
    let slack = Integration::Slack(Slack {
        url: format!("{base}/status/200"),
        channel: None,
        username: None,
        title: None,
        text: None,
        send_resolved: false,
    });
    let resolved = Message::new(
        "ops",
        "k",
        Labels::new(),
        vec![alert("a", Status::Resolved, 1)],
        "",
    );
    assert_eq!(
        deliver(&slack, &resolved, &Templates::default(), &client(), "k").await,
        Outcome::Skipped
    );
    assert!(seen.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_bad_template_fails_without_sending() {
    let (base, seen) = server().await;
    let slack = Integration::Slack(Slack {
        url: format!("{base}/status/200"),
        channel: None,
        username: None,
        title: Some("{{ status | nope }}".into()),
        text: None,
        send_resolved: true,
    });
    let Outcome::Failed { reason } =
        deliver(&slack, &message(), &Templates::default(), &client(), "k").await
    else {
        panic!("a template error is final")
    };
    assert!(reason.contains("ops/slack.title"), "{reason}");
    assert!(seen.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout_to_retry() {
    let (base, _) = server().await;
    let client = Client::new(Duration::from_millis(300)).unwrap();
    let outcome = deliver(
        &webhook(format!("{base}/hang")),
        &message(),
        &Templates::default(),
        &client,
        "k",
    )
    .await;
    assert_eq!(
        outcome,
        Outcome::Retry {
            reason: "timed out after 300ms".into(),
            after: None
        }
    );
}

#[tokio::test]
async fn a_closed_port_is_a_connection_error_to_retry() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let outcome = deliver(
        &webhook(format!("http://127.0.0.1:{port}/x")),
        &message(),
        &Templates::default(),
        &client(),
        "k",
    )
    .await;
    let Outcome::Retry {
        reason,
        after: None,
    } = outcome
    else {
        panic!("connection refused is retried: {outcome:?}")
    };
    assert!(reason.to_lowercase().contains("refused"), "{reason}");
}

#[tokio::test]
async fn a_malformed_url_fails() {
    let outcome = deliver(
        &webhook("not a url".into()),
        &message(),
        &Templates::default(),
        &client(),
        "k",
    )
    .await;
    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
}

/// A CA and an HTTPS receiver on 127.0.0.1 whose certificate it signed: (CA PEM, base URL).
/// The receiver answers 200 to every request.
async fn https_receiver() -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A handshake the client refuses ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 64 * 1024];
                let mut got = Vec::new();
                while let Ok(n) = tls.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length: usize = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse().ok())?
                            })
                            .unwrap_or(0);
                        if got.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (ca.pem(), format!("https://{addr}"))
}

#[tokio::test]
async fn a_webhook_behind_a_private_ca_is_reached_through_its_tls_config() {
    let (ca_pem, base) = https_receiver().await;
    let hook = |tls: Option<WebhookTls>| {
        Integration::Webhook(Webhook {
            url: format!("{base}/hook"),
            send_resolved: true,
            max_alerts: 0,
            auth: None,
            tls,
        })
    };
    let send = |i: Integration| async move {
        deliver(&i, &message(), &Templates::default(), &client(), "k").await
    };
    // The web PKI alone does not know this CA: a connection error, retried.
    let outcome = send(hook(None)).await;
    assert!(
        matches!(&outcome, Outcome::Retry { reason, .. } if reason.contains("certificate")),
        "{outcome:?}"
    );
    let trusting = WebhookTls {
        ca_pem: Some(ca_pem),
        insecure_skip_verify: false,
    };
    assert_eq!(send(hook(Some(trusting))).await, Outcome::Delivered);
    let skipping = WebhookTls {
        ca_pem: None,
        insecure_skip_verify: true,
    };
    assert_eq!(send(hook(Some(skipping))).await, Outcome::Delivered);
    // A CA that is not a certificate fails the delivery, naming the setting.
    let broken = WebhookTls {
        ca_pem: Some(
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n".into(),
        ),
        insecure_skip_verify: false,
    };
    let outcome = send(hook(Some(broken))).await;
    assert!(
        matches!(&outcome, Outcome::Failed { reason } if reason.starts_with("tls_config")),
        "{outcome:?}"
    );
}
