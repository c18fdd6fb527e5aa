//! Reopening: without a checkpoint, after one, with a torn log, and idempotency across restarts.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use headroom_core::{Counts, SliData, SliceTally, Span, Timestamp};
use headroom_tsdb::{
    AppendOutcome, Sample, SampleError, SeriesConfig, SeriesKey, Tsdb, TsdbError, TsdbOptions,
};

use crate::{T0, at_min, key, occurrences, timeslices};

const NOW_MIN: i64 = 3 * 24 * 60;

fn now() -> Timestamp {
    at_min(NOW_MIN)
}

fn open(dir: &Path) -> Tsdb {
    Tsdb::open(dir, TsdbOptions::default()).unwrap()
}

fn setup(db: &Tsdb) {
    db.configure(key(0), occurrences()).unwrap();
    db.configure(key(1), timeslices()).unwrap();
    db.configure(key(2), occurrences()).unwrap();
}

fn sample(k: usize, minute: i64, good: f64, total: f64) -> Sample {
    Sample {
        key: key(k),
        at: at_min(minute) + Span::SECOND * 7,
        good,
        total,
    }
}

/// Batch `b`: a few samples over the three series, some written late.
fn batch(b: i64) -> Vec<Sample> {
    let m = NOW_MIN - 2000 + b * 7;
    vec![
        sample(0, m, 9.0, 10.0),
        sample(1, m, (b % 3) as f64, 2.0),
        sample(2, m - 1500, 1.0, 1.0),
        sample(1, m - 3, 0.5, 0.5),
    ]
}

/// Every series' answers over many windows, to compare a store before and after a restart.
type Answers = Vec<(SeriesKey, Vec<(Counts, SliceTally)>)>;

fn answers(db: &Tsdb) -> Answers {
    let end = now() + Span::MINUTE;
    let windows = [5, 30, 60, 360, 1440, 3 * 1440, 7 * 1440, 30 * 1440];
    db.keys()
        .into_iter()
        .map(|k| {
            let a = db
                .with_series(&k, |s| {
                    windows
                        .iter()
                        .flat_map(|&w| {
                            let from = end - Span::minutes(w);
                            let odd = from + Span::SECOND * 17;
                            [
                                (s.counts(from, end), s.slices(from, end)),
                                (s.counts(odd, end), s.slices(odd, end)),
                            ]
                        })
                        .collect()
                })
                .unwrap();
            (k, a)
        })
        .collect()
}

fn newest_wal(dir: &Path) -> PathBuf {
    let mut logs: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().unwrap()
}

#[test]
fn reopen_without_checkpoint_gives_identical_answers() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let db = open(dir.path());
        setup(&db);
        for b in 0..200 {
            db.append(&batch(b), None, now()).unwrap();
        }
        db.advance(now() + Span::minutes(3)).unwrap();
        answers(&db)
    };
    let db = open(dir.path());
    assert_eq!(answers(&db), before);
    assert_eq!(db.keys().len(), 3);
    assert_eq!(db.groups_of("api"), vec!["region=r1", "region=r2"]);
    assert_eq!(db.groups_of("checkout"), vec![""]);
    assert_eq!(db.config_of(&key(1)), Some(timeslices()));
}

#[test]
fn checkpoint_then_more_appends_reopens_identically() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let db = open(dir.path());
        setup(&db);
        for b in 0..100 {
            db.append(&batch(b), Some(&format!("k{b}")), now()).unwrap();
        }
        db.checkpoint().unwrap();
        for b in 100..150 {
            db.append(&batch(b), None, now()).unwrap();
        }
        db.checkpoint().unwrap();
        for b in 150..200 {
            db.append(&batch(b), None, now()).unwrap();
        }
        answers(&db)
    };
    // The checkpoint dropped the logs it covers.
    let logs = fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "log")
        })
        .count();
    assert_eq!(logs, 1);
    let db = open(dir.path());
    assert_eq!(answers(&db), before);
    // Keys from before the checkpoint are still remembered.
    assert_eq!(
        db.append(&batch(5), Some("k5"), now()).unwrap(),
        AppendOutcome::Duplicate
    );
    // And a checkpoint right after reopening changes nothing.
    db.checkpoint().unwrap();
    drop(db);
    assert_eq!(answers(&open(dir.path())), before);
}

/// Appends batches 0..n one per record, and returns the answers after each batch.
fn build_log(dir: &Path, n: i64) -> Vec<Answers> {
    let db = open(dir);
    setup(&db);
    let mut after = vec![answers(&db)];
    for b in 0..n {
        db.append(&batch(b), None, now()).unwrap();
        after.push(answers(&db));
    }
    after
}

#[test]
fn a_log_cut_short_reopens_with_every_earlier_record() {
    let dir = tempfile::tempdir().unwrap();
    let after = build_log(dir.path(), 20);
    let wal = newest_wal(dir.path());
    let len = fs::metadata(&wal).unwrap().len();
    for cut in [3u64, 9, 40] {
        let f = fs::File::options().write(true).open(&wal).unwrap();
        f.set_len(len - cut).unwrap();
        drop(f);
        let db = open(dir.path());
        assert_eq!(answers(&db), after[19], "cut {cut} bytes");
        drop(db);
    }
    // The store keeps working after the repair, and the repair is durable.
    let db = open(dir.path());
    db.append(&batch(19), None, now()).unwrap();
    drop(db);
    assert_eq!(answers(&open(dir.path())), after[20]);
}

#[test]
fn a_flipped_byte_in_the_last_record_drops_only_that_record() {
    let dir = tempfile::tempdir().unwrap();
    let after = build_log(dir.path(), 20);
    let wal = newest_wal(dir.path());
    let mut bytes = fs::read(&wal).unwrap();
    let at = bytes.len() - 10;
    bytes[at] ^= 0x01;
    fs::write(&wal, &bytes).unwrap();
    let db = open(dir.path());
    assert_eq!(answers(&db), after[19]);
    assert!(fs::metadata(&wal).unwrap().len() < bytes.len() as u64);
}

#[test]
fn garbage_after_the_last_record_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let after = build_log(dir.path(), 5);
    let wal = newest_wal(dir.path());
    let mut bytes = fs::read(&wal).unwrap();
    bytes.extend_from_slice(&[0xff; 5]);
    bytes.extend_from_slice(&[0x00; 3000]);
    fs::write(&wal, &bytes).unwrap();
    assert_eq!(answers(&open(dir.path())), after[5]);
}

#[test]
fn a_damaged_snapshot_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path());
        setup(&db);
        db.append(&batch(0), None, now()).unwrap();
        db.checkpoint().unwrap();
    }
    let snap = dir.path().join("snapshot.bin");
    let mut bytes = fs::read(&snap).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&snap, &bytes).unwrap();
    match Tsdb::open(dir.path(), TsdbOptions::default()) {
        Err(e @ TsdbError::Corrupt { .. }) => assert!(e.to_string().contains("snapshot.bin")),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a damaged snapshot was accepted"),
    }
}

#[test]
fn a_directory_is_used_by_one_store_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    setup(&first);
    match Tsdb::open(dir.path(), TsdbOptions::default()) {
        Err(e @ TsdbError::Locked { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("another headroom process is using"), "{msg}");
            assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a second store opened a directory in use"),
    }
    // The refused open touched nothing: the first store goes on working.
    first.append(&batch(0), None, now()).unwrap();
    drop(first);
    let again = open(dir.path());
    assert_eq!(again.config_of(&key(0)), Some(occurrences()));
}

#[test]
fn idempotency_keys_survive_restart_and_expire() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path());
        setup(&db);
        let first = db.append(&batch(0), Some("slo-a:42"), now()).unwrap();
        assert_eq!(first, AppendOutcome::Applied { samples: 4 });
        let again = db.append(&batch(0), Some("slo-a:42"), now()).unwrap();
        assert_eq!(again, AppendOutcome::Duplicate);
    }
    let db = open(dir.path());
    let total = |db: &Tsdb| {
        db.with_series(&key(0), |s| s.counts(T0, now() + Span::HOUR).total)
            .unwrap()
    };
    assert_eq!(total(&db), 10.0);
    assert_eq!(
        db.append(&batch(0), Some("slo-a:42"), now()).unwrap(),
        AppendOutcome::Duplicate
    );
    // Another scope's key is a different key.
    assert_eq!(
        db.append(&batch(0), Some("slo-b:42"), now()).unwrap(),
        AppendOutcome::Applied { samples: 4 }
    );
    assert_eq!(total(&db), 20.0);
    // A day later the key is forgotten.
    let later = now() + Span::DAY + Span::MINUTE;
    let fresh = vec![Sample {
        key: key(0),
        at: later,
        good: 1.0,
        total: 1.0,
    }];
    assert_eq!(
        db.append(&fresh, Some("slo-a:42"), later).unwrap(),
        AppendOutcome::Applied { samples: 1 }
    );
}

#[test]
fn a_bad_sample_rejects_the_whole_batch() {
    let db = Tsdb::in_memory();
    setup(&db);
    let good = sample(0, NOW_MIN - 10, 1.0, 1.0);
    type Expect = fn(&SampleError) -> bool;
    let cases: Vec<(Sample, Expect)> = vec![
        (
            Sample {
                key: SeriesKey::ungrouped("nope"),
                ..good.clone()
            },
            |e| matches!(e, SampleError::UnknownSeries(_)),
        ),
        (sample(0, NOW_MIN, 2.0, 1.0), |e| {
            matches!(e, SampleError::GoodExceedsTotal { .. })
        }),
        (sample(0, NOW_MIN, -1.0, 1.0), |e| {
            matches!(e, SampleError::InvalidCounts { .. })
        }),
        (sample(0, NOW_MIN, 0.0, f64::INFINITY), |e| {
            matches!(e, SampleError::InvalidCounts { .. })
        }),
        (sample(0, NOW_MIN - 32 * 1440, 1.0, 1.0), |e| {
            matches!(e, SampleError::TooOld { .. })
        }),
        // The timeslice series keeps 8 days.
        (sample(1, NOW_MIN - 9 * 1440, 1.0, 1.0), |e| {
            matches!(e, SampleError::TooOld { .. })
        }),
        (sample(0, NOW_MIN + 6, 1.0, 1.0), |e| {
            matches!(e, SampleError::TooFarInFuture { .. })
        }),
    ];
    for (bad, is_expected) in cases {
        let result = db.append(&[good.clone(), good.clone(), bad], None, now());
        match result {
            Err(TsdbError::Sample { index: 2, error }) => assert!(is_expected(&error), "{error}"),
            other => panic!("expected sample 2 to be rejected, got {other:?}"),
        }
    }
    let c = db
        .with_series(&key(0), |s| s.counts(T0, now() + Span::HOUR))
        .unwrap();
    assert_eq!(
        c,
        Counts::default(),
        "nothing of a rejected batch is applied"
    );
    // Within max_future is fine.
    db.append(&[sample(0, NOW_MIN + 4, 1.0, 1.0)], None, now())
        .unwrap();
    let err = db
        .append(&[sample(0, NOW_MIN + 7, 1.0, 1.0)], None, now())
        .unwrap_err();
    assert!(err.to_string().contains("too far in the future"), "{err}");
}

#[test]
fn reconfigure_and_removal_persist() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let db = open(dir.path());
        setup(&db);
        for b in 0..50 {
            db.append(&batch(b), None, now()).unwrap();
        }
        db.configure(key(0), timeslices()).unwrap();
        db.configure(key(2), SeriesConfig::occurrences(Span::days(90)))
            .unwrap();
        let removed = db.remove_unlisted(|k| k != &key(1)).unwrap();
        assert_eq!(removed, vec![key(1)]);
        for b in 50..60 {
            let mut keep: Vec<Sample> = batch(b).into_iter().filter(|s| s.key != key(1)).collect();
            keep.push(sample(0, NOW_MIN - 10 - b, 1.0, 1.0));
            db.append(&keep, None, now()).unwrap();
        }
        answers(&db)
    };
    let db = open(dir.path());
    assert_eq!(answers(&db), before);
    assert_eq!(db.keys(), vec![key(2), key(0)]);
    assert_eq!(db.config_of(&key(0)), Some(timeslices()));
    assert!(
        db.with_series(&key(0), |s| s.slices(T0, now()).slices)
            .unwrap()
            > 0.0
    );
}

#[test]
fn concurrent_appends_and_checkpoints_count_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let threads = 4;
    let per_thread = 150;
    {
        let db = Arc::new(open(dir.path()));
        setup(&db);
        let writers: Vec<_> = (0..threads)
            .map(|t| {
                let db = Arc::clone(&db);
                std::thread::spawn(move || {
                    for i in 0..per_thread {
                        let s = Sample {
                            key: key(t % 3),
                            at: at_min(NOW_MIN - 100 + i64::from(i % 90)),
                            good: 1.0,
                            total: 1.0,
                        };
                        db.append(&[s], Some(&format!("t{t}-{i}")), now()).unwrap();
                    }
                })
            })
            .collect();
        let checkpointer = {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for _ in 0..5 {
                    db.checkpoint().unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            })
        };
        for w in writers {
            w.join().unwrap();
        }
        checkpointer.join().unwrap();
    }
    let db = open(dir.path());
    let total: f64 = (0..3)
        .map(|k| {
            db.with_series(&key(k), |s| s.counts(T0, now() + Span::HOUR).total)
                .unwrap()
        })
        .sum();
    assert_eq!(total, f64::from(threads as u32 * per_thread));
}

#[test]
fn in_memory_store_answers_without_files() {
    let db = Tsdb::in_memory();
    setup(&db);
    db.append(&batch(0), None, now()).unwrap();
    db.checkpoint().unwrap();
    db.advance(now()).unwrap();
    let c = db
        .with_series(&key(0), |s| s.counts(T0, now() + Span::HOUR))
        .unwrap();
    assert_eq!((c.good, c.total), (9.0, 10.0));
    // The store accounts for at least every series it holds.
    let mut held = 0;
    db.for_each_series(|_, s| held += s.memory_bytes());
    assert!(held > 3 * 10_000, "{held}");
    assert!(db.memory_bytes() >= held);
    let mut seen = 0;
    db.for_each_series(|_, s| seen += usize::from(s.latest().is_some()));
    assert_eq!(seen, 3);
}

#[test]
fn counter_increments_may_lead_or_trail_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    setup(&db);
    // Good arriving before its total, then a bad count subtracted after its total: each is
    // refused as an observed event, accepted as an increment.
    let m = NOW_MIN - 5;
    let early_good = vec![sample(0, m, 8.0, 0.0)];
    let late_bad = vec![sample(0, m, -2.0, 10.0)];
    for b in [&early_good, &late_bad] {
        assert!(matches!(
            db.append(b, None, now()),
            Err(TsdbError::Sample { index: 0, .. })
        ));
    }
    db.append_increments(&early_good, now()).unwrap();
    db.append_increments(&late_bad, now()).unwrap();
    let nan = vec![sample(0, m, f64::NAN, 1.0)];
    assert!(
        db.append_increments(&nan, now()).is_err(),
        "still finite only"
    );
    let counts = |db: &Tsdb| {
        db.with_series(&key(0), |s| s.counts(at_min(m), at_min(m + 1)))
            .unwrap()
    };
    assert_eq!(
        counts(&db),
        Counts {
            good: 6.0,
            total: 10.0
        }
    );
    drop(db);
    assert_eq!(
        counts(&open(dir.path())),
        Counts {
            good: 6.0,
            total: 10.0
        }
    );
}
