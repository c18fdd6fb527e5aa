//! Incidents over HTTP. The incidents themselves, their read–modify–write and the incident
//! policies alerts go through are the service's (`headroom_service::incidents`).
//!
//! Endpoints (writes need scope `respond`, reads `read`; the actor of a change is the token's
//! name):
//! - `POST /api/v1/incidents` declares; `GET /api/v1/incidents?status=open|all&from=&to=` lists;
//!   `GET /api/v1/incidents/{id}` shows one with its timeline in time order;
//! - `POST …/{id}/acknowledge`, `…/status` `{status}`, `…/severity` `{severity}`,
//!   `…/roles` `{role, user}`, `…/notes` `{text}`, `…/resolve`, `…/action-items`
//!   `{text, owner, due}` and `PATCH …/{id}/action-items/{n}`; `…/impact-start` `{started_at}`
//!   corrects when the impact began; `PUT …/{id}/attribution` `{deploy}|{version}|
//!   {not_caused_by_change}|{}` names what caused it (DORA), or hands it back to automatic;
//! - `GET /api/v1/incidents/{id}` also lists the deploys of its services around it (from the
//!   attribution window before it started until its resolution), read from the stored deploys;
//! - `GET …/{id}/postmortem`: the Markdown draft, with the error budget each affected SLO lost
//!   over the incident's impact window;
//! - `GET /api/v1/incidents/metrics?from=&to=&service=&team=`: MTTA and MTTR in seconds over the
//!   incidents opened in `[from, to)`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use headroom_api::ErrorBody;
use headroom_api::Time;
use headroom_api::incident as wire;
use headroom_core::{Span, Timestamp};
use headroom_incident::{
    ActionItemStatus, ActionItemUpdate, Cause, Incident, IncidentError, IncidentStatus, MeanTime,
    Role, Severity, TimelineKind,
};
use headroom_service::incidents::{Declare, Stored, parse_id, stored_resolved_at};
use headroom_service::limits;
use serde::{Deserialize, Deserializer};

use crate::auth::{Auth, needs, scope};
use crate::deliveries;
use crate::error::{ApiError, date_or_time_field, json_body};
use crate::state::AppState;

// ---- JSON shapes ----

fn time(t: Timestamp) -> Time {
    t.to_rfc3339().into()
}

fn seconds(s: Option<Span>) -> Option<f64> {
    s.map(|s| s.as_secs_f64())
}

fn severity(s: Severity) -> wire::Severity {
    match s {
        Severity::Sev1 => wire::Severity::Sev1,
        Severity::Sev2 => wire::Severity::Sev2,
        Severity::Sev3 => wire::Severity::Sev3,
        Severity::Sev4 => wire::Severity::Sev4,
    }
}

fn status(s: IncidentStatus) -> wire::IncidentStatus {
    use IncidentStatus as S;
    match s {
        S::Triggered => wire::IncidentStatus::Triggered,
        S::Acknowledged => wire::IncidentStatus::Acknowledged,
        S::Investigating => wire::IncidentStatus::Investigating,
        S::Identified => wire::IncidentStatus::Identified,
        S::Monitoring => wire::IncidentStatus::Monitoring,
        S::Resolved => wire::IncidentStatus::Resolved,
    }
}

fn role(r: Role) -> wire::Role {
    match r {
        Role::Commander => wire::Role::Commander,
        Role::Communications => wire::Role::Communications,
        Role::Scribe => wire::Role::Scribe,
    }
}

fn timeline_event(kind: &TimelineKind) -> wire::TimelineEvent {
    use TimelineKind as K;
    use wire::TimelineEvent as W;
    match kind {
        K::Declared { severity: s } => W::Declared {
            severity: severity(*s),
        },
        K::Alert { fingerprint } => W::Alert {
            fingerprint: fingerprint.clone(),
        },
        K::Page { who, level } => W::Page {
            who: who.clone(),
            level: *level,
        },
        K::Acknowledged => W::Acknowledged,
        K::Escalated { from, to } => W::Escalated {
            from: *from,
            to: *to,
        },
        K::StatusChanged { from, to } => W::StatusChanged {
            from: status(*from),
            to: status(*to),
        },
        K::SeverityChanged { from, to } => W::SeverityChanged {
            from: severity(*from),
            to: severity(*to),
        },
        K::RoleAssigned { role: r, user } => W::RoleAssigned {
            role: role(*r),
            user: user.clone(),
        },
        K::ServiceAffected { service } => W::ServiceAffected {
            service: service.clone(),
        },
        K::SloAffected { slo } => W::SloAffected { slo: slo.clone() },
        K::ImpactStartChanged { from, to } => W::ImpactStartChanged {
            from: from.0,
            to: to.0,
        },
        K::ContributingFactor => W::ContributingFactor,
        K::ActionItemAdded { id } => W::ActionItemAdded { id: *id },
        K::ActionItemUpdated { id } => W::ActionItemUpdated { id: *id },
        K::Attributed { cause: c } => W::Attributed { cause: cause(c) },
        K::Note => W::Note,
    }
}

fn cause(c: &Cause) -> wire::Cause {
    match c {
        Cause::Automatic => wire::Cause::default(),
        Cause::Deploy { deploy } => wire::Cause {
            // Deploys are named by their stored (numeric) ids, checked when named.
            deploy: deploy.parse().ok(),
            ..wire::Cause::default()
        },
        Cause::Version { version } => wire::Cause {
            version: Some(version.clone()),
            ..wire::Cause::default()
        },
        Cause::NotCausedByChange => wire::Cause {
            not_caused_by_change: true,
            ..wire::Cause::default()
        },
    }
}

/// A cause as the body names it: at most one of its fields, a version within the text bound.
fn parse_cause(c: wire::Cause) -> Result<Cause, ApiError> {
    match (c.deploy, c.version, c.not_caused_by_change) {
        (None, None, false) => Ok(Cause::Automatic),
        (Some(deploy), None, false) => Ok(Cause::Deploy {
            deploy: deploy.to_string(),
        }),
        (None, Some(version), false) => {
            limits::check_text("version", &version)?;
            if version.trim().is_empty() {
                return Err(ApiError::bad_request("version: must not be empty"));
            }
            Ok(Cause::Version { version })
        }
        (None, None, true) => Ok(Cause::NotCausedByChange),
        _ => Err(ApiError::bad_request(
            "deploy, version, not_caused_by_change: give at most one",
        )),
    }
}

fn incident(s: &Stored, with_timeline: bool) -> Result<wire::Incident, ApiError> {
    let i = &s.incident;
    let roles = i.roles();
    Ok(wire::Incident {
        // Stored ids are the positive numbers `parse_id` accepts.
        id: parse_id(i.id())?,
        version: s.version,
        title: i.title().to_string(),
        severity: severity(i.severity()),
        status: status(i.status()),
        opened_at: time(i.opened_at()),
        started_at: time(i.started_at()),
        acknowledged_at: i.acknowledged_at().map(time),
        resolved_at: stored_resolved_at(i).map(time),
        time_to_acknowledge_seconds: seconds(i.time_to_acknowledge()),
        time_to_resolve_seconds: seconds(i.time_to_resolve()),
        roles: wire::Roles {
            commander: roles.commander.clone(),
            communications: roles.communications.clone(),
            scribe: roles.scribe.clone(),
        },
        services: i.services().to_vec(),
        slos: i.slos().to_vec(),
        alerts: i
            .alerts()
            .iter()
            .map(|a| wire::LinkedAlert {
                fingerprint: a.fingerprint.clone(),
                labels: a.labels.clone(),
                at: time(a.at),
            })
            .collect(),
        escalation_level: i.escalation_level(),
        action_items: i
            .action_items()
            .iter()
            .map(|a| wire::ActionItem {
                id: a.id,
                text: a.text.clone(),
                owner: a.owner.clone(),
                status: match a.status {
                    ActionItemStatus::Open => wire::ActionItemStatus::Open,
                    ActionItemStatus::Done => wire::ActionItemStatus::Done,
                },
                due: a.due.map(time),
            })
            .collect(),
        contributing_factors: i.contributing_factors().to_vec(),
        cause: cause(i.cause()),
        deploys: None,
        timeline: with_timeline.then(|| {
            i.timeline()
                .iter()
                .map(|e| wire::TimelineEntry {
                    at: time(e.at),
                    actor: e.actor.clone(),
                    text: e.text.clone(),
                    event: timeline_event(&e.kind),
                })
                .collect()
        }),
    })
}

// ---- request parsing ----

fn opt_time_param(name: &str, s: &Option<String>) -> Result<Option<Timestamp>, ApiError> {
    s.as_deref()
        .map(|s| date_or_time_field(name, s))
        .transpose()
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

/// `POST /api/v1/incidents`: declares an incident; 201 with it.
#[utoipa::path(
    post,
    path = "/api/v1/incidents",
    summary = "Declare an incident",
    description = needs::RESPOND,
    security(("bearer" = [])),
    request_body = wire::Declaration,
    responses((status = 201, description = "the incident", body = wire::Incident), (status = 400, description = "bad body", body = ErrorBody))
)]
pub async fn declare(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    body: Bytes,
) -> Result<(StatusCode, Json<wire::Incident>), ApiError> {
    let actor = auth.actor();
    let b: wire::Declaration = json_body(&body)?;
    limits::check_text("title", &b.title)?;
    let severity = parse_severity(&b.severity)?;
    let started_at = opt_time_param("started_at", &b.started_at)?;
    let cause = parse_cause(wire::Cause {
        deploy: b.deploy,
        version: b.version,
        not_caused_by_change: b.not_caused_by_change,
    })?;
    state.dora.check_cause(&cause).await?;
    let declared = Declare {
        title: b.title,
        severity,
        started_at,
        services: b.services,
        slos: b.slos,
        commander: b.commander,
        cause,
    };
    let stored = state.declare_incident(&actor, declared).await?;
    Ok((StatusCode::CREATED, Json(incident(&stored, true)?)))
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// `GET /api/v1/incidents`: newest first, without timelines; open ones unless `status=all`.
#[utoipa::path(
    get,
    path = "/api/v1/incidents",
    summary = "Incidents, newest first",
    description = needs::READ,
    security(("bearer" = [])),
    params(("status" = Option<String>, Query, description = "open|all"), ("from" = Option<String>, Query, description = "RFC 3339"), ("to" = Option<String>, Query, description = "RFC 3339")),
    responses((status = 200, description = "incidents", body = wire::IncidentList), (status = 400, description = "bad range", body = ErrorBody))
)]
pub async fn list_incidents(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Query(q): Query<ListQuery>,
) -> Result<Json<wire::IncidentList>, ApiError> {
    let open_only = match q.status.as_deref().unwrap_or("open") {
        "open" => true,
        "all" => false,
        other => {
            return Err(ApiError::bad_request(format!(
                "status: {other:?} is neither open nor all"
            )));
        }
    };
    let from = opt_time_param("from", &q.from)?;
    let to = opt_time_param("to", &q.to)?;
    let listed = state.incidents.listed(open_only, from, to).await?;
    let incidents = listed
        .iter()
        .map(|s| incident(s, false))
        .collect::<Result<_, _>>()?;
    Ok(Json(wire::IncidentList { incidents }))
}

/// `GET /api/v1/incidents/{id}`: the incident with its timeline.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}",
    summary = "One incident with its timeline",
    description = needs::READ,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "incident id")),
    responses((status = 200, description = "the incident", body = wire::Incident), (status = 404, description = "no such incident", body = ErrorBody))
)]
pub async fn get_incident(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
) -> Result<Json<wire::Incident>, ApiError> {
    let stored = state.incidents.get(parse_id(&id)?).await?;
    let mut answer = incident(&stored, true)?;
    let deploys = state.dora.deploys_around(&stored.incident).await?;
    answer.deploys = Some(deploys.iter().map(deliveries::marker).collect());
    Ok(Json(answer))
}

/// The refusals of an operation on one incident, for the document (never built: handlers
/// answer an `ApiError`).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum OperationRefused {
    #[response(status = 400, description = "bad body")]
    BadBody(ErrorBody),
    #[response(status = 404, description = "no such incident")]
    NotFound(ErrorBody),
    #[response(
        status = 409,
        description = "a move the incident's status does not allow, or a concurrent change"
    )]
    Conflict(ErrorBody),
}

/// Runs one operation as the request's actor and answers with the changed incident.
async fn operate(
    state: &AppState,
    actor: &str,
    id: &str,
    op: impl FnMut(&mut Incident, &str, Timestamp) -> Result<(), IncidentError>,
) -> Result<Json<wire::Incident>, ApiError> {
    let stored = state.incidents.operate(parse_id(id)?, actor, op).await?;
    Ok(Json(incident(&stored, true)?))
}

#[utoipa::path(
    post,
    operation_id = "acknowledge_incident",
    path = "/api/v1/incidents/{id}/acknowledge",
    summary = "Acknowledge",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "incident id")),
    responses((status = 200, description = "the incident", body = wire::Incident), OperationRefused)
)]
pub async fn acknowledge(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
) -> Result<Json<wire::Incident>, ApiError> {
    let actor = auth.actor();
    operate(&state, &actor, &id, |i, actor, now| {
        i.acknowledge(actor, now)
    })
    .await
}

#[utoipa::path(
    post,
    operation_id = "resolve_incident",
    path = "/api/v1/incidents/{id}/resolve",
    summary = "Resolve",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "incident id")),
    responses((status = 200, description = "the incident", body = wire::Incident), OperationRefused)
)]
pub async fn resolve(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
) -> Result<Json<wire::Incident>, ApiError> {
    let actor = auth.actor();
    operate(&state, &actor, &id, |i, actor, now| {
        i.set_status(actor, now, IncidentStatus::Resolved)
    })
    .await
}

#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/status",
    summary = "Move the status (triggered → … → resolved)",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "incident id")),
    request_body = wire::StatusChange,
    responses((status = 200, description = "the incident", body = wire::Incident), OperationRefused)
)]
pub async fn set_status(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<wire::Incident>, ApiError> {
    let actor = auth.actor();
    let b: wire::StatusChange = json_body(&body)?;
    let to = parse_status(&b.status)?;
    operate(&state, &actor, &id, |i, actor, now| {
        i.set_status(actor, now, to)
    })
    .await
}

#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/severity",
    summary = "Change the severity (SEV1–SEV4)",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "incident id")),
    request_body = wire::SeverityChange,
    responses((status = 200, description = "the incident", body = wire::Incident), OperationRefused)
)]
pub async fn set_severity(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<wire::Incident>, ApiError> {
    let actor = auth.actor();
    let b: wire::SeverityChange = json_body(&body)?;
    let to = parse_severity(&b.severity)?;
    operate(&state, &actor, &id, |i, actor, now| {
        i.set_severity(actor, now, to)
    })
    .await
}

#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/roles",
    summary = "Assign a role (commander, communications, scribe)",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "incident id")),
    request_body = wire::RoleAssignment,
    responses((status = 200, description = "the incident", body = wire::Incident), OperationRefused)
)]
pub async fn assign_role(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<wire::Incident>, ApiError> {
    let actor = auth.actor();
    let b: wire::RoleAssignment = json_body(&body)?;
    let role = parse_role(&b.role)?;
    operate(&state, &actor, &id, |i, actor, now| {
        i.assign_role(actor, now, role, &b.user)
    })
    .await
}

#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/notes",
    summary = "Add a note to the timeline",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "incident id")),
    request_body = wire::Note,
    responses((status = 200, description = "the incident", body = wire::Incident), OperationRefused)
)]
pub async fn add_note(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<wire::Incident>, ApiError> {
    let actor = auth.actor();
    let b: wire::Note = json_body(&body)?;
    limits::check_text("text", &b.text)?;
    operate(&state, &actor, &id, |i, actor, now| {
        i.note(actor, now, &b.text)
    })
    .await
}

/// `PUT …/attribution`: names what caused the incident (a deploy id, a version, or
/// `not_caused_by_change: true`), or `{}` to hand it back to automatic attribution. A deploy
/// no stored deploy is is refused (422), and so is more than one of them (400).
#[utoipa::path(
    put,
    path = "/api/v1/incidents/{id}/attribution",
    summary = "Name the deploy or version that caused it, or mark it not caused by a change",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "incident id")),
    request_body = wire::Cause,
    responses((status = 200, description = "the incident", body = wire::Incident), (status = 422, description = "no such deploy", body = ErrorBody), OperationRefused)
)]
pub async fn set_attribution(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<wire::Incident>, ApiError> {
    let actor = auth.actor();
    let id = parse_id(&id)?;
    let cause = parse_cause(json_body(&body)?)?;
    state.dora.check_cause(&cause).await?;
    let stored = state
        .incidents
        .operate(id, &actor, |i, actor, now| {
            i.attribute(actor, now, cause.clone())
        })
        .await?;
    Ok(Json(incident(&stored, true)?))
}

/// `POST …/impact-start` `{started_at}`: corrects when the impact began, as the investigation
/// learns it (the postmortem's duration, detection delay and budget window follow).
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/impact-start",
    summary = "Set when the impact started",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "incident id")),
    request_body = wire::ImpactStart,
    responses((status = 200, description = "the incident", body = wire::Incident), OperationRefused)
)]
pub async fn set_impact_start(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<wire::Incident>, ApiError> {
    let actor = auth.actor();
    let b: wire::ImpactStart = json_body(&body)?;
    let started_at = date_or_time_field("started_at", &b.started_at)?;
    operate(&state, &actor, &id, |i, actor, now| {
        i.set_impact_start(actor, now, started_at)
    })
    .await
}

/// `POST …/action-items`: 201 with the incident; the new item is the last of `action_items`.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/action-items",
    summary = "Add an action item",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "incident id")),
    request_body = wire::NewActionItem,
    responses((status = 201, description = "the incident, the new item last", body = wire::Incident), OperationRefused)
)]
pub async fn add_action_item(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<wire::Incident>), ApiError> {
    let actor = auth.actor();
    let b: wire::NewActionItem = json_body(&body)?;
    limits::check_text("text", &b.text)?;
    let due = opt_time_param("due", &b.due)?;
    let id = parse_id(&id)?;
    let (stored, _) = state
        .incidents
        .modify(id, |i, now| {
            i.add_action_item(&actor, now, &b.text, b.owner.as_deref(), due)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(incident(&stored, true)?)))
}

/// Read here rather than into `headroom_api::incident::ActionItemPatch`, whose `status` is an
/// enum: an unknown status keeps its own message naming the two it may be.
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
#[utoipa::path(
    patch,
    path = "/api/v1/incidents/{id}/action-items/{n}",
    summary = "Update an action item",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "incident id"), ("n" = String, Path, description = "action item number")),
    request_body = wire::ActionItemPatch,
    responses((status = 200, description = "the incident", body = wire::Incident), (status = 400, description = "bad body", body = ErrorBody), (status = 404, description = "no such incident or item", body = ErrorBody))
)]
pub async fn update_action_item(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path((id, n)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<wire::Incident>, ApiError> {
    let actor = auth.actor();
    let b: ActionItemPatch = json_body(&body)?;
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
        Some(Some(s)) => Some(Some(date_or_time_field("due", s)?)),
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
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/postmortem",
    summary = "The postmortem draft (text/markdown)",
    description = needs::READ,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "incident id")),
    responses((status = 200, description = "Markdown", body = String, content_type = "text/markdown"), (status = 404, description = "no such incident", body = ErrorBody))
)]
pub async fn postmortem(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let markdown = state
        .incidents
        .postmortem(&state.engine, parse_id(&id)?)
        .await?;
    Ok((
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        markdown,
    ))
}

#[derive(Deserialize)]
pub struct MetricsQuery {
    from: Option<String>,
    to: Option<String>,
    service: Option<String>,
    team: Option<String>,
}

fn mean(m: MeanTime) -> wire::MeanTime {
    wire::MeanTime {
        seconds: seconds(m.mean),
        counted: m.counted as u64,
        excluded: m.excluded as u64,
    }
}

/// `GET /api/v1/incidents/metrics`: MTTA and MTTR of the incidents opened in `[from, to)`
/// (default: the 30 days before now), optionally only a service's or a team's.
#[utoipa::path(
    get,
    operation_id = "incident_metrics",
    path = "/api/v1/incidents/metrics",
    summary = "MTTA and MTTR over a range",
    description = needs::READ,
    security(("bearer" = [])),
    params(("from" = Option<String>, Query, description = "RFC 3339 (default: to − 30d)"), ("to" = Option<String>, Query, description = "RFC 3339 (default: now)"), ("service" = Option<String>, Query, description = "only this service"), ("team" = Option<String>, Query, description = "only this team's services")),
    responses((status = 200, description = "metrics", body = wire::IncidentMetrics), (status = 400, description = "bad range", body = ErrorBody))
)]
pub async fn metrics(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Query(q): Query<MetricsQuery>,
) -> Result<Json<wire::IncidentMetrics>, ApiError> {
    let to = opt_time_param("to", &q.to)?;
    let from = opt_time_param("from", &q.from)?;
    let m = state
        .incidents
        .metrics(from, to, q.service.as_deref(), q.team.as_deref())
        .await?;
    Ok(Json(wire::IncidentMetrics {
        from: time(m.from),
        to: time(m.to),
        service: q.service,
        team: q.team,
        team_services: m.team_services,
        mtta: mean(m.mtta),
        mttr: mean(m.mttr),
    }))
}
