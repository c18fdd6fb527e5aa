//! The backend client against a local stand-in for the Prometheus HTTP API: answer shapes,
//! chunked range queries, auth, and every kind of failure.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use headroom_collect::backend::{Auth, Backend, BackendConfig, BackendError, MAX_POINTS_PER_QUERY};
use headroom_core::{Span, Timestamp};
use serde_json::json;

#[derive(Default)]
struct Seen {
    range_calls: Vec<(f64, f64, f64)>,
    methods: Vec<Method>,
}

type Shared = Arc<Mutex<Seen>>;

async fn query(
    State(seen): State<Shared>,
    method: Method,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    seen.lock().unwrap().methods.push(method);
    let q = form.get("query").cloned().unwrap_or_default();
    let time: f64 = form.get("time").and_then(|t| t.parse().ok()).unwrap_or(0.0);
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    match q.as_str() {
        "bad(" => (
            StatusCode::BAD_REQUEST,
            Json(json!({"status": "error", "errorType": "bad_data",
                "error": "1:5: parse error: unclosed left parenthesis"})),
        )
            .into_response(),
        "proxy" => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            "<html>502 Bad Gateway</html>",
        )
            .into_response(),
        "garbage" => "this is not json".into_response(),
        "string" => Json(json!({"status": "success",
            "data": {"resultType": "string", "result": [1, "x"]}}))
        .into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Json(json!({})).into_response()
        }
        "scalar" => Json(json!({"status": "success",
            "data": {"resultType": "scalar", "result": [time, "+Inf"]}}))
        .into_response(),
        _ => Json(
            json!({"status": "success", "data": {"resultType": "vector", "result": [
                {"metric": {"query": q, "time": form.get("time"), "auth": header("authorization"),
                    "tenant": header("x-scope-orgid")}, "value": [time, "1.5"]},
                {"metric": {"__name__": "up", "job": "a"}, "value": [time, "NaN"]},
            ]}}),
        )
        .into_response(),
    }
}

/// Values are the evaluation time in seconds; refuses more than 11,000 points as Prometheus does.
async fn query_range(
    State(seen): State<Shared>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let num = |k: &str| form[k].parse::<f64>().unwrap();
    let (start, end, step) = (num("start"), num("end"), num("step"));
    seen.lock().unwrap().range_calls.push((start, end, step));
    let points = ((end - start) / step).floor() as i64 + 1;
    if points > MAX_POINTS_PER_QUERY {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"status": "error", "errorType": "bad_data",
                "error": "exceeded maximum resolution of 11,000 points per timeseries"})),
        )
            .into_response();
    }
    let values: Vec<serde_json::Value> = (0..points)
        .map(|i| {
            let t = start + i as f64 * step;
            json!([t, format!("{t}")])
        })
        .collect();
    let gaps: Vec<serde_json::Value> = (0..points)
        .step_by(2)
        .map(|i| json!([start + i as f64 * step, "2"]))
        .collect();
    Json(
        json!({"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"s": "time"}, "values": values},
            {"metric": {"s": "even"}, "values": gaps},
        ]}}),
    )
    .into_response()
}

async fn fake_api() -> (SocketAddr, Shared) {
    let seen: Shared = Arc::default();
    let app = Router::new()
        .route("/prefix/api/v1/query", post(query))
        .route("/prefix/api/v1/query_range", post(query_range))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

fn backend(addr: SocketAddr, auth: Auth) -> Backend {
    Backend::new(BackendConfig {
        url: format!("http://{addr}/prefix/"),
        auth,
        headers: vec![("X-Scope-OrgID".into(), "team-a".into())],
        timeout: Duration::from_millis(500),
    })
    .unwrap()
}

fn label<'a>(labels: &'a [(String, String)], name: &str) -> &'a str {
    labels
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

#[tokio::test]
async fn instant_query_posts_a_form_and_parses_the_vector_fake_api() {
    let (addr, seen) = fake_api().await;
    let b = backend(addr, Auth::Bearer("s3cret".into()));
    let promql = r#"sum(rate(http_requests_total{code=~"5..", path="/a&b=c"}[5m])) / 2"#;
    let got = b.query(promql, Timestamp(1_700_000_000_250)).await.unwrap();
    assert_eq!(got.len(), 2);
    // The query arrives intact (form-encoded), with the time in seconds.
    assert_eq!(label(&got[0].labels, "query"), promql);
    assert_eq!(label(&got[0].labels, "time"), "1700000000.250");
    assert_eq!(label(&got[0].labels, "auth"), "Bearer s3cret");
    assert_eq!(label(&got[0].labels, "tenant"), "team-a");
    assert_eq!(
        (got[0].at, got[0].value),
        (Timestamp(1_700_000_000_250), 1.5)
    );
    assert!(got[1].value.is_nan());
    assert_eq!(
        got[1].labels,
        vec![
            ("__name__".to_string(), "up".to_string()),
            ("job".into(), "a".into())
        ]
    );
    assert_eq!(seen.lock().unwrap().methods, vec![Method::POST]);

    let b = backend(
        addr,
        Auth::Basic {
            username: "u".into(),
            password: "p".into(),
        },
    );
    let got = b.query("x", Timestamp(0)).await.unwrap();
    assert_eq!(label(&got[0].labels, "auth"), "Basic dTpw");

    let got = b.query("scalar", Timestamp(2_000)).await.unwrap();
    assert_eq!(got.len(), 1);
    assert!(got[0].labels.is_empty());
    assert_eq!((got[0].at, got[0].value), (Timestamp(2_000), f64::INFINITY));
}

#[tokio::test]
async fn long_ranges_are_split_and_merged_fake_api() {
    let (addr, seen) = fake_api().await;
    let b = backend(addr, Auth::None);
    let step = Span::MINUTE;
    let start = Timestamp::from_secs(1_700_000_040);
    let end = start + step * 25_000;
    let got = b.query_range("q", start, end, step).await.unwrap();
    let calls = seen.lock().unwrap().range_calls.clone();
    assert_eq!(calls.len(), 3);
    for w in calls.windows(2) {
        assert_eq!(w[1].0, w[0].1 + 60.0, "chunks overlap or leave a gap");
    }
    assert_eq!(got.len(), 2);
    let time = got
        .iter()
        .find(|s| label(&s.labels, "s") == "time")
        .unwrap();
    assert_eq!(time.points.len(), 25_001);
    for (i, (t, v)) in time.points.iter().enumerate() {
        assert_eq!(*t, start + step * i as i64);
        assert_eq!(*v, t.millis() as f64 / 1000.0);
    }
    // Each chunk's even points: 5,500 + 5,500 + 1,501.
    let even = got
        .iter()
        .find(|s| label(&s.labels, "s") == "even")
        .unwrap();
    assert_eq!(even.points.len(), 5_500 + 5_500 + 1_501);
}

#[tokio::test]
async fn errors_say_what_went_wrong_and_where_fake_api() {
    let (addr, _) = fake_api().await;
    let b = backend(addr, Auth::None);
    let url = format!("http://{addr}/prefix/api/v1/query");

    let e = b.query("bad(", Timestamp(0)).await.unwrap_err();
    assert_eq!(
        e,
        BackendError::Status {
            url: url.clone(),
            status: 400,
            error_type: Some("bad_data".into()),
            message: "1:5: parse error: unclosed left parenthesis".into()
        }
    );
    assert_eq!(
        e.to_string(),
        format!("{url}: HTTP 400: bad_data: 1:5: parse error: unclosed left parenthesis")
    );

    let e = b.query("proxy", Timestamp(0)).await.unwrap_err();
    assert!(
        matches!(&e, BackendError::Status { status: 502, error_type: None, message, .. }
            if message == "<html>502 Bad Gateway</html>"),
        "{e}"
    );

    let e = b.query("garbage", Timestamp(0)).await.unwrap_err();
    assert!(
        matches!(&e, BackendError::BadJson { url: u, .. } if *u == url),
        "{e}"
    );
    let e = b.query("string", Timestamp(0)).await.unwrap_err();
    assert!(matches!(&e, BackendError::BadJson { .. }), "{e}");

    let begun = std::time::Instant::now();
    let e = b.query("slow", Timestamp(0)).await.unwrap_err();
    assert_eq!(
        e,
        BackendError::Timeout {
            url: url.clone(),
            timeout: Duration::from_millis(500)
        }
    );
    assert!(begun.elapsed() < Duration::from_secs(2));

    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let e = backend(closed, Auth::None)
        .query("up", Timestamp(0))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, BackendError::Unreachable { url, .. } if url.contains(&closed.to_string())),
        "{e}"
    );

    let e = Backend::new(BackendConfig {
        url: "ftp://x".into(),
        auth: Auth::None,
        headers: vec![],
        timeout: Duration::from_secs(1),
    })
    .unwrap_err();
    assert!(matches!(e, BackendError::Config { .. }), "{e}");
}
