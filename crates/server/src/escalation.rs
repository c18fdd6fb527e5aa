//! Escalations over HTTP: listing and reading them, acknowledging and resolving with a token,
//! and the signed links in every page (`/ack/{token}`, `/resolve/{token}`), which act only on
//! POST: their GET shows a confirm page and changes nothing, so a link scanner cannot act.
//! What an escalation is and does is the service's (`headroom_service::escalation`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use headroom_api::ErrorBody;
use headroom_api::escalation as wire;
use headroom_oncall::EscalationState;
use headroom_service::escalation::{Action, Tracked};
use serde::Deserialize;

use crate::auth::{Auth, needs, scope};
use crate::error::ApiError;
use crate::html::{escape, page};
use crate::oncall::time;
use crate::state::AppState;

/// An escalation as the API shows it.
fn escalation(id: &str, t: &Tracked) -> wire::Escalation {
    let (state, acknowledged_at, resolved_at) = match t.escalation.state() {
        EscalationState::Triggered => (wire::EscalationState::Triggered, None, None),
        EscalationState::Acknowledged { at } => (
            wire::EscalationState::Acknowledged,
            Some(time(at).into()),
            None,
        ),
        EscalationState::Resolved { at } => {
            (wire::EscalationState::Resolved, None, Some(time(at).into()))
        }
    };
    wire::Escalation {
        id: id.to_string(),
        receiver: t.receiver.clone(),
        group_key: t.group_key.clone(),
        group_labels: t.message.group_labels.clone(),
        policy: t.escalation.policy().id.to_string(),
        state,
        started_at: time(t.escalation.started()).into(),
        acknowledged_at,
        acknowledged_by: t.acknowledged_by.clone(),
        resolved_at,
        resolved_by: t.resolved_by.clone(),
        next_page_at: t.escalation.next_deadline().map(|at| time(at).into()),
        pages: t
            .pages
            .iter()
            .map(|p| wire::Page {
                level: p.level as u64,
                pass: p.pass,
                users: p.users.iter().map(|u| u.to_string()).collect(),
                at: time(p.at).into(),
            })
            .collect(),
    }
}

fn parse_by(body: &Bytes) -> Result<Option<String>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice::<wire::Responder>(body)
        .map(|b| b.by)
        .map_err(|e| ApiError::bad_request(format!("body: expected {{\"by\": \"…\"}} ({e})")))
}

async fn act(
    state: &AppState,
    id: &str,
    action: Action,
    by: Option<String>,
) -> Result<Json<wire::Escalation>, ApiError> {
    let t = state
        .escalations
        .act(&state.incidents, id, action, by, None)
        .await?;
    Ok(Json(escalation(id, &t)))
}

/// `POST /api/v1/escalations/{id}/ack` (body optional: `{"by": "…"}`).
#[utoipa::path(
    post,
    operation_id = "acknowledge_escalation",
    path = "/api/v1/escalations/{id}/ack",
    summary = "Acknowledge: stop paging",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "escalation id")),
    request_body(content = Option<wire::Responder>, description = "optional: who acts (the token's name when absent)"),
    responses((status = 200, description = "escalation", body = wire::Escalation), (status = 400, description = "bad body", body = ErrorBody), (status = 404, description = "no such escalation", body = ErrorBody), (status = 409, description = "already resolved", body = ErrorBody))
)]
pub async fn acknowledge(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<wire::Escalation>, ApiError> {
    let by = parse_by(&body)?.or(auth.actor);
    act(&state, &id, Action::Acknowledge, by).await
}

/// `POST /api/v1/escalations/{id}/resolve` (body optional: `{"by": "…"}`).
#[utoipa::path(
    post,
    operation_id = "resolve_escalation",
    path = "/api/v1/escalations/{id}/resolve",
    summary = "Resolve: end the escalation",
    description = needs::RESPOND,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "escalation id")),
    request_body(content = Option<wire::Responder>, description = "optional: who acts (the token's name when absent)"),
    responses((status = 200, description = "escalation", body = wire::Escalation), (status = 400, description = "bad body", body = ErrorBody), (status = 404, description = "no such escalation", body = ErrorBody))
)]
pub async fn resolve(
    State(state): State<AppState>,
    auth: Auth<scope::Respond>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<wire::Escalation>, ApiError> {
    let by = parse_by(&body)?.or(auth.actor);
    act(&state, &id, Action::Resolve, by).await
}

#[derive(Deserialize)]
pub struct ListQuery {
    open: Option<String>,
}

/// `GET /api/v1/escalations?open=true`: the escalations in progress (acknowledged ones too).
#[utoipa::path(
    get,
    operation_id = "list_escalations",
    path = "/api/v1/escalations",
    summary = "Open escalations",
    description = needs::READ,
    security(("bearer" = [])),
    params(("open" = Option<String>, Query, description = "true")),
    responses((status = 200, description = "escalations", body = wire::EscalationList), (status = 400, description = "open is not true", body = ErrorBody))
)]
pub async fn list(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Query(q): Query<ListQuery>,
) -> Result<Json<wire::EscalationList>, ApiError> {
    match q.open.as_deref() {
        None | Some("true") => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "open: only open=true is listed (got {other:?}); GET /api/v1/escalations/{{id}} reads any"
            )));
        }
    }
    let open = state.escalations.open().await?;
    let escalations = open.iter().map(|(id, t)| escalation(id, t)).collect();
    Ok(Json(wire::EscalationList { escalations }))
}

/// `GET /api/v1/escalations/{id}`.
#[utoipa::path(
    get,
    operation_id = "get_escalation",
    path = "/api/v1/escalations/{id}",
    summary = "One escalation with its pages",
    description = needs::READ,
    security(("bearer" = [])),
    params(("id" = String, Path, description = "escalation id")),
    responses((status = 200, description = "escalation", body = wire::Escalation), (status = 404, description = "no such escalation", body = ErrorBody))
)]
pub async fn get_one(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
) -> Result<Json<wire::Escalation>, ApiError> {
    let t = state.escalations.get(&id).await?;
    Ok(Json(escalation(&id, &t)))
}

const LINK_IS_CREDENTIAL: &str =
    "No token: the signed link is the credential (expiring, single use).";

/// A signed link's path, for the document.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct LinkToken {
    /// The link's signed token.
    token: String,
}

/// The refusals of a signed link, for the document (never built: handlers answer an
/// `ApiError`).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum LinkRefused {
    #[response(status = 400, description = "malformed")]
    Malformed(ErrorBody),
    #[response(status = 403, description = "forged")]
    Forged(ErrorBody),
    #[response(status = 409, description = "already used")]
    Used(ErrorBody),
    #[response(status = 410, description = "expired")]
    Expired(ErrorBody),
}

/// `GET /ack/{token}`, `GET /resolve/{token}`: a page asking to confirm, which changes nothing,
/// so a mail scanner or chat preview that fetches the link does not act on the page.
async fn confirm_link(state: &AppState, token: &str, action: Action) -> Result<Response, ApiError> {
    let id = state.escalations.link_target(token, action).await?;
    let verb = match action {
        Action::Acknowledge => "Acknowledge",
        Action::Resolve => "Resolve",
    };
    Ok(page(&format!(
        "<form method=post><p>{verb} escalation {}?</p>\
         <button type=submit>{verb}</button></form>",
        escape(id)
    )))
}

/// `POST` to a link: checks it, uses it once, then acts.
async fn use_link(state: &AppState, token: &str, action: Action) -> Result<Response, ApiError> {
    let (id, t) = state
        .escalations
        .act_by_link(&state.incidents, token, action)
        .await?;
    let state = match t.escalation.state() {
        EscalationState::Triggered => "triggered",
        EscalationState::Acknowledged { .. } => "acknowledged",
        EscalationState::Resolved { .. } => "resolved",
    };
    Ok(page(&format!(
        "<p>Escalation {} is {state}.</p>",
        escape(id)
    )))
}

/// `GET /ack/{token}`: the confirm page of a signed acknowledge link.
#[utoipa::path(
    get,
    path = "/ack/{token}",
    description = LINK_IS_CREDENTIAL,
    summary = "Confirm page of a signed acknowledge link",
    params(LinkToken),
    responses((status = 200, description = "a page with a button that POSTs to the link; changes nothing", body = String, content_type = "text/html"), LinkRefused)
)]
pub async fn ack_link_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    confirm_link(&state, &token, Action::Acknowledge).await
}

/// `GET /resolve/{token}`: the confirm page of a signed resolve link.
#[utoipa::path(
    get,
    path = "/resolve/{token}",
    description = LINK_IS_CREDENTIAL,
    summary = "Confirm page of a signed resolve link",
    params(LinkToken),
    responses((status = 200, description = "a page with a button that POSTs to the link; changes nothing", body = String, content_type = "text/html"), LinkRefused)
)]
pub async fn resolve_link_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    confirm_link(&state, &token, Action::Resolve).await
}

/// `POST /ack/{token}`: acknowledges through a signed link (no token header).
#[utoipa::path(
    post,
    path = "/ack/{token}",
    description = LINK_IS_CREDENTIAL,
    summary = "Acknowledge through a signed link from a page",
    params(LinkToken),
    responses((status = 200, description = "acknowledged", body = String, content_type = "text/html"), LinkRefused)
)]
pub async fn ack_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    use_link(&state, &token, Action::Acknowledge).await
}

/// `POST /resolve/{token}`: resolves through a signed link (no token header).
#[utoipa::path(
    post,
    path = "/resolve/{token}",
    description = LINK_IS_CREDENTIAL,
    summary = "Resolve through a signed link from a page",
    params(LinkToken),
    responses((status = 200, description = "resolved", body = String, content_type = "text/html"), LinkRefused)
)]
pub async fn resolve_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    use_link(&state, &token, Action::Resolve).await
}
