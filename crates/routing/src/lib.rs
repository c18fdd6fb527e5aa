//! Alert routing with Prometheus Alertmanager 0.25's semantics, as plain types and functions.
//!
//! This crate owns the decisions Alertmanager makes about an alert once it has its labels:
//! which matchers it satisfies ([`matcher`]), which routes take it and with which effective
//! receiver, grouping and timers ([`route`]), which aggregation group it joins and under which
//! key ([`group`]), whether another firing alert inhibits it ([`inhibit`]), whether a time
//! interval holds at an instant ([`interval`]) and whether a silence mutes it ([`silence`]);
//! what a posted alert becomes and how versions of one alert merge in the store ([`alert`]);
//! and when an aggregation group notifies which receiver of which alerts ([`dispatch`]:
//! `group_wait`/`group_interval`/`repeat_interval`, silences, inhibition, time intervals,
//! `send_resolved` and the notification log).
//!
//! Invariants:
//! - Pure: no IO, no async, no clock. Every time-dependent function takes the instant; the
//!   [`dispatch::Dispatcher`] runs on the instants its caller passes, so a simulated clock
//!   replays Alertmanager's timers exactly.
//! - The dispatcher never notifies a receiver twice of the same state of a group within
//!   `repeat_interval`: every notification is recorded in its notification log, which a
//!   caller persists and restores across restarts.
//! - A [`matcher::Matcher`] always holds a compiled, fully anchored (`^(?:…)$`) regex when its
//!   operator is `=~`/`!~`, so matching never fails; a missing label matches as `""`.
//! - Strings that Alertmanager exposes (route keys, group keys, fingerprints, matcher text) are
//!   produced byte for byte as Alertmanager produces them, so they can be compared across the two
//!   (the one known gap: label values with Unicode format or unassigned characters, which Go's
//!   `%q` escapes in group keys; see [`group::go_quote`]).
//! - Parsing is separate from evaluation: a value that parsed is valid by its type.

pub mod alert;
pub mod dispatch;
pub mod group;
pub mod inhibit;
pub mod interval;
pub mod matcher;
pub mod route;
pub mod silence;

use std::collections::BTreeMap;

/// An alert's label set: name → value. Ordered, because every Alertmanager string derived
/// from a label set (fingerprint, group key) walks the names in sorted order.
pub type LabelSet = BTreeMap<String, String>;

/// Builds a [`LabelSet`] from pairs; convenient for callers and tests.
pub fn label_set<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> LabelSet {
    pairs
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// `t + d`, saturating at the end of time: configured durations may be absurdly long.
pub(crate) fn later(
    t: chrono::DateTime<chrono::Utc>,
    d: std::time::Duration,
) -> chrono::DateTime<chrono::Utc> {
    chrono::TimeDelta::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}
