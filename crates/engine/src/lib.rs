//! The SLO engine: configured SLOs, their SLI series and their alert state, driven by whoever owns
//! the clock. The server drives it with wall time; `backtest` drives it with recorded time.
//!
//! Invariants:
//! - every configured SLO (and every group value seen) has exactly one series in the SLI store;
//! - an ingest batch is validated whole before anything is written (all or nothing); routed
//!   increments (`ingest_routed`) instead leave out and count what cannot be stored, since the
//!   baseline moves they carry must be stored regardless;
//! - `evaluate` is the only place alert state changes, and it returns every transition it made.

pub mod backtest;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

use headroom_core::evaluator::{GroupAlerts, windows};
use headroom_core::{
    Alert, AlertTransition, BudgetingMethod, GroupKey, SliData, Slo, SloId, SloStatus, Span,
    Timestamp,
};
use headroom_ingest::Event;
use headroom_tsdb::{
    AppendOutcome, BaselineMove, Counting, Logged, Sample, SeriesConfig, SeriesHandle, SeriesKey,
    SliceKind, SliceRule, Tsdb, TsdbError,
};

/// Why an ingest batch was refused. Nothing of a refused batch is stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("no SLO {:?} is configured", .0.as_str())]
    UnknownSlo(SloId),
    #[error("events[{index}]: {message}")]
    BadEvent { index: usize, message: String },
    #[error(
        "SLO {:?} would exceed {max} groups: each group keeps its own history, so a grouping label \
         must take few values (an endpoint or a customer tier, not a request id)",
        .slo.as_str()
    )]
    TooManyGroups { slo: SloId, max: usize },
    #[error(transparent)]
    Store(#[from] TsdbError),
}

/// What [`Engine::ingest_routed`] wrote.
#[derive(Debug)]
pub struct RoutedIngest {
    /// The record; durable once `Tsdb::sync` returns for it.
    pub logged: Logged,
    /// SLOs that received events.
    pub slos: Vec<SloId>,
    /// Events left out: of an SLO no longer configured, of a group beyond [`MAX_GROUPS`], or
    /// outside what their series holds.
    pub dropped: usize,
}

/// The latest evaluated state of one SLO group.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub group: GroupKey,
    pub status: SloStatus,
    pub alerts: Vec<(String, Alert)>,
}

/// One SLO with every group's latest state.
#[derive(Debug, Clone)]
pub struct SloView {
    pub slo: Arc<Slo>,
    pub groups: Vec<GroupView>,
}

/// One group of an SLO as the engine runs it: its series, its alerts, its latest status.
struct GroupRuntime {
    group: GroupKey,
    series: SeriesHandle,
    alerts: GroupAlerts,
    status: Option<SloStatus>,
}

struct SloRuntime {
    slo: Arc<Slo>,
    windows: Vec<Span>,
    /// Sorted by group key.
    groups: Vec<GroupRuntime>,
}

impl SloRuntime {
    /// Hints the SLI store about the windows the next evaluation at `now` will read.
    fn prefetch(&self, now: Timestamp) {
        for g in &self.groups {
            g.series.read(|data| {
                let end = headroom_core::window_end(now, data.resolution());
                data.prefetch(&mut self.windows.iter().map(|w| end - *w));
            });
        }
    }

    fn view(&self) -> SloView {
        let groups = self
            .groups
            .iter()
            .filter_map(|g| {
                let status = g.status.clone()?;
                let alerts = g
                    .alerts
                    .iter(&self.slo)
                    .map(|(n, a)| (n.to_string(), a))
                    .collect();
                Some(GroupView {
                    group: g.group.clone(),
                    status,
                    alerts,
                })
            })
            .collect();
        SloView {
            slo: self.slo.clone(),
            groups,
        }
    }
}

#[derive(Default)]
struct Runtime {
    slos: BTreeMap<SloId, SloRuntime>,
    /// When evaluation began (no-data alerts wait a full `after` from it).
    started: Option<Timestamp>,
}

/// The SLO set, each SLO's series handles, alert states and latest status. Evaluation takes
/// the runtime for writing; ingest and reads take it for reading, briefly.
pub struct Engine {
    tsdb: Tsdb,
    runtime: RwLock<Runtime>,
}

/// Most groups one SLO may have: each holds about 37 KB of history, so an unbounded label would
/// let a client exhaust memory.
pub const MAX_GROUPS: usize = 1000;

/// The series settings an SLO needs: its retention and, for timeslice methods, how slices are judged.
pub fn series_config(slo: &Slo) -> SeriesConfig {
    let slices = match slo.budgeting {
        BudgetingMethod::Occurrences => None,
        BudgetingMethod::Timeslices { target, slice } => Some(SliceRule {
            width: slice,
            kind: SliceKind::Threshold(target),
        }),
        BudgetingMethod::RatioTimeslices { slice } => Some(SliceRule {
            width: slice,
            kind: SliceKind::Ratio,
        }),
    };
    SeriesConfig {
        retention: slo.retention(),
        slices,
    }
}

fn series_key(slo: &Slo, group: &GroupKey) -> SeriesKey {
    SeriesKey::new(slo.id.as_str(), group.as_str())
}

/// The groups the SLI store holds for `slo`. A key that does not read back as a group key (one
/// stored before values were escaped, holding a `,` or `=`) keeps its history in the store but
/// is not evaluated: its labels cannot be told apart.
fn stored_groups(tsdb: &Tsdb, slo: &Slo) -> Vec<GroupKey> {
    if slo.grouping.is_empty() {
        return vec![GroupKey::ungrouped()];
    }
    tsdb.groups_of(&slo.id)
        .iter()
        .filter_map(|g| GroupKey::parse(g).ok())
        .collect()
}

impl Engine {
    pub fn new(tsdb: Tsdb, slos: Vec<Slo>) -> Result<Self, TsdbError> {
        let engine = Engine {
            tsdb,
            runtime: RwLock::new(Runtime::default()),
        };
        engine.replace_slos(slos)?;
        Ok(engine)
    }

    pub fn tsdb(&self) -> &Tsdb {
        &self.tsdb
    }

    fn group_runtime(
        &self,
        slo: &Slo,
        group: GroupKey,
        alerts: GroupAlerts,
    ) -> Option<GroupRuntime> {
        let series = self.tsdb.handle(&series_key(slo, &group))?;
        Some(GroupRuntime {
            group,
            series,
            alerts,
            status: None,
        })
    }

    /// Swaps in a new SLO set (a config reload): new SLOs get series, changed ones are
    /// re-configured, removed ones lose their series and alert state. Alert states and the latest
    /// status of SLOs that remain are kept.
    pub fn replace_slos(&self, slos: Vec<Slo>) -> Result<(), TsdbError> {
        for slo in &slos {
            let cfg = series_config(slo);
            for g in stored_groups(&self.tsdb, slo) {
                self.tsdb.configure(series_key(slo, &g), cfg)?;
            }
        }
        let ids: BTreeMap<&str, &Slo> = slos.iter().map(|s| (s.id.as_str(), s)).collect();
        self.tsdb.remove_unlisted(|k| {
            ids.get(k.slo.as_str())
                .is_some_and(|s| s.grouping.is_empty() == k.group.is_empty())
        })?;
        let mut rt = self.runtime.write().expect("runtime lock");
        let mut old = std::mem::take(&mut rt.slos);
        for slo in slos {
            let slo = Arc::new(slo);
            let mut previous = old.remove(&slo.id);
            let keys = stored_groups(&self.tsdb, &slo);
            let mut groups = Vec::with_capacity(keys.len());
            for key in keys {
                let kept = previous.as_mut().and_then(|p| {
                    let i = p.groups.iter().position(|g| g.group == key)?;
                    Some((p.slo.clone(), p.groups.swap_remove(i)))
                });
                let alerts = match &kept {
                    Some((old_slo, g)) => g.alerts.realigned(old_slo, &slo),
                    None => GroupAlerts::new(&slo),
                };
                if let Some(mut g) = self.group_runtime(&slo, key, alerts) {
                    g.status = kept.and_then(|(_, g)| g.status);
                    groups.push(g);
                }
            }
            let windows = windows(&slo);
            rt.slos.insert(
                slo.id.clone(),
                SloRuntime {
                    slo,
                    windows,
                    groups,
                },
            );
        }
        Ok(())
    }

    /// Every configured SLO, in id order.
    pub fn slos(&self) -> Vec<Arc<Slo>> {
        self.runtime
            .read()
            .expect("runtime lock")
            .slos
            .values()
            .map(|r| r.slo.clone())
            .collect()
    }

    pub fn slo(&self, id: &str) -> Option<Arc<Slo>> {
        self.runtime
            .read()
            .expect("runtime lock")
            .slos
            .get(id)
            .map(|r| r.slo.clone())
    }

    /// Restores an alert's state machine from storage after a restart.
    pub fn restore_alert(&self, slo: &str, group: &GroupKey, alert: &str, state: Alert) {
        let mut rt = self.runtime.write().expect("runtime lock");
        if let Some(r) = rt.slos.get_mut(slo)
            && let Some(g) = r.groups.iter_mut().find(|g| g.group == *group)
        {
            g.alerts.restore(&r.slo, alert, state);
        }
    }

    /// Adds a batch of pushed events to an SLO. Durable when it returns Ok.
    pub fn ingest(
        &self,
        slo_id: &str,
        events: &[Event],
        idempotency_key: Option<&str>,
        now: Timestamp,
    ) -> Result<AppendOutcome, IngestError> {
        self.ingest_as(slo_id, events, idempotency_key, now, Counting::Events)
    }

    /// Adds counter increments routed from Prometheus samples: as [`Engine::ingest`], except
    /// that an event's good may lead or trail its total (they come from different series; their
    /// sums agree once both have arrived).
    pub fn ingest_increments(
        &self,
        slo_id: &str,
        events: &[Event],
        now: Timestamp,
    ) -> Result<AppendOutcome, IngestError> {
        self.ingest_as(slo_id, events, None, now, Counting::Increments)
    }

    fn ingest_as(
        &self,
        slo_id: &str,
        events: &[Event],
        idempotency_key: Option<&str>,
        now: Timestamp,
        counting: Counting,
    ) -> Result<AppendOutcome, IngestError> {
        let slo = self
            .slo(slo_id)
            .ok_or_else(|| IngestError::UnknownSlo(slo_id.into()))?;
        let mut samples = Vec::with_capacity(events.len());
        let mut groups = Vec::with_capacity(events.len());
        for (index, e) in events.iter().enumerate() {
            let group =
                GroupKey::of(&slo.grouping, &e.labels).map_err(|e| IngestError::BadEvent {
                    index,
                    message: format!("SLO {:?}: {e}", slo.id.as_str()),
                })?;
            samples.push(Sample {
                key: series_key(&slo, &group),
                at: e.at,
                good: e.good,
                total: e.total,
            });
            groups.push(group);
        }
        if !slo.grouping.is_empty()
            && samples
                .iter()
                .any(|s| self.tsdb.config_of(&s.key).is_none())
        {
            // Refuse a bad batch before it creates the groups it names: once created, a group may
            // receive another batch's acknowledged events, so it is never taken back.
            self.tsdb
                .check_new(series_config(&slo), &samples, now, counting)?;
            let mut new: Vec<&str> = samples
                .iter()
                .filter(|s| self.tsdb.config_of(&s.key).is_none())
                .map(|s| s.key.group.as_str())
                .collect();
            new.sort_unstable();
            new.dedup();
            let existing = self.tsdb.groups_of(&slo.id).len();
            if existing + new.len() > MAX_GROUPS {
                return Err(IngestError::TooManyGroups {
                    slo: slo.id.clone(),
                    max: MAX_GROUPS,
                });
            }
            self.add_new_groups(&slo, &samples, &groups)?;
        }
        Ok(match counting {
            Counting::Events => {
                let scoped = idempotency_key.map(|k| format!("{slo_id}\u{0}{k}"));
                self.tsdb.append(&samples, scoped.as_deref(), now)?
            }
            Counting::Increments => self.tsdb.append_increments(&samples, now)?,
        })
    }

    /// Writes increments routed from counter sources, for any number of SLOs, together with the
    /// baseline moves that produced them: one record of the SLI store (see `Tsdb::log_routed`),
    /// so the stored baselines always match the stored increments. Nothing is refused for one
    /// bad event: events that cannot be stored are left out and counted, and the moves are
    /// written regardless. `Err` only when the store cannot write (the caller retries the same
    /// batch). Returns before the record is durable: the caller waits with `Tsdb::sync`, outside
    /// whatever lock orders its batches.
    pub fn ingest_routed(
        &self,
        batches: &[(SloId, Vec<Event>)],
        baselines: &[BaselineMove],
        now: Timestamp,
    ) -> Result<RoutedIngest, IngestError> {
        let mut samples = Vec::new();
        let mut slos = Vec::new();
        let mut dropped = 0;
        for (slo_id, events) in batches {
            let Some(slo) = self.slo(slo_id) else {
                dropped += events.len(); // removed by a reload: nowhere to go
                continue;
            };
            let mut mine = Vec::with_capacity(events.len());
            let mut groups = Vec::with_capacity(events.len());
            for e in events {
                let Ok(group) = GroupKey::of(&slo.grouping, &e.labels) else {
                    dropped += 1;
                    continue;
                };
                mine.push(Sample {
                    key: series_key(&slo, &group),
                    at: e.at,
                    good: e.good,
                    total: e.total,
                });
                groups.push(group);
            }
            if !slo.grouping.is_empty() {
                let before = mine.len();
                mine = self.open_routed_groups(&slo, mine, groups, now)?;
                dropped += before - mine.len();
            }
            if !mine.is_empty() {
                slos.push(slo_id.clone());
                samples.extend(mine);
            }
        }
        let logged = self.tsdb.log_routed(&samples, baselines, now)?;
        dropped += logged.dropped;
        Ok(RoutedIngest {
            logged,
            slos,
            dropped,
        })
    }

    /// Creates the groups routed samples name for the first time, as far as [`MAX_GROUPS`]
    /// allows, and returns the samples that have a series to go to. A new group is only opened
    /// for a sample its series would take, so no group is created empty.
    fn open_routed_groups(
        &self,
        slo: &Arc<Slo>,
        samples: Vec<Sample>,
        groups: Vec<GroupKey>,
        now: Timestamp,
    ) -> Result<Vec<Sample>, TsdbError> {
        let cfg = series_config(slo);
        let mut room = MAX_GROUPS.saturating_sub(self.tsdb.groups_of(&slo.id).len());
        let mut opening: BTreeSet<String> = BTreeSet::new();
        let mut keep = Vec::with_capacity(samples.len());
        for (s, g) in samples.into_iter().zip(groups) {
            let exists = self.tsdb.config_of(&s.key).is_some() || opening.contains(&s.key.group);
            if !exists {
                let fits = self
                    .tsdb
                    .check_new(cfg, std::slice::from_ref(&s), now, Counting::Increments)
                    .is_ok();
                if !fits || room == 0 {
                    continue;
                }
                room -= 1;
                opening.insert(s.key.group.clone());
            }
            keep.push((s, g));
        }
        let (samples, groups): (Vec<Sample>, Vec<GroupKey>) = keep.into_iter().unzip();
        self.add_new_groups(slo, &samples, &groups)?;
        Ok(samples)
    }

    /// A new group value gets its own series (and budget) on first sight.
    fn add_new_groups(
        &self,
        slo: &Arc<Slo>,
        samples: &[Sample],
        groups: &[GroupKey],
    ) -> Result<(), TsdbError> {
        let cfg = series_config(slo);
        for (s, group) in samples.iter().zip(groups) {
            if self.tsdb.config_of(&s.key).is_some() {
                continue;
            }
            self.tsdb.configure(s.key.clone(), cfg)?;
            let mut rt = self.runtime.write().expect("runtime lock");
            // By id, not by the SLO object: a reload may have swapped it since the batch began,
            // and its group list (read before this series existed) must still gain the group.
            if let Some(r) = rt.slos.get_mut(&slo.id) {
                let at = r.groups.partition_point(|x| x.group < *group);
                let known = r.groups.get(at).is_some_and(|g| g.group == *group);
                let current = r.slo.clone();
                if !known
                    && let Some(g) =
                        self.group_runtime(&current, group.clone(), GroupAlerts::new(&current))
                {
                    r.groups.insert(at, g);
                }
            }
        }
        Ok(())
    }

    /// Re-evaluates every group of one SLO (or of all SLOs) at `now`, keeping the latest status, and
    /// returns the alert transitions made.
    pub fn evaluate(&self, only: Option<&str>, now: Timestamp) -> Vec<AlertTransition> {
        let mut transitions = Vec::new();
        let mut rt = self.runtime.write().expect("runtime lock");
        let started = *rt.started.get_or_insert(now);
        let mut selected: Vec<&mut SloRuntime> = match only {
            Some(id) => rt.slos.get_mut(id).into_iter().collect(),
            None => rt.slos.values_mut().collect(),
        };
        for i in 0..selected.len() {
            // Memory latency, not arithmetic, bounds a full evaluation: while one SLO is computed,
            // the next ones' series are on their way into cache, one pointer hop per step ahead.
            if let Some(r) = selected.get(i + 3) {
                r.groups.iter().for_each(|g| g.series.prefetch());
            }
            if let Some(r) = selected.get(i + 2) {
                r.groups
                    .iter()
                    .for_each(|g| g.series.read(|s| s.prefetch_levels()));
            }
            if let Some(next) = selected.get(i + 1) {
                next.prefetch(now);
            }
            let SloRuntime {
                slo,
                windows,
                groups,
            } = &mut *selected[i];
            for g in groups.iter_mut() {
                let (status, tr) = g.series.read(|data| {
                    g.alerts
                        .evaluate(slo, &g.group, data, now, started, windows)
                });
                g.status = Some(status);
                transitions.extend(tr);
            }
        }
        transitions
    }

    /// The earliest moment a pending alert's `for` runs out, across every SLO.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let rt = self.runtime.read().expect("runtime lock");
        rt.slos
            .values()
            .flat_map(|r| {
                r.groups
                    .iter()
                    .filter_map(|g| g.alerts.next_deadline(&r.slo))
            })
            .min()
    }

    /// The latest evaluated state of every SLO, in id order.
    pub fn views(&self) -> Vec<SloView> {
        self.runtime
            .read()
            .expect("runtime lock")
            .slos
            .values()
            .map(SloRuntime::view)
            .collect()
    }

    pub fn view(&self, id: &str) -> Option<SloView> {
        self.runtime
            .read()
            .expect("runtime lock")
            .slos
            .get(id)
            .map(SloRuntime::view)
    }

    /// Calls `f` with the latest status (`None` before the first evaluation) and alert states of
    /// every group of the SLOs `keep` selects, in id order, without copying them; with `None`
    /// for a selected SLO that has no group yet (a grouped SLO no data has reached).
    pub fn visit_groups(
        &self,
        keep: impl Fn(&Slo) -> bool,
        mut f: impl FnMut(&Slo, Option<(&GroupKey, Option<&SloStatus>, &GroupAlerts)>),
    ) {
        let rt = self.runtime.read().expect("runtime lock");
        for r in rt.slos.values().filter(|r| keep(&r.slo)) {
            if r.groups.is_empty() {
                f(&r.slo, None);
            }
            for g in &r.groups {
                f(&r.slo, Some((&g.group, g.status.as_ref(), &g.alerts)));
            }
        }
    }

    /// Reads each stored group's SLI history of `slo`, one at a time.
    pub fn each_group<R>(
        &self,
        slo: &Slo,
        mut f: impl FnMut(&GroupKey, &dyn SliData) -> R,
    ) -> Vec<R> {
        stored_groups(&self.tsdb, slo)
            .iter()
            .filter_map(|g| {
                self.tsdb
                    .with_series(&series_key(slo, g), |data| f(g, data))
            })
            .collect()
    }

    /// An SLO group's status at any moment within retention, computed afresh (for charts).
    pub fn status_at(
        &self,
        slo: &Slo,
        group: &GroupKey,
        at: Timestamp,
        windows: &[Span],
    ) -> Option<SloStatus> {
        self.tsdb.with_series(&series_key(slo, group), |data| {
            headroom_core::budget::status(slo, data, at, windows)
        })
    }
}
