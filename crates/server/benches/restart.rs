//! Restart: from nothing in memory to ready to serve, with 10,000 SLOs × 30 days of SLI data.
//! One iteration does what `headroom serve` does before it listens: read and validate the
//! config, open the state store, open the SLI store (snapshot + log), build the engine (restoring
//! alert states), and evaluate every SLO once.
//!
//! The data directory is built once and kept under the target directory (delete it to rebuild):
//! a 10,000-SLO native config, 30 days of history per SLO (hourly samples for the first 29 days,
//! per-minute for the last 26 hours: the state per-minute data would leave, see the engine's
//! evaluate bench), a snapshot, and 1,000 batches in the log after it.
//!
//! ```sh
//! cargo bench -p headroom-server --bench restart -- --warm-up-time 1 --measurement-time 20
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use headroom_core::Timestamp;
use headroom_engine::Engine;
use headroom_service::{ConfigSource, build_state, evaluate, load_config};
use headroom_store::{Scope, Store, TokenStore};
use headroom_tsdb::{Sample, SeriesKey, Tsdb};

const SLOS: usize = 10_000;
const MIN: i64 = 60_000;
/// 2026-01-05 00:00 UTC: the data starts here; "now" is 30 days later.
const T0: i64 = 1_767_571_200_000;
const NOW: i64 = T0 + 30 * 1440 * MIN;

fn config_text() -> String {
    let mut y = String::from("anonymous_read: true\nservices:\n  - name: bench\nslos:\n");
    for i in 0..SLOS {
        y.push_str(&format!(
            "  - name: slo-{i:05}\n    service: bench\n    objective: 99.9\n    window: 30d\n    sli:\n      events: {{}}\n"
        ));
    }
    y
}

fn build(dir: &Path, rt: &tokio::runtime::Runtime) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("slos.yaml"), config_text()).unwrap();
    let source = ConfigSource::Paths(vec![dir.join("slos.yaml")]);
    let (config, _) = load_config(&source).unwrap();
    let engine = Engine::new(
        Tsdb::open(&dir.join("sli"), Default::default()).unwrap(),
        config.slos,
    )
    .unwrap();
    let minute_from = 30 * 1440 - 26 * 60;
    let now = Timestamp(NOW);
    for i in 0..SLOS {
        let key = SeriesKey::ungrouped(format!("slo-{i:05}"));
        let bad = |m: i64| if (m + i as i64) % 97 == 0 { 3.0 } else { 0.0 };
        let mut batch: Vec<Sample> = (0..minute_from / 60)
            .map(|h| {
                let b: f64 = (h * 60..h * 60 + 60).map(bad).sum();
                Sample {
                    key: key.clone(),
                    at: Timestamp(T0 + h * 60 * MIN),
                    good: 60_000.0 - b,
                    total: 60_000.0,
                }
            })
            .collect();
        batch.extend((minute_from..30 * 1440).map(|m| Sample {
            key: key.clone(),
            at: Timestamp(T0 + m * MIN),
            good: 1000.0 - bad(m),
            total: 1000.0,
        }));
        engine.tsdb().append(&batch, None, now).unwrap();
    }
    engine.tsdb().checkpoint().unwrap();
    // Some traffic after the snapshot, as a crash between checkpoints would leave.
    for i in 0..1000 {
        let key = SeriesKey::ungrouped(format!("slo-{:05}", i * 7 % SLOS));
        let batch = [Sample {
            key,
            at: Timestamp(NOW - MIN),
            good: 10.0,
            total: 10.0,
        }];
        engine.tsdb().append(&batch, None, now).unwrap();
    }
    rt.block_on(async {
        let store = Store::open(&db_url(dir)).await.unwrap();
        store
            .create_token("bench", Scope::Admin, now)
            .await
            .unwrap();
        store.close().await;
    });
}

fn db_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("headroom.db").display())
}

fn restart(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Cargo's scratch directory for benches, inside the build directory wherever that is.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("restart-10k-30d-v1");
    if !dir.join("headroom.db").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let started = std::time::Instant::now();
        build(&dir, &rt);
        eprintln!("built {} in {:.1?}", dir.display(), started.elapsed());
    }
    let mut g = c.benchmark_group("restart");
    g.sample_size(10);
    g.bench_function("10k_slos_30d_to_ready", |b| {
        b.iter(|| {
            rt.block_on(async {
                let source = ConfigSource::Paths(vec![dir.join("slos.yaml")]);
                load_config(&source).unwrap();
                let store = Store::open(&db_url(&dir)).await.unwrap();
                let sli = dir.join("sli");
                let tsdb = tokio::task::spawn_blocking(move || {
                    Tsdb::open(&sli, Default::default()).unwrap()
                })
                .await
                .unwrap();
                let state = build_state(source, tsdb, store, Arc::new(|| Timestamp(NOW)))
                    .await
                    .unwrap();
                evaluate(&state, None).await;
                assert_eq!(state.engine.views().len(), SLOS);
                state.store.close().await;
            })
        })
    });
    g.finish();
}

criterion_group!(benches, restart);
criterion_main!(benches);
