//! The running signal sources of one config: the probe fleet, the scrape jobs and one follower
//! per SLO answered by an external backend. A reload stops them all and starts the new set.
//! Probe results and scrapes go to one channel ([`Deliveries`]), whose task routes and writes
//! them into the engine off the async workers; a follower stores each fetch itself and moves on
//! only once it is durable, so stopping it (which waits for a store in progress) leaves its
//! stored baseline exactly where its stored counts end.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use headroom_collect::backend::{
    Backend, Follower, RangeSeries, grouped_step_counts, step_queries,
};
use headroom_collect::scrape::{
    HttpScraper, Scheme, ScrapeJob, ScrapeRunner, ScrapedSeries, TargetHealth,
};
use headroom_core::{Slo, SloId, Span, Timestamp};
use headroom_engine::Engine;
use headroom_ingest::Event;
use headroom_probe::fleet::{ProbeFleet, ResultSink};
use headroom_probe::spec::ProbeSpec;
use headroom_spec::{BackendAuth, BackendConfig, Config, ScrapeConfig};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::signals::{ProbeAlert, Signals, Undeliverable, follower_baseline, probe_events};

/// Probes running at once, across the fleet.
const PROBE_CONCURRENCY: usize = 64;

/// Increments for SLOs, as sources produce them.
pub type Batch = Vec<(SloId, Vec<Event>)>;

/// What the delivery task writes.
pub enum Delivery {
    /// Events without a baseline (probe results).
    Events(Batch),
    /// One scrape's series, routed when written so routing and writing keep one order.
    Scraped(Vec<ScrapedSeries>),
}

pub type Deliveries = mpsc::UnboundedSender<Delivery>;

/// Stores one fetch of a follower: the SLO, its step counts and the last step end they cover.
/// Blocking (it waits for fsync).
pub type StepStore =
    Arc<dyn Fn(&SloId, Vec<Event>, Timestamp) -> Result<usize, Undeliverable> + Send + Sync>;

/// What raises or resolves a probe's failure alert (alerting lives above the sources).
pub type ProbeAlerts = Arc<dyn Fn(ProbeSpec, ProbeAlert) + Send + Sync>;

/// The sources of the config in force.
pub struct Sources {
    fleet: Option<ProbeFleet>,
    scrapers: Vec<ScrapeRunner>,
    followers: Vec<JoinHandle<()>>,
    /// Dropping it tells every follower to stop at its next wait.
    stop_followers: watch::Sender<()>,
}

impl Sources {
    /// Scrape targets and their health, for the API.
    pub fn targets(&self) -> Vec<TargetHealth> {
        self.scrapers.iter().flat_map(|s| s.targets()).collect()
    }

    /// Stops every source; no probe result or scrape arrives afterwards.
    pub async fn stop(self) {
        if let Some(f) = self.fleet {
            f.stop().await;
        }
        for s in self.scrapers {
            s.stop().await;
        }
        // Not aborted: a follower storing a fetch finishes it first, so the next one (after a
        // reload) reads a baseline no write in flight can still move.
        drop(self.stop_followers);
        for f in self.followers {
            let _ = f.await;
        }
    }
}

/// Starts the sources a config declares.
pub fn start(
    config: &Config,
    engine: &Arc<Engine>,
    signals: &Arc<Signals>,
    clock: &Clock,
    (tx, steps): (&Deliveries, StepStore),
    alerts: ProbeAlerts,
) -> Sources {
    let fleet = (!config.probes.is_empty()).then(|| {
        let (slos, book) = (engine.clone(), signals.clone());
        let out = tx.clone();
        let sink: ResultSink = Arc::new(move |spec, result| {
            let events = probe_events(&slos.slos(), &spec.name, &result);
            if let Some(change) = book.record_probe(&spec.name, result) {
                alerts(spec.clone(), change);
            }
            if !events.is_empty() {
                let mut by_slo: BTreeMap<SloId, Vec<Event>> = BTreeMap::new();
                for (slo, e) in events {
                    by_slo.entry(slo).or_default().push(e);
                }
                let _ = out.send(Delivery::Events(by_slo.into_iter().collect()));
            }
        });
        let clock = clock.clone();
        ProbeFleet::spawn(
            config.probes.clone(),
            PROBE_CONCURRENCY,
            signals.heartbeats.clone(),
            sink,
            Arc::new(move || clock().0),
        )
    });

    let scraper = match HttpScraper::new() {
        Ok(s) => Some(Arc::new(s)),
        Err(e) => {
            tracing::error!(error = %e, "cannot build the scrape client; scraping is off");
            None
        }
    };
    let mut scrapers = Vec::new();
    for job in config.scrape.iter() {
        let Some(scraper) = scraper.clone() else {
            break;
        };
        let out = tx.clone();
        let sink = Arc::new(move |series: Vec<ScrapedSeries>| {
            if !series.is_empty() {
                let _ = out.send(Delivery::Scraped(series));
            }
        });
        match ScrapeRunner::start(scrape_job(job), scraper, sink) {
            Ok(r) => scrapers.push(r),
            Err(e) => tracing::error!(job = %job.job, error = %e, "scrape job not started"),
        }
    }

    let (stop_followers, stop) = watch::channel(());
    let mut followers = Vec::new();
    for slo in engine.slos() {
        let Some(name) = &slo.backend else { continue };
        let Some(cfg) = config.backends.iter().find(|b| &b.name == name) else {
            continue;
        };
        match Backend::new(backend_config(cfg)) {
            Ok(b) => followers.push(tokio::spawn(follow(
                (engine.clone(), signals.clone(), clock.clone()),
                slo.clone(),
                Arc::new(b),
                (cfg.interval, cfg.delay),
                (steps.clone(), stop.clone()),
            ))),
            Err(e) => tracing::error!(backend = %name, error = %e, "backend client not built"),
        }
    }
    Sources {
        fleet,
        scrapers,
        followers,
        stop_followers,
    }
}

fn scrape_job(c: &ScrapeConfig) -> ScrapeJob {
    let mut job = ScrapeJob::new(c.job.clone());
    job.interval = c.interval.to_std();
    job.timeout = c.timeout.to_std();
    job.scheme = if c.scheme == "https" {
        Scheme::Https
    } else {
        Scheme::Http
    };
    job.metrics_path = c.metrics_path.clone();
    job.targets = c.targets.clone();
    job.labels = c
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    job.file_sd = c.file_sd.clone();
    job.file_sd_refresh = c.file_sd_refresh.to_std();
    job
}

pub(crate) fn backend_config(c: &BackendConfig) -> headroom_collect::backend::BackendConfig {
    use headroom_collect::backend::Auth;
    headroom_collect::backend::BackendConfig {
        url: c.url.clone(),
        auth: match &c.auth {
            BackendAuth::None => Auth::None,
            BackendAuth::Bearer(t) => Auth::Bearer(t.clone()),
            BackendAuth::Basic { username, password } => Auth::Basic {
                username: username.clone(),
                password: password.clone(),
            },
        },
        headers: c
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        timeout: c.timeout.to_std(),
    }
}

/// Where a follower starts: after the last step end stored with its counts (its baseline), or,
/// for data stored before baselines were (no baseline yet), after the newest bucket holding
/// events.
pub fn resume_point(engine: &Engine, slo: &Slo, now: Timestamp) -> Option<Timestamp> {
    follower_baseline(engine.tsdb(), &slo.id).or_else(|| last_stored(engine, slo, now))
}

/// The last step end already stored for an SLO: the end of the newest minute (or, beyond the
/// minute level, hour) holding events, across its groups. Exact for steps of a minute or more
/// whose last step held events; the fallback for stores written before follower baselines.
fn last_stored(engine: &Engine, slo: &Slo, now: Timestamp) -> Option<Timestamp> {
    let oldest = now - slo.window.max_length();
    engine
        .each_group(slo, |_, s| {
            let mut t = now.floor(Span::MINUTE);
            let mut width = Span::MINUTE;
            while t > oldest {
                if s.counts(t, t + width).total > 0.0 {
                    // Steps are stored just inside their end: this bucket's end is the last step
                    // end fetched.
                    return Some(t + width);
                }
                if now - t > Span::hours(25) {
                    width = Span::HOUR;
                    t = t.floor(width);
                }
                t = t - width;
            }
            None
        })
        .into_iter()
        .flatten()
        .max()
}

/// Keeps one SLO's SLI filled from a backend: backfills its window at start, then asks for each
/// step once it is complete. Each fetch is stored with its last step end as the follower's
/// baseline, in one record, before the next is asked: a restart resumes right after it, so no
/// step is counted twice or skipped. A failed query or store is asked again later.
async fn follow(
    (engine, signals, clock): (Arc<Engine>, Arc<Signals>, Clock),
    slo: Arc<Slo>,
    backend: Arc<Backend>,
    (step, delay): (Span, Span),
    (store, mut stop): (StepStore, watch::Receiver<()>),
) {
    let Some(queries) = step_queries(&slo.sli, step) else {
        return;
    };
    let now = clock();
    let mut follower = Follower::new(
        step,
        slo.window.max_length(),
        delay,
        resume_point(&engine, &slo, now),
    );
    loop {
        let now = clock();
        let Some(fetch) = follower.due(now) else {
            let wait = (follower.next_wake(now) - now).millis().max(100);
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => continue,
            }
        };
        let (first, second) = queries.queries();
        let asked = async {
            let a = backend
                .query_range(first, fetch.start, fetch.end, step)
                .await?;
            let b = match second {
                Some(q) => backend.query_range(q, fetch.start, fetch.end, step).await?,
                None => Vec::<RangeSeries>::new(),
            };
            Ok::<_, headroom_collect::backend::BackendError>((a, b))
        };
        // Stopping while asking loses nothing: nothing is stored until the answer is complete.
        let answer = tokio::select! {
            _ = stop.changed() => return,
            a = asked => a,
        };
        match answer {
            Ok((a, b)) => {
                let groups = grouped_step_counts(&queries, step, &a, &b, &slo.grouping);
                let mut events = Vec::new();
                for (labels, counts) in groups {
                    let labels: BTreeMap<String, String> = labels.into_iter().collect();
                    events.extend(counts.into_iter().map(|c| Event {
                        // The step (t − s, t] is stored at its last millisecond, inside it.
                        at: c.at - Span(1),
                        good: c.good,
                        total: c.total,
                        labels: labels.clone(),
                    }));
                }
                let (store, id) = (store.clone(), slo.id.clone());
                let stored =
                    tokio::task::spawn_blocking(move || store(&id, events, fetch.end)).await;
                match stored {
                    Ok(Ok(_)) => follower.fetched(fetch),
                    Ok(Err(e)) => {
                        tracing::warn!(slo = %slo.id, error = %e, "backend steps not stored; they will be asked again");
                        follower.failed(now);
                    }
                    Err(_) => return, // the store panicked: the runtime is going down
                }
            }
            Err(e) => {
                signals
                    .health
                    .backend_queries_failed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(slo = %slo.id, error = %e, "backend query failed; the steps will be asked again");
                follower.failed(now);
            }
        }
    }
}
