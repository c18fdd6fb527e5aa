//! Automated actions over HTTP (`headroom_service::actions` runs them).
//!
//! Endpoints (reads need scope `read`; runs by hand, approvals and rejections `respond`, and
//! the actor is the token's name):
//! - `GET /api/v1/actions`: the configured actions, secrets hidden;
//! - `GET /api/v1/actions/runs?action=&state=&limit=`: the audit log, newest first;
//!   `GET /api/v1/actions/runs/{id}`: one run;
//! - `POST /api/v1/actions/{name}/runs` `{context?, dry_run?}` (body optional): runs by hand;
//! - `POST /api/v1/actions/runs/{id}/approve`, `…/reject` `{reason}`: decide on a run awaiting
//!   approval.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use headroom_api::ErrorBody;
use headroom_api::actions as wire;
use headroom_service::action_request::RenderedRequest;
use headroom_service::actions::ByHand;
use headroom_spec::{Action, ActionKind, ActionTrigger, GithubEvent, redacted_url};
use headroom_store::{ActionRun, ActionRunState};
use serde::Deserialize;

use crate::auth::{Auth, needs, scope};
use crate::error::{ApiError, json_body};
use crate::state::AppState;

/// Runs a listing shows unless asked for fewer or more.
const DEFAULT_LIMIT: u32 = 100;

fn action(a: &Action) -> wire::Action {
    let (method, url, headers) = match &a.kind {
        ActionKind::Http(h) => (
            h.method.clone(),
            redacted_url(&h.url),
            h.headers.iter().map(|(n, _)| n.clone()).collect(),
        ),
        ActionKind::GithubDispatch(g) => {
            let path = match &g.event {
                GithubEvent::Workflow { workflow, .. } => {
                    format!("actions/workflows/{workflow}/dispatches")
                }
                GithubEvent::Repository { .. } => "dispatches".to_string(),
            };
            let url = format!("{}/repos/{}/{path}", redacted_url(&g.api_url), g.repository);
            ("POST".to_string(), url, vec!["Authorization".to_string()])
        }
        ActionKind::GitlabTrigger(g) => {
            let url = format!(
                "{}/api/v4/projects/{}/trigger/pipeline",
                redacted_url(&g.api_url),
                g.project
            );
            ("POST".to_string(), url, Vec::new())
        }
    };
    wire::Action {
        name: a.name.clone(),
        kind: a.kind.name().to_string(),
        method,
        url,
        headers,
        triggers: a.on.iter().map(trigger).collect(),
        approval_required: a.approval_required,
        dry_run: a.dry_run,
        timeout_seconds: a.timeout.as_secs_f64(),
        max_attempts: a.max_attempts,
    }
}

fn trigger(t: &ActionTrigger) -> String {
    let detail = match t {
        ActionTrigger::GateDenied {
            service,
            environment,
        } => [("service", service), ("environment", environment)]
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join(" "),
        ActionTrigger::CanaryFailed => String::new(),
        ActionTrigger::Alert { matchers } => {
            headroom_routing::matcher::matchers_to_string(matchers)
        }
        ActionTrigger::IncidentDeclared {
            severities,
            service,
        } => {
            let mut parts: Vec<String> = severities.iter().map(|s| s.to_string()).collect();
            parts.extend(service.iter().map(|s| format!("service={s}")));
            parts.join(" ")
        }
        ActionTrigger::BudgetBelow {
            slo,
            service,
            remaining,
        } => {
            let scope = slo
                .as_ref()
                .map(|s| format!("slo={s} "))
                .or_else(|| service.as_ref().map(|s| format!("service={s} ")))
                .unwrap_or_default();
            format!("{scope}remaining<{remaining}")
        }
    };
    if detail.is_empty() {
        t.name().to_string()
    } else {
        format!("{}: {detail}", t.name())
    }
}

fn state_of(s: ActionRunState) -> wire::RunState {
    use ActionRunState as S;
    match s {
        S::AwaitingApproval => wire::RunState::AwaitingApproval,
        S::Queued => wire::RunState::Queued,
        S::DryRun => wire::RunState::DryRun,
        S::Delivered => wire::RunState::Delivered,
        S::Failed => wire::RunState::Failed,
        S::Rejected => wire::RunState::Rejected,
    }
}

fn run(r: &ActionRun) -> wire::Run {
    let request = serde_json::from_str::<RenderedRequest>(&r.request_json)
        .ok()
        .map(|q| wire::RunRequest {
            method: q.method,
            url: q.url,
            headers: q
                .headers
                .into_iter()
                .map(|(name, value)| wire::Header { name, value })
                .collect(),
            body: q.body,
        });
    let time = |t: headroom_core::Timestamp| t.to_rfc3339().into();
    wire::Run {
        id: r.id.clone(),
        action: r.action.clone(),
        trigger: r.trigger.clone(),
        state: state_of(r.state),
        requested_by: r.requested_by.clone(),
        created_at: time(r.created_at),
        context: serde_json::from_str(&r.context_json).unwrap_or_default(),
        request,
        decided_by: r.approved_by.clone(),
        decided_at: r.decided_at.map(time),
        reason: r.reason.clone(),
        attempts: r.attempts.max(0) as u64,
        last_error: r.last_error.clone(),
        finished_at: r.finished_at.map(time),
        incident: r.incident_id.map(|i| i.to_string()),
    }
}

/// `GET /api/v1/actions`.
#[utoipa::path(
    get,
    path = "/api/v1/actions",
    summary = "Configured actions, secrets hidden",
    description = needs::READ,
    security(("bearer" = [])),
    responses((status = 200, description = "the actions of the config in force", body = wire::ActionList))
)]
pub async fn list_actions(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
) -> Json<wire::ActionList> {
    Json(wire::ActionList {
        actions: state.actions.configured().iter().map(action).collect(),
    })
}

#[derive(Deserialize)]
pub struct RunsQuery {
    action: Option<String>,
    state: Option<String>,
    limit: Option<String>,
}

/// `GET /api/v1/actions/runs`.
#[utoipa::path(
    get,
    path = "/api/v1/actions/runs",
    summary = "Action runs, newest first (the audit log)",
    description = needs::READ,
    security(("bearer" = [])),
    params(
        ("action" = Option<String>, Query, description = "only this action's runs"),
        ("state" = Option<String>, Query, description = "awaiting_approval|queued|dry_run|delivered|failed|rejected"),
        ("limit" = Option<u32>, Query, description = "at most this many (1 to 1000, default 100)")
    ),
    responses((status = 200, description = "runs", body = wire::RunList), (status = 400, description = "bad state or limit", body = ErrorBody))
)]
pub async fn list_action_runs(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Query(q): Query<RunsQuery>,
) -> Result<Json<wire::RunList>, ApiError> {
    let run_state = q
        .state
        .as_deref()
        .map(str::parse::<ActionRunState>)
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("state: {e}")))?;
    let limit = match q.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=headroom_service::actions::MAX_LIST).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("limit: {l:?} is not a number from 1 to 1000"))
            })?,
    };
    let listed = state.actions.runs(q.action, run_state, limit).await?;
    Ok(Json(wire::RunList {
        runs: listed.iter().map(run).collect(),
    }))
}

/// `GET /api/v1/actions/runs/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/actions/runs/{id}",
    summary = "One action run",
    description = needs::READ,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "run id")),
    responses((status = 200, description = "the run", body = wire::Run), (status = 404, description = "no such run", body = ErrorBody))
)]
pub async fn get_action_run(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
) -> Result<Json<wire::Run>, ApiError> {
    Ok(Json(run(&state.actions.get(&id).await?)))
}

/// `POST /api/v1/actions/{name}/runs`: a run by hand.
#[utoipa::path(
    post,
    path = "/api/v1/actions/{name}/runs",
    summary = "Run an action by hand",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("name" = String, Path, description = "action name")),
    request_body(content = Option<wire::RunByHand>, description = "optional: context for the templates, and a dry-run override"),
    responses(
        (status = 201, description = "the run: queued, awaiting approval, or a dry run", body = wire::Run),
        (status = 400, description = "bad body", body = ErrorBody),
        (status = 404, description = "no such action", body = ErrorBody),
        (status = 422, description = "context too large", body = ErrorBody)
    )
)]
pub async fn run_action(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<wire::Run>), ApiError> {
    let b: wire::RunByHand = if body.iter().all(u8::is_ascii_whitespace) {
        wire::RunByHand::default()
    } else {
        json_body(&body)?
    };
    let by_hand = ByHand {
        context: b.context.unwrap_or_default(),
        dry_run: b.dry_run,
    };
    let made = state
        .actions
        .run_by_hand(&name, by_hand, &auth.actor())
        .await?;
    Ok((StatusCode::CREATED, Json(run(&made))))
}

#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum DecisionRefused {
    #[response(status = 400, description = "bad body")]
    BadBody(ErrorBody),
    #[response(status = 404, description = "no such run")]
    NotFound(ErrorBody),
    #[response(status = 409, description = "the run is not awaiting approval")]
    Conflict(ErrorBody),
}

/// `POST /api/v1/actions/runs/{id}/approve`.
#[utoipa::path(
    post,
    path = "/api/v1/actions/runs/{id}/approve",
    summary = "Approve a run awaiting approval: it is sent",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "run id")),
    responses((status = 200, description = "the run, queued", body = wire::Run), DecisionRefused)
)]
pub async fn approve_action_run(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
) -> Result<Json<wire::Run>, ApiError> {
    Ok(Json(run(&state
        .actions
        .approve(&id, &auth.actor())
        .await?)))
}

/// `POST /api/v1/actions/runs/{id}/reject`.
#[utoipa::path(
    post,
    path = "/api/v1/actions/runs/{id}/reject",
    summary = "Reject a run awaiting approval: it is never sent",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "run id")),
    request_body = wire::Rejection,
    responses((status = 200, description = "the run, rejected", body = wire::Run), DecisionRefused)
)]
pub async fn reject_action_run(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<wire::Run>, ApiError> {
    let b: wire::Rejection = json_body(&body)?;
    let rejected = state.actions.reject(&id, &auth.actor(), &b.reason).await?;
    Ok(Json(run(&rejected)))
}
