//! JSON API handlers under /api/v1: thin adapters between HTTP and the service's engine.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use headroom_api::reload::{ReloadStatus, Reloaded};
use headroom_api::slo as wire;
use headroom_api::{ErrorBody, figure};
use headroom_core::evaluator;
use headroom_core::{
    AlertState, BudgetingMethod, GroupKey, RatioQueries, Sli, Slo, SloStatus, Span, Timestamp,
};
use headroom_engine::{GroupView, SloView};
use headroom_service::state::Pushed;
use headroom_store::{AlertStore, DeployFilter};
use serde::Deserialize;

use crate::auth::{Auth, needs, scope};
use crate::deliveries;
use crate::error::{ApiError, time_field};
use crate::state::AppState;

/// At most this many points in one series response.
const MAX_POINTS: i64 = 11_000;
/// Deploy and change markers one series carries, each (the newest).
const MAX_SERIES_MARKERS: u32 = 500;

fn opt_f64(v: Option<f64>) -> Option<f64> {
    v.and_then(figure)
}

fn indicator(sli: &Sli) -> wire::Indicator {
    use wire::RatioQueries as W;
    match sli {
        Sli::Events => wire::Indicator::Events {},
        Sli::Ratio { queries, .. } => wire::Indicator::Ratio {
            queries: match queries {
                RatioQueries::GoodTotal { good, total } => W::GoodTotal {
                    good: good.0.clone(),
                    total: total.0.clone(),
                },
                RatioQueries::BadTotal { bad, total } => W::BadTotal {
                    bad: bad.0.clone(),
                    total: total.0.clone(),
                },
                RatioQueries::GoodBad { good, bad } => W::GoodBad {
                    good: good.0.clone(),
                    bad: bad.0.clone(),
                },
            },
        },
        Sli::Threshold {
            good,
            total,
            threshold,
        } => wire::Indicator::Threshold {
            good: good.0.clone(),
            total: total.0.clone(),
            threshold: *threshold,
        },
        // Shown as the counts a PromQL engine takes over `{{.window}}`: the values of the window
        // meeting the bound, of all its values.
        Sli::ThresholdMetric { query, good_when } => {
            let (good, total) = headroom_metrics::windowed::threshold_queries(query, *good_when);
            wire::Indicator::Threshold {
                good: good.0,
                total: total.0,
                threshold: Some(good_when.value()),
            }
        }
        Sli::RawErrorRatio { error_ratio } => wire::Indicator::RawErrorRatio {
            error_ratio: error_ratio.0.clone(),
        },
        Sli::Probe { probe, latency } => wire::Indicator::Probe {
            probe: probe.clone(),
            latency: latency.map(|l| l.to_string()),
        },
    }
}

fn budgeting(b: &BudgetingMethod) -> wire::Budgeting {
    match b {
        BudgetingMethod::Occurrences => wire::Budgeting::Occurrences,
        BudgetingMethod::Timeslices { target, slice } => wire::Budgeting::Timeslices {
            slice_target: *target,
            slice: slice.to_string(),
        },
        BudgetingMethod::RatioTimeslices { slice } => wire::Budgeting::RatioTimeslices {
            slice: slice.to_string(),
        },
    }
}

fn burn_rates(st: &SloStatus) -> BTreeMap<String, Option<f64>> {
    st.burn_rates
        .iter()
        .map(|b| (b.window.to_string(), opt_f64(b.rate)))
        .collect()
}

/// The wire name of an alert state; the store keeps the same names as text.
fn alert_state(s: AlertState) -> wire::AlertState {
    match s {
        AlertState::Inactive => wire::AlertState::Inactive,
        AlertState::Pending => wire::AlertState::Pending,
        AlertState::Firing => wire::AlertState::Firing,
        AlertState::Resolved => wire::AlertState::Resolved,
    }
}

fn group_status(slo: &Slo, g: &GroupView) -> wire::GroupStatus {
    let st = &g.status;
    let b = &st.budget;
    // Each timeslice method keeps what its budget reads: good slices, or the sum of ratios.
    let slices = st.slices.map(|s| match slo.budgeting {
        BudgetingMethod::RatioTimeslices { .. } => wire::Slices::Ratios {
            with_data: s.slices,
            ratio_sum: s.ratio_sum,
        },
        _ => wire::Slices::Counted {
            with_data: s.slices,
            good: s.good,
            bad: s.bad(),
        },
    });
    wire::GroupStatus {
        figures: wire::Figures {
            sli: opt_f64(st.sli),
            good_events: figure(st.counts.good),
            total_events: figure(st.counts.total),
            budget_consumed: figure(b.consumed),
            budget_remaining: figure(b.remaining),
            burn_rates: burn_rates(st),
            alerts: g
                .alerts
                .iter()
                .map(|(name, a)| wire::SloAlert {
                    name: name.clone(),
                    state: alert_state(a.state),
                    since: (a.since.0 > 0).then(|| a.since.to_rfc3339().into()),
                })
                .collect(),
        },
        measurement: wire::Measurement {
            budget: wire::Budget {
                allowed: figure(b.allowed),
                spent: figure(b.spent),
                remaining: figure(b.allowed - b.spent),
                allowed_minutes: opt_f64(b.allowed_minutes),
                spent_minutes: opt_f64(b.spent_minutes),
            },
            slices,
            time_to_exhaustion_seconds: st.time_to_exhaustion.and_then(|s| figure(s.as_secs_f64())),
            forecast_budget_remaining: opt_f64(st.forecast_remaining),
            evaluated_at: st.at.to_rfc3339().into(),
        },
    }
}

/// One SLO as the API shows it: its definition, its worst group's figures at top level, every
/// group.
pub fn slo_body(view: &SloView) -> wire::Slo {
    let slo: &Slo = &view.slo;
    // Top level: the group with the least budget left (the one that pages first).
    let worst = view.groups.iter().min_by(|a, b| {
        a.status
            .budget
            .remaining
            .total_cmp(&b.status.budget.remaining)
    });
    let standing = match worst {
        Some(g) => wire::Standing::Measured(group_status(slo, g)),
        None => wire::Standing::NoGroupYet(wire::Figures {
            sli: None,
            good_events: None,
            total_events: None,
            budget_consumed: None,
            budget_remaining: None,
            burn_rates: BTreeMap::new(),
            alerts: Vec::new(),
        }),
    };
    wire::Slo {
        id: slo.id.to_string(),
        service: slo.service.clone(),
        name: slo.name.clone(),
        description: slo.description.clone(),
        objective: slo.objective.ratio(),
        window: match slo.window {
            headroom_core::Window::Rolling { length } => length.to_string(),
            w => w.describe(),
        },
        budgeting: budgeting(&slo.budgeting),
        indicator: indicator(&slo.sli),
        grouping: slo.grouping.clone(),
        labels: slo.labels.clone(),
        alert_windows: evaluator::windows(slo)
            .iter()
            .map(|w| w.to_string())
            .collect(),
        standing,
        groups: (!slo.grouping.is_empty()).then(|| {
            view.groups
                .iter()
                .map(|g| wire::SloGroup {
                    group: g.group.to_string(),
                    status: group_status(slo, g),
                })
                .collect()
        }),
        source: slo.source.to_string(),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/slos",
    summary = "List SLOs with their budgets, burn rates and alert states",
    description = needs::READ,
    security(("bearer" = [])),
    responses((status = 200, description = "SLOs", body = wire::SloList))
)]
pub async fn list_slos(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
) -> Result<Json<wire::SloList>, ApiError> {
    let slos = state.engine.views().iter().map(slo_body).collect();
    Ok(Json(wire::SloList { slos }))
}

#[utoipa::path(
    get,
    path = "/api/v1/slos/{slo}",
    summary = "One SLO",
    description = needs::READ,
    security(("bearer" = [])),
    params(("slo" = String, Path, description = "SLO id")),
    responses((status = 200, description = "the SLO", body = wire::Slo), (status = 404, description = "unknown SLO", body = ErrorBody))
)]
pub async fn get_slo(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
) -> Result<Json<wire::Slo>, ApiError> {
    let view = state
        .engine
        .view(&id)
        .ok_or_else(|| ApiError::not_found(format!("no SLO {id:?}")))?;
    Ok(Json(slo_body(&view)))
}

#[derive(Deserialize)]
pub struct SeriesQuery {
    from: Option<String>,
    to: Option<String>,
    step: Option<String>,
    group: Option<String>,
}

fn parse_step(s: &str) -> Result<Span, ApiError> {
    if let Ok(secs) = s.trim().parse::<f64>() {
        // Below a millisecond the step would be zero (a division by zero below); NaN, infinite and
        // absurd values would overflow the timestamps.
        let ms = secs * 1000.0;
        return if (1.0..1e15).contains(&ms) {
            Ok(Span(ms as i64))
        } else {
            Err(ApiError::bad_request(format!(
                "step: {s:?} must be a duration such as 5m, or seconds (at least 0.001)"
            )))
        };
    }
    s.parse::<Span>()
        .map_err(|e| ApiError::bad_request(format!("step: {e}")))
}

/// A `from`/`to` query parameter: RFC 3339 or unix seconds, `default` when absent.
fn time_param(
    name: &str,
    value: &Option<String>,
    default: Timestamp,
) -> Result<Timestamp, ApiError> {
    match value {
        None => Ok(default),
        Some(s) => time_field(name, s),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/slos/{slo}/series",
    summary = "SLI, budget remaining and burn rates over time, for charts",
    description = needs::READ,
    security(("bearer" = [])),
    params(("slo" = String, Path, description = "SLO id"), ("from" = Option<String>, Query, description = "RFC 3339 or unix seconds (default: to − 1d)"), ("to" = Option<String>, Query, description = "RFC 3339 or unix seconds (default: now)"), ("step" = Option<String>, Query, description = "duration such as 5m, or seconds"), ("group" = Option<String>, Query, description = "group key for grouped SLOs")),
    responses((status = 200, description = "points", body = wire::SloSeries), (status = 400, description = "bad range or step", body = ErrorBody), (status = 404, description = "unknown SLO or group", body = ErrorBody))
)]
pub async fn slo_series(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
    Query(q): Query<SeriesQuery>,
) -> Result<Json<wire::SloSeries>, ApiError> {
    let slo = state
        .engine
        .slo(&id)
        .ok_or_else(|| ApiError::not_found(format!("no SLO {id:?}")))?;
    let to = time_param("to", &q.to, state.now())?;
    let from = time_param("from", &q.from, to - Span::DAY)?;
    let step = match &q.step {
        Some(s) => parse_step(s)?,
        None => Span((((to - from).millis()) / 288).max(60_000)),
    };
    if from >= to {
        return Err(ApiError::bad_request("from must be before to"));
    }
    if (to - from).millis() / step.millis() > MAX_POINTS {
        return Err(ApiError::bad_request(format!(
            "too many points: at most {MAX_POINTS}; raise step"
        )));
    }
    let group = match &q.group {
        Some(g) => GroupKey::parse(g).map_err(|e| ApiError::bad_request(format!("group: {e}")))?,
        None => GroupKey::ungrouped(),
    };
    let windows = evaluator::windows(&slo);
    let n = (to - from).millis() / step.millis();
    let mut points = Vec::with_capacity(n as usize + 1);
    // Stepping by index keeps `t` within [from, to] whatever the step (no overflow).
    for i in 0..=n {
        let t = from + step * i;
        let st = state
            .engine
            .status_at(&slo, &group, t, &windows)
            .ok_or_else(|| ApiError::not_found(format!("SLO {id:?} has no group {group:?}")))?;
        points.push(wire::SeriesPoint {
            t: t.to_rfc3339().into(),
            sli: opt_f64(st.sli),
            budget_remaining: figure(st.budget.remaining),
            burn_rates: burn_rates(&st),
        });
    }
    let deploys = state
        .deploys
        .list(DeployFilter {
            service: Some(slo.service.clone()),
            environment: None,
            from: Some(from),
            to: Some(to + Span(1)),
            limit: MAX_SERIES_MARKERS,
        })
        .await?;
    let changes = state
        .deploys
        .change_markers(&slo.service, from, to + Span(1), MAX_SERIES_MARKERS)
        .await?;
    Ok(Json(wire::SloSeries {
        slo: id,
        group: group.to_string(),
        step: step.to_string(),
        points,
        deploys: deploys.iter().map(deliveries::marker).collect(),
        changes: changes.iter().map(deliveries::change_marker).collect(),
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/slos/{slo}/events",
    summary = "Push SLI events (all or nothing; Idempotency-Key makes a retry count once)",
    description = needs::INGEST,
    security(("bearer" = [])),
    params(("slo" = String, Path, description = "SLO id"), ("Idempotency-Key" = Option<String>, Header, description = "1 to 256 visible ASCII characters; a batch sent again with the same key counts once")),
    request_body(content((wire::EventBatch = "application/json"), (wire::Event = "application/x-ndjson"))),
    responses((status = 200, description = "accepted, or recognised as a duplicate", body = wire::EventsAccepted), (status = 400, description = "malformed batch", body = ErrorBody), (status = 404, description = "unknown SLO", body = ErrorBody), (status = 413, description = "body too large", body = ErrorBody), (status = 422, description = "timestamps outside retention or too far in the future", body = ErrorBody))
)]
pub async fn push_events(
    State(state): State<AppState>,
    _auth: Auth<scope::Ingest>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<wire::EventsAccepted>, ApiError> {
    let ndjson = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("ndjson") || ct.contains("jsonlines"));
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 256)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "Idempotency-Key must be 1 to 256 visible ASCII characters",
                    )
                })?
                .to_string(),
        ),
    };
    let pushed = state.push_events(&id, &body, ndjson, key).await?;
    let (accepted, duplicate) = match pushed {
        Pushed::Applied { samples } => (samples, false),
        Pushed::Duplicate => (0, true),
    };
    Ok(Json(wire::EventsAccepted {
        accepted: accepted as u64,
        duplicate,
    }))
}

#[derive(Deserialize)]
pub struct TransitionsQuery {
    slo: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/alerts/transitions",
    summary = "Alert state changes, newest first",
    description = needs::READ,
    security(("bearer" = [])),
    params(("slo" = Option<String>, Query, description = "only this SLO"), ("from" = Option<String>, Query, description = "RFC 3339 or unix seconds"), ("to" = Option<String>, Query, description = "RFC 3339 or unix seconds"), ("limit" = Option<u32>, Query, description = "at most 1000 (default 100)")),
    responses((status = 200, description = "transitions", body = wire::TransitionList), (status = 400, description = "bad time", body = ErrorBody))
)]
pub async fn transitions(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Query(q): Query<TransitionsQuery>,
) -> Result<Json<wire::TransitionList>, ApiError> {
    let to = time_param("to", &q.to, state.now() + Span::MINUTE)?;
    let from = time_param("from", &q.from, Timestamp(0))?;
    let limit = q.limit.unwrap_or(100).min(1000);
    let rows = state
        .store
        .transitions(q.slo.as_deref(), from, to, limit)
        .await?;
    let transitions = rows
        .into_iter()
        .map(|r| {
            Ok(wire::Transition {
                at: r.at.to_rfc3339().into(),
                burn_rates: serde_json::from_str(&r.values_json).ok(),
                from: stored_state(&r.from)?,
                to: stored_state(&r.to)?,
                slo: r.slo.into(),
                group: r.group.to_string(),
                alert: r.severity.into(),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Json(wire::TransitionList { transitions }))
}

/// A state name read back from the store (which refuses any other name than the four).
fn stored_state(name: &str) -> Result<wire::AlertState, ApiError> {
    AlertState::parse(name)
        .map(alert_state)
        .ok_or_else(|| ApiError::internal(format!("stored alert state {name:?} is unknown")))
}

/// `POST /-/reload`: re-reads the config; an invalid one is refused and the running one stays.
#[utoipa::path(
    post,
    path = "/-/reload",
    summary = "Reload the config; an invalid one is refused and the running one stays",
    description = needs::ADMIN,
    security(("bearer" = [])),
    responses((status = 200, description = "reloaded", body = Reloaded), (status = 422, description = "invalid config, one problem a line", body = ErrorBody))
)]
pub async fn reload(
    State(state): State<AppState>,
    _auth: Auth<scope::Admin>,
) -> Result<Json<Reloaded>, ApiError> {
    match headroom_service::reload(&state).await {
        Ok(n) => Ok(Json(Reloaded {
            status: ReloadStatus::Reloaded,
            slos: n as u64,
        })),
        Err(problems) => Err(ApiError::unprocessable(problems.join("\n"))),
    }
}
