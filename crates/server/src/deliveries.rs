//! Deploys and changes over HTTP: `POST /hooks/github` and `POST /hooks/gitlab` (the forge's
//! signature or token authenticates, checked on the raw body before it is parsed; a forge with
//! no secret in the config's `hooks` is answered 404 before the body is read, so the endpoint
//! never takes anonymous writes), `POST /api/v1/deployments` (scope `ingest`) and
//! `GET /api/v1/deployments[/{id}]` (scope `read`; one deploy with the incidents attributed
//! to it). What a delivery means is the service's
//! (`headroom_service::deploys`).

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use headroom_api::delivery as wire;
use headroom_api::{ErrorBody, Time};
use headroom_ingest::hook::MAX_HOOK_BYTES;
use headroom_ingest::{github, gitlab};
use headroom_service::deploys::{
    GitlabCredentials, HookOutcome, HookRefused, MAX_DEPLOYS_LISTED, ReportedCommit, ReportedDeploy,
};
use headroom_service::gates::GateRecord;
use headroom_store::{ChangeMarker, Deploy, DeployFilter, DeploySource, DeployStatus};
use serde::Deserialize;

use crate::auth::{Auth, needs, scope};
use crate::dora;
use crate::error::{ApiError, json_body, time_field};
use crate::state::AppState;

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The body up to [`MAX_HOOK_BYTES`] (hooks have their own limit: GitHub sends up to 25 MiB).
async fn hook_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_HOOK_BYTES)
        .await
        .map_err(|_| {
            ApiError::too_large(format!(
                "body: a hook delivery is at most {MAX_HOOK_BYTES} bytes"
            ))
        })
}

fn refused(e: HookRefused) -> ApiError {
    match e {
        HookRefused::NotConfigured(_) => ApiError::not_found(e.to_string()),
        HookRefused::Credential(_) => ApiError::unauthorized(e.to_string()),
        HookRefused::Malformed(m) => ApiError::bad_request(m.to_string()),
        HookRefused::Failed(s) => ApiError::from(s),
    }
}

fn result(o: HookOutcome) -> (StatusCode, Json<wire::HookResult>) {
    (
        StatusCode::ACCEPTED,
        Json(wire::HookResult {
            deploys: o.deploys,
            commits: o.commits,
            pull_requests: o.pull_requests,
            incidents: o.incidents,
            ignored: o.ignored,
        }),
    )
}

/// `POST /hooks/github`.
#[utoipa::path(
    post,
    path = "/hooks/github",
    summary = "GitHub webhook: push, merged pull_request, deployment_status, workflow_run, issues labelled as incidents",
    description = "X-Hub-Signature-256 (HMAC-SHA256 of the body with hooks.github's secret) authenticates; X-GitHub-Event names the event.",
    params(("X-GitHub-Event" = String, Header, description = "the event"), ("X-Hub-Signature-256" = String, Header, description = "sha256=<hex HMAC>")),
    request_body(content = Object, description = "the event's payload", content_type = "application/json"),
    responses((status = 202, description = "recorded, or ignored with the reason", body = wire::HookResult), (status = 400, description = "not a payload of that event, named by JSON path", body = ErrorBody), (status = 401, description = "signature missing or wrong", body = ErrorBody), (status = 404, description = "no GitHub secret configured", body = ErrorBody), (status = 413, description = "body over 25 MiB", body = ErrorBody))
)]
pub async fn github_hook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<wire::HookResult>), ApiError> {
    if !state.deploys.accepts_github() {
        return Err(refused(HookRefused::NotConfigured("github")));
    }
    let body = hook_body(body).await?;
    state
        .github_hook(
            header(&headers, github::EVENT_HEADER),
            header(&headers, github::SIGNATURE_HEADER),
            &body,
        )
        .await
        .map(result)
        .map_err(refused)
}

/// `POST /hooks/gitlab`.
#[utoipa::path(
    post,
    path = "/hooks/gitlab",
    summary = "GitLab webhook: Push, Merge Request, Pipeline and Deployment hooks",
    description = "X-Gitlab-Token (hooks.gitlab's token) authenticates, and webhook-signature too when a signing key is configured; X-Gitlab-Event names the event.",
    params(("X-Gitlab-Event" = String, Header, description = "the event"), ("X-Gitlab-Token" = String, Header, description = "the webhook's secret token")),
    request_body(content = Object, description = "the hook's payload", content_type = "application/json"),
    responses((status = 202, description = "recorded, or ignored with the reason", body = wire::HookResult), (status = 400, description = "not a payload of that hook, named by JSON path", body = ErrorBody), (status = 401, description = "token or signature missing or wrong", body = ErrorBody), (status = 404, description = "no GitLab token configured", body = ErrorBody), (status = 413, description = "body over 25 MiB", body = ErrorBody))
)]
pub async fn gitlab_hook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<wire::HookResult>), ApiError> {
    if !state.deploys.accepts_gitlab() {
        return Err(refused(HookRefused::NotConfigured("gitlab")));
    }
    let body = hook_body(body).await?;
    let credentials = GitlabCredentials {
        token: header(&headers, "X-Gitlab-Token"),
        signed: gitlab::SignedHeaders {
            id: header(&headers, "webhook-id"),
            timestamp: header(&headers, "webhook-timestamp"),
            signature: header(&headers, "webhook-signature"),
        },
    };
    state
        .deploys
        .gitlab(header(&headers, gitlab::EVENT_HEADER), credentials, &body)
        .await
        .map(result)
        .map_err(refused)
}

/// The body as the service's report; a bad time, status or source is refused naming its field.
pub fn report(body: wire::DeployReport) -> Result<ReportedDeploy, ApiError> {
    let status = match body.status.as_deref().unwrap_or("success") {
        "success" => DeployStatus::Success,
        "failure" => DeployStatus::Failure,
        "cancelled" => DeployStatus::Cancelled,
        other => {
            return Err(ApiError::bad_request(format!(
                "status: {other:?} is not success, failure or cancelled"
            )));
        }
    };
    let source = match body.source.as_deref().unwrap_or("api") {
        "api" => DeploySource::Api,
        "cli" => DeploySource::Cli,
        other => {
            return Err(ApiError::bad_request(format!(
                "source: {other:?} is not api or cli"
            )));
        }
    };
    let mut commits = Vec::with_capacity(body.commits.len());
    for (i, c) in body.commits.into_iter().enumerate() {
        commits.push(ReportedCommit {
            authored: time_field(&format!("commits[{i}].authored"), &c.authored)?,
            committed: time_field(&format!("commits[{i}].committed"), &c.committed)?,
            sha: c.sha,
            parents: c.parents,
            files: c.files,
        });
    }
    Ok(ReportedDeploy {
        service: body.service,
        environment: body.environment,
        version: body.version,
        sha: body.sha,
        started: body
            .started
            .map(|t| time_field("started", &t))
            .transpose()?,
        finished: body
            .finished
            .map(|t| time_field("finished", &t))
            .transpose()?,
        status,
        labels: body.labels,
        changes: body.changes,
        commits,
        source,
        idempotency_key: body.idempotency_key,
        gate_decision_id: body.gate_decision_id,
    })
}

fn status(s: DeployStatus) -> wire::DeployStatus {
    match s {
        DeployStatus::Success => wire::DeployStatus::Success,
        DeployStatus::Failure => wire::DeployStatus::Failure,
        DeployStatus::Cancelled => wire::DeployStatus::Cancelled,
    }
}

/// A deploy as a marker on a series or an incident.
pub fn marker(d: &Deploy) -> wire::DeployMarker {
    let x = &d.deploy;
    wire::DeployMarker {
        id: d.id,
        at: x.finished.to_rfc3339().into(),
        service: x.service.clone(),
        environment: x.environment.clone(),
        version: x.version.clone(),
        sha: x.sha.clone(),
        status: status(x.status),
    }
}

pub fn change_marker(m: &ChangeMarker) -> wire::ChangeMarker {
    wire::ChangeMarker {
        id: m.id,
        at: m.marker.at.to_rfc3339().into(),
        summary: m.marker.summary.clone(),
        source: m.marker.source.clone(),
    }
}

/// The deploy with the gate decision it passed (`gate`, when linked and still kept).
pub fn deploy(d: &Deploy, gate: Option<&GateRecord>) -> wire::Deploy {
    let x = &d.deploy;
    wire::Deploy {
        id: d.id,
        service: x.service.clone(),
        environment: x.environment.clone(),
        version: x.version.clone(),
        sha: x.sha.clone(),
        started: x.started.map(|t| Time::from(t.to_rfc3339())),
        finished: x.finished.to_rfc3339().into(),
        status: status(x.status),
        labels: x.labels.clone(),
        changes: x.changes.clone(),
        source: match x.source {
            DeploySource::Github => wire::DeploySource::Github,
            DeploySource::Gitlab => wire::DeploySource::Gitlab,
            DeploySource::Api => wire::DeploySource::Api,
            DeploySource::Cli => wire::DeploySource::Cli,
        },
        recorded_at: d.recorded_at.to_rfc3339().into(),
        gate_decision: gate.map(crate::gates::decision),
    }
}

/// The deploys with the gate decisions they passed, read in one query.
async fn with_gates(state: &AppState, deploys: &[Deploy]) -> Result<Vec<wire::Deploy>, ApiError> {
    let ids: Vec<i64> = deploys.iter().filter_map(|d| d.gate_decision_id).collect();
    let gates = state.gates.many(&ids).await?;
    Ok(deploys
        .iter()
        .map(|d| {
            let gate = d
                .gate_decision_id
                .and_then(|id| gates.iter().find(|g| g.id == id));
            deploy(d, gate)
        })
        .collect())
}

/// `POST /api/v1/deployments`.
#[utoipa::path(
    post,
    path = "/api/v1/deployments",
    summary = "Record a deploy from any CI (idempotency_key makes a retry update the same one)",
    description = needs::INGEST,
    security(("bearer" = [])),
    request_body = wire::DeployReport,
    responses((status = 201, description = "recorded", body = wire::Deploy), (status = 400, description = "malformed, naming the field", body = ErrorBody), (status = 413, description = "too many labels or commits", body = ErrorBody), (status = 422, description = "unknown service or environment, or a gate_decision_id that is no allow of them", body = ErrorBody))
)]
pub async fn record(
    State(state): State<AppState>,
    _auth: Auth<scope::Ingest>,
    body: Bytes,
) -> Result<(StatusCode, Json<wire::Deploy>), ApiError> {
    let body: wire::DeployReport = json_body(&body)?;
    let stored = state.deploys.report(report(body)?).await?;
    let mut shown = with_gates(&state, std::slice::from_ref(&stored)).await?;
    Ok((StatusCode::CREATED, Json(shown.remove(0))))
}

#[derive(Deserialize)]
pub struct ListQuery {
    service: Option<String>,
    environment: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/deployments`.
#[utoipa::path(
    get,
    path = "/api/v1/deployments",
    summary = "Deploys, newest first",
    description = needs::READ,
    security(("bearer" = [])),
    params(("service" = Option<String>, Query, description = "only this service"), ("environment" = Option<String>, Query, description = "only this environment"), ("from" = Option<String>, Query, description = "finished at or after (RFC 3339)"), ("to" = Option<String>, Query, description = "finished before (RFC 3339)"), ("limit" = Option<u32>, Query, description = "at most this many (1 to 1000; 100 by default)")),
    responses((status = 200, description = "deploys", body = wire::DeployList), (status = 400, description = "bad time or range", body = ErrorBody))
)]
pub async fn list(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Query(q): Query<ListQuery>,
) -> Result<Json<wire::DeployList>, ApiError> {
    let filter = DeployFilter {
        service: q.service,
        environment: q.environment,
        from: q.from.map(|t| time_field("from", &t)).transpose()?,
        to: q.to.map(|t| time_field("to", &t)).transpose()?,
        limit: q.limit.unwrap_or(100).min(MAX_DEPLOYS_LISTED),
    };
    let deploys = state.deploys.list(filter).await?;
    Ok(Json(wire::DeployList {
        deploys: with_gates(&state, &deploys).await?,
    }))
}

/// `GET /api/v1/deployments/{id}`: the deploy, and the incidents counted against it or
/// naming it with how each was attributed.
#[utoipa::path(
    get,
    path = "/api/v1/deployments/{id}",
    summary = "One deploy, with the gate decision it passed and the incidents attributed to it",
    description = needs::READ,
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "deploy id")),
    responses((status = 200, description = "the deploy", body = wire::DeployDetail), (status = 404, description = "no such deploy", body = ErrorBody))
)]
pub async fn get_one(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
) -> Result<Json<wire::DeployDetail>, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("deploy {id:?} not found")))?;
    let stored = state.deploys.get(id).await?;
    let incidents = state.dora.incidents_of(&state.incidents, &stored).await?;
    let mut shown = with_gates(&state, std::slice::from_ref(&stored)).await?;
    Ok(Json(wire::DeployDetail {
        deploy: shown.remove(0),
        incidents: incidents.iter().map(dora::incident_attribution).collect(),
    }))
}
