//! A release gate's decision for a service with 1,000 SLOs, each with a day of data and its
//! alert state evaluated: `judge` (the service's SLO groups read from the engine and judged:
//! the decision's server time without the store), `decide` (plus the override read and the
//! stored decision, SQLite in a temp file) and the whole `GET /api/v1/gates/{service}` through
//! the router.
//!
//! ```sh
//! cargo bench -p headroom-server --bench gate -- --warm-up-time 2 --measurement-time 5
//! ```

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use headroom_server::app;
use headroom_service::{ConfigSource, build_state, evaluate, system_clock};
use headroom_store::{Scope, Store, TokenStore};
use headroom_tsdb::Tsdb;
use serde_json::json;
use tower::ServiceExt;

const SLOS: usize = 1_000;

fn config() -> String {
    let mut c = String::from(
        "services:\n  - name: checkout\n    release_policy: {min_budget_remaining: 10%, max_burn_rate_1h: 14.4, exempt_labels: [hotfix]}\nslos:\n",
    );
    for i in 0..SLOS {
        writeln!(
            c,
            "  - {{name: checkout-{i:04}, service: checkout, objective: 99.9, sli: {{events: {{}}}}}}"
        )
        .unwrap();
    }
    c
}

fn gate(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("headroom.yaml");
    std::fs::write(&path, config()).unwrap();
    let (state, token) = rt.block_on(async {
        let db = format!("sqlite://{}", dir.path().join("headroom.db").display());
        let store = Store::open(&db).await.unwrap();
        let clock = system_clock();
        let (_, token) = store
            .create_token("bench", Scope::Read, clock())
            .await
            .unwrap();
        let state = build_state(
            ConfigSource::Paths(vec![path.clone()]),
            Tsdb::in_memory(),
            store,
            clock,
        )
        .await
        .unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        // A day of traffic per SLO, one batch each: every 10 minutes, a bad event in a third of
        // them (a third of the budget spent, so the gate allows).
        for i in 0..SLOS {
            let events: Vec<_> = (0..144)
                .map(|k| json!({"timestamp": now - k * 600, "good": 1000 - i64::from((k + i as i64) % 3 == 0), "total": 1000}))
                .collect();
            let body = json!({ "events": events }).to_string();
            state
                .push_events(&format!("checkout-{i:04}"), body.as_bytes(), false, None)
                .await
                .unwrap();
        }
        evaluate(&state, None).await;
        (state, token)
    });
    let service = state.gates.service_named("checkout").unwrap();
    let labels = vec!["canary".to_string()];
    let now = state.now();
    let verdict = state
        .gates
        .judge(&service, "production", &labels, &[], &[], now);
    assert_eq!(verdict.verdict, headroom_delivery::Verdict::Allow);

    let mut group = c.benchmark_group("gate");
    group.bench_function(format!("judge_{SLOS}_slos"), |b| {
        b.iter(|| {
            state
                .gates
                .judge(&service, "production", &labels, &[], &[], state.now())
        })
    });
    group.bench_function(format!("decide_and_store_{SLOS}_slos"), |b| {
        b.iter(|| {
            rt.block_on(
                state
                    .gates
                    .decide("checkout", None, labels.clone(), &[], "bench"),
            )
            .unwrap()
        })
    });
    let router = app(state.clone());
    let auth = format!("Bearer {token}");
    group.bench_function(format!("http_get_{SLOS}_slos"), |b| {
        b.iter(|| {
            let req = Request::get("/api/v1/gates/checkout?label=canary")
                .header("authorization", &auth)
                .body(Body::empty())
                .unwrap();
            let resp = rt.block_on(router.clone().oneshot(req)).unwrap();
            assert!(resp.status().is_success());
        })
    });
    group.finish();
}

criterion_group!(benches, gate);
criterion_main!(benches);
