//! Release gates over HTTP: `GET /api/v1/gates/{service}` (scope `read`) decides and stores a
//! decision, `GET /api/v1/gates/{service}/decisions` lists them, and
//! `POST`/`GET /api/v1/gates/{service}/overrides`, `DELETE …/overrides/{id}` (scope `respond`
//! to write) manage the time-boxed overrides. What a decision means is the service's
//! (`headroom_service::gates`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use headroom_api::gate as wire;
use headroom_api::{ErrorBody, Time, figure};
use headroom_delivery::gate::{GateReason, Rule, Verdict};
use headroom_service::gates::{GateRecord, OverrideRequest};
use headroom_store::GateOverrideRecord;

use crate::alertmanager::query_pairs;
use crate::auth::{Auth, needs, scope};
use crate::error::{ApiError, json_body, time_field};
use crate::state::AppState;

fn time(t: headroom_core::Timestamp) -> Time {
    t.to_rfc3339().into()
}

fn rule(r: Rule) -> wire::GateRule {
    match r {
        Rule::MinBudgetRemaining => wire::GateRule::MinBudgetRemaining,
        Rule::PageAlert => wire::GateRule::PageAlert,
        Rule::MaxBurnRate1h => wire::GateRule::MaxBurnRate1h,
        Rule::NoData => wire::GateRule::NoData,
        Rule::ExemptLabel => wire::GateRule::ExemptLabel,
        Rule::Override => wire::GateRule::Override,
        Rule::NoPolicy => wire::GateRule::NoPolicy,
        Rule::EnvironmentNotGated => wire::GateRule::EnvironmentNotGated,
    }
}

fn reason(r: &GateReason) -> wire::GateReason {
    wire::GateReason {
        rule: rule(r.rule),
        denies: r.denies,
        slo: r.slo.clone(),
        group: r.group.clone(),
        budget_remaining: r.budget_remaining.and_then(figure),
        burn_rate: r.burn_rate.and_then(figure),
        alert: r.alert.clone(),
        message: r.message.clone(),
    }
}

/// A stored decision as the API shows it (also inside a deploy).
pub fn decision(g: &GateRecord) -> wire::GateDecision {
    wire::GateDecision {
        decision: match g.decision.verdict {
            Verdict::Allow => wire::GateVerdict::Allow,
            Verdict::Deny => wire::GateVerdict::Deny,
        },
        reasons: g.decision.reasons.iter().map(reason).collect(),
        decision_id: g.id,
        service: g.service.clone(),
        environment: g.environment.clone(),
        labels: g.labels.clone(),
        at: time(g.at),
        actor: g.actor.clone(),
        override_id: g.decision.override_id,
    }
}

fn gate_override(o: &GateOverrideRecord) -> wire::GateOverride {
    let x = &o.over;
    wire::GateOverride {
        id: o.id,
        service: x.service.clone(),
        environment: x.environment.clone(),
        reason: x.reason.clone(),
        approver: x.approver.clone(),
        created_by: x.created_by.clone(),
        created: time(x.created),
        until: time(x.until),
        revoked: o.revoked.as_ref().map(|(t, _)| time(*t)),
        revoked_by: o.revoked.as_ref().map(|(_, by)| by.clone()),
    }
}

/// The query's `environment`, repeated `label`s and `limit`; any other key is refused.
struct GateQuery {
    environment: Option<String>,
    labels: Vec<String>,
    limit: Option<u32>,
}

fn gate_query(query: Option<&str>, allowed: &[&str]) -> Result<GateQuery, ApiError> {
    let mut q = GateQuery {
        environment: None,
        labels: Vec::new(),
        limit: None,
    };
    for (k, v) in query_pairs(query.unwrap_or("")) {
        if !allowed.contains(&k.as_str()) {
            return Err(ApiError::bad_request(format!(
                "{k}: unknown parameter; expected {}",
                allowed.join(", ")
            )));
        }
        match k.as_str() {
            "environment" => q.environment = Some(v),
            "label" => q.labels.push(v),
            _ => {
                q.limit = Some(v.parse().map_err(|_| {
                    ApiError::bad_request(format!("limit: {v:?} is not a whole number"))
                })?)
            }
        }
    }
    Ok(q)
}

/// `GET /api/v1/gates/{service}`.
#[utoipa::path(
    get,
    path = "/api/v1/gates/{service}",
    summary = "May the service be released now? Decides, stores and answers (allow or deny, with reasons)",
    description = needs::READ,
    security(("bearer" = [])),
    params(("service" = String, Path, description = "service name"), ("environment" = Option<String>, Query, description = "the service's production environment when absent"), ("label" = Option<String>, Query, description = "a label of the release (hotfix, rollback…), repeatable")),
    responses((status = 200, description = "the decision (a deny is an answer too)", body = wire::GateDecision), (status = 400, description = "unknown environment or parameter, bad label", body = ErrorBody), (status = 404, description = "no such service", body = ErrorBody), (status = 413, description = "too many labels", body = ErrorBody))
)]
pub async fn gate_decide(
    State(state): State<AppState>,
    auth: Auth<scope::Read>,
    Path(service): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<wire::GateDecision>, ApiError> {
    let q = gate_query(query.as_deref(), &["environment", "label"])?;
    let g = state
        .decide_gate(&service, q.environment, q.labels, &auth.actor())
        .await?;
    Ok(Json(decision(&g)))
}

/// `GET /api/v1/gates/{service}/decisions`.
#[utoipa::path(
    get,
    path = "/api/v1/gates/{service}/decisions",
    summary = "The service's gate decisions, newest first",
    description = needs::READ,
    security(("bearer" = [])),
    params(("service" = String, Path, description = "service name"), ("environment" = Option<String>, Query, description = "only this environment"), ("limit" = Option<u32>, Query, description = "at most this many (1 to 1000; 100 by default)")),
    responses((status = 200, description = "decisions", body = wire::GateDecisionList), (status = 400, description = "unknown environment or parameter", body = ErrorBody), (status = 404, description = "no such service", body = ErrorBody))
)]
pub async fn gate_decisions(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(service): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<wire::GateDecisionList>, ApiError> {
    let q = gate_query(query.as_deref(), &["environment", "limit"])?;
    let list = state
        .gates
        .decisions(&service, q.environment, q.limit.unwrap_or(100))
        .await?;
    Ok(Json(wire::GateDecisionList {
        decisions: list.iter().map(decision).collect(),
    }))
}

/// `POST /api/v1/gates/{service}/overrides`.
#[utoipa::path(
    post,
    path = "/api/v1/gates/{service}/overrides",
    summary = "Open the gate against its policy until a time (at most 7 days), with a reason",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("service" = String, Path, description = "service name")),
    request_body = wire::NewGateOverride,
    responses((status = 201, description = "the override", body = wire::GateOverride), (status = 400, description = "bad body: unknown environment, empty reason, until not in the future", body = ErrorBody), (status = 404, description = "no such service", body = ErrorBody), (status = 413, description = "reason too long", body = ErrorBody), (status = 422, description = "until more than 7 days away", body = ErrorBody))
)]
pub async fn add_gate_override(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(service): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<wire::GateOverride>), ApiError> {
    let body: wire::NewGateOverride = json_body(&body)?;
    let request = OverrideRequest {
        environment: body.environment,
        reason: body.reason,
        until: time_field("until", &body.until)?,
        approver: body.approver,
    };
    let o = state
        .gates
        .add_override(&service, request, &auth.actor())
        .await?;
    Ok((StatusCode::CREATED, Json(gate_override(&o))))
}

/// `GET /api/v1/gates/{service}/overrides`.
#[utoipa::path(
    get,
    path = "/api/v1/gates/{service}/overrides",
    summary = "The service's gate overrides, newest first, revoked and expired ones too",
    description = needs::READ,
    security(("bearer" = [])),
    params(("service" = String, Path, description = "service name"), ("limit" = Option<u32>, Query, description = "at most this many (1 to 1000; 100 by default)")),
    responses((status = 200, description = "overrides", body = wire::GateOverrideList), (status = 400, description = "unknown parameter", body = ErrorBody), (status = 404, description = "no such service", body = ErrorBody))
)]
pub async fn list_gate_overrides(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(service): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<wire::GateOverrideList>, ApiError> {
    let q = gate_query(query.as_deref(), &["limit"])?;
    let list = state
        .gates
        .overrides(&service, q.limit.unwrap_or(100))
        .await?;
    Ok(Json(wire::GateOverrideList {
        overrides: list.iter().map(gate_override).collect(),
    }))
}

/// `DELETE /api/v1/gates/{service}/overrides/{id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/gates/{service}/overrides/{id}",
    summary = "Revoke an override now (revoking again keeps the first revocation)",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("service" = String, Path, description = "service name"), ("id" = i64, Path, description = "override id")),
    responses((status = 200, description = "the revoked override", body = wire::GateOverride), (status = 404, description = "no such service or override", body = ErrorBody))
)]
pub async fn revoke_gate_override(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path((service, id)): Path<(String, String)>,
) -> Result<Json<wire::GateOverride>, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("override {id:?} not found")))?;
    let o = state
        .gates
        .revoke_override(&service, id, &auth.actor())
        .await?;
    Ok(Json(gate_override(&o)))
}
