//! Counter baselines and follower steps across a restart of the service over the same data
//! directory: remote-written and scraped counters count their increase across the restart once,
//! and a backend follower resumes right after the last step it stored.
//!
//! A restart here drops the service without its shutdown checkpoint (what kill -9 leaves, page
//! cache aside): in process for the samples written directly, and by dropping a whole tokio
//! runtime, every task where it stands, for the scrape loops and the follower.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use headroom_core::{SliData, Span, Timestamp};
use headroom_service::signals::follower_baseline;
use headroom_service::{ConfigSource, Headroom, build_state, load_config, system_clock, workers};
use headroom_store::Store;
use headroom_tsdb::{SeriesKey, Tsdb, TsdbOptions};

/// 2027-01-15T08:00:00Z, on a minute.
const T0: i64 = 1_800_000_000_000;

fn at(secs: i64) -> Timestamp {
    Timestamp(T0 + secs * 1000)
}

fn ratio_slo(name: &str, selector: &str) -> String {
    format!(
        "  - name: {name}\n    service: test\n    objective: 99\n    window: 1d\n    sli:\n      ratio:\n        good: sum(rate(test_requests_total{{{selector}code!~\"5..\"}}[{{{{.window}}}}]))\n        total: sum(rate(test_requests_total{{{selector}}}[{{{{.window}}}}]))\n"
    )
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let file = dir.join("headroom.yaml");
    std::fs::write(&file, text).unwrap();
    file
}

/// One life of the service: its SLI store in `data/sli`, its SQL state in `data/state.db`.
async fn open(data: &Path, config: &Path, clock: headroom_service::Clock) -> Headroom {
    std::fs::create_dir_all(data).unwrap();
    let store = Store::open(&format!("sqlite://{}", data.join("state.db").display()))
        .await
        .unwrap();
    let tsdb = Tsdb::open(&data.join("sli"), TsdbOptions::default()).unwrap();
    build_state(
        ConfigSource::Paths(vec![config.to_owned()]),
        tsdb,
        store,
        clock,
    )
    .await
    .unwrap()
}

/// Good and total an SLO's series holds over `[from, to)`.
fn counts(h: &Headroom, slo: &str, from: Timestamp, to: Timestamp) -> (f64, f64) {
    h.engine
        .tsdb()
        .with_series(&SeriesKey::ungrouped(slo), |s| {
            let c = s.counts(from, to);
            (c.good, c.total)
        })
        .unwrap()
}

type Series = (Vec<(String, String)>, Vec<(Timestamp, f64)>);

fn series(code: &str, instance: &str, samples: &[(i64, f64)]) -> Series {
    let mut labels = vec![
        ("__name__".to_string(), "test_requests_total".to_string()),
        ("code".to_string(), code.to_string()),
        ("instance".to_string(), instance.to_string()),
        ("job".to_string(), "app".to_string()),
    ];
    labels.sort();
    (labels, samples.iter().map(|&(s, v)| (at(s), v)).collect())
}

fn take(h: &Headroom, request: &[Series]) -> usize {
    h.take_samples(request.iter().map(|(l, s)| (l.as_slice(), s.as_slice())))
        .unwrap()
}

/// Remote-written requests across restarts, with the clock under the test's control. Each crash
/// happens at a different point: with everything in the log, after a checkpoint, and with the
/// last record torn (a crash mid-write): its request was never answered, so it is sent again.
/// Two SLOs read the same series, so one record carries increments of both.
#[tokio::test]
async fn remote_written_counters_count_their_increase_across_restarts_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "slos:\n{}{}",
            ratio_slo("app", "job=\"app\","),
            ratio_slo("app-eu", "instance=\"eu\","),
        ),
    );
    let data = dir.path().join("data");
    let now = Arc::new(Mutex::new(at(0)));
    let clock: headroom_service::Clock = {
        let now = now.clone();
        Arc::new(move || *now.lock().unwrap())
    };
    let set_now = |s: i64| *now.lock().unwrap() = at(s);

    // Two instances, each with a 200 and a 500 counter; 15 s apart, four per request.
    let request = |k: i64| -> Vec<Series> {
        let t = |i: i64| 60 * k + 15 * i;
        let mut r = Vec::new();
        for (instance, base) in [("eu", 1000.0), ("us", 50.0)] {
            let ok: Vec<(i64, f64)> = (0..4)
                .map(|i| (t(i), base + (4 * k + i) as f64 * 9.0))
                .collect();
            let bad: Vec<(i64, f64)> = (0..4).map(|i| (t(i), (4 * k + i) as f64)).collect();
            r.push(series("200", instance, &ok));
            r.push(series("500", instance, &bad));
        }
        r
    };
    // Per request after the first sample of each counter: 4 × (9 + 1) per instance.
    let per_request = 40.0;
    let whole = |k: i64| per_request * (k + 1) as f64 - 10.0;
    let window = |h: &Headroom, slo| counts(h, slo, at(-60), at(3600));

    // Life 1: requests 0..3, then a crash with everything in the log.
    let h = open(&data, &config, clock.clone()).await;
    for k in 0..3 {
        set_now(60 * k + 50);
        take(&h, &request(k));
    }
    assert_eq!(window(&h, "app").1, 2.0 * whole(2));
    assert_eq!(window(&h, "app-eu").1, whole(2));
    h.store.close().await;
    drop(h);

    // Life 2: request 2 again (its answer was lost), then 3..6, a checkpoint after 4.
    let h = open(&data, &config, clock.clone()).await;
    assert_eq!(window(&h, "app").1, 2.0 * whole(2), "replayed from the log");
    for k in 2..6 {
        set_now(60 * k + 50);
        take(&h, &request(k));
        if k == 4 {
            workers::checkpoint(&h).await;
        }
    }
    assert_eq!(h.signals.router_stats().series_resumed, 4);
    assert_eq!(window(&h, "app").1, 2.0 * whole(5));
    h.store.close().await;
    drop(h);

    // Life 3 (snapshot and log): request 6 is written, then torn off the log by the crash.
    let h = open(&data, &config, clock.clone()).await;
    assert_eq!(window(&h, "app").1, 2.0 * whole(5), "snapshot + log");
    set_now(60 * 6 + 50);
    take(&h, &request(6));
    assert_eq!(window(&h, "app").1, 2.0 * whole(6));
    h.store.close().await;
    drop(h);
    let sli = data.join("sli");
    let wal = std::fs::read_dir(&sli)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .max()
        .unwrap();
    let len = std::fs::metadata(&wal).unwrap().len();
    std::fs::File::options()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(len - 5)
        .unwrap();

    // Life 4: neither request 6's increments nor its baselines survived; its retry counts it.
    let h = open(&data, &config, clock.clone()).await;
    assert_eq!(
        window(&h, "app").1,
        2.0 * whole(5),
        "the torn record is gone whole"
    );
    for k in 6..8 {
        set_now(60 * k + 50);
        take(&h, &request(k));
    }
    let (good, total) = window(&h, "app");
    assert_eq!(total, 2.0 * whole(7));
    // Good: 9 per sample after the first of each 200 counter.
    assert_eq!(good, 2.0 * (36.0 * 8.0 - 9.0));
    let (good, total) = window(&h, "app-eu");
    assert_eq!((good, total), (36.0 * 8.0 - 9.0, whole(7)));
    h.store.close().await;
}

/// A tiny HTTP/1.1 server, a thread per connection: `answer(path, body)` gives the body of a
/// 200 answer, or `None` to hold the connection open without answering (a slow backend).
fn serve(answer: impl Fn(&str, &str) -> Option<String> + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let answer = answer.clone();
            std::thread::spawn(move || respond(stream, &*answer));
        }
    });
    addr
}

fn respond(stream: TcpStream, answer: &(dyn Fn(&str, &str) -> Option<String> + Send + Sync)) {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut len = 0;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    if r.read_exact(&mut body).is_err() {
        return;
    }
    let Some(out) = answer(&path, &String::from_utf8_lossy(&body)) else {
        // Held: the connection stays open until the client goes away.
        let _ = r.read_to_end(&mut Vec::new());
        return;
    };
    let mut s = r.into_inner();
    let _ = write!(
        s,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{out}",
        out.len()
    );
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One life of `headroom serve`'s workers on its own runtime; dropping the runtime ends every
/// task where it stands.
struct Life {
    rt: tokio::runtime::Runtime,
    h: Option<Headroom>,
}

impl Life {
    fn start(data: &Path, config: &Path) -> Life {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let h = rt.block_on(async {
            let h = open(data, config, system_clock()).await;
            let (cfg, _) = load_config(&ConfigSource::Paths(vec![config.to_owned()])).unwrap();
            workers::start(&h, &cfg).await;
            h
        });
        Life { rt, h: Some(h) }
    }

    fn h(&self) -> &Headroom {
        self.h.as_ref().unwrap()
    }

    /// Ends the life without a checkpoint: tasks are dropped mid-way, blocking writes finish.
    fn kill(mut self) {
        let h = self.h.take().unwrap();
        self.rt.block_on(async move { drop(h) });
        self.rt.shutdown_timeout(Duration::from_secs(20));
    }
}

/// headroom scrapes a target itself; its counters move before, during and after headroom is
/// down, and all of it is counted once.
#[test]
fn a_scraped_counter_counts_its_increase_across_a_restart_once() {
    let dir = tempfile::tempdir().unwrap();
    let counters = Arc::new(Mutex::new((1000.0f64, 10.0f64)));
    let scrapes = Arc::new(Mutex::new(0u64));
    let target = {
        let (counters, scrapes) = (counters.clone(), scrapes.clone());
        serve(move |_, _| {
            *scrapes.lock().unwrap() += 1;
            let (ok, bad) = *counters.lock().unwrap();
            Some(format!(
                "# TYPE test_requests_total counter\ntest_requests_total{{code=\"200\"}} {ok}\ntest_requests_total{{code=\"500\"}} {bad}\n"
            ))
        })
    };
    let config = write_config(
        dir.path(),
        &format!(
            "scrape:\n  - job: direct\n    interval: 1s\n    timeout: 1s\n    targets: [\"{target}\"]\nslos:\n{}",
            ratio_slo("scraped", "job=\"direct\","),
        ),
    );
    let data = dir.path().join("data");
    let bump = |ok: f64, bad: f64| {
        let mut c = counters.lock().unwrap();
        c.0 += ok;
        c.1 += bad;
    };
    let scraped = || *scrapes.lock().unwrap();
    let total = |life: &Life| {
        let now = life.h().now();
        counts(life.h(), "scraped", now - Span::HOUR, now + Span::HOUR)
    };

    let life = Life::start(&data, &config);
    // Two scrapes at the starting values: the baseline.
    wait_for("the first scrapes", || scraped() >= 2);
    bump(50.0, 1.0);
    wait_for("the first increase", || total(&life) == (50.0, 51.0));
    bump(30.0, 2.0);
    life.kill();

    // Down: the counters keep going.
    bump(70.0, 3.0);
    let want = (150.0, 156.0);

    let life = Life::start(&data, &config);
    wait_for("the increase across the restart", || total(&life) == want);
    assert_eq!(life.h().signals.router_stats().series_resumed, 2);
    // Later scrapes of unchanged counters add nothing.
    let seen = scraped();
    wait_for("three more scrapes", || scraped() >= seen + 3);
    assert_eq!(total(&life), want);
    life.kill();
}

/// A stand-in for Prometheus's HTTP API (the fake): per 10 s step ending at `t`, a total rate of
/// `1 + (t/10 mod 5)` and a bad rate of `(t/10 mod 3) / 10` per second. Every `query_range` is
/// logged; those from the `hold_from`-th on (counting from 0) are held unanswered.
fn fake_prometheus(log: Arc<Mutex<Vec<(f64, f64)>>>, hold_from: Arc<AtomicUsize>) -> SocketAddr {
    serve(move |path, body| {
        if !path.ends_with("/api/v1/query_range") {
            return Some(
                r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#.into(),
            );
        }
        let form: Vec<(String, String)> = body
            .split('&')
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k.to_string(), decode(v)))
            })
            .collect();
        let get = |k: &str| form.iter().find(|(n, _)| n == k).unwrap().1.clone();
        let (start, end): (f64, f64) = (get("start").parse().unwrap(), get("end").parse().unwrap());
        let n = {
            let mut log = log.lock().unwrap();
            log.push((start, end));
            log.len() - 1
        };
        if n >= hold_from.load(Ordering::SeqCst) {
            return None;
        }
        let bad = get("query").contains("t_bad");
        let mut values = Vec::new();
        let mut t = start;
        while t <= end {
            let n = (t / 10.0).round() as i64;
            let v = if bad {
                (n % 3) as f64 / 10.0
            } else {
                1.0 + (n % 5) as f64
            };
            values.push(format!("[{t},\"{v}\"]"));
            t += 10.0;
        }
        Some(format!(
            r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":[{}]}}]}}}}"#,
            values.join(",")
        ))
    })
}

fn decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Each step's counts, as the fake answers them: (good, total) of the step ending at `t` secs.
fn step_counts(t: i64) -> (f64, f64) {
    let n = t / 10;
    let total = 10.0 * (1 + n % 5) as f64;
    let bad = (n % 3) as f64;
    (total - bad, total)
}

/// A backend follower killed while a step's query is in flight resumes right after the last step
/// it stored: the step in flight is asked again, once, and no step is skipped. (The backend is a
/// fake: its answers must be known exactly per step to see a step counted twice.)
#[test]
fn a_follower_resumes_after_its_last_stored_step_with_a_fake_backend() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    // The backfill's two queries are answered, the next step's is held.
    let hold_from = Arc::new(AtomicUsize::new(2));
    let backend = fake_prometheus(log.clone(), hold_from.clone());
    let config = write_config(
        dir.path(),
        &format!(
            "backends:\n  - name: prom\n    prometheus: {{url: \"http://{backend}\", timeout: 30s}}\n    interval: 10s\n    delay: 1s\n    default: true\nslos:\n  - name: shop\n    service: shop\n    objective: 99\n    window: 1h\n    sli:\n      ratio:\n        bad: sum(rate(t_bad[{{{{.window}}}}]))\n        total: sum(rate(t_total[{{{{.window}}}}]))\n"
        ),
    );
    let data = dir.path().join("data");
    let asked = || log.lock().unwrap().clone();

    // Life 1: the backfill (two queries) is stored; the next step's query is held, and the
    // service dies with it in flight.
    let life = Life::start(&data, &config);
    wait_for("the backfill", || {
        follower_baseline(life.h().engine.tsdb(), "shop").is_some()
    });
    let backfilled = follower_baseline(life.h().engine.tsdb(), "shop").unwrap();
    wait_for("a step in flight", || asked().len() >= 3);
    assert_eq!(
        follower_baseline(life.h().engine.tsdb(), "shop"),
        Some(backfilled),
        "nothing stored while the step is in flight"
    );
    let in_flight = asked()[2];
    life.kill();
    hold_from.store(usize::MAX, Ordering::SeqCst);
    let before_restart = asked().len();

    // Life 2: resumes with the step that was in flight, then goes on.
    let life = Life::start(&data, &config);
    let resumed_at = backfilled.millis() as f64 / 1000.0 + 10.0;
    wait_for("two stored fetches after the restart", || {
        follower_baseline(life.h().engine.tsdb(), "shop")
            .is_some_and(|b| b.millis() as f64 / 1000.0 >= resumed_at + 10.0)
    });
    life.kill();

    let asked = asked();
    let (first, _) = asked[0];
    let resumed = asked[before_restart];
    assert_eq!(resumed.0, resumed_at, "the first fetch after the restart");
    assert_eq!(in_flight.0, resumed_at, "the step that was in flight");

    // What the store holds, reopened as a third start would: every step after the backfill's
    // first minute up to the stored baseline, each once. (The backfill's very first step may lie
    // a moment outside the window when stored, and is then dropped: its minute is not compared.)
    let db = Tsdb::open(&data.join("sli"), TsdbOptions::default()).unwrap();
    let last = follower_baseline(&db, "shop").unwrap();
    let (first, last) = ((first as i64) * 1000, last.millis());
    let key = SeriesKey::ungrouped("shop");
    let mut minute = Timestamp(first - 1).floor(Span::MINUTE) + Span::MINUTE;
    let mut steps = 0;
    while minute.millis() <= last {
        let next = minute + Span::MINUTE;
        let (mut good, mut total) = (0.0, 0.0);
        // A step (t − 10 s, t] is stored at its last millisecond, in the minute holding t − 1 ms.
        let mut t = first;
        while t <= last {
            if Timestamp(t - 1) >= minute && Timestamp(t - 1) < next {
                let (g, n) = step_counts(t / 1000);
                good += g;
                total += n;
                steps += 1;
            }
            t += 10_000;
        }
        let c = db.with_series(&key, |s| s.counts(minute, next)).unwrap();
        assert!(
            (c.good - good).abs() < 1e-6 && (c.total - total).abs() < 1e-6,
            "minute {minute}: stored {} of {}, the backend says {good} of {total}",
            c.good,
            c.total
        );
        minute = next;
    }
    assert!(steps > 350, "the window and the steps after it: {steps}");
    let after = db
        .with_series(&key, |s| {
            s.counts(
                Timestamp(last).floor(Span::MINUTE) + Span::MINUTE,
                Timestamp(last) + Span::HOUR,
            )
            .total
        })
        .unwrap();
    assert_eq!(after, 0.0, "nothing stored past the stored baseline");
}
