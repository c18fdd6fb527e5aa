//! Native SLI metrics: PromQL SLI queries turned into plans headroom evaluates itself, and
//! Prometheus samples (remote_write or scraped) routed into per-SLO good/total increments.
//!
//! Owns: [`query`] (PromQL → [`NativePlan`], or [`Unsupported`] naming the construct),
//! [`counter`] (per-series `increase()` state), [`route`] ([`Router`]: samples → [`Event`]s),
//! and [`windowed`] (an SLI's queries as PromQL over one window, for the engines that run
//! PromQL themselves: generated rules and backends).
//!
//! Module order: `query`, then `counter` and `windowed` (which use it), then `route`.
//!
//! Pure: no IO, no async, no clock; time is passed in (`drain(now)`).
//!
//! Invariants:
//! - A sample at or before its series' last timestamp never counts (retries count once).
//! - NaN and staleness markers are not samples; a counter drop is a reset (Prometheus's
//!   `increase()`); a counter's first sample is its baseline.
//! - Emitted events are increments, emitted as soon as they are observed: summed, they equal the
//!   good and total `increase()` gives. Good and total come from different series, so a single
//!   event may carry one before the other.
//! - Memory is bounded: series silent for `forget_after` are forgotten, at most `max_series`
//!   are tracked, at most `max_groups` groups per grouped SLO.
//! - Each drain hands out the baseline moves behind its increments (and the series forgotten);
//!   stored together, they let a restarted router ([`Router::restore`]) count each series'
//!   increase across the restart once.
//!
//! [`Event`]: headroom_ingest::Event

pub mod counter;
pub mod query;
pub mod route;
pub mod windowed;

pub use counter::{Limits, SeriesState, Step};
pub use query::{
    CountExpr, LabelMatcher, MatchOp, NativePlan, Reading, Selector, Term, Unsupported, plan,
};
pub use route::{BaselineMove, Drained, RoutedSlo, Router, RouterStats, SeriesId};
