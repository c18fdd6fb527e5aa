//! Per-series state for `increase()` semantics, as Prometheus computes it over a range.
//!
//! - A sample at or before the last one's timestamp is ignored: a retried or out-of-order
//!   sample never counts twice.
//! - NaN (including the staleness marker) is not a sample: range selectors skip it, so the
//!   state is kept and an increase across the gap counts the difference.
//! - A value below the last one is a counter reset: the increase is the new value.
//! - The first sample of a counter is its baseline and adds nothing; a gauge sample always
//!   adds its value (`sum_over_time`), 1 (`count_over_time`), or 1 when it meets a threshold
//!   metric's bound.

use headroom_core::{Span, Timestamp};

use crate::query::Reading;

/// Bounds on what the router remembers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// A series without a sample for longer than this (by sample time, against `now` of a
    /// drain) is forgotten, and so is its stored baseline; if it comes back, its next sample is
    /// a new baseline.
    pub forget_after: Span,
    /// At most this many series are tracked; samples of new series beyond it are refused.
    pub max_series: usize,
    /// At most this many groups per grouped SLO (the engine refuses more); samples that would
    /// open a new group beyond it are dropped.
    pub max_groups: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            forget_after: Span::HOUR,
            max_series: 1_000_000,
            max_groups: 1_000,
        }
    }
}

/// What one sample did to a series' state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// The amount this sample adds (0 for a counter that did not move).
    Counted(f64),
    /// The first sample of a counter: remembered, adds nothing.
    Baseline,
    /// NaN or a staleness marker: skipped, state unchanged.
    NotASample,
    /// At or before the last sample's timestamp: ignored.
    Retry,
}

/// The last sample of one series, for one reading.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SeriesState {
    last: Option<(Timestamp, f64)>,
}

impl SeriesState {
    /// A series resuming from a stored baseline: the next sample counts from it, exactly as if
    /// the series had been tracked all along.
    pub fn resumed(at: Timestamp, value: f64) -> Self {
        SeriesState {
            last: Some((at, value)),
        }
    }

    /// The last accepted sample.
    pub fn last(&self) -> Option<(Timestamp, f64)> {
        self.last
    }

    /// Applies one sample. Any NaN is skipped: a staleness marker (`is_stale_nan`) is one NaN,
    /// and no other NaN is a countable value either.
    pub fn step(&mut self, reading: Reading, at: Timestamp, value: f64) -> Step {
        match self.advance(at, value) {
            Advance::NotASample => Step::NotASample,
            Advance::Retry => Step::Retry,
            Advance::Accepted { previous } => match reading.amount(previous, value) {
                Some(a) => Step::Counted(a),
                None => Step::Baseline,
            },
        }
    }

    /// Moves the state to an accepted sample; what it adds depends on the reading
    /// ([`Reading::amount`]), so one state serves every reading of a series.
    pub fn advance(&mut self, at: Timestamp, value: f64) -> Advance {
        if value.is_nan() {
            return Advance::NotASample;
        }
        let previous = self.last;
        if let Some((t, _)) = previous
            && at <= t
        {
            return Advance::Retry;
        }
        self.last = Some((at, value));
        Advance::Accepted {
            previous: previous.map(|(_, v)| v),
        }
    }
}

/// What one sample did to a series' state, before any reading is applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Advance {
    NotASample,
    Retry,
    /// Accepted; `previous` is the value of the last accepted sample, if any.
    Accepted {
        previous: Option<f64>,
    },
}

impl Reading {
    /// What an accepted sample adds, given the previous accepted value; `None` for a counter's
    /// baseline.
    #[inline]
    pub fn amount(self, previous: Option<f64>, value: f64) -> Option<f64> {
        match self {
            Reading::SampleSum => Some(value),
            Reading::SampleCount => Some(1.0),
            Reading::SampleMeets(bound) => Some(if bound.met_by(value) { 1.0 } else { 0.0 }),
            Reading::Increase => match previous {
                None => None,
                // A drop is a counter reset: the counter restarted from 0 and is now at `value`.
                Some(p) if value < p => Some(value),
                Some(p) => Some(value - p),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use headroom_ingest::remote_write::STALE_NAN_BITS;

    fn run(reading: Reading, samples: &[(i64, f64)]) -> Vec<Step> {
        let mut s = SeriesState::default();
        samples
            .iter()
            .map(|&(t, v)| s.step(reading, Timestamp(t), v))
            .collect()
    }

    #[test]
    fn counter_increase_reset_retry_and_stale() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let steps = run(
            Reading::Increase,
            &[
                (1, 10.0),
                (2, 15.0),
                (2, 15.0),
                (1, 99.0),
                (3, stale),
                (4, 3.0),
                (5, 3.0),
            ],
        );
        assert_eq!(
            steps,
            [
                Step::Baseline,
                Step::Counted(5.0),
                Step::Retry,
                Step::Retry,
                Step::NotASample,
                Step::Counted(3.0),
                Step::Counted(0.0),
            ]
        );
    }

    #[test]
    fn threshold_readings_count_the_samples_meeting_the_bound() {
        use headroom_core::{Bound, Comparison};
        let lt = Reading::SampleMeets(Bound::new(Comparison::Lt, 500.0).unwrap());
        let gte = Reading::SampleMeets(Bound::new(Comparison::Gte, 500.0).unwrap());
        let samples = [(1, 120.0), (2, 500.0), (3, f64::NAN), (4, 499.9), (4, 1.0)];
        assert_eq!(
            run(lt, &samples),
            [
                Step::Counted(1.0),
                Step::Counted(0.0),
                Step::NotASample,
                Step::Counted(1.0),
                Step::Retry
            ]
        );
        assert_eq!(
            run(gte, &samples[..2]),
            [Step::Counted(0.0), Step::Counted(1.0)]
        );
    }

    #[test]
    fn gauge_readings_count_every_sample() {
        assert_eq!(
            run(Reading::SampleSum, &[(1, 0.5), (2, 0.25), (2, 7.0)]),
            [Step::Counted(0.5), Step::Counted(0.25), Step::Retry]
        );
        assert_eq!(
            run(Reading::SampleCount, &[(1, 0.5), (2, f64::NAN), (3, 9.0)]),
            [Step::Counted(1.0), Step::NotASample, Step::Counted(1.0)]
        );
    }
}
