//! DORA metrics over HTTP: `GET /api/v1/dora?service=&team=&environment=&from=&to=` (scope
//! `read`). The report is the service's (`headroom_service::dora`); this shapes it: `null`
//! where there is no data, figures rounded as everywhere ([`figure`]), ids as numbers.

use axum::Json;
use axum::extract::{Query, State};
use headroom_api::dora as wire;
use headroom_api::{ErrorBody, Time, figure};
use headroom_core::Timestamp;
use headroom_delivery::dora::{self as pure, DoraMetrics, IncidentAttribution};
use headroom_delivery::{Attribution, Tier};
use headroom_service::dora::{DoraQuery, stored_deploy_id};
use serde::Deserialize;

use crate::auth::{Auth, needs, scope};
use crate::error::{ApiError, date_or_time_field};
use crate::state::AppState;

fn time(t: Timestamp) -> Time {
    t.to_rfc3339().into()
}

fn tier(t: Option<Tier>) -> Option<wire::Tier> {
    t.map(|t| match t {
        Tier::Elite => wire::Tier::Elite,
        Tier::High => wire::Tier::High,
        Tier::Medium => wire::Tier::Medium,
        Tier::Low => wire::Tier::Low,
    })
}

fn fig(x: Option<f64>) -> Option<f64> {
    x.and_then(figure)
}

fn stage(s: &pure::Stage) -> wire::Stage {
    wire::Stage {
        changes: s.changes,
        median_seconds: fig(s.median_seconds),
    }
}

fn metrics(m: &DoraMetrics) -> wire::DoraMetrics {
    let (f, l, c, r, w) = (
        &m.deployment_frequency,
        &m.lead_time,
        &m.change_failure_rate,
        &m.recovery_time,
        &m.rework_rate,
    );
    wire::DoraMetrics {
        deployment_frequency: wire::DeploymentFrequency {
            deployments: f.deployments,
            per_day: fig(f.per_day),
            deployment_days_per_week: fig(f.deployment_days_per_week),
            tier: tier(f.tier),
        },
        lead_time: wire::LeadTime {
            changes: l.changes,
            median_seconds: fig(l.median_seconds),
            p90_seconds: fig(l.p90_seconds),
            tier: tier(l.tier),
            coding: stage(&l.coding),
            review: stage(&l.review),
            deploy: stage(&l.deploy),
            unlinked_deployments: l.unlinked_deployments,
        },
        change_failure_rate: wire::ChangeFailureRate {
            deployments: c.deployments,
            failed: c.failed,
            rate: fig(c.rate),
            tier: tier(c.tier),
        },
        recovery_time: wire::RecoveryTime {
            failures: r.failures,
            unrecovered: r.unrecovered,
            median_seconds: fig(r.median_seconds),
            tier: tier(r.tier),
        },
        rework_rate: wire::ReworkRate {
            deployments: w.deployments,
            rework: w.rework,
            rate: fig(w.rate),
        },
    }
}

fn attribution(a: &Attribution) -> wire::Attribution {
    let id = |d| stored_deploy_id(d);
    let (how, deploy, version) = match a {
        Attribution::Explicit { deploy, version } => {
            (wire::AttributionHow::Explicit, id(deploy), version.clone())
        }
        Attribution::Window { deploy, .. } => (wire::AttributionHow::Window, id(deploy), None),
        Attribution::NotCausedByChange => (wire::AttributionHow::NotCausedByChange, None, None),
        Attribution::Unresolved { deploy, version } => (
            wire::AttributionHow::Unresolved,
            deploy.as_ref().and_then(id),
            version.clone(),
        ),
        Attribution::None => (wire::AttributionHow::None, None, None),
    };
    wire::Attribution {
        how,
        deploy,
        version,
    }
}

/// An incident with how it was attributed (its id is the stored number).
pub fn incident_attribution(a: &IncidentAttribution) -> wire::IncidentAttribution {
    wire::IncidentAttribution {
        incident: a.incident.parse().unwrap_or_default(),
        started: time(a.started),
        resolved: a.resolved.map(time),
        attribution: attribution(&a.attribution),
    }
}

#[derive(Deserialize)]
pub struct DoraParams {
    service: Option<String>,
    team: Option<String>,
    environment: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// `GET /api/v1/dora`.
#[utoipa::path(
    get,
    path = "/api/v1/dora",
    summary = "DORA's five delivery metrics, tiers and weekly trend, with each incident's attribution",
    description = needs::READ,
    security(("bearer" = [])),
    params(("service" = Option<String>, Query, description = "only this service"), ("team" = Option<String>, Query, description = "only this team's services"), ("environment" = Option<String>, Query, description = "each service's production environment by default"), ("from" = Option<String>, Query, description = "RFC 3339, unix seconds or a date (default: to − 30 days)"), ("to" = Option<String>, Query, description = "RFC 3339, unix seconds or a date (default: now); at most 366 days after from")),
    responses((status = 200, description = "the report", body = wire::DoraReport), (status = 400, description = "bad time or range, naming the parameter", body = ErrorBody), (status = 404, description = "no such service or team", body = ErrorBody))
)]
pub async fn report(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Query(q): Query<DoraParams>,
) -> Result<Json<wire::DoraReport>, ApiError> {
    let query = DoraQuery {
        service: q.service,
        team: q.team,
        environment: q.environment,
        from: q.from.map(|t| date_or_time_field("from", &t)).transpose()?,
        to: q.to.map(|t| date_or_time_field("to", &t)).transpose()?,
    };
    let r = state.dora.report(&state.incidents, query).await?;
    Ok(Json(wire::DoraReport {
        from: time(r.start),
        to: time(r.end),
        service: r.service,
        team: r.team,
        environment: r.environment.as_str().to_string(),
        metrics: metrics(&r.metrics),
        weeks: r
            .weeks
            .iter()
            .map(|w| wire::DoraWeek {
                from: time(w.start),
                to: time(w.end),
                metrics: metrics(&w.metrics),
            })
            .collect(),
        incidents: r.incidents.iter().map(incident_attribution).collect(),
        attribution_window_seconds: r.attribution_window.as_secs_f64(),
        tiers_source: r.tier_source,
        tiers_year: r.tier_year,
    }))
}
