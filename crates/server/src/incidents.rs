//! Incidents over HTTP, and the incident policies every accepted alert goes through.
//!
//! Each incident is one row of the state store holding the incident crate's serde JSON. Every
//! change is a read–modify–write against the version it read: a write that loses to another is
//! retried on the fresh record a few times, then answered 409. An operation the incident refuses
//! (a status move backwards, a second acknowledgement) changes nothing, not even the version.
//!
//! Endpoints (writes need scope `ingest`, reads `read`; the actor of a change is the token's name):
//! - `POST /api/v1/incidents` declares; `GET /api/v1/incidents?status=open|all&from=&to=` lists;
//!   `GET /api/v1/incidents/{id}` shows one with its timeline in time order;
//! - `POST …/{id}/acknowledge`, `…/status` `{status}`, `…/severity` `{severity}`,
//!   `…/roles` `{role, user}`, `…/notes` `{text}`, `…/resolve`, `…/action-items`
//!   `{text, owner, due}` and `PATCH …/{id}/action-items/{n}`; `…/impact-start` `{started_at}`
//!   corrects when the impact began;
//! - `GET …/{id}/postmortem`: the Markdown draft, with the error budget each affected SLO lost
//!   over the incident's impact window;
//! - `GET /api/v1/incidents/metrics?from=&to=&service=&team=`: MTTA and MTTR in seconds over the
//!   incidents opened in `[from, to)`. A service's team is the `team` label of its entry under
//!   `services`, or else the `team` label of an SLO of that service.
//!
//! Policies: alerts accepted by [`crate::alerting::accept`] (every source, headroom's own burn
//! alerts included) go through [`route_alert`] against the config's `incident_policies` and the
//! open incidents. A firing alert opens an incident (declared by `policy:<name>`, services and
//! SLOs from its `service` and `slo` labels), joins one (an `alert` timeline entry), or is
//! ignored. A resolved alert adds a note to the incident that links it; it never resolves the
//! incident: people decide that.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use headroom_core::{BudgetingMethod, SliData, Slo, Span, Timestamp};
use headroom_engine::Engine;
use headroom_incident::{
    ActionItemStatus, ActionItemUpdate, AlertDisposition, Declaration, Impact, Incident,
    IncidentError, IncidentFilter, IncidentPolicy, IncidentStatus, LinkedAlert, MeanTime, Role,
    Severity, TimelineKind, mtta, mttr, postmortem_markdown, route_alert,
};
use headroom_routing::alert::Alert;
use headroom_spec::Config;
use headroom_store::{IncidentStore, IncidentUpdate, NewIncident, UpdateOutcome};
use headroom_tsdb::SeriesKey;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use crate::auth::{Auth, scope};
use crate::error::ApiError;
use crate::limits;
use crate::state::AppState;

/// The id a document is declared with before the database numbers it. The row's id is the
/// truth: it replaces whatever id a stored document holds when it is loaded.
const PROVISIONAL_ID: &str = "new";
/// Tries of a read–modify–write that keeps losing to other writers before answering 409.
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

/// The incident policies and team map of the config in force.
pub async fn incident_config(state: &AppState) -> Arc<IncidentConfig> {
    state
        .alerting
        .incidents
        .read()
        .expect("incident config lock")
        .clone()
}

// ---- stored incidents ----

/// An incident as stored, with the version a write must name.
struct Stored {
    incident: Incident,
    version: i64,
}

/// The same incident under the id the database gave it.
fn with_id(incident: &Incident, id: i64) -> Result<Incident, ApiError> {
    let mut doc = serde_json::to_value(incident).map_err(ApiError::internal)?;
    doc["id"] = Value::from(id.to_string());
    serde_json::from_value(doc).map_err(ApiError::internal)
}

fn load_row(row: headroom_store::Incident) -> Result<Stored, ApiError> {
    let mut doc: Value = serde_json::from_str(&row.doc_json)
        .map_err(|e| ApiError::internal(format!("incident {} is not readable: {e}", row.id)))?;
    doc["id"] = Value::from(row.id.to_string());
    let incident = serde_json::from_value(doc)
        .map_err(|e| ApiError::internal(format!("incident {} is not readable: {e}", row.id)))?;
    Ok(Stored {
        incident,
        version: row.version,
    })
}

fn services_json(i: &Incident) -> String {
    serde_json::to_string(i.services()).unwrap_or_else(|_| "[]".into())
}

fn doc_json(i: &Incident) -> Result<String, ApiError> {
    serde_json::to_string(i).map_err(ApiError::internal)
}

/// The resolution the store filters by: none while open (a reopened incident is open again).
fn stored_resolved_at(i: &Incident) -> Option<Timestamp> {
    i.resolved_at().filter(|_| !i.is_open())
}

fn new_row(i: &Incident) -> Result<NewIncident, ApiError> {
    Ok(NewIncident {
        title: i.title().to_string(),
        severity: i.severity().to_string(),
        status: i.status().to_string(),
        opened_at: i.opened_at(),
        resolved_at: stored_resolved_at(i),
        services_json: services_json(i),
        doc_json: doc_json(i)?,
    })
}

fn update_row(i: &Incident) -> Result<IncidentUpdate, ApiError> {
    Ok(IncidentUpdate {
        title: i.title().to_string(),
        severity: i.severity().to_string(),
        status: i.status().to_string(),
        opened_at: i.opened_at(),
        resolved_at: stored_resolved_at(i),
        services_json: services_json(i),
        doc_json: doc_json(i)?,
    })
}

/// Stores a newly declared incident; returns it under its id.
async fn create(state: &AppState, incident: &Incident) -> Result<Stored, ApiError> {
    let id = state.store.create_incident(&new_row(incident)?).await?;
    Ok(Stored {
        incident: with_id(incident, id)?,
        version: 1,
    })
}

async fn load(state: &AppState, id: i64) -> Result<Stored, ApiError> {
    let row = state
        .store
        .get_incident(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no incident {id}")))?;
    load_row(row)
}

async fn list(
    state: &AppState,
    filter: &headroom_store::IncidentFilter,
) -> Result<Vec<Incident>, ApiError> {
    let rows = state.store.list_incidents(filter).await?;
    rows.into_iter()
        .map(|r| load_row(r).map(|s| s.incident))
        .collect()
}

/// The status code for an operation the incident refused: 409 when the incident's state is
/// why (a move it cannot make now), 422 for a request that could never apply, 404 for an
/// action item that does not exist.
fn refused(e: IncidentError) -> ApiError {
    use IncidentError as E;
    let detail = e.to_string();
    match e {
        E::Empty { .. } => ApiError::bad_request(detail),
        E::UnknownActionItem(_) => ApiError::not_found(detail),
        E::Duplicate { .. } | E::PageLevel | E::NotAnEscalation { .. } => {
            ApiError::unprocessable(detail)
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
        | E::ActionItemUnchanged(_) => ApiError::new(StatusCode::CONFLICT, "conflict", detail),
    }
}

/// Read–modify–write of incident `id`: `change` runs on the freshest record at the time of
/// each try; a refusal stores nothing.
async fn modify<T>(
    state: &AppState,
    id: i64,
    mut change: impl FnMut(&mut Incident, Timestamp) -> Result<T, IncidentError>,
) -> Result<(Stored, T), ApiError> {
    for _ in 0..WRITE_TRIES {
        let Stored {
            mut incident,
            version,
        } = load(state, id).await?;
        let out = change(&mut incident, state.now()).map_err(refused)?;
        if incident.timeline().len() > limits::MAX_TIMELINE_ENTRIES {
            return Err(limits::full(
                &format!("timeline entries of incident {id}"),
                limits::MAX_TIMELINE_ENTRIES,
            ));
        }
        match state
            .store
            .update_incident(id, version, &update_row(&incident)?)
            .await?
        {
            UpdateOutcome::Updated { version } => return Ok((Stored { incident, version }, out)),
            UpdateOutcome::Conflict => continue,
            UpdateOutcome::NotFound => {
                return Err(ApiError::not_found(format!("no incident {id}")));
            }
        }
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "version_conflict",
        format!("incident {id} kept changing under this write ({WRITE_TRIES} tries); try again"),
    ))
}

// ---- JSON shapes ----

fn time(t: Timestamp) -> Value {
    Value::from(t.to_rfc3339())
}

fn opt_time(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, time)
}

fn seconds(s: Option<Span>) -> Value {
    s.map_or(Value::Null, |s| Value::from(s.as_secs_f64()))
}

fn incident_json(s: &Stored, with_timeline: bool) -> Value {
    let i = &s.incident;
    let mut v = json!({
        "id": i.id().parse::<i64>().map_or_else(|_| Value::from(i.id()), Value::from),
        "version": s.version,
        "title": i.title(),
        "severity": i.severity().as_str(),
        "status": i.status().as_str(),
        "opened_at": time(i.opened_at()),
        "started_at": time(i.started_at()),
        "acknowledged_at": opt_time(i.acknowledged_at()),
        "resolved_at": opt_time(stored_resolved_at(i)),
        "time_to_acknowledge_seconds": seconds(i.time_to_acknowledge()),
        "time_to_resolve_seconds": seconds(i.time_to_resolve()),
        "roles": {
            "commander": i.roles().commander,
            "communications": i.roles().communications,
            "scribe": i.roles().scribe,
        },
        "services": i.services(),
        "slos": i.slos(),
        "alerts": i.alerts().iter().map(|a| json!({
            "fingerprint": a.fingerprint, "labels": a.labels, "at": time(a.at),
        })).collect::<Vec<_>>(),
        "escalation_level": i.escalation_level(),
        "action_items": i.action_items().iter().map(|a| json!({
            "id": a.id, "text": a.text, "owner": a.owner, "status": a.status.as_str(),
            "due": opt_time(a.due),
        })).collect::<Vec<_>>(),
        "contributing_factors": i.contributing_factors(),
    });
    if with_timeline {
        v["timeline"] = i
            .timeline()
            .iter()
            .map(|e| {
                // The kind's own fields (`type`, `from`, `to`…) beside the common ones.
                let mut entry = serde_json::to_value(&e.kind).unwrap_or_else(|_| json!({}));
                entry["at"] = time(e.at);
                entry["actor"] = Value::from(e.actor.clone());
                entry["text"] = Value::from(e.text.clone());
                entry
            })
            .collect();
    }
    v
}

// ---- request parsing ----

fn parse_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("body: {e}")))
}

fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::bad_request(format!("incident id {id:?} is not a number")))
}

/// RFC 3339, unix seconds, or a date (`2027-01-31`, midnight UTC).
fn parse_time(name: &str, s: &str) -> Result<Timestamp, ApiError> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        let midnight = d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
        return Ok(Timestamp::from_chrono(&midnight));
    }
    headroom_ingest::events::parse_timestamp_str(s)
        .map_err(|e| ApiError::bad_request(format!("{name}: {e}")))
}

fn opt_time_param(name: &str, s: &Option<String>) -> Result<Option<Timestamp>, ApiError> {
    s.as_deref().map(|s| parse_time(name, s)).transpose()
}

fn parse_severity(s: &str) -> Result<Severity, ApiError> {
    s.parse()
        .map_err(|e: headroom_incident::ParseError| ApiError::bad_request(e.to_string()))
}

fn parse_status(s: &str) -> Result<IncidentStatus, ApiError> {
    s.parse()
        .map_err(|e: headroom_incident::ParseError| ApiError::bad_request(e.to_string()))
}

fn parse_role(s: &str) -> Result<Role, ApiError> {
    Role::ALL
        .into_iter()
        .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown role {s:?} (expected one of commander, communications, scribe)"
            ))
        })
}

/// A field that may be absent (leave it), `null` (clear it) or a value.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

// ---- handlers ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclareBody {
    title: String,
    severity: String,
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    slos: Vec<String>,
    started_at: Option<String>,
    commander: Option<String>,
}

/// `POST /api/v1/incidents`: declares an incident; 201 with it.
pub async fn declare(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let actor = auth.actor();
    let b: DeclareBody = parse_body(&body)?;
    limits::check_text("title", &b.title)?;
    let severity = parse_severity(&b.severity)?;
    let started_at = opt_time_param("started_at", &b.started_at)?;
    if let Some(unknown) = b.slos.iter().find(|s| state.engine.slo(s).is_none()) {
        return Err(ApiError::unprocessable(format!("no SLO {unknown:?}")));
    }
    let now = state.now();
    let mut incident = Incident::declare(
        Declaration {
            id: PROVISIONAL_ID.to_string(),
            title: b.title,
            severity,
            started_at,
            services: b.services,
            slos: b.slos,
        },
        &actor,
        now,
    )
    .map_err(refused)?;
    if let Some(user) = &b.commander {
        incident
            .assign_role(&actor, now, Role::Commander, user)
            .map_err(refused)?;
    }
    let stored = create(&state, &incident).await?;
    tracing::info!(incident = %stored.incident.id(), %severity, "incident declared");
    Ok((StatusCode::CREATED, Json(incident_json(&stored, true))))
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// `GET /api/v1/incidents`: newest first, without timelines; open ones unless `status=all`.
pub async fn list_incidents(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let open_only = match q.status.as_deref().unwrap_or("open") {
        "open" => true,
        "all" => false,
        other => {
            return Err(ApiError::bad_request(format!(
                "status: {other:?} is neither open nor all"
            )));
        }
    };
    let filter = headroom_store::IncidentFilter {
        open_only,
        opened_from: opt_time_param("from", &q.from)?,
        opened_to: opt_time_param("to", &q.to)?,
        limit: LIST_LIMIT,
    };
    let rows = state.store.list_incidents(&filter).await?;
    let out = rows
        .into_iter()
        .map(|r| load_row(r).map(|s| incident_json(&s, false)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({"incidents": out})))
}

/// `GET /api/v1/incidents/{id}`: the incident with its timeline.
pub async fn get_incident(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let stored = load(&state, parse_id(&id)?).await?;
    Ok(Json(incident_json(&stored, true)))
}

/// Runs one operation as the request's actor and answers with the changed incident.
async fn operate(
    state: &AppState,
    actor: &str,
    id: &str,
    op: impl FnMut(&mut Incident, &str, Timestamp) -> Result<(), IncidentError>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(id)?;
    let mut op = op;
    let (stored, ()) = modify(state, id, |i, now| op(i, actor, now)).await?;
    Ok(Json(incident_json(&stored, true)))
}

pub async fn acknowledge(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let actor = auth.actor();
    operate(&state, &actor, &id, |i, actor, now| {
        i.acknowledge(actor, now)
    })
    .await
}

pub async fn resolve(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let actor = auth.actor();
    operate(&state, &actor, &id, |i, actor, now| {
        i.set_status(actor, now, IncidentStatus::Resolved)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
}

pub async fn set_status(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let actor = auth.actor();
    let b: StatusBody = parse_body(&body)?;
    let to = parse_status(&b.status)?;
    operate(&state, &actor, &id, |i, actor, now| {
        i.set_status(actor, now, to)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeverityBody {
    severity: String,
}

pub async fn set_severity(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let actor = auth.actor();
    let b: SeverityBody = parse_body(&body)?;
    let to = parse_severity(&b.severity)?;
    operate(&state, &actor, &id, |i, actor, now| {
        i.set_severity(actor, now, to)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: String,
    user: String,
}

pub async fn assign_role(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let actor = auth.actor();
    let b: RoleBody = parse_body(&body)?;
    let role = parse_role(&b.role)?;
    operate(&state, &actor, &id, |i, actor, now| {
        i.assign_role(actor, now, role, &b.user)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
}

pub async fn add_note(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let actor = auth.actor();
    let b: NoteBody = parse_body(&body)?;
    limits::check_text("text", &b.text)?;
    operate(&state, &actor, &id, |i, actor, now| {
        i.note(actor, now, &b.text)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImpactStartBody {
    started_at: String,
}

/// `POST …/impact-start` `{started_at}`: corrects when the impact began, as the investigation
/// learns it (the postmortem's duration, detection delay and budget window follow).
pub async fn set_impact_start(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let actor = auth.actor();
    let b: ImpactStartBody = parse_body(&body)?;
    let started_at = parse_time("started_at", &b.started_at)?;
    operate(&state, &actor, &id, |i, actor, now| {
        i.set_impact_start(actor, now, started_at)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionItemBody {
    text: String,
    owner: Option<String>,
    due: Option<String>,
}

/// `POST …/action-items`: 201 with the incident; the new item is the last of `action_items`.
pub async fn add_action_item(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let actor = auth.actor();
    let b: ActionItemBody = parse_body(&body)?;
    limits::check_text("text", &b.text)?;
    let due = opt_time_param("due", &b.due)?;
    let id = parse_id(&id)?;
    let (stored, _) = modify(&state, id, |i, now| {
        i.add_action_item(&actor, now, &b.text, b.owner.as_deref(), due)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(incident_json(&stored, true))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionItemPatch {
    text: Option<String>,
    #[serde(default, deserialize_with = "present")]
    owner: Option<Option<String>>,
    status: Option<String>,
    #[serde(default, deserialize_with = "present")]
    due: Option<Option<String>>,
}

/// `PATCH …/action-items/{n}`: changes the fields given; `null` clears an owner or due date.
pub async fn update_action_item(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path((id, n)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let actor = auth.actor();
    let b: ActionItemPatch = parse_body(&body)?;
    limits::check_text("text", b.text.as_deref().unwrap_or_default())?;
    let n: u32 = n
        .parse()
        .map_err(|_| ApiError::bad_request(format!("action item {n:?} is not a number")))?;
    let status = match b.status.as_deref() {
        None => None,
        Some("open") => Some(ActionItemStatus::Open),
        Some("done") => Some(ActionItemStatus::Done),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "status: {other:?} is neither open nor done"
            )));
        }
    };
    let due = match &b.due {
        None => None,
        Some(None) => Some(None),
        Some(Some(s)) => Some(Some(parse_time("due", s)?)),
    };
    let update = ActionItemUpdate {
        text: b.text,
        owner: b.owner,
        status,
        due,
    };
    operate(&state, &actor, &id, |i, actor, now| {
        i.update_action_item(actor, now, n, update.clone())
    })
    .await
}

/// `GET …/{id}/postmortem`: the Markdown draft.
pub async fn postmortem(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let stored = load(&state, parse_id(&id)?).await?;
    let impact = Impact::measure(&stored.incident, state.now(), |slo, from, to| {
        budget_consumed(&state.engine, slo, from, to)
    });
    Ok((
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        postmortem_markdown(&stored.incident, &impact),
    ))
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
    let groups = if slo.grouping.is_empty() {
        vec![String::new()]
    } else {
        engine.tsdb().groups_of(&slo.id)
    };
    let (mut spent, mut allowed) = (0.0, 0.0);
    for group in groups {
        let key = SeriesKey::new(slo.id.clone(), group);
        engine.tsdb().with_series(&key, |data| {
            allowed += headroom_core::budget::status(&slo, data, to, &[])
                .budget
                .allowed;
            spent += bad_in(&slo, data, from, to);
        });
    }
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

#[derive(Deserialize)]
pub struct MetricsQuery {
    from: Option<String>,
    to: Option<String>,
    service: Option<String>,
    team: Option<String>,
}

fn mean_json(m: MeanTime) -> Value {
    json!({"seconds": seconds(m.mean), "counted": m.counted, "excluded": m.excluded})
}

/// `GET /api/v1/incidents/metrics`: MTTA and MTTR of the incidents opened in `[from, to)`
/// (default: the 30 days before now), optionally only a service's or a team's.
pub async fn metrics(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Query(q): Query<MetricsQuery>,
) -> Result<Json<Value>, ApiError> {
    let to = opt_time_param("to", &q.to)?.unwrap_or_else(|| state.now());
    let from = opt_time_param("from", &q.from)?.unwrap_or(to - METRICS_DEFAULT_RANGE);
    if from >= to {
        return Err(ApiError::bad_request("from must be before to"));
    }
    let incidents = list(
        &state,
        &headroom_store::IncidentFilter {
            open_only: false,
            opened_from: Some(from),
            opened_to: Some(to),
            limit: METRICS_LIMIT,
        },
    )
    .await?;
    let config = incident_config(&state).await;
    let mut filter = IncidentFilter::all();
    if let Some(s) = &q.service {
        filter = filter.service(s);
    }
    if let Some(t) = &q.team {
        filter = filter.team(t, &config.teams);
    }
    let team_services: Option<Vec<&String>> = q.team.as_ref().map(|t| {
        config
            .teams
            .iter()
            .filter(|(_, team)| *team == t)
            .map(|(s, _)| s)
            .collect()
    });
    Ok(Json(json!({
        "from": time(from),
        "to": time(to),
        "service": q.service,
        "team": q.team,
        "team_services": team_services,
        "mtta": mean_json(mtta(&incidents, from, to, &filter)),
        "mttr": mean_json(mttr(&incidents, from, to, &filter)),
    })))
}

// ---- policies: alerts in, incidents opened or joined ----

fn alert_name(labels: &BTreeMap<String, String>) -> &str {
    labels.get("alertname").map_or("(unnamed)", String::as_str)
}

/// Runs accepted alerts through the incident policies. Called by `alerting::accept` once the
/// alerts are durable, while it holds the desk, so concurrent batches cannot both open an
/// incident for one group. A failure here is logged, never refused: the alerts are accepted.
pub async fn route_alerts(state: &AppState, alerts: &[Alert]) {
    if let Err(e) = try_route_alerts(state, alerts).await {
        tracing::error!(error = %e.detail, "could not apply incident policies to alerts");
    }
}

async fn try_route_alerts(state: &AppState, alerts: &[Alert]) -> Result<(), ApiError> {
    let now = state.now();
    let at = now.to_chrono();
    let config = incident_config(state).await;
    // A firing alert no policy opens can only repeat one an incident already links, which
    // changes nothing: only resolved alerts and policy matches need the open incidents.
    let matters = |a: &Alert| {
        a.resolved_at(at) || config.policies.iter().any(|p| p.opens(&a.labels).is_some())
    };
    if !alerts.iter().any(matters) {
        return Ok(());
    }
    let mut open = list(
        state,
        &headroom_store::IncidentFilter {
            open_only: true,
            opened_from: None,
            opened_to: None,
            limit: LIST_LIMIT,
        },
    )
    .await?;
    for alert in alerts {
        if alert.resolved_at(at) {
            alert_resolved(state, alert, &open).await?;
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
                match modify(state, id, |i, now| {
                    join(i, &actor, linked.clone(), labels, now)
                })
                .await
                {
                    Ok((stored, ())) => *held = stored.incident,
                    Err(e) if e.status == StatusCode::CONFLICT => {
                        tracing::info!(incident = id, detail = %e.detail, "alert not linked");
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
                let stored = create(state, &incident).await?;
                tracing::info!(incident = %stored.incident.id(), %policy, "incident opened by policy");
                open.push(stored.incident);
            }
        }
    }
    Ok(())
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

/// Notes a resolved alert on the incident linking it (an open one first, else a recent one).
/// A resolution already noted (senders repeat them) is not noted again.
async fn alert_resolved(
    state: &AppState,
    alert: &Alert,
    open: &[Incident],
) -> Result<(), ApiError> {
    let print = alert.fingerprint().to_string();
    let links = |i: &Incident| i.alerts().iter().any(|a| a.fingerprint == print);
    let id = match open.iter().find(|i| links(i)) {
        Some(i) => i.id().to_string(),
        None => {
            let recent = list(
                state,
                &headroom_store::IncidentFilter {
                    open_only: false,
                    opened_from: None,
                    opened_to: None,
                    limit: RECENT_FOR_RESOLVED,
                },
            )
            .await?;
            match recent.iter().find(|i| links(i)) {
                Some(i) => i.id().to_string(),
                None => return Ok(()),
            }
        }
    };
    let ended = alert
        .ends_at
        .map_or_else(|| state.now(), |t| Timestamp::from_chrono(&t));
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
    if noted(&load(state, id).await?.incident) {
        return Ok(());
    }
    modify(state, id, |i, _| {
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
async fn open_linking(state: &AppState, fingerprints: &[String]) -> Result<Vec<i64>, ApiError> {
    let open = list(
        state,
        &headroom_store::IncidentFilter {
            open_only: true,
            opened_from: None,
            opened_to: None,
            limit: LIST_LIMIT,
        },
    )
    .await?;
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

/// A page as an incident's timeline records it: who, the level (from 1), when.
pub type PageNote = (String, u32, Timestamp);

/// Pages sent for alerts an incident links go on its timeline.
pub async fn record_pages(
    state: &AppState,
    fingerprints: &[String],
    pages: &[PageNote],
) -> Result<(), ApiError> {
    if pages.is_empty() {
        return Ok(());
    }
    for id in open_linking(state, fingerprints).await? {
        modify(state, id, |incident, _| {
            for (who, level, at) in pages {
                incident.page("on-call", *at, who, *level)?;
            }
            Ok(())
        })
        .await?;
    }
    Ok(())
}

/// Acknowledging a page acknowledges the incidents linking its alerts (those still triggered).
pub async fn acknowledge_linked(
    state: &AppState,
    fingerprints: &[String],
    by: &str,
) -> Result<(), ApiError> {
    for id in open_linking(state, fingerprints).await? {
        let triggered = load(state, id).await?.incident.status() == IncidentStatus::Triggered;
        if triggered {
            modify(state, id, |incident, now| incident.acknowledge(by, now)).await?;
        }
    }
    Ok(())
}
