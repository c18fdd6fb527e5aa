//! The scrape loops: one tokio task per target, plus one that watches the job's `file_sd` files
//! and starts and stops target tasks as targets come and go.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use headroom_core::Timestamp;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{FileSd, HttpScraper, JobError, ScrapeError, ScrapeJob, ScrapedSeries, Target};

/// Where each successful scrape's series go.
pub type Sink = Arc<dyn Fn(Vec<ScrapedSeries>) + Send + Sync>;

pub type ScrapeFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<ScrapedSeries>, ScrapeError>> + Send + 'a>>;

/// How a target is scraped: over HTTP in the server, by a stand-in when testing the schedule.
pub trait Scrape: Send + Sync + 'static {
    fn scrape<'a>(&'a self, target: &'a Target, started: Timestamp) -> ScrapeFuture<'a>;
}

impl Scrape for HttpScraper {
    fn scrape<'a>(&'a self, target: &'a Target, started: Timestamp) -> ScrapeFuture<'a> {
        Box::pin(HttpScraper::scrape(self, target, started))
    }
}

/// A target's health, as Prometheus's `/api/v1/targets` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Not scraped yet.
    Unknown,
    Up,
    Down,
}

/// A snapshot of one target for an API.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetHealth {
    pub job: String,
    pub url: String,
    pub labels: Vec<(String, String)>,
    pub health: Health,
    pub last_error: Option<String>,
    /// When the last scrape started (wall clock).
    pub last_scrape: Option<Timestamp>,
    pub last_duration: Option<Duration>,
    /// Samples the last scrape produced (0 when it failed).
    pub samples_scraped: usize,
    pub scrape_interval: Duration,
}

struct Running {
    health: Arc<Mutex<TargetHealth>>,
    task: JoinHandle<()>,
}

struct Shared {
    job: ScrapeJob,
    scraper: Arc<dyn Scrape>,
    sink: Sink,
    /// By [`Target::key`].
    targets: Mutex<BTreeMap<String, Running>>,
}

/// How often `file_sd` files are checked for a changed mtime; the full re-read is
/// `file_sd_refresh`.
const FILE_SD_POLL: Duration = Duration::from_secs(1);

/// Keeps one job's targets scraped. Dropping it (or [`ScrapeRunner::stop`]) ends every task.
pub struct ScrapeRunner {
    shared: Arc<Shared>,
    /// Dropping the sender is the stop signal: every task waits on its receiver's closing.
    shutdown: Option<watch::Sender<()>>,
    discovery: Option<JoinHandle<()>>,
}

impl ScrapeRunner {
    /// Starts scraping `job`'s targets (its `file_sd` files are read once before returning).
    /// Must be called within a tokio runtime.
    pub fn start(
        job: ScrapeJob,
        scraper: Arc<dyn Scrape>,
        sink: Sink,
    ) -> Result<ScrapeRunner, JobError> {
        job.validate()?;
        let mut file_sd = FileSd::new(job.file_sd.clone()).map_err(|e| JobError {
            job: job.job.clone(),
            message: e.to_string(),
        })?;
        let (tx, rx) = watch::channel(());
        let shared = Arc::new(Shared {
            job,
            scraper,
            sink,
            targets: Mutex::new(BTreeMap::new()),
        });
        let initial = file_sd.refresh(true);
        log_errors(&shared.job.job, &initial.errors);
        shared.apply(shared.job.targets(file_sd.groups()), &rx);
        let discovery = (!shared.job.file_sd.is_empty())
            .then(|| tokio::spawn(discover(shared.clone(), file_sd, rx)));
        Ok(ScrapeRunner {
            shared,
            shutdown: Some(tx),
            discovery,
        })
    }

    /// Every target's health, ordered by target.
    pub fn targets(&self) -> Vec<TargetHealth> {
        let targets = self
            .shared
            .targets
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        targets
            .values()
            .map(|r| r.health.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect()
    }

    /// Ends every task and waits until they have ended: no sink call happens after this returns.
    pub async fn stop(mut self) {
        self.shutdown.take();
        if let Some(d) = self.discovery.take() {
            let _ = d.await;
        }
        // Discovery has ended, so no target task starts any more.
        let tasks: Vec<JoinHandle<()>> = {
            let mut targets = self
                .shared
                .targets
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut *targets)
                .into_values()
                .map(|r| r.task)
                .collect()
        };
        for t in tasks {
            let _ = t.await;
        }
    }
}

impl Drop for ScrapeRunner {
    fn drop(&mut self) {
        // Tasks also see the closed channel at their next await; aborting is just sooner.
        self.shutdown.take();
        if let Some(d) = &self.discovery {
            d.abort();
        }
        let targets = self
            .shared
            .targets
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for r in targets.values() {
            r.task.abort();
        }
    }
}

impl Shared {
    /// Starts tasks for new targets and ends those of targets that are gone.
    fn apply(self: &Arc<Self>, targets: Vec<Target>, shutdown: &watch::Receiver<()>) {
        let mut wanted: BTreeMap<String, Target> =
            targets.into_iter().map(|t| (t.key(), t)).collect();
        let mut running = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        running.retain(|key, r| {
            let keep = wanted.remove(key).is_some();
            if !keep {
                r.task.abort();
            }
            keep
        });
        for (key, target) in wanted {
            let health = Arc::new(Mutex::new(TargetHealth {
                job: self.job.job.clone(),
                url: target.url.clone(),
                labels: target.labels.clone(),
                health: Health::Unknown,
                last_error: None,
                last_scrape: None,
                last_duration: None,
                samples_scraped: 0,
                scrape_interval: self.job.interval,
            }));
            let task = tokio::spawn(scrape_loop(
                self.clone(),
                target,
                health.clone(),
                shutdown.clone(),
            ));
            running.insert(key, Running { health, task });
        }
    }
}

/// The delay before a target's first scrape: a hash of the target, so targets spread over the
/// interval and a restart keeps each one's phase.
pub fn scrape_offset(target: &Target, interval: Duration) -> Duration {
    // FNV-1a: stable across builds and platforms, unlike the std hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in target.key().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let nanos = interval.as_nanos().max(1);
    Duration::from_nanos((u128::from(h) % nanos) as u64)
}

fn wall_now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp(ms)
}

async fn scrape_loop(
    shared: Arc<Shared>,
    target: Target,
    health: Arc<Mutex<TargetHealth>>,
    mut shutdown: watch::Receiver<()>,
) {
    let interval = shared.job.interval;
    let mut next = Instant::now() + scrape_offset(&target, interval);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = shutdown.changed() => return,
        }
        let started = wall_now();
        let began = Instant::now();
        let result = tokio::select! {
            r = shared.scraper.scrape(&target, started) => r,
            _ = shutdown.changed() => return,
        };
        let took = began.elapsed();
        next = next_tick(next, interval, Instant::now());
        let samples = match &result {
            Ok(series) => series.iter().map(|s| s.samples.len()).sum(),
            Err(_) => 0,
        };
        {
            let mut h = health.lock().unwrap_or_else(|e| e.into_inner());
            h.last_scrape = Some(started);
            h.last_duration = Some(took);
            h.samples_scraped = samples;
            match &result {
                Ok(_) => {
                    h.health = Health::Up;
                    h.last_error = None;
                }
                Err(e) => {
                    h.health = Health::Down;
                    h.last_error = Some(e.to_string());
                }
            }
        }
        match result {
            Ok(series) if !series.is_empty() => (shared.sink)(series),
            Ok(_) => {}
            Err(e) => tracing::debug!(job = %shared.job.job, error = %e, "scrape failed"),
        }
    }
}

/// The first tick of the target's phase after `tick` that is not already past: a scrape that
/// overran skips the ticks it missed, so it neither overlaps itself nor runs back to back.
fn next_tick(tick: Instant, interval: Duration, now: Instant) -> Instant {
    let next = tick + interval;
    if next >= now {
        return next;
    }
    let missed = (now - next).as_nanos() / interval.as_nanos().max(1) + 1;
    next + Duration::from_nanos(u64::try_from(interval.as_nanos() * missed).unwrap_or(u64::MAX))
}

async fn discover(shared: Arc<Shared>, mut file_sd: FileSd, mut shutdown: watch::Receiver<()>) {
    let poll = FILE_SD_POLL.min(shared.job.file_sd_refresh);
    let mut last_full = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => return,
        }
        let full = last_full.elapsed() >= shared.job.file_sd_refresh;
        if full {
            last_full = Instant::now();
        }
        // Small local files: reading them inline is cheaper than a blocking-pool hop.
        let refresh = file_sd.refresh(full);
        log_errors(&shared.job.job, &refresh.errors);
        if refresh.changed {
            shared.apply(shared.job.targets(file_sd.groups()), &shutdown);
        }
    }
}

fn log_errors(job: &str, errors: &[super::FileSdError]) {
    for e in errors {
        tracing::error!(job, error = %e, "file_sd: keeping this file's previous targets");
    }
}
