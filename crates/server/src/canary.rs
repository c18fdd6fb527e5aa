//! Canary judgement over HTTP: `POST /api/v1/canary/judge` (scope `read`: it judges what it
//! is given and stores nothing). The judging is the service's (`headroom_service::canary`);
//! this parses the body into its request and shapes the judgement. `headroom canary judge`
//! uses the same two conversions, so its local judgement prints what the server answers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use headroom_api::canary as wire;
use headroom_api::{ErrorBody, figure};
use headroom_core::Span;
use headroom_delivery::canary::{
    CanaryMetric, Classification, Direction, EffectMeasure, EffectSize, GroupScore, Judgement,
    MannWhitney, MetricResult, NanStrategy, OutlierStrategy, Outliers, PValueMethod, SampleSummary,
    ScoreThresholds, Scoring, Verdict,
};
use headroom_service::canary::{JudgeRequest, MetricRequest, Range, Samples};

use crate::auth::{Auth, needs, scope};
use crate::error::{ApiError, json_body, time_field};
use crate::state::AppState;

/// The body as the service's request; a bad time or step is refused naming its field.
pub fn request(body: wire::JudgeRequest) -> Result<JudgeRequest, ApiError> {
    let range = body
        .range
        .map(|r| -> Result<Range, ApiError> {
            Ok(Range {
                start: time_field("range.start", &r.start)?,
                end: time_field("range.end", &r.end)?,
                step: r
                    .step
                    .parse::<Span>()
                    .map_err(|e| ApiError::bad_request(format!("range.step: {e}")))?,
            })
        })
        .transpose()?;
    let thresholds = body
        .thresholds
        .map(|t| ScoreThresholds {
            pass: t.pass,
            marginal: t.marginal,
        })
        .unwrap_or_default();
    Ok(JudgeRequest {
        metrics: body.metrics.into_iter().map(metric).collect(),
        scoring: Scoring {
            group_weights: body.group_weights,
            thresholds,
        },
        range,
    })
}

fn metric(m: wire::CanaryMetric) -> MetricRequest {
    let mut rules = CanaryMetric::new(&m.name, "", Vec::new(), Vec::new());
    rules.groups = m.groups;
    rules.direction = match m.direction {
        Some(wire::Direction::Increase) => Direction::Increase,
        Some(wire::Direction::Decrease) => Direction::Decrease,
        Some(wire::Direction::Either) | None => Direction::Either,
    };
    rules.nan_strategy = match m.nan_strategy {
        Some(wire::NanStrategy::Replace) => NanStrategy::Replace,
        Some(wire::NanStrategy::Remove) | None => NanStrategy::Remove,
    };
    if let Some(o) = m.outliers {
        rules.outliers = Outliers {
            strategy: match o.strategy {
                wire::OutlierStrategy::Keep => OutlierStrategy::Keep,
                wire::OutlierStrategy::Remove => OutlierStrategy::Remove,
            },
            outlier_factor: o
                .outlier_factor
                .unwrap_or(Outliers::default().outlier_factor),
        };
    }
    if let Some(e) = m.effect_size {
        rules.effect_size = EffectSize {
            measure: match e.measure {
                Some(wire::EffectMeasure::Cles) => EffectMeasure::Cles,
                Some(wire::EffectMeasure::MeanRatio) | None => EffectMeasure::MeanRatio,
            },
            allowed_increase: e.allowed_increase,
            allowed_decrease: e.allowed_decrease,
            critical_increase: e.critical_increase,
            critical_decrease: e.critical_decrease,
        };
    }
    rules.critical = m.critical;
    rules.must_have_data = m.must_have_data;
    MetricRequest {
        rules,
        baseline: samples(m.baseline),
        canary: samples(m.canary),
    }
}

fn samples(s: wire::Samples) -> Samples {
    match s {
        wire::Samples::Values(v) => {
            Samples::Values(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
        }
        wire::Samples::Query(q) => Samples::Query {
            query: q.query,
            backend: q.backend,
        },
    }
}

/// A figure that is always finite here (a score, a bound).
fn fig(x: f64) -> f64 {
    figure(x).unwrap_or(x)
}

/// The judgement as the API answers it.
pub fn judgement(j: &Judgement, thresholds: ScoreThresholds) -> wire::Judgement {
    wire::Judgement {
        verdict: match j.verdict {
            Verdict::Pass => wire::Verdict::Pass,
            Verdict::Marginal => wire::Verdict::Marginal,
            Verdict::Fail => wire::Verdict::Fail,
        },
        score: fig(j.score),
        reason: j.reason.clone(),
        thresholds: wire::Thresholds {
            pass: thresholds.pass,
            marginal: thresholds.marginal,
        },
        groups: j.groups.iter().map(group).collect(),
        metrics: j.metrics.iter().map(metric_result).collect(),
    }
}

fn group(g: &GroupScore) -> wire::GroupScore {
    wire::GroupScore {
        name: g.name.clone(),
        score: fig(g.score),
        no_data: g.no_data,
        metrics: g.metrics as u64,
        pass: g.pass as u64,
        high: g.high as u64,
        low: g.low as u64,
        nodata: g.nodata as u64,
        nodata_fail_metric: g.nodata_fail_metric as u64,
    }
}

fn metric_result(r: &MetricResult) -> wire::MetricResult {
    wire::MetricResult {
        name: r.name.clone(),
        groups: r.groups.clone(),
        classification: match r.classification {
            Classification::Pass => wire::Classification::Pass,
            Classification::High => wire::Classification::High,
            Classification::Low => wire::Classification::Low,
            Classification::Nodata => wire::Classification::Nodata,
            Classification::NodataFailMetric => wire::Classification::NodataFailMetric,
        },
        reason: r.reason.clone(),
        critical: r.critical,
        deviation: r.deviation.and_then(figure),
        effect_size: r.effect_size.and_then(figure),
        test: r.test.as_ref().map(test),
        baseline: summary(&r.baseline),
        canary: summary(&r.canary),
    }
}

fn test(t: &MannWhitney) -> wire::MannWhitney {
    wire::MannWhitney {
        u: t.u,
        p_value: t.p_value,
        method: match t.method {
            PValueMethod::Exact => wire::PValueMethod::Exact,
            PValueMethod::Asymptotic => wire::PValueMethod::Asymptotic,
        },
        estimate: fig(t.estimate),
        lower: fig(t.lower),
        upper: fig(t.upper),
        confidence: t.confidence,
    }
}

fn summary(s: &SampleSummary) -> wire::SampleSummary {
    wire::SampleSummary {
        count: s.count as u64,
        missing: s.missing as u64,
        outliers: s.outliers as u64,
        min: s.min.and_then(figure),
        max: s.max.and_then(figure),
        mean: s.mean.and_then(figure),
        std: s.std.and_then(figure),
    }
}

/// `POST /api/v1/canary/judge`.
#[utoipa::path(
    post,
    path = "/api/v1/canary/judge",
    summary = "Judge a canary against its baseline (Kayenta's NetflixACAJudge)",
    description = needs::READ,
    security(("bearer" = [])),
    request_body = wire::JudgeRequest,
    responses((status = 200, description = "the judgement; a Fail verdict is still a 200", body = wire::Judgement), (status = 400, description = "bad body, or input the judge refuses (named), or a query its backend refused", body = ErrorBody), (status = 422, description = "more metrics or query points than the limits", body = ErrorBody), (status = 503, description = "a backend could not answer a query: retry", body = ErrorBody))
)]
pub async fn judge(
    State(state): State<AppState>,
    _auth: Auth<scope::Read>,
    body: Bytes,
) -> Result<Json<wire::Judgement>, ApiError> {
    let body: wire::JudgeRequest = json_body(&body)?;
    let request = request(body)?;
    let thresholds = request.scoring.thresholds;
    let judged = state.judge_canary(request).await?;
    Ok(Json(judgement(&judged, thresholds)))
}
