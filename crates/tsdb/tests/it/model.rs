//! Random writes and queries against a naive model that keeps every raw event.

use headroom_core::{SliData, Span, Timestamp};
use headroom_tsdb::{SampleError, Series, SeriesConfig, SliceKind, SliceRule};
use proptest::prelude::*;

use crate::T0;

const MIN: i64 = 60_000;

#[derive(Debug, Clone)]
enum Op {
    /// A write `back` minutes (plus `sec` seconds) before the model's `now`.
    Write {
        back: i64,
        sec: i64,
        good: u32,
        bad: u32,
    },
    /// Moves `now` forward and advances the series to it.
    Advance { minutes: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    let back = prop_oneof![
        0..5i64,
        0..120i64,
        1550..1570i64,
        0..2000i64,
        0..8000i64,
        0..60_000i64
    ];
    prop_oneof![
        6 => (back, 0..60i64, 0..10u32, 0..4u32)
            .prop_map(|(back, sec, good, bad)| Op::Write { back, sec, good, bad }),
        2 => prop_oneof![0..5i64, 0..300i64, 0..3000i64, 0..20_000i64].prop_map(|minutes| Op::Advance { minutes }),
    ]
}

fn config(i: usize) -> SeriesConfig {
    match i {
        0 => SeriesConfig::timeslices(
            Span::days(3),
            SliceRule {
                width: Span::minutes(5),
                kind: SliceKind::Threshold(0.8),
            },
        ),
        1 => SeriesConfig::timeslices(
            Span::hours(10),
            SliceRule {
                width: Span::minutes(3),
                kind: SliceKind::Ratio,
            },
        ),
        2 => SeriesConfig::timeslices(
            Span::days(40),
            SliceRule {
                width: Span::minutes(60),
                kind: SliceKind::Threshold(0.5),
            },
        ),
        _ => SeriesConfig::occurrences(Span::days(31)),
    }
}

struct Event {
    t: i64,
    good: f64,
    total: f64,
    /// Whether level 0 still held the event's slice when it was written (so it was judged).
    judged: bool,
}

/// Every raw event, and the newest instant the series was moved to.
struct Model {
    levels: Vec<(i64, i64)>,
    rule: Option<SliceRule>,
    head: Option<i64>,
    events: Vec<Event>,
}

impl Model {
    fn new(series: &Series) -> Self {
        Model {
            levels: series
                .levels()
                .iter()
                .map(|l| (l.width.millis(), l.buckets as i64))
                .collect(),
            rule: series.config().slices,
            head: None,
            events: Vec::new(),
        }
    }

    fn oldest_with(&self, l: usize, head: i64) -> i64 {
        let (w, len) = self.levels[l];
        (head.div_euclid(w) - len + 1) * w
    }

    fn oldest(&self, l: usize) -> i64 {
        self.oldest_with(l, self.head.unwrap_or(i64::MIN / 2))
    }

    fn write(&mut self, t: i64, good: f64, total: f64) -> bool {
        let head = self.head.map_or(t, |h| h.max(t));
        if t < self.oldest_with(self.levels.len() - 1, head) {
            return false;
        }
        self.head = Some(head);
        let judged = self
            .rule
            .is_some_and(|r| t - t.rem_euclid(r.width.millis()) >= self.oldest(0));
        self.events.push(Event {
            t,
            good,
            total,
            judged,
        });
        true
    }

    fn advance(&mut self, now: i64) {
        if let Some(h) = &mut self.head {
            *h = (*h).max(now);
        }
    }

    fn count_points(&self) -> Vec<(i64, [f64; 2])> {
        self.events
            .iter()
            .map(|e| (e.t, [e.good, e.total]))
            .collect()
    }

    /// (start, [slices, good, ratio]) of every slice that has judged events.
    fn slice_points(&self) -> Vec<(i64, [f64; 3])> {
        let Some(rule) = self.rule else {
            return Vec::new();
        };
        let w = rule.width.millis();
        let mut slices: std::collections::BTreeMap<i64, (f64, f64)> = Default::default();
        for e in self.events.iter().filter(|e| e.judged) {
            let s = slices.entry(e.t - e.t.rem_euclid(w)).or_default();
            s.0 += e.good;
            s.1 += e.total;
        }
        slices
            .into_iter()
            .filter(|(_, (_, total))| *total > 0.0)
            .map(|(start, (good, total))| {
                let ratio = good / total;
                // Each kind keeps only what its budgeting method reads: Timeslices count good
                // slices, RatioTimeslices sum the ratios.
                let (good, ratio) = match rule.kind {
                    SliceKind::Threshold(t) => (if ratio >= t { 1.0 } else { 0.0 }, 0.0),
                    SliceKind::Ratio => (0.0, ratio),
                };
                (start, [1.0, good, ratio])
            })
            .collect()
    }

    /// Plain sum of the points in `[from, to)`: what an exact store answers.
    fn exact<const N: usize>(pts: &[(i64, [f64; N])], from: i64, to: i64) -> [f64; N] {
        let mut s = [0.0; N];
        for (t, v) in pts {
            if (from..to).contains(t) {
                (0..N).for_each(|i| s[i] += v[i]);
            }
        }
        s
    }

    /// The documented rule, computed from raw points: each part of the range from the finest
    /// level covering it, switching at the coarse level's first boundary the finer one covers,
    /// the coarse bucket holding an end prorated linearly.
    fn documented<const N: usize>(&self, pts: &[(i64, [f64; N])], from: i64, to: i64) -> [f64; N] {
        if self.head.is_none() {
            return [0.0; N];
        }
        let from = from.max(self.oldest(self.levels.len() - 1));
        if from >= to {
            return [0.0; N];
        }
        self.diff(pts, from, to)
    }

    fn diff<const N: usize>(&self, pts: &[(i64, [f64; N])], a: i64, b: i64) -> [f64; N] {
        if a > b {
            return self.diff(pts, b, a).map(|v| -v);
        }
        let l = (0..self.levels.len())
            .find(|&l| self.oldest(l) <= a)
            .unwrap();
        let (w, _) = self.levels[l];
        if l == 0 || b <= self.oldest(l - 1) {
            return sub(self.cum(pts, l, b), self.cum(pts, l, a));
        }
        let fs = self.oldest(l - 1);
        let x = fs + (-fs).rem_euclid(w);
        let coarse = sub(self.cum(pts, l, x), self.cum(pts, l, a));
        let fine = self.diff(pts, x, b);
        std::array::from_fn(|i| coarse[i] + fine[i])
    }

    /// Points of level `l` before instant `t`, the bucket holding `t` by the fraction before it.
    fn cum<const N: usize>(&self, pts: &[(i64, [f64; N])], l: usize, t: i64) -> [f64; N] {
        let (w, _) = self.levels[l];
        let oldest = self.oldest(l).div_euclid(w);
        let b = t.div_euclid(w);
        let frac = (t - b * w) as f64 / w as f64;
        let mut s = [0.0; N];
        for (pt, v) in pts {
            let pb = pt.div_euclid(w);
            let weight = if pb < oldest {
                0.0
            } else if pb < b {
                1.0
            } else if pb == b {
                frac
            } else {
                0.0
            };
            (0..N).for_each(|i| s[i] += v[i] * weight);
        }
        s
    }
}

fn sub<const N: usize>(a: [f64; N], b: [f64; N]) -> [f64; N] {
    std::array::from_fn(|i| a[i] - b[i])
}

fn close<const N: usize>(got: [f64; N], want: [f64; N]) -> bool {
    (0..N).all(|i| (got[i] - want[i]).abs() <= 1e-6 * (1.0 + want[i].abs()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn windows_match_a_model_of_raw_events(
        which in 0usize..4,
        ops in prop::collection::vec(op(), 1..250),
        queries in prop::collection::vec((prop_oneof![0i64..9000, 0i64..60_000], 0i64..60_000, 0i64..60, 0i64..60), 40),
    ) {
        let mut series = Series::new(config(which)).unwrap();
        let mut model = Model::new(&series);
        let mut now = T0.millis() + 10 * 24 * 60 * MIN;
        for op in &ops {
            match *op {
                Op::Write { back, sec, good, bad } => {
                    let t = now - back * MIN + sec * 1000;
                    let (good, total) = (f64::from(good), f64::from(good + bad));
                    let got = series.add(Timestamp(t), good, total);
                    let accepted = model.write(t, good, total);
                    prop_assert_eq!(got.is_ok(), accepted, "write at {} -> {:?}", t, got);
                    if let Err(e) = got {
                        prop_assert!(matches!(e, SampleError::TooOld { .. }), "{:?}", e);
                    }
                }
                Op::Advance { minutes } => {
                    now += minutes * MIN;
                    series.advance(Timestamp(now));
                    model.advance(now);
                }
            }
        }
        let counts = model.count_points();
        let slices = model.slice_points();
        let l0 = model.oldest(0);
        let levels = model.levels.len();
        for &(back, len, s1, s2) in &queries {
            // Minute-aligned inside level 0, hour-aligned inside level 1: exact. A range ending
            // exactly where level 0 starts is level 1's alone, its end prorated: not exact.
            let end = now + 2 * MIN;
            let from = (end - back * MIN).div_euclid(MIN) * MIN;
            let to = from + len * MIN;
            let exact_from = if from >= l0 {
                Some(from)
            } else if levels > 1
                && to > l0
                && from.div_euclid(3_600_000) * 3_600_000 >= model.oldest(1)
            {
                Some(from.div_euclid(3_600_000) * 3_600_000)
            } else {
                None
            };
            if let Some(from) = exact_from {
                let c = series.counts(Timestamp(from), Timestamp(to));
                prop_assert_eq!([c.good, c.total], Model::exact(&counts, from, to), "counts [{}, {})", from, to);
                let t = series.slices(Timestamp(from), Timestamp(to));
                let want = Model::exact(&slices, from, to);
                prop_assert!(close([t.slices, t.good, t.ratio_sum], want), "slices [{}, {}): {:?} vs {:?}", from, to, t, want);
            }
            // Anywhere, at any millisecond: the documented proration rule.
            let (from, to) = (from + s1 * 1000 - 30_000, to + s2 * 1000);
            let c = series.counts(Timestamp(from), Timestamp(to));
            let want = model.documented(&counts, from, to);
            prop_assert!(close([c.good, c.total], want), "counts [{}, {}): {:?} vs {:?}", from, to, c, want);
            let t = series.slices(Timestamp(from), Timestamp(to));
            let want = model.documented(&slices, from, to);
            prop_assert!(close([t.slices, t.good, t.ratio_sum], want), "slices [{}, {}): {:?} vs {:?}", from, to, t, want);
        }
    }
}
