//! Signals over HTTP: Prometheus remote_write (status codes as Prometheus expects them, counts as
//! `increase()` gives them, retries counted once, bad bodies changing nothing), probe results and
//! heartbeat pings, and their metrics.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use headroom_core::Timestamp;
use headroom_ingest::remote_write::{STALE_NAN_BITS, Series, encode, to_proto};
use headroom_probe::Outcome;
use headroom_probe::spec::ProbeResult;
use headroom_service::evaluate;

use crate::common::*;

const CONFIG: &str = r#"anonymous_read: true
probes:
  - name: web
    http: {url: "http://127.0.0.1:9/"}
    interval: 1m
  - name: nightly
    heartbeat: {}
    interval: 1h
slos:
  - name: api
    service: shop
    objective: 99
    window: 7d
    sli:
      ratio:
        bad: sum(rate(http_requests_total{job="shop",code=~"5.."}[{{.window}}]))
        total: sum(rate(http_requests_total{job="shop"}[{{.window}}]))
  - name: web-fast
    service: shop
    objective: 99
    window: 7d
    sli: {probe: {name: web, latency: 200ms}}
"#;

fn series(code: &str, samples: &[(i64, f64)]) -> Series {
    let mut labels = vec![
        ("__name__".to_string(), "http_requests_total".to_string()),
        ("code".to_string(), code.to_string()),
        ("job".to_string(), "shop".to_string()),
    ];
    labels.sort();
    Series {
        labels,
        samples: samples
            .iter()
            .map(|&(s, v)| (Timestamp(T0 + s * 1000), v))
            .collect(),
    }
}

fn body(series: &[Series]) -> Vec<u8> {
    encode(&to_proto(series))
}

async fn write(ctx: &Ctx, token: Option<&str>, body: Vec<u8>) -> Resp {
    send(
        &ctx.app,
        Method::POST,
        "/api/v1/write",
        token,
        &[
            ("content-encoding", "snappy"),
            ("content-type", "application/x-protobuf"),
            ("x-prometheus-remote-write-version", "0.1.0"),
        ],
        body,
    )
    .await
}

#[tokio::test]
async fn remote_write_counts_increases_once_and_refuses_what_it_cannot_read() {
    let (ctx, _) = setup_file(CONFIG).await;
    let first = body(&[
        series("200", &[(0, 1000.0), (15, 1090.0)]),
        series("500", &[(0, 50.0), (15, 60.0)]),
        // A series no SLO selects costs nothing and counts nowhere.
        Series {
            labels: vec![("__name__".into(), "node_cpu_seconds_total".into())],
            samples: vec![(Timestamp(T0), 1.0)],
        },
    ]);

    // Auth first: Prometheus sends the token as a bearer credential.
    assert_eq!(
        write(&ctx, None, first.clone()).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        write(&ctx, Some(&ctx.read), first.clone()).await.status,
        StatusCode::FORBIDDEN
    );

    let r = write(&ctx, Some(&ctx.ingest), first.clone()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    // First samples are baselines; +90 good and +10 bad at 15 s.
    assert_eq!(totals(&slo(&ctx, "api").await), (90.0, 100.0));

    // A retried request (Prometheus retries on 5xx and timeouts) adds nothing.
    let r = write(&ctx, Some(&ctx.ingest), first).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(totals(&slo(&ctx, "api").await), (90.0, 100.0));

    // A reset (the process restarted) counts the new value whole; a staleness marker is not a
    // sample.
    let stale = f64::from_bits(STALE_NAN_BITS);
    let r = write(
        &ctx,
        Some(&ctx.ingest),
        body(&[
            series("200", &[(30, 1180.0), (45, 40.0)]),
            series("500", &[(30, stale), (45, 62.0)]),
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // Good: +90, then a reset to 40 counts 40 (and its bad +2 since 60): 220 good of 232.
    assert_eq!(totals(&slo(&ctx, "api").await), (220.0, 232.0));

    // Malformed bodies: 400 (Prometheus drops them), and nothing changes.
    for bad in [
        b"not snappy at all".to_vec(),
        snap::raw::Encoder::new()
            .compress_vec(b"\xff\xff not protobuf")
            .unwrap(),
        // The snappy header declares far more than the limit: refused before decompressing.
        vec![0xff, 0xff, 0xff, 0xff, 0x7f, 0x00],
    ] {
        let r = write(&ctx, Some(&ctx.ingest), bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        assert_eq!(r.json()["error"], "bad_request");
    }
    assert_eq!(totals(&slo(&ctx, "api").await), (220.0, 232.0));

    let m = get(&ctx.app, "/metrics", None).await.text();
    // Authenticated requests: three stored, three malformed.
    assert_eq!(metric(&m, "headroom_remote_write_requests_total", &[]), 6.0);
    assert_eq!(
        metric(&m, "headroom_remote_write_requests_rejected_total", &[]),
        3.0
    );
    assert_eq!(metric(&m, "headroom_series_tracked", &[]), 2.0);
}

fn result(at_secs: i64, ms: u64, success: bool) -> ProbeResult {
    ProbeResult {
        started_ms: T0 + at_secs * 1000,
        duration: Duration::from_millis(ms),
        success,
        status_code: Some(if success { 200 } else { 503 }),
        certificate_expiry_unix: None,
        ip: Some("127.0.0.1".into()),
        error: None,
        conditions: vec![Outcome {
            success,
            detail: format!("[STATUS] ({}) < 400", if success { 200 } else { 503 }),
        }],
    }
}

#[tokio::test]
async fn probe_results_are_served_newest_first_and_exported_like_blackbox() {
    let (ctx, _) = setup_file(CONFIG).await;
    for (i, (ms, ok)) in [(120, true), (350, true), (90, false)]
        .into_iter()
        .enumerate()
    {
        ctx.state
            .signals
            .record_probe("web", result(i as i64, ms, ok));
    }
    let r = get(&ctx.app, "/api/v1/probes/web/results?limit=2", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let results = r.json()["results"].as_array().unwrap().clone();
    let seen: Vec<(bool, f64)> = results
        .iter()
        .map(|x| {
            (
                x["success"].as_bool().unwrap(),
                x["duration_seconds"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(seen, [(false, 0.09), (true, 0.35)]);
    assert_eq!(
        results[0]["conditions"][0]["detail"],
        "[STATUS] (503) < 400"
    );

    let list = get(&ctx.app, "/api/v1/probes", None).await.json();
    let web = &list["probes"][1];
    assert_eq!(
        (web["name"].as_str(), web["kind"].as_str()),
        (Some("web"), Some("http"))
    );
    assert_eq!(web["recent"]["runs"], 3);
    assert_eq!(web["recent"]["successes"], 2);
    assert_eq!(
        web["conditions"][0], "[STATUS] < 400",
        "the default condition"
    );

    let r = get(&ctx.app, "/api/v1/probes/nope/results", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let m = get(&ctx.app, "/metrics", None).await.text();
    assert_eq!(metric(&m, "probe_success", &[("probe", "web")]), 0.0);
    assert_eq!(
        metric(&m, "probe_duration_seconds", &[("probe", "web")]),
        0.09
    );
    assert_eq!(
        metric(&m, "probe_http_status_code", &[("probe", "web")]),
        503.0
    );
}

#[tokio::test]
async fn probe_results_feed_the_slos_that_name_them() {
    let (ctx, _) = setup_file(CONFIG).await;
    let slos = ctx.state.engine.slos();
    // Good: succeeded within 200ms. Slow or failed runs are bad events.
    let mut batch = Vec::new();
    for (i, (ms, ok)) in [(120, true), (350, true), (90, false), (150, true)]
        .into_iter()
        .enumerate()
    {
        let events =
            headroom_service::signals::probe_events(&slos, "web", &result(i as i64, ms, ok));
        assert_eq!(events.len(), 1, "one SLO names the probe");
        batch.extend(events);
    }
    let goods: Vec<f64> = batch.iter().map(|(_, e)| e.good).collect();
    assert_eq!(goods, [1.0, 0.0, 0.0, 1.0]);
    let events: Vec<_> = batch.into_iter().map(|(_, e)| e).collect();
    ctx.state
        .deliver(vec![("web-fast".into(), events)])
        .unwrap();
    evaluate(&ctx.state, None).await;
    assert_eq!(totals(&slo(&ctx, "web-fast").await), (2.0, 4.0));
}

#[tokio::test]
async fn heartbeats_take_pings_with_an_ingest_token() {
    let (ctx, _) = setup_file(CONFIG).await;
    let ping = |token: Option<String>, name: &'static str| {
        let app = ctx.app.clone();
        async move {
            send(
                &app,
                Method::POST,
                &format!("/api/v1/heartbeats/{name}"),
                token.as_deref(),
                &[],
                Body::empty(),
            )
            .await
        }
    };
    assert_eq!(ping(None, "nightly").await.status, StatusCode::UNAUTHORIZED);
    // A probe that is not a heartbeat takes no pings.
    let r = ping(Some(ctx.ingest.clone()), "web").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.text().contains("no heartbeat \\\"web\\\""),
        "{}",
        r.text()
    );
    assert_eq!(ctx.state.signals.heartbeats.last_ping("nightly"), None);
    let r = ping(Some(ctx.ingest.clone()), "nightly").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(ctx.state.signals.heartbeats.last_ping("nightly"), Some(NOW));
}

/// Feeds one result the way the probe fleet does: history, then the alert change it makes.
async fn run(ctx: &Ctx, probe: &str, r: ProbeResult) {
    if let Some(change) = ctx.state.signals.record_probe(probe, r) {
        let spec = ctx.state.signals.probes.lock().unwrap()[probe].spec.clone();
        headroom_service::workers::probe_alert(&ctx.state, &spec, change).await;
    }
}

async fn alert_names(ctx: &Ctx) -> Vec<(String, String)> {
    let r = get(&ctx.app, "/api/v2/alerts", None).await;
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["labels"]["alertname"].as_str().unwrap().to_string(),
                a["labels"]["probe"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn failing_probes_and_missed_heartbeats_raise_alerts_that_recover() {
    let (ctx, _) = setup_file(CONFIG).await;
    // Three failed runs in a row raise ProbeFailed; two failures do not.
    run(&ctx, "web", result(0, 5, false)).await;
    run(&ctx, "web", result(60, 5, false)).await;
    assert!(alert_names(&ctx).await.is_empty());
    run(&ctx, "web", result(120, 5, false)).await;
    assert_eq!(
        alert_names(&ctx).await,
        [("ProbeFailed".into(), "web".into())]
    );
    let alerts = get(&ctx.app, "/api/v2/alerts", None).await.json();
    assert_eq!(alerts[0]["labels"]["severity"], "ticket");
    assert_eq!(
        alerts[0]["annotations"]["summary"],
        "probe web is failing: [STATUS] (503) < 400"
    );
    // One success does not resolve it; two do.
    run(&ctx, "web", result(180, 5, true)).await;
    assert_eq!(alert_names(&ctx).await.len(), 1);
    run(&ctx, "web", result(240, 5, true)).await;
    assert!(alert_names(&ctx).await.is_empty());

    // A heartbeat's one missed interval is a page; its next ping resolves it.
    let mut missed = result(300, 0, false);
    missed.error = Some("no ping in the last 1h".into());
    run(&ctx, "nightly", missed).await;
    let alerts = get(&ctx.app, "/api/v2/alerts", None).await.json();
    assert_eq!(alerts[0]["labels"]["alertname"], "HeartbeatMissed");
    assert_eq!(alerts[0]["labels"]["severity"], "page");
    run(&ctx, "nightly", result(360, 0, true)).await;
    assert!(alert_names(&ctx).await.is_empty());
}
