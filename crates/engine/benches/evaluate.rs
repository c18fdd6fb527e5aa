//! Evaluation cost: one full `Engine::evaluate` over 10,000 SLOs with 30 days of history each,
//! and a 30-day per-minute backtest of 100 SLOs.
//!
//! Run: `cargo bench -p headroom-engine --bench evaluate -- --warm-up-time 1 --measurement-time 3`
//!
//! Filling: 10,000 series × 43,200 minutes is 432M samples, too slow to set up. The SLI store keeps
//! minutes for 26 h and hours beyond (see headroom-tsdb), so a window older than 26 h is answered
//! from hourly buckets whatever the samples looked like. Each series therefore gets one sample per
//! hour (carrying that hour's 60 minutes) for its first 29 days − 2 h and one per minute for the
//! last 26 h: the store ends up in exactly the state per-minute data would leave it in, and every
//! query `evaluate` makes costs what it would.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use headroom_core::{
    AlertPolicy, BudgetingMethod, Objective, Sli, Slo, SourceRef, Span, Timestamp, Window,
};
use headroom_engine::{Engine, backtest};
use headroom_ingest::{Event, RecordedEvent};
use headroom_tsdb::{Sample, SeriesKey, Tsdb};

const MIN: i64 = 60_000;
/// 2026-01-05 00:00 UTC.
const T0: i64 = 1_767_571_200_000;

fn slo(id: String) -> Slo {
    let period = Span::days(30);
    Slo {
        id: id.clone().into(),
        service: "bench".to_string(),
        name: id,
        description: None,
        objective: Objective::new(0.999).unwrap(),
        window: Window::Rolling { length: period },
        budgeting: BudgetingMethod::Occurrences,
        sli: Sli::Events,
        grouping: Vec::new(),
        alerting: AlertPolicy::sloth_default(period),
        labels: BTreeMap::new(),
        backend: None,
        source: SourceRef::default(),
    }
}

/// Bad events in minute `m` of SLO `i`: a sprinkle, so no ratio is trivially 0.
fn bad(i: usize, m: i64) -> f64 {
    if (m + i as i64) % 97 == 0 { 3.0 } else { 0.0 }
}

/// An engine over an in-memory store with `n` SLOs, 30 days of data each; returns it with `now`.
fn filled_engine(n: usize) -> (Engine, Timestamp) {
    let slos: Vec<Slo> = (0..n).map(|i| slo(format!("slo-{i:05}"))).collect();
    let engine = Engine::new(Tsdb::in_memory(), slos).unwrap();
    let total_minutes = 30 * 1440;
    let now = Timestamp(T0 + total_minutes * MIN);
    let minute_from = total_minutes - 26 * 60;
    let started = Instant::now();
    let mut batch = Vec::with_capacity(2400);
    for i in 0..n {
        let key = SeriesKey::ungrouped(format!("slo-{i:05}"));
        batch.clear();
        for h in 0..minute_from / 60 {
            let bad: f64 = (h * 60..h * 60 + 60).map(|m| bad(i, m)).sum();
            batch.push(Sample {
                key: key.clone(),
                at: Timestamp(T0 + h * 60 * MIN),
                good: 60_000.0 - bad,
                total: 60_000.0,
            });
        }
        for m in minute_from..total_minutes {
            batch.push(Sample {
                key: key.clone(),
                at: Timestamp(T0 + m * MIN),
                good: 1000.0 - bad(i, m),
                total: 1000.0,
            });
        }
        engine.tsdb().append(&batch, None, now).unwrap();
    }
    engine.tsdb().advance(now).unwrap();
    eprintln!(
        "filled {n} series ({} samples each) in {:.1?}",
        batch.len(),
        started.elapsed()
    );
    (engine, now)
}

fn evaluate(c: &mut Criterion) {
    // A set small enough to stay in cache: the arithmetic alone, for comparison.
    let (small, now) = filled_engine(100);
    small.evaluate(None, now);
    c.bench_function("evaluate/100_slos_in_cache", |b| {
        b.iter(|| black_box(small.evaluate(None, black_box(now))))
    });
    drop(small);
    let (engine, now) = filled_engine(10_000);
    // First evaluation creates every alert state; the benchmark measures the steady state.
    engine.evaluate(None, now);
    let mut g = c.benchmark_group("evaluate");
    g.sample_size(20);
    g.bench_function("10k_slos_30d", |b| {
        b.iter(|| black_box(engine.evaluate(None, black_box(now))))
    });
    g.finish();
}

/// 30 days of per-minute events for 100 SLOs (4.32M events).
fn recording(n: usize) -> (Vec<Slo>, Vec<RecordedEvent>) {
    let slos: Vec<Slo> = (0..n).map(|i| slo(format!("slo-{i:03}"))).collect();
    let mut events = Vec::with_capacity(n * 30 * 1440);
    for m in 0..30 * 1440 {
        for (i, s) in slos.iter().enumerate() {
            events.push(RecordedEvent {
                slo: s.id.to_string(),
                event: Event {
                    at: Timestamp(T0 + m * MIN),
                    good: 1000.0 - bad(i, m),
                    total: 1000.0,
                    labels: BTreeMap::new(),
                },
            });
        }
    }
    (slos, events)
}

fn backtest_30d(c: &mut Criterion) {
    let (slos, events) = recording(100);
    let mut g = c.benchmark_group("backtest");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(1));
    g.bench_function("100_slos_30d_per_minute", |b| {
        b.iter_batched(
            || (slos.clone(), events.clone()),
            |(s, e)| black_box(backtest::run(s, e).unwrap()),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, evaluate, backtest_30d);
criterion_main!(benches);
