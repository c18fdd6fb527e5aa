//! `POST /api/v1/canary/judge`: inline samples judged and shaped, refusals that name what and
//! where, and sides queried from a real Prometheus (Debian's `/usr/bin/prometheus`, its data
//! written beforehand by `promtool tsdb create-blocks-from openmetrics`), which must judge
//! exactly as the same samples given inline.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::common::*;
use axum::http::{Method, StatusCode};
use headroom_api::canary::{Classification, Judgement, PValueMethod, Verdict};
use headroom_service::ConfigSource;
use serde_json::{Value, json};

const PROMETHEUS: &str = "/usr/bin/prometheus";
const PROMTOOL: &str = "/usr/bin/promtool";

async fn judge(ctx: &Ctx, body: &Value) -> Resp {
    send(
        &ctx.app,
        Method::POST,
        "/api/v1/canary/judge",
        Some(&ctx.read),
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await
}

/// 20 values around `centre`, spread evenly.
fn around(centre: f64) -> Vec<f64> {
    (0..20).map(|i| centre + (i % 7) as f64 * 0.3).collect()
}

#[tokio::test]
async fn judges_inline_samples() {
    let ctx = setup(ConfigSource::embedded()).await;
    let body = json!({
        "metrics": [
            {"name": "latency", "groups": ["perf"], "direction": "increase",
             "baseline": around(10.0), "canary": around(12.0)},
            {"name": "throughput", "groups": ["perf"], "direction": "increase",
             "baseline": around(50.0), "canary": around(40.0)},
            {"name": "errors", "groups": ["errors"], "mustHaveData": true,
             "baseline": [0.1, 0.2], "canary": [null, null]},
            {"name": "saturation", "groups": ["saturation"],
             "baseline": [1.0, 2.0, 3.0], "canary": [3.0, 2.0, 1.0]},
        ],
        "groupWeights": {"perf": 50, "errors": 25},
        "thresholds": {"pass": 95, "marginal": 60}
    });
    let r = judge(&ctx, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let j: Judgement = serde_json::from_slice(&r.body).unwrap();
    // perf: latency High, throughput only counts increases so Pass → 50; errors: no data that
    // must be there → 0; saturation: identical → 100. 0.5·50 + 0.25·0 + 0.25·100 = 50.
    let labels: Vec<Classification> = j.metrics.iter().map(|m| m.classification).collect();
    use Classification::*;
    assert_eq!(labels, [High, Pass, NodataFailMetric, Pass]);
    assert_eq!((j.score, j.verdict), (50.0, Verdict::Fail));
    assert_eq!(j.reason, None);
    assert_eq!((j.thresholds.pass, j.thresholds.marginal), (95.0, 60.0));
    let groups: Vec<(&str, f64)> = j
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.score))
        .collect();
    assert_eq!(
        groups,
        [("perf", 50.0), ("errors", 0.0), ("saturation", 100.0)]
    );

    let latency = &j.metrics[0];
    assert_eq!(
        latency.reason.as_deref(),
        Some("latency was classified as High")
    );
    let t = latency.test.as_ref().unwrap();
    // Shifted by exactly 2 with ties inside each sample: the normal approximation, and every
    // pairwise difference near the middle is 2.
    assert_eq!(t.method, PValueMethod::Asymptotic);
    assert_eq!(t.estimate, 2.0);
    assert!(t.lower > 0.5 && t.upper <= 2.6, "{t:?}");
    assert!(t.p_value < 1e-6, "{}", t.p_value);
    // Means 12.855 and 10.855 (the spread adds 0.855 to each).
    let ratio = latency.deviation.unwrap();
    assert!((ratio - 12.855 / 10.855).abs() < 1e-9, "{ratio}");
    let errors = &j.metrics[2];
    assert_eq!((errors.canary.count, errors.canary.missing), (0, 2));
    assert_eq!(errors.canary.mean, None);
    assert_eq!(errors.test, None);
    assert_eq!(
        j.metrics[3].reason.as_deref(),
        Some("The Canary and Baseline data are identical")
    );

    // The answer is exactly the judge's, shaped: a round trip changes nothing.
    assert_eq!(serde_json::to_value(&j).unwrap(), r.json());
}

#[tokio::test]
async fn refusals_name_what_and_where() {
    let ctx = setup(ConfigSource::embedded()).await;
    let cases = [
        (json!({"metrics": []}), "no metrics to judge"),
        (
            json!({"metrics": [{"name": "a", "groups": [], "baseline": [1], "canary": [2]}]}),
            "metric \"a\": belongs to no group",
        ),
        (
            json!({"metrics": [{"name": "a", "groups": ["g"], "baseline": [1], "canary": [2],
                                "effectSize": {"measure": "cles", "allowedIncrease": 2}}]}),
            "metric \"a\": effectSize.allowedIncrease is 2; cles is a share of pairs",
        ),
        (
            json!({"metrics": [{"name": "a", "groups": ["g"], "baseline": [1], "canary": [2]}],
                   "groupWeights": {"gg": 10}}),
            "groupWeights names \"gg\", which no metric belongs to",
        ),
        (
            json!({"metrics": [{"name": "a", "groups": ["g"], "baseline": [1], "canary": [2],
                                "mustHavedata": true}]}),
            "unknown field `mustHavedata`",
        ),
        (
            json!({"metrics": [{"name": "a", "groups": ["g"], "baseline": [1],
                                "canary": {"query": "up"}}]}),
            "range (start, end, step) is required when a side is a query",
        ),
        (
            json!({"metrics": [{"name": "a", "groups": ["g"], "baseline": [1],
                                "canary": {"query": "up"}}],
                   "range": {"start": "2027-01-01T00:00:00Z", "end": "2027-01-01T01:00:00Z", "step": "1m"}}),
            "metric \"a\": canary query: names no backend and none is the default",
        ),
        (
            json!({"metrics": [{"name": "a", "groups": ["g"], "baseline": [1],
                                "canary": {"query": "up", "backend": "mimir"}}],
                   "range": {"start": "2027-01-01T00:00:00Z", "end": "2027-01-01T01:00:00Z", "step": "1m"}}),
            "no backend named \"mimir\" (configured: none)",
        ),
        (
            json!({"metrics": [{"name": "a", "groups": ["g"], "baseline": [1],
                                "canary": {"query": "up"}}],
                   "range": {"start": "2027-01-01T00:00:00Z", "end": "2027-01-01T01:00:00Z", "step": "soon"}}),
            "range.step",
        ),
        (
            json!({"metrics": [{"name": "a", "groups": ["g"], "baseline": [1],
                                "canary": {"query": "up"}}],
                   "range": {"start": "2027-01-01T01:00:00Z", "end": "2027-01-01T00:00:00Z", "step": "1m"}}),
            "range: end (2027-01-01T00:00:00",
        ),
    ];
    for (body, expected) in cases {
        let r = judge(&ctx, &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text());
        let detail = r.json()["detail"].as_str().unwrap().to_string();
        assert!(detail.contains(expected), "{body}: {detail}");
    }
    // Judging is a read: with the quickstart's anonymous reads, no token is needed either.
    let r = send(
        &ctx.app,
        Method::POST,
        "/api/v1/canary/judge",
        None,
        &[],
        "{}",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("missing field `metrics`"), "{}", r.text());
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sample values of one side, one a minute: deterministic, with ties.
fn minute_values(centre: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| centre + ((i * 7) % 11) as f64 * 0.5)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sides_queried_from_a_real_prometheus_judge_as_inline_samples() {
    if !Path::new(PROMETHEUS).exists() || !Path::new(PROMTOOL).exists() {
        println!("SKIPPED: prometheus or promtool not installed");
        return;
    }
    // An hour of one-a-minute samples, six hours back (inside Prometheus's retention).
    const POINTS: usize = 60;
    let now_s = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let start = (now_s - 6 * 3600) / 3600 * 3600;
    let baseline = minute_values(100.0, POINTS);
    let canary = minute_values(103.0, POINTS);
    let mut om = String::from("# TYPE checkout_latency_ms gauge\n");
    for (side, values) in [("baseline", &baseline), ("canary", &canary)] {
        for (i, v) in values.iter().enumerate() {
            om.push_str(&format!(
                "checkout_latency_ms{{side=\"{side}\"}} {v} {}\n",
                start + 60 * i as i64
            ));
        }
    }
    om.push_str("# EOF\n");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write(&dir.path().join("input.om"), &om);
    let made = Command::new(PROMTOOL)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(dir.path().join("input.om"))
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "promtool: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    write(&dir.path().join("prometheus.yml"), "global: {}\n");
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let _prometheus = Killed(
        Command::new(PROMETHEUS)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    // Bounded, so a Prometheus that never comes up fails the test instead of hanging it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = reqwest::Client::new();
    loop {
        let ready = client
            .get(format!("http://127.0.0.1:{port}/-/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "prometheus did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let config = format!(
        "backends:\n  - name: prom\n    prometheus: {{url: 'http://127.0.0.1:{port}'}}\n    default: true\n"
    );
    let (ctx, _path) = setup_file(&config).await;
    let rules = json!({"name": "latency", "groups": ["perf"], "direction": "increase",
                       "outliers": {"strategy": "remove"}});
    let with = |baseline: Value, canary: Value| {
        let mut m = rules.clone();
        m["baseline"] = baseline;
        m["canary"] = canary;
        m
    };
    let range = json!({"start": start.to_string(), "end": (start + 60 * (POINTS as i64 - 1)).to_string(), "step": "1m"});
    let queried = json!({
        "metrics": [with(
            json!({"query": "checkout_latency_ms{side=\"baseline\"}"}),
            json!({"query": "checkout_latency_ms{side=\"canary\"}", "backend": "prom"}),
        )],
        "range": range,
    });
    let inline = json!({"metrics": [with(json!(baseline), json!(canary))]});
    let from_prometheus = judge(&ctx, &queried).await;
    assert_eq!(
        from_prometheus.status,
        StatusCode::OK,
        "{}",
        from_prometheus.text()
    );
    let given = judge(&ctx, &inline).await;
    assert_eq!(given.status, StatusCode::OK, "{}", given.text());
    assert_eq!(from_prometheus.json(), given.json());
    let j: Judgement = serde_json::from_slice(&from_prometheus.body).unwrap();
    assert_eq!(j.metrics[0].canary.count, POINTS as u64);
    assert_eq!(j.metrics[0].classification, Classification::High);

    // A query of both sides at once is two series; a query matching nothing is no data; one
    // Prometheus refuses names its reason.
    let body = |query: &str| json!({"metrics": [with(json!([1.0, 2.0]), json!({"query": query}))], "range": range});
    let r = judge(&ctx, &body("checkout_latency_ms")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("metric \"latency\": canary query: 2 series came back"),
        "{}",
        r.text()
    );
    let r = judge(&ctx, &body("checkout_latency_ms{side=\"nowhere\"}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let j: Judgement = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(j.metrics[0].classification, Classification::Nodata);
    assert_eq!(
        j.reason.as_deref(),
        Some("Canary Failed: 50% or more metrics returned NODATA")
    );
    let r = judge(&ctx, &body("sum(rate(checkout_latency_ms[1m]")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let detail = r.json()["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains("backend \"prom\" refused it (HTTP 400, bad_data)"),
        "{detail}"
    );
}
