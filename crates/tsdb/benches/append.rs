//! (b) Append throughput, batches of 1,000 samples (one per series), in memory and durable.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use headroom_core::Span;
use headroom_tsdb::{Tsdb, TsdbOptions};

mod common;
use common::{T0, batch, keys, thirty_day};

const BATCH: usize = 1000;

fn append(c: &mut Criterion) {
    let keys = keys(BATCH);
    let mut g = c.benchmark_group("append_1000");
    g.throughput(Throughput::Elements(BATCH as u64));

    let in_memory = Tsdb::in_memory();
    let dir = tempfile::tempdir().unwrap();
    let durable = Tsdb::open(dir.path(), TsdbOptions::default()).unwrap();
    for db in [&in_memory, &durable] {
        for k in &keys {
            db.configure(k.clone(), thirty_day()).unwrap();
        }
    }
    for (name, db) in [("in_memory", &in_memory), ("durable", &durable)] {
        let mut minute = 0;
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    minute += 1;
                    if minute % 2000 == 0 {
                        db.checkpoint().unwrap(); // keep the log short; not timed
                    }
                    let at = T0 + Span::minutes(minute);
                    (batch(&keys, at), at)
                },
                |(samples, at)| db.append(&samples, None, at).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }

    // Four appenders at once: they share fsyncs (group commit).
    let durable = Arc::new(durable);
    let mut minute = 1_000_000;
    g.throughput(Throughput::Elements((BATCH * 4) as u64));
    g.bench_function("durable_4_threads", |b| {
        b.iter_custom(|iters| {
            let batches: Vec<_> = (0..4)
                .map(|_| {
                    minute += 1;
                    let at = T0 + Span::minutes(minute);
                    (batch(&keys, at), at)
                })
                .collect();
            let started = Instant::now();
            let threads: Vec<_> = batches
                .into_iter()
                .map(|(samples, at)| {
                    let db = Arc::clone(&durable);
                    std::thread::spawn(move || {
                        for _ in 0..iters {
                            db.append(&samples, None, at).unwrap();
                        }
                    })
                })
                .collect();
            threads.into_iter().for_each(|t| t.join().unwrap());
            let elapsed: Duration = started.elapsed();
            durable.checkpoint().unwrap();
            elapsed
        })
    });
    g.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
