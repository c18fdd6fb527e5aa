//! Scheduling: every configured probe runs on its own interval, for as long as its fleet lives.
//!
//! - A probe's first run is offset within its interval by a hash of its name, so probes
//!   configured together do not all fire at once, and a restart keeps each probe's phase.
//! - A probe never overlaps itself: its loop awaits each run, and a run that overruns its
//!   interval delays the next tick rather than queueing a burst (`MissedTickBehavior::Delay`).
//! - At most `max_concurrency` runs are in flight across the fleet.
//! - Heartbeat probes are not executed: each interval they look at the `HeartbeatBoard`.
//! - Dropping the fleet (or `stop`) ends every probe task; a reload replaces the fleet.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::run::{Clients, execute};
use crate::spec::{ProbeKind, ProbeResult, ProbeSpec};

/// Receives every run's result, on the probe's task; it should hand off, not block.
pub type ResultSink = Arc<dyn Fn(&ProbeSpec, ProbeResult) + Send + Sync>;
/// Wall time in unix milliseconds.
pub type WallClock = Arc<dyn Fn() -> i64 + Send + Sync>;

type RunFuture = Pin<Box<dyn Future<Output = ProbeResult> + Send>>;
/// How one run is performed; the network in production, a scripted target in tests.
type Executor = Arc<dyn Fn(Arc<ProbeSpec>, i64) -> RunFuture + Send + Sync>;

/// The last ping each heartbeat probe received, shared across fleets so a reload does not
/// forget them.
#[derive(Debug, Default)]
pub struct HeartbeatBoard {
    pings: Mutex<HashMap<String, i64>>,
}

impl HeartbeatBoard {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a ping; an older ping arriving late does not move the time back.
    pub fn ping(&self, name: &str, at_ms: i64) {
        let mut pings = self.pings.lock().unwrap_or_else(|e| e.into_inner());
        let last = pings.entry(name.to_string()).or_insert(at_ms);
        *last = (*last).max(at_ms);
    }

    pub fn last_ping(&self, name: &str) -> Option<i64> {
        let pings = self.pings.lock().unwrap_or_else(|e| e.into_inner());
        pings.get(name).copied()
    }

    /// A heartbeat's verdict at `now_ms`: up when a ping arrived within the last `interval`.
    pub fn judge(&self, name: &str, interval: Duration, now_ms: i64) -> ProbeResult {
        let window_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        let last = self.last_ping(name);
        let error = match last {
            Some(at) if at >= now_ms.saturating_sub(window_ms) => None,
            Some(at) => Some(format!(
                "no ping since {} ({}s ago; expected one every {}s)",
                format_unix_ms(at),
                (now_ms - at) / 1000,
                interval.as_secs_f64()
            )),
            None => Some(format!(
                "no ping received yet (expected one every {}s)",
                interval.as_secs_f64()
            )),
        };
        ProbeResult {
            started_ms: now_ms,
            duration: Duration::ZERO,
            success: error.is_none(),
            status_code: None,
            certificate_expiry_unix: None,
            ip: None,
            error,
            conditions: Vec::new(),
        }
    }
}

fn format_unix_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// Where in its interval a probe's first run falls: a stable hash (FNV-1a, not std's
/// randomly keyed one) of its name, so the phase survives restarts and reloads.
pub fn start_offset(name: &str, interval: Duration) -> Duration {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
    if interval_ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(hash % interval_ms)
}

/// The running probes of one configuration. Dropping it stops them all.
#[must_use = "dropping the fleet stops its probes"]
pub struct ProbeFleet {
    tasks: JoinSet<()>,
}

impl ProbeFleet {
    /// Starts one task per probe on the current tokio runtime.
    pub fn spawn(
        specs: Vec<ProbeSpec>,
        max_concurrency: usize,
        heartbeats: Arc<HeartbeatBoard>,
        sink: ResultSink,
        clock: WallClock,
    ) -> ProbeFleet {
        let clients = Arc::new(Clients::new());
        let executor: Executor = Arc::new(move |spec, now_ms| {
            let clients = clients.clone();
            Box::pin(async move { execute(&spec, &clients, now_ms).await })
        });
        Self::spawn_with(specs, max_concurrency, heartbeats, sink, clock, executor)
    }

    fn spawn_with(
        specs: Vec<ProbeSpec>,
        max_concurrency: usize,
        heartbeats: Arc<HeartbeatBoard>,
        sink: ResultSink,
        clock: WallClock,
        executor: Executor,
    ) -> ProbeFleet {
        let permits = Arc::new(Semaphore::new(max_concurrency.max(1)));
        let start = Instant::now();
        let mut tasks = JoinSet::new();
        for mut spec in specs {
            // A zero interval would spin; the loader rejects it, this only keeps a bad spec
            // from taking a core.
            spec.interval = spec.interval.max(Duration::from_millis(1));
            spec.timeout = spec.timeout.min(spec.interval);
            let spec = Arc::new(spec);
            let (sink, clock) = (sink.clone(), clock.clone());
            if matches!(spec.kind, ProbeKind::Heartbeat) {
                let heartbeats = heartbeats.clone();
                // The first verdict comes one interval in, giving the sender a chance to ping.
                let mut ticks = tokio::time::interval_at(start + spec.interval, spec.interval);
                ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
                tasks.spawn(async move {
                    loop {
                        ticks.tick().await;
                        let result = heartbeats.judge(&spec.name, spec.interval, clock());
                        sink(&spec, result);
                    }
                });
                continue;
            }
            let (permits, executor) = (permits.clone(), executor.clone());
            let first = start + start_offset(&spec.name, spec.interval);
            let mut ticks = tokio::time::interval_at(first, spec.interval);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            tasks.spawn(async move {
                loop {
                    ticks.tick().await;
                    let Ok(permit) = permits.acquire().await else {
                        return; // never closed; nothing to run without permits
                    };
                    let result = executor(spec.clone(), clock()).await;
                    drop(permit);
                    sink(&spec, result);
                }
            });
        }
        ProbeFleet { tasks }
    }

    /// How many probes the fleet runs.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Stops every probe and waits until none is running, so no result arrives afterwards.
    pub async fn stop(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::Outcome;

    type Log = Arc<Mutex<Vec<(String, i64, i64)>>>;
    type Results = Arc<Mutex<Vec<(String, ProbeResult)>>>;

    fn probe(name: &str, interval_s: u64) -> ProbeSpec {
        ProbeSpec {
            name: name.to_string(),
            kind: ProbeKind::Tcp(crate::spec::TcpProbe {
                address: "127.0.0.1:1".into(),
                send: None,
                expect: None,
            }),
            interval: Duration::from_secs(interval_s),
            timeout: Duration::from_secs(interval_s),
            conditions: Vec::new(),
        }
    }

    fn ok(started_ms: i64) -> ProbeResult {
        ProbeResult {
            started_ms,
            duration: Duration::ZERO,
            success: true,
            status_code: None,
            certificate_expiry_unix: None,
            ip: None,
            error: None,
            conditions: vec![Outcome {
                success: true,
                detail: "scripted".into(),
            }],
        }
    }

    /// Milliseconds of paused tokio time since the test began.
    fn test_clock() -> WallClock {
        let base = Instant::now();
        Arc::new(move || base.elapsed().as_millis() as i64)
    }

    /// A target that takes `delay` per run and logs (name, start, end), tracking how many
    /// runs overlap.
    fn scripted(delay: Duration, log: Log, in_flight: Arc<Mutex<(usize, usize)>>) -> Executor {
        let clock = test_clock();
        Arc::new(move |spec: Arc<ProbeSpec>, now_ms| {
            let (log, in_flight, clock) = (log.clone(), in_flight.clone(), clock.clone());
            Box::pin(async move {
                {
                    let mut f = in_flight.lock().unwrap();
                    f.0 += 1;
                    f.1 = f.1.max(f.0);
                }
                tokio::time::sleep(delay).await;
                in_flight.lock().unwrap().0 -= 1;
                log.lock()
                    .unwrap()
                    .push((spec.name.clone(), now_ms, clock()));
                ok(now_ms)
            })
        })
    }

    fn collect() -> (ResultSink, Results) {
        let results = Results::default();
        let sink_results = results.clone();
        let sink: ResultSink = Arc::new(move |spec: &ProbeSpec, result| {
            sink_results
                .lock()
                .unwrap()
                .push((spec.name.clone(), result));
        });
        (sink, results)
    }

    #[tokio::test(start_paused = true)]
    async fn first_runs_spread_by_name_hash() {
        let log = Log::default();
        let executor = scripted(Duration::ZERO, log.clone(), Arc::default());
        let specs: Vec<_> = (0..20).map(|i| probe(&format!("probe-{i}"), 10)).collect();
        let (sink, _) = collect();
        let fleet =
            ProbeFleet::spawn_with(specs, 100, Arc::default(), sink, test_clock(), executor);
        assert_eq!(fleet.len(), 20);
        tokio::time::sleep(Duration::from_millis(9_999)).await;
        let log = log.lock().unwrap().clone();
        assert_eq!(log.len(), 20, "each probe ran once in its first interval");
        let mut starts: Vec<i64> = log.iter().map(|(_, start, _)| *start).collect();
        for (name, start, _) in &log {
            let expected = start_offset(name, Duration::from_secs(10)).as_millis() as i64;
            assert_eq!(*start, expected, "{name} starts at its offset");
        }
        starts.sort();
        starts.dedup();
        assert!(starts.len() >= 19, "offsets are spread: {starts:?}");
        assert!(starts.last().unwrap() - starts.first().unwrap() > 5_000);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_run_delays_the_next_instead_of_overlapping() {
        let log = Log::default();
        let in_flight = Arc::new(Mutex::new((0, 0)));
        let executor = scripted(Duration::from_secs(25), log.clone(), in_flight.clone());
        let (sink, results) = collect();
        let fleet = ProbeFleet::spawn_with(
            vec![probe("slow", 10)],
            10,
            Arc::default(),
            sink,
            test_clock(),
            executor,
        );
        tokio::time::sleep(Duration::from_secs(100)).await;
        fleet.stop().await;
        let log = log.lock().unwrap().clone();
        assert_eq!(in_flight.lock().unwrap().1, 1, "never two runs at once");
        let offset = start_offset("slow", Duration::from_secs(10)).as_millis() as i64;
        let starts: Vec<i64> = log.iter().map(|(_, start, _)| *start).collect();
        // Runs back to back from the offset, each starting when the previous ended.
        let expected: Vec<i64> = (0..starts.len() as i64)
            .map(|k| offset + k * 25_000)
            .collect();
        assert_eq!(starts, expected);
        assert!(starts.len() >= 3);
        for pair in log.windows(2) {
            assert!(
                pair[1].1 >= pair[0].2,
                "next started before the previous ended"
            );
        }
        assert_eq!(results.lock().unwrap().len(), log.len());
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_is_bounded_across_the_fleet() {
        let log = Log::default();
        let in_flight = Arc::new(Mutex::new((0, 0)));
        let executor = scripted(Duration::from_secs(3), log.clone(), in_flight.clone());
        let specs: Vec<_> = (0..12).map(|i| probe(&format!("p{i}"), 5)).collect();
        let (sink, _) = collect();
        let fleet = ProbeFleet::spawn_with(specs, 2, Arc::default(), sink, test_clock(), executor);
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(fleet);
        assert_eq!(
            in_flight.lock().unwrap().1,
            2,
            "the bound was reached and never exceeded"
        );
        // Two slots of 3 s runs: at most 2 × 60 / 3 runs could complete.
        let runs = log.lock().unwrap().len();
        assert!((36..=40).contains(&runs), "{runs} runs");
    }

    #[tokio::test(start_paused = true)]
    async fn stopping_ends_every_probe() {
        let log = Log::default();
        let executor = scripted(Duration::from_millis(10), log.clone(), Arc::default());
        let (sink, results) = collect();
        let fleet = ProbeFleet::spawn_with(
            (0..5).map(|i| probe(&format!("p{i}"), 1)).collect(),
            5,
            Arc::default(),
            sink,
            test_clock(),
            executor,
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
        fleet.stop().await;
        let seen = results.lock().unwrap().len();
        assert!(seen >= 45, "{seen}");
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(results.lock().unwrap().len(), seen, "no result after stop");
    }

    #[tokio::test(start_paused = true)]
    async fn heartbeats_pass_only_with_a_recent_ping() {
        let board = Arc::new(HeartbeatBoard::new());
        let clock = test_clock();
        let (sink, results) = collect();
        let spec = ProbeSpec {
            kind: ProbeKind::Heartbeat,
            ..probe("backup", 60)
        };
        let executor = scripted(Duration::ZERO, Log::default(), Arc::default());
        let _fleet =
            ProbeFleet::spawn_with(vec![spec], 1, board.clone(), sink, clock.clone(), executor);
        // 0–60 s: no ping at all. 90 s: a ping. 120 s: received. 180 s: stale again.
        tokio::time::sleep(Duration::from_secs(90)).await;
        board.ping("backup", clock());
        tokio::time::sleep(Duration::from_secs(95)).await;
        let results = results.lock().unwrap().clone();
        let verdicts: Vec<(i64, bool)> = results
            .iter()
            .map(|(_, r)| (r.started_ms, r.success))
            .collect();
        assert_eq!(
            verdicts,
            [(60_000, false), (120_000, true), (180_000, false)]
        );
        assert_eq!(
            results[0].1.error.as_deref(),
            Some("no ping received yet (expected one every 60s)")
        );
        assert_eq!(
            results[2].1.error.as_deref(),
            Some("no ping since 1970-01-01T00:01:30.000Z (90s ago; expected one every 60s)")
        );
    }

    #[test]
    fn late_pings_do_not_move_time_back() {
        let board = HeartbeatBoard::new();
        board.ping("job", 5_000);
        board.ping("job", 3_000);
        assert_eq!(board.last_ping("job"), Some(5_000));
        assert!(board.judge("job", Duration::from_secs(10), 15_000).success);
        assert!(!board.judge("job", Duration::from_secs(10), 15_001).success);
        assert_eq!(board.last_ping("other"), None);
    }
}
