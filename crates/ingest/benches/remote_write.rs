//! Decoding a realistic remote_write request: 2,000 series × 5 samples, ~10 labels per series.
//!
//! Run: `cargo bench -p headroom-ingest --bench remote_write -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use headroom_ingest::remote_write::{Limits, decode, encode, proto};
use std::hint::black_box;

const SERIES: usize = 2_000;
const SAMPLES: usize = 5;

fn request() -> proto::WriteRequest {
    let methods = ["GET", "POST", "PUT", "DELETE"];
    let codes = ["200", "201", "204", "400", "404", "429", "500", "503"];
    let handlers = [
        "/api/v1/users",
        "/api/v1/orders",
        "/api/v1/cart",
        "/healthz",
        "/login",
    ];
    let timeseries = (0..SERIES)
        .map(|i| {
            let labels = [
                ("__name__", "http_requests_total".to_string()),
                ("cluster", format!("prod-eu-{}", i % 3)),
                ("code", codes[i % codes.len()].to_string()),
                ("handler", handlers[(i / 8) % handlers.len()].to_string()),
                (
                    "instance",
                    format!("10.0.{}.{}:8080", (i / 250) % 256, i % 250),
                ),
                ("job", "checkout-api".to_string()),
                ("method", methods[(i / 40) % methods.len()].to_string()),
                ("namespace", "shop".to_string()),
                (
                    "pod",
                    format!("checkout-api-7d9f8c6b5-{:05x}", i * 7919 % 0xfffff),
                ),
                ("version", format!("v1.{}.0", i % 12)),
            ];
            proto::TimeSeries {
                labels: labels
                    .into_iter()
                    .map(|(n, v)| proto::Label::new(n, v))
                    .collect(),
                samples: (0..SAMPLES)
                    .map(|s| proto::Sample {
                        value: (i * 100 + s * 3) as f64,
                        timestamp: 1_760_000_000_000 + (s as i64) * 15_000,
                    })
                    .collect(),
            }
        })
        .collect();
    proto::WriteRequest {
        timeseries,
        metadata: vec![],
    }
}

fn bench(c: &mut Criterion) {
    let body = encode(&request());
    let limits = Limits::default();
    assert_eq!(decode(&body, &limits).unwrap().len(), SERIES);
    let mut g = c.benchmark_group("remote_write");
    g.throughput(Throughput::Elements((SERIES * SAMPLES) as u64));
    g.bench_function(format!("decode_2000x5_{}B", body.len()), |b| {
        b.iter(|| decode(black_box(&body), &limits).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
