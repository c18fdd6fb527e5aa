//! Who may do what: every operation the OpenAPI document lists, tried with a token of each
//! scope, is refused exactly when the token's scope does not allow the operation's documented
//! one; and authentication happens before a request body is read.

use std::time::Duration;

use crate::common::*;
use axum::body::Body;
use axum::http::{Method, StatusCode};
use headroom_service::ConfigSource;
use headroom_store::Scope;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The scope an operation documents ("Needs a token with scope `x`."), if any.
fn documented_scope(op: &serde_json::Value) -> Option<Scope> {
    let d = op["description"].as_str()?;
    let rest = d.split("scope `").nth(1)?;
    rest.split('`').next()?.parse().ok()
}

#[tokio::test]
async fn each_operation_is_refused_exactly_to_scopes_that_do_not_allow_it() {
    let ctx = setup(ConfigSource::embedded()).await;
    let doc = get(&ctx.app, "/api/v1/openapi.json", None).await.json();
    let tokens = [
        (Scope::Read, ctx.read.as_str()),
        (Scope::Ingest, ctx.ingest.as_str()),
        (Scope::Respond, ctx.respond.as_str()),
        (Scope::Admin, ctx.admin.as_str()),
    ];
    let mut checked = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let Some(needed) = documented_scope(op) else {
                continue;
            };
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let uri = path
                .replace("{slo}", EXAMPLE)
                .replace("{name}", "no-such")
                .replace("{id}", "0")
                .replace("{n}", "1");
            for (scope, token) in tokens {
                let r = send(&ctx.app, m.clone(), &uri, Some(token), &[], Body::empty()).await;
                let refused = r.status == StatusCode::FORBIDDEN;
                assert_eq!(
                    refused,
                    !scope.allows(needed),
                    "{method} {path} with a {scope} token (needs {needed}): {} {}",
                    r.status,
                    r.text()
                );
                assert_ne!(r.status, StatusCode::UNAUTHORIZED, "{method} {path}");
            }
            checked.push((needed, method.clone(), path.clone()));
        }
    }
    // What a leaked remote_write credential must not do, and what a responder must not.
    let has = |scope: Scope, method: &str, path: &str| {
        checked
            .iter()
            .any(|(s, m, p)| *s == scope && m == method && p == path)
    };
    assert!(has(Scope::Respond, "post", "/api/v2/silences"));
    assert!(has(Scope::Respond, "delete", "/api/v2/silence/{id}"));
    assert!(has(Scope::Respond, "post", "/api/v1/escalations/{id}/ack"));
    assert!(has(
        Scope::Respond,
        "post",
        "/api/v1/schedules/{id}/overrides"
    ));
    assert!(has(Scope::Respond, "post", "/api/v1/incidents"));
    assert!(has(Scope::Ingest, "post", "/api/v1/write"));
    assert!(has(Scope::Ingest, "post", "/api/v2/alerts"));
    assert!(has(Scope::Admin, "post", "/-/reload"));
    assert!(has(Scope::Read, "post", "/api/v1/canary/judge"));
    assert!(has(Scope::Ingest, "post", "/api/v1/deployments"));
    assert!(has(Scope::Read, "get", "/api/v1/deployments"));
    assert!(has(Scope::Read, "get", "/api/v1/deployments/{id}"));
}

/// A server on a real socket, for what only a socket shows.
async fn listen(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn an_unauthenticated_post_is_refused_before_its_body_is_read() {
    let ctx = setup(ConfigSource::embedded()).await;
    let addr = listen(ctx.app.clone()).await;
    for (path, token) in [
        ("/api/v1/write", None),
        ("/api/v2/silences", None),
        ("/api/v2/silences", Some(ctx.ingest.as_str())),
        ("/api/v1/deployments", None),
        ("/api/v1/deployments", Some(ctx.read.as_str())),
    ] {
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        // 8 MB declared, 1 KiB sent: a server that read the body first would wait for the rest.
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 8000000\r\n\r\n"
        );
        conn.write_all(head.as_bytes()).await.unwrap();
        conn.write_all(&[b' '; 1024]).await.unwrap();
        let mut buf = vec![0u8; 4096];
        // A guard against hanging, not a timing assertion: the answer needs no more input.
        let n = tokio::time::timeout(Duration::from_secs(30), conn.read(&mut buf))
            .await
            .expect("no answer while the body is still unsent")
            .unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]);
        let expected = if token.is_some() { "403" } else { "401" };
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {expected}")),
            "{path}: {answer}"
        );
    }
}

#[tokio::test]
async fn wrong_tokens_from_one_address_are_throttled() {
    let ctx = setup(ConfigSource::embedded()).await;
    // Through the router with a peer address, as the listener inserts it.
    let peer = axum::extract::ConnectInfo(std::net::SocketAddr::from(([192, 0, 2, 7], 4000)));
    let wrong = format!("hr_{}", "0".repeat(64));
    let mut statuses = Vec::new();
    for _ in 0..headroom_server::failed_auth::FailedAuth::LIMIT + 1 {
        let req = axum::http::Request::builder()
            .uri("/api/v1/slos")
            .header("authorization", format!("Bearer {wrong}"))
            .extension(peer)
            .body(Body::empty())
            .unwrap();
        statuses.push(oneshot(&ctx.app, req).await.status);
    }
    let limit = headroom_server::failed_auth::FailedAuth::LIMIT as usize;
    assert!(
        statuses[..limit]
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert_eq!(statuses[limit], StatusCode::TOO_MANY_REQUESTS);
    // Even the right token waits out the window from that address…
    let req = axum::http::Request::builder()
        .uri("/api/v1/slos")
        .header("authorization", format!("Bearer {}", ctx.read))
        .extension(peer)
        .body(Body::empty())
        .unwrap();
    let r = oneshot(&ctx.app, req).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.contains_key("retry-after"));
    // …while another address is served, and the window's end lets the first one in again.
    let other = get(&ctx.app, "/api/v1/slos", Some(&ctx.read)).await;
    assert_eq!(other.status, StatusCode::OK);
    ctx.clock.fetch_add(
        headroom_server::failed_auth::FailedAuth::WINDOW.millis(),
        std::sync::atomic::Ordering::SeqCst,
    );
    let req = axum::http::Request::builder()
        .uri("/api/v1/slos")
        .header("authorization", format!("Bearer {}", ctx.read))
        .extension(peer)
        .body(Body::empty())
        .unwrap();
    assert_eq!(oneshot(&ctx.app, req).await.status, StatusCode::OK);
}
