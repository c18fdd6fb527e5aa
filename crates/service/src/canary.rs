//! Canary judgement as a service: each side's samples are given, or fetched by a PromQL query
//! over a time range from a configured Prometheus-compatible backend; then
//! `headroom_delivery::canary` judges them. Nothing is stored.
//!
//! A query must give one series (its values in time order, NaN where the backend has NaN);
//! no series is no data (the metric is `Nodata`, as Kayenta labels a metric whose store
//! returned nothing). Every query is asked before anything is judged, and a request with any
//! refused part is refused whole.

use headroom_collect::backend::{Backend, BackendError};
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

impl JudgeRequest {
    /// Whether any side is a query (and so needs backends).
    pub fn has_queries(&self) -> bool {
        self.metrics.iter().any(|m| {
            matches!(m.baseline, Samples::Query { .. }) || matches!(m.canary, Samples::Query { .. })
        })
    }
}

/// Fetches what is queried from `backends` (the config in force), then judges.
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
    if request.has_queries() {
        check_range(request.range)?;
    }
    let mut metrics = Vec::with_capacity(request.metrics.len());
    for m in request.metrics {
        let mut metric = m.rules;
        metric.baseline = samples(
            backends,
            &metric.name,
            Side::Baseline,
            m.baseline,
            request.range,
        )
        .await?;
        metric.canary = samples(
            backends,
            &metric.name,
            Side::Canary,
            m.canary,
            request.range,
        )
        .await?;
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

async fn samples(
    backends: &[BackendConfig],
    metric: &str,
    side: Side,
    samples: Samples,
    range: Option<Range>,
) -> Result<Vec<f64>, ServiceError> {
    let (query, name) = match samples {
        Samples::Values(v) => return Ok(v),
        Samples::Query { query, backend } => (query, backend),
    };
    let at = || format!("metric {metric:?}: {side} query");
    let range = check_range(range)?;
    let config = match &name {
        Some(n) => backends.iter().find(|b| &b.name == n).ok_or_else(|| {
            let known: Vec<&str> = backends.iter().map(|b| b.name.as_str()).collect();
            ServiceError::Invalid(format!(
                "{}: no backend named {n:?} (configured: {})",
                at(),
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ))
        })?,
        None => backends.iter().find(|b| b.default).ok_or_else(|| {
            ServiceError::Invalid(format!(
                "{}: names no backend and none is the default (set `backend`, or `default: true` on one under `backends:`)",
                at()
            ))
        })?,
    };
    let backend = Backend::new(backend_config(config)).map_err(|e| ServiceError::Unavailable {
        summary: "a canary backend client could not be built",
        cause: e.to_string(),
    })?;
    let series = backend
        .query_range(&query, range.start, range.end, range.step)
        .await
        .map_err(|e| refused(&at(), &config.name, e))?;
    match series.len() {
        0 => Ok(Vec::new()),
        1 => Ok(series
            .into_iter()
            .next()
            .expect("one")
            .points
            .into_iter()
            .map(|(_, v)| v)
            .collect()),
        n => Err(ServiceError::Invalid(format!(
            "{}: {n} series came back; a side is one series (aggregate the query, e.g. sum(…) or avg(…))",
            at()
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
