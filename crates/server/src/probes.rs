//! Probe results and heartbeat pings over HTTP: `GET /api/v1/probes`,
//! `GET /api/v1/probes/{name}/results`, `POST /api/v1/heartbeats/{name}`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use headroom_probe::spec::{ProbeKind, ProbeResult};
use headroom_service::signals::{PROBE_HISTORY, ProbeRecord};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{Auth, scope};
use crate::error::ApiError;
use crate::state::AppState;

fn result_json(r: &ProbeResult) -> Value {
    json!({
        "started_at": headroom_core::Timestamp(r.started_ms).to_rfc3339(),
        "duration_seconds": r.duration.as_secs_f64(),
        "success": r.success,
        "status_code": r.status_code,
        "certificate_expiry": r.certificate_expiry_unix
            .map(|s| headroom_core::Timestamp(s * 1000).to_rfc3339()),
        "ip": r.ip,
        "error": r.error,
        "conditions": r.conditions.iter()
            .map(|c| json!({"success": c.success, "detail": c.detail}))
            .collect::<Vec<_>>(),
    })
}

fn probe_json(r: &ProbeRecord) -> Value {
    let target = match &r.spec.kind {
        ProbeKind::Http(h) => headroom_spec::redacted_url(&h.url),
        ProbeKind::Tcp(t) => t.address.clone(),
        ProbeKind::Dns(d) => format!("{} {}", d.record_type, d.name),
        ProbeKind::Tls(t) => t.address.clone(),
        ProbeKind::Heartbeat => format!("/api/v1/heartbeats/{}", r.spec.name),
    };
    let ok = r.results.iter().filter(|x| x.success).count();
    json!({
        "name": r.spec.name,
        "kind": r.spec.kind.name(),
        "target": target,
        "interval_seconds": r.spec.interval.as_secs_f64(),
        "timeout_seconds": r.spec.timeout.as_secs_f64(),
        "conditions": r.spec.effective_conditions().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        "last": r.results.back().map(result_json),
        "recent": {"runs": r.results.len(), "successes": ok},
    })
}

pub async fn list(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
) -> Result<Json<Value>, ApiError> {
    let book = state.signals.probes.lock().expect("probe lock");
    let probes: Vec<Value> = book.values().map(probe_json).collect();
    Ok(Json(json!({ "probes": probes })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultsQuery {
    limit: Option<usize>,
}

pub async fn results(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(name): Path<String>,
    Query(q): Query<ResultsQuery>,
) -> Result<Json<Value>, ApiError> {
    let book = state.signals.probes.lock().expect("probe lock");
    let r = book
        .get(&name)
        .ok_or_else(|| ApiError::not_found(format!("no probe {name:?} is configured")))?;
    let limit = q.limit.unwrap_or(PROBE_HISTORY);
    // Newest first: what a status page or a person asks for.
    let results: Vec<Value> = r
        .results
        .iter()
        .rev()
        .take(limit)
        .map(result_json)
        .collect();
    Ok(Json(json!({ "probe": name, "results": results })))
}

pub async fn ping(
    State(state): State<AppState>,
    _auth: Auth<scope::Ingest>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let known = state
        .signals
        .probes
        .lock()
        .expect("probe lock")
        .get(&name)
        .is_some_and(|r| matches!(r.spec.kind, ProbeKind::Heartbeat));
    if !known {
        return Err(ApiError::not_found(format!(
            "no heartbeat {name:?} is configured (a probe with `heartbeat: {{}}`)"
        )));
    }
    let now = state.now();
    state.signals.heartbeats.ping(&name, now.0);
    Ok((
        StatusCode::OK,
        Json(json!({ "heartbeat": name, "received_at": now.to_rfc3339() })),
    ))
}

/// `GET /api/v1/targets`: every scrape target with its health, as Prometheus reports them.
pub async fn targets(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
) -> Result<Json<Value>, ApiError> {
    let sources = state.sources.lock().await;
    let targets: Vec<Value> = sources
        .as_ref()
        .map(|s| s.targets())
        .unwrap_or_default()
        .iter()
        .map(|t| {
            json!({
                "job": t.job,
                "url": t.url,
                "labels": t.labels.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
                "health": t.health,
                "last_error": t.last_error,
                "last_scrape": t.last_scrape.map(|s| s.to_rfc3339()),
                "last_scrape_duration_seconds": t.last_duration.map(|d| d.as_secs_f64()),
                "samples_scraped": t.samples_scraped,
                "scrape_interval_seconds": t.scrape_interval.as_secs_f64(),
            })
        })
        .collect();
    Ok(Json(json!({ "targets": targets })))
}
