//! Push-API ingest throughput over a real loopback socket: a durable SLI store (write-ahead log
//! fsync'd before each answer, group commit) in a temp dir, SQLite state in a temp file, the
//! evaluator running, and `CONCURRENCY` clients each POSTing JSON batches of `BATCH` events over
//! keep-alive connections.
//!
//! ```sh
//! CARGO_TARGET_DIR=/tmp/target-srv cargo bench -p headroom-server --bench ingest -- \
//!     --warm-up-time 2 --measurement-time 5
//! ```

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use headroom_server::app;
use headroom_service::{ConfigSource, build_state, evaluate, run_evaluator, system_clock};
use headroom_store::{Scope, Store, TokenStore};
use headroom_tsdb::Tsdb;
use serde_json::json;
use tokio::task::JoinSet;

const BATCH: usize = 1_000;
const CONCURRENCY: usize = 8;
const SLO: &str = "example-checkout-availability";

/// A JSON batch of `BATCH` events spread over the last minute.
fn body() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let events: Vec<_> = (0..BATCH)
        .map(|i| {
            let total = 100 + (i % 50) as u64;
            json!({"timestamp": now - (i % 60) as i64, "good": total - (i % 3) as u64, "total": total})
        })
        .collect();
    json!({ "events": events }).to_string()
}

fn ingest(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (addr, token): (SocketAddr, String) = rt.block_on(async {
        let tsdb = Tsdb::open(&dir.path().join("sli"), Default::default()).unwrap();
        let db = format!("sqlite://{}", dir.path().join("headroom.db").display());
        let store = Store::open(&db).await.unwrap();
        let clock = system_clock();
        let (_, token) = store
            .create_token("bench", Scope::Ingest, clock())
            .await
            .unwrap();
        let state = build_state(ConfigSource::embedded(), tsdb, store, clock)
            .await
            .unwrap();
        evaluate(&state, None).await;
        tokio::spawn(run_evaluator(state.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app(state)).await.unwrap() });
        (addr, token)
    });
    let url = format!("http://{addr}/api/v1/slos/{SLO}/events");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    // Cloning Bytes is a reference-count bump.
    let body = Bytes::from(body());
    let auth = format!("Bearer {token}");

    let mut group = c.benchmark_group("ingest_http");
    group.throughput(Throughput::Elements((BATCH * CONCURRENCY) as u64));
    group.bench_function(format!("json_{BATCH}x{CONCURRENCY}"), |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut set = JoinSet::new();
                for _ in 0..CONCURRENCY {
                    let req = client
                        .post(&url)
                        .header("authorization", &auth)
                        .header("content-type", "application/json")
                        .body(body.clone());
                    set.spawn(async move {
                        let r = req.send().await.unwrap();
                        assert_eq!(r.status(), reqwest::StatusCode::OK);
                        r.bytes().await.unwrap();
                    });
                }
                while let Some(r) = set.join_next().await {
                    r.unwrap();
                }
            })
        })
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
