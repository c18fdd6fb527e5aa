//! headroom beside a real Prometheus (Debian's 2.42, installed by .ci/run): Prometheus scrapes a
//! test target and remote-writes to headroom while headroom scrapes the same target itself. Both
//! routes must count what Prometheus's `increase()` counts over the same range, within 1%, across
//! a counter reset, for Sloth's `rate()` queries and for OpenSLO's `counter: true` queries of the
//! bare counters alike.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{free_port, start_with_token};

/// Kills a child process when dropped, so a failing test leaves nothing running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Counters a test target exposes in the text format: `(code, value)` of `test_requests_total`.
type Counters = Arc<Mutex<Vec<(&'static str, f64)>>>;

/// A minimal HTTP server answering every request with the counters as a metrics page.
fn serve_target(counters: Counters) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let mut body = String::from("# TYPE test_requests_total counter\n");
            for (code, v) in counters.lock().unwrap().iter() {
                body.push_str(&format!("test_requests_total{{code=\"{code}\"}} {v}\n"));
            }
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

fn http(addr: SocketAddr, path: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return (0, String::new());
    };
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_string())
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A Prometheus instant query's vector result: `(labels, value)` pairs.
fn prom_query(prom: SocketAddr, q: &str, at: f64) -> Vec<(Value, f64)> {
    let (status, body) = http(
        prom,
        &format!("/api/v1/query?query={}&time={at:.3}", encode(q)),
    );
    assert_eq!(status, 200, "{q}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let x: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
            (r["metric"].clone(), x)
        })
        .collect()
}

/// Every raw sample Prometheus holds of a series: `(unix seconds, value)`.
/// Prometheus's own `increase()` of `test_requests_total`, good (`code="200"`) and total, over
/// exactly the span of its `code="200"` samples (no extrapolation).
fn prometheus_increase(prom: SocketAddr) -> (f64, f64) {
    let samples = prom_samples(prom, "test_requests_total{code=\"200\"}");
    let (first, last) = (samples[0].0, samples.last().unwrap().0);
    let range_ms = ((last - first) * 1000.0).round() as i64 + 1;
    let increase = |code: &str| -> f64 {
        prom_query(
            prom,
            &format!("increase(test_requests_total{{code=\"{code}\"}}[{range_ms}ms])"),
            last,
        )
        .iter()
        .map(|(_, v)| v)
        .sum()
    };
    let good = increase("200");
    (good, good + increase("500"))
}

fn prom_samples(prom: SocketAddr, selector: &str) -> Vec<(f64, f64)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let (status, body) = http(
        prom,
        &format!(
            "/api/v1/query?query={}&time={now:.3}",
            encode(&format!("{selector}[1h]"))
        ),
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["data"]["result"][0]["values"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .map(|p| {
                    (
                        p[0].as_f64().unwrap(),
                        p[1].as_str().unwrap().parse().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn wait_for(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

fn start_headroom(data: &Path, config: &Path, addr: SocketAddr) -> (Running, String) {
    let (child, token) = start_with_token(data, config, addr);
    (Running(child), token)
}

fn start_prometheus(dir: &Path, config: &str, addr: SocketAddr) -> Running {
    let file = dir.join("prometheus.yml");
    std::fs::write(&file, config).unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus not found: install Debian's prometheus package (bash .ci/run does)");
    let running = Running(child);
    assert!(
        wait_for(Duration::from_secs(30), || http(addr, "/-/ready").0 == 200),
        "prometheus did not become ready"
    );
    running
}

/// An OpenSLO SLO of `job`'s requests, `counter: true` over the bare counters, as a YAML document
/// of its own after the native one.
fn openslo_counter(name: &str, job: &str) -> String {
    format!(
        "---\napiVersion: openslo/v1\nkind: SLO\nmetadata: {{name: {name}}}\nspec:\n  service: test\n  \
         indicator:\n    metadata: {{name: {name}-requests}}\n    spec:\n      ratioMetric:\n        \
         counter: true\n        good: {{metricSource: {{type: Prometheus, spec: {{query: 'sum(test_requests_total{{job=\"{job}\",code!~\"5..\"}})'}}}}}}\n        \
         total: {{metricSource: {{type: Prometheus, spec: {{query: 'sum(test_requests_total{{job=\"{job}\"}})'}}}}}}\n  \
         timeWindow: [{{duration: 1d, isRolling: true}}]\n  budgetingMethod: Occurrences\n  objectives: [{{target: 0.99}}]\n"
    )
}

/// Good and total events headroom holds for an SLO over its whole window.
fn headroom_counts(addr: SocketAddr, slo: &str) -> (f64, f64) {
    let (status, body) = http(addr, &format!("/api/v1/slos/{slo}"));
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    (
        v["good_events"].as_f64().unwrap_or(0.0),
        v["total_events"].as_f64().unwrap_or(0.0),
    )
}

#[test]
fn remote_written_and_scraped_counts_equal_prometheus_increase() {
    let tmp = tempfile::tempdir().unwrap();
    let counters: Counters = Arc::new(Mutex::new(vec![("200", 1000.0), ("500", 10.0)]));
    let target = serve_target(counters.clone());
    let headroom = free_port();
    let prom = free_port();

    let slo = |name: &str, job: &str| {
        format!(
            "  - name: {name}\n    service: test\n    objective: 99\n    window: 1d\n    sli:\n      ratio:\n        good: sum(rate(test_requests_total{{job=\"{job}\",code!~\"5..\"}}[{{{{.window}}}}]))\n        total: sum(rate(test_requests_total{{job=\"{job}\"}}[{{{{.window}}}}]))\n"
        )
    };
    let config = format!(
        "anonymous_read: true\nscrape:\n  - job: direct\n    interval: 1s\n    timeout: 1s\n    targets: [\"{target}\"]\nslos:\n{}{}{}{}",
        slo("via-remote-write", "via-prometheus"),
        slo("via-scrape", "direct"),
        openslo_counter("openslo-via-remote-write", "via-prometheus"),
        openslo_counter("openslo-via-scrape", "direct"),
    );
    let config_file = tmp.path().join("headroom.yaml");
    std::fs::write(&config_file, config).unwrap();
    let (_headroom, token) = start_headroom(&tmp.path().join("data"), &config_file, headroom);

    let _prom = start_prometheus(
        tmp.path(),
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: via-prometheus\n    static_configs:\n      - targets: [\"{target}\"]\nremote_write:\n  - url: http://{headroom}/api/v1/write\n    authorization:\n      credentials: {token}\n    queue_config:\n      batch_send_deadline: 500ms\n      min_backoff: 100ms\n"
        ),
        prom,
    );

    // Both have a baseline sample before the counters move: a series' first sample counts nothing.
    assert!(
        wait_for(Duration::from_secs(20), || {
            prom_samples(prom, "test_requests_total{code=\"200\"}").len() >= 2
        }),
        "prometheus never scraped the target"
    );
    std::thread::sleep(Duration::from_millis(2500));

    // Traffic with a counter reset in the middle (a restarted process). Each state is held over
    // two scrape intervals so both scrapers see every one: a value no scrape saw before a reset
    // is lost to `increase()` as much as to anyone.
    for step in 0..6 {
        {
            let mut c = counters.lock().unwrap();
            if step == 3 {
                // Reset: the new values are counted whole, as increase() does.
                c[0].1 = 40.0;
                c[1].1 = 2.0;
            } else {
                c[0].1 += 97.0;
                c[1].1 += 3.0;
            }
        }
        std::thread::sleep(Duration::from_millis(2200));
    }
    // Let Prometheus flush its remote-write queue.
    std::thread::sleep(Duration::from_millis(1500));

    let (prom_good, prom_total) = prometheus_increase(prom);
    // Good: 3 × 97 (to 1,291), a reset to 40, 2 × 97 more: 291 + 234. Bad: 3 × 3, reset to 2, 2 × 3.
    assert!(
        (prom_good - 525.0).abs() < 1.0 && (prom_total - 542.0).abs() < 1.0,
        "Prometheus's increase(): good {prom_good} of {prom_total}"
    );

    for slo in [
        "via-remote-write",
        "via-scrape",
        "openslo-via-remote-write",
        "openslo-via-scrape",
    ] {
        let mut got = (0.0, 0.0);
        let close = |a: f64, b: f64| (a - b).abs() <= 0.01 * b;
        let agreed = wait_for(Duration::from_secs(20), || {
            got = headroom_counts(headroom, slo);
            close(got.1, prom_total) && close(got.0, prom_good)
        });
        println!(
            "{slo}: headroom good {} of {}; Prometheus increase() good {prom_good} of {prom_total}",
            got.0, got.1
        );
        assert!(
            agreed,
            "{slo}: headroom counted good {} of {}, Prometheus's increase() says {prom_good} of {prom_total}",
            got.0, got.1
        );
    }
}

/// An SLO answered by Prometheus's HTTP API: the window is backfilled with `query_range` at
/// start (data from before headroom ran counts), then each step is asked for once it is complete.
#[test]
fn an_slo_answered_by_a_real_prometheus_backfills_then_follows() {
    let tmp = tempfile::tempdir().unwrap();
    let counters: Counters = Arc::new(Mutex::new(vec![("200", 0.0), ("500", 0.0)]));
    let target = serve_target(counters.clone());
    // Steady traffic: 98 good and 2 bad requests every half second.
    let traffic = counters.clone();
    std::thread::spawn(move || {
        loop {
            {
                let mut c = traffic.lock().unwrap();
                c[0].1 += 98.0;
                c[1].1 += 2.0;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    let prom = free_port();
    let _prom = start_prometheus(
        tmp.path(),
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: shop\n    static_configs:\n      - targets: [\"{target}\"]\n"
        ),
        prom,
    );
    // Let Prometheus hold a few complete 10 s steps before headroom starts.
    std::thread::sleep(Duration::from_secs(25));

    // The same SLI twice: in Sloth's `rate()` form, and as OpenSLO's `counter: true` over the
    // bare counters, which the backend is asked as increases per step.
    let config = format!(
        "anonymous_read: true\nbackends:\n  - name: prom\n    prometheus: {{url: \"http://{prom}\", timeout: 5s}}\n    interval: 10s\n    delay: 2s\n    default: true\nslos:\n  - name: shop\n    service: shop\n    objective: 99\n    window: 1d\n    sli:\n      ratio:\n        bad: sum(rate(test_requests_total{{code=~\"5..\"}}[{{{{.window}}}}]))\n        total: sum(rate(test_requests_total[{{{{.window}}}}]))\n\
         ---\napiVersion: openslo/v1\nkind: SLO\nmetadata: {{name: shop-openslo}}\nspec:\n  service: shop\n  \
         indicator:\n    metadata: {{name: shop-requests}}\n    spec:\n      ratioMetric:\n        counter: true\n        \
         bad: {{metricSource: {{type: Prometheus, spec: {{query: 'sum(test_requests_total{{code=~\"5..\"}})'}}}}}}\n        \
         total: {{metricSource: {{type: Prometheus, spec: {{query: 'sum(test_requests_total)'}}}}}}\n  \
         timeWindow: [{{duration: 1d, isRolling: true}}]\n  budgetingMethod: Occurrences\n  objectives: [{{target: 0.99}}]\n"
    );
    let config_file = tmp.path().join("headroom.yaml");
    std::fs::write(&config_file, config).unwrap();
    let headroom = free_port();
    let (_headroom, _) = start_headroom(&tmp.path().join("data"), &config_file, headroom);

    // The backfill alone brings the steps from before the start.
    let mut first = (0.0, 0.0);
    assert!(
        wait_for(Duration::from_secs(10), || {
            first = headroom_counts(headroom, "shop");
            first.1 > 0.0
        }),
        "no backfill from Prometheus"
    );
    // Traffic is 200 requests a second and headroom started 25 s after Prometheus: the first
    // fetch holds complete steps from before the start (more than 5 s of traffic).
    assert!(first.1 >= 1000.0, "backfilled only {first:?}");
    // Then it follows: a later step arrives without a restart.
    let mut later = first;
    assert!(
        wait_for(Duration::from_secs(20), || {
            later = headroom_counts(headroom, "shop");
            later.1 > first.1
        }),
        "no step followed after the backfill: {first:?}"
    );
    println!("backend: backfilled {first:?}, then {later:?}");
    // 98% of requests are good; rate() × step counts keep that ratio.
    let ratio = later.0 / later.1;
    assert!((ratio - 0.98).abs() < 0.005, "SLI {ratio} from {later:?}");

    // The OpenSLO counter's steps are the same requests: the same share, and counts of the same
    // size (an increase per step taken for a rate would be ten times as many).
    let mut openslo = (0.0, 0.0);
    assert!(
        wait_for(Duration::from_secs(20), || {
            openslo = headroom_counts(headroom, "shop-openslo");
            openslo.1 >= first.1
        }),
        "the OpenSLO counter SLO holds {openslo:?}, the rate SLO {first:?}"
    );
    let now = headroom_counts(headroom, "shop");
    println!("backend: OpenSLO counter {openslo:?}, rate form {now:?}");
    let ratio = openslo.0 / openslo.1;
    assert!((ratio - 0.98).abs() < 0.005, "SLI {ratio} from {openslo:?}");
    assert!(
        openslo.1 <= 2.0 * now.1,
        "OpenSLO counter {openslo:?} against the rate form's {now:?}"
    );
}

/// kill -9 while a real Prometheus keeps remote-writing a counter it scrapes: Prometheus's queue
/// retries through the downtime and resumes into the restarted headroom, and headroom's counts
/// over the whole run still equal Prometheus's own `increase()` over the same samples. The
/// increase while headroom was down (and over any request stored but not answered before the
/// kill) is counted once, because each series' baseline is stored with its increments.
#[test]
fn remote_write_through_a_kill_9_counts_what_prometheus_increase_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let counters: Counters = Arc::new(Mutex::new(vec![("200", 5000.0), ("500", 40.0)]));
    let target = serve_target(counters.clone());
    // Steady traffic, fast enough that one scrape interval's increase lost at a restart would be
    // far more than 1% of the whole.
    let counting = counters.clone();
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let moving = running.clone();
    let traffic = std::thread::spawn(move || {
        while moving.load(std::sync::atomic::Ordering::SeqCst) {
            {
                let mut c = counting.lock().unwrap();
                c[0].1 += 97.0;
                c[1].1 += 3.0;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    });
    let headroom = free_port();
    let prom = free_port();
    let config = "anonymous_read: true\nslos:\n  - name: app\n    service: test\n    objective: 99\n    window: 1d\n    sli:\n      ratio:\n        good: sum(rate(test_requests_total{job=\"app\",code!~\"5..\"}[{{.window}}]))\n        total: sum(rate(test_requests_total{job=\"app\"}[{{.window}}]))\n";
    let config_file = tmp.path().join("headroom.yaml");
    std::fs::write(&config_file, config).unwrap();
    let data = tmp.path().join("data");
    let (mut first_life, token) = start_headroom(&data, &config_file, headroom);

    let _prom = start_prometheus(
        tmp.path(),
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: [\"{target}\"]\nremote_write:\n  - url: http://{headroom}/api/v1/write\n    authorization:\n      credentials: {token}\n    queue_config:\n      batch_send_deadline: 500ms\n      min_backoff: 100ms\n      max_backoff: 1s\n"
        ),
        prom,
    );
    let ok = "test_requests_total{code=\"200\"}";
    let scraped = || prom_samples(prom, ok).len();
    assert!(
        wait_for(Duration::from_secs(30), || headroom_counts(headroom, "app")
            .1
            > 0.0),
        "headroom never counted what Prometheus remote-wrote"
    );
    let seen = scraped();
    assert!(
        wait_for(Duration::from_secs(30), || scraped() >= seen + 2),
        "prometheus stopped scraping"
    );

    // Child::kill sends SIGKILL on unix: no shutdown, no checkpoint.
    first_life.0.kill().unwrap();
    first_life.0.wait().unwrap();
    let down_at = scraped();
    // Prometheus keeps scraping while its remote-write requests fail and are retried.
    assert!(
        wait_for(Duration::from_secs(30), || scraped() >= down_at + 3),
        "prometheus stopped scraping while headroom was down"
    );
    let (_second_life, _) = start_headroom(&data, &config_file, headroom);
    let counted_before = headroom_counts(headroom, "app").1;
    assert!(
        wait_for(Duration::from_secs(60), || {
            headroom_counts(headroom, "app").1 > counted_before
        }),
        "Prometheus's queue never resumed into the restarted headroom"
    );

    // The counters stop; Prometheus holds the final values once two scrapes have read them.
    running.store(false, std::sync::atomic::Ordering::SeqCst);
    traffic.join().unwrap();
    let last = counters.lock().unwrap()[0].1;
    assert!(
        wait_for(Duration::from_secs(30), || {
            let s = prom_samples(prom, ok);
            s.len() >= 2 && s[s.len() - 2..].iter().all(|&(_, v)| v == last)
        }),
        "prometheus never scraped the final value {last}"
    );

    let (prom_good, prom_total) = prometheus_increase(prom);
    assert!(prom_total > 0.0);

    let mut got = (0.0, 0.0);
    let close = |a: f64, b: f64| (a - b).abs() <= 0.01 * b;
    let agreed = wait_for(Duration::from_secs(60), || {
        got = headroom_counts(headroom, "app");
        close(got.1, prom_total) && close(got.0, prom_good)
    });
    println!(
        "through kill -9: headroom good {} of {}; Prometheus increase() good {prom_good} of {prom_total}",
        got.0, got.1
    );
    assert!(
        agreed,
        "headroom counted good {} of {}, Prometheus's increase() says {prom_good} of {prom_total}",
        got.0, got.1
    );
}
