//! The backend client against a real Prometheus (Debian's `/usr/bin/prometheus`), scraping a
//! local target whose counters the test sets.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::http::header;
use axum::routing::get;
use headroom_collect::backend::{
    Auth, Backend, BackendConfig, BackendError, Follower, Sample, StepQueries, step_queries,
};
use headroom_core::{PromQuery, QueryForm, RatioQueries, Sli, Span, Timestamp};

const PROMETHEUS: &str = "/usr/bin/prometheus";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn now() -> Timestamp {
    Timestamp::from_millis(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn value_of(samples: &[Sample], code: &str) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.labels.iter().any(|(n, v)| n == "code" && v == code))
        .map(|s| s.value)
}

async fn wait_until<F, Fut>(what: &str, deadline: Instant, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_and_query_range_against_real_prometheus() {
    if !Path::new(PROMETHEUS).exists() {
        println!("SKIPPED: prometheus not installed");
        return;
    }
    let began = Instant::now();
    // Waits are bounded so a stuck Prometheus fails the test instead of hanging it.
    let deadline = began + Duration::from_secs(15);

    // The target: two counters the test sets, and once `growing`, each scrape adds 10 good and
    // 1 failed request.
    let ok = Arc::new(AtomicU64::new(100));
    let failed = Arc::new(AtomicU64::new(5));
    let growing = Arc::new(AtomicBool::new(false));
    let (o, f, g) = (ok.clone(), failed.clone(), growing.clone());
    let app = Router::new().route(
        "/metrics",
        get(move || {
            if g.load(Ordering::SeqCst) {
                o.fetch_add(10, Ordering::SeqCst);
                f.fetch_add(1, Ordering::SeqCst);
            }
            let body = format!(
                "# TYPE demo_requests_total counter\n\
                 demo_requests_total{{code=\"200\"}} {}\n\
                 demo_requests_total{{code=\"500\"}} {}\n",
                o.load(Ordering::SeqCst),
                f.load(Ordering::SeqCst)
            );
            async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: demo\n    scrape_interval: 1s\n    scrape_timeout: 1s\n\
             \x20   static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let _prometheus = Killed(
        Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let backend = Backend::new(BackendConfig {
        url: format!("http://127.0.0.1:{port}"),
        auth: Auth::None,
        headers: vec![],
        timeout: Duration::from_secs(2),
    })
    .unwrap();

    // Ingested: both counters as served, with the job and instance Prometheus attached.
    let first: Vec<Sample> = loop {
        match backend.query("demo_requests_total", now()).await {
            Ok(s) if s.len() == 2 => break s,
            _ => {
                assert!(
                    Instant::now() < deadline,
                    "timed out waiting for the first scrape"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert_eq!(value_of(&first, "200"), Some(100.0));
    assert_eq!(value_of(&first, "500"), Some(5.0));
    let labels = &first[0].labels;
    assert!(
        labels.contains(&("job".into(), "demo".into())),
        "{labels:?}"
    );
    assert!(labels.contains(&("instance".into(), target.to_string())));
    assert!(labels.contains(&("__name__".into(), "demo_requests_total".into())));
    let sum = backend
        .query("sum(demo_requests_total)", now())
        .await
        .unwrap();
    assert_eq!((sum.len(), sum[0].value), (1, 105.0));
    let scalar = backend
        .query("scalar(sum(demo_requests_total)) * 2", now())
        .await
        .unwrap();
    assert_eq!(scalar[0].value, 210.0);

    // A few scrapes of the first values, then both counters move at once: 60 good and 6 failed.
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let before_change = now();
    ok.store(160, Ordering::SeqCst);
    failed.store(11, Ordering::SeqCst);
    wait_until("the changed counters", deadline, || {
        let b = &backend;
        async move {
            b.query("demo_requests_total", now()).await.is_ok_and(|s| {
                value_of(&s, "200") == Some(160.0) && value_of(&s, "500") == Some(11.0)
            })
        }
    })
    .await;
    // More scrapes after the change.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let end = now().floor(Span::SECOND);
    let start = (before_change - Span(2_000)).floor(Span::SECOND);

    let range = backend
        .query_range(
            r#"demo_requests_total{code="200"}"#,
            start,
            end,
            Span::SECOND,
        )
        .await
        .unwrap();
    assert_eq!(range.len(), 1);
    let points = &range[0].points;
    assert!(
        points.len() >= 4,
        "{points:?} start {start:?} end {end:?} change {before_change:?} now {:?}",
        now()
    );
    for (i, (t, v)) in points.iter().enumerate() {
        assert!(*v == 100.0 || *v == 160.0, "{points:?}");
        assert_eq!(t.millis() % 1000, 0);
        if i > 0 {
            assert!(*v >= points[i - 1].1, "{points:?}");
            assert_eq!(*t - points[i - 1].0, Span::SECOND);
        }
    }
    assert_eq!(points.last().unwrap().1, 160.0);
    assert!(points.iter().any(|p| p.1 == 100.0));

    // Per-step counts of a bad/total SLI while the counters grow: both series are scraped
    // together, so in every step with traffic the good share is 10/11, up to `rate()`'s
    // extrapolation, which Prometheus does per series: on a loaded machine a scrape can land
    // on a step's edge for one series' window and not the other's (seen: 0.9147 for 0.9091).
    // No step is negative.
    let growth_started = now();
    growing.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let sli = Sli::Ratio {
        queries: RatioQueries::BadTotal {
            bad: PromQuery(r#"sum(rate(demo_requests_total{code="500"}[{{.window}}]))"#.into()),
            total: PromQuery("sum(rate(demo_requests_total[{{.window}}]))".into()),
        },
        form: QueryForm::Windowed,
    };
    let step = Span(2_000);
    let qs = step_queries(&sli, step).unwrap();
    let StepQueries::BadTotal { bad, total } = &qs else {
        panic!("{qs:?}")
    };
    assert_eq!(bad, r#"sum(rate(demo_requests_total{code="500"}[2s]))"#);
    assert_eq!(total, "sum(rate(demo_requests_total[2s]))");
    // The follower's first fetch backfills its window up to the last complete step.
    let follower = Follower::new(step, Span::HOUR, Span(0), None);
    let fetch = follower.due(now()).unwrap();
    assert_eq!(fetch.end - fetch.start, Span::HOUR - step);
    let counts = backend.step_counts(&qs, step, fetch).await.unwrap();
    assert!(!counts.is_empty());
    let moved: Vec<_> = counts.iter().filter(|c| c.total > 0.0).collect();
    assert!(!moved.is_empty(), "no step saw the growth: {counts:?}");
    for c in &moved {
        assert!((c.good / c.total - 10.0 / 11.0).abs() < 0.02, "{c:?}");
        // A sample is stamped when its scrape starts, before the target answers: on a loaded
        // machine a scrape stamped a second or two before the growth can already see it, and
        // its step ends up to one step later. Earlier than that would be a step from before.
        assert!(
            c.at > growth_started - Span::SECOND * 3 - step,
            "{c:?} before the growth"
        );
    }
    for c in &counts {
        assert!(c.at >= fetch.start && c.at <= fetch.end, "{c:?}");
        assert!(c.good >= 0.0 && c.good <= c.total, "{c:?}");
    }

    // The same counters as an OpenSLO `counter: true` SLI: bare selectors, asked as their
    // increase over each step, which is the step's count as it is. Scrapes add 11 requests a
    // second, so a 2 s step of steady growth holds about 22 (`increase()` extrapolates a
    // window's samples to its edges), 10/11 of them good; multiplied by the step's seconds as a
    // rate is, it would hold 44.
    let counter = Sli::Ratio {
        queries: RatioQueries::BadTotal {
            bad: PromQuery(r#"sum(demo_requests_total{code="500"})"#.into()),
            total: PromQuery("sum(demo_requests_total)".into()),
        },
        form: QueryForm::Counter,
    };
    let qs = step_queries(&counter, step).unwrap();
    let StepQueries::BadTotal { bad, total } = &qs else {
        panic!("{qs:?}")
    };
    assert_eq!(bad, r#"sum(increase(demo_requests_total{code="500"}[2s]))"#);
    assert_eq!(total, "sum(increase(demo_requests_total[2s]))");
    // Two more steps of growth for Prometheus to scrape.
    tokio::time::sleep(Duration::from_millis(4_000)).await;
    let fetch = follower.due(now()).unwrap();
    let counts = backend.step_counts(&qs, step, fetch).await.unwrap();
    let moved: Vec<_> = counts.iter().filter(|c| c.total > 0.0).collect();
    assert!(!moved.is_empty(), "no step saw the growth: {counts:?}");
    for c in &moved {
        // The earlier jump (60 good, 6 failed) has the same share.
        assert!((c.good / c.total - 10.0 / 11.0).abs() < 0.02, "{c:?}");
    }
    // Steps wholly inside the growth, a scrape's stamp-to-answer lag aside.
    let steady: Vec<_> = moved
        .iter()
        .filter(|c| c.at - step >= growth_started + Span::SECOND)
        .collect();
    assert!(!steady.is_empty(), "no step of steady growth: {counts:?}");
    for c in &steady {
        assert!(
            (11.0..=33.0).contains(&c.total),
            "a step's count, not a rate times its seconds: {c:?}"
        );
    }

    // A real parse error comes back with Prometheus's errorType.
    let e = backend.query("sum(", now()).await.unwrap_err();
    assert!(
        matches!(&e, BackendError::Status { status: 400, error_type: Some(t), .. } if t == "bad_data"),
        "{e}"
    );
}
