//! Canary judgement as a service: each side's samples are given, or fetched by a PromQL query
//! over a time range from a configured Prometheus-compatible backend; then
//! `headroom_delivery::canary` judges them. Nothing is stored.
//!
//! A query must give one series (its values in time order, NaN where the backend has NaN);
//! no series is no data (the metric is `Nodata`, as Kayenta labels a metric whose store
//! returned nothing). Every query is asked before anything is judged, and a request with any
//! refused part is refused whole.

use headroom_collect::backend::{Backend, BackendError, RangeSeries};
use headroom_core::{Span, Timestamp};
use headroom_delivery::canary::{self, CanaryMetric, Judgement, Scoring, Side};
use headroom_spec::BackendConfig;

use crate::error::ServiceError;
use crate::sources::backend_config;

/// Metrics in one judgement.
pub const MAX_METRICS: usize = 1_000;
/// Points one side's query may span (`(end − start) / step + 1`).
pub const MAX_POINTS_PER_QUERY: i64 = 100_000;

/// Where one side's samples come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    /// NaN where a sample is missing.
    Values(Vec<f64>),
    /// A range query; `backend` by name, else the config's default backend.
    Query {
        query: String,
        backend: Option<String>,
    },
}

/// One metric to judge: its rules (the samples in `rules` are ignored) and both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRequest {
    pub rules: CanaryMetric,
    pub baseline: Samples,
    pub canary: Samples,
}

/// The span side queries run over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: Timestamp,
    pub end: Timestamp,
    pub step: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JudgeRequest {
    pub metrics: Vec<MetricRequest>,
    pub scoring: Scoring,
    pub range: Option<Range>,
}

impl MetricRequest {
    /// Whether a side is a query (and so needs a backend and a range).
    pub fn is_queried(&self) -> bool {
        matches!(self.baseline, Samples::Query { .. })
            || matches!(self.canary, Samples::Query { .. })
    }
}

/// One side as it will be filled: given, or asked of the backend at `client`.
enum Planned {
    Given(Vec<f64>),
    Ask { query: String, client: usize },
}

/// Fetches what is queried from `backends` (the config in force), then judges. What needs no
/// backend (the bounds, the range, which backend each query goes to) is checked before any
/// query runs.
pub async fn judge(
    backends: &[BackendConfig],
    request: JudgeRequest,
) -> Result<Judgement, ServiceError> {
    if request.metrics.len() > MAX_METRICS {
        return Err(ServiceError::Unacceptable(format!(
            "{} metrics, more than the limit of {MAX_METRICS}",
            request.metrics.len()
        )));
    }
    let range = match request.metrics.iter().any(MetricRequest::is_queried) {
        true => Some(check_range(request.range)?),
        false => None,
    };
    // One client per backend named, however many queries it answers.
    let mut clients: Vec<(&str, Backend)> = Vec::new();
    let mut planned = Vec::with_capacity(request.metrics.len());
    for m in request.metrics {
        let mut plan = |side: Side, samples: Samples| -> Result<Planned, ServiceError> {
            let (query, name) = match samples {
                Samples::Values(v) => return Ok(Planned::Given(v)),
                Samples::Query { query, backend } => (query, backend),
            };
            let config = backend_for(backends, name.as_deref()).map_err(|e| {
                ServiceError::Invalid(format!("metric {:?}: {side} query: {e}", m.rules.name))
            })?;
            let client = match clients.iter().position(|(n, _)| *n == config.name) {
                Some(i) => i,
                None => {
                    let b = Backend::new(backend_config(config)).map_err(|e| {
                        ServiceError::Unavailable {
                            summary: "a canary backend client could not be built",
                            cause: e.to_string(),
                        }
                    })?;
                    clients.push((&config.name, b));
                    clients.len() - 1
                }
            };
            Ok(Planned::Ask { query, client })
        };
        let baseline = plan(Side::Baseline, m.baseline)?;
        let canary = plan(Side::Canary, m.canary)?;
        planned.push((m.rules, baseline, canary));
    }
    let mut metrics = Vec::with_capacity(planned.len());
    for (mut metric, baseline, canary) in planned {
        for (side, p) in [(Side::Baseline, baseline), (Side::Canary, canary)] {
            let values = match p {
                Planned::Given(v) => v,
                Planned::Ask { query, client } => {
                    let (name, backend) = &clients[client];
                    let range = range.expect("a range was checked for every query");
                    let at = format!("metric {:?}: {side} query", metric.name);
                    let series = backend
                        .query_range(&query, range.start, range.end, range.step)
                        .await
                        .map_err(|e| refused(&at, name, e))?;
                    one_series(&at, series)?
                }
            };
            match side {
                Side::Baseline => metric.baseline = values,
                Side::Canary => metric.canary = values,
            }
        }
        metrics.push(metric);
    }
    canary::judge(&metrics, &request.scoring).map_err(|e| ServiceError::Invalid(e.to_string()))
}

fn check_range(range: Option<Range>) -> Result<Range, ServiceError> {
    let Some(r) = range else {
        return Err(ServiceError::Invalid(
            "range (start, end, step) is required when a side is a query".into(),
        ));
    };
    if r.end <= r.start {
        return Err(ServiceError::Invalid(format!(
            "range: end ({}) is not after start ({})",
            r.end.to_rfc3339(),
            r.start.to_rfc3339()
        )));
    }
    if r.step.millis() <= 0 {
        return Err(ServiceError::Invalid("range: step must be positive".into()));
    }
    let points = (r.end - r.start).millis() / r.step.millis() + 1;
    if points > MAX_POINTS_PER_QUERY {
        return Err(ServiceError::Unacceptable(format!(
            "range: {points} points per query at this step, more than the limit of \
             {MAX_POINTS_PER_QUERY}; widen the step"
        )));
    }
    Ok(r)
}

/// The backend a query names, or the default one.
fn backend_for<'a>(
    backends: &'a [BackendConfig],
    name: Option<&str>,
) -> Result<&'a BackendConfig, String> {
    match name {
        Some(n) => backends.iter().find(|b| b.name == n).ok_or_else(|| {
            let known: Vec<&str> = backends.iter().map(|b| b.name.as_str()).collect();
            let known = if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            };
            format!("no backend named {n:?} (configured: {known})")
        }),
        None => backends.iter().find(|b| b.default).ok_or_else(|| {
            "names no backend and none is the default (set `backend`, or `default: true` on one \
             under `backends:`)"
                .to_string()
        }),
    }
}

/// A side is one series; none is no data.
fn one_series(at: &str, series: Vec<RangeSeries>) -> Result<Vec<f64>, ServiceError> {
    match <[RangeSeries; 1]>::try_from(series) {
        Ok([one]) => Ok(one.points.into_iter().map(|(_, v)| v).collect()),
        Err(series) if series.is_empty() => Ok(Vec::new()),
        Err(series) => Err(ServiceError::Invalid(format!(
            "{at}: {} series came back; a side is one series (aggregate the query, e.g. sum(…) or avg(…))",
            series.len()
        ))),
    }
}

/// A query the backend refused is the request's fault and says why; a backend that cannot be
/// reached is a failure to retry, its address kept to the log.
fn refused(at: &str, backend: &str, e: BackendError) -> ServiceError {
    match e {
        BackendError::Status {
            status,
            error_type,
            message,
            ..
        } if (400..500).contains(&status) => ServiceError::Invalid(format!(
            "{at}: backend {backend:?} refused it (HTTP {status}{}): {message}",
            error_type.map(|t| format!(", {t}")).unwrap_or_default()
        )),
        e => ServiceError::Unavailable {
            summary: "a canary query could not be answered by its backend",
            cause: e.to_string(),
        },
    }
}
