//! The running signal sources of one config: the probe fleet, the scrape jobs and one follower
//! per SLO answered by an external backend. A reload stops them all and starts the new set; the
//! increments they produce go to one channel ([`Deliveries`]), whose task writes them into the
//! engine off the async workers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use headroom_collect::backend::{
    Backend, Follower, RangeSeries, grouped_step_counts, step_queries,
};
use headroom_collect::scrape::{HttpScraper, Scheme, ScrapeJob, ScrapeRunner, TargetHealth};
use headroom_core::{Slo, SloId, Span, Timestamp};
use headroom_engine::Engine;
use headroom_ingest::Event;
use headroom_probe::fleet::{ProbeFleet, ResultSink};
use headroom_probe::spec::ProbeSpec;
use headroom_spec::{BackendAuth, BackendConfig, Config, ScrapeConfig};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::signals::{ProbeAlert, Signals, probe_events};

/// Probes running at once, across the fleet.
const PROBE_CONCURRENCY: usize = 64;

/// Increments for SLOs, as sources produce them.
pub type Batch = Vec<(SloId, Vec<Event>)>;
pub type Deliveries = mpsc::UnboundedSender<Batch>;
/// What raises or resolves a probe's failure alert (alerting lives above the sources).
pub type ProbeAlerts = Arc<dyn Fn(ProbeSpec, ProbeAlert) + Send + Sync>;

/// The sources of the config in force.
pub struct Sources {
    fleet: Option<ProbeFleet>,
    scrapers: Vec<ScrapeRunner>,
    followers: Vec<JoinHandle<()>>,
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
        for f in self.followers {
            f.abort();
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
    tx: &Deliveries,
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
                let _ = out.send(by_slo.into_iter().collect());
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
        let (signals, clock) = (signals.clone(), clock.clone());
        let out = tx.clone();
        let sink = Arc::new(
            move |series: Vec<headroom_collect::scrape::ScrapedSeries>| {
                let now = clock();
                let batch = signals.route(
                    series
                        .iter()
                        .map(|s| (s.labels.as_slice(), s.samples.as_slice())),
                    now,
                );
                if !batch.is_empty() {
                    let _ = out.send(batch);
                }
            },
        );
        match ScrapeRunner::start(scrape_job(job), scraper, sink) {
            Ok(r) => scrapers.push(r),
            Err(e) => tracing::error!(job = %job.job, error = %e, "scrape job not started"),
        }
    }

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
                tx.clone(),
            ))),
            Err(e) => tracing::error!(backend = %name, error = %e, "backend client not built"),
        }
    }
    Sources {
        fleet,
        scrapers,
        followers,
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

/// The last step end already stored for an SLO: the end of the newest minute (or, beyond the
/// minute level, hour) holding events, across its groups. Found in the SLI store itself, so a restart resumes
/// exactly where the data ends, with no cursor to keep in step with it.
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
/// step once it is complete. A failed query is asked again later; nothing is counted twice.
async fn follow(
    (engine, signals, clock): (Arc<Engine>, Arc<Signals>, Clock),
    slo: Arc<Slo>,
    backend: Arc<Backend>,
    (step, delay): (Span, Span),
    tx: Deliveries,
) {
    let Some(queries) = step_queries(&slo.sli, step) else {
        return;
    };
    let now = clock();
    let mut follower = Follower::new(
        step,
        slo.window.max_length(),
        delay,
        last_stored(&engine, &slo, now),
    );
    loop {
        let now = clock();
        let Some(fetch) = follower.due(now) else {
            let wait = (follower.next_wake(now) - now).millis().max(100);
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
            continue;
        };
        let (first, second) = queries.queries();
        let a = backend
            .query_range(first, fetch.start, fetch.end, step)
            .await;
        let b = match second {
            Some(q) => backend.query_range(q, fetch.start, fetch.end, step).await,
            None => Ok(Vec::<RangeSeries>::new()),
        };
        match (a, b) {
            (Ok(a), Ok(b)) => {
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
                if !events.is_empty() && tx.send(vec![(slo.id.clone(), events)]).is_err() {
                    return;
                }
                follower.fetched(fetch);
            }
            (Err(e), _) | (_, Err(e)) => {
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
