//! JSON API handlers under /api/v1: thin adapters between HTTP and the service's engine.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use headroom_core::evaluator;
use headroom_core::{BudgetingMethod, Sli, Slo, SloStatus, Span, Timestamp};
use headroom_engine::{GroupView, SloView};
use headroom_ingest::events::parse_timestamp_str;
use headroom_service::state::Pushed;
use headroom_store::AlertStore;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{Auth, scope};
use crate::error::ApiError;
use crate::state::AppState;

/// At most this many points in one series response.
const MAX_POINTS: i64 = 11_000;

fn opt_f64(v: Option<f64>) -> Value {
    v.filter(|x| x.is_finite()).map_or(Value::Null, Value::from)
}

fn finite(x: f64) -> Value {
    opt_f64(Some(x))
}

fn sli_json(sli: &Sli) -> Value {
    let mut v = serde_json::to_value(sli).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("kind");
    }
    json!({"kind": sli.kind_name(), "queries": v})
}

fn budgeting_json(b: &BudgetingMethod) -> Value {
    match b {
        BudgetingMethod::Occurrences => json!({"method": "occurrences"}),
        BudgetingMethod::Timeslices { target, slice } => {
            json!({"method": "timeslices", "slice_target": target, "slice": slice.to_string()})
        }
        BudgetingMethod::RatioTimeslices { slice } => {
            json!({"method": "ratio_timeslices", "slice": slice.to_string()})
        }
    }
}

fn burn_rates_json(st: &SloStatus) -> Value {
    Value::Object(
        st.burn_rates
            .iter()
            .map(|b| (b.window.to_string(), opt_f64(b.rate)))
            .collect(),
    )
}

fn status_fields(slo: &Slo, st: &SloStatus) -> serde_json::Map<String, Value> {
    let b = &st.budget;
    let mut m = serde_json::Map::new();
    m.insert("sli".into(), opt_f64(st.sli));
    m.insert("good_events".into(), finite(st.counts.good));
    m.insert("total_events".into(), finite(st.counts.total));
    m.insert("budget_consumed".into(), finite(b.consumed));
    m.insert("budget_remaining".into(), finite(b.remaining));
    m.insert(
        "budget".into(),
        json!({"allowed": finite(b.allowed), "spent": finite(b.spent),
               "remaining": finite(b.allowed - b.spent),
               "allowed_minutes": opt_f64(b.allowed_minutes), "spent_minutes": opt_f64(b.spent_minutes)}),
    );
    if let Some(s) = st.slices {
        // Each timeslice method keeps what its budget reads: good slices, or the sum of ratios.
        let slices = match slo.budgeting {
            BudgetingMethod::RatioTimeslices { .. } => {
                json!({"with_data": s.slices, "ratio_sum": s.ratio_sum})
            }
            _ => json!({"with_data": s.slices, "good": s.good, "bad": s.bad()}),
        };
        m.insert("slices".into(), slices);
    }
    m.insert("burn_rates".into(), burn_rates_json(st));
    m.insert(
        "time_to_exhaustion_seconds".into(),
        st.time_to_exhaustion
            .map_or(Value::Null, |s| Value::from(s.as_secs_f64())),
    );
    m.insert(
        "forecast_budget_remaining".into(),
        opt_f64(st.forecast_remaining),
    );
    m.insert("evaluated_at".into(), Value::from(st.at.to_rfc3339()));
    m
}

fn group_json(slo: &Slo, g: &GroupView) -> Value {
    let mut m = status_fields(slo, &g.status);
    m.insert("group".into(), Value::from(g.group.clone()));
    m.insert("alerts".into(), alerts_json(g));
    Value::Object(m)
}

fn alerts_json(g: &GroupView) -> Value {
    Value::Array(
        g.alerts
            .iter()
            .map(|(name, a)| json!({"name": name, "state": a.state.as_str(), "since": (a.since.0 > 0).then(|| a.since.to_rfc3339())}))
            .collect(),
    )
}

/// The JSON shape of one SLO: its definition, its worst group's figures at top level, every group.
pub fn slo_json(view: &SloView) -> Value {
    let slo: &Slo = &view.slo;
    let mut m = serde_json::Map::new();
    m.insert("id".into(), Value::from(slo.id.clone()));
    m.insert("service".into(), Value::from(slo.service.clone()));
    m.insert("name".into(), Value::from(slo.name.clone()));
    m.insert("description".into(), json!(slo.description));
    m.insert("objective".into(), Value::from(slo.objective.ratio()));
    m.insert(
        "window".into(),
        Value::from(match slo.window {
            headroom_core::Window::Rolling { length } => length.to_string(),
            w => w.describe(),
        }),
    );
    m.insert("budgeting".into(), budgeting_json(&slo.budgeting));
    m.insert("indicator".into(), sli_json(&slo.sli));
    m.insert("grouping".into(), json!(slo.grouping));
    m.insert("labels".into(), json!(slo.labels));
    m.insert(
        "alert_windows".into(),
        json!(
            evaluator::windows(slo)
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
        ),
    );
    // Top level: the group with the least budget left (the one that pages first).
    let worst = view.groups.iter().min_by(|a, b| {
        a.status
            .budget
            .remaining
            .total_cmp(&b.status.budget.remaining)
    });
    match worst {
        Some(g) => {
            m.extend(status_fields(slo, &g.status));
            m.insert("alerts".into(), alerts_json(g));
        }
        None => {
            for k in [
                "sli",
                "good_events",
                "total_events",
                "budget_consumed",
                "budget_remaining",
            ] {
                m.insert(k.into(), Value::Null);
            }
            m.insert("burn_rates".into(), json!({}));
            m.insert("alerts".into(), json!([]));
        }
    }
    if !slo.grouping.is_empty() {
        m.insert(
            "groups".into(),
            Value::Array(view.groups.iter().map(|g| group_json(slo, g)).collect()),
        );
    }
    m.insert("source".into(), Value::from(slo.source.to_string()));
    Value::Object(m)
}

pub async fn list_slos(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
) -> Result<Json<Value>, ApiError> {
    let slos: Vec<Value> = state.engine.views().iter().map(slo_json).collect();
    Ok(Json(json!({"slos": slos})))
}

pub async fn get_slo(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let view = state
        .engine
        .view(&id)
        .ok_or_else(|| ApiError::not_found(format!("no SLO {id:?}")))?;
    Ok(Json(slo_json(&view)))
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
        Some(s) => {
            parse_timestamp_str(s).map_err(|e| ApiError::bad_request(format!("{name}: {e}")))
        }
    }
}

pub async fn slo_series(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(id): Path<String>,
    Query(q): Query<SeriesQuery>,
) -> Result<Json<Value>, ApiError> {
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
    let group = q.group.unwrap_or_default();
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
        points.push(json!({"t": t.to_rfc3339(), "sli": opt_f64(st.sli), "budget_remaining": finite(st.budget.remaining),
                           "burn_rates": burn_rates_json(&st)}));
    }
    Ok(Json(
        json!({"slo": id, "group": group, "step": step.to_string(), "points": points}),
    ))
}

pub async fn push_events(
    State(state): State<AppState>,
    _auth: Auth<scope::Ingest>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
    Ok((
        StatusCode::OK,
        Json(json!({"accepted": accepted, "duplicate": duplicate})),
    ))
}

#[derive(Deserialize)]
pub struct TransitionsQuery {
    slo: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
}

pub async fn transitions(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Query(q): Query<TransitionsQuery>,
) -> Result<Json<Value>, ApiError> {
    let to = time_param("to", &q.to, state.now() + Span::MINUTE)?;
    let from = time_param("from", &q.from, Timestamp(0))?;
    let limit = q.limit.unwrap_or(100).min(1000);
    let rows = state
        .store
        .transitions(q.slo.as_deref(), from, to, limit)
        .await?;
    let out: Vec<Value> = rows
        .iter()
        .map(|r| {
            let values: Value = serde_json::from_str(&r.values_json).unwrap_or(Value::Null);
            json!({"at": r.at.to_rfc3339(), "slo": r.slo, "group": r.group, "alert": r.severity, "from": r.from, "to": r.to, "burn_rates": values})
        })
        .collect();
    Ok(Json(json!({"transitions": out})))
}

/// `POST /-/reload`: re-reads the config; an invalid one is refused and the running one stays.
pub async fn reload(
    State(state): State<AppState>,
    _auth: Auth<scope::Admin>,
) -> Result<Json<Value>, ApiError> {
    match headroom_service::reload(&state).await {
        Ok(n) => Ok(Json(json!({"status": "reloaded", "slos": n}))),
        Err(problems) => Err(ApiError::unprocessable(problems.join("\n"))),
    }
}
