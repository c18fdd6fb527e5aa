//! (d) Restart time: 10,000 series x 30 days = snapshot load + replay of the log after it.

use std::fs;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use headroom_core::Span;
use headroom_tsdb::{Tsdb, TsdbOptions};

mod common;
use common::{batch, keys, now};

const SERIES: usize = 10_000;
const TAIL_MINUTES: i64 = 60;

/// Builds the directory once (kept under the target dir; delete it to rebuild): 30 days of
/// data, a checkpoint, then an hour of per-minute batches left in the log to replay.
fn data_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tsdb-reopen-10k-30d-v1");
    let ready = dir.join("READY");
    if ready.exists() {
        return dir;
    }
    let _ = fs::remove_dir_all(&dir);
    let keys = keys(SERIES);
    let db = Tsdb::open(&dir, TsdbOptions::default()).unwrap();
    common::fill(&db, &keys);
    db.checkpoint().unwrap();
    for m in 0..TAIL_MINUTES {
        let at = now() + Span::minutes(m);
        db.append(&batch(&keys, at), None, at).unwrap();
    }
    drop(db);
    fs::write(&ready, b"").unwrap();
    dir
}

fn reopen(c: &mut Criterion) {
    let dir = data_dir();
    for entry in fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        eprintln!(
            "{:>12} bytes  {}",
            entry.metadata().unwrap().len(),
            entry.file_name().to_string_lossy()
        );
    }
    let mut g = c.benchmark_group("reopen");
    g.sample_size(10);
    g.bench_function("10k_series_30d_snapshot_plus_1h_log", |b| {
        b.iter_with_large_drop(|| Tsdb::open(&dir, TsdbOptions::default()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, reopen);
criterion_main!(benches);
