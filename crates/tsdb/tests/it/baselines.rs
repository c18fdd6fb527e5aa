//! Baselines stored with routed increments: they reopen from the log and from a snapshot plus
//! the log, and a crash anywhere in the log keeps a record's increments and its baseline move
//! together, so a counter resuming from the stored baseline counts every increase once.

use std::fs;
use std::path::Path;

use headroom_core::{SliData, Span, Timestamp};
use headroom_tsdb::{Baseline, BaselineKey, BaselineMove, Sample, SeriesKey, Tsdb, TsdbOptions};

use crate::{T0, at_min, key, occurrences};

const NOW_MIN: i64 = 2 * 24 * 60;
const SERIES: BaselineKey = BaselineKey::Series([7; 16]);

fn now() -> Timestamp {
    at_min(NOW_MIN)
}

fn open(dir: &Path) -> Tsdb {
    Tsdb::open(dir, TsdbOptions::default()).unwrap()
}

fn follower(slo: &str) -> BaselineKey {
    BaselineKey::Follower(slo.into())
}

fn set(key: BaselineKey, at: Timestamp, value: f64) -> BaselineMove {
    BaselineMove::Set(key, Baseline { at, value })
}

/// Every baseline the store holds, sorted, to compare stores.
fn baselines(db: &Tsdb) -> Vec<(BaselineKey, Timestamp, u64)> {
    let mut all: Vec<_> = db
        .series_baselines()
        .into_iter()
        .map(|(id, b)| (BaselineKey::Series(id), b.at, b.value.to_bits()))
        .chain(
            db.follower_baselines()
                .into_iter()
                .map(|(slo, b)| (BaselineKey::Follower(slo), b.at, b.value.to_bits())),
        )
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

/// Events stored (0 before the series is configured: a log cut before its configure record).
fn total(db: &Tsdb) -> f64 {
    db.with_series(&key(0), |s| s.counts(T0, now() + Span::HOUR).total)
        .unwrap_or(0.0)
}

/// A counter scraped every 20 s: `(at, value)`, climbing by a varying amount, reset to a small
/// value once (a restarted process).
fn counter(n: usize) -> Vec<(Timestamp, f64)> {
    let mut v = 100.0;
    (0..n)
        .map(|i| {
            if i == n / 2 {
                v = 4.0;
            } else {
                v += (i % 7) as f64 + 1.0;
            }
            (at_min(NOW_MIN - 600) + Span::SECOND * (20 * i as i64), v)
        })
        .collect()
}

/// What a counter source (as the router does it) counts of `samples` from `baseline` on:
/// increments per sample, and where it ends. Samples at or before the baseline count nothing.
fn resume(
    baseline: Option<(Timestamp, f64)>,
    samples: &[(Timestamp, f64)],
) -> (Vec<Sample>, Option<(Timestamp, f64)>) {
    let mut last = baseline;
    let mut out = Vec::new();
    for &(at, v) in samples {
        match last {
            Some((t, _)) if at <= t => continue,
            Some((_, p)) => {
                let inc = if v < p { v } else { v - p };
                out.push(Sample {
                    key: key(0),
                    at,
                    good: inc,
                    total: inc,
                });
            }
            None => {}
        }
        last = Some((at, v));
    }
    (out, last)
}

/// The whole increase of `samples`, as `increase()` counts it.
fn increase(samples: &[(Timestamp, f64)]) -> f64 {
    resume(None, samples).0.iter().map(|s| s.total).sum()
}

/// Writes `samples` in batches of `per`, one routed record each with the baseline move, as the
/// service does; checkpoints after batch `checkpoint_after` if given.
fn write_batches(
    db: &Tsdb,
    samples: &[(Timestamp, f64)],
    per: usize,
    checkpoint_after: Option<usize>,
) {
    let mut last = None;
    for (i, chunk) in samples.chunks(per).enumerate() {
        let (incs, end) = resume(last, chunk);
        last = end;
        let (at, value) = end.unwrap();
        let logged = db
            .log_routed(&incs, &[set(SERIES, at, value)], now())
            .unwrap();
        assert_eq!(logged.dropped, 0);
        db.sync(&logged).unwrap();
        if checkpoint_after == Some(i) {
            db.checkpoint().unwrap();
        }
    }
}

#[test]
fn routed_records_reopen_with_their_baselines() {
    let dir = tempfile::tempdir().unwrap();
    let samples = counter(30);
    let before = {
        let db = open(dir.path());
        db.configure(key(0), occurrences()).unwrap();
        write_batches(&db, &samples, 4, None);
        let l = db
            .log_routed(
                &[],
                &[
                    set(follower("shop"), at_min(NOW_MIN - 1), 0.0),
                    set(BaselineKey::Series([1; 16]), at_min(5), 3.0),
                    BaselineMove::Forget(BaselineKey::Series([1; 16])),
                ],
                now(),
            )
            .unwrap();
        db.sync(&l).unwrap();
        assert_eq!(total(&db), increase(&samples));
        baselines(&db)
    };
    assert_eq!(
        before,
        [
            (SERIES, samples[29].0, samples[29].1.to_bits()),
            (follower("shop"), at_min(NOW_MIN - 1), 0f64.to_bits()),
        ]
    );
    let db = open(dir.path());
    assert_eq!(baselines(&db), before);
    assert_eq!(total(&db), increase(&samples));
    assert_eq!(
        db.baseline(&follower("shop")).map(|b| b.at),
        Some(at_min(NOW_MIN - 1))
    );
}

#[test]
fn a_snapshot_and_the_log_after_it_reopen_the_same_baselines() {
    let dir = tempfile::tempdir().unwrap();
    let samples = counter(40);
    let before = {
        let db = open(dir.path());
        db.configure(key(0), occurrences()).unwrap();
        let l = db
            .log_routed(&[], &[set(follower("gone"), at_min(1), 0.0)], now())
            .unwrap();
        db.sync(&l).unwrap();
        // Half the batches before the checkpoint, half after it; and a baseline the snapshot
        // holds is forgotten after it.
        write_batches(&db, &samples, 4, Some(4));
        let l = db
            .log_routed(&[], &[BaselineMove::Forget(follower("gone"))], now())
            .unwrap();
        db.sync(&l).unwrap();
        (baselines(&db), total(&db))
    };
    assert_eq!(before.0, [(SERIES, samples[39].0, samples[39].1.to_bits())]);
    let db = open(dir.path());
    assert_eq!((baselines(&db), total(&db)), before);
    // Written whole into a snapshot, then read back from it alone.
    db.checkpoint().unwrap();
    drop(db);
    let db = open(dir.path());
    assert_eq!((baselines(&db), total(&db)), before);
}

#[test]
fn samples_a_series_cannot_take_are_left_out_and_the_moves_still_count() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path());
        db.configure(key(0), occurrences()).unwrap();
        let batch = [
            Sample {
                key: key(0),
                at: now(),
                good: 2.0,
                total: 3.0,
            },
            Sample {
                key: SeriesKey::ungrouped("not-configured"),
                at: now(),
                good: 1.0,
                total: 1.0,
            },
            Sample {
                key: key(0),
                at: now() - Span::days(40),
                good: 1.0,
                total: 1.0,
            },
            Sample {
                key: key(0),
                at: now(),
                good: f64::INFINITY,
                total: 1.0,
            },
        ];
        let l = db
            .log_routed(&batch, &[set(SERIES, now(), 9.0)], now())
            .unwrap();
        assert_eq!((l.samples, l.dropped), (1, 3));
        db.sync(&l).unwrap();
    }
    let db = open(dir.path());
    assert_eq!(total(&db), 3.0);
    assert_eq!(
        db.baseline(&SERIES),
        Some(Baseline {
            at: now(),
            value: 9.0
        })
    );
}

/// kill -9 leaves the log cut at any byte. Whatever the cut, the stored count is exactly the
/// increase up to the stored baseline, and a source that resumes from that baseline, with its
/// sender re-sending everything (retries of stored samples included), ends at the whole
/// increase: nothing twice, nothing lost. With and without a snapshot under the log.
#[test]
fn a_crash_anywhere_in_the_log_keeps_increments_and_baseline_together() {
    let samples = counter(24);
    let whole = increase(&samples);
    for checkpoint_after in [None, Some(2)] {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = open(dir.path());
            db.configure(key(0), occurrences()).unwrap();
            write_batches(&db, &samples, 3, checkpoint_after);
        }
        let wal = newest_wal(dir.path());
        let full = fs::read(&wal).unwrap();
        let mut seen_baselines = std::collections::BTreeSet::new();
        for cut in (8..=full.len()).rev() {
            let crashed = tempfile::tempdir().unwrap();
            for entry in fs::read_dir(dir.path()).unwrap() {
                let p = entry.unwrap().path();
                fs::copy(&p, crashed.path().join(p.file_name().unwrap())).unwrap();
            }
            fs::write(crashed.path().join(wal.file_name().unwrap()), &full[..cut]).unwrap();
            let db = open(crashed.path());
            let stored = total(&db);
            let baseline = db.baseline(&SERIES).map(|b| (b.at, b.value));
            let upto: Vec<_> = samples
                .iter()
                .copied()
                .filter(|&(t, _)| baseline.is_some_and(|(b, _)| t <= b))
                .collect();
            assert_eq!(
                stored,
                increase(&upto),
                "cut at {cut}: the stored count does not match the stored baseline {baseline:?}"
            );
            let (resumed, _) = resume(baseline, &samples);
            let counted = stored + resumed.iter().map(|s| s.total).sum::<f64>();
            assert_eq!(counted, whole, "cut at {cut}, baseline {baseline:?}");
            seen_baselines.insert(baseline.map(|(t, _)| t));
        }
        // Every record boundary was crossed: 8 batches, and before the first (without a
        // snapshot) no baseline at all.
        let expected = if checkpoint_after.is_some() { 6 } else { 9 };
        assert_eq!(seen_baselines.len(), expected, "{seen_baselines:?}");
    }
}

fn newest_wal(dir: &Path) -> std::path::PathBuf {
    let mut logs: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().unwrap()
}
