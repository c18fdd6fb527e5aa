//! The router and `GET /api/v1/openapi.json`, built from ONE list of handlers: each handler's
//! `#[utoipa::path]` names its path, parameters, request body and every answer with its
//! `headroom_api` type, and `routes!` both serves it and documents it, so no route exists
//! without being in the document.

use std::sync::OnceLock;

use axum::Json;
use axum::Router;
use headroom_api::ErrorBody;
use serde_json::Value;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;
use crate::{
    actions, alertmanager, api, canary, deliveries, dora, escalation, gates, health, incidents,
    metrics, oncall, pagerduty, probes, remote_write,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "headroom",
        description = "SLOs, error budgets and burn-rate alerts. Errors are JSON {\"error\", \"detail\"}."
    ),
    components(schemas(ErrorBody))
)]
struct Base;

/// Every route of the API, compatibility paths, metrics and health, with its document.
fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(Base::openapi())
        .routes(routes!(api::list_slos))
        .routes(routes!(api::get_slo))
        .routes(routes!(api::slo_series))
        .routes(routes!(api::push_events))
        .routes(routes!(api::transitions))
        .routes(routes!(remote_write::write))
        .routes(routes!(probes::list))
        .routes(routes!(probes::results))
        .routes(routes!(probes::ping))
        .routes(routes!(probes::targets))
        .routes(routes!(openapi))
        .routes(routes!(alertmanager::get_alerts, alertmanager::post_alerts))
        .routes(routes!(alertmanager::get_alert_groups))
        .routes(routes!(alertmanager::status))
        .routes(routes!(alertmanager::receivers))
        .routes(routes!(
            alertmanager::list_silences,
            alertmanager::post_silence
        ))
        .routes(routes!(
            alertmanager::get_silence,
            alertmanager::expire_silence
        ))
        .routes(routes!(alertmanager::forwarded))
        .routes(routes!(pagerduty::enqueue))
        .routes(routes!(pagerduty::change))
        .routes(routes!(incidents::list_incidents, incidents::declare))
        .routes(routes!(incidents::metrics))
        .routes(routes!(incidents::get_incident))
        .routes(routes!(incidents::acknowledge))
        .routes(routes!(incidents::set_status))
        .routes(routes!(incidents::set_severity))
        .routes(routes!(incidents::assign_role))
        .routes(routes!(incidents::add_note))
        .routes(routes!(incidents::resolve))
        .routes(routes!(incidents::set_impact_start))
        .routes(routes!(incidents::set_attribution))
        .routes(routes!(incidents::add_action_item))
        .routes(routes!(incidents::update_action_item))
        .routes(routes!(incidents::postmortem))
        .routes(routes!(oncall::list_users))
        .routes(routes!(oncall::user_calendar))
        .routes(routes!(oncall::list_teams))
        .routes(routes!(oncall::list_schedules))
        .routes(routes!(oncall::oncall_at))
        .routes(routes!(oncall::shifts))
        .routes(routes!(oncall::add_override))
        .routes(routes!(oncall::schedule_calendar))
        .routes(routes!(oncall::rotate_schedule_feed))
        .routes(routes!(oncall::rotate_user_feed))
        .routes(routes!(oncall::keyed_feed))
        .routes(routes!(oncall::delete_override))
        .routes(routes!(escalation::list))
        .routes(routes!(escalation::get_one))
        .routes(routes!(escalation::acknowledge))
        .routes(routes!(escalation::resolve))
        .routes(routes!(escalation::ack_link_page, escalation::ack_link))
        .routes(routes!(
            escalation::resolve_link_page,
            escalation::resolve_link
        ))
        .routes(routes!(canary::judge))
        .routes(routes!(actions::list_actions))
        .routes(routes!(actions::list_action_runs))
        .routes(routes!(actions::get_action_run))
        .routes(routes!(actions::run_action))
        .routes(routes!(actions::approve_action_run))
        .routes(routes!(actions::reject_action_run))
        .routes(routes!(deliveries::github_hook))
        .routes(routes!(deliveries::gitlab_hook))
        .routes(routes!(deliveries::list, deliveries::record))
        .routes(routes!(deliveries::get_one))
        .routes(routes!(dora::report))
        .routes(routes!(gates::gate_decide))
        .routes(routes!(gates::gate_decisions))
        .routes(routes!(
            gates::list_gate_overrides,
            gates::add_gate_override
        ))
        .routes(routes!(gates::revoke_gate_override))
        .routes(routes!(api::reload))
        .routes(routes!(metrics::metrics))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::home))
}

/// The router `app` serves; its document is [`document`].
pub fn routes() -> Router<AppState> {
    documented().split_for_parts().0
}

/// The document, built once from the same list as the router.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = documented().split_for_parts().1;
        with_token_refusals(&mut doc);
        serde_json::to_value(&doc).expect("an OpenAPI document is JSON")
    })
}

/// The bearer scheme, and on every operation that takes a token the refusals any such
/// operation can answer (written here once rather than on each handler).
fn with_token_refusals(doc: &mut utoipa::openapi::OpenApi) {
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    let refusals = [
        ("401", "no token, or an unknown or revoked one"),
        ("403", "the token's scope does not allow this"),
        (
            "429",
            "too many failed attempts from this address; retry later",
        ),
    ];
    for item in doc.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            if op.security.is_none() {
                continue;
            }
            for (status, description) in refusals {
                let answer = ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build();
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert(answer.into());
            }
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    summary = "This document",
    responses((status = 200, description = "OpenAPI 3.1", body = Object))
)]
pub async fn openapi() -> Json<Value> {
    Json(document().clone())
}
