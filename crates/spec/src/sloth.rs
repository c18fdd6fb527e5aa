//! Sloth specs: `prometheus/v1`, the `sloth.slok.dev/v1` PrometheusServiceLevel CRD, and
//! AlertWindows. Sloth reads both snake_case and camelCase field names in places (the examples
//! mix `page_alert` into CRDs), so both spellings are accepted everywhere; giving both is a problem.

use std::collections::BTreeMap;

use headroom_core::{
    AlertPolicy, AlertWindows, PromQuery, QueryForm, RatioQueries, Sli, Slo, Window,
};

use crate::alerts::{CAMEL, Defaults, read_windows};
use crate::read::{At, Cx, Fields, fields, list, number, open, string};
use crate::rules::{annotations, check_name, check_windowed_query, labels, objective_percent};
use crate::yaml::Node;

const V1_TOP: &[&str] = &[
    "version",
    "service",
    "labels",
    "slo_plugins",
    "sloPlugins",
    "slos",
];
const K8S_TOP: &[&str] = &["apiVersion", "kind", "metadata", "spec"];
const K8S_SPEC: &[&str] = &["service", "labels", "sloPlugins", "slo_plugins", "slos"];
const SLO: &[&str] = &[
    "name",
    "description",
    "objective",
    "labels",
    "infoLabels",
    "sli",
    "alerting",
    "interval",
    "plugins",
];
const ALERTING: &[&str] = &[
    "name",
    "labels",
    "annotations",
    "page_alert",
    "pageAlert",
    "ticket_alert",
    "ticketAlert",
];

/// A `version: prometheus/v1` document.
pub(crate) fn prometheus_v1(cx: &mut Cx, doc: &Node, defaults: &Defaults, out: &mut Vec<Slo>) {
    let Some(f) = fields(cx, doc, "Sloth spec", V1_TOP) else {
        return;
    };
    service_level(cx, &f, defaults, out);
}

/// A `sloth.slok.dev/v1` `PrometheusServiceLevel` document.
pub(crate) fn kubernetes(cx: &mut Cx, doc: &Node, defaults: &Defaults, out: &mut Vec<Slo>) {
    let Some(f) = fields(cx, doc, "PrometheusServiceLevel", K8S_TOP) else {
        return;
    };
    // Kubernetes metadata is free-form; only its shape matters here.
    if let Some(m) = f.val("metadata") {
        open(cx, m, "metadata");
    }
    let Some(spec) = f.req(cx, "spec") else {
        return;
    };
    let Some(spec) = fields(cx, spec, "spec", K8S_SPEC) else {
        return;
    };
    service_level(cx, &spec, defaults, out);
}

/// What `prometheus/v1` and the CRD's `spec` share: a service, its labels and its SLOs.
fn service_level(cx: &mut Cx, f: &Fields, defaults: &Defaults, out: &mut Vec<Slo>) {
    let service = f.req_str(cx, "service");
    let service_ok = service
        .as_ref()
        .is_some_and(|s| check_name(cx, s, "service name"));
    let labels = f
        .get("labels")
        .map(|n| labels(cx, n, "labels"))
        .unwrap_or_default();
    if let Some(p) = f.pick(cx, &["slo_plugins", "sloPlugins"]) {
        slo_plugins(cx, p);
    }
    let slos = f.req(cx, "slos").and_then(|n| list(cx, n, "slos"));
    if let Some(slos) = slos
        && slos.is_empty()
    {
        cx.err(f.pos, "slos is empty: a Sloth spec needs at least one SLO");
    }
    for item in slos.unwrap_or_default() {
        let service = service.as_ref().filter(|_| service_ok);
        if let Some(slo) = slo(cx, item, service, &labels, defaults) {
            out.push(slo);
        }
    }
}

fn slo(
    cx: &mut Cx,
    node: &Node,
    service: Option<&At<String>>,
    service_labels: &BTreeMap<String, String>,
    defaults: &Defaults,
) -> Option<Slo> {
    let f = fields(cx, node, "SLO", SLO)?;
    let mark = cx.mark();
    let name = f.req_str(cx, "name");
    if let Some(n) = &name {
        check_name(cx, n, "SLO name");
    }
    let description = f.str(cx, "description").map(|d| d.v);
    let objective = f
        .req(cx, "objective")
        .and_then(|n| number(cx, n, "objective"))
        .and_then(|p| objective_percent(cx, &p, "objective"));
    let mut merged = service_labels.clone();
    merged.extend(
        f.get("labels")
            .map(|n| labels(cx, n, "labels"))
            .unwrap_or_default(),
    );
    if let Some(n) = f.val("infoLabels") {
        // Only decorate Sloth's info metric; checked, not kept.
        labels(cx, n, "infoLabels");
    }
    if let Some(n) = f.val("plugins") {
        slo_plugins(cx, n);
    }
    if let Some(n) = f.val("interval") {
        interval(cx, n);
    }
    let sli = match f.val("sli") {
        Some(n) => sli(cx, n, service_labels),
        None => {
            cx.err(
                f.pos,
                "SLI is missing: set sli with one of events, raw or plugin",
            );
            None
        }
    };
    let period = defaults.sloth_period();
    let alerting = alerting(cx, &f, defaults.policy(period));
    if !cx.clean_since(mark) {
        return None;
    }
    let (service, name) = (service?.v.clone(), name?.v);
    Some(Slo {
        id: format!("{service}-{name}").into(),
        service,
        name,
        description,
        objective: objective?,
        window: Window::Rolling { length: period },
        budgeting: headroom_core::BudgetingMethod::Occurrences,
        sli: sli?,
        grouping: Vec::new(),
        alerting: alerting?,
        labels: merged,
        backend: None,
        source: cx.source(node.pos),
    })
}

fn sli(cx: &mut Cx, node: &Node, service_labels: &BTreeMap<String, String>) -> Option<Sli> {
    let f = fields(cx, node, "sli", &["events", "raw", "plugin"])?;
    let given: Vec<&str> = ["events", "raw", "plugin"]
        .into_iter()
        .filter(|k| f.val(k).is_some())
        .collect();
    match given.as_slice() {
        [] => {
            cx.err(f.pos, "SLI is missing: set one of events, raw or plugin");
            None
        }
        ["events"] => {
            let e = fields(
                cx,
                f.val("events")?,
                "events",
                &["error_query", "errorQuery", "total_query", "totalQuery"],
            )?;
            let bad = query(cx, &e, &["error_query", "errorQuery"]);
            let total = query(cx, &e, &["total_query", "totalQuery"]);
            let (bad, total) = (bad?, total?);
            if bad.v == total.v {
                cx.err(bad.pos, "error_query and total_query are the same query");
                return None;
            }
            Some(Sli::Ratio {
                queries: RatioQueries::BadTotal {
                    bad: PromQuery(bad.v),
                    total: PromQuery(total.v),
                },
                form: QueryForm::Windowed,
            })
        }
        ["raw"] => {
            let r = fields(
                cx,
                f.val("raw")?,
                "raw",
                &["error_ratio_query", "errorRatioQuery"],
            )?;
            let q = query(cx, &r, &["error_ratio_query", "errorRatioQuery"])?;
            Some(Sli::RawErrorRatio {
                error_ratio: PromQuery(q.v),
            })
        }
        ["plugin"] => sli_plugin(cx, f.val("plugin")?, service_labels),
        _ => {
            cx.err(
                f.pos,
                format!(
                    "SLI sets {}: give only one of events, raw or plugin",
                    given.join(" and ")
                ),
            );
            None
        }
    }
}

fn query(cx: &mut Cx, f: &Fields, spellings: &[&str]) -> Option<At<String>> {
    let Some(node) = f.pick(cx, spellings) else {
        cx.err(
            f.pos,
            format!("missing field {:?} in {}", spellings[0], f.what),
        );
        return None;
    };
    let q = string(cx, node, spellings[0])?;
    check_windowed_query(cx, &q, spellings[0]).then_some(q)
}

/// Page and ticket tiers from the period's windows, with Sloth's names, labels and switches.
fn alerting(cx: &mut Cx, slo: &Fields, mut policy: AlertPolicy) -> Option<AlertPolicy> {
    let Some(node) = slo.val("alerting") else {
        cx.err(
            slo.pos,
            "alerting is missing: Sloth names the page and ticket alerts after alerting.name; \
             set it, or disable both alerts",
        );
        return None;
    };
    let f = fields(cx, node, "alerting", ALERTING)?;
    let name = f.str(cx, "name");
    policy.labels = f
        .get("labels")
        .map(|n| labels(cx, n, "labels"))
        .unwrap_or_default();
    policy.annotations = f
        .get("annotations")
        .map(|n| annotations(cx, n, "annotations"))
        .unwrap_or_default();
    for (severity, spellings) in [
        ("page", ["page_alert", "pageAlert"]),
        ("ticket", ["ticket_alert", "ticketAlert"]),
    ] {
        let Some(alert) = f.pick(cx, &spellings) else {
            continue;
        };
        let Some(a) = fields(
            cx,
            alert,
            spellings[0],
            &["disable", "labels", "annotations"],
        ) else {
            continue;
        };
        if a.bool(cx, "disable") == Some(true) {
            policy.tiers.retain(|t| t.severity != severity);
            continue;
        }
        let tier_labels = a.get("labels").map(|n| labels(cx, n, "labels"));
        let tier_annotations = a
            .get("annotations")
            .map(|n| annotations(cx, n, "annotations"));
        if let Some(tier) = policy.tiers.iter_mut().find(|t| t.severity == severity) {
            tier.labels = tier_labels.unwrap_or_default();
            tier.annotations = tier_annotations.unwrap_or_default();
        }
    }
    // Sloth requires a name whenever an alert is generated.
    let enabled = !policy.tiers.is_empty();
    match &name {
        Some(n) if n.v.trim().is_empty() && enabled => {
            cx.err(
                n.pos,
                "alert name is empty, but page and ticket alerts are enabled: Sloth names the \
                 alerts after it; set alerting.name or disable both alerts",
            );
        }
        None if enabled => {
            cx.err(
                f.pos,
                "alert name is missing, but page and ticket alerts are enabled: Sloth names the \
                 alerts after it; set alerting.name or disable both alerts",
            );
        }
        _ => {}
    }
    policy.name = name.map(|n| n.v).filter(|n| !n.is_empty());
    Some(policy)
}

/// SLO plugins only change the rules Sloth generates, which headroom does not use: their shape
/// is checked and their settings dropped.
fn slo_plugins(cx: &mut Cx, node: &Node) {
    let Some(f) = fields(
        cx,
        node,
        "plugins",
        &["chain", "overridePrevious", "override_previous"],
    ) else {
        return;
    };
    for item in f.list(cx, "chain").unwrap_or_default() {
        if let Some(p) = fields(cx, item, "plugin", &["id", "priority", "config"]) {
            p.req_str(cx, "id");
            p.num(cx, "priority");
        }
    }
    f.pick(cx, &["overridePrevious", "override_previous"])
        .and_then(|n| crate::read::boolean(cx, n, "overridePrevious"));
}

/// Rule-group evaluation intervals: checked, not kept (headroom evaluates on its own clock).
fn interval(cx: &mut Cx, node: &Node) {
    if let Some(f) = fields(
        cx,
        node,
        "interval",
        &["all", "slierror", "metadata", "alert"],
    ) {
        for k in ["all", "slierror", "metadata", "alert"] {
            f.span(cx, k);
        }
    }
}

/// Sloth SLI plugins are Go code; headroom knows the ones whose query it can write itself.
fn sli_plugin(cx: &mut Cx, node: &Node, service_labels: &BTreeMap<String, String>) -> Option<Sli> {
    let f = fields(cx, node, "plugin", &["id", "options"])?;
    let id = f.req_str(cx, "id")?;
    let mut options = BTreeMap::new();
    if let Some(o) = f.val("options").and_then(|n| open(cx, n, "options")) {
        for (k, v) in o.entries() {
            if let (Some(k), Some(v)) = (string(cx, k, "option name"), string(cx, v, "option")) {
                options.insert(k.v, v);
            }
        }
    }
    match id.v.as_str() {
        GETTING_STARTED => getting_started_availability(cx, &id, f.pos, &options, service_labels),
        other => {
            cx.err(
                id.pos,
                format!(
                    "unknown Sloth SLI plugin {other:?}: headroom cannot evaluate it; rewrite the \
                     SLI as events or raw queries"
                ),
            );
            None
        }
    }
}

const GETTING_STARTED: &str = "getting_started_availability";

/// Sloth's example plugin (examples/plugins/getting-started/availability): 5xx and 429 responses
/// over all responses of a job, with an optional extra label filter. Its checks are kept.
fn getting_started_availability(
    cx: &mut Cx,
    id: &At<String>,
    at: crate::yaml::Pos,
    options: &BTreeMap<String, At<String>>,
    service_labels: &BTreeMap<String, String>,
) -> Option<Sli> {
    let plugin = &id.v;
    let Some(job) = options.get("job") else {
        cx.err(
            at,
            format!("Sloth SLI plugin {plugin:?}: the job option is required"),
        );
        return None;
    };
    for required in ["owner", "tier"] {
        if service_labels.get(required).is_none_or(|v| v.is_empty()) {
            cx.err(
                id.pos,
                format!("Sloth SLI plugin {plugin:?}: the service needs a {required:?} label"),
            );
            return None;
        }
    }
    let filter = match options.get("filter") {
        Some(f) if !f.v.is_empty() => {
            let trimmed = f.v.trim_matches(|c| c == '{' || c == '}').trim_matches(',');
            if !is_label_filter(trimmed) {
                cx.err(
                    f.pos,
                    format!(
                        "Sloth SLI plugin {plugin:?}: invalid Prometheus filter {:?} (expected \
                         name=\"value\" pairs separated by commas)",
                        f.v
                    ),
                );
                return None;
            }
            format!("{trimmed},")
        }
        _ => String::new(),
    };
    let job = &job.v;
    let metric = "http_request_duration_seconds_count";
    Some(Sli::Ratio {
        queries: RatioQueries::BadTotal {
            bad: PromQuery(format!(
                "sum(rate({metric}{{ {filter}job=\"{job}\",code=~\"(5..|429)\" }}[{{{{.window}}}}]))"
            )),
            total: PromQuery(format!(
                "sum(rate({metric}{{ {filter}job=\"{job}\" }}[{{{{.window}}}}]))"
            )),
        },
        form: QueryForm::Windowed,
    })
}

/// `a="b",c="d"`: the shape Sloth's example plugin accepts as a filter.
fn is_label_filter(s: &str) -> bool {
    !s.is_empty()
        && s.split(',').all(|pair| {
            pair.split_once("=\"").is_some_and(|(name, rest)| {
                !name.is_empty()
                    && !name.contains('=')
                    && rest
                        .strip_suffix('"')
                        .is_some_and(|v| !v.is_empty() && !v.contains(['=', ',', '"']))
            })
        })
}

/// A `sloth.slok.dev/v1` `AlertWindows` document.
pub(crate) fn alert_windows(cx: &mut Cx, doc: &Node) -> Option<AlertWindows> {
    let f = fields(
        cx,
        doc,
        "AlertWindows",
        &["apiVersion", "kind", "metadata", "spec"],
    )?;
    let spec = f.req(cx, "spec")?;
    read_windows(cx, spec, "spec", &CAMEL, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_filters() {
        assert!(is_label_filter(r#"f1="v1",f2="v2""#));
        assert!(!is_label_filter(r#"f1=~"v1""#));
        assert!(!is_label_filter(r#"f1="v1,f2""#));
        assert!(!is_label_filter(""));
    }
}
