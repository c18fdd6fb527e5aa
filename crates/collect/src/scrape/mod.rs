//! Scraping `/metrics` endpoints as Prometheus does: scrape jobs, their targets (static and from
//! `file_sd` files), one HTTP scrape, and the runner that keeps every target scraped.

mod file_sd;
mod runner;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use headroom_core::Timestamp;
use headroom_ingest::exposition::{self, ExpositionError, ScrapedSample, TextFormat};

pub use file_sd::{FileSd, FileSdError, Refresh, TargetGroup};
pub use runner::{Health, Scrape, ScrapeFuture, ScrapeRunner, Sink, TargetHealth, scrape_offset};

/// One series' samples from a scrape: labels sorted by name (with `__name__`), samples in order.
/// The same shape remote_write delivers, so both feed the same ingestion path.
pub use headroom_ingest::remote_write::Series as ScrapedSeries;

/// What a scrape asks for: OpenMetrics first, the 0.0.4 text format next, anything last.
pub const ACCEPT: &str =
    "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Prometheus's default `body_size_limit` is unlimited; 16 MiB keeps a runaway target from
/// taking the server's memory while fitting any sane exposition.
pub const DEFAULT_BODY_SIZE_LIMIT: usize = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A scrape job, as Prometheus's `scrape_configs` entry with `static_configs` and `file_sd_configs`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeJob {
    /// The `job` label of every series scraped.
    pub job: String,
    pub interval: Duration,
    /// At most `interval`.
    pub timeout: Duration,
    pub scheme: Scheme,
    pub metrics_path: String,
    /// `host:port` addresses.
    pub targets: Vec<String>,
    /// Labels given to every target of the job; a `file_sd` group's own labels override them.
    pub labels: Vec<(String, String)>,
    /// `file_sd` JSON files; the last path component may be a glob (`targets/*.json`).
    pub file_sd: Vec<PathBuf>,
    /// Every file is re-read at this interval even when its mtime did not change.
    pub file_sd_refresh: Duration,
    /// Bodies larger than this (after decompression) fail the scrape.
    pub body_size_limit: usize,
}

impl ScrapeJob {
    /// A job with Prometheus's defaults: every 1m, 10s timeout, `http`, `/metrics`, 5m refresh.
    pub fn new(job: impl Into<String>) -> Self {
        ScrapeJob {
            job: job.into(),
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            scheme: Scheme::Http,
            metrics_path: "/metrics".into(),
            targets: Vec::new(),
            labels: Vec::new(),
            file_sd: Vec::new(),
            file_sd_refresh: Duration::from_secs(300),
            body_size_limit: DEFAULT_BODY_SIZE_LIMIT,
        }
    }

    /// What Prometheus would refuse when loading the same config.
    pub fn validate(&self) -> Result<(), JobError> {
        let err = |message: String| {
            Err(JobError {
                job: self.job.clone(),
                message,
            })
        };
        if self.job.is_empty() {
            return err("the job name is empty".into());
        }
        if self.interval.is_zero() || self.file_sd_refresh.is_zero() {
            return err("scrape_interval and refresh_interval must be positive".into());
        }
        if self.timeout.is_zero() || self.timeout > self.interval {
            return err(format!(
                "scrape_timeout {:?} must be positive and at most scrape_interval {:?}",
                self.timeout, self.interval
            ));
        }
        if !self.metrics_path.starts_with('/') {
            return err(format!(
                "metrics_path {:?} must start with /",
                self.metrics_path
            ));
        }
        for t in &self.targets {
            if let Err(m) = check_address(t) {
                return err(format!("target {t:?}: {m}"));
            }
        }
        for (name, _) in &self.labels {
            if !headroom_core::is_label_name(name) {
                return err(format!("{name:?} is not a valid label name"));
            }
        }
        for p in &self.file_sd {
            if let Err(m) = file_sd::check_pattern(p) {
                return err(format!("file_sd {}: {m}", p.display()));
            }
        }
        Ok(())
    }

    /// The job's targets: its static ones, then those of `discovered` groups, without duplicates.
    pub fn targets<'a>(
        &self,
        discovered: impl IntoIterator<Item = &'a TargetGroup>,
    ) -> Vec<Target> {
        let mut out: Vec<Target> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut add = |address: &str, group_labels: &[(String, String)]| {
            let t = self.target(address, group_labels);
            if seen.insert(t.key()) {
                out.push(t);
            }
        };
        for a in &self.targets {
            add(a, &[]);
        }
        for g in discovered {
            for a in &g.targets {
                add(a, &g.labels);
            }
        }
        out
    }

    /// One target's URL and labels. As in Prometheus, `__scheme__` and `__metrics_path__` labels
    /// override the job's, `instance` defaults to the address, and other `__` labels are dropped.
    fn target(&self, address: &str, group_labels: &[(String, String)]) -> Target {
        let mut labels: BTreeMap<String, String> = BTreeMap::new();
        labels.insert("job".into(), self.job.clone());
        for (k, v) in self.labels.iter().chain(group_labels) {
            labels.insert(k.clone(), v.clone());
        }
        let scheme = labels
            .get("__scheme__")
            .cloned()
            .unwrap_or_else(|| self.scheme.as_str().into());
        let path = labels
            .get("__metrics_path__")
            .cloned()
            .unwrap_or_else(|| self.metrics_path.clone());
        labels
            .entry("instance".into())
            .or_insert_with(|| address.to_string());
        // An empty value is an absent label in Prometheus's data model.
        labels.retain(|k, v| !k.starts_with("__") && !v.is_empty());
        Target {
            url: format!("{scheme}://{address}{path}"),
            labels: labels.into_iter().collect(),
            timeout: self.timeout,
            body_size_limit: self.body_size_limit,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scrape job {job:?}: {message}")]
pub struct JobError {
    pub job: String,
    pub message: String,
}

/// One endpoint to scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    /// `job`, `instance` and the configured labels, sorted by name.
    pub labels: Vec<(String, String)>,
    pub timeout: Duration,
    pub body_size_limit: usize,
}

impl Target {
    /// What makes two targets the same one (Prometheus dedups on the same).
    pub fn key(&self) -> String {
        let mut k = self.url.clone();
        for (n, v) in &self.labels {
            k.push('\0');
            k.push_str(n);
            k.push('=');
            k.push_str(v);
        }
        k
    }

    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a scrape produced nothing. Each names the URL, as Prometheus's target page does.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScrapeError {
    #[error("{url}: no complete answer within the scrape timeout of {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("{url}: unreachable: {message}")]
    Unreachable { url: String, message: String },
    #[error("{url}: server returned HTTP status {status}")]
    Status { url: String, status: String },
    #[error("{url}: body exceeds the limit of {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: body is not UTF-8 text")]
    NotText { url: String },
    #[error("{url}: {error}")]
    Parse { url: String, error: ExpositionError },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Scrapes over HTTP(S) with one shared connection pool.
#[derive(Debug, Clone)]
pub struct HttpScraper {
    client: reqwest::Client,
}

impl HttpScraper {
    pub fn new() -> Result<Self, ScrapeError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("headroom/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ScrapeError::Client(e.to_string()))?;
        Ok(HttpScraper { client })
    }

    /// One scrape: all of it within the target's timeout, or an error and no samples.
    /// Samples without a timestamp of their own get `started`.
    pub async fn scrape(
        &self,
        target: &Target,
        started: Timestamp,
    ) -> Result<Vec<ScrapedSeries>, ScrapeError> {
        match tokio::time::timeout(target.timeout, self.fetch(target)).await {
            Err(_) => Err(ScrapeError::Timeout {
                url: target.url.clone(),
                timeout: target.timeout,
            }),
            Ok(Err(e)) => Err(e),
            Ok(Ok((text, format))) => {
                let samples =
                    exposition::parse(&text, format).map_err(|error| ScrapeError::Parse {
                        url: target.url.clone(),
                        error,
                    })?;
                Ok(series_from_samples(samples, &target.labels, started))
            }
        }
    }

    async fn fetch(&self, target: &Target) -> Result<(String, TextFormat), ScrapeError> {
        let url = &target.url;
        let resp = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, ACCEPT)
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                format!("{}", target.timeout.as_secs_f64()),
            )
            .send()
            .await
            .map_err(|e| ScrapeError::Unreachable {
                url: url.clone(),
                message: error_chain(&e),
            })?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(ScrapeError::Status {
                url: url.clone(),
                status: resp.status().to_string(),
            });
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = crate::body::read_limited(resp, target.body_size_limit)
            .await
            .map_err(|e| match e {
                crate::body::BodyError::TooLarge => ScrapeError::TooLarge {
                    url: url.clone(),
                    limit: target.body_size_limit,
                },
                crate::body::BodyError::Transport(e) => ScrapeError::Unreachable {
                    url: url.clone(),
                    message: error_chain(&e),
                },
            })?;
        let text =
            String::from_utf8(body).map_err(|_| ScrapeError::NotText { url: url.clone() })?;
        Ok((text, TextFormat::from_content_type(&content_type)))
    }
}

/// reqwest's top-level message is often just "error sending request"; the cause says why.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// Samples into series with the target's labels attached, as Prometheus does with
/// `honor_labels: false`: a target label wins, and a sample label it displaces is kept as
/// `exported_<name>` (prefixed again while that name is taken too).
pub fn series_from_samples(
    samples: Vec<ScrapedSample>,
    target_labels: &[(String, String)],
    scraped_at: Timestamp,
) -> Vec<ScrapedSeries> {
    let mut out: Vec<ScrapedSeries> = Vec::new();
    let mut index: HashMap<Vec<(String, String)>, usize> = HashMap::new();
    for s in samples {
        let labels = merge_labels(&s.name, s.labels, target_labels);
        let at = s.timestamp_ms.map(Timestamp).unwrap_or(scraped_at);
        match index.get(&labels) {
            Some(&i) => out[i].samples.push((at, s.value)),
            None => {
                index.insert(labels.clone(), out.len());
                out.push(ScrapedSeries {
                    labels,
                    samples: vec![(at, s.value)],
                });
            }
        }
    }
    out
}

fn merge_labels(
    name: &str,
    sample_labels: Vec<(String, String)>,
    target_labels: &[(String, String)],
) -> Vec<(String, String)> {
    let mut labels: BTreeMap<String, String> = sample_labels
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    labels.insert("__name__".into(), name.to_string());
    let mut displaced = Vec::new();
    for (n, v) in target_labels {
        if let Some(old) = labels.insert(n.clone(), v.clone()) {
            displaced.push((n.clone(), old));
        }
    }
    for (n, v) in displaced {
        let mut exported = format!("exported_{n}");
        while labels.contains_key(&exported) {
            exported = format!("exported_{exported}");
        }
        labels.insert(exported, v);
    }
    labels.into_iter().collect()
}

/// A `host:port` (or bare host) address, as Prometheus accepts in `targets`.
pub(crate) fn check_address(a: &str) -> Result<(), &'static str> {
    if a.is_empty() {
        return Err("the address is empty");
    }
    if a.contains("://") {
        return Err("an address is host:port, without a scheme (set scheme on the job)");
    }
    if a.contains('/') || a.contains(char::is_whitespace) {
        return Err("an address is host:port, without a path or spaces");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn target_labels_win_and_displaced_ones_are_exported() {
        let target = l(&[("instance", "h:1"), ("job", "api")]);
        let samples = vec![ScrapedSample {
            name: "up_total".into(),
            labels: l(&[
                ("code", "200"),
                ("exported_job", "taken"),
                ("job", "inner"),
                ("empty", ""),
            ]),
            value: 3.0,
            timestamp_ms: None,
        }];
        let s = series_from_samples(samples, &target, Timestamp(5));
        assert_eq!(
            s[0].labels,
            l(&[
                ("__name__", "up_total"),
                ("code", "200"),
                ("exported_exported_job", "inner"),
                ("exported_job", "taken"),
                ("instance", "h:1"),
                ("job", "api"),
            ])
        );
        assert_eq!(s[0].samples, vec![(Timestamp(5), 3.0)]);
    }

    #[test]
    fn exposition_timestamps_are_kept_and_repeats_share_a_series() {
        let mk = |v, ts| ScrapedSample {
            name: "m".into(),
            labels: vec![],
            value: v,
            timestamp_ms: ts,
        };
        let s = series_from_samples(vec![mk(1.0, Some(7)), mk(2.0, None)], &[], Timestamp(9));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].samples, vec![(Timestamp(7), 1.0), (Timestamp(9), 2.0)]);
    }

    #[test]
    fn targets_follow_prometheus_label_rules() {
        let mut job = ScrapeJob::new("api");
        job.targets = vec!["a:1".into(), "a:1".into()];
        job.labels = l(&[("env", "prod")]);
        let group = TargetGroup {
            source: "f.json:0".into(),
            targets: vec!["b:2".into()],
            labels: l(&[
                ("__metrics_path__", "/m"),
                ("__scheme__", "https"),
                ("__meta_x", "y"),
                ("env", "dev"),
                ("instance", "named"),
            ]),
        };
        let t = job.targets([&group]);
        assert_eq!(t.len(), 2, "the duplicate static target is dropped");
        assert_eq!(t[0].url, "http://a:1/metrics");
        assert_eq!(
            t[0].labels,
            l(&[("env", "prod"), ("instance", "a:1"), ("job", "api")])
        );
        assert_eq!(t[1].url, "https://b:2/m");
        assert_eq!(
            t[1].labels,
            l(&[("env", "dev"), ("instance", "named"), ("job", "api")])
        );
    }

    #[test]
    fn validation_refuses_what_prometheus_refuses() {
        let mut job = ScrapeJob::new("api");
        assert!(job.validate().is_ok());
        job.timeout = Duration::from_secs(61);
        assert!(
            job.validate()
                .unwrap_err()
                .message
                .contains("scrape_timeout")
        );
        job.timeout = Duration::from_secs(1);
        job.targets = vec!["http://a:1".into()];
        assert!(job.validate().unwrap_err().message.contains("scheme"));
        job.targets = vec![];
        job.file_sd = vec!["dir*/a.json".into()];
        assert!(job.validate().unwrap_err().message.contains("last path"));
    }
}
