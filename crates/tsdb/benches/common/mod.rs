//! Shared set-up for the benchmarks: many 30-day series, filled through the public API.

#![allow(dead_code)]

use std::time::Instant;

use headroom_core::{Span, Timestamp};
use headroom_tsdb::{Sample, SeriesConfig, SeriesKey, Tsdb};

/// A day boundary.
pub const T0: Timestamp = Timestamp(1_700_006_400_000);

/// "Now" in the benchmarks: 31 days after `T0`.
pub fn now() -> Timestamp {
    T0 + Span::days(31)
}

/// A 30-day SLO: its retention is the window plus a day, as `Slo::retention` says.
pub fn thirty_day() -> SeriesConfig {
    SeriesConfig::occurrences(Span::days(31))
}

/// `n` keys, ten groups per SLO.
pub fn keys(n: usize) -> Vec<SeriesKey> {
    (0..n)
        .map(|i| SeriesKey::new(format!("slo-{}", i / 10), format!("region=r{}", i % 10)))
        .collect()
}

/// One sample per key at `at`, with a little variety in the counts.
pub fn batch(keys: &[SeriesKey], at: Timestamp) -> Vec<Sample> {
    keys.iter()
        .enumerate()
        .map(|(i, k)| Sample {
            key: k.clone(),
            at,
            good: 95.0 + ((i as i64 + at.millis() / 60_000) % 6) as f64,
            total: 100.0,
        })
        .collect()
}

/// Configures `keys` and fills each with 30 days of data through `append`, one batch (one
/// sample per series) per step: hourly up to 26 hours before `now`, then every minute.
/// Query and load costs do not depend on how densely the buckets are filled: every ring is
/// allocated whole.
pub fn fill(db: &Tsdb, keys: &[SeriesKey]) {
    let started = Instant::now();
    for k in keys {
        db.configure(k.clone(), thirty_day()).unwrap();
    }
    let minute_level_from = now() - Span::hours(26);
    let mut at = now() - Span::days(30);
    let mut batches = 0;
    while at < now() {
        db.append(&batch(keys, at), None, at).unwrap();
        batches += 1;
        at = at
            + if at < minute_level_from {
                Span::HOUR
            } else {
                Span::MINUTE
            };
    }
    eprintln!(
        "filled {} series with {batches} batches in {:.1?}",
        keys.len(),
        started.elapsed()
    );
}
