//! The HTTP API end to end: auth, push ingest, grouped SLOs, reload, series, /metrics, health,
//! OpenAPI, alert transitions, headroom's own SLOs, and one test over a real socket.
//!
//! Every test drives `app(state)` with `tower::ServiceExt::oneshot` and a clock it controls, so
//! nothing sleeps and every figure is known in advance.

use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use headroom_core::Timestamp;
use headroom_server::{MAX_BODY_BYTES, app};
use headroom_service::{Clock, ConfigSource, build_state, evaluate};
use headroom_store::Store;
use headroom_tsdb::Tsdb;
use serde_json::{Value, json};
use sha2::Digest;
use tempfile::TempDir;

use crate::common::*;

const ONE_SLO: &str = "anonymous_read: false
slos:
  - name: alpha
    service: shop
    objective: 99
    window: 30d
    sli:
      events: {}
";

const TWO_SLOS: &str = "anonymous_read: false
slos:
  - name: alpha
    service: shop
    objective: 99
    window: 30d
    sli:
      events: {}
  - name: beta
    service: shop
    objective: 99.9
    window: 7d
    sli:
      events: {}
";

const GROUPED: &str = "anonymous_read: true
slos:
  - name: api-by-endpoint
    service: api
    objective: 99
    window: 30d
    sli:
      events: {}
    grouping: [endpoint]
";

#[tokio::test]
async fn auth_scopes_and_anonymous_read() {
    let ctx = setup(ConfigSource::embedded()).await;
    let uri = format!("/api/v1/slos/{EXAMPLE}/events");
    let body = json!({"events": [event(EV_SECS, 10.0, 10.0)]}).to_string();

    let r = send(&ctx.app, Method::POST, &uri, None, &[], body.clone()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    let j = r.json();
    assert_eq!(j["error"], "unauthorized");
    assert!(j["detail"].as_str().unwrap().contains("ingest"), "{j}");

    let r = send(
        &ctx.app,
        Method::POST,
        &uri,
        Some("hr_nonsense"),
        &[],
        body.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let r = send(
        &ctx.app,
        Method::POST,
        &uri,
        Some(&ctx.read),
        &[],
        body.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["error"], "forbidden");

    let r = send(
        &ctx.app,
        Method::POST,
        &uri,
        Some(&ctx.ingest),
        &[],
        body.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), json!({"accepted": 1, "duplicate": false}));
    // An admin token may do everything.
    let r = send(&ctx.app, Method::POST, &uri, Some(&ctx.admin), &[], body).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(totals(&slo(&ctx, EXAMPLE).await), (20.0, 20.0));

    // Reload needs admin.
    for (token, want) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(ctx.read.as_str()), StatusCode::FORBIDDEN),
        (Some(ctx.ingest.as_str()), StatusCode::FORBIDDEN),
        (Some(ctx.admin.as_str()), StatusCode::OK),
    ] {
        let r = send(
            &ctx.app,
            Method::POST,
            "/-/reload",
            token,
            &[],
            Body::empty(),
        )
        .await;
        assert_eq!(r.status, want, "token {token:?}: {}", r.text());
    }

    // The quickstart allows anonymous reads.
    let r = get(&ctx.app, "/api/v1/slos", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["slos"].as_array().unwrap().len(), 4);

    // A config with anonymous_read: false does not.
    let (ctx, _path) = setup_file(ONE_SLO).await;
    let r = get(&ctx.app, "/api/v1/slos", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    assert_eq!(r.json()["error"], "unauthorized");
    let r = get(&ctx.app, "/api/v1/slos", Some(&ctx.read)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["slos"][0]["id"], "alpha");
}

#[tokio::test]
async fn push_json_and_ndjson_then_read_figures() {
    let ctx = setup(ConfigSource::embedded()).await;
    let before = slo(&ctx, EXAMPLE).await;
    assert_eq!(before["total_events"], 0.0);

    let r = push(
        &ctx,
        EXAMPLE,
        json!({"events": [event(EV_SECS, 998.0, 1000.0)]}),
        Some("batch-1"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), json!({"accepted": 1, "duplicate": false}));

    // NDJSON, with RFC 3339 and string timestamps.
    let nd = "{\"timestamp\":\"2027-01-15T08:00:20Z\",\"good\":297,\"total\":300}\n\n\
              {\"timestamp\":\"1800000005\",\"good\":100,\"total\":100}\n";
    let r = send(
        &ctx.app,
        Method::POST,
        &format!("/api/v1/slos/{EXAMPLE}/events"),
        Some(&ctx.ingest),
        &[("content-type", "application/x-ndjson")],
        nd,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["accepted"], 2);

    // 1395 good of 1400; objective 99.5% allows 0.5% of 1400 = 7 bad, 5 are spent.
    let v = slo(&ctx, EXAMPLE).await;
    assert_eq!(totals(&v), (1395.0, 1400.0));
    assert_close(&v["sli"], 1395.0 / 1400.0);
    assert_close(&v["budget_consumed"], 5.0 / 7.0);
    assert_close(&v["budget_remaining"], 2.0 / 7.0);
    assert_close(&v["objective"], 0.995);
    // Spans print largest unit first, Prometheus style: 7d is 1w.
    assert_eq!(v["window"], "7d");
    // Every event is within the last 5 minutes, so every window burns at (5/1400)/0.005.
    let windows: Vec<&str> = v["alert_windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(windows, ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]);
    let rates = v["burn_rates"].as_object().unwrap();
    assert_eq!(rates.len(), windows.len());
    for w in &windows {
        assert_close(&rates[*w], (5.0 / 1400.0) / 0.005);
    }
    // 0.714× is below both page factors for a 7d window (2% in 1h: 3.36×; 5% in 6h: 1.4×) but
    // above the ticket's 2h∧1d factor (10% in 1d: 0.7×), which has no `for`: the ticket fires.
    let alerts: Vec<(String, String)> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(alerts[0], ("page".to_string(), "inactive".to_string()));
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[1], ("ticket".to_string(), "firing".to_string()));

    // A retry with the same Idempotency-Key counts once.
    let r = push(
        &ctx,
        EXAMPLE,
        json!({"events": [event(EV_SECS, 998.0, 1000.0)]}),
        Some("batch-1"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"accepted": 0, "duplicate": true}));
    assert_eq!(totals(&slo(&ctx, EXAMPLE).await), (1395.0, 1400.0));

    // The list shows the same figures.
    let list = get(&ctx.app, "/api/v1/slos", None).await.json();
    let item = list["slos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == EXAMPLE)
        .unwrap()
        .clone();
    assert_eq!(totals(&item), (1395.0, 1400.0));
}

#[tokio::test]
async fn bad_batches_change_nothing() {
    let ctx = setup(ConfigSource::embedded()).await;
    let ok = push_event(&ctx, EXAMPLE, 90.0, 100.0).await;
    assert_eq!(ok.status, StatusCode::OK);
    let base = (90.0, 100.0);
    assert_eq!(totals(&slo(&ctx, EXAMPLE).await), base);

    let good = event(EV_SECS, 5.0, 5.0);
    let cases: Vec<(&str, Value, StatusCode)> = vec![
        (
            "good > total",
            json!({"events": [good, event(EV_SECS, 6.0, 5.0)]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "bad timestamp",
            json!({"events": [good, {"timestamp": "yesterday", "good": 1, "total": 1}]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown field",
            json!({"events": [good, {"timestamp": EV_SECS, "good": 1, "total": 1, "bad": 0}]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "negative count",
            json!({"events": [good, event(EV_SECS, -1.0, 5.0)]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "empty batch",
            json!({"events": []}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "an hour in the future",
            json!({"events": [good, event(EV_SECS + 3600, 1.0, 1.0)]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "older than the 7d window's retention",
            json!({"events": [good, event(EV_SECS - 40 * 86_400, 1.0, 1.0)]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (name, body, want) in cases {
        let r = push(&ctx, EXAMPLE, body, None).await;
        assert_eq!(r.status, want, "{name}: {}", r.text());
        let j = r.json();
        assert!(
            j["error"].is_string() && j["detail"].is_string(),
            "{name}: {j}"
        );
        assert_eq!(totals(&slo(&ctx, EXAMPLE).await), base, "{name}");
    }
    // The bad event is named by its index.
    let r = push(
        &ctx,
        EXAMPLE,
        json!({"events": [good, event(EV_SECS, 6.0, 5.0)]}),
        None,
    )
    .await;
    assert!(r.json()["detail"].as_str().unwrap().contains("events[1]"));

    // Malformed JSON and a malformed NDJSON line.
    let r = send(
        &ctx.app,
        Method::POST,
        &format!("/api/v1/slos/{EXAMPLE}/events"),
        Some(&ctx.ingest),
        &[("content-type", "application/json")],
        "{\"events\": [",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "bad_request");
    let r = send(
        &ctx.app,
        Method::POST,
        &format!("/api/v1/slos/{EXAMPLE}/events"),
        Some(&ctx.ingest),
        &[("content-type", "application/x-ndjson")],
        format!("{{\"timestamp\":{EV_SECS},\"good\":1,\"total\":1}}\n{{oops\n"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["detail"].as_str().unwrap().contains("line 2"));

    // Unknown SLO.
    let r = push(&ctx, "no-such-slo", json!({"events": [good]}), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"], "not_found");

    // A valid body larger than the limit.
    let one = format!("{{\"timestamp\":{EV_SECS},\"good\":1,\"total\":1}}");
    let n = MAX_BODY_BYTES / one.len() + 10;
    let mut big = String::with_capacity(MAX_BODY_BYTES + 1024);
    big.push_str("{\"events\":[");
    for i in 0..n {
        if i > 0 {
            big.push(',');
        }
        big.push_str(&one);
    }
    big.push_str("]}");
    assert!(big.len() > MAX_BODY_BYTES);
    let r = send(
        &ctx.app,
        Method::POST,
        &format!("/api/v1/slos/{EXAMPLE}/events"),
        Some(&ctx.ingest),
        &[("content-type", "application/json")],
        big,
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json()["error"], "payload_too_large", "{}", r.text());

    assert_eq!(totals(&slo(&ctx, EXAMPLE).await), base);
    // Every refused batch that reached the parser is counted on /metrics.
    let m = get(&ctx.app, "/metrics", None).await.text();
    assert!(m.contains("\nheadroom_events_ingested_total 1\n"), "{m}");
}

#[tokio::test]
async fn grouped_slo_keeps_a_budget_per_group() {
    let (ctx, _path) = setup_file(GROUPED).await;
    let id = "api-by-endpoint";
    let r = push(
        &ctx,
        id,
        json!({"events": [
            {"timestamp": EV_SECS, "good": 90, "total": 100, "labels": {"endpoint": "/a"}},
            {"timestamp": EV_SECS, "good": 200, "total": 200, "labels": {"endpoint": "/b"}},
            {"timestamp": EV_SECS, "good": 100, "total": 100, "labels": {"endpoint": "/b"}},
        ]}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = slo(&ctx, id).await;
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{v}");
    assert_eq!(groups[0]["group"], "endpoint=/a");
    assert_eq!(totals(&groups[0]), (90.0, 100.0));
    // 10 bad where 1% of 100 = 1 is allowed: ten budgets spent.
    assert_close(&groups[0]["budget_consumed"], 10.0);
    assert_close(&groups[0]["budget_remaining"], -9.0);
    assert_eq!(groups[1]["group"], "endpoint=/b");
    assert_eq!(totals(&groups[1]), (300.0, 300.0));
    assert_close(&groups[1]["budget_remaining"], 1.0);
    // The top level shows the worst group.
    assert_eq!(totals(&v), (90.0, 100.0));

    // A missing grouping label refuses the whole batch.
    let r = push(
        &ctx,
        id,
        json!({"events": [
            {"timestamp": EV_SECS, "good": 1, "total": 1, "labels": {"endpoint": "/c"}},
            {"timestamp": EV_SECS, "good": 1, "total": 1, "labels": {"route": "/a"}},
        ]}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.json()["detail"].as_str().unwrap().contains("endpoint"));
    let v = slo(&ctx, id).await;
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(totals(&groups[0]), (90.0, 100.0));
    assert_eq!(totals(&groups[1]), (300.0, 300.0));
    assert!(
        groups.iter().all(|g| g["group"] != "endpoint=/c"),
        "a refused batch left a group behind: {v}"
    );
}

#[tokio::test]
async fn reload_applies_a_valid_config_and_refuses_an_invalid_one() {
    let (ctx, path) = setup_file(ONE_SLO).await;
    let ids = |v: Value| -> Vec<String> {
        v["slos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    };
    let list = get(&ctx.app, "/api/v1/slos", Some(&ctx.read)).await;
    assert_eq!(ids(list.json()), ["alpha"]);
    let r = get(&ctx.app, "/api/v1/slos/beta", Some(&ctx.read)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let config_info = |m: &str| -> String {
        let line = m
            .lines()
            .find(|l| l.starts_with("headroom_config_info{"))
            .unwrap()
            .to_string();
        line.split('"').nth(1).unwrap().to_string()
    };
    let first = config_info(&get(&ctx.app, "/metrics", Some(&ctx.read)).await.text());
    assert_eq!(first.len(), 64, "{first}");

    write(&path, TWO_SLOS);
    let r = reload(&ctx).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), json!({"status": "reloaded", "slos": 2}));
    let list = get(&ctx.app, "/api/v1/slos", Some(&ctx.read)).await;
    assert_eq!(ids(list.json()), ["alpha", "beta"]);
    let beta = get(&ctx.app, "/api/v1/slos/beta", Some(&ctx.read)).await;
    assert_eq!(beta.status, StatusCode::OK);
    assert_close(&beta.json()["objective"], 0.999);

    // An unknown key on line 5, column 5.
    write(
        &path,
        &TWO_SLOS.replace("    objective: 99\n", "    objectiv: 99\n"),
    );
    let r = reload(&ctx).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let detail = r.json()["detail"].as_str().unwrap().to_string();
    let prefix = format!("{}:", path.display());
    let line = detail
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no FILE:LINE:COL: line in {detail:?}"));
    let mut parts = line[prefix.len()..].splitn(3, ':');
    let (l, c) = (parts.next().unwrap(), parts.next().unwrap());
    assert_eq!(l.parse::<u32>().unwrap(), 5, "{line}");
    assert!(c.parse::<u32>().is_ok(), "{line}");
    assert!(line.contains("objectiv"), "{line}");

    // The previous SLO set is still served, and still takes events.
    let list = get(&ctx.app, "/api/v1/slos", Some(&ctx.read)).await;
    assert_eq!(ids(list.json()), ["alpha", "beta"]);
    let r = push_event(&ctx, "beta", 3.0, 4.0).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(totals(&slo(&ctx, "beta").await), (3.0, 4.0));

    let m = get(&ctx.app, "/metrics", Some(&ctx.read)).await.text();
    assert!(m.contains("\nheadroom_config_reloads_total 1\n"), "{m}");
    // The config in force is the reloaded one, not the refused one after it.
    let second = config_info(&m);
    assert_ne!(second, first);
    let text = format!("{}{TWO_SLOS}", path.display());
    assert_eq!(second, hex::encode(sha2::Sha256::digest(text.as_bytes())));
    assert!(
        m.contains("\nheadroom_config_reload_failures_total 1\n"),
        "{m}"
    );
}

#[tokio::test]
async fn series_points_and_limits() {
    let ctx = setup(ConfigSource::embedded()).await;
    let r = push_event(&ctx, EXAMPLE, 99.0, 100.0).await;
    assert_eq!(r.status, StatusCode::OK);
    let from = T0 / 1000 - 600;
    let to = T0 / 1000;
    let r = get(
        &ctx.app,
        &format!("/api/v1/slos/{EXAMPLE}/series?from={from}&to={to}&step=60"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    let points = v["points"].as_array().unwrap();
    // from, from+1m, …, to: 11 points.
    assert_eq!(points.len(), 11);
    assert_eq!(points[0]["t"], "2027-01-15T07:50:00Z");
    // Before T0's minute there is no data; the last point's window holds the event.
    for p in &points[..10] {
        assert!(p["sli"].is_null(), "{p}");
    }
    let last = &points[10];
    assert_close(&last["sli"], 0.99);
    // 1 bad of 0.5 allowed: two budgets spent.
    assert_close(&last["budget_remaining"], -1.0);
    assert_close(&last["burn_rates"]["1h"], 2.0);

    // The same with a duration step.
    let r = get(
        &ctx.app,
        &format!("/api/v1/slos/{EXAMPLE}/series?from={from}&to={to}&step=5m"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["points"].as_array().unwrap().len(), 3);

    for (q, why) in [
        (format!("from={from}&to={to}&step=banana"), "bad step"),
        (format!("from={from}&to={to}&step=0"), "zero step"),
        (format!("from={from}&to={to}&step=-60"), "negative step"),
        (
            format!("from={from}&to={to}&step=0.0001"),
            "step under a millisecond",
        ),
        (format!("from={from}&to={to}&step=NaN"), "NaN step"),
        (format!("from={from}&to={to}&step=1e300"), "absurd step"),
        (format!("from={to}&to={from}&step=60"), "from after to"),
        (
            format!("from={}&to={to}&step=1", to - 86_400),
            "too many points",
        ),
        (format!("from=yesterday&to={to}"), "bad from"),
    ] {
        let r = get(
            &ctx.app,
            &format!("/api/v1/slos/{EXAMPLE}/series?{q}"),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}: {}", r.text());
        assert_eq!(r.json()["error"], "bad_request", "{why}");
    }
    let r = get(&ctx.app, "/api/v1/slos/nope/series", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_health_and_readiness() {
    let ctx = setup(ConfigSource::embedded()).await;
    let r = get(&ctx.app, "/readyz", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    ctx.state.ready.store(true, Ordering::Release);
    let r = get(&ctx.app, "/readyz", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = get(&ctx.app, "/healthz", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), "ok");

    let r = push(
        &ctx,
        EXAMPLE,
        json!({"events": [event(EV_SECS, 996.0, 1000.0), event(EV_SECS, 1000.0, 1000.0)]}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = push_event(&ctx, EXAMPLE, 2.0, 1.0).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    evaluate(&ctx.state, None).await;

    let r = get(&ctx.app, "/metrics", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let m = r.text();
    let slo = [("slo", EXAMPLE)];
    // 4 bad of 2000; 0.5% of 2000 = 10 allowed: 40% consumed.
    assert!(
        m.contains(&format!(
            "headroom_slo_budget_remaining{{slo=\"{EXAMPLE}\",service=\"example\",group=\"\"}} "
        )),
        "{m}"
    );
    assert!(close(
        metric(&m, "headroom_slo_budget_remaining", &slo),
        0.6
    ));
    assert!(close(metric(&m, "headroom_slo_budget_consumed", &slo), 0.4));
    assert_eq!(metric(&m, "headroom_slo_total_events", &slo), 2000.0);
    assert_eq!(metric(&m, "headroom_slo_good_events", &slo), 1996.0);
    assert!(close(metric(&m, "headroom_slo_objective", &slo), 0.995));
    // Burn rate (4/2000)/0.005 = 0.4 over every window.
    assert!(close(
        metric(
            &m,
            "headroom_slo_burn_rate",
            &[("slo", EXAMPLE), ("window", "1h")]
        ),
        0.4
    ));
    assert!(close(
        metric(
            &m,
            "headroom_slo_burn_rate",
            &[("slo", EXAMPLE), ("window", "5m")]
        ),
        0.4
    ));
    for (state, want) in [("inactive", 1.0), ("pending", 0.0), ("firing", 0.0)] {
        let labels = [("slo", EXAMPLE), ("alert", "page"), ("state", state)];
        assert_eq!(
            metric(&m, "headroom_slo_alert_state", &labels),
            want,
            "{state}"
        );
    }
    assert_eq!(metric(&m, "headroom_events_ingested_total", &[]), 2.0);
    assert_eq!(metric(&m, "headroom_batches_rejected_total", &[]), 1.0);
    assert_eq!(metric(&m, "headroom_batches_duplicate_total", &[]), 0.0);
    assert_eq!(metric(&m, "headroom_slos", &[]), 4.0);
    // setup evaluated once, `evaluate` above once more.
    assert_eq!(metric(&m, "headroom_evaluations_total", &[]), 2.0);
    for name in [
        "headroom_config_reloads_total",
        "headroom_config_reload_failures_total",
        "headroom_sli_memory_bytes",
        "headroom_last_checkpoint_timestamp_seconds",
    ] {
        assert!(m.contains(&format!("# TYPE {name} ")), "{name}");
    }
    assert!(metric(&m, "headroom_sli_memory_bytes", &[]) > 0.0);

    // Unknown paths are JSON 404s.
    let r = get(&ctx.app, "/api/v1/nope", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"], "not_found");
}

/// The router and the document come from one list (`openapi::documented`), so a route cannot
/// be missing from the document; what is left to check is that every documented operation is
/// routed: it answers something other than the fallback's 404 or a 405.
#[tokio::test]
async fn openapi_documents_every_route() {
    let ctx = setup(ConfigSource::embedded()).await;
    let r = get(&ctx.app, "/api/v1/openapi.json", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.push((method.clone(), path.clone()));
        }
    }
    // A few of every area, so that an empty or truncated document fails here.
    for (method, path) in [
        ("get", "/api/v1/slos"),
        ("post", "/api/v1/write"),
        ("get", "/api/v1/probes"),
        ("post", "/api/v2/alerts"),
        ("delete", "/api/v2/silence/{id}"),
        ("post", "/v2/enqueue"),
        ("patch", "/api/v1/incidents/{id}/action-items/{n}"),
        ("get", "/calendars/{key}/feed.ics"),
        ("post", "/resolve/{token}"),
        ("get", "/api/v1/openapi.json"),
        ("get", "/metrics"),
        ("get", "/readyz"),
    ] {
        assert!(
            operations.iter().any(|(m, p)| m == method && p == path),
            "{method} {path} is not in openapi.json"
        );
    }
    assert!(operations.len() >= 60, "{} operations", operations.len());
    for (method, path) in &operations {
        let uri = path
            .replace("{slo}", EXAMPLE)
            .replace("{name}", "headroom-ready")
            .replace("{id}", "1")
            .replace("{token}", "x")
            .replace("{key}", "x")
            .replace("{n}", "1");
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = send(&ctx.app, m, &uri, Some(&ctx.admin), &[], Body::empty()).await;
        // A handler's own 404 (no such heartbeat) is fine; the fallback's is not.
        assert!(
            !r.text().contains("no such endpoint"),
            "{method} {path}: {}",
            r.text()
        );
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
}

#[tokio::test]
async fn firing_alert_transitions_are_stored_and_served() {
    let ctx = setup(ConfigSource::embedded()).await;
    let r = get(&ctx.app, "/api/v1/alerts/transitions", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"transitions": []}));

    // Half the events fail: burn rate 0.5 / 0.005 = 100, over every factor.
    let r = push_event(&ctx, EXAMPLE, 500.0, 1000.0).await;
    assert_eq!(r.status, StatusCode::OK);
    let transitions = evaluate(&ctx.state, None).await;
    assert!(
        transitions
            .iter()
            .any(|t| t.slo == EXAMPLE && t.severity == "page" && t.to.as_str() == "firing"),
        "{transitions:?}"
    );

    let r = get(
        &ctx.app,
        &format!("/api/v1/alerts/transitions?slo={EXAMPLE}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    let list = v["transitions"].as_array().unwrap();
    let page = list
        .iter()
        .find(|t| t["alert"] == "page")
        .unwrap_or_else(|| panic!("no page transition in {v}"));
    assert_eq!(page["slo"], EXAMPLE);
    assert_eq!(page["from"], "inactive");
    assert_eq!(page["to"], "firing");
    assert_eq!(page["group"], "");
    assert_eq!(page["at"], Timestamp(NOW).to_rfc3339());
    assert_close(&page["burn_rates"]["1h"], 100.0);
    assert_close(&page["burn_rates"]["5m"], 100.0);
    // Only this SLO's rows when filtered.
    assert!(list.iter().all(|t| t["slo"] == EXAMPLE));

    let v = slo(&ctx, EXAMPLE).await;
    let page = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "page")
        .unwrap()
        .clone();
    assert_eq!(page["state"], "firing");
    assert_eq!(page["since"], Timestamp(NOW).to_rfc3339());

    // Stored, not just remembered: the same rows come straight from the store.
    use headroom_store::AlertStore;
    let rows = ctx
        .state
        .store
        .transitions(Some(EXAMPLE), Timestamp(0), Timestamp(NOW + 60_000), 100)
        .await
        .unwrap();
    assert!(
        rows.iter()
            .any(|r| r.severity == "page" && r.from == "inactive" && r.to == "firing")
    );

    // An hour and a half later with no new failures the 5m and 1h windows are clean: resolved.
    ctx.clock.store(NOW + 90 * 60_000, Ordering::SeqCst);
    let transitions = evaluate(&ctx.state, None).await;
    assert!(
        transitions
            .iter()
            .any(|t| t.slo == EXAMPLE && t.severity == "page" && t.to.as_str() == "resolved"),
        "{transitions:?}"
    );
}

#[tokio::test]
async fn headroom_counts_its_own_api_requests() {
    let ctx = setup(ConfigSource::embedded()).await;
    let mut api_requests = 0;
    for _ in 0..3 {
        let r = get(&ctx.app, "/api/v1/slos", None).await;
        assert_eq!(r.status, StatusCode::OK);
        api_requests += 1;
    }
    let r = push_event(&ctx, EXAMPLE, 1.0, 1.0).await;
    assert_eq!(r.status, StatusCode::OK);
    api_requests += 1;
    let r = send(
        &ctx.app,
        Method::POST,
        &format!("/api/v1/slos/{EXAMPLE}/events"),
        None,
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    api_requests += 1;
    // Not counted: outside /api.
    get(&ctx.app, "/metrics", None).await;
    get(&ctx.app, "/healthz", None).await;

    ctx.state
        .requests
        .flush(&ctx.state.engine, &ctx.state.changed, ctx.state.now());
    evaluate(&ctx.state, None).await;
    let v = get(&ctx.app, "/api/v1/slos/headroom-api-availability", None)
        .await
        .json();
    assert_eq!(v["total_events"], f64::from(api_requests));
    // A 401 is not a server error: every one of them was good.
    assert_eq!(v["good_events"], f64::from(api_requests));
    let v = get(&ctx.app, "/api/v1/slos/headroom-api-latency", None)
        .await
        .json();
    assert_eq!(v["total_events"], f64::from(api_requests));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_and_read_over_a_real_socket() {
    let ctx = setup(ConfigSource::embedded()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, app(ctx.state.clone())).into_future());

    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let r = client
        .post(format!("{base}/api/v1/slos/{EXAMPLE}/events"))
        .bearer_auth(&ctx.ingest)
        .header("idempotency-key", "socket-1")
        .json(&json!({"events": [event(EV_SECS, 97.0, 100.0), event(EV_SECS, 3.0, 3.0)]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, json!({"accepted": 2, "duplicate": false}));

    evaluate(&ctx.state, None).await;
    let r = client
        .get(format!("{base}/api/v1/slos/{EXAMPLE}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(totals(&v), (100.0, 103.0));

    let r = client
        .post(format!("{base}/api/v1/slos/{EXAMPLE}/events"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "unauthorized");
    server.abort();
}

#[tokio::test]
async fn errors_outside_handlers_are_json_too() {
    let ctx = setup(ConfigSource::embedded()).await;
    // Wrong method: 405, JSON, and the Allow header kept.
    let r = send(
        &ctx.app,
        Method::DELETE,
        "/api/v1/slos",
        Some(&ctx.admin),
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.json()["error"], "method_not_allowed");
    assert_eq!(r.headers["allow"], "GET,HEAD");
    // A query string that does not parse: 400 naming the parameter.
    let r = get(
        &ctx.app,
        "/api/v1/alerts/transitions?limit=many",
        Some(&ctx.read),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["detail"].as_str().unwrap().contains("limit"),
        "{}",
        r.text()
    );
    // Unknown path: 404 JSON.
    let r = get(&ctx.app, "/api/v1/nothing", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"], "not_found");
}

#[tokio::test]
async fn a_firing_alert_stays_firing_across_a_restart_without_paging_again() {
    let dir = TempDir::new().unwrap();
    let db = format!("sqlite://{}", dir.path().join("state.db").display());
    let sli = dir.path().join("sli");
    let (clock, cell) = clock_at(NOW);
    let start = |clock: Clock| {
        let (db, sli) = (db.clone(), sli.clone());
        async move {
            let store = Store::open(&db).await.unwrap();
            let tsdb = Tsdb::open(&sli, Default::default()).unwrap();
            build_state(ConfigSource::embedded(), tsdb, store, clock)
                .await
                .unwrap()
        }
    };
    let state = start(clock.clone()).await;
    let events = headroom_ingest::parse_batch(
        json!({"events": [event(EV_SECS, 500.0, 1000.0)]})
            .to_string()
            .as_bytes(),
        false,
    )
    .unwrap();
    state
        .engine
        .ingest(EXAMPLE, &events, None, Timestamp(NOW))
        .unwrap();
    let fired = evaluate(&state, None).await;
    assert!(
        fired
            .iter()
            .any(|t| t.severity == "page" && t.to.as_str() == "firing"),
        "{fired:?}"
    );
    state.store.close().await;
    drop(state);

    // A minute later, a new process on the same storage: still firing since NOW, nothing new.
    cell.store(NOW + 60_000, Ordering::SeqCst);
    let state = start(clock).await;
    let again = evaluate(&state, None).await;
    assert!(
        again.iter().all(|t| t.slo != EXAMPLE),
        "re-paged after restart: {again:?}"
    );
    let view = state.engine.view(EXAMPLE).unwrap();
    let (_, page) = view.groups[0]
        .alerts
        .iter()
        .find(|(n, _)| n == "page")
        .unwrap();
    assert_eq!(
        (page.state.as_str(), page.since),
        ("firing", Timestamp(NOW))
    );
    assert_eq!(view.groups[0].status.counts.total, 1000.0);
}

#[tokio::test]
async fn figures_people_read_are_rounded_where_metrics_keep_full_precision() {
    let ctx = setup(ConfigSource::embedded()).await;
    // Every event bad against 99.5%: 1 / (1 - 0.995) is 199.99999999999983 in floats.
    let r = push(
        &ctx,
        EXAMPLE,
        json!({"events": [event(EV_SECS, 0.0, 1000.0)]}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    evaluate(&ctx.state, None).await;

    let v = slo(&ctx, EXAMPLE).await;
    assert_eq!(v["budget_consumed"], json!(200.0));
    assert_eq!(v["budget_remaining"], json!(-199.0));
    assert_eq!(v["burn_rates"]["5m"], json!(200.0));
    assert_eq!(v["sli"], json!(0.0));

    let m = get(&ctx.app, "/metrics", None).await.text();
    let line = m
        .lines()
        .find(|l| l.starts_with(&format!("headroom_slo_budget_remaining{{slo=\"{EXAMPLE}\"")))
        .expect("a budget_remaining metric");
    let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(value, 1.0 - 1.0 / (1.0 - 0.995), "full precision in {line}");
}

#[tokio::test]
async fn the_front_page_points_to_the_api_document() {
    let ctx = setup(ConfigSource::embedded()).await;
    let r = get(&ctx.app, "/", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let home = r.json();
    assert_eq!(home["name"], "headroom");
    assert_eq!(home["version"], env!("CARGO_PKG_VERSION"));
    let hrefs: Vec<&str> = home["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["href"].as_str().unwrap())
        .collect();
    assert_eq!(hrefs[0], "/api/v1/openapi.json");
    // Every link leads somewhere that answers (with a token where one is needed).
    for href in &hrefs {
        let r = get(&ctx.app, href, Some(&ctx.read)).await;
        assert_ne!(r.status, StatusCode::NOT_FOUND, "{href}");
    }

    let r = send(
        &ctx.app,
        Method::GET,
        "/",
        None,
        &[("accept", "text/html,application/xhtml+xml")],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.headers.contains_key("content-security-policy"));
    assert!(
        r.text()
            .contains("<a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>"),
        "{}",
        r.text()
    );
}
