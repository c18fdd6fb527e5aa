//! The running service: every part, each built from the config and the storage, behind one
//! cheap-to-clone handle. Parts take only the handles they need; the few operations that span
//! parts are here.

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use headroom_core::{Alert, AlertState, SloId, Timestamp};
use headroom_engine::{Engine, IngestError};
use headroom_ingest::Event;
use headroom_spec::BackendConfig;
use headroom_store::{AlertStore, ConfigStore, Store};
use headroom_tsdb::{AppendOutcome, Tsdb, TsdbError};

use crate::actions::{Actions, Trigger};
use crate::alerting::{Alerting, Handoff};
use crate::changed::ChangedSlos;
use crate::clock::Clock;
use crate::config::{ConfigSource, Loaded, load_config_text};
use crate::deploys::{Deploys, HookOutcome, HookRefused};
use crate::dora::Dora;
use crate::error::{ServiceError, StartError};
use crate::escalation::Escalations;
use crate::gates::Gates;
use crate::incidents::{Declare, Incidents, Stored};
use crate::oncall::OnCall;
use crate::outbox::Outbox;
use crate::pagerduty::{PagerDuty, Responders};
use crate::selfmon::RequestTally;
use crate::signals::{Signals, Undeliverable};
use crate::sources::{Deliveries, Sources};
use headroom_incident::Incident;

/// The facts of the config in force.
#[derive(Debug, Clone)]
pub struct RunningConfig {
    pub anonymous_read: bool,
    /// The config's `metrics_token`: reads `/metrics` only.
    pub metrics_token: Option<String>,
    /// SHA-256 of the config text, to tell reloads apart.
    pub version: String,
    pub loaded_at: Timestamp,
    /// The Prometheus-compatible backends canary queries may name.
    pub backends: Arc<[BackendConfig]>,
}

/// Counters for headroom's own health on /metrics.
#[derive(Debug, Default)]
pub struct Health {
    pub events_ingested: AtomicU64,
    pub batches_rejected: AtomicU64,
    pub batches_duplicate: AtomicU64,
    pub evaluations: AtomicU64,
    pub reloads_ok: AtomicU64,
    pub reloads_failed: AtomicU64,
    pub last_checkpoint_ms: AtomicU64,
}

impl Health {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

pub struct Inner {
    pub engine: Arc<Engine>,
    pub store: Store,
    pub clock: Clock,
    pub config: RwLock<RunningConfig>,
    pub config_source: ConfigSource,
    /// SLOs whose data changed: the evaluator's wake-up.
    pub changed: ChangedSlos,
    /// Set once the first evaluation is done and the workers run.
    pub ready: AtomicBool,
    pub health: Health,
    pub requests: RequestTally,
    pub signals: Arc<Signals>,
    /// The running probes, scrape jobs and backend followers; replaced on reload.
    pub sources: tokio::sync::Mutex<Option<Sources>>,
    /// Where sources send their increments (set once the delivery task runs).
    pub deliveries: OnceLock<Deliveries>,
    /// Alerts in, notifications out: the dispatcher and its silences.
    pub alerting: Alerting,
    pub escalations: Escalations,
    pub incidents: Arc<Incidents>,
    /// Configured actions and their runs.
    pub actions: Arc<Actions>,
    /// The on-call directory and the contact methods pages go to.
    pub oncall: Arc<OnCall>,
    pub outbox: Arc<Outbox>,
    pub pagerduty: PagerDuty,
    /// Deploys and changes in.
    pub deploys: Deploys,
    /// DORA metrics over them.
    pub dora: Dora,
    /// Release gates.
    pub gates: Gates,
}

/// The service: what `headroom serve` runs, and what the HTTP edge calls.
#[derive(Clone)]
pub struct Headroom(Arc<Inner>);

impl Deref for Headroom {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// What pushing a batch of events did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Applied {
        samples: usize,
    },
    /// A batch already applied under the same idempotency key: nothing counted again.
    Duplicate,
}

impl Headroom {
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// The backends of the config in force.
    pub fn backends(&self) -> Arc<[BackendConfig]> {
        self.config.read().expect("config lock").backends.clone()
    }

    pub fn anonymous_read(&self) -> bool {
        self.config.read().expect("config lock").anonymous_read
    }

    /// Marks an SLO for re-evaluation and wakes the evaluator.
    pub fn touch(&self, slo: &str) {
        self.changed.mark(slo);
    }

    /// The parts a dispatch round hands notifications to.
    pub fn handoff(&self) -> Handoff<'_> {
        Handoff {
            engine: &self.engine,
            escalations: &self.escalations,
            oncall: &self.oncall,
            outbox: &self.outbox,
        }
    }

    /// The parts an inbound PagerDuty event acts on.
    pub fn responders(&self) -> Responders<'_> {
        Responders {
            alerting: &self.alerting,
            escalations: &self.escalations,
            incidents: &self.incidents,
        }
    }

    /// Declares an incident as `actor` and fires the actions its declaration matches.
    pub async fn declare_incident(&self, actor: &str, d: Declare) -> Result<Stored, ServiceError> {
        let stored = self.incidents.declare(&self.engine, actor, d).await?;
        self.declared(&stored.incident).await;
        Ok(stored)
    }

    /// Records a GitHub delivery (see [`Deploys::github`]); an incident it opens (an issue
    /// labelled as one) fires the actions its declaration matches, as a declared one does.
    pub async fn github_hook(
        &self,
        event: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<HookOutcome, HookRefused> {
        let outcome = self.deploys.github(event, signature, body).await?;
        for incident in &outcome.opened {
            self.declared(incident).await;
        }
        Ok(outcome)
    }

    async fn declared(&self, incident: &Incident) {
        if let Ok(id) = incident.id().parse() {
            let trigger = Trigger::IncidentDeclared {
                id,
                title: incident.title().to_string(),
                severity: incident.severity(),
                services: incident.services().to_vec(),
            };
            self.actions.fire(trigger, self.now()).await;
        }
    }

    /// Asks `service`'s release gate (see [`Gates::decide`]); a deny fires the actions that
    /// `gate_denied` names.
    pub async fn decide_gate(
        &self,
        service: &str,
        environment: Option<String>,
        labels: Vec<String>,
        actor: &str,
    ) -> Result<crate::gates::GateRecord, ServiceError> {
        let pages = self
            .alerting
            .service_pages(service, self.now().to_chrono())
            .await;
        let decided = self
            .gates
            .decide(service, environment, labels, &pages, actor)
            .await?;
        if decided.decision.verdict == headroom_delivery::gate::Verdict::Deny {
            let reasons: Vec<&str> = decided
                .decision
                .reasons
                .iter()
                .filter(|r| r.denies)
                .map(|r| r.message.as_str())
                .collect();
            let trigger = Trigger::GateDenied {
                service: decided.service.clone(),
                environment: decided.environment.clone(),
                decision_id: decided.id.to_string(),
                reasons_text: reasons.join("; "),
            };
            self.actions.fire(trigger, self.now()).await;
        }
        Ok(decided)
    }

    /// Judges a canary (see [`crate::canary::judge`]); a Fail verdict fires the actions that
    /// `canary_failed` names.
    pub async fn judge_canary(
        &self,
        request: crate::canary::JudgeRequest,
    ) -> Result<headroom_delivery::canary::Judgement, ServiceError> {
        let judged = crate::canary::judge(&self.backends(), request).await?;
        if judged.verdict == headroom_delivery::canary::Verdict::Fail {
            let trigger = Trigger::CanaryFailed {
                score: judged.score,
                reason: judged.reason.clone(),
            };
            self.actions.fire(trigger, self.now()).await;
        }
        Ok(judged)
    }

    /// Makes alerts durable and routes them (see [`Alerting::accept`]).
    pub async fn accept(
        &self,
        alerts: Vec<headroom_routing::alert::Alert>,
        source: &str,
    ) -> Result<(), ServiceError> {
        self.alerting.accept(&self.incidents, alerts, source).await
    }

    /// Writes increments without a baseline (probe results) into the engine (see
    /// [`Signals::deliver`]). Blocking: call off the async workers.
    pub fn deliver(&self, batches: Vec<(SloId, Vec<Event>)>) -> Result<usize, Undeliverable> {
        self.signals
            .deliver(&self.engine, &self.changed, batches, self.now())
    }

    /// Routes Prometheus series (remote-written or scraped) into the SLOs and stores what they
    /// count with their baselines (see [`Signals::take_samples`]); durable when it returns `Ok`.
    /// Blocking: call off the async workers.
    pub fn take_samples<'a>(
        &self,
        series: impl IntoIterator<Item = (&'a [(String, String)], &'a [(Timestamp, f64)])>,
    ) -> Result<usize, Undeliverable> {
        self.signals
            .take_samples(&self.engine, &self.changed, series, self.now())
    }

    /// Stores a backend follower's fetch with its last step end (see [`Signals::store_steps`]).
    /// Blocking: call off the async workers.
    pub fn store_steps(
        &self,
        slo: &SloId,
        events: Vec<Event>,
        through: Timestamp,
    ) -> Result<usize, Undeliverable> {
        self.signals.store_steps(
            &self.engine,
            &self.changed,
            slo,
            events,
            through,
            self.now(),
        )
    }

    /// Pushes a batch of events (JSON, or NDJSON) into an SLO, once per idempotency key. A
    /// refused batch changes nothing.
    pub async fn push_events(
        &self,
        slo: &str,
        body: &[u8],
        ndjson: bool,
        key: Option<String>,
    ) -> Result<Pushed, ServiceError> {
        let reject = |e: ServiceError| {
            Health::add(&self.health.batches_rejected, 1);
            e
        };
        let events = headroom_ingest::parse_batch(body, ndjson)
            .map_err(|e| reject(ServiceError::Invalid(e.to_string())))?;
        if events.is_empty() {
            return Err(reject(ServiceError::Invalid(
                "the batch holds no events".into(),
            )));
        }
        let now = self.now();
        let (engine, id) = (self.engine.clone(), slo.to_string());
        // The append waits for fsync: keep it off the async workers.
        let outcome =
            tokio::task::spawn_blocking(move || engine.ingest(&id, &events, key.as_deref(), now))
                .await
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
        match outcome {
            Ok(AppendOutcome::Applied { samples }) => {
                Health::add(&self.health.events_ingested, samples as u64);
                self.touch(slo);
                Ok(Pushed::Applied { samples })
            }
            Ok(AppendOutcome::Duplicate) => {
                Health::add(&self.health.batches_duplicate, 1);
                Ok(Pushed::Duplicate)
            }
            Err(e) => Err(reject(ingest_error(e))),
        }
    }
}

fn ingest_error(e: IngestError) -> ServiceError {
    match e {
        IngestError::UnknownSlo(_) => ServiceError::NotFound(e.to_string()),
        IngestError::BadEvent { .. } => ServiceError::Invalid(e.to_string()),
        IngestError::TooManyGroups { .. } | IngestError::Store(TsdbError::Sample { .. }) => {
            ServiceError::Unacceptable(e.to_string())
        }
        IngestError::Store(TsdbError::Io { .. } | TsdbError::Failed { .. }) => {
            ServiceError::Unavailable {
                summary: "events not stored, nothing changed",
                cause: e.to_string(),
            }
        }
        IngestError::Store(e) => ServiceError::Internal(e.to_string()),
    }
}

/// Opens storage and builds the service; restores alert states from the store.
pub async fn build_state(
    source: ConfigSource,
    tsdb: Tsdb,
    store: Store,
    clock: Clock,
) -> Result<Headroom, StartError> {
    let loaded = load_config_text(&source).map_err(StartError::Config)?;
    build_state_from(source, loaded, None, tsdb, store, clock).await
}

/// As [`build_state`], with the config already loaded from `source`. `external_url` is where
/// notifications link back to (by default the quickstart's address, or headroom's default).
pub async fn build_state_from(
    source: ConfigSource,
    Loaded {
        config,
        version,
        text,
    }: Loaded,
    external_url: Option<String>,
    tsdb: Tsdb,
    store: Store,
    clock: Clock,
) -> Result<Headroom, StartError> {
    let now = clock();
    let signals = Signals::new(&config);
    let external_url = external_url.unwrap_or_else(|| match &source {
        ConfigSource::Embedded { listen } => format!("http://{listen}"),
        ConfigSource::Paths(_) => "http://127.0.0.1:7979".to_string(),
    });
    let outbox = Arc::new(
        Outbox::new(&config, store.clone(), clock.clone())
            .map_err(|e| StartError::Config(vec![e]))?,
    );
    let incidents = Arc::new(Incidents::new(&config, store.clone(), clock.clone()));
    let actions = Arc::new(Actions::new(
        &config,
        store.clone(),
        clock.clone(),
        outbox.clone(),
        incidents.clone(),
    ));
    let alerting = Alerting::restore(
        &config,
        text,
        external_url.clone(),
        store.clone(),
        clock.clone(),
        actions.clone(),
    )
    .await?;
    let escalations = Escalations::restore(store.clone(), clock.clone(), external_url).await?;
    let oncall = OnCall::new(&config, store.clone(), clock.clone());
    let pagerduty = PagerDuty::new(&config);
    let deploys = Deploys::new(&config, store.clone(), clock.clone(), incidents.clone());
    let dora = Dora::new(&config, store.clone(), clock.clone());
    let engine = Arc::new(Engine::new(tsdb, config.slos.clone())?);
    let gates = Gates::new(&config, engine.clone(), store.clone(), clock.clone());
    signals.restore(engine.tsdb(), now);
    for s in store.alert_states().await? {
        if let Some(state) = AlertState::parse(&s.state) {
            engine.restore_alert(
                &s.slo,
                &s.group,
                &s.severity,
                Alert {
                    state,
                    since: s.since,
                },
            );
        }
    }
    store
        .record_config(&version, now, true, "loaded at start")
        .await?;
    let inner = Inner {
        engine,
        config: RwLock::new(RunningConfig {
            anonymous_read: config.anonymous_read,
            metrics_token: config.metrics_token.clone(),
            version,
            loaded_at: now,
            backends: config.backends.clone().into(),
        }),
        config_source: source,
        changed: ChangedSlos::default(),
        ready: Default::default(),
        health: Health::default(),
        requests: Default::default(),
        signals: Arc::new(signals),
        sources: Default::default(),
        deliveries: Default::default(),
        alerting,
        escalations,
        incidents,
        actions,
        oncall: Arc::new(oncall),
        outbox,
        pagerduty,
        deploys,
        dora,
        gates,
        store,
        clock,
    };
    Ok(Headroom(Arc::new(inner)))
}
