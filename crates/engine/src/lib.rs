//! The SLO engine: configured SLOs, their SLI series and their alert state, driven by whoever owns
//! the clock. The server drives it with wall time; `backtest` drives it with recorded time.
//!
//! Invariants:
//! - every configured SLO (and every group value seen) has exactly one series in the SLI store;
//! - an ingest batch is validated whole before anything is written (all or nothing);
//! - `evaluate` is the only place alert state changes, and it returns every transition it made.

pub mod backtest;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use headroom_core::evaluator::Evaluator;
use headroom_core::{Alert, AlertTransition, BudgetingMethod, Slo, SloStatus, Span, Timestamp};
use headroom_ingest::Event;
use headroom_tsdb::{
    AppendOutcome, Sample, SeriesConfig, SeriesKey, SliceKind, SliceRule, Tsdb, TsdbError,
};

/// Why an ingest batch was refused. Nothing of a refused batch is stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("no SLO {0:?} is configured")]
    UnknownSlo(String),
    #[error("SLO {slo:?} takes its SLI from {kind} queries, not from pushed events")]
    NotPushFed { slo: String, kind: &'static str },
    #[error("events[{index}]: {message}")]
    BadEvent { index: usize, message: String },
    #[error(transparent)]
    Store(#[from] TsdbError),
}

/// The latest evaluated state of one SLO group.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub group: String,
    pub status: SloStatus,
    pub alerts: Vec<(String, Alert)>,
}

/// One SLO with every group's latest state.
#[derive(Debug, Clone)]
pub struct SloView {
    pub slo: Arc<Slo>,
    pub groups: Vec<GroupView>,
}

/// The latest views of one SLO's groups.
#[derive(Debug)]
struct LatestViews {
    slo: Arc<Slo>,
    groups: BTreeMap<String, GroupView>,
}

fn slo_addr(slo: &Arc<Slo>) -> usize {
    Arc::as_ptr(slo) as usize
}

pub struct Engine {
    tsdb: Tsdb,
    slos: RwLock<Arc<BTreeMap<String, Arc<Slo>>>>,
    evaluator: Mutex<Evaluator>,
    /// Latest views per SLO, keyed by the address of the `Arc<Slo>` they were computed for (which
    /// the entry holds, so no other SLO can have that address while it exists): evaluation finds
    /// an SLO's entry without comparing id strings.
    latest: RwLock<HashMap<usize, LatestViews>>,
}

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

/// The canonical group key: `label=value` pairs in label order, comma-separated; "" when ungrouped.
pub fn group_key(slo: &Slo, labels: &BTreeMap<String, String>) -> Result<String, String> {
    let mut parts = Vec::with_capacity(slo.grouping.len());
    for name in &slo.grouping {
        let v = labels.get(name).ok_or_else(|| {
            format!(
                "missing grouping label {name:?} (SLO {:?} is grouped by {:?})",
                slo.id, slo.grouping
            )
        })?;
        parts.push(format!("{name}={v}"));
    }
    Ok(parts.join(","))
}

impl Engine {
    pub fn new(tsdb: Tsdb, slos: Vec<Slo>) -> Result<Self, TsdbError> {
        let engine = Engine {
            tsdb,
            slos: RwLock::new(Arc::new(BTreeMap::new())),
            evaluator: Mutex::new(Evaluator::new()),
            latest: RwLock::new(HashMap::new()),
        };
        engine.replace_slos(slos)?;
        Ok(engine)
    }

    pub fn tsdb(&self) -> &Tsdb {
        &self.tsdb
    }

    /// Swaps in a new SLO set (a config reload): new SLOs get series, changed ones are re-configured,
    /// removed ones lose their series and alert state.
    pub fn replace_slos(&self, slos: Vec<Slo>) -> Result<(), TsdbError> {
        let map: BTreeMap<String, Arc<Slo>> = slos
            .into_iter()
            .map(|s| (s.id.clone(), Arc::new(s)))
            .collect();
        for slo in map.values() {
            let cfg = series_config(slo);
            let mut groups = self.tsdb.groups_of(&slo.id);
            if slo.grouping.is_empty() {
                groups = vec![String::new()];
            }
            for g in groups {
                self.tsdb
                    .configure(SeriesKey::new(slo.id.clone(), g), cfg)?;
            }
        }
        self.tsdb.remove_unlisted(|k| {
            map.get(&k.slo)
                .is_some_and(|s| s.grouping.is_empty() == k.group.is_empty())
        })?;
        self.evaluator
            .lock()
            .expect("evaluator lock")
            .retain(|id| map.contains_key(id));
        // Swap the set and re-key the views under the views lock, so an evaluation (which takes
        // its SLO snapshot under that lock) never stores views for a replaced SLO object. Views of
        // SLOs that remain are kept (under their new object) until the next evaluation.
        let mut latest = self.latest.write().expect("latest lock");
        let old = std::mem::take(&mut *latest);
        for (_, mut v) in old {
            if let Some(slo) = map.get(&v.slo.id) {
                v.slo = slo.clone();
                latest.insert(slo_addr(slo), v);
            }
        }
        *self.slos.write().expect("slos lock") = Arc::new(map);
        Ok(())
    }

    pub fn slos(&self) -> Arc<BTreeMap<String, Arc<Slo>>> {
        self.slos.read().expect("slos lock").clone()
    }

    pub fn slo(&self, id: &str) -> Option<Arc<Slo>> {
        self.slos().get(id).cloned()
    }

    /// Restores an alert's state machine from storage after a restart.
    pub fn restore_alert(&self, slo: &str, group: &str, alert: &str, state: Alert) {
        self.evaluator
            .lock()
            .expect("evaluator lock")
            .restore(slo, group, alert, state);
    }

    /// Adds a batch of pushed events to an SLO. Durable when it returns Ok.
    pub fn ingest(
        &self,
        slo_id: &str,
        events: &[Event],
        idempotency_key: Option<&str>,
        now: Timestamp,
    ) -> Result<AppendOutcome, IngestError> {
        let slo = self
            .slo(slo_id)
            .ok_or_else(|| IngestError::UnknownSlo(slo_id.to_string()))?;
        let mut samples = Vec::with_capacity(events.len());
        let cfg = series_config(&slo);
        for (index, e) in events.iter().enumerate() {
            let group = group_key(&slo, &e.labels)
                .map_err(|message| IngestError::BadEvent { index, message })?;
            let key = SeriesKey::new(slo.id.clone(), group);
            samples.push(Sample {
                key,
                at: e.at,
                good: e.good,
                total: e.total,
            });
        }
        if !slo.grouping.is_empty() {
            // A new group value gets its own series (and budget) on first sight.
            for s in &samples {
                if self.tsdb.config_of(&s.key).is_none() {
                    self.tsdb.configure(s.key.clone(), cfg)?;
                }
            }
        }
        let scoped = idempotency_key.map(|k| format!("{slo_id}\u{0}{k}"));
        Ok(self.tsdb.append(&samples, scoped.as_deref(), now)?)
    }

    /// Re-evaluates every group of one SLO (or of all SLOs) at `now`, keeping the latest status, and
    /// returns the alert transitions made.
    ///
    /// Holds the views lock for the whole pass: readers of [`Engine::views`] wait for it.
    pub fn evaluate(&self, only: Option<&str>, now: Timestamp) -> Vec<AlertTransition> {
        let mut transitions = Vec::new();
        // Lock order: evaluator, views, SLO set (`replace_slos` takes the last two in that order).
        let mut ev = self.evaluator.lock().expect("evaluator lock");
        let mut latest = self.latest.write().expect("latest lock");
        let slos = self.slos();
        let selected: Vec<&Arc<Slo>> = match only {
            Some(id) => slos.get(id).into_iter().collect(),
            None => slos.values().collect(),
        };
        // One key, refilled per series: no allocation per SLO once it has grown.
        let mut key = SeriesKey::new(String::new(), String::new());
        for slo in selected {
            key.slo.clear();
            key.slo.push_str(&slo.id);
            let views = match latest.get_mut(&slo_addr(slo)) {
                Some(v) => v,
                None => latest.entry(slo_addr(slo)).or_insert_with(|| LatestViews {
                    slo: slo.clone(),
                    groups: BTreeMap::new(),
                }),
            };
            if slo.grouping.is_empty() {
                key.group.clear();
                evaluate_one(&self.tsdb, &mut ev, slo, &key, now, &mut transitions, views);
            } else {
                for g in &self.tsdb.groups_of(&slo.id) {
                    key.group.clear();
                    key.group.push_str(g);
                    evaluate_one(&self.tsdb, &mut ev, slo, &key, now, &mut transitions, views);
                }
            }
        }
        transitions
    }

    /// The latest evaluated state of every SLO, in id order.
    pub fn views(&self) -> Vec<SloView> {
        let slos = self.slos();
        let latest = self.latest.read().expect("latest lock");
        slos.values()
            .map(|slo| {
                // A BTreeMap by group: already in group order.
                let groups: Vec<GroupView> = latest
                    .get(&slo_addr(slo))
                    .map(|v| v.groups.values().cloned().collect())
                    .unwrap_or_default();
                SloView {
                    slo: slo.clone(),
                    groups,
                }
            })
            .collect()
    }

    pub fn view(&self, id: &str) -> Option<SloView> {
        self.views().into_iter().find(|v| v.slo.id == id)
    }

    /// An SLO group's status at any moment within retention, computed afresh (for charts).
    pub fn status_at(
        &self,
        slo: &Slo,
        group: &str,
        at: Timestamp,
        windows: &[Span],
    ) -> Option<SloStatus> {
        let key = SeriesKey::new(slo.id.clone(), group);
        self.tsdb.with_series(&key, |data| {
            headroom_core::budget::status(slo, data, at, windows)
        })
    }
}

/// Evaluates one series and stores its view, updating the stored one in place when it has the
/// same alerts (the steady state), so nothing is allocated here beyond the status itself.
fn evaluate_one(
    tsdb: &Tsdb,
    ev: &mut Evaluator,
    slo: &Slo,
    key: &SeriesKey,
    now: Timestamp,
    transitions: &mut Vec<AlertTransition>,
    views: &mut LatestViews,
) {
    let Some((status, tr)) = tsdb.with_series(key, |data| ev.evaluate(slo, &key.group, data, now))
    else {
        return;
    };
    transitions.extend(tr);
    match views.groups.get_mut(key.group.as_str()) {
        Some(view) => {
            view.status = status;
            let mut i = 0;
            let mut same = true;
            ev.each_alert_of(slo, &key.group, |name, alert| {
                match view.alerts.get_mut(i) {
                    Some((n, a)) if n == name => *a = alert,
                    _ => same = false,
                }
                i += 1;
            });
            if !same || i != view.alerts.len() {
                view.alerts = ev.alerts_of(slo, &key.group);
            }
        }
        None => {
            let alerts = ev.alerts_of(slo, &key.group);
            views.groups.insert(
                key.group.clone(),
                GroupView {
                    group: key.group.clone(),
                    status,
                    alerts,
                },
            );
        }
    }
}
