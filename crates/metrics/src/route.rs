//! The router: Prometheus samples in, per-SLO good/total increments out.
//!
//! Most series match no SLO, so the first step is one hash lookup of the metric name in an index
//! built from the plans' selectors (no allocation when it misses). A series that passes it is
//! looked up among tracked series; a new one has its matchers evaluated once, and what it feeds
//! (SLO, group, good or total, coefficient) is kept with its counter state. One counter state
//! per series serves every term reading it.
//!
//! Baselines: every drain also hands out how the series' last accepted samples moved (and which
//! series were forgotten), for the caller to store in the same record as the increments; after a
//! restart, [`Router::restore`] gives those baselines back and a series' first sample counts its
//! increase since the stored one instead of starting a new baseline.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use headroom_core::{SloId, Span, Timestamp};
use headroom_ingest::Event;
use sha2::{Digest, Sha256};

use crate::counter::{Advance, Limits, SeriesState};
use crate::query::{NativePlan, Reading, Selector, label_value};

/// One SLO to route samples to.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutedSlo {
    pub slo: SloId,
    pub grouping: Vec<String>,
    pub plan: NativePlan,
}

/// Counters of what the router did, since it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RouterStats {
    /// Series whose counter state is kept now.
    pub series_tracked: usize,
    /// Samples of series that feed at least one SLO.
    pub samples_matched: u64,
    /// Samples at or before their series' last timestamp (retries, out of order): ignored.
    pub samples_out_of_order: u64,
    /// Samples of series refused because `max_series` was reached.
    pub samples_over_cap: u64,
    /// New series refused because `max_series` was reached.
    pub series_refused: u64,
    /// Series routes not opened because their SLO already had `max_groups` groups.
    pub groups_refused: u64,
    /// Series whose first sample counted from a restored baseline.
    pub series_resumed: u64,
}

/// A series as the SLI store names its baseline: the first 16 bytes of SHA-256 over its labels.
/// Stable across processes and versions (unlike the series map's randomly seeded hasher), and
/// of one size whatever the labels' length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesId(pub [u8; 16]);

impl SeriesId {
    /// `labels` sorted by name, including `__name__`, as [`Router::observe`] takes them.
    pub fn of(labels: &[(String, String)]) -> SeriesId {
        let mut h = Sha256::new();
        for (name, value) in labels {
            // Length-prefixed, so no two label sets write the same bytes.
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update((value.len() as u64).to_le_bytes());
            h.update(value.as_bytes());
        }
        let digest = h.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        SeriesId(id)
    }
}

/// How what the router remembers of a series changed: to be stored with the increments drained
/// with it, so the stored baselines always match the stored increments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BaselineMove {
    /// The series' last accepted sample is now `(at, value)`.
    Set {
        series: SeriesId,
        at: Timestamp,
        value: f64,
    },
    /// The series is no longer tracked (silent for `forget_after`, or no SLO selects it).
    Forget(SeriesId),
}

/// What one drain hands out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Drained {
    /// Per SLO (only SLOs with events), as [`Router::drain`] says.
    pub increments: Vec<(SloId, Vec<Event>)>,
    /// The baseline moves since the previous drain, in the order they happened: at most one a
    /// series per `observe`, where its samples ended.
    pub baselines: Vec<BaselineMove>,
}

impl Drained {
    pub fn is_empty(&self) -> bool {
        self.increments.is_empty() && self.baselines.is_empty()
    }
}

/// Which count a term adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Good,
    Total,
}

/// One (selector, reading) of the plans, shared by every term that names it.
#[derive(Debug)]
struct Reader {
    selector: Selector,
    reading: Reading,
    targets: Vec<Target>,
}

#[derive(Debug, Clone, Copy)]
struct Target {
    slo: usize,
    side: Side,
    coef: f64,
}

/// Where one accepted sample of a series goes.
#[derive(Debug, Clone, Copy)]
struct Route {
    reading: Reading,
    slo: usize,
    group: usize,
    side: Side,
    coef: f64,
}

#[derive(Debug)]
struct Tracked {
    id: SeriesId,
    state: SeriesState,
    routes: Vec<Route>,
    /// The latest sample timestamp seen, NaN or not: what `forget_after` is measured from.
    seen: Timestamp,
}

/// The plans' selectors, by metric name.
#[derive(Debug, Default)]
struct Index {
    readers: Vec<Reader>,
    by_metric: HashMap<String, Vec<usize>, BuildHasherDefault<NameHasher>>,
}

/// Per (SLO, group): increments not drained yet, per minute.
#[derive(Debug, Default)]
struct Ledger {
    /// (minute start, good, total), ascending by minute.
    pending: Vec<(i64, f64, f64)>,
}

impl Ledger {
    #[inline]
    fn add(&mut self, at: Timestamp, side: Side, amount: f64) {
        let minute = at.floor(Span::MINUTE).0;
        // Samples mostly arrive in time order, so the minute is almost always the last one.
        let i = match self.pending.iter().rposition(|p| p.0 <= minute) {
            Some(i) if self.pending[i].0 == minute => i,
            Some(i) => {
                self.pending.insert(i + 1, (minute, 0.0, 0.0));
                i + 1
            }
            None => {
                self.pending.insert(0, (minute, 0.0, 0.0));
                0
            }
        };
        match side {
            Side::Good => self.pending[i].1 += amount,
            Side::Total => self.pending[i].2 += amount,
        }
    }

    /// Emits each pending minute as it stands. Good and total come from different series, which
    /// can reach headroom in different requests (Prometheus shards its queue by series): an
    /// event may carry good without its total yet, or the reverse. They are increments, and
    /// their sums agree once both have arrived; holding either back would delay every page.
    fn drain(&mut self, labels: &BTreeMap<String, String>, out: &mut Vec<Event>) {
        out.extend(
            self.pending
                .drain(..)
                .filter(|&(_, good, total)| good != 0.0 || total != 0.0)
                .map(|(minute, good, total)| Event {
                    at: Timestamp(minute),
                    good,
                    total,
                    labels: labels.clone(),
                }),
        );
    }
}

#[derive(Debug)]
struct SloState {
    name: SloId,
    grouping: Vec<String>,
    groups: HashMap<Vec<String>, usize>,
    /// Per group: its labels as events carry them, and its ledger.
    ledgers: Vec<(BTreeMap<String, String>, Ledger)>,
}

impl SloState {
    fn new(name: SloId, grouping: Vec<String>) -> Self {
        SloState {
            name,
            grouping,
            groups: HashMap::new(),
            ledgers: Vec::new(),
        }
    }

    /// The group of a series, opening it if there is room.
    fn group(&mut self, labels: &[(String, String)], max_groups: usize) -> Option<usize> {
        // An absent label is the empty value, as in PromQL's `sum by`.
        let values: Vec<String> = self
            .grouping
            .iter()
            .map(|g| label_value(labels, g).unwrap_or("").to_string())
            .collect();
        if let Some(&g) = self.groups.get(&values) {
            return Some(g);
        }
        if !self.grouping.is_empty() && self.ledgers.len() >= max_groups {
            return None;
        }
        let event_labels = self
            .grouping
            .iter()
            .cloned()
            .zip(values.iter().cloned())
            .collect();
        self.ledgers.push((event_labels, Ledger::default()));
        self.groups.insert(values, self.ledgers.len() - 1);
        Some(self.ledgers.len() - 1)
    }
}

/// Routes samples to SLOs' good and total counts. See the module doc.
#[derive(Debug)]
pub struct Router {
    limits: Limits,
    index: Index,
    slos: Vec<SloState>,
    series: HashMap<Box<[(String, String)]>, Tracked>,
    /// Stored baselines of series not seen since the restart: a series takes its own on first
    /// sight; the rest are forgotten like silent series.
    restored: HashMap<SeriesId, (Timestamp, f64)>,
    /// Baseline moves since the last drain.
    moves: Vec<BaselineMove>,
    stats: RouterStats,
    last_sweep: Option<Timestamp>,
}

impl Router {
    pub fn new(slos: Vec<RoutedSlo>, limits: Limits) -> Router {
        let index = Index::build(&slos);
        let slos = slos
            .into_iter()
            .map(|s| SloState::new(s.slo, s.grouping))
            .collect();
        Router {
            limits,
            index,
            slos,
            series: HashMap::new(),
            restored: HashMap::new(),
            moves: Vec::new(),
            stats: RouterStats::default(),
            last_sweep: None,
        }
    }

    /// Gives back the baselines stored before a restart (call before the first sample): each
    /// series' first sample then counts from its stored one, and a retry of it or of anything
    /// older counts nothing. Baselines already silent for `forget_after` at `now` are forgotten
    /// at once, as a router running all along would have; the others once they fall silent
    /// that long.
    pub fn restore(
        &mut self,
        baselines: impl IntoIterator<Item = (SeriesId, Timestamp, f64)>,
        now: Timestamp,
    ) {
        let horizon = now - self.limits.forget_after;
        for (id, at, value) in baselines {
            if at >= horizon {
                self.restored.insert(id, (at, value));
            } else {
                self.moves.push(BaselineMove::Forget(id));
            }
        }
    }

    /// Replaces the plans (config reload), keeping counter state of series that still match, and
    /// the undrained increments of SLOs kept with the same name and grouping.
    pub fn replace(&mut self, slos: Vec<RoutedSlo>) {
        self.index = Index::build(&slos);
        let mut old: HashMap<SloId, SloState> =
            self.slos.drain(..).map(|s| (s.name.clone(), s)).collect();
        self.slos = slos
            .into_iter()
            .map(|s| match old.remove(&s.slo) {
                Some(kept) if kept.grouping == s.grouping => kept,
                _ => SloState::new(s.slo, s.grouping),
            })
            .collect();
        let (index, slos, stats, moves, max_groups) = (
            &self.index,
            &mut self.slos,
            &mut self.stats,
            &mut self.moves,
            self.limits.max_groups,
        );
        self.series.retain(|labels, tracked| {
            let readers = label_value(labels, "__name__").and_then(|n| index.by_metric.get(n));
            if let Some(readers) = readers {
                tracked.routes = routes(index, readers, slos, labels, max_groups, stats);
            }
            let keep = readers.is_some() && !tracked.routes.is_empty();
            if !keep {
                moves.push(BaselineMove::Forget(tracked.id));
            }
            keep
        });
        self.stats.series_tracked = self.series.len();
    }

    /// One series' samples. `labels` sorted by name, including `__name__`.
    pub fn observe(&mut self, labels: &[(String, String)], samples: &[(Timestamp, f64)]) {
        let Some(name) = label_value(labels, "__name__") else {
            return;
        };
        let Some(readers) = self.index.by_metric.get(name) else {
            return;
        };
        if let Some(tracked) = self.series.get_mut(labels) {
            apply(
                tracked,
                samples,
                &mut self.slos,
                &mut self.stats,
                &mut self.moves,
            );
            return;
        }
        let routes = routes(
            &self.index,
            readers,
            &mut self.slos,
            labels,
            self.limits.max_groups,
            &mut self.stats,
        );
        if routes.is_empty() {
            return;
        }
        if self.series.len() >= self.limits.max_series {
            self.stats.series_refused += 1;
            self.stats.samples_over_cap += samples.len() as u64;
            return;
        }
        let id = SeriesId::of(labels);
        let (state, seen) = match self.restored.remove(&id) {
            Some((at, value)) => {
                self.stats.series_resumed += 1;
                (SeriesState::resumed(at, value), at)
            }
            None => (SeriesState::default(), Timestamp(i64::MIN)),
        };
        let tracked = self.series.entry(labels.into()).or_insert(Tracked {
            id,
            state,
            routes,
            seen,
        });
        apply(
            tracked,
            samples,
            &mut self.slos,
            &mut self.stats,
            &mut self.moves,
        );
        self.stats.series_tracked = self.series.len();
    }

    /// The increments accumulated since the last drain, per SLO (only SLOs with events): one
    /// event per (group, minute) with `labels` = the SLO's grouping labels and `at` = the
    /// minute's start. Increments, not observations: good may lead or trail total (see
    /// `Engine::ingest_increments`). Also forgets series silent for `forget_after` before `now`.
    /// With them, the baseline moves that produced them: storing both together (or neither)
    /// is what lets a restart resume without counting anything twice.
    pub fn drain(&mut self, now: Timestamp) -> Drained {
        self.sweep(now);
        let mut increments = Vec::new();
        for slo in &mut self.slos {
            let mut events = Vec::new();
            for (labels, ledger) in &mut slo.ledgers {
                ledger.drain(labels, &mut events);
            }
            if !events.is_empty() {
                increments.push((slo.name.clone(), events));
            }
        }
        Drained {
            increments,
            baselines: std::mem::take(&mut self.moves),
        }
    }

    pub fn stats(&self) -> RouterStats {
        self.stats
    }

    /// Drops series not seen for `forget_after`; at most once a minute, since it visits all.
    fn sweep(&mut self, now: Timestamp) {
        if self
            .last_sweep
            .is_some_and(|t| now - t < Span::MINUTE && now >= t)
        {
            return;
        }
        self.last_sweep = Some(now);
        let horizon = now - self.limits.forget_after;
        let moves = &mut self.moves;
        self.series.retain(|_, t| {
            let keep = t.seen >= horizon;
            if !keep {
                moves.push(BaselineMove::Forget(t.id));
            }
            keep
        });
        self.restored.retain(|&id, &mut (at, _)| {
            let keep = at >= horizon;
            if !keep {
                moves.push(BaselineMove::Forget(id));
            }
            keep
        });
        self.stats.series_tracked = self.series.len();
    }
}

/// Steps a tracked series through its samples, adds what they count to its routes' ledgers and
/// notes where its baseline moved.
fn apply(
    tracked: &mut Tracked,
    samples: &[(Timestamp, f64)],
    slos: &mut [SloState],
    stats: &mut RouterStats,
    moves: &mut Vec<BaselineMove>,
) {
    stats.samples_matched += samples.len() as u64;
    let before = tracked.state.last();
    for &(at, value) in samples {
        tracked.seen = tracked.seen.max(at);
        let previous = match tracked.state.advance(at, value) {
            Advance::NotASample => continue,
            Advance::Retry => {
                stats.samples_out_of_order += 1;
                continue;
            }
            Advance::Accepted { previous } => previous,
        };
        for r in &tracked.routes {
            let Some(amount) = r.reading.amount(previous, value) else {
                continue;
            };
            if amount != 0.0 {
                slos[r.slo].ledgers[r.group]
                    .1
                    .add(at, r.side, r.coef * amount);
            }
        }
    }
    // One move per series and call, not per sample: only where it ended matters.
    if let Some((at, value)) = tracked.state.last()
        && before.is_none_or(|(t, _)| t != at)
    {
        moves.push(BaselineMove::Set {
            series: tracked.id,
            at,
            value,
        });
    }
}

/// The routes of a series: every (SLO, group, side) of every reader whose selector matches.
fn routes(
    index: &Index,
    readers: &[usize],
    slos: &mut [SloState],
    labels: &[(String, String)],
    max_groups: usize,
    stats: &mut RouterStats,
) -> Vec<Route> {
    let mut routes = Vec::new();
    for &r in readers {
        let reader = &index.readers[r];
        if !reader.selector.matches_labels(labels) {
            continue;
        }
        for t in &reader.targets {
            match slos[t.slo].group(labels, max_groups) {
                Some(group) => routes.push(Route {
                    reading: reader.reading,
                    slo: t.slo,
                    group,
                    side: t.side,
                    coef: t.coef,
                }),
                None => stats.groups_refused += 1,
            }
        }
    }
    routes
}

impl Index {
    fn build(slos: &[RoutedSlo]) -> Index {
        let mut index = Index::default();
        // Keyed by the selector's text: `Selector` holds compiled regexes, which are not keys.
        let mut ids: HashMap<(String, Reading), usize> = HashMap::new();
        for (slo, s) in slos.iter().enumerate() {
            let sides = [(Side::Good, &s.plan.good), (Side::Total, &s.plan.total)];
            for (side, count) in sides {
                for term in &count.terms {
                    let id = *ids
                        .entry((term.selector.to_string(), term.reading))
                        .or_insert_with(|| {
                            index.readers.push(Reader {
                                selector: term.selector.clone(),
                                reading: term.reading,
                                targets: Vec::new(),
                            });
                            let id = index.readers.len() - 1;
                            index
                                .by_metric
                                .entry(term.selector.metric.clone())
                                .or_default()
                                .push(id);
                            id
                        });
                    let targets = &mut index.readers[id].targets;
                    // `total - bad` may name one selector twice on one side: fold coefficients.
                    match targets.iter_mut().find(|t| t.slo == slo && t.side == side) {
                        Some(t) => t.coef += term.coef,
                        None => targets.push(Target {
                            slo,
                            side,
                            coef: term.coef,
                        }),
                    }
                }
            }
        }
        index
    }
}

/// FxHash (rustc's hasher) for the metric-name index: its keys come from the config, and a
/// lookup of any incoming name costs a few multiplications instead of SipHash's rounds. The
/// series map, whose keys come from senders, keeps the default randomly seeded hasher.
#[derive(Default, Clone, Copy)]
struct NameHasher(u64);

impl Hasher for NameHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0xf135_7aea_2e62_a9c5;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}
