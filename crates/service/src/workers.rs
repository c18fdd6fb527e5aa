//! The long-running workers `headroom serve` starts, each a loop over the clock and its
//! wake-ups; the `*_round` functions run one step, so tests drive them on a controlled clock.

use std::sync::atomic::Ordering;
use std::time::Duration;

use headroom_notify::Client;
use headroom_probe::spec::ProbeSpec;
use headroom_spec::Config;
use tokio::sync::mpsc;

use crate::evaluation::run_evaluator;
use crate::signals::ProbeAlert;
use crate::sources::{Deliveries, Delivery, ProbeAlerts, StepStore};
use crate::state::Headroom;

/// How often the SLI store writes a snapshot (and trims its write-ahead log).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(300);
/// Log size that triggers an early snapshot.
const CHECKPOINT_LOG_BYTES: u64 = 256 * 1024 * 1024;
/// How often headroom's own request tally is pushed into its SLOs.
const SELF_FLUSH_EVERY: Duration = Duration::from_secs(10);
/// How often increments that could not be written are tried again without new data arriving.
const REDELIVER_EVERY: Duration = Duration::from_secs(5);

/// Starts every worker: signal delivery and the config's sources, the evaluator, dispatch, the
/// outbox sender, escalations, checkpoints and self-measurement.
pub async fn start(h: &Headroom, config: &Config) {
    let _ = h.deliveries.set(start_delivery(h.clone()));
    restart_sources(h, config).await;
    tokio::spawn(run_evaluator(h.clone()));
    tokio::spawn(run_dispatch(h.clone()));
    tokio::spawn(run_sender(h.clone()));
    tokio::spawn(run_escalations(h.clone()));
    tokio::spawn(run_checkpoints(h.clone()));
    tokio::spawn(run_self_measurement(h.clone()));
}

pub async fn run_dispatch(h: Headroom) {
    h.alerting.run(h.handoff()).await
}

/// One dispatch round at the clock's `now`; returns how long until the next is due.
pub async fn dispatch_round(h: &Headroom) -> Duration {
    h.alerting.dispatch_round(&h.handoff()).await
}

pub async fn run_sender(h: Headroom) {
    h.outbox.run(&h.oncall).await
}

/// Claims the outbox items due now and sends them; returns how many it claimed.
pub async fn send_round(h: &Headroom, client: &Client) -> usize {
    h.outbox.send_round(&h.oncall, client).await
}

pub async fn run_escalations(h: Headroom) {
    h.escalations
        .run(&h.alerting.desk, &h.oncall, &h.outbox, &h.incidents)
        .await
}

/// One escalation round; returns how long until the next page is due.
pub async fn escalation_round(h: &Headroom) -> Duration {
    h.escalations
        .round(&h.alerting.desk, &h.oncall, &h.outbox, &h.incidents)
        .await
}

/// Raises or resolves a probe's failure alert (see `Alerting::probe_alert`).
pub async fn probe_alert(h: &Headroom, spec: &ProbeSpec, change: ProbeAlert) {
    h.alerting.probe_alert(&h.incidents, spec, change).await
}

/// Starts the delivery task: scrapes are routed and written here and probe results written,
/// one at a time, and what the store could not take is retried every few seconds.
pub fn start_delivery(h: Headroom) -> Deliveries {
    let (tx, mut rx) = mpsc::unbounded_channel::<Delivery>();
    tokio::spawn(async move {
        let mut retry = tokio::time::interval(REDELIVER_EVERY);
        loop {
            let delivery = tokio::select! {
                d = rx.recv() => match d { Some(d) => d, None => return },
                _ = retry.tick() => Delivery::Events(Vec::new()),
            };
            let st = h.clone();
            let outcome = tokio::task::spawn_blocking(move || match delivery {
                Delivery::Events(batch) => st.deliver(batch),
                Delivery::Scraped(series) => st.take_samples(
                    series
                        .iter()
                        .map(|s| (s.labels.as_slice(), s.samples.as_slice())),
                ),
            })
            .await;
            if let Ok(Err(e)) = outcome {
                tracing::warn!(error = %e, "signal increments kept for a later retry");
            }
        }
    });
    tx
}

/// Replaces the running sources with the config's (at start and on every reload).
pub async fn restart_sources(h: &Headroom, config: &Config) {
    let Some(tx) = h.deliveries.get() else {
        return; // not serving (tests that drive the router alone)
    };
    let mut slot = h.sources.lock().await;
    if let Some(old) = slot.take() {
        old.stop().await;
    }
    // After the old followers stopped: none of them can store a baseline any more.
    let st = h.clone();
    let followed: Vec<String> = config
        .slos
        .iter()
        .filter(|s| s.backend.is_some())
        .map(|s| s.id.to_string())
        .collect();
    let forgotten = tokio::task::spawn_blocking(move || {
        st.signals.forget_followers(
            &st.engine,
            |slo| followed.iter().any(|f| f == slo),
            st.now(),
        )
    })
    .await;
    if let Ok(Err(e)) = forgotten {
        tracing::warn!(error = %e, "baselines of SLOs no longer followed not forgotten yet");
    }
    let st = h.clone();
    let alerts: ProbeAlerts = std::sync::Arc::new(move |spec, change| {
        let st = st.clone();
        tokio::spawn(async move { probe_alert(&st, &spec, change).await });
    });
    let st = h.clone();
    let steps: StepStore =
        std::sync::Arc::new(move |slo, events, through| st.store_steps(slo, events, through));
    *slot = Some(crate::sources::start(
        config,
        &h.engine,
        &h.signals,
        &h.clock,
        (tx, steps),
        alerts,
    ));
}

/// Snapshots the SLI store every `CHECKPOINT_EVERY`, or sooner once its log passes
/// `CHECKPOINT_LOG_BYTES`, so a restart replays little.
async fn run_checkpoints(h: Headroom) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut last = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        if last.elapsed() >= CHECKPOINT_EVERY || h.engine.tsdb().wal_bytes() >= CHECKPOINT_LOG_BYTES
        {
            checkpoint(&h).await;
            last = tokio::time::Instant::now();
        }
    }
}

/// Writes an SLI snapshot now (also the last thing `serve` does).
pub async fn checkpoint(h: &Headroom) {
    let engine = h.engine.clone();
    match tokio::task::spawn_blocking(move || engine.tsdb().checkpoint()).await {
        Ok(Ok(())) => h
            .health
            .last_checkpoint_ms
            .store(h.now().0 as u64, Ordering::Relaxed),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "SLI checkpoint failed; the write-ahead log still holds everything")
        }
        Err(e) => tracing::error!(error = %e, "SLI checkpoint panicked"),
    }
}

async fn run_self_measurement(h: Headroom) {
    let mut tick = tokio::time::interval(SELF_FLUSH_EVERY);
    loop {
        tick.tick().await;
        let st = h.clone();
        let now = h.now();
        let _ =
            tokio::task::spawn_blocking(move || st.requests.flush(&st.engine, &st.changed, now))
                .await;
    }
}
