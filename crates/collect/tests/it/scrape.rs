//! One scrape against local HTTP servers, and the runner's schedule.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;
use headroom_collect::scrape::{
    Health, HttpScraper, Scrape, ScrapeError, ScrapeFuture, ScrapeJob, ScrapeRunner, ScrapedSeries,
    Sink, Target, scrape_offset,
};
use headroom_core::Timestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

const TEXT_CT: &str = "text/plain; version=0.0.4; charset=utf-8";
const OM_CT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

const TEXT_BODY: &str = "# TYPE http_requests_total counter
http_requests_total{code=\"200\",job=\"inner\"} 1027
http_requests_total{code=\"500\"} 3 1395066363000
";

const OM_BODY: &str = "# TYPE foo counter
foo_total{a=\"b\"} 17.0 1520879607.789
foo_created{a=\"b\"} 1520870000.0
# EOF
";

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn exporter(seen: Arc<Mutex<Option<HeaderMap>>>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move |h: HeaderMap| {
                *seen.lock().unwrap() = Some(h);
                async { ([(header::CONTENT_TYPE, TEXT_CT)], TEXT_BODY) }
            }),
        )
        .route(
            "/om",
            get(|| async { ([(header::CONTENT_TYPE, OM_CT)], OM_BODY) }),
        )
        .route(
            "/om-as-text",
            get(|| async { ([(header::CONTENT_TYPE, TEXT_CT)], OM_BODY) }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "m 1\n"
            }),
        )
        .route("/big", get(|| async { "m 1\n".repeat(5_000) }))
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "m 1\n") }),
        )
}

fn target(addr: SocketAddr, path: &str) -> Target {
    let mut job = ScrapeJob::new("api");
    job.targets = vec![addr.to_string()];
    job.metrics_path = path.into();
    job.timeout = Duration::from_millis(300);
    job.body_size_limit = 16_384;
    job.targets(std::iter::empty()).remove(0)
}

fn label<'a>(s: &'a ScrapedSeries, name: &str) -> Option<&'a str> {
    s.labels
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn text_format_with_target_labels_and_scrape_headers() {
    let seen = Arc::new(Mutex::new(None));
    let addr = serve(exporter(seen.clone())).await;
    let scraper = HttpScraper::new().unwrap();
    let t = target(addr, "/metrics");
    let series = scraper.scrape(&t, Timestamp(42_000)).await.unwrap();
    assert_eq!(series.len(), 2);
    let ok = &series[0];
    let instance = addr.to_string();
    assert_eq!(
        ok.labels,
        vec![
            ("__name__".to_string(), "http_requests_total".to_string()),
            ("code".into(), "200".into()),
            ("exported_job".into(), "inner".into()),
            ("instance".into(), instance.clone()),
            ("job".into(), "api".into()),
        ]
    );
    // No timestamp in the body: the scrape's start; with one: the body's.
    assert_eq!(ok.samples, vec![(Timestamp(42_000), 1027.0)]);
    assert_eq!(series[1].samples, vec![(Timestamp(1_395_066_363_000), 3.0)]);
    assert_eq!(label(&series[1], "job"), Some("api"));

    let h = seen.lock().unwrap().clone().unwrap();
    assert_eq!(
        h["accept"],
        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    );
    assert_eq!(h["x-prometheus-scrape-timeout-seconds"], "0.3");
}

#[tokio::test]
async fn content_type_decides_the_format() {
    let addr = serve(exporter(Arc::default())).await;
    let scraper = HttpScraper::new().unwrap();
    let series = scraper
        .scrape(&target(addr, "/om"), Timestamp(1))
        .await
        .unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(label(&series[0], "__name__"), Some("foo_total"));
    // OpenMetrics timestamps are seconds.
    assert_eq!(
        series[0].samples,
        vec![(Timestamp(1_520_879_607_789), 17.0)]
    );
    // The same body called 0.0.4 text has a non-integer millisecond timestamp and `# EOF` is a
    // comment: it fails as a whole.
    let e = scraper
        .scrape(&target(addr, "/om-as-text"), Timestamp(1))
        .await
        .unwrap_err();
    let ScrapeError::Parse { url, error } = &e else {
        panic!("{e}")
    };
    assert!(url.ends_with("/om-as-text"));
    assert_eq!((error.line, error.column), (2, 23), "{e}");
}

#[tokio::test]
async fn a_slow_target_times_out() {
    let addr = serve(exporter(Arc::default())).await;
    let scraper = HttpScraper::new().unwrap();
    let begun = std::time::Instant::now();
    let e = scraper
        .scrape(&target(addr, "/slow"), Timestamp(1))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ScrapeError::Timeout { timeout, .. } if *timeout == Duration::from_millis(300)),
        "{e}"
    );
    assert!(begun.elapsed() < Duration::from_secs(2));
    assert!(
        e.to_string().contains(&format!("http://{addr}/slow")),
        "{e}"
    );
}

#[tokio::test]
async fn an_oversize_body_and_a_500_produce_nothing() {
    let addr = serve(exporter(Arc::default())).await;
    let scraper = HttpScraper::new().unwrap();
    let e = scraper
        .scrape(&target(addr, "/big"), Timestamp(1))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ScrapeError::TooLarge { limit: 16_384, .. }),
        "{e}"
    );
    let e = scraper
        .scrape(&target(addr, "/fail"), Timestamp(1))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("http://{addr}/fail: server returned HTTP status 500 Internal Server Error")
    );
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let e = scraper
        .scrape(&target(closed, "/metrics"), Timestamp(1))
        .await
        .unwrap_err();
    assert!(matches!(e, ScrapeError::Unreachable { .. }), "{e}");
}

/// A body sent in chunks without a length is cut off at the limit too.
#[tokio::test]
async fn a_chunked_body_is_bounded_while_read() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = "m 1\n".repeat(256);
                for _ in 0..64 {
                    let frame = format!("{:x}\r\n{chunk}\r\n", chunk.len());
                    if sock.write_all(frame.as_bytes()).await.is_err() {
                        return;
                    }
                }
                let _ = sock.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    let scraper = HttpScraper::new().unwrap();
    let e = scraper
        .scrape(&target(addr, "/metrics"), Timestamp(1))
        .await
        .unwrap_err();
    assert!(matches!(e, ScrapeError::TooLarge { .. }), "{e}");
    // Within the limit the same server's body parses: 64 KiB of `m 1` lines.
    let mut t = target(addr, "/metrics");
    t.body_size_limit = 1 << 20;
    let series = scraper.scrape(&t, Timestamp(1)).await.unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].samples.len(), 64 * 256);
}

fn collecting_sink() -> (Sink, Arc<Mutex<Vec<Vec<ScrapedSeries>>>>) {
    let got: Arc<Mutex<Vec<Vec<ScrapedSeries>>>> = Arc::default();
    let g = got.clone();
    (Arc::new(move |s| g.lock().unwrap().push(s)), got)
}

#[tokio::test]
async fn runner_reports_health_and_stops() {
    let good = serve(exporter(Arc::default())).await;
    let bad = serve(Router::new().route(
        "/metrics",
        get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "") }),
    ))
    .await;
    let mut job = ScrapeJob::new("api");
    job.interval = Duration::from_millis(200);
    job.timeout = Duration::from_millis(150);
    job.targets = vec![good.to_string(), bad.to_string()];
    let (sink, got) = collecting_sink();
    let runner = ScrapeRunner::start(job, Arc::new(HttpScraper::new().unwrap()), sink).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while got.lock().unwrap().len() < 2
        || runner.targets().iter().any(|t| t.health == Health::Unknown)
    {
        assert!(std::time::Instant::now() < deadline, "no scrapes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let targets = runner.targets();
    let find = |a: SocketAddr| {
        targets
            .iter()
            .find(|t| t.url == format!("http://{a}/metrics"))
            .unwrap()
    };
    let g = find(good);
    assert_eq!(
        (g.health, g.samples_scraped, g.last_error.clone()),
        (Health::Up, 2, None)
    );
    assert!(g.last_duration.is_some() && g.last_scrape.is_some());
    let b = find(bad);
    assert_eq!((b.health, b.samples_scraped), (Health::Down, 0));
    assert!(b.last_error.as_deref().unwrap().contains("500"), "{b:?}");
    // Only the good target's scrapes reached the sink.
    for batch in got.lock().unwrap().iter() {
        assert!(
            batch
                .iter()
                .all(|s| label(s, "instance") == Some(&good.to_string()))
        );
    }
    runner.stop().await;
    let n = got.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(got.lock().unwrap().len(), n, "a scrape after stop");
}

/// Records when each scrape of each target ran; `slow` takes longer than the interval.
struct Recorder {
    calls: Mutex<Vec<(String, Instant, Instant)>>,
    slow: String,
}

impl Scrape for Recorder {
    fn scrape<'a>(&'a self, target: &'a Target, started: Timestamp) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let t0 = Instant::now();
            let took = if target.url == self.slow { 25 } else { 1 };
            tokio::time::sleep(Duration::from_secs(took)).await;
            self.calls
                .lock()
                .unwrap()
                .push((target.url.clone(), t0, Instant::now()));
            Ok(vec![ScrapedSeries {
                labels: target.labels.clone(),
                samples: vec![(started, 1.0)],
            }])
        })
    }
}

#[tokio::test(start_paused = true)]
async fn each_target_runs_on_its_own_offset_and_never_overlaps() {
    let mut job = ScrapeJob::new("api");
    job.interval = Duration::from_secs(10);
    job.timeout = Duration::from_secs(10);
    job.targets = vec!["a:1".into(), "b:2".into(), "c:3".into()];
    let all = job.targets(std::iter::empty());
    let recorder = Arc::new(Recorder {
        calls: Mutex::default(),
        slow: "http://b:2/metrics".into(),
    });
    let (sink, got) = collecting_sink();
    let t0 = Instant::now();
    let runner = ScrapeRunner::start(job, recorder.clone(), sink).unwrap();
    tokio::time::sleep(Duration::from_secs(95)).await;
    drop(runner);
    let calls = recorder.calls.lock().unwrap().clone();
    let offsets: Vec<Duration> = all
        .iter()
        .map(|t| scrape_offset(t, Duration::from_secs(10)))
        .collect();
    assert!(offsets.iter().all(|o| *o < Duration::from_secs(10)));
    assert!(
        offsets[0] != offsets[1] || offsets[1] != offsets[2],
        "no spread"
    );
    for (t, offset) in all.iter().zip(&offsets) {
        let starts: Vec<(Instant, Instant)> = calls
            .iter()
            .filter(|c| c.0 == t.url)
            .map(|c| (c.1, c.2))
            .collect();
        // The timer wheel fires on the next whole millisecond.
        let first = starts[0].0 - t0;
        assert!(
            first >= *offset && first < *offset + Duration::from_millis(1),
            "{}: first scrape after {first:?}, offset {offset:?}",
            t.url
        );
        for w in starts.windows(2) {
            assert!(w[1].0 >= w[0].1, "{} overlapped itself", t.url);
            let gap = w[1].0 - w[0].0;
            if t.url == recorder.slow {
                // 25 s scrapes skip the ticks they overrun: the next starts at the next tick.
                assert_eq!(gap, Duration::from_secs(30));
            } else {
                assert_eq!(gap, Duration::from_secs(10));
            }
        }
        let expect = if t.url == recorder.slow { 3 } else { 9 };
        assert!(
            starts.len() == expect || starts.len() == expect + 1,
            "{}: {} scrapes",
            t.url,
            starts.len()
        );
    }
    assert_eq!(got.lock().unwrap().len(), calls.len());
    // Dropped: nothing runs any more.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(recorder.calls.lock().unwrap().len(), calls.len());
}

/// 1 MiB of `m 1` lines, gzipped to about 1 KiB.
const GZIPPED: &[u8] = include_bytes!("../data/one_mib_of_samples.txt.gz");

/// The limit counts decompressed bytes: a small gzip body that expands past it is refused.
#[tokio::test]
async fn the_limit_applies_after_gzip() {
    let app = Router::new().route(
        "/metrics",
        get(|h: HeaderMap| async move {
            assert!(
                h["accept-encoding"].to_str().unwrap().contains("gzip"),
                "{h:?}"
            );
            (
                [
                    (header::CONTENT_TYPE, TEXT_CT),
                    (header::CONTENT_ENCODING, "gzip"),
                ],
                GZIPPED,
            )
        }),
    );
    let addr = serve(app).await;
    let scraper = HttpScraper::new().unwrap();
    let mut t = target(addr, "/metrics");
    t.body_size_limit = 64 << 10;
    let e = scraper.scrape(&t, Timestamp(1)).await.unwrap_err();
    assert!(matches!(e, ScrapeError::TooLarge { .. }), "{e}");
    t.body_size_limit = 1 << 20;
    let series = scraper.scrape(&t, Timestamp(1)).await.unwrap();
    assert_eq!(series[0].samples.len(), 1 << 18);
}
