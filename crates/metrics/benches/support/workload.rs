//! A remote_write workload shaped like what a Prometheus server sends: 2,000 series of
//! application, node and runtime metrics, 5 samples each, and 10 SLOs whose selectors match
//! about 5% of them. Shared by the `route` bench and the `remote_write_load` example.

use headroom_core::{PromQuery, RatioQueries, Sli, Timestamp};
use headroom_ingest::remote_write::Series;
use headroom_metrics::{RoutedSlo, plan};

pub const SERIES: usize = 2_000;
pub const SAMPLES_PER_SERIES: usize = 5;
/// Between two samples of one series.
pub const STEP_MS: i64 = 1_000;

fn series(name: &str, pairs: &[(&str, String)]) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.clone()))
        .collect();
    labels.push(("__name__".to_string(), name.to_string()));
    labels.sort();
    labels
}

/// The label sets of the workload's series, in the order a request carries them.
pub fn label_sets() -> Vec<Vec<(String, String)>> {
    let mut out = Vec::with_capacity(SERIES);
    let jobs = ["api", "web", "checkout", "search", "auth", "billing"];
    let routes = ["/", "/login", "/cart", "/items/:id", "/search"];
    let codes = ["200", "201", "404", "500", "503"];
    for job in jobs {
        for i in 0..2 {
            let instance = format!("10.0.{}.{i}:8080", job.len());
            let base = [("job", job.to_string()), ("instance", instance.clone())];
            for route in routes {
                for method in ["GET", "POST"] {
                    for code in codes {
                        if job != "api" && code == "201" {
                            continue;
                        }
                        let mut l = base.to_vec();
                        l.extend([
                            ("route", route.to_string()),
                            ("method", method.to_string()),
                            ("code", code.to_string()),
                        ]);
                        out.push(series("http_requests_total", &l));
                    }
                }
                for le in ["0.05", "0.1", "0.3", "1", "+Inf"] {
                    let mut l = base.to_vec();
                    l.extend([("route", route.to_string()), ("le", le.to_string())]);
                    out.push(series("http_request_duration_seconds_bucket", &l));
                }
                let mut l = base.to_vec();
                l.push(("route", route.to_string()));
                out.push(series("http_request_duration_seconds_count", &l));
                out.push(series("http_request_duration_seconds_sum", &l));
            }
            for name in [
                "go_goroutines",
                "go_threads",
                "go_memstats_alloc_bytes",
                "go_memstats_heap_inuse_bytes",
                "go_memstats_gc_sys_bytes",
                "process_cpu_seconds_total",
                "process_resident_memory_bytes",
                "process_open_fds",
                "process_start_time_seconds",
                "up",
            ] {
                out.push(series(name, &base));
            }
            for q in ["0", "0.25", "0.5", "0.75", "1"] {
                let mut l = base.to_vec();
                l.push(("quantile", q.to_string()));
                out.push(series("go_gc_duration_seconds", &l));
            }
        }
    }
    // Node exporters fill the rest: per-CPU, per-mode counters.
    let modes = [
        "user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice",
    ];
    let mut node = 0;
    while out.len() < SERIES {
        let instance = format!("10.1.0.{node}:9100");
        for cpu in 0..16 {
            for mode in modes {
                let l = [
                    ("job", "node".to_string()),
                    ("instance", instance.clone()),
                    ("cpu", cpu.to_string()),
                    ("mode", mode.to_string()),
                ];
                out.push(series("node_cpu_seconds_total", &l));
            }
        }
        node += 1;
    }
    out.truncate(SERIES);
    out
}

/// Request `n`'s series: every series' next 5 samples, counters growing, timestamps after
/// those of request `n - 1`.
pub fn request(labels: &[Vec<(String, String)>], start: Timestamp, n: u64) -> Vec<Series> {
    labels
        .iter()
        .enumerate()
        .map(|(i, l)| Series {
            labels: l.clone(),
            samples: (0..SAMPLES_PER_SERIES as u64)
                .map(|j| {
                    let k = n * SAMPLES_PER_SERIES as u64 + j;
                    let at = Timestamp(start.0 + k as i64 * STEP_MS);
                    (at, (k * (1 + i as u64 % 7)) as f64)
                })
                .collect(),
        })
        .collect()
}

fn ratio(slo: &str, grouping: &[&str], good: &str, total: &str) -> RoutedSlo {
    let grouping: Vec<String> = grouping.iter().map(|s| s.to_string()).collect();
    let sli = Sli::Ratio {
        queries: RatioQueries::GoodTotal {
            good: PromQuery(good.to_string()),
            total: PromQuery(total.to_string()),
        },
    };
    let plan = plan(&sli, &grouping)
        .expect("workload queries plan natively")
        .expect("ratio SLIs have queries");
    RoutedSlo {
        slo: slo.to_string().into(),
        grouping,
        plan,
    }
}

/// Availability (non-5xx over all) of one job's requests on one route.
fn availability(slo: &str, grouping: &[&str], selector: &str) -> RoutedSlo {
    let by = if grouping.is_empty() {
        String::new()
    } else {
        format!(" by ({})", grouping.join(", "))
    };
    ratio(
        slo,
        grouping,
        &format!(
            r#"sum{by} (rate(http_requests_total{{{selector},code!~"5.."}}[{{{{.window}}}}]))"#
        ),
        &format!(r#"sum{by} (rate(http_requests_total{{{selector}}}[{{{{.window}}}}]))"#),
    )
}

/// Latency (requests under `le` over all) of one job's requests on one route.
fn latency(slo: &str, selector: &str, le: &str) -> RoutedSlo {
    ratio(
        slo,
        &[],
        &format!(
            r#"sum(rate(http_request_duration_seconds_bucket{{{selector},le="{le}"}}[{{{{.window}}}}]))"#
        ),
        &format!(
            r#"sum(rate(http_request_duration_seconds_count{{{selector}}}[{{{{.window}}}}]))"#
        ),
    )
}

/// 10 SLOs whose selectors match about 5% of the series (110 of 2,000).
pub fn slos() -> Vec<RoutedSlo> {
    vec![
        availability("checkout-cart", &[], r#"job="checkout",route="/cart""#),
        availability(
            "checkout-cart-by-method",
            &["method"],
            r#"job="checkout",route="/cart""#,
        ),
        latency(
            "checkout-cart-latency",
            r#"job="checkout",route="/cart""#,
            "0.3",
        ),
        availability("api-login", &["instance"], r#"job="api",route="/login""#),
        latency("api-login-latency", r#"job="api",route="/login""#, "0.3"),
        availability("api-items", &[], r#"job="api",route=~"/items/.*""#),
        availability("search", &[], r#"job="search",route="/search""#),
        latency("search-latency", r#"job="search",route="/search""#, "1"),
        availability("auth-login", &[], r#"job="auth",route="/login""#),
        ratio(
            "api-cart-writes",
            &[],
            r#"sum(rate(http_requests_total{job="api",route="/cart",method="POST",code=~"2.."}[{{.window}}]))"#,
            r#"sum(rate(http_requests_total{job="api",route="/cart",method="POST"}[{{.window}}]))"#,
        ),
    ]
}
