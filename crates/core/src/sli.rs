//! What the SLI store answers: event counts and slice tallies over a stretch of time.

use serde::{Deserialize, Serialize};

use crate::time::{Span, Timestamp};

/// Good and total events.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Counts {
    pub good: f64,
    pub total: f64,
}

impl Counts {
    pub fn bad(&self) -> f64 {
        (self.total - self.good).max(0.0)
    }
    /// good / total, or `None` with no events: no data is not good data.
    pub fn ratio(&self) -> Option<f64> {
        (self.total > 0.0).then(|| self.good / self.total)
    }
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.good += o.good;
        self.total += o.total;
    }
}

impl std::ops::Sub for Counts {
    type Output = Counts;
    fn sub(self, o: Counts) -> Counts {
        Counts {
            good: self.good - o.good,
            total: self.total - o.total,
        }
    }
}

/// Time slices over a stretch of time, for the Timeslices and RatioTimeslices methods.
/// Only slices that saw events count: a slice without data is neither good nor bad.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SliceTally {
    /// Slices that saw at least one event.
    pub slices: f64,
    /// Slices whose SLI met the slice target (Timeslices).
    pub good: f64,
    /// Sum of each slice's good/total ratio (RatioTimeslices).
    pub ratio_sum: f64,
}

impl SliceTally {
    pub fn bad(&self) -> f64 {
        (self.slices - self.good).max(0.0)
    }
}

impl std::ops::AddAssign for SliceTally {
    fn add_assign(&mut self, o: SliceTally) {
        self.slices += o.slices;
        self.good += o.good;
        self.ratio_sum += o.ratio_sum;
    }
}

impl std::ops::Sub for SliceTally {
    type Output = SliceTally;
    fn sub(self, o: SliceTally) -> SliceTally {
        SliceTally {
            slices: self.slices - o.slices,
            good: self.good - o.good,
            ratio_sum: self.ratio_sum - o.ratio_sum,
        }
    }
}

/// Read access to one SLO's (or one group's) SLI history. Implementations answer in O(1) or
/// O(log n) per call, whatever the range.
pub trait SliData {
    /// The finest bucket width kept. Windows are aligned to it: a window ending "now" ends at the
    /// end of the bucket that holds now.
    fn resolution(&self) -> Span;
    /// Events in `[from, to)`. Parts of the range older than the finest level are prorated from
    /// coarser buckets.
    fn counts(&self, from: Timestamp, to: Timestamp) -> Counts;
    /// Slices in `[from, to)` (all zero for an SLO that is not budgeted by timeslices).
    fn slices(&self, from: Timestamp, to: Timestamp) -> SliceTally;
    /// A hint that ranges starting at these instants are about to be asked for. Evaluation is
    /// bound by memory latency, not arithmetic: loading every start at once lets the loads
    /// overlap instead of waiting for each in turn.
    fn prefetch(&self, _starts: &mut dyn Iterator<Item = Timestamp>) {}
}

/// The end of the bucket holding `now`: where every window evaluated at `now` ends.
pub fn window_end(now: Timestamp, resolution: Span) -> Timestamp {
    now.floor(resolution) + resolution
}
