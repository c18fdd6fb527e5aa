//! Signals in, besides the events API: Prometheus remote_write and scraped samples (routed to the
//! SLOs whose PromQL selectors match them), probe results and heartbeats, and external
//! Prometheus-compatible backends. Each becomes SLI events for the engine.
//!
//! Invariants:
//! - increments taken from the router are delivered exactly once: a batch the SLI store refuses
//!   to write (disk trouble) is kept and delivered before anything newer, and the request that
//!   carried it gets a 5xx so Prometheus retries (its retried samples are then recognised as
//!   already seen and add nothing);
//! - counter baselines are stored with the increments they produced, in one record of the SLI
//!   store, and records are written in the order the router made them (routing and writing
//!   share one lock; only the wait for fsync is outside it). So after a crash the store holds
//!   the baselines of exactly the increments it holds, and the router restored from them
//!   ([`Signals::restore`]) counts each series' increase across the restart once;
//! - a backend follower's last stored step is stored with that step's counts, likewise;
//! - an event outside what an SLO's series accepts (older than its window, or from the future) is
//!   dropped and counted, never allowed to refuse the rest of the batch.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use headroom_core::{Sli, Slo, SloId, Span, Timestamp};
use headroom_engine::{Engine, IngestError};
use headroom_ingest::Event;
use headroom_metrics::route::{RoutedSlo, Router, SeriesId};
use headroom_probe::fleet::HeartbeatBoard;
use headroom_probe::spec::{ProbeKind, ProbeResult, ProbeSpec};
use headroom_spec::Config;
use headroom_tsdb::{Baseline, BaselineKey, BaselineMove, Tsdb, TsdbError};

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
    intake: Mutex<Intake>,
    pub probes: Mutex<BTreeMap<String, ProbeRecord>>,
    pub heartbeats: Arc<HeartbeatBoard>,
    pub health: SignalHealth,
}

/// The router and what it made that is not stored yet, behind one lock: batches are routed and
/// written in one order, so the stored baselines never run ahead of the stored increments.
struct Intake {
    router: Router,
    /// Batches the SLI store could not take yet, oldest first.
    undelivered: VecDeque<Pending>,
}

/// Increments with the baseline moves that produced them: written as one record.
struct Pending {
    increments: Vec<(SloId, Vec<Event>)>,
    baselines: Vec<BaselineMove>,
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
            intake: Mutex::new(Intake {
                router: Router::new(routed_slos(&config.slos), Default::default()),
                undelivered: VecDeque::new(),
            }),
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
        self.intake().router.replace(routed_slos(&config.slos));
        self.set_probes(&config.probes);
    }

    /// Gives the router the counter baselines the SLI store holds (at start, before any sample).
    pub fn restore(&self, tsdb: &Tsdb, now: Timestamp) {
        let stored = tsdb.series_baselines();
        self.intake().router.restore(
            stored
                .into_iter()
                .map(|(id, b)| (SeriesId(id), b.at, b.value)),
            now,
        );
    }

    fn intake(&self) -> MutexGuard<'_, Intake> {
        self.intake.lock().expect("intake lock")
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

    /// Routes Prometheus series (remote-written or scraped) and stores the increments with the
    /// baseline moves behind them; returns the events stored once they are durable. On a store
    /// failure they are kept to be written first next time, and the error returned.
    pub fn take_samples<'a>(
        &self,
        engine: &Engine,
        changed: &ChangedSlos,
        series: impl IntoIterator<Item = (&'a [(String, String)], &'a [(Timestamp, f64)])>,
        now: Timestamp,
    ) -> Result<usize, Undeliverable> {
        let written = {
            let mut intake = self.intake();
            let mut n = 0u64;
            for (labels, samples) in series {
                n += samples.len() as u64;
                intake.router.observe(labels, samples);
            }
            self.health.samples_received.fetch_add(n, Ordering::Relaxed);
            let drained = intake.router.drain(now);
            if !drained.is_empty() {
                intake.undelivered.push_back(Pending {
                    increments: drained.increments,
                    baselines: drained.baselines.iter().map(stored_move).collect(),
                });
            }
            self.write_undelivered(&mut intake, engine, changed, now)?
        };
        sync(engine, written)
    }

    pub fn router_stats(&self) -> headroom_metrics::route::RouterStats {
        self.intake().router.stats()
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

    /// Writes increments into the engine (probe results, or anything without a baseline): first
    /// whatever an earlier call could not deliver, then these. Events an SLO's series cannot hold
    /// are dropped and counted. On a store failure the rest is kept for the next call and the
    /// error returned. Blocking: call off the async workers.
    pub fn deliver(
        &self,
        engine: &Engine,
        changed: &ChangedSlos,
        batches: Vec<(SloId, Vec<Event>)>,
        now: Timestamp,
    ) -> Result<usize, Undeliverable> {
        let written = {
            let mut intake = self.intake();
            let batches: Vec<_> = batches.into_iter().filter(|(_, e)| !e.is_empty()).collect();
            if !batches.is_empty() {
                intake.undelivered.push_back(Pending {
                    increments: batches,
                    baselines: Vec::new(),
                });
            }
            self.write_undelivered(&mut intake, engine, changed, now)?
        };
        sync(engine, written)
    }

    /// Stores the counts of a backend follower's steps up to `through` (a step end) with that
    /// step end as the follower's baseline, in one record; durable when it returns `Ok`. Not
    /// kept on failure: the follower asks for the steps again, and its baseline stays where the
    /// stored counts end.
    pub fn store_steps(
        &self,
        engine: &Engine,
        changed: &ChangedSlos,
        slo: &SloId,
        events: Vec<Event>,
        through: Timestamp,
        now: Timestamp,
    ) -> Result<usize, Undeliverable> {
        let step = Pending {
            increments: vec![(slo.clone(), events)],
            baselines: vec![BaselineMove::Set(
                follower_key(slo),
                Baseline {
                    at: through,
                    value: 0.0,
                },
            )],
        };
        let written = {
            let _in_order = self.intake();
            self.write(engine, changed, step, now).map_err(|(_, e)| e)?
        };
        sync(engine, written)
    }

    /// Forgets the stored baselines of followers `keep` says no to (an SLO no longer answered by
    /// a backend): if it is followed again later, it resumes from its data, not from a step
    /// stored before other data may have been written into its series.
    pub fn forget_followers(
        &self,
        engine: &Engine,
        keep: impl Fn(&str) -> bool,
        now: Timestamp,
    ) -> Result<(), Undeliverable> {
        let written = {
            let _in_order = self.intake();
            let baselines: Vec<BaselineMove> = engine
                .tsdb()
                .follower_baselines()
                .into_iter()
                .filter(|(slo, _)| !keep(slo))
                .map(|(slo, _)| BaselineMove::Forget(BaselineKey::Follower(slo)))
                .collect();
            if baselines.is_empty() {
                return Ok(());
            }
            let forget = Pending {
                increments: Vec::new(),
                baselines,
            };
            self.write(engine, &ChangedSlos::default(), forget, now)
                .map_err(|(_, e)| e)?
        };
        sync(engine, written).map(|_| ())
    }

    /// Writes the undelivered batches in order; on a store failure keeps the rest, the failed
    /// one first. Returns the events written.
    fn write_undelivered(
        &self,
        intake: &mut Intake,
        engine: &Engine,
        changed: &ChangedSlos,
        now: Timestamp,
    ) -> Result<usize, Undeliverable> {
        let mut written = 0;
        while let Some(pending) = intake.undelivered.pop_front() {
            match self.write(engine, changed, pending, now) {
                Ok(n) => written += n,
                Err((pending, e)) => {
                    intake.undelivered.push_front(pending);
                    return Err(e);
                }
            }
        }
        Ok(written)
    }

    /// Writes one batch with its baseline moves as one record (not waiting for fsync); returns
    /// the events written. A store failure hands the batch back to be kept.
    fn write(
        &self,
        engine: &Engine,
        changed: &ChangedSlos,
        pending: Pending,
        now: Timestamp,
    ) -> Result<usize, (Pending, Undeliverable)> {
        let mut dropped: usize = 0;
        let increments: Vec<(SloId, Vec<Event>)> = pending
            .increments
            .into_iter()
            .filter_map(|(slo_id, events)| {
                let slo = engine.slo(&slo_id)?; // removed by a reload: nowhere to go
                let (kept, out) = in_range(&slo, events, now);
                dropped += out as usize;
                (!kept.is_empty()).then_some((slo_id, kept))
            })
            .collect();
        let outcome = engine.ingest_routed(&increments, &pending.baselines, now);
        let pending = Pending {
            increments,
            baselines: pending.baselines,
        };
        match outcome {
            Ok(r) => {
                self.health
                    .events_out_of_range
                    .fetch_add((dropped + r.dropped) as u64, Ordering::Relaxed);
                for slo in &r.slos {
                    changed.mark(slo);
                }
                Ok(r.logged.samples)
            }
            Err(e @ IngestError::Store(TsdbError::Io { .. } | TsdbError::Failed { .. })) => {
                Err((pending, Undeliverable(e)))
            }
            Err(e) => {
                // Not a disk problem (a group's series refused its configuration): retrying
                // cannot help. Dropped and counted; the baselines stay where the stored data
                // ends, so nothing stored is counted twice.
                tracing::warn!(error = %e, "routed events refused");
                let n: usize = pending.increments.iter().map(|(_, e)| e.len()).sum();
                self.health
                    .events_out_of_range
                    .fetch_add((dropped + n) as u64, Ordering::Relaxed);
                Ok(0)
            }
        }
    }
}

/// Waits (outside the intake lock, so fsyncs are shared) until every record written so far is
/// durable, not only this call's: a retried request whose samples an earlier call stored is
/// answered only once that call's record is durable too.
fn sync(engine: &Engine, written: usize) -> Result<usize, Undeliverable> {
    engine
        .tsdb()
        .sync_written()
        .map_err(|e| Undeliverable(IngestError::Store(e)))?;
    Ok(written)
}

/// The router's move as the SLI store keeps it.
fn stored_move(m: &headroom_metrics::BaselineMove) -> BaselineMove {
    match *m {
        headroom_metrics::BaselineMove::Set { series, at, value } => {
            BaselineMove::Set(BaselineKey::Series(series.0), Baseline { at, value })
        }
        headroom_metrics::BaselineMove::Forget(series) => {
            BaselineMove::Forget(BaselineKey::Series(series.0))
        }
    }
}

/// Where the SLI store keeps the last step a backend follower stored for `slo`.
pub fn follower_key(slo: &str) -> BaselineKey {
    BaselineKey::Follower(slo.to_string())
}

/// The last step end a follower stored for `slo`, if its baseline is stored.
pub fn follower_baseline(tsdb: &Tsdb, slo: &str) -> Option<Timestamp> {
    tsdb.baseline(&follower_key(slo)).map(|b| b.at)
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
