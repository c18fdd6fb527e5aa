//! OpenSLO's own example files served as they are: samples for the series their queries select
//! go through the real remote_write endpoint, and each SLO's good and total events are the ones
//! counted here by hand. `counter: true` counts increases (a first sample is a baseline, a drop
//! a reset counting the new value whole); no `counter` counts every sample's value as its own
//! interval's events; a `thresholdMetric` counts every value as an event, good when it meets the
//! objective. A retried request counts once, a staleness marker not at all.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use axum::http::{Method, StatusCode};
use headroom_core::Timestamp;
use headroom_ingest::remote_write::{STALE_NAN_BITS, Series, encode, to_proto};
use headroom_service::ConfigSource;

use crate::common::*;

const OPENSLO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/openslo"
);

/// A server running one fixture file, its clock two minutes after `T0` so every sample below
/// (within `T0`'s minute) is in the past.
async fn serve(rel: &str) -> Ctx {
    let ctx = setup(ConfigSource::Paths(vec![PathBuf::from(OPENSLO).join(rel)])).await;
    ctx.clock.store(T0 + 120_000, Ordering::SeqCst);
    ctx
}

/// One series; `labels` without the metric name, samples as (seconds after `T0`, value).
fn series(metric: &str, labels: &[(&str, &str)], samples: &[(i64, f64)]) -> Series {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .chain([("__name__".to_string(), metric.to_string())])
        .collect();
    labels.sort();
    Series {
        labels,
        samples: samples
            .iter()
            .map(|&(s, v)| (Timestamp(T0 + s * 1000), v))
            .collect(),
    }
}

/// Sends one remote_write request with the ingest token, as Prometheus does.
async fn remote_write(ctx: &Ctx, series: &[Series]) {
    let r = send(
        &ctx.app,
        Method::POST,
        "/api/v1/write",
        Some(&ctx.ingest),
        &[
            ("content-encoding", "snappy"),
            ("content-type", "application/x-protobuf"),
            ("x-prometheus-remote-write-version", "0.1.0"),
        ],
        encode(&to_proto(series)),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
}

#[tokio::test]
async fn v1_slos_counter_true_counts_increases_across_a_reset() {
    let ctx = serve("v1/slos.yaml").await;
    let web = |code: &str, samples: &[(i64, f64)]| {
        series(
            "http_requests",
            &[
                ("k8s_cluster", "prod"),
                ("component", "web"),
                ("code", code),
            ],
            samples,
        )
    };
    let first = [
        web("2xx", &[(0, 100.0), (15, 130.0)]),
        web("4xx", &[(0, 10.0), (15, 12.0)]),
        web("5xx", &[(0, 7.0), (15, 9.0)]),
        // Selected by neither query: another component, another cluster.
        series(
            "http_requests",
            &[
                ("k8s_cluster", "prod"),
                ("component", "api"),
                ("code", "2xx"),
            ],
            &[(0, 0.0), (15, 500.0)],
        ),
        series(
            "http_requests",
            &[
                ("k8s_cluster", "dev"),
                ("component", "web"),
                ("code", "5xx"),
            ],
            &[(0, 0.0), (15, 40.0)],
        ),
    ];
    remote_write(&ctx, &first).await;
    // First samples are baselines: good +30 (2xx) +2 (4xx), total those and +2 (5xx).
    assert_eq!(totals(&slo(&ctx, "web-availability").await), (32.0, 34.0));
    // Prometheus retries a request it got no answer for: nothing counts twice.
    remote_write(&ctx, &first).await;
    assert_eq!(totals(&slo(&ctx, "web-availability").await), (32.0, 34.0));
    remote_write(
        &ctx,
        &[
            // The process restarted: 130 → 5 is a reset, and the 5 counts whole; then +15.
            web("2xx", &[(30, 5.0), (45, 20.0)]),
            web("4xx", &[(30, 12.0), (45, 15.0)]),
            web("5xx", &[(30, 11.0), (45, 11.0)]),
        ],
    )
    .await;
    // Good: 2xx 30 + 5 + 15 = 50, 4xx 2 + 0 + 3 = 5. Bad: 5xx 2 + 2 + 0 = 4.
    let v = slo(&ctx, "web-availability").await;
    assert_eq!(totals(&v), (55.0, 59.0));
    // Budgeted by 1m slices with a slice target of 95%: the one minute's 55/59 (93%) is a bad
    // slice, so the SLI is none of its slices.
    assert_eq!(v["slices"]["with_data"], 1.0, "{v}");
    assert_eq!(v["slices"]["bad"], 1.0, "{v}");
    assert_close(&v["sli"], 0.0);
}

/// The budgeting-method examples' `query: Any` (a metric named `Any`) without `counter`: two
/// series whose every sample is the number of events in its own interval. A counter read of the
/// same samples would count 3 + 2 + 5 + 2 = 12, not 28.
async fn per_interval_counts(ctx: &Ctx, slos: &[&str]) {
    let a = |samples: &[(i64, f64)]| series("Any", &[("instance", "a")], samples);
    let b = |samples: &[(i64, f64)]| series("Any", &[("instance", "b")], samples);
    let first = [a(&[(0, 5.0), (15, 8.0)]), b(&[(0, 2.0)])];
    remote_write(ctx, &first).await;
    for id in slos {
        // The first sample of a series counts whole: it closes an interval like any other.
        assert_eq!(totals(&slo(ctx, id).await), (15.0, 15.0), "{id}");
    }
    remote_write(ctx, &first).await;
    let stale = f64::from_bits(STALE_NAN_BITS);
    remote_write(
        ctx,
        &[a(&[(30, 2.0), (45, 7.0)]), b(&[(30, 4.0), (45, stale)])],
    )
    .await;
    for id in slos {
        // 5 + 8 + 2 + 7 (a drop from 8 to 2 is a quieter interval, not a reset) + 2 + 4; good
        // and total are the same query.
        let v = slo(ctx, id).await;
        assert_eq!(totals(&v), (28.0, 28.0), "{id}");
        assert_close(&v["sli"], 1.0);
    }
}

#[tokio::test]
async fn budgeting_low_traffic_timeslices_counts_each_sample_as_its_interval() {
    let ctx = serve("budgeting-method/low-traffic-timeslices-slo.yaml").await;
    per_interval_counts(&ctx, &["service-availability"]).await;
}

#[tokio::test]
async fn budgeting_ratio_timeslices_counts_each_sample_as_its_interval() {
    let ctx = serve("budgeting-method/ratio-timeslices.yaml").await;
    per_interval_counts(&ctx, &["main-page"]).await;
}

#[tokio::test]
async fn budgeting_timeslices_counts_each_sample_as_its_interval_for_both_objectives() {
    let ctx = serve("budgeting-method/timeslices-slo.yaml").await;
    per_interval_counts(&ctx, &["service-availability", "service-availability-1"]).await;
}

#[tokio::test]
async fn budgeting_occurrences_threshold_metric_counts_values_under_500() {
    let ctx = serve("budgeting-method/occurences-slo.yaml").await;
    let a = |samples: &[(i64, f64)]| series("Any", &[("instance", "a")], samples);
    let b = |samples: &[(i64, f64)]| series("Any", &[("instance", "b")], samples);
    let first = [a(&[(0, 120.0), (15, 499.0)]), b(&[(0, 30.0)])];
    remote_write(&ctx, &first).await;
    assert_eq!(totals(&slo(&ctx, "search-slo").await), (3.0, 3.0));
    remote_write(&ctx, &first).await;
    let stale = f64::from_bits(STALE_NAN_BITS);
    remote_write(
        &ctx,
        &[
            a(&[(30, 500.0), (45, 900.0)]),
            b(&[(30, 800.0), (45, stale)]),
        ],
    )
    .await;
    // `op: lt, value: 500`: 120, 499 and 30 are good; 500, 900 and 800 are not.
    let v = slo(&ctx, "search-slo").await;
    assert_eq!(totals(&v), (3.0, 6.0));
    assert_close(&v["sli"], 0.5);
}
