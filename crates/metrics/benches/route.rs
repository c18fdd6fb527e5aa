//! Per remote_write request of 2,000 series × 5 samples: decode + `Router::observe` of every
//! series + `drain`, with timestamps advancing so no sample is dropped as a retry.

#[path = "support/workload.rs"]
mod workload;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use headroom_core::Timestamp;
use headroom_ingest::remote_write::{Limits as WireLimits, decode, encode, to_proto};
use headroom_metrics::{Limits, Router};

fn route(c: &mut Criterion) {
    let labels = workload::label_sets();
    let start = Timestamp(1_700_000_000_000);
    let mut router = Router::new(workload::slos(), Limits::default());
    // How many series the SLOs select, as a check that the workload is what it says.
    let first = workload::request(&labels, start, 0);
    for s in &first {
        router.observe(&s.labels, &s.samples);
    }
    router.drain(start);
    let matched = router.stats().series_tracked;
    eprintln!(
        "workload: {} series, {matched} ({:.1}%) matched by 10 SLOs",
        labels.len(),
        100.0 * matched as f64 / labels.len() as f64
    );
    assert!((60..=160).contains(&matched), "about 5% should match");

    let wire = WireLimits::default();
    let mut n = 1;
    let mut group = c.benchmark_group("remote_write");
    group.throughput(Throughput::Elements(
        (workload::SERIES * workload::SAMPLES_PER_SERIES) as u64,
    ));
    group.bench_function("decode+observe+drain", |b| {
        b.iter_batched(
            || {
                n += 1;
                let body = encode(&to_proto(&workload::request(&labels, start, n)));
                let now = Timestamp(start.0 + (n as i64 + 1) * 5 * workload::STEP_MS);
                (body, now)
            },
            |(body, now)| {
                let series = decode(&body, &wire).expect("valid body");
                for s in &series {
                    router.observe(&s.labels, &s.samples);
                }
                router.drain(now).increments
            },
            BatchSize::SmallInput,
        )
    });
    // The router's share alone, on series decoded beforehand.
    group.bench_function("observe+drain", |b| {
        b.iter_batched(
            || {
                n += 1;
                let now = Timestamp(start.0 + (n as i64 + 1) * 5 * workload::STEP_MS);
                (workload::request(&labels, start, n), now)
            },
            |(series, now)| {
                for s in &series {
                    router.observe(&s.labels, &s.samples);
                }
                router.drain(now).increments
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
    let s = router.stats();
    assert_eq!(s.samples_out_of_order, 0, "timestamps advance: no retries");
}

criterion_group!(benches, route);
criterion_main!(benches);
