//! OpenSLO `openslo/v1` (every kind) and `openslo/v1alpha` (SLOs as Sloth reads them).
//!
//! Objects reference each other by name across files (`indicatorRef`, `alertPolicyRef`,
//! `conditionRef`), so loading runs in two passes: [`index`] reads every SLI, AlertPolicy,
//! AlertCondition and Service of the loaded set, then [`slos`] turns SLO objects into core SLOs.
//!
//! Mapping choices:
//! - The SLO id is `metadata.name`. Objectives after the first become SLOs of their own, with
//!   ids `<name>-<index>`, so no objective is dropped.
//! - In generated rules each objective is named as Sloth names it: `sloth_id`
//!   `<service>-<name>-<index>`, `sloth_slo` `<name>-<index>`, `sloth_service` the SLO's
//!   `service`, the index counting from 0 (so the first objective's `sloth_id` ends in `-0`).
//! - A `ratioMetric`'s `counter` says what its queries' values are. `counter: true`: running
//!   totals of events (`sum(http_requests{…})`), so an interval's events are their increase,
//!   resets included, as `increase()` counts them. `counter: false`, or no `counter` (the OpenSLO
//!   SDK reads it so; a warning, since OpenSLO requires the field, unless every query is in
//!   Sloth's windowed form): each sample is the number of events in its own interval, from the
//!   series' previous sample to it, so an interval's events are the sum of its samples. Range
//!   functions in a query (`rate(x[{{.window}}])`) count over their own range either way.
//! - A `thresholdMetric` has no `counter`: every value of the metric is an event, good when it
//!   meets the objective's `op` and `value`, e.g. `lt 500` for latency.
//! - `raw` with `rawType: success` is turned into an error ratio as `1 - (query)`; `counter` has
//!   no effect on it (the spec says so): a raw ratio read without a range is one event per
//!   sample.
//! - Calendar windows align to the calendar unit in `timeZone`; `startTime` is checked, not used.
//!   A calendar `duration` of `1m` is read as one month, with a warning (minutes cannot be a
//!   calendar period; the OpenSLO spec's own timeslices example writes `1m` for a month).
//! - Alert policies map each burn-rate AlertCondition to a tier: `lookbackWindow` is the long
//!   window, a twelfth of it the short window (the Workbook's ratio), `threshold` the factor,
//!   `alertAfter` the `for`. SLOs without policies get the default page/ticket policy.
//! - `openslo/v1alpha` as Sloth reads it: the window is `timeWindows`' count of days (Sloth's
//!   period when absent); the objective is the target through a percentage, as Sloth computes it;
//!   in rules the good/total ratio is Sloth's raw `1 - (good / total)` and there are no alerts
//!   (Sloth disables both), while headroom alerts on the default policy.

use std::collections::BTreeMap;

use headroom_core::{
    AlertPolicy, AlertTier, Bound, BudgetingMethod, BurnCondition, CalendarUnit, Comparison,
    PromQuery, QueryForm, RatioQueries, RuleStep, RulesSpec, Sli, Slo, SlothSpec, Span, Window,
};

use crate::Service;
use crate::alerts::Defaults;
use crate::read::{
    At, Cx, Fields, did_you_mean, fields, list, number, open, string, unknown_field,
};
use crate::rules::{
    check_label_name, check_name, check_windowed_query, has_window_placeholder, objective_percent,
    objective_ratio, slice_target, time_zone,
};
use crate::yaml::{Node, Pos, Value};

const HEADER: &[&str] = &["apiVersion", "kind", "metadata", "spec"];
const METADATA: &[&str] = &["name", "displayName", "labels", "annotations"];
const KINDS_V1: &[&str] = &[
    "SLO",
    "SLI",
    "Service",
    "DataSource",
    "AlertPolicy",
    "AlertCondition",
    "AlertNotificationTarget",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    V1,
    V1Alpha,
}

/// One OpenSLO object found in a document (a document may hold a list of them).
pub(crate) struct Object<'a> {
    pub api: Api,
    pub node: &'a Node,
}

/// Where an SLI's query comes from. `query` is `None` for vendors without a query string
/// (AppDynamics' `metricPath`): fine for an SLI nobody uses, a problem for an SLO.
#[derive(Debug, Clone)]
struct Metric {
    pos: Pos,
    source_type: Option<String>,
    query: Option<At<String>>,
}

#[derive(Debug, Clone)]
enum Indicator {
    Ratio {
        pos: Pos,
        good: Option<Metric>,
        bad: Option<Metric>,
        total: Option<Metric>,
        /// `counter`, if given.
        counter: Option<bool>,
    },
    Raw {
        metric: Metric,
        success: bool,
    },
    Threshold(Metric),
}

#[derive(Debug, Clone)]
struct Condition {
    pos: Pos,
    severity: String,
    op: At<String>,
    threshold: f64,
    lookback: Span,
    alert_after: Span,
}

#[derive(Debug, Clone)]
enum ConditionRef {
    Named(At<String>),
    Inline(Condition),
}

#[derive(Debug, Clone)]
struct Policy {
    name: String,
    conditions: Vec<ConditionRef>,
}

/// Everything SLOs may refer to, by name. Each entry keeps where it was defined; `None` marks
/// a definition that had problems (already reported).
#[derive(Default)]
pub(crate) struct Index<'a> {
    slis: BTreeMap<String, Vec<(Pos, Option<Indicator>)>>,
    conditions: BTreeMap<String, Vec<(Pos, Option<Condition>)>>,
    policies: BTreeMap<String, Vec<(Pos, Option<Policy>)>>,
    pub services: Vec<Service>,
    slo_objects: Vec<Object<'a>>,
}

/// First pass: checks every object's shape and indexes what SLOs can refer to.
pub(crate) fn index<'a>(cx: &mut Cx, objects: Vec<Object<'a>>) -> Index<'a> {
    let mut ix = Index::default();
    for obj in objects {
        let Some(h) = fields(cx, obj.node, "OpenSLO object", HEADER) else {
            continue;
        };
        let Some(kind) = h.req_str(cx, "kind") else {
            continue;
        };
        let known: &[&str] = match obj.api {
            Api::V1 => KINDS_V1,
            Api::V1Alpha => &["SLO", "Service"],
        };
        if !known.contains(&kind.v.as_str()) {
            let api = match obj.api {
                Api::V1 => "openslo/v1",
                Api::V1Alpha => "openslo/v1alpha",
            };
            let hint = did_you_mean(&kind.v, known.iter().copied())
                .map(|k| format!("; did you mean {k:?}?"))
                .unwrap_or_else(|| format!(" (expected one of: {})", known.join(", ")));
            cx.err(kind.pos, format!("unknown {api} kind {:?}{hint}", kind.v));
            continue;
        }
        if kind.v == "SLO" {
            ix.slo_objects.push(obj);
            continue;
        }
        let Some(meta) = metadata(cx, &h) else {
            continue;
        };
        let spec = h.req(cx, "spec");
        match kind.v.as_str() {
            "SLI" => {
                let sli = spec.and_then(|s| sli_spec(cx, s));
                ix.slis
                    .entry(meta.name.v)
                    .or_default()
                    .push((meta.name.pos, sli));
            }
            "AlertCondition" => {
                let c = spec.and_then(|s| condition_spec(cx, s));
                ix.conditions
                    .entry(meta.name.v)
                    .or_default()
                    .push((meta.name.pos, c));
            }
            "AlertPolicy" => {
                let p = spec.and_then(|s| policy_spec(cx, s, &meta.name.v));
                ix.policies
                    .entry(meta.name.v)
                    .or_default()
                    .push((meta.name.pos, p));
            }
            "Service" => {
                let description = spec
                    .and_then(|s| fields(cx, s, "spec", &["description"]))
                    .and_then(|s| s.str(cx, "description"))
                    .map(|d| d.v);
                // The same service may be declared in several files; the first one describes it.
                if !ix.services.iter().any(|s| s.name == meta.name.v) {
                    ix.services.push(Service {
                        description,
                        labels: meta.labels,
                        ..Service::named(meta.name.v)
                    });
                }
            }
            "DataSource" => {
                if let Some(s) = spec.and_then(|s| {
                    fields(cx, s, "spec", &["type", "connectionDetails", "description"])
                }) {
                    s.req_str(cx, "type");
                    s.str(cx, "description");
                }
            }
            "AlertNotificationTarget" => {
                if let Some(s) =
                    spec.and_then(|s| fields(cx, s, "spec", &["target", "description"]))
                {
                    s.req_str(cx, "target");
                    s.str(cx, "description");
                }
            }
            _ => {}
        }
    }
    ix
}

struct Metadata {
    name: At<String>,
    labels: BTreeMap<String, String>,
}

fn metadata(cx: &mut Cx, h: &Fields) -> Option<Metadata> {
    let m = h.req(cx, "metadata")?;
    let m = fields(cx, m, "metadata", METADATA)?;
    let name = m.req_str(cx, "name")?;
    if !check_name(cx, &name, "metadata.name") {
        return None;
    }
    m.str(cx, "displayName");
    let labels = m.val("labels").map(|n| labels(cx, n)).unwrap_or_default();
    if let Some(a) = m
        .val("annotations")
        .and_then(|n| open(cx, n, "annotations"))
    {
        // Annotation keys are free-form (`openslo.com/service-folder`); values must be text.
        for (_, v) in a.entries() {
            string(cx, v, "annotation");
        }
    }
    Some(Metadata { name, labels })
}

/// OpenSLO labels map a name to a value or a list of values; a list becomes `a,b`.
fn labels(cx: &mut Cx, node: &Node) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(f) = open(cx, node, "labels") else {
        return out;
    };
    for (k, v) in f.entries() {
        let Some(key) = string(cx, k, "label name") else {
            continue;
        };
        let value = match &v.value {
            Value::Seq(items) => items
                .iter()
                .filter_map(|i| string(cx, i, "label value").map(|s| s.v))
                .collect::<Vec<_>>()
                .join(","),
            _ => string(cx, v, "label value")
                .map(|s| s.v)
                .unwrap_or_default(),
        };
        if check_label_name(cx, &key, "label name") {
            out.insert(key.v, value);
        }
    }
    out
}

/// An SLI's `spec` (also the `spec` of an SLO's inline `indicator`).
fn sli_spec(cx: &mut Cx, node: &Node) -> Option<Indicator> {
    let f = fields(
        cx,
        node,
        "SLI spec",
        &["description", "thresholdMetric", "ratioMetric"],
    )?;
    f.str(cx, "description");
    match (f.val("thresholdMetric"), f.val("ratioMetric")) {
        (Some(t), None) => threshold_metric(cx, t).map(Indicator::Threshold),
        (None, Some(r)) => ratio_metric(cx, r),
        (Some(_), Some(r)) => {
            cx.err(
                r.pos,
                "an SLI has either thresholdMetric or ratioMetric, not both",
            );
            None
        }
        (None, None) => {
            cx.err(f.pos, "SLI spec needs thresholdMetric or ratioMetric");
            None
        }
    }
}

fn ratio_metric(cx: &mut Cx, node: &Node) -> Option<Indicator> {
    let f = fields(
        cx,
        node,
        "ratioMetric",
        &["counter", "good", "bad", "total", "rawType", "raw"],
    )?;
    let counter = f.bool(cx, "counter");
    if let Some(raw) = f.val("raw") {
        for other in ["good", "bad", "total"] {
            if let Some(n) = f.val(other) {
                cx.err(
                    n.pos,
                    format!("raw replaces good, bad and total: drop {other:?}"),
                );
            }
        }
        let success = match f.str(cx, "rawType") {
            Some(t) if t.v == "success" => Some(true),
            Some(t) if t.v == "failure" => Some(false),
            Some(t) => {
                cx.err(
                    t.pos,
                    format!("rawType {:?} must be success or failure", t.v),
                );
                None
            }
            None => {
                cx.err(f.pos, "raw needs rawType: success or failure");
                None
            }
        };
        let metric = metric(cx, raw, "raw");
        return Some(Indicator::Raw {
            metric: metric?,
            success: success?,
        });
    }
    if let Some(t) = f.val("rawType") {
        cx.err(t.pos, "rawType goes with raw, which is missing");
    }
    let good = f.val("good").and_then(|n| metric(cx, n, "good"));
    let bad = f.val("bad").and_then(|n| metric(cx, n, "bad"));
    let total = f.val("total").and_then(|n| metric(cx, n, "total"));
    // OpenSLO requires `counter`; without it, a query of instant values is read as the SDK
    // reads it, per-interval counts, which misreads running totals: worth a warning. A query in
    // Sloth's windowed form counts over its window either way.
    let instant = [&good, &bad, &total].into_iter().flatten().any(|m| {
        m.query
            .as_ref()
            .is_some_and(|q| !has_window_placeholder(&q.v))
    });
    if counter.is_none() && instant {
        cx.warn(
            f.pos,
            "ratioMetric has no counter (OpenSLO requires it): its values are read as counts per \
             interval, as with counter: false; write counter: true if they are running totals",
        );
    }
    let count = [f.val("good"), f.val("bad"), f.val("total")]
        .iter()
        .filter(|n| n.is_some())
        .count();
    if count != 2 {
        cx.err(
            f.pos,
            "ratioMetric takes exactly two of good, bad and total (or raw)",
        );
        return None;
    }
    Some(Indicator::Ratio {
        pos: f.pos,
        good,
        bad,
        total,
        counter,
    })
}

/// `thresholdMetric: {metricSource}`. The spec gives it no `counter`: its values are compared
/// one by one, so a counter flag there is a mistake worth naming.
fn threshold_metric(cx: &mut Cx, node: &Node) -> Option<Metric> {
    const ALLOWED: &[&str] = &["metricSource"];
    let f = open(cx, node, "thresholdMetric")?;
    for (k, _) in f.entries() {
        match k.scalar_text().unwrap_or_default() {
            "metricSource" => {}
            "counter" => cx.err(
                k.pos,
                "counter belongs to ratioMetric: a thresholdMetric compares each value of its \
                 metric with the objective's op and value, so it has no counter to read",
            ),
            other => cx.err(k.pos, unknown_field(other, "thresholdMetric", ALLOWED)),
        }
    }
    metric_source(cx, &f)
}

/// `{metricSource: {metricSourceRef, type, spec}}`; the query is `spec.query` or `spec.promql`.
fn metric(cx: &mut Cx, node: &Node, what: &'static str) -> Option<Metric> {
    let f = fields(cx, node, what, &["metricSource"])?;
    metric_source(cx, &f)
}

fn metric_source(cx: &mut Cx, f: &Fields) -> Option<Metric> {
    let ms = f.req(cx, "metricSource")?;
    let m = fields(cx, ms, "metricSource", &["metricSourceRef", "type", "spec"])?;
    m.str(cx, "metricSourceRef");
    let source_type = m.str(cx, "type").map(|t| t.v);
    let spec = m.req(cx, "spec")?;
    let spec = open(cx, spec, "metricSource spec")?;
    let query = match spec.val("query").or_else(|| spec.val("promql")) {
        Some(q) => Some(string(cx, q, "query")?),
        None => None,
    };
    Some(Metric {
        pos: ms.pos,
        source_type,
        query,
    })
}

fn condition_spec(cx: &mut Cx, node: &Node) -> Option<Condition> {
    let f = fields(
        cx,
        node,
        "AlertCondition spec",
        &["description", "severity", "condition"],
    )?;
    f.str(cx, "description");
    let severity = f.req_str(cx, "severity");
    let c = f.req(cx, "condition")?;
    let c = fields(
        cx,
        c,
        "condition",
        &["kind", "op", "threshold", "lookbackWindow", "alertAfter"],
    )?;
    let kind = c.req_str(cx, "kind");
    if let Some(k) = &kind
        && k.v != "burnrate"
    {
        cx.err(
            k.pos,
            format!(
                "condition kind {:?} is not supported: OpenSLO v1 defines burnrate",
                k.v
            ),
        );
        return None;
    }
    let op = c.req_str(cx, "op");
    if let Some(o) = &op
        && !["lt", "lte", "gt", "gte"].contains(&o.v.as_str())
    {
        cx.err(
            o.pos,
            format!("op {:?} must be one of lt, lte, gt, gte", o.v),
        );
    }
    let threshold = c
        .req(cx, "threshold")
        .and_then(|n| number(cx, n, "threshold"));
    let lookback = c.req_span(cx, "lookbackWindow");
    let alert_after = c.req_span(cx, "alertAfter");
    Some(Condition {
        pos: f.pos,
        severity: severity?.v,
        op: op?,
        threshold: threshold?.v,
        lookback: lookback?.v,
        alert_after: alert_after?.v,
    })
}

fn policy_spec(cx: &mut Cx, node: &Node, name: &str) -> Option<Policy> {
    let f = fields(
        cx,
        node,
        "AlertPolicy spec",
        &[
            "description",
            "alertWhenNoData",
            "alertWhenResolved",
            "alertWhenBreaching",
            "conditions",
            "notificationTargets",
        ],
    )?;
    f.str(cx, "description");
    for b in ["alertWhenNoData", "alertWhenResolved", "alertWhenBreaching"] {
        f.bool(cx, b);
    }
    let mut conditions = Vec::new();
    for item in f.list(cx, "conditions").unwrap_or_default() {
        if let Some(r) = item.key("conditionRef") {
            fields(cx, item, "condition", &["conditionRef"]);
            if let Some(n) = string(cx, r, "conditionRef") {
                conditions.push(ConditionRef::Named(n));
            }
        } else if let Some(c) =
            inline_object(cx, item, "AlertCondition").and_then(|spec| condition_spec(cx, spec))
        {
            conditions.push(ConditionRef::Inline(c));
        }
    }
    for item in f.list(cx, "notificationTargets").unwrap_or_default() {
        if let Some(r) = item.key("targetRef") {
            fields(cx, item, "notification target", &["targetRef"]);
            string(cx, r, "targetRef");
        } else if let Some(spec) = inline_object(cx, item, "AlertNotificationTarget")
            && let Some(s) = fields(cx, spec, "spec", &["target", "description"])
        {
            s.req_str(cx, "target");
        }
    }
    Some(Policy {
        name: name.to_string(),
        conditions,
    })
}

/// An object written inline where a reference could stand: `{kind, metadata, spec}`.
/// Returns its `spec`.
fn inline_object<'a>(cx: &mut Cx, node: &'a Node, kind: &str) -> Option<&'a Node> {
    let f = fields(cx, node, kind, HEADER)?;
    let k = f.req_str(cx, "kind")?;
    if k.v != kind {
        cx.err(
            k.pos,
            format!("expected kind {kind:?} here, found {:?}", k.v),
        );
        return None;
    }
    metadata(cx, &f)?;
    f.req(cx, "spec")
}

/// Second pass: every SLO object of the loaded set.
pub(crate) fn slos(cx: &mut Cx, ix: &Index, defaults: &Defaults, out: &mut Vec<Slo>) {
    for obj in &ix.slo_objects {
        match obj.api {
            Api::V1 => slo_v1(cx, obj.node, ix, defaults, out),
            Api::V1Alpha => slo_v1alpha(cx, obj.node, defaults, out),
        }
    }
}

/// What one SLO object's objectives share.
struct Common {
    name: String,
    service: String,
    description: Option<String>,
    window: Window,
    labels: BTreeMap<String, String>,
    alerting: AlertPolicy,
    spec: SlothSpec,
}

fn slo_v1(cx: &mut Cx, node: &Node, ix: &Index, defaults: &Defaults, out: &mut Vec<Slo>) {
    let Some(h) = fields(cx, node, "SLO", HEADER) else {
        return;
    };
    let mark = cx.mark();
    let meta = metadata(cx, &h);
    let Some(s) = h.req(cx, "spec").and_then(|s| {
        fields(
            cx,
            s,
            "SLO spec",
            &[
                "description",
                "service",
                "indicator",
                "indicatorRef",
                "timeWindow",
                "budgetingMethod",
                "objectives",
                "alertPolicies",
            ],
        )
    }) else {
        return;
    };
    let description = s.str(cx, "description").map(|d| d.v);
    let service = s.req_str(cx, "service");
    if let Some(sv) = &service {
        check_name(cx, sv, "service");
    }
    let indicator = slo_indicator(cx, &s, ix);
    let window = s.req(cx, "timeWindow").and_then(|n| time_window_v1(cx, n));
    let method = s.req_str(cx, "budgetingMethod");
    let period = window.map_or(Span::days(30), |w| w.nominal_length());
    let alerting = match s.list(cx, "alertPolicies") {
        Some(items) if !items.is_empty() => alert_policies(cx, items, ix),
        _ => Some(defaults.policy(period)),
    };
    let objectives = s
        .req(cx, "objectives")
        .and_then(|n| list(cx, n, "objectives"));
    if let Some(o) = objectives
        && o.is_empty()
    {
        cx.err(s.pos, "objectives is empty: an SLO needs at least one");
    }
    // Objectives are checked even when the SLO itself has problems, to report them all.
    let indicator_given = s.val("indicator").is_some() || s.val("indicatorRef").is_some();
    let parts: Vec<Option<Parts>> = objectives
        .unwrap_or_default()
        .iter()
        .map(|o| {
            objective_v1(
                cx,
                o,
                method.as_ref(),
                indicator.as_ref(),
                indicator_given,
                ix,
            )
        })
        .collect();
    if !cx.clean_since(mark) {
        return;
    }
    let (Some(meta), Some(service), Some(window), Some(alerting)) =
        (meta, service, window, alerting)
    else {
        return;
    };
    let common = Common {
        name: meta.name.v,
        service: service.v,
        description,
        window,
        labels: meta.labels,
        alerting,
        spec: SlothSpec::OpenSloV1,
    };
    for (i, p) in parts.into_iter().enumerate() {
        if let Some(p) = p {
            out.push(finish(cx, &common, i, p));
        }
    }
}

/// The SLO-level `indicator` (inline) or `indicatorRef`; objectives may bring their own.
fn slo_indicator(cx: &mut Cx, s: &Fields, ix: &Index) -> Option<Indicator> {
    match (s.val("indicator"), s.val("indicatorRef")) {
        (Some(_), Some(r)) => {
            cx.err(r.pos, "give indicator or indicatorRef, not both");
            None
        }
        (Some(i), None) => inline_indicator(cx, i),
        (None, Some(r)) => indicator_ref(cx, r, ix),
        (None, None) => None,
    }
}

fn inline_indicator(cx: &mut Cx, node: &Node) -> Option<Indicator> {
    let f = fields(cx, node, "indicator", &["metadata", "spec"])?;
    if let Some(m) = f.val("metadata")
        && let Some(m) = fields(cx, m, "indicator metadata", METADATA)
    {
        if let Some(n) = m.str(cx, "name") {
            check_name(cx, &n, "indicator name");
        }
        m.str(cx, "displayName");
    }
    let spec = f.req(cx, "spec")?;
    sli_spec(cx, spec)
}

fn indicator_ref(cx: &mut Cx, node: &Node, ix: &Index) -> Option<Indicator> {
    let name = string(cx, node, "indicatorRef")?;
    lookup(cx, &ix.slis, &name, "indicatorRef", "SLI")
}

/// What one objective contributes to its SLO.
struct Parts {
    pos: Pos,
    objective: headroom_core::Objective,
    budgeting: BudgetingMethod,
    sli: Sli,
    /// The raw error-ratio query Sloth writes for it instead of the SLI's (v1alpha).
    raw_error_ratio: Option<PromQuery>,
}

fn objective_v1(
    cx: &mut Cx,
    node: &Node,
    method: Option<&At<String>>,
    slo_indicator: Option<&Indicator>,
    slo_indicator_given: bool,
    ix: &Index,
) -> Option<Parts> {
    let f = fields(
        cx,
        node,
        "objective",
        &[
            "displayName",
            "op",
            "value",
            "target",
            "targetPercent",
            "timeSliceTarget",
            "timeSliceWindow",
            "indicator",
            "indicatorRef",
            "compositeWeight",
        ],
    )?;
    f.str(cx, "displayName");
    f.num(cx, "compositeWeight");
    let objective = target(cx, &f);
    let budgeting = method.and_then(|m| budgeting(cx, m, &f));
    let own = match (f.val("indicator"), f.val("indicatorRef")) {
        (Some(i), None) => inline_indicator(cx, i),
        (None, Some(r)) => indicator_ref(cx, r, ix),
        (Some(_), Some(r)) => {
            cx.err(r.pos, "give indicator or indicatorRef, not both");
            None
        }
        (None, None) => None,
    };
    let own_given = f.val("indicator").is_some() || f.val("indicatorRef").is_some();
    let sli = match own.as_ref().or(slo_indicator) {
        Some(i) => to_sli(cx, i, &f),
        None if !own_given && !slo_indicator_given => {
            cx.err(
                f.pos,
                "no indicator: give the SLO (or this objective) an indicator or indicatorRef",
            );
            None
        }
        // Given but broken: its problems are already reported.
        None => None,
    };
    Some(Parts {
        pos: node.pos,
        objective: objective?,
        budgeting: budgeting?,
        sli: sli?,
        raw_error_ratio: None,
    })
}

/// The first objective's SLO takes the object's name; later ones get `-<index>`. In rules every
/// objective has Sloth's name, `<service>-<name>-<index>`.
fn finish(cx: &Cx, common: &Common, index: usize, p: Parts) -> Slo {
    let name = if index == 0 {
        common.name.clone()
    } else {
        format!("{}-{index}", common.name)
    };
    let mut rules = RulesSpec::sloth(&common.service, &format!("{}-{index}", common.name));
    rules.spec = common.spec;
    rules.raw_error_ratio = p.raw_error_ratio;
    if common.spec == SlothSpec::OpenSloV1Alpha {
        // Sloth disables both alerts of the SLOs it reads from OpenSLO.
        rules.steps.retain(|s| *s != RuleStep::Alerts);
    }
    Slo {
        id: name.as_str().into(),
        rules,
        service: common.service.clone(),
        name,
        description: common.description.clone(),
        objective: p.objective,
        window: common.window,
        budgeting: p.budgeting,
        sli: p.sli,
        grouping: Vec::new(),
        alerting: common.alerting.clone(),
        labels: common.labels.clone(),
        backend: None,
        source: cx.source(p.pos),
    }
}

/// `target` (a ratio) or `targetPercent`.
fn target(cx: &mut Cx, f: &Fields) -> Option<headroom_core::Objective> {
    match (f.val("target"), f.val("targetPercent")) {
        (Some(t), None) => number(cx, t, "target").and_then(|t| objective_ratio(cx, &t, "target")),
        (None, Some(p)) => {
            number(cx, p, "targetPercent").and_then(|p| objective_percent(cx, &p, "targetPercent"))
        }
        (Some(_), Some(p)) => {
            cx.err(p.pos, "give target or targetPercent, not both");
            None
        }
        (None, None) => {
            cx.err(
                f.pos,
                "objective needs a target (ratio, 0.999) or targetPercent (99.9)",
            );
            None
        }
    }
}

fn budgeting(cx: &mut Cx, method: &At<String>, objective: &Fields) -> Option<BudgetingMethod> {
    const METHODS: [&str; 3] = ["Occurrences", "Timeslices", "RatioTimeslices"];
    match method.v.as_str() {
        "Occurrences" => Some(BudgetingMethod::Occurrences),
        "Timeslices" => {
            let t = match objective.val("timeSliceTarget") {
                Some(n) => number(cx, n, "timeSliceTarget")
                    .and_then(|t| slice_target(cx, &t, "timeSliceTarget")),
                None => {
                    cx.err(
                        objective.pos,
                        "Timeslices budgeting needs timeSliceTarget here",
                    );
                    None
                }
            };
            let slice = slice_window(cx, objective);
            Some(BudgetingMethod::Timeslices {
                target: t?,
                slice: slice?,
            })
        }
        "RatioTimeslices" => Some(BudgetingMethod::RatioTimeslices {
            slice: slice_window(cx, objective)?,
        }),
        other => {
            let hint = did_you_mean(other, METHODS)
                .map(|m| format!("; did you mean {m:?}?"))
                .unwrap_or_default();
            cx.err(
                method.pos,
                format!(
                    "unknown budgetingMethod {other:?}: use Occurrences, Timeslices or RatioTimeslices{hint}"
                ),
            );
            None
        }
    }
}

fn slice_window(cx: &mut Cx, objective: &Fields) -> Option<Span> {
    let Some(n) = objective.val("timeSliceWindow") else {
        cx.err(
            objective.pos,
            "slice-based budgeting needs timeSliceWindow here (e.g. 1m)",
        );
        return None;
    };
    crate::read::span(cx, n, "timeSliceWindow").map(|s| s.v)
}

fn to_sli(cx: &mut Cx, ind: &Indicator, objective: &Fields) -> Option<Sli> {
    match ind {
        Indicator::Ratio {
            pos,
            good,
            bad,
            total,
            counter,
        } => {
            let q = |cx: &mut Cx, m: &Option<Metric>| m.as_ref().and_then(|m| query(cx, m));
            let (g, b, t) = (q(cx, good), q(cx, bad), q(cx, total));
            let queries = match (good, bad, total) {
                (Some(_), None, Some(_)) => RatioQueries::GoodTotal {
                    good: g?,
                    total: t?,
                },
                (None, Some(_), Some(_)) => RatioQueries::BadTotal { bad: b?, total: t? },
                (Some(_), Some(_), None) => RatioQueries::GoodBad { good: g?, bad: b? },
                _ => {
                    cx.err(*pos, "ratioMetric takes exactly two of good, bad and total");
                    return None;
                }
            };
            let form = if *counter == Some(true) {
                QueryForm::Counter
            } else {
                QueryForm::PerInterval
            };
            Some(Sli::Ratio { queries, form })
        }
        Indicator::Raw { metric, success } => {
            let q = query(cx, metric)?;
            let error_ratio = if *success {
                PromQuery(format!("1 - ({})", q.0.trim()))
            } else {
                q
            };
            Some(Sli::RawErrorRatio { error_ratio })
        }
        Indicator::Threshold(metric) => {
            let q = query(cx, metric)?;
            let op = objective.str(cx, "op");
            let value = objective.num(cx, "value");
            let (Some(op), Some(value)) = (op, value) else {
                cx.err(
                    objective.pos,
                    "a thresholdMetric needs the objective's op and value (e.g. op: lt, value: 500)",
                );
                return None;
            };
            let op = match op.v.as_str() {
                "lt" => Comparison::Lt,
                "lte" => Comparison::Lte,
                "gt" => Comparison::Gt,
                "gte" => Comparison::Gte,
                other => {
                    cx.err(
                        op.pos,
                        format!("op {other:?} must be one of lt, lte, gt, gte"),
                    );
                    return None;
                }
            };
            // Each value of the metric is an event; it is good when it meets the objective.
            match Bound::new(op, value.v) {
                Ok(good_when) => Some(Sli::ThresholdMetric {
                    query: PromQuery(q.0.trim().to_string()),
                    good_when,
                }),
                Err(e) => {
                    cx.err(value.pos, e.to_string());
                    None
                }
            }
        }
    }
}

fn query(cx: &mut Cx, m: &Metric) -> Option<PromQuery> {
    match &m.query {
        Some(q) if q.v.trim().is_empty() => {
            cx.err(q.pos, "query is empty");
            None
        }
        Some(q) => Some(PromQuery(q.v.clone())),
        None => {
            let ty = m
                .source_type
                .as_ref()
                .map(|t| format!(" of type {t:?}"))
                .unwrap_or_default();
            cx.err(
                m.pos,
                format!(
                    "metric source{ty} has no query: headroom reads a PromQL query from \
                     spec.query or spec.promql"
                ),
            );
            None
        }
    }
}

/// `timeWindow: [{duration: 28d, isRolling: true}]` or a calendar window.
fn time_window_v1(cx: &mut Cx, node: &Node) -> Option<Window> {
    let items = list(cx, node, "timeWindow")?;
    let [item] = items else {
        cx.err(node.pos, "timeWindow takes exactly one entry");
        return None;
    };
    let f = fields(
        cx,
        item,
        "timeWindow",
        &["duration", "isRolling", "calendar"],
    )?;
    let duration = f.req_str(cx, "duration")?;
    let rolling_flag = f.bool(cx, "isRolling");
    let calendar = f.val("calendar");
    let Some((count, unit)) = split_shorthand(&duration.v) else {
        cx.err(
            duration.pos,
            format!(
                "duration {:?} is not an OpenSLO duration: a number and one of m, h, d, w, M, Q, Y",
                duration.v
            ),
        );
        return None;
    };
    let rolling = rolling_flag.unwrap_or(calendar.is_none());
    if rolling {
        if let Some(c) = calendar {
            cx.err(
                c.pos,
                "a rolling window has no calendar: set isRolling: false or drop it",
            );
            return None;
        }
        if matches!(unit, 'M' | 'Q' | 'Y') {
            cx.err(
                duration.pos,
                format!(
                    "rolling window {:?}: months, quarters and years vary in length; use days or \
                     weeks (30d), or a calendar window",
                    duration.v
                ),
            );
            return None;
        }
        // m, h, d and w mean what they mean in Prometheus durations.
        return match duration.v.parse::<Span>() {
            Ok(length) => Some(Window::Rolling { length }),
            Err(e) => {
                cx.err(duration.pos, format!("duration: {e}"));
                None
            }
        };
    }
    let unit = match (count, unit) {
        (1, 'w') => CalendarUnit::Week,
        (1, 'M') => CalendarUnit::Month,
        (1, 'Q') => CalendarUnit::Quarter,
        (1, 'Y') => CalendarUnit::Year,
        (1, 'm') => {
            cx.warn(
                duration.pos,
                "calendar window \"1m\" read as one month: a calendar window is 1w, 1M, 1Q or 1Y \
                 (write 1M)",
            );
            CalendarUnit::Month
        }
        _ => {
            cx.err(
                duration.pos,
                format!(
                    "calendar window {:?} is not supported: use 1w, 1M, 1Q or 1Y, or isRolling: true",
                    duration.v
                ),
            );
            return None;
        }
    };
    let tz = match calendar.and_then(|c| fields(cx, c, "calendar", &["startTime", "timeZone"])) {
        Some(c) => {
            if let Some(start) = c.str(cx, "startTime")
                && chrono::NaiveDateTime::parse_from_str(&start.v, "%Y-%m-%d %H:%M:%S").is_err()
                && chrono::DateTime::parse_from_rfc3339(&start.v).is_err()
            {
                cx.err(
                    start.pos,
                    format!(
                        "startTime {:?} is not a time like 2022-01-01 12:00:00",
                        start.v
                    ),
                );
            }
            match c.str(cx, "timeZone") {
                Some(name) => time_zone(cx, &name)?,
                None => chrono_tz::UTC,
            }
        }
        None => chrono_tz::UTC,
    };
    Some(Window::Calendar { unit, tz })
}

/// `28d` → (28, 'd'); OpenSLO's duration shorthand is one number and one unit.
fn split_shorthand(s: &str) -> Option<(u64, char)> {
    let unit = s.chars().last()?;
    let count = s[..s.len() - unit.len_utf8()].parse::<u64>().ok()?;
    (count > 0 && "mhdwMQY".contains(unit)).then_some((count, unit))
}

/// Burn-rate conditions of the SLO's alert policies, one tier each.
fn alert_policies(cx: &mut Cx, items: &[Node], ix: &Index) -> Option<AlertPolicy> {
    let mark = cx.mark();
    let mut policy = AlertPolicy::none();
    for item in items {
        let def = if let Some(r) = item.key("alertPolicyRef") {
            fields(cx, item, "alert policy", &["alertPolicyRef"]);
            let Some(name) = string(cx, r, "alertPolicyRef") else {
                continue;
            };
            match lookup(cx, &ix.policies, &name, "alertPolicyRef", "AlertPolicy") {
                Some(p) => p,
                None => continue,
            }
        } else {
            let Some(h) = fields(cx, item, "AlertPolicy", HEADER) else {
                continue;
            };
            let kind = h.req_str(cx, "kind");
            if let Some(k) = &kind
                && k.v != "AlertPolicy"
            {
                cx.err(
                    k.pos,
                    unknown_field(&k.v, "alertPolicies", &["AlertPolicy"]),
                );
                continue;
            }
            let Some(meta) = metadata(cx, &h) else {
                continue;
            };
            let Some(p) = h
                .req(cx, "spec")
                .and_then(|s| policy_spec(cx, s, &meta.name.v))
            else {
                continue;
            };
            p
        };
        policy.name.get_or_insert(def.name.clone());
        for c in &def.conditions {
            let cond = match c {
                ConditionRef::Inline(c) => Some(c.clone()),
                ConditionRef::Named(n) => {
                    lookup(cx, &ix.conditions, n, "conditionRef", "AlertCondition")
                }
            };
            if let Some(tier) = cond.and_then(|c| tier(cx, &c)) {
                policy.tiers.push(tier);
            }
        }
    }
    cx.clean_since(mark).then_some(policy)
}

fn lookup<T: Clone>(
    cx: &mut Cx,
    map: &BTreeMap<String, Vec<(Pos, Option<T>)>>,
    name: &At<String>,
    field: &str,
    kind: &str,
) -> Option<T> {
    match map.get(&name.v).map(Vec::as_slice) {
        None | Some([]) => {
            let hint = did_you_mean(&name.v, map.keys().map(String::as_str))
                .map(|s| format!("; did you mean {s:?}?"))
                .unwrap_or_default();
            cx.err(
                name.pos,
                format!(
                    "{field} {:?} names no {kind} in the loaded files{hint}",
                    name.v
                ),
            );
            None
        }
        Some([(_, v)]) => v.clone(),
        Some([(a, _), (b, _), ..]) => {
            let (a, b) = (cx.source(*a), cx.source(*b));
            cx.err(
                name.pos,
                format!(
                    "{field} {:?} is ambiguous: {kind}s of that name at {a} and {b}",
                    name.v
                ),
            );
            None
        }
    }
}

fn tier(cx: &mut Cx, c: &Condition) -> Option<AlertTier> {
    if !matches!(c.op.v.as_str(), "gt" | "gte") {
        cx.err(
            c.op.pos,
            format!(
                "burn-rate condition with op {:?} cannot alert: a burn rate alerts when it rises, \
                 use gt or gte",
                c.op.v
            ),
        );
        return None;
    }
    if c.threshold <= 0.0 {
        cx.err(c.pos, "burn-rate threshold must be above 0");
        return None;
    }
    Some(AlertTier {
        severity: c.severity.as_str().into(),
        conditions: vec![BurnCondition {
            long: c.lookback,
            short: Span((c.lookback.millis() / 12).max(1000)),
            factor: c.threshold,
        }],
        for_: c.alert_after,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
    })
}

/// An `openslo/v1alpha` SLO, read the way Sloth reads it: `ratioMetrics` with PromQL `query`
/// strings carrying `{{.window}}`, and a window of `timeWindows` days.
fn slo_v1alpha(cx: &mut Cx, node: &Node, defaults: &Defaults, out: &mut Vec<Slo>) {
    let Some(h) = fields(cx, node, "SLO", HEADER) else {
        return;
    };
    let mark = cx.mark();
    let meta = metadata(cx, &h);
    let Some(s) = h.req(cx, "spec").and_then(|s| {
        fields(
            cx,
            s,
            "SLO spec",
            &[
                "description",
                "service",
                "timeWindows",
                "budgetingMethod",
                "objectives",
            ],
        )
    }) else {
        return;
    };
    let description = s.str(cx, "description").map(|d| d.v);
    let service = s.req_str(cx, "service");
    if let Some(sv) = &service {
        check_name(cx, sv, "service");
    }
    let period = match s.val("timeWindows") {
        Some(tw) => time_windows_v1alpha(cx, tw),
        None => Some(defaults.sloth_period()),
    };
    let method = s.req_str(cx, "budgetingMethod");
    let objectives = s
        .req(cx, "objectives")
        .and_then(|n| list(cx, n, "objectives"));
    if let Some(o) = objectives
        && o.is_empty()
    {
        cx.err(s.pos, "objectives is empty: an SLO needs at least one");
    }
    let parts: Vec<Option<Parts>> = objectives
        .unwrap_or_default()
        .iter()
        .map(|o| objective_v1alpha(cx, o, method.as_ref()))
        .collect();
    if !cx.clean_since(mark) {
        return;
    }
    let (Some(meta), Some(service), Some(period)) = (meta, service, period) else {
        return;
    };
    let common = Common {
        name: meta.name.v,
        service: service.v,
        description,
        window: Window::Rolling { length: period },
        labels: meta.labels,
        alerting: defaults.policy(period),
        spec: SlothSpec::OpenSloV1Alpha,
    };
    for (i, p) in parts.into_iter().enumerate() {
        if let Some(p) = p {
            out.push(finish(cx, &common, i, p));
        }
    }
}

fn objective_v1alpha(cx: &mut Cx, node: &Node, method: Option<&At<String>>) -> Option<Parts> {
    let f = fields(
        cx,
        node,
        "objective",
        &[
            "displayName",
            "op",
            "value",
            "target",
            "timeSliceTarget",
            "timeSliceWindow",
            "ratioMetrics",
        ],
    )?;
    f.str(cx, "displayName");
    // As Sloth computes it: a percentage of the target, divided again when written
    // (0.999 becomes 0.9990000000000001).
    let objective = target(cx, &f)
        .map(|o| headroom_core::Objective::from_percent(o.ratio() * 100.0).unwrap_or(o));
    let budgeting = method.and_then(|m| budgeting(cx, m, &f));
    let ratio = match f.val("ratioMetrics") {
        Some(r) => ratio_metrics_v1alpha(cx, r),
        None => {
            cx.err(
                f.pos,
                "missing ratioMetrics: Sloth reads v1alpha objectives as ratios",
            );
            None
        }
    };
    let (sli, raw) = ratio?;
    Some(Parts {
        pos: node.pos,
        objective: objective?,
        budgeting: budgeting?,
        sli,
        raw_error_ratio: Some(raw),
    })
}

/// Sloth's rule for v1alpha: at most one window, in days, which is the SLO's period.
fn time_windows_v1alpha(cx: &mut Cx, node: &Node) -> Option<Span> {
    let items = list(cx, node, "timeWindows")?;
    let [item] = items else {
        cx.err(node.pos, "timeWindows takes exactly one entry");
        return None;
    };
    let f = fields(
        cx,
        item,
        "timeWindows",
        &["count", "unit", "isRolling", "calendar"],
    )?;
    let count = f.req(cx, "count").and_then(|n| number(cx, n, "count"));
    let unit = f.req_str(cx, "unit");
    f.bool(cx, "isRolling");
    let (count, unit) = (count?, unit?);
    if !unit.v.eq_ignore_ascii_case("day") {
        cx.err(
            unit.pos,
            format!(
                "openslo/v1alpha time window unit {:?} is not supported: Sloth reads only Day \
                 windows; use openslo/v1 for other windows",
                unit.v
            ),
        );
        return None;
    }
    if count.v < 1.0 || count.v.fract() != 0.0 || count.v > 3650.0 {
        cx.err(
            count.pos,
            format!(
                "count {} must be a whole number of days, 1 to 3650",
                count.v
            ),
        );
        return None;
    }
    Some(Span::days(count.v as i64))
}

/// Good over total, and the raw error ratio Sloth turns them into: `1 - (good / total)`, laid
/// out as Sloth's template writes it.
fn ratio_metrics_v1alpha(cx: &mut Cx, node: &Node) -> Option<(Sli, PromQuery)> {
    let f = fields(cx, node, "ratioMetrics", &["incremental", "good", "total"])?;
    f.bool(cx, "incremental");
    let good = f
        .req(cx, "good")
        .and_then(|n| source_v1alpha(cx, n, "good"));
    let total = f
        .req(cx, "total")
        .and_then(|n| source_v1alpha(cx, n, "total"));
    let (good, total) = (good?, total?);
    let raw = PromQuery(format!(
        "\n  1 - (\n    (\n      {}\n    )\n    /\n    (\n      {}\n    )\n  )\n",
        good.0, total.0
    ));
    let sli = Sli::Ratio {
        queries: RatioQueries::GoodTotal { good, total },
        form: QueryForm::Windowed,
    };
    Some((sli, raw))
}

fn source_v1alpha(cx: &mut Cx, node: &Node, what: &'static str) -> Option<PromQuery> {
    let f = fields(
        cx,
        node,
        what,
        &["source", "queryType", "query", "metadata"],
    )?;
    let source = f.req_str(cx, "source");
    if let Some(s) = &source
        && !["prometheus", "sloth"].contains(&s.v.as_str())
    {
        cx.err(
            s.pos,
            format!("source {:?} is not supported: use prometheus", s.v),
        );
    }
    let query_type = f.req_str(cx, "queryType");
    if let Some(t) = &query_type
        && t.v != "promql"
    {
        cx.err(
            t.pos,
            format!("queryType {:?} is not supported: use promql", t.v),
        );
    }
    let q = f.req_str(cx, "query")?;
    check_windowed_query(cx, &q, &format!("{what} query")).then_some(())?;
    (source.is_some() && query_type.is_some()).then_some(PromQuery(q.v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorthand_durations() {
        assert_eq!(split_shorthand("28d"), Some((28, 'd')));
        assert_eq!(split_shorthand("1M"), Some((1, 'M')));
        assert_eq!(split_shorthand("0d"), None);
        assert_eq!(split_shorthand("d"), None);
        assert_eq!(split_shorthand("5x"), None);
    }
}
