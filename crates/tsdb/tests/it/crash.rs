//! kill -9 in the middle of appends and checkpoints: every acknowledged batch is counted exactly
//! once after reopening, and no batch is half applied.
//!
//! The child is this test binary itself, re-run with [`CHILD_ENV`] set and filtered to
//! [`crash_child`]: it appends batches from two threads (so group commit is exercised),
//! checkpoints now and then, and prints `ack <batch>` once `append` has returned.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use headroom_core::{SliData, Span};
use headroom_tsdb::{AppendOutcome, Sample, SeriesConfig, SeriesKey, Tsdb, TsdbOptions};

use crate::at_min;

const CHILD_ENV: &str = "HEADROOM_TSDB_CRASH_DIR";
const SERIES: usize = 4;
/// Batch `i` writes one event to each series of group `i / MINUTES`, in minute `i % MINUTES`:
/// a cell of its own, within the minute level, so each batch can be counted on its own.
const MINUTES: i64 = 1400;
const GROUPS: i64 = 50;
const BATCHES: i64 = MINUTES * GROUPS;
const WRITERS: usize = 2;

fn key(group: i64, s: usize) -> SeriesKey {
    SeriesKey::new("crash", format!("group={group},series={s}"))
}

fn batch(i: i64) -> Vec<Sample> {
    (0..SERIES)
        .map(|s| Sample {
            key: key(i / MINUTES, s),
            at: at_min(i % MINUTES) + Span::SECOND * 30,
            good: 1.0,
            total: 1.0,
        })
        .collect()
}

fn now() -> headroom_core::Timestamp {
    at_min(MINUTES + 10)
}

/// The child: runs only when re-executed by the parent test.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let db = Arc::new(Tsdb::open(dir.as_ref(), TsdbOptions::default()).unwrap());
    for g in 0..GROUPS {
        for s in 0..SERIES {
            db.configure(key(g, s), SeriesConfig::occurrences(Span::days(2)))
                .unwrap();
        }
    }
    let next = Arc::new(AtomicI64::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (db, next) = (Arc::clone(&db), Arc::clone(&next));
            std::thread::spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= BATCHES {
                        return;
                    }
                    db.append(&batch(i), Some(&format!("batch-{i}")), now())
                        .unwrap();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ack {i}").unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    let checkpointer = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(25));
                db.checkpoint().unwrap();
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    drop(checkpointer);
    // Everything written: wait to be killed.
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn kill_9_loses_no_acknowledged_batch() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    for round in 0..4 {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "crash::crash_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let acked = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let acked = Arc::clone(&acked);
            let stdout = child.stdout.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    // The harness's own "test crash::crash_child ... " may share the first line.
                    if let Some((_, i)) = line.split_once("ack ") {
                        acked.lock().unwrap().push(i.trim().parse::<i64>().unwrap());
                    }
                }
            })
        };
        // Let it get going, then kill it at a random moment.
        let started = Instant::now();
        while acked.lock().unwrap().is_empty() && started.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(2));
        }
        let delay = 5 + RandomState::new().hash_one(round) % 300;
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let acked = acked.lock().unwrap().clone();
        assert!(
            !acked.is_empty(),
            "round {round}: the child acknowledged nothing"
        );

        let db = Tsdb::open(dir.path(), TsdbOptions::default()).unwrap();
        let mut applied = Vec::new();
        for i in 0..BATCHES {
            let minute = at_min(i % MINUTES);
            let per_series: Vec<f64> = (0..SERIES)
                .map(|s| {
                    db.with_series(&key(i / MINUTES, s), |d| {
                        d.counts(minute, minute + Span::MINUTE).total
                    })
                    .unwrap()
                })
                .collect();
            assert!(
                per_series.iter().all(|&t| t == per_series[0]),
                "round {round}: batch {i} half applied: {per_series:?}"
            );
            assert!(
                per_series[0] <= 1.0,
                "round {round}: batch {i} counted {} times",
                per_series[0]
            );
            if per_series[0] == 1.0 {
                applied.push(i);
            }
        }
        for i in &acked {
            assert!(
                applied.contains(i),
                "round {round}: acknowledged batch {i} was lost"
            );
        }
        // At most the batches in flight when killed can be there without an acknowledgement.
        let unacked = applied.iter().filter(|i| !acked.contains(i)).count();
        assert!(
            unacked <= WRITERS,
            "round {round}: {unacked} unacknowledged batches"
        );
        // A retry of an acknowledged batch after the restart is a duplicate.
        let i = acked[acked.len() / 2];
        assert_eq!(
            db.append(&batch(i), Some(&format!("batch-{i}")), now())
                .unwrap(),
            AppendOutcome::Duplicate
        );
        eprintln!(
            "round {round}: killed after {delay} ms with {} acknowledged, {unacked} more applied",
            acked.len()
        );
    }
}
