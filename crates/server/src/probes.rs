//! Probe results and heartbeat pings over HTTP: `GET /api/v1/probes`,
//! `GET /api/v1/probes/{name}/results`, `POST /api/v1/heartbeats/{name}`.

use axum::Json;
use axum::extract::{Path, Query, State};
use headroom_api::ErrorBody;
use headroom_api::probe as wire;
use headroom_collect::scrape::Health;
use headroom_core::Timestamp;
use headroom_probe::spec::{ProbeKind, ProbeResult};
use headroom_service::signals::{PROBE_HISTORY, ProbeRecord};
use serde::Deserialize;

use crate::auth::{Auth, needs, scope};
use crate::error::ApiError;
use crate::state::AppState;

fn run(r: &ProbeResult) -> wire::ProbeRun {
    wire::ProbeRun {
        started_at: Timestamp(r.started_ms).to_rfc3339().into(),
        duration_seconds: r.duration.as_secs_f64(),
        success: r.success,
        status_code: r.status_code,
        certificate_expiry: r
            .certificate_expiry_unix
            .map(|s| Timestamp(s * 1000).to_rfc3339().into()),
        ip: r.ip.clone(),
        error: r.error.clone(),
        conditions: r
            .conditions
            .iter()
            .map(|c| wire::ConditionOutcome {
                success: c.success,
                detail: c.detail.clone(),
            })
            .collect(),
    }
}

fn probe(r: &ProbeRecord) -> wire::Probe {
    let (kind, target) = match &r.spec.kind {
        ProbeKind::Http(h) => (wire::ProbeKind::Http, headroom_spec::redacted_url(&h.url)),
        ProbeKind::Tcp(t) => (wire::ProbeKind::Tcp, t.address.clone()),
        ProbeKind::Dns(d) => (
            wire::ProbeKind::Dns,
            format!("{} {}", d.record_type, d.name),
        ),
        ProbeKind::Tls(t) => (wire::ProbeKind::Tls, t.address.clone()),
        ProbeKind::Heartbeat => (
            wire::ProbeKind::Heartbeat,
            format!("/api/v1/heartbeats/{}", r.spec.name),
        ),
    };
    let ok = r.results.iter().filter(|x| x.success).count();
    wire::Probe {
        name: r.spec.name.clone(),
        kind,
        target,
        interval_seconds: r.spec.interval.as_secs_f64(),
        timeout_seconds: r.spec.timeout.as_secs_f64(),
        conditions: r
            .spec
            .effective_conditions()
            .iter()
            .map(|c| c.to_string())
            .collect(),
        last: r.results.back().map(run),
        recent: wire::RecentRuns {
            runs: r.results.len() as u64,
            successes: ok as u64,
        },
    }
}

#[utoipa::path(
    get,
    operation_id = "list_probes",
    path = "/api/v1/probes",
    summary = "Probes with their latest result",
    description = needs::READ,
    security(("bearer" = [])),
    responses((status = 200, description = "probes", body = wire::ProbeList))
)]
pub async fn list(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
) -> Result<Json<wire::ProbeList>, ApiError> {
    let book = state.signals.probes.lock().expect("probe lock");
    let probes = book.values().map(probe).collect();
    Ok(Json(wire::ProbeList { probes }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultsQuery {
    limit: Option<usize>,
}

#[utoipa::path(
    get,
    path = "/api/v1/probes/{name}/results",
    summary = "A probe's recent results, newest first",
    description = needs::READ,
    security(("bearer" = [])),
    params(("name" = String, Path, description = "probe name"), ("limit" = Option<u32>, Query, description = "at most this many (default: all kept, 200)")),
    responses((status = 200, description = "results", body = wire::ProbeResults), (status = 400, description = "bad limit", body = ErrorBody), (status = 404, description = "unknown probe", body = ErrorBody))
)]
pub async fn results(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    Path(name): Path<String>,
    Query(q): Query<ResultsQuery>,
) -> Result<Json<wire::ProbeResults>, ApiError> {
    let book = state.signals.probes.lock().expect("probe lock");
    let r = book
        .get(&name)
        .ok_or_else(|| ApiError::not_found(format!("no probe {name:?} is configured")))?;
    let limit = q.limit.unwrap_or(PROBE_HISTORY);
    // Newest first: what a status page or a person asks for.
    let results = r.results.iter().rev().take(limit).map(run).collect();
    Ok(Json(wire::ProbeResults {
        probe: name,
        results,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/heartbeats/{name}",
    summary = "A heartbeat's ping: the job ran",
    description = needs::INGEST,
    security(("bearer" = [])),
    params(("name" = String, Path, description = "heartbeat probe name")),
    responses((status = 200, description = "received", body = wire::HeartbeatReceived), (status = 404, description = "no such heartbeat", body = ErrorBody))
)]
pub async fn ping(
    State(state): State<AppState>,
    _auth: Auth<scope::Ingest>,
    Path(name): Path<String>,
) -> Result<Json<wire::HeartbeatReceived>, ApiError> {
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
    Ok(Json(wire::HeartbeatReceived {
        heartbeat: name,
        received_at: now.to_rfc3339().into(),
    }))
}

/// `GET /api/v1/targets`: every scrape target with its health, as Prometheus reports them.
#[utoipa::path(
    get,
    path = "/api/v1/targets",
    summary = "Scrape targets and their health",
    description = needs::READ,
    security(("bearer" = [])),
    responses((status = 200, description = "targets", body = wire::TargetList))
)]
pub async fn targets(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
) -> Result<Json<wire::TargetList>, ApiError> {
    let sources = state.sources.lock().await;
    let targets = sources
        .as_ref()
        .map(|s| s.targets())
        .unwrap_or_default()
        .iter()
        .map(|t| wire::ScrapeTarget {
            job: t.job.clone(),
            url: t.url.clone(),
            labels: t.labels.iter().cloned().collect(),
            health: match t.health {
                Health::Unknown => wire::TargetHealth::Unknown,
                Health::Up => wire::TargetHealth::Up,
                Health::Down => wire::TargetHealth::Down,
            },
            last_error: t.last_error.clone(),
            last_scrape: t.last_scrape.map(|s| s.to_rfc3339().into()),
            last_scrape_duration_seconds: t.last_duration.map(|d| d.as_secs_f64()),
            samples_scraped: t.samples_scraped as u64,
            scrape_interval_seconds: t.scrape_interval.as_secs_f64(),
        })
        .collect();
    Ok(Json(wire::TargetList { targets }))
}
