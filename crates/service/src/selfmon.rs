//! headroom measures its own API: every answered request is an event for the built-in SLOs
//! (good when not a 5xx; fast when under the latency threshold). Requests are tallied in memory
//! and pushed in one batch per flush, so serving a request never waits on the SLI store.

use std::sync::Mutex;

use headroom_core::Timestamp;
use headroom_engine::Engine;
use headroom_ingest::Event;

use crate::changed::ChangedSlos;

/// The SLO fed with "answered without a 5xx".
pub const AVAILABILITY_SLO: &str = "headroom-api-availability";
/// The SLO fed with "answered within `LATENCY_THRESHOLD_MS`".
pub const LATENCY_SLO: &str = "headroom-api-latency";
pub const LATENCY_THRESHOLD_MS: u128 = 250;

#[derive(Debug, Default)]
pub struct RequestTally(Mutex<Counts>);

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    total: u64,
    ok: u64,
    fast: u64,
}

impl RequestTally {
    pub fn record(&self, status: u16, elapsed_ms: u128) {
        let mut c = self.0.lock().expect("tally lock");
        c.total += 1;
        c.ok += u64::from(status < 500);
        c.fast += u64::from(elapsed_ms < LATENCY_THRESHOLD_MS);
    }

    /// Moves the tally into the built-in SLOs (those that are configured) as events at `now`.
    pub fn flush(&self, engine: &Engine, changed: &ChangedSlos, now: Timestamp) {
        let c = std::mem::take(&mut *self.0.lock().expect("tally lock"));
        if c.total == 0 {
            return;
        }
        for (slo, good) in [(AVAILABILITY_SLO, c.ok), (LATENCY_SLO, c.fast)] {
            if engine.slo(slo).is_none() {
                continue;
            }
            let ev = Event {
                at: now,
                good: good as f64,
                total: c.total as f64,
                labels: Default::default(),
            };
            match engine.ingest(slo, &[ev], None, now) {
                Ok(_) => changed.mark(slo),
                Err(e) => {
                    tracing::warn!(slo, error = %e, "could not record headroom's own requests")
                }
            }
        }
    }
}
