//! Signals in, besides the events API: Prometheus remote_write and scraped samples (routed to the
//! SLOs whose PromQL selectors match them), probe results and heartbeats, and external
//! Prometheus-compatible backends. Each becomes SLI events for the engine.
//!
//! Invariants:
//! - increments taken from the router are delivered exactly once: a batch the SLI store refuses
//!   to write (disk trouble) is kept and delivered before anything newer, and the request that
//!   carried it gets a 5xx so Prometheus retries (its retried samples are then recognised as
//!   already seen and add nothing);
//! - an event outside what an SLO's series accepts (older than its window, or from the future) is
//!   dropped and counted, never allowed to refuse the rest of the batch.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use headroom_core::{Sli, Slo, SloId, Span, Timestamp};
use headroom_engine::{Engine, IngestError};
use headroom_ingest::Event;
use headroom_metrics::route::{RoutedSlo, Router};
use headroom_probe::fleet::HeartbeatBoard;
use headroom_probe::spec::{ProbeKind, ProbeResult, ProbeSpec};
use headroom_spec::Config;

use crate::changed::ChangedSlos;

/// Results kept per probe for `GET /api/v1/probes/{name}/results`.
pub const PROBE_HISTORY: usize = 200;

/// Counters for /metrics.
#[derive(Debug, Default)]
pub struct SignalHealth {
    pub remote_write_requests: AtomicU64,
    pub remote_write_rejected: AtomicU64,
    pub samples_received: AtomicU64,
    pub events_out_of_range: AtomicU64,
    pub probe_runs: AtomicU64,
    pub scrapes: AtomicU64,
    pub backend_queries_failed: AtomicU64,
}

/// One probe as the API shows it: its definition and its recent results, newest last.
pub struct ProbeRecord {
    pub spec: ProbeSpec,
    pub results: VecDeque<ProbeResult>,
    /// Whether its failure alert is raised.
    pub failing: bool,
}

/// A change a probe result makes to the probe's failure alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeAlert {
    /// Raise it, saying why the last run failed.
    Fire(String),
    Resolve,
}

/// Consecutive failed runs that raise a probe's alert, and successful runs that resolve it
/// (Gatus's defaults). A heartbeat's single missed interval raises it and one ping resolves it.
const FAILURE_THRESHOLD: usize = 3;
const SUCCESS_THRESHOLD: usize = 2;

pub struct Signals {
    router: Mutex<Router>,
    /// Increments the SLI store could not take yet, per SLO, oldest first.
    undelivered: Mutex<Vec<(SloId, Vec<Event>)>>,
    pub probes: Mutex<BTreeMap<String, ProbeRecord>>,
    pub heartbeats: Arc<HeartbeatBoard>,
    pub health: SignalHealth,
}

/// The SLOs whose PromQL queries run natively on samples (no backend answers them).
pub fn routed_slos(slos: &[Slo]) -> Vec<RoutedSlo> {
    slos.iter()
        .filter(|s| s.backend.is_none())
        .filter_map(|s| {
            let plan = headroom_metrics::query::plan(&s.sli, &s.grouping).ok()??;
            Some(RoutedSlo {
                slo: s.id.clone(),
                grouping: s.grouping.clone(),
                plan,
            })
        })
        .collect()
}

impl Signals {
    pub fn new(config: &Config) -> Signals {
        let signals = Signals {
            router: Mutex::new(Router::new(routed_slos(&config.slos), Default::default())),
            undelivered: Mutex::new(Vec::new()),
            probes: Mutex::new(BTreeMap::new()),
            heartbeats: Arc::new(HeartbeatBoard::new()),
            health: SignalHealth::default(),
        };
        signals.set_probes(&config.probes);
        signals
    }

    /// A config reload: new plans (counter state of series that still match is kept) and the
    /// new probe list (history of probes that remain is kept).
    pub fn replace(&self, config: &Config) {
        self.router
            .lock()
            .expect("router lock")
            .replace(routed_slos(&config.slos));
        self.set_probes(&config.probes);
    }

    fn set_probes(&self, specs: &[ProbeSpec]) {
        let mut book = self.probes.lock().expect("probe lock");
        let mut old = std::mem::take(&mut *book);
        for spec in specs {
            let (results, failing) = old
                .remove(&spec.name)
                .map(|r| (r.results, r.failing))
                .unwrap_or_default();
            book.insert(
                spec.name.clone(),
                ProbeRecord {
                    spec: spec.clone(),
                    results,
                    failing,
                },
            );
        }
    }

    /// Routes Prometheus series (remote-written or scraped) and takes the increments.
    pub fn route<'a>(
        &self,
        series: impl IntoIterator<Item = (&'a [(String, String)], &'a [(Timestamp, f64)])>,
        now: Timestamp,
    ) -> Vec<(SloId, Vec<Event>)> {
        let mut router = self.router.lock().expect("router lock");
        let mut n = 0u64;
        for (labels, samples) in series {
            n += samples.len() as u64;
            router.observe(labels, samples);
        }
        self.health.samples_received.fetch_add(n, Ordering::Relaxed);
        router.drain(now)
    }

    pub fn router_stats(&self) -> headroom_metrics::route::RouterStats {
        self.router.lock().expect("router lock").stats()
    }

    /// Keeps a probe's result in its history; returns the change it makes to the probe's
    /// failure alert. A healthy streak reaching the threshold always says `Resolve` (a no-op
    /// when nothing fires), so an alert raised before a restart is resolved after it.
    pub fn record_probe(&self, name: &str, result: ProbeResult) -> Option<ProbeAlert> {
        self.health.probe_runs.fetch_add(1, Ordering::Relaxed);
        let mut book = self.probes.lock().expect("probe lock");
        let r = book.get_mut(name)?;
        if r.results.len() == PROBE_HISTORY {
            r.results.pop_front();
        }
        r.results.push_back(result);
        let (fail_at, ok_at) = match r.spec.kind {
            ProbeKind::Heartbeat => (1, 1),
            _ => (FAILURE_THRESHOLD, SUCCESS_THRESHOLD),
        };
        let streak = |ok: bool| {
            r.results
                .iter()
                .rev()
                .take_while(|x| x.success == ok)
                .count()
        };
        if !r.failing && streak(false) >= fail_at {
            r.failing = true;
            let last = r.results.back()?;
            let why = last.error.clone().unwrap_or_else(|| {
                let failed: Vec<&str> = last
                    .conditions
                    .iter()
                    .filter(|c| !c.success)
                    .map(|c| c.detail.as_str())
                    .collect();
                failed.join("; ")
            });
            return Some(ProbeAlert::Fire(why));
        }
        if streak(true) == ok_at {
            r.failing = false;
            return Some(ProbeAlert::Resolve);
        }
        None
    }

    /// Writes routed increments into the engine: first whatever an earlier call could not deliver,
    /// then these. Events an SLO's series cannot hold are dropped and counted. On a store failure the
    /// rest is kept for the next call and the error returned. Blocking: call off the async workers.
    pub fn deliver(
        &self,
        engine: &Engine,
        changed: &ChangedSlos,
        batches: Vec<(SloId, Vec<Event>)>,
        now: Timestamp,
    ) -> Result<usize, Undeliverable> {
        let mut queue = std::mem::take(&mut *self.undelivered.lock().expect("undelivered lock"));
        queue.extend(batches.into_iter().filter(|(_, e)| !e.is_empty()));
        let mut delivered = 0;
        let mut pending = queue.into_iter();
        while let Some((slo_id, events)) = pending.next() {
            let Some(slo) = engine.slo(&slo_id) else {
                continue; // removed by a reload: its increments have nowhere to go
            };
            let (kept, dropped) = in_range(&slo, events, now);
            self.health
                .events_out_of_range
                .fetch_add(dropped, Ordering::Relaxed);
            if kept.is_empty() {
                continue;
            }
            match engine.ingest_increments(&slo_id, &kept, now) {
                Ok(_) => {
                    delivered += kept.len();
                    changed.mark(&slo_id);
                }
                Err(
                    e @ IngestError::Store(
                        headroom_tsdb::TsdbError::Io { .. }
                        | headroom_tsdb::TsdbError::Failed { .. },
                    ),
                ) => {
                    let mut keep = self.undelivered.lock().expect("undelivered lock");
                    keep.push((slo_id, kept));
                    keep.extend(pending);
                    return Err(Undeliverable(e));
                }
                Err(e) => {
                    // Not a disk problem: the events themselves are unacceptable (a new group over the
                    // limit, say). Retrying cannot help; count them as dropped.
                    tracing::warn!(slo = %slo_id, error = %e, "routed events refused");
                    self.health
                        .events_out_of_range
                        .fetch_add(kept.len() as u64, Ordering::Relaxed);
                }
            }
        }
        Ok(delivered)
    }
}

/// The SLI events one probe result makes: one per SLO that names the probe. Good when the run
/// succeeded and, for a latency SLO, finished within its threshold.
pub fn probe_events(slos: &[Arc<Slo>], probe: &str, r: &ProbeResult) -> Vec<(SloId, Event)> {
    slos.iter()
        .filter_map(|s| match &s.sli {
            Sli::Probe { probe: p, latency } if p == probe => {
                let fast = latency.is_none_or(|l| r.duration.as_millis() as i64 <= l.millis());
                let good = r.success && fast;
                Some((
                    s.id.clone(),
                    Event {
                        at: Timestamp(r.started_ms),
                        good: f64::from(u8::from(good)),
                        total: 1.0,
                        labels: BTreeMap::new(),
                    },
                ))
            }
            _ => None,
        })
        .collect()
}

/// Why delivery stopped: the SLI store could not write (retry later).
#[derive(Debug, thiserror::Error)]
#[error("SLI store: {0}")]
pub struct Undeliverable(pub IngestError);

/// Splits events into those an SLO's series accepts and a count of the rest.
fn in_range(slo: &Slo, events: Vec<Event>, now: Timestamp) -> (Vec<Event>, u64) {
    let oldest = now - slo.window.max_length();
    let newest = now + Span::minutes(5);
    let n = events.len();
    let kept: Vec<Event> = events
        .into_iter()
        .filter(|e| e.at >= oldest && e.at <= newest)
        .collect();
    let dropped = (n - kept.len()) as u64;
    (kept, dropped)
}
