//! Baselines across a restart: what each drain hands out to be stored with its increments is
//! enough for a new router to count every series' increase across the restart once, whatever
//! drain the crash followed and whatever the sender re-sends.

use std::collections::HashMap;

use headroom_core::{Span, Timestamp};
use headroom_metrics::{BaselineMove, Drained, Limits, RoutedSlo, Router, SeriesId};
use proptest::prelude::*;

use crate::route::{
    at, availability, flat, labels, naive_increase, ratio, req, sample_value, samples, slo,
};

/// What the SLI store keeps: each series' baseline, as the stored drains moved it.
#[derive(Debug, Default, Clone, PartialEq)]
struct Stored(HashMap<SeriesId, (Timestamp, f64)>);

impl Stored {
    fn apply(&mut self, moves: &[BaselineMove]) {
        for m in moves {
            match *m {
                BaselineMove::Set { series, at, value } => {
                    self.0.insert(series, (at, value));
                }
                BaselineMove::Forget(series) => {
                    self.0.remove(&series);
                }
            }
        }
    }

    fn restored(&self, slos: Vec<RoutedSlo>, limits: Limits, now: Timestamp) -> Router {
        let mut r = Router::new(slos, limits);
        r.restore(self.0.iter().map(|(&id, &(at, v))| (id, at, v)), now);
        r
    }
}

/// Good and total summed over a drain's events.
fn totals(d: &Drained) -> (f64, f64) {
    d.increments
        .iter()
        .flat_map(|(_, evs)| evs)
        .fold((0.0, 0.0), |(g, t), e| (g + e.good, t + e.total))
}

fn counter() -> RoutedSlo {
    slo(
        "c",
        &[],
        ratio(
            "sum(increase(c_total[5m]))",
            "sum(increase(c_total[5m]))",
            &[],
        ),
    )
}

#[test]
fn series_id_is_the_same_in_every_process() {
    // Pinned: a stored baseline must be found again by the next version that reads it.
    let id = SeriesId::of(&labels(&[("__name__", "c_total"), ("job", "api")]));
    let hex: String = id.0.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, "baea172f03eb1d7bd4037b27ead22802");
    // Label boundaries matter: `a="bc"` and `ab="c"` are different series.
    assert_ne!(
        SeriesId::of(&labels(&[("a", "bc")])),
        SeriesId::of(&labels(&[("ab", "c")]))
    );
}

#[test]
fn the_increase_across_a_restart_counts_once_and_a_reset_counts_whole() {
    let mut before = Router::new(vec![availability()], Limits::default());
    before.observe(&req("200"), &samples(&[(0, 100.0), (30, 110.0)]));
    before.observe(&req("500"), &samples(&[(0, 7.0), (30, 8.0)]));
    let d = before.drain(at(40));
    assert_eq!(totals(&d), (10.0, 11.0));
    // One move per series, where it ended.
    assert_eq!(d.baselines.len(), 2);
    assert!(d.baselines.contains(&BaselineMove::Set {
        series: SeriesId::of(&req("200")),
        at: at(30),
        value: 110.0
    }));
    let mut stored = Stored::default();
    stored.apply(&d.baselines);

    let mut after = stored.restored(vec![availability()], Limits::default(), at(40));
    // The request answered before the crash is sent again, then the counters go on: the
    // 200 series by 15, the 500 series restarted (a reset) and is at 3.
    after.observe(
        &req("200"),
        &samples(&[(0, 100.0), (30, 110.0), (60, 125.0)]),
    );
    after.observe(&req("500"), &samples(&[(30, 8.0), (60, 3.0)]));
    let d = after.drain(at(70));
    assert_eq!(
        flat(&d.increments, "api-availability"),
        [(1, 15.0, 18.0)],
        "the increase since the stored baseline, and the reset's new value whole"
    );
    let s = after.stats();
    assert_eq!((s.series_resumed, s.samples_out_of_order), (2, 3));
}

#[test]
fn without_a_stored_baseline_the_first_sample_is_a_baseline() {
    let mut r = Stored::default().restored(vec![counter()], Limits::default(), at(0));
    let series = labels(&[("__name__", "c_total")]);
    r.observe(&series, &samples(&[(0, 50.0), (10, 52.0)]));
    assert_eq!(totals(&r.drain(at(20))), (2.0, 2.0));
    assert_eq!(r.stats().series_resumed, 0);
}

#[test]
fn retries_and_staleness_markers_move_no_baseline() {
    let mut r = Router::new(vec![counter()], Limits::default());
    let series = labels(&[("__name__", "c_total")]);
    r.observe(&series, &samples(&[(0, 1.0), (10, 2.0)]));
    let _ = r.drain(at(20));
    r.observe(&series, &samples(&[(5, 9.0), (10, 2.0)]));
    r.observe(&series, &[(at(15), f64::NAN)]);
    assert_eq!(r.drain(at(20)), Drained::default());
}

#[test]
fn forgotten_series_leave_the_stored_baselines() {
    let limits = Limits {
        forget_after: Span::minutes(10),
        ..Limits::default()
    };
    let a = labels(&[("__name__", "c_total"), ("pod", "a")]);
    let b = labels(&[("__name__", "c_total"), ("pod", "b")]);
    let mut r = Router::new(vec![counter()], limits);
    r.observe(&a, &samples(&[(0, 1.0)]));
    r.observe(&b, &samples(&[(0, 1.0), (500, 4.0)]));
    let mut stored = Stored::default();
    stored.apply(&r.drain(at(510)).baselines);
    assert_eq!(stored.0.len(), 2);
    // `a` has been silent for more than 10 minutes: forgotten here and in the store.
    let d = r.drain(at(601 + 60));
    assert_eq!(d.baselines, [BaselineMove::Forget(SeriesId::of(&a))]);
    stored.apply(&d.baselines);
    assert_eq!(stored.0.len(), 1);

    // After a restart, stored baselines no series claims are forgotten the same way: `b` comes
    // back and resumes; `c`'s, silent for longer than 10 minutes already, goes at once, even
    // though `c` comes back before any drain (a router running all along had forgotten it);
    // `d`'s goes at the first drain past its time.
    let c = labels(&[("__name__", "c_total"), ("pod", "c")]);
    let d = SeriesId::of(&labels(&[("__name__", "c_total"), ("pod", "d")]));
    stored.0.insert(SeriesId::of(&c), (at(0), 5.0));
    stored.0.insert(d, (at(200), 5.0));
    let mut r = stored.restored(vec![counter()], limits, at(700));
    r.observe(&b, &samples(&[(520, 6.0)]));
    r.observe(&c, &samples(&[(690, 9.0), (695, 11.0)]));
    let drained = r.drain(at(700));
    assert_eq!(
        totals(&drained),
        (4.0, 4.0),
        "b from its baseline, c from a new one"
    );
    stored.apply(&drained.baselines);
    assert_eq!(
        stored.0,
        HashMap::from([
            (SeriesId::of(&b), (at(520), 6.0)),
            (SeriesId::of(&c), (at(695), 11.0)),
            (d, (at(200), 5.0)),
        ]),
        "{:?}",
        drained.baselines
    );
    assert_eq!(r.stats().series_resumed, 1);
    let drained = r.drain(at(200 + 601));
    assert_eq!(drained.baselines, [BaselineMove::Forget(d)]);
}

#[test]
fn a_series_no_slo_selects_after_a_reload_is_forgotten() {
    let mut r = Router::new(vec![counter(), availability()], Limits::default());
    let c = labels(&[("__name__", "c_total")]);
    r.observe(&c, &samples(&[(0, 1.0)]));
    r.observe(&req("200"), &samples(&[(0, 1.0)]));
    let _ = r.drain(at(10));
    r.replace(vec![availability()]);
    let d = r.drain(at(20));
    assert_eq!(d.baselines, [BaselineMove::Forget(SeriesId::of(&c))]);
    assert_eq!(r.stats().series_tracked, 1);
}

#[test]
fn series_over_the_cap_store_no_baseline() {
    let limits = Limits {
        max_series: 1,
        ..Limits::default()
    };
    let mut r = Router::new(vec![availability()], limits);
    r.observe(&req("200"), &samples(&[(0, 1.0)]));
    r.observe(&req("500"), &samples(&[(0, 1.0)]));
    let d = r.drain(at(10));
    assert_eq!(
        d.baselines,
        [BaselineMove::Set {
            series: SeriesId::of(&req("200")),
            at: at(0),
            value: 1.0
        }]
    );
}

proptest! {
    /// A crash after any drain: the store holds the drains up to some `durable` one (each drain
    /// is stored whole or not at all), the sender had answers for those up to `acked` and sends
    /// every later batch again. The restarted router's count plus the stored one is the naive
    /// `increase()` of everything sent: nothing twice, nothing lost.
    #[test]
    fn a_crash_after_any_drain_counts_each_increase_once(
        points in prop::collection::vec((0i64..600, sample_value()), 0..60),
        cuts in prop::collection::vec(0usize..60, 0..6),
        durable in 0usize..8,
        acked in 0usize..8,
    ) {
        let series = labels(&[("__name__", "c_total")]);
        let mut cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= points.len()).collect();
        cuts.push(points.len());
        cuts.sort();
        let mut batches = Vec::new();
        let mut from = 0;
        for c in cuts {
            batches.push(&points[from..c]);
            from = c;
        }
        let durable = durable.min(batches.len());
        let acked = acked.min(durable);

        let mut before = Router::new(vec![counter()], Limits::default());
        let mut stored = Stored::default();
        let mut counted = 0.0;
        for b in &batches[..durable] {
            before.observe(&series, &samples(b));
            let d = before.drain(at(600));
            counted += totals(&d).1;
            stored.apply(&d.baselines);
        }
        let mut after = stored.restored(vec![counter()], Limits::default(), at(600));
        for b in &batches[acked..] {
            after.observe(&series, &samples(b));
            counted += totals(&after.drain(at(600))).1;
        }
        prop_assert!(
            (counted - naive_increase(&points)).abs() < 1e-6,
            "counted {} of {}", counted, naive_increase(&points)
        );
    }
}
