//! (a) The evaluator's read path: 8 window sums for each of 10,000 30-day series.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use headroom_core::{SliData, Span, window_end};
use headroom_tsdb::{Series, Tsdb};

mod common;
use common::{T0, keys, now, thirty_day};

const SERIES: usize = 10_000;
const WINDOWS_MIN: [i64; 8] = [5, 30, 60, 120, 360, 1440, 3 * 1440, 30 * 1440];

fn window_sums(c: &mut Criterion) {
    let end = window_end(now(), Span::MINUTE);
    let windows = WINDOWS_MIN.map(Span::minutes);
    let mut g = c.benchmark_group("window_sums");
    g.sample_size(20);
    g.throughput(Throughput::Elements((SERIES * windows.len()) as u64));

    // Through the store, as the evaluator reads it: lookup, read lock, 8 counts.
    let keys = keys(SERIES);
    let db = Tsdb::in_memory();
    common::fill(&db, &keys);
    g.bench_function("tsdb_10k_series_x_8_windows", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for k in &keys {
                db.with_series(k, |s| {
                    for w in windows {
                        let c = s.counts(end - w, end);
                        acc += c.good + c.total;
                    }
                });
            }
            black_box(acc)
        })
    });
    // The same, visiting every series without a lookup per key.
    g.bench_function("tsdb_for_each_series_x_8_windows", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            db.for_each_series(|_, s| {
                for w in windows {
                    let c = s.counts(end - w, end);
                    acc += c.good + c.total;
                }
            });
            black_box(acc)
        })
    });
    drop(db);

    // Every minute of 30 days written, each series in its own memory; no lookup, no lock.
    let mut dense = Series::new(thirty_day()).unwrap();
    for m in 0..31 * 1440 {
        dense
            .add(T0 + Span::minutes(m), 95.0 + (m % 6) as f64, 100.0)
            .unwrap();
    }
    let all: Vec<Series> = (0..SERIES).map(|_| dense.clone()).collect();
    g.bench_function("dense_series_10k_x_8_windows", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for s in &all {
                for w in windows {
                    let c = s.counts(end - w, end);
                    acc += c.good + c.total;
                }
            }
            black_box(acc)
        })
    });

    // One query with the series hot in cache.
    g.throughput(Throughput::Elements(1));
    for (name, w) in [
        ("one_query_5m", Span::minutes(5)),
        ("one_query_30d", Span::days(30)),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(&dense).counts(black_box(end - w), black_box(end)))
        });
    }
    g.finish();
}

criterion_group!(benches, window_sums);
criterion_main!(benches);
