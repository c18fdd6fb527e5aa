//! One integration-test binary for the crate (it links once).

mod baselines;
mod crash;
mod durability;
mod model;

use headroom_core::{Span, Timestamp};
use headroom_tsdb::{SeriesConfig, SeriesKey, SliceKind, SliceRule};

/// A day boundary, so minutes, hours and slices line up.
pub const T0: Timestamp = Timestamp(1_700_006_400_000);

pub fn at_min(m: i64) -> Timestamp {
    T0 + Span::minutes(m)
}

pub fn key(i: usize) -> SeriesKey {
    if i == 0 {
        SeriesKey::ungrouped("checkout")
    } else {
        SeriesKey::new("api", format!("region=r{i}"))
    }
}

pub fn occurrences() -> SeriesConfig {
    SeriesConfig::occurrences(Span::days(31))
}

pub fn timeslices() -> SeriesConfig {
    SeriesConfig::timeslices(
        Span::days(8),
        SliceRule {
            width: Span::minutes(5),
            kind: SliceKind::Threshold(0.9),
        },
    )
}
