//! Incidents, and the incident policies every accepted alert goes through.
//!
//! Each incident is one row of the state store holding the incident crate's serde JSON. Every
//! change is a read–modify–write against the version it read: a write that loses to another is
//! retried on the fresh record a few times, then refused as [`ServiceError::Contended`]. An
//! operation the incident refuses (a status move backwards, a second acknowledgement) changes
//! nothing, not even the version.
//!
//! Policies: alerts accepted by alerting (every source, headroom's own burn alerts included) go
//! through [`route_alert`] against the config's `incident_policies` and the open incidents. A
//! firing alert opens an incident (declared by `policy:<name>`, services and SLOs from its
//! `service` and `slo` labels), joins one (an `alert` timeline entry), or is ignored. A resolved
//! alert adds a note to the incident that links it; it never resolves the incident: people
//! decide that.
//!
//! Metrics: MTTA and MTTR over the incidents opened in a range. A service's team is the `team`
//! label of its entry under `services`, or else the `team` label of an SLO of that service.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use headroom_core::{BudgetingMethod, SliData, Slo, Span, Timestamp};
use headroom_engine::Engine;
use headroom_incident::{
    AlertDisposition, Cause, Declaration, Impact, Incident, IncidentError, IncidentFilter,
    IncidentPolicy, IncidentStatus, LinkedAlert, MeanTime, Role, Severity, TimelineKind, mtta,
    mttr, postmortem_markdown, route_alert,
};
use headroom_routing::alert::Alert;
use headroom_spec::Config;
use headroom_store::{
    IncidentStore, IncidentUpdate, NewIncident, Store, StoreError, UpdateOutcome,
};
use serde_json::Value;

use crate::clock::Clock;
use crate::error::ServiceError;
use crate::limits;

/// The id a document is declared with before the database numbers it. The row's id is the
/// truth: it replaces whatever id a stored document holds when it is loaded.
const PROVISIONAL_ID: &str = "new";
/// Tries of a read–modify–write that keeps losing to other writers before giving up.
const WRITE_TRIES: usize = 5;
/// Most open incidents an alert is routed against, and most incidents a list returns.
const LIST_LIMIT: u32 = 1000;
/// Most incidents a metrics range reads.
const METRICS_LIMIT: u32 = 100_000;
/// Recent incidents searched for the one a resolved alert belongs to, beyond the open ones.
const RECENT_FOR_RESOLVED: u32 = 100;
/// The default metrics range, ending now.
const METRICS_DEFAULT_RANGE: Span = Span(30 * 24 * 3_600_000);

// ---- what incidents read from the config in force ----

/// The config's incident policies and the service → team map used by the metrics filter.
#[derive(Debug, Default)]
pub struct IncidentConfig {
    pub policies: Vec<IncidentPolicy>,
    pub teams: BTreeMap<String, String>,
}

impl IncidentConfig {
    pub fn from_config(config: &Config) -> IncidentConfig {
        let mut teams = BTreeMap::new();
        for s in &config.services {
            if let Some(team) = s.labels.get("team") {
                teams.insert(s.name.clone(), team.clone());
            }
        }
        // A service only SLOs name takes the team its SLOs are labelled with.
        for slo in &config.slos {
            if let Some(team) = slo.labels.get("team") {
                teams
                    .entry(slo.service.clone())
                    .or_insert_with(|| team.clone());
            }
        }
        IncidentConfig {
            policies: config.incident_policies.clone(),
            teams,
        }
    }
}

/// An incident as stored, with the version a write must name.
pub struct Stored {
    pub incident: Incident,
    pub version: i64,
}

/// What declaring an incident takes.
pub struct Declare {
    pub title: String,
    pub severity: Severity,
    pub started_at: Option<Timestamp>,
    pub services: Vec<String>,
    pub slos: Vec<String>,
    pub commander: Option<String>,
    /// What caused it, when the declarer knows (checked by the caller: a named deploy exists).
    pub cause: Cause,
}

/// MTTA and MTTR over the incidents opened in `[from, to)`.
pub struct IncidentMetrics {
    pub from: Timestamp,
    pub to: Timestamp,
    /// With a team filter: the services the team owns.
    pub team_services: Option<Vec<String>>,
    pub mtta: MeanTime,
    pub mttr: MeanTime,
}

/// A page as an incident's timeline records it: who, the level (from 1), when.
pub type PageNote = (String, u32, Timestamp);

/// An incident id from a path: a positive number.
pub fn parse_id(id: &str) -> Result<i64, ServiceError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ServiceError::Invalid(format!("incident id {id:?} is not a number")))
}

/// The resolution the store filters by: none while open (a reopened incident is open again).
pub fn stored_resolved_at(i: &Incident) -> Option<Timestamp> {
    i.resolved_at().filter(|_| !i.is_open())
}

fn unreadable(id: i64, e: serde_json::Error) -> ServiceError {
    ServiceError::Store(StoreError::Corrupt {
        op: "reading an incident",
        detail: format!("incident {id} is not readable: {e}"),
    })
}

fn unwritable(e: serde_json::Error) -> ServiceError {
    ServiceError::Internal(format!("an incident cannot be written as JSON: {e}"))
}

/// The same incident under the id the database gave it.
fn with_id(incident: &Incident, id: i64) -> Result<Incident, ServiceError> {
    let mut doc = serde_json::to_value(incident).map_err(unwritable)?;
    doc["id"] = Value::from(id.to_string());
    serde_json::from_value(doc).map_err(|e| unreadable(id, e))
}

fn load_row(row: headroom_store::Incident) -> Result<Stored, ServiceError> {
    let mut doc: Value = serde_json::from_str(&row.doc_json).map_err(|e| unreadable(row.id, e))?;
    doc["id"] = Value::from(row.id.to_string());
    let incident = serde_json::from_value(doc).map_err(|e| unreadable(row.id, e))?;
    Ok(Stored {
        incident,
        version: row.version,
    })
}

fn services_json(i: &Incident) -> String {
    serde_json::to_string(i.services()).unwrap_or_else(|_| "[]".into())
}

fn doc_json(i: &Incident) -> Result<String, ServiceError> {
    serde_json::to_string(i).map_err(unwritable)
}

/// The columns the store keeps beside an incident's document; a new row and an update carry
/// the same ones.
macro_rules! columns {
    ($row:ident, $incident:expr) => {{
        let i: &Incident = $incident;
        $row {
            title: i.title().to_string(),
            severity: i.severity().to_string(),
            status: i.status().to_string(),
            opened_at: i.opened_at(),
            resolved_at: stored_resolved_at(i),
            services_json: services_json(i),
            doc_json: doc_json(i)?,
        }
    }};
}

fn new_row(i: &Incident) -> Result<NewIncident, ServiceError> {
    Ok(columns!(NewIncident, i))
}

fn update_row(i: &Incident) -> Result<IncidentUpdate, ServiceError> {
    Ok(columns!(IncidentUpdate, i))
}

/// Why the incident refused an operation: a conflict when its state is why (a move it cannot
/// make now), unacceptable for a request that could never apply, not found for an action item
/// that does not exist.
fn refused(e: IncidentError) -> ServiceError {
    use IncidentError as E;
    let detail = e.to_string();
    match e {
        E::Empty { .. } => ServiceError::Invalid(detail),
        E::UnknownActionItem(_) => ServiceError::NotFound(detail),
        E::Duplicate { .. } | E::PageLevel | E::NotAnEscalation { .. } => {
            ServiceError::Unacceptable(detail)
        }
        E::StatusMove { .. }
        | E::AlreadyAcknowledged { .. }
        | E::Resolved { .. }
        | E::BeforeOpened { .. }
        | E::BeforeLastStatusChange { .. }
        | E::ImpactAfterResolution { .. }
        | E::ImpactStartUnchanged(_)
        | E::SeverityUnchanged(_)
        | E::RoleUnchanged { .. }
        | E::AlertAlreadyLinked { .. }
        | E::ActionItemUnchanged(_)
        | E::CauseUnchanged(_) => ServiceError::Conflict(detail),
    }
}

fn filter(open_only: bool, limit: u32) -> headroom_store::IncidentFilter {
    headroom_store::IncidentFilter {
        open_only,
        opened_from: None,
        opened_to: None,
        limit,
    }
}

fn alert_name(labels: &BTreeMap<String, String>) -> &str {
    labels.get("alertname").map_or("(unnamed)", String::as_str)
}

/// The incidents in the store, and the policies and team map of the config in force.
pub struct Incidents {
    config: RwLock<Arc<IncidentConfig>>,
    store: Store,
    clock: Clock,
}

impl Incidents {
    pub fn new(config: &Config, store: Store, clock: Clock) -> Incidents {
        Incidents {
            config: RwLock::new(Arc::new(IncidentConfig::from_config(config))),
            store,
            clock,
        }
    }

    /// Takes a reloaded config's policies and team map.
    pub fn reload(&self, config: &Config) {
        *self.config.write().expect("incident config lock") =
            Arc::new(IncidentConfig::from_config(config));
    }

    /// The incident policies and team map of the config in force.
    pub fn config(&self) -> Arc<IncidentConfig> {
        self.config.read().expect("incident config lock").clone()
    }

    fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// Stores a newly declared incident; returns it under its id.
    async fn create(&self, incident: &Incident) -> Result<Stored, ServiceError> {
        let id = self.store.create_incident(&new_row(incident)?).await?;
        Ok(Stored {
            incident: with_id(incident, id)?,
            version: 1,
        })
    }

    /// Incident `id` as stored.
    pub async fn get(&self, id: i64) -> Result<Stored, ServiceError> {
        let row = self
            .store
            .get_incident(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no incident {id}")))?;
        load_row(row)
    }

    async fn list(
        &self,
        filter: &headroom_store::IncidentFilter,
    ) -> Result<Vec<Incident>, ServiceError> {
        let rows = self.store.list_incidents(filter).await?;
        rows.into_iter()
            .map(|r| load_row(r).map(|s| s.incident))
            .collect()
    }

    /// Newest first: the open ones, or all, opened in `[from, to)` when given.
    pub async fn listed(
        &self,
        open_only: bool,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<Stored>, ServiceError> {
        let filter = headroom_store::IncidentFilter {
            open_only,
            opened_from: from,
            opened_to: to,
            limit: LIST_LIMIT,
        };
        let rows = self.store.list_incidents(&filter).await?;
        rows.into_iter().map(load_row).collect()
    }

    /// Declares an incident (`slos` must be configured in `engine`).
    pub async fn declare(
        &self,
        engine: &Engine,
        actor: &str,
        d: Declare,
    ) -> Result<Stored, ServiceError> {
        if let Some(unknown) = d.slos.iter().find(|s| engine.slo(s).is_none()) {
            return Err(ServiceError::Unacceptable(format!("no SLO {unknown:?}")));
        }
        let now = self.now();
        let severity = d.severity;
        let mut incident = Incident::declare(
            Declaration {
                id: PROVISIONAL_ID.to_string(),
                title: d.title,
                severity,
                started_at: d.started_at,
                services: d.services,
                slos: d.slos,
            },
            actor,
            now,
        )
        .map_err(refused)?;
        if let Some(user) = &d.commander {
            incident
                .assign_role(actor, now, Role::Commander, user)
                .map_err(refused)?;
        }
        if d.cause != Cause::Automatic {
            incident.attribute(actor, now, d.cause).map_err(refused)?;
        }
        let stored = self.create(&incident).await?;
        tracing::info!(incident = %stored.incident.id(), %severity, "incident declared");
        Ok(stored)
    }

    /// Stores `incident` under a sender's reference (a GitHub issue) unless one already has
    /// it: the stored incident, and whether it is new.
    pub async fn declare_once(
        &self,
        external_ref: &str,
        incident: &Incident,
    ) -> Result<(Stored, bool), ServiceError> {
        let (id, created) = self
            .store
            .create_incident_once(external_ref, &new_row(incident)?)
            .await?;
        Ok((self.get(id).await?, created))
    }

    /// The incident stored under a sender's reference, if any.
    pub async fn by_ref(&self, external_ref: &str) -> Result<Option<i64>, ServiceError> {
        Ok(self.store.incident_by_ref(external_ref).await?)
    }

    /// Incidents opened in `[from, to)`, newest first, at most `limit`.
    pub async fn opened_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> Result<Vec<Incident>, ServiceError> {
        self.list(&headroom_store::IncidentFilter {
            open_only: false,
            opened_from: Some(from),
            opened_to: Some(to),
            limit,
        })
        .await
    }

    /// Read–modify–write of incident `id`: `change` runs on the freshest record at the time of
    /// each try; a refusal stores nothing.
    pub async fn modify<T>(
        &self,
        id: i64,
        mut change: impl FnMut(&mut Incident, Timestamp) -> Result<T, IncidentError>,
    ) -> Result<(Stored, T), ServiceError> {
        for _ in 0..WRITE_TRIES {
            let Stored {
                mut incident,
                version,
            } = self.get(id).await?;
            let out = change(&mut incident, self.now()).map_err(refused)?;
            if incident.timeline().len() > limits::MAX_TIMELINE_ENTRIES {
                return Err(limits::full(
                    &format!("timeline entries of incident {id}"),
                    limits::MAX_TIMELINE_ENTRIES,
                ));
            }
            match self
                .store
                .update_incident(id, version, &update_row(&incident)?)
                .await?
            {
                UpdateOutcome::Updated { version } => {
                    return Ok((Stored { incident, version }, out));
                }
                UpdateOutcome::Conflict => continue,
                UpdateOutcome::NotFound => {
                    return Err(ServiceError::NotFound(format!("no incident {id}")));
                }
            }
        }
        Err(ServiceError::Contended(format!(
            "incident {id} kept changing under this write ({WRITE_TRIES} tries); try again"
        )))
    }

    /// Runs one operation as `actor`; returns the changed incident.
    pub async fn operate(
        &self,
        id: i64,
        actor: &str,
        mut op: impl FnMut(&mut Incident, &str, Timestamp) -> Result<(), IncidentError>,
    ) -> Result<Stored, ServiceError> {
        let (stored, ()) = self.modify(id, |i, now| op(i, actor, now)).await?;
        Ok(stored)
    }

    /// The postmortem draft (Markdown), with the error budget each affected SLO lost over the
    /// incident's impact window.
    pub async fn postmortem(&self, engine: &Engine, id: i64) -> Result<String, ServiceError> {
        let stored = self.get(id).await?;
        let impact = Impact::measure(&stored.incident, self.now(), |slo, from, to| {
            budget_consumed(engine, slo, from, to)
        });
        Ok(postmortem_markdown(&stored.incident, &impact))
    }

    /// MTTA and MTTR of the incidents opened in `[from, to)` (default: the 30 days before now),
    /// optionally only a service's or a team's.
    pub async fn metrics(
        &self,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        service: Option<&str>,
        team: Option<&str>,
    ) -> Result<IncidentMetrics, ServiceError> {
        let to = to.unwrap_or_else(|| self.now());
        let from = from.unwrap_or(to - METRICS_DEFAULT_RANGE);
        if from >= to {
            return Err(ServiceError::Invalid("from must be before to".into()));
        }
        let incidents = self
            .list(&headroom_store::IncidentFilter {
                open_only: false,
                opened_from: Some(from),
                opened_to: Some(to),
                limit: METRICS_LIMIT,
            })
            .await?;
        let config = self.config();
        let mut filter = IncidentFilter::all();
        if let Some(s) = service {
            filter = filter.service(s);
        }
        if let Some(t) = team {
            filter = filter.team(t, &config.teams);
        }
        let team_services = team.map(|t| {
            config
                .teams
                .iter()
                .filter(|(_, team)| *team == t)
                .map(|(s, _)| s.clone())
                .collect()
        });
        Ok(IncidentMetrics {
            from,
            to,
            team_services,
            mtta: mtta(&incidents, from, to, &filter),
            mttr: mttr(&incidents, from, to, &filter),
        })
    }

    // ---- policies: alerts in, incidents opened or joined ----

    /// Runs accepted alerts through the incident policies. Called by alerting once the alerts
    /// are durable, while it holds the desk, so concurrent batches cannot both open an incident
    /// for one group. A failure here is logged, never refused: the alerts are accepted.
    /// Returns the incidents the policies opened.
    pub async fn route_alerts(&self, alerts: &[Alert]) -> Vec<Incident> {
        let mut opened = Vec::new();
        if let Err(e) = self.try_route_alerts(alerts, &mut opened).await {
            tracing::error!(error = %e, "could not apply incident policies to alerts");
        }
        opened
    }

    async fn try_route_alerts(
        &self,
        alerts: &[Alert],
        opened: &mut Vec<Incident>,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let at = now.to_chrono();
        let config = self.config();
        // A firing alert no policy opens can only repeat one an incident already links, which
        // changes nothing: only resolved alerts and policy matches need the open incidents.
        let matters = |a: &Alert| {
            a.resolved_at(at) || config.policies.iter().any(|p| p.opens(&a.labels).is_some())
        };
        if !alerts.iter().any(matters) {
            return Ok(());
        }
        let mut open = self.list(&filter(true, LIST_LIMIT)).await?;
        for alert in alerts {
            if alert.resolved_at(at) {
                self.alert_resolved(alert, &open).await?;
                continue;
            }
            let started = Timestamp::from_chrono(&alert.starts_at).min(now);
            let linked = LinkedAlert::from_labels(alert.labels.clone(), started);
            let policy = config
                .policies
                .iter()
                .find(|p| p.opens(&alert.labels).is_some());
            let actor = policy.map_or("alerting".to_string(), |p| format!("policy:{}", p.name));
            match route_alert(&config.policies, &open, &alert.labels) {
                AlertDisposition::Ignore => {}
                AlertDisposition::Join { incident } => {
                    let Some(held) = open.iter_mut().find(|i| i.id() == incident) else {
                        continue;
                    };
                    if held
                        .alerts()
                        .iter()
                        .any(|a| a.fingerprint == linked.fingerprint)
                    {
                        continue; // a repeat of an alert already linked
                    }
                    let id = parse_id(&incident)?;
                    let labels = &alert.labels;
                    match self
                        .modify(id, |i, now| join(i, &actor, linked.clone(), labels, now))
                        .await
                    {
                        Ok((stored, ())) => *held = stored.incident,
                        Err(e @ (ServiceError::Conflict(_) | ServiceError::Contended(_))) => {
                            tracing::info!(incident = id, detail = %e, "alert not linked");
                        }
                        Err(e) => return Err(e),
                    }
                }
                AlertDisposition::Open {
                    policy,
                    severity,
                    title,
                } => {
                    let actor = format!("policy:{policy}");
                    let label = |name: &str| {
                        alert
                            .labels
                            .get(name)
                            .filter(|v| !v.trim().is_empty())
                            .cloned()
                            .into_iter()
                            .collect::<Vec<_>>()
                    };
                    let title = if title.trim().is_empty() {
                        alert_name(&alert.labels).to_string()
                    } else {
                        title
                    };
                    let mut incident = Incident::declare(
                        Declaration {
                            id: PROVISIONAL_ID.to_string(),
                            title,
                            severity,
                            started_at: Some(started),
                            services: label("service"),
                            slos: label("slo"),
                        },
                        &actor,
                        now,
                    )
                    .map_err(refused)?;
                    incident.link_alert(&actor, linked).map_err(refused)?;
                    let stored = self.create(&incident).await?;
                    tracing::info!(incident = %stored.incident.id(), %policy, "incident opened by policy");
                    opened.push(stored.incident.clone());
                    open.push(stored.incident);
                }
            }
        }
        Ok(())
    }

    /// Notes a resolved alert on the incident linking it (an open one first, else a recent
    /// one). A resolution already noted (senders repeat them) is not noted again.
    async fn alert_resolved(&self, alert: &Alert, open: &[Incident]) -> Result<(), ServiceError> {
        let print = alert.fingerprint().to_string();
        let links = |i: &Incident| i.alerts().iter().any(|a| a.fingerprint == print);
        let id = match open.iter().find(|i| links(i)) {
            Some(i) => i.id().to_string(),
            None => {
                let recent = self.list(&filter(false, RECENT_FOR_RESOLVED)).await?;
                match recent.iter().find(|i| links(i)) {
                    Some(i) => i.id().to_string(),
                    None => return Ok(()),
                }
            }
        };
        let ended = alert
            .ends_at
            .map_or_else(|| self.now(), |t| Timestamp::from_chrono(&t));
        let summary = LinkedAlert::from_labels(alert.labels.clone(), ended).label_summary();
        let text = if summary.is_empty() {
            format!("Alert {} resolved", alert_name(&alert.labels))
        } else {
            format!("Alert {} resolved ({summary})", alert_name(&alert.labels))
        };
        let id = parse_id(&id)?;
        let noted = |i: &Incident| {
            i.timeline()
                .iter()
                .any(|e| e.kind == TimelineKind::Note && e.at == ended && e.text == text)
        };
        if noted(&self.get(id).await?.incident) {
            return Ok(());
        }
        self.modify(id, |i, _| {
            if noted(i) {
                return Ok(());
            }
            i.note("alerting", ended, &text)
        })
        .await?;
        Ok(())
    }

    // ---- what the on-call side tells incidents ----

    /// The ids of open incidents linking any of these alerts (fingerprints as 16 hex digits).
    pub(crate) async fn open_linking(
        &self,
        fingerprints: &[String],
    ) -> Result<Vec<i64>, ServiceError> {
        let open = self.list(&filter(true, LIST_LIMIT)).await?;
        Ok(open
            .iter()
            .filter(|i| {
                i.alerts()
                    .iter()
                    .any(|a| fingerprints.contains(&a.fingerprint))
            })
            .filter_map(|i| i.id().parse().ok())
            .collect())
    }

    /// Pages sent for alerts an incident links go on its timeline.
    pub async fn record_pages(
        &self,
        fingerprints: &[String],
        pages: &[PageNote],
    ) -> Result<(), ServiceError> {
        if pages.is_empty() {
            return Ok(());
        }
        for id in self.open_linking(fingerprints).await? {
            self.modify(id, |incident, _| {
                for (who, level, at) in pages {
                    incident.page("on-call", *at, who, *level)?;
                }
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// Acknowledging a page acknowledges the incidents linking its alerts (those still
    /// triggered).
    pub async fn acknowledge_linked(
        &self,
        fingerprints: &[String],
        by: &str,
    ) -> Result<(), ServiceError> {
        for id in self.open_linking(fingerprints).await? {
            let triggered = self.get(id).await?.incident.status() == IncidentStatus::Triggered;
            if triggered {
                self.modify(id, |incident, now| incident.acknowledge(by, now))
                    .await?;
            }
        }
        Ok(())
    }
}

/// Links a firing alert to an incident, adding the service and SLO it names if they are new.
fn join(
    incident: &mut Incident,
    actor: &str,
    alert: LinkedAlert,
    labels: &BTreeMap<String, String>,
    now: Timestamp,
) -> Result<(), IncidentError> {
    incident.link_alert(actor, alert)?;
    if let Some(service) = labels.get("service").filter(|s| !s.trim().is_empty())
        && !incident.services().contains(service)
    {
        incident.affect_service(actor, now, service)?;
    }
    if let Some(slo) = labels.get("slo").filter(|s| !s.trim().is_empty())
        && !incident.slos().contains(slo)
    {
        incident.affect_slo(actor, now, slo)?;
    }
    Ok(())
}

/// The fraction of an SLO's error budget spent in `[from, to)`: the bad events (or bad slices)
/// in that range over the budget the SLO's window ending at `to` allows, summed over its
/// groups. `None` when the SLO is not configured or its window holds no data.
pub fn budget_consumed(
    engine: &Engine,
    slo_id: &str,
    from: Timestamp,
    to: Timestamp,
) -> Option<f64> {
    let slo = engine.slo(slo_id)?;
    let (mut spent, mut allowed) = (0.0, 0.0);
    engine.each_group(&slo, |_, data| {
        allowed += headroom_core::budget::status(&slo, data, to, &[])
            .budget
            .allowed;
        spent += bad_in(&slo, data, from, to);
    });
    (allowed > 0.0).then(|| spent / allowed)
}

/// What an SLO's budget counts as spent in `[from, to)`, in its own units.
fn bad_in(slo: &Slo, data: &dyn SliData, from: Timestamp, to: Timestamp) -> f64 {
    if to <= from {
        return 0.0;
    }
    match slo.budgeting {
        BudgetingMethod::Occurrences => data.counts(from, to).bad(),
        BudgetingMethod::Timeslices { .. } => data.slices(from, to).bad(),
        BudgetingMethod::RatioTimeslices { .. } => {
            let s = data.slices(from, to);
            s.slices - s.ratio_sum
        }
    }
}
