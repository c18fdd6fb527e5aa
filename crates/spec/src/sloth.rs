//! Sloth specs: `prometheus/v1`, the `sloth.slok.dev/v1` PrometheusServiceLevel CRD, and
//! AlertWindows.
//!
//! Spellings: `prometheus/v1` writes snake_case (`page_alert`, `slo_plugins`, `error_query`), the
//! CRD camelCase (`pageAlert`, `sloPlugins`, `errorQuery`). Sloth reads only a format's own
//! spelling and silently drops the other. Where dropping it still leaves a spec Sloth generates
//! rules from (alert tiers, the service's SLO plugins), headroom drops it too, with a warning, so
//! its rules and alerts stay Sloth's; a query under the other spelling, which leaves Sloth without
//! an SLI, is accepted (giving both spellings is a problem).
//!
//! SLO plugins: Sloth builds an SLO's rules through a chain of plugins sorted by priority, its
//! default ones at 0. Each plugin Sloth ships becomes a [`RuleStep`] (or nothing, for the ones
//! that only check or log), so `generate prometheus` runs the same chain; a plugin id headroom
//! does not know is refused as not supported.

use std::collections::BTreeMap;

use headroom_core::{
    AlertPolicy, AlertWindows, PromQuery, QueryForm, RatioQueries, RuleStep, RulesSpec, Sli, Slo,
    SlothSpec, Window,
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

/// Which of Sloth's two SLO formats a document is, for its spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `prometheus/v1`: snake_case.
    V1,
    /// The `sloth.slok.dev/v1` CRD: camelCase.
    K8s,
}

impl Format {
    fn spec(self) -> SlothSpec {
        match self {
            Format::V1 => SlothSpec::PrometheusV1,
            Format::K8s => SlothSpec::Kubernetes,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::V1 => "a prometheus/v1 spec",
            Format::K8s => "a PrometheusServiceLevel",
        }
    }
}

/// The node under the format's own spelling of a key (`snake` for `prometheus/v1`, `camel` for
/// the CRD). The other spelling is dropped with a warning, as Sloth drops it (silently).
fn spelled<'a>(
    cx: &mut Cx,
    f: &Fields<'a>,
    format: Format,
    snake: &str,
    camel: &str,
) -> Option<&'a Node> {
    let (own, other) = match format {
        Format::V1 => (snake, camel),
        Format::K8s => (camel, snake),
    };
    if let (Some(key), Some(_)) = (f.key(other), f.val(other)) {
        cx.warn(
            key.pos,
            format!(
                "{other:?} is ignored: {} spells it {own:?}, and Sloth drops the other spelling, \
                 so none of it applies (write {own:?})",
                format.name()
            ),
        );
    }
    f.val(own)
}

/// A `version: prometheus/v1` document.
pub(crate) fn prometheus_v1(cx: &mut Cx, doc: &Node, defaults: &Defaults, out: &mut Vec<Slo>) {
    let Some(f) = fields(cx, doc, "Sloth spec", V1_TOP) else {
        return;
    };
    service_level(cx, &f, defaults, Format::V1, out);
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
    service_level(cx, &spec, defaults, Format::K8s, out);
}

/// What `prometheus/v1` and the CRD's `spec` share: a service, its labels and its SLOs.
fn service_level(cx: &mut Cx, f: &Fields, defaults: &Defaults, format: Format, out: &mut Vec<Slo>) {
    let service = f.req_str(cx, "service");
    let service_ok = service
        .as_ref()
        .is_some_and(|s| check_name(cx, s, "service name"));
    let labels = f
        .get("labels")
        .map(|n| labels(cx, n, "labels"))
        .unwrap_or_default();
    let group_chain = spelled(cx, f, format, "slo_plugins", "sloPlugins")
        .and_then(|p| slo_plugins(cx, p))
        .unwrap_or_default();
    let slos = f.req(cx, "slos").and_then(|n| list(cx, n, "slos"));
    if let Some(slos) = slos
        && slos.is_empty()
    {
        cx.err(f.pos, "slos is empty: a Sloth spec needs at least one SLO");
    }
    for item in slos.unwrap_or_default() {
        let service = service.as_ref().filter(|_| service_ok);
        let group = Group {
            service,
            labels: &labels,
            chain: &group_chain,
            format,
        };
        if let Some(slo) = slo(cx, item, &group, defaults) {
            out.push(slo);
        }
    }
}

/// What an SLO inherits from its spec.
struct Group<'a> {
    service: Option<&'a At<String>>,
    labels: &'a BTreeMap<String, String>,
    chain: &'a Chain,
    format: Format,
}

fn slo(cx: &mut Cx, node: &Node, group: &Group, defaults: &Defaults) -> Option<Slo> {
    let (service, service_labels) = (group.service, group.labels);
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
    let own_chain = match f.val("plugins") {
        Some(n) => slo_plugins(cx, n),
        None => Some(Chain::default()),
    };
    if let Some(n) = f.val("interval") {
        interval(cx, n);
    }
    let sli = match f.val("sli") {
        Some(n) => sli(cx, n, service_labels, group.format),
        None => {
            cx.err(
                f.pos,
                "SLI is missing: set sli with one of events, raw or plugin",
            );
            None
        }
    };
    let period = defaults.sloth_period();
    let alerting = alerting(cx, &f, defaults.policy(period), group.format);
    let steps = own_chain.and_then(|own| steps(cx, group.chain, &own, sli.as_ref()));
    if !cx.clean_since(mark) {
        return None;
    }
    let (service, name, (sli, raw_error_ratio)) = (service?.v.clone(), name?.v, sli?);
    let mut rules = RulesSpec::sloth(&service, &name);
    rules.spec = group.format.spec();
    rules.raw_error_ratio = raw_error_ratio;
    rules.steps = steps?;
    Some(Slo {
        id: rules.id.as_str().into(),
        rules,
        service,
        name,
        description,
        objective: objective?,
        window: Window::Rolling { length: period },
        budgeting: headroom_core::BudgetingMethod::Occurrences,
        sli,
        grouping: Vec::new(),
        alerting: alerting?,
        labels: merged,
        backend: None,
        source: cx.source(node.pos),
    })
}

/// The SLI, and the raw error-ratio query Sloth's rules hold instead of it when Sloth sees it
/// as one (an SLI plugin's output).
fn sli(
    cx: &mut Cx,
    node: &Node,
    service_labels: &BTreeMap<String, String>,
    format: Format,
) -> Option<(Sli, Option<PromQuery>)> {
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
            let sli = Sli::Ratio {
                queries: RatioQueries::BadTotal {
                    bad: PromQuery(bad.v),
                    total: PromQuery(total.v),
                },
                form: QueryForm::Windowed,
            };
            Some((sli, None))
        }
        ["raw"] => {
            let r = fields(
                cx,
                f.val("raw")?,
                "raw",
                &["error_ratio_query", "errorRatioQuery"],
            )?;
            let q = query(cx, &r, &["error_ratio_query", "errorRatioQuery"])?;
            let sli = Sli::RawErrorRatio {
                error_ratio: PromQuery(q.v),
            };
            Some((sli, None))
        }
        ["plugin"] => sli_plugin(cx, f.val("plugin")?, service_labels, format),
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
fn alerting(
    cx: &mut Cx,
    slo: &Fields,
    mut policy: AlertPolicy,
    format: Format,
) -> Option<AlertPolicy> {
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
    for (severity, snake, camel) in [
        ("page", "page_alert", "pageAlert"),
        ("ticket", "ticket_alert", "ticketAlert"),
    ] {
        let Some(alert) = spelled(cx, &f, format, snake, camel) else {
            continue;
        };
        let what = if format == Format::V1 { snake } else { camel };
        let Some(a) = fields(cx, alert, what, &["disable", "labels", "annotations"]) else {
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

/// One `plugins` (or `slo_plugins`) block.
#[derive(Debug, Clone, Default)]
struct Chain {
    /// Replaces the plugins before it: Sloth's defaults, and at an SLO the spec's chain too.
    override_previous: bool,
    plugins: Vec<Plugin>,
}

#[derive(Debug, Clone)]
struct Plugin {
    id: At<String>,
    priority: i64,
    /// `None` for a plugin that only checks or logs, which changes no rule.
    step: Option<RuleStep>,
}

/// Reads a plugin chain; `None` when any of it has problems (reported).
fn slo_plugins(cx: &mut Cx, node: &Node) -> Option<Chain> {
    let f = fields(
        cx,
        node,
        "plugins",
        &["chain", "overridePrevious", "override_previous"],
    )?;
    let mark = cx.mark();
    let mut plugins = Vec::new();
    for item in f.list(cx, "chain").unwrap_or_default() {
        let Some(p) = fields(cx, item, "plugin", &["id", "priority", "config"]) else {
            continue;
        };
        let Some(id) = p.req_str(cx, "id") else {
            continue;
        };
        let priority = match p.num(cx, "priority") {
            Some(n) if n.v.fract() != 0.0 || n.v.abs() > 1e15 => {
                cx.err(n.pos, "priority must be a whole number");
                continue;
            }
            Some(n) => n.v as i64,
            None => 0,
        };
        if let Some(step) = slo_plugin(cx, &id, p.val("config")) {
            plugins.push(Plugin { id, priority, step });
        }
    }
    // Sloth spells it overridePrevious in both formats and drops any other spelling.
    if let (Some(key), Some(_)) = (f.key("override_previous"), f.val("override_previous")) {
        cx.warn(
            key.pos,
            "\"override_previous\" is ignored: Sloth spells it \"overridePrevious\" and drops the \
             other spelling, so the default plugins still run (write \"overridePrevious\")",
        );
    }
    let override_previous = f
        .val("overridePrevious")
        .and_then(|n| crate::read::boolean(cx, n, "overridePrevious"))
        .unwrap_or(false);
    cx.clean_since(mark).then_some(Chain {
        override_previous,
        plugins,
    })
}

/// The steps an SLO's rules are built by, as Sloth orders its chain: the spec's plugins, then
/// the SLO's (unless it overrides them), sorted by priority (stable); those below 0 run before
/// Sloth's defaults, the rest after; an override drops the defaults.
fn steps(
    cx: &mut Cx,
    group: &Chain,
    own: &Chain,
    sli: Option<&(Sli, Option<PromQuery>)>,
) -> Option<Vec<RuleStep>> {
    let (mut plugins, mut replace) = (group.plugins.clone(), group.override_previous);
    if own.override_previous {
        plugins.clear();
        replace = true;
    }
    plugins.extend(own.plugins.iter().cloned());
    plugins.sort_by_key(|p| p.priority);
    let events = matches!(
        sli,
        None | Some((
            Sli::Ratio {
                queries: RatioQueries::BadTotal { .. },
                ..
            },
            None
        ))
    );
    if let Some(p) = plugins
        .iter()
        .find(|p| matches!(p.step, Some(RuleStep::DenominatorCorrected { .. })))
        && !events
    {
        cx.err(
            p.id.pos,
            format!(
                "SLO plugin {:?} corrects the error and total queries: the SLI must be events \
                 (error_query and total_query)",
                p.id.v
            ),
        );
        return None;
    }
    let (pre, post): (Vec<&Plugin>, Vec<&Plugin>) = plugins.iter().partition(|p| p.priority < 0);
    let mut steps: Vec<RuleStep> = pre.iter().filter_map(|p| p.step.clone()).collect();
    if !replace {
        steps.extend(RuleStep::defaults());
    }
    steps.extend(post.iter().filter_map(|p| p.step.clone()));
    Some(steps)
}

/// The Sloth plugins headroom runs natively, by id.
mod plugin_id {
    pub const DEBUG: &str = "sloth.dev/core/debug/v1";
    pub const NOOP: &str = "sloth.dev/core/noop/v1";
    pub const VALIDATE: &str = "sloth.dev/core/validate/v1";
    pub const SLI_RULES: &str = "sloth.dev/core/sli_rules/v1";
    pub const METADATA_RULES: &str = "sloth.dev/core/metadata_rules/v1";
    pub const ALERT_RULES: &str = "sloth.dev/core/alert_rules/v1";
    pub const DENOMINATOR_CORRECTED: &str = "sloth.dev/contrib/denominator_corrected_rules/v1";
    pub const INFO_LABELS: &str = "sloth.dev/contrib/info_labels/v1";
    pub const RULE_INTERVALS: &str = "sloth.dev/contrib/rule_intervals/v1";
    pub const REMOVE_LABELS: &str = "sloth.dev/contrib/remove_labels/v1";
    pub const BUDGET_EXHAUSTED: &str = "sloth.dev/contrib/error_budget_exhausted_alert/v1";
    pub const VALIDATE_VICTORIA_METRICS: &str = "sloth.dev/contrib/validate_victoria_metrics/v1";
}

/// One SLO plugin of Sloth's with its `config`: `Some(None)` for one that changes no rule,
/// `None` when it has problems (reported).
fn slo_plugin(cx: &mut Cx, id: &At<String>, config: Option<&Node>) -> Option<Option<RuleStep>> {
    use plugin_id::*;
    let mark = cx.mark();
    // The config's fields, when the plugin reads any.
    let config_of = |cx: &mut Cx, allowed: &[&str]| match config {
        Some(n) => fields(cx, n, "config", allowed),
        None => None,
    };
    let step = match id.v.as_str() {
        // Checks Sloth makes at generation; headroom has made its own at load. MetricsQL is
        // left to vmalert, as Prometheus queries are left to Prometheus.
        VALIDATE | VALIDATE_VICTORIA_METRICS | NOOP => None,
        DEBUG => {
            config_of(cx, &["msg", "result", "request"]);
            None
        }
        SLI_RULES | DENOMINATOR_CORRECTED => {
            let optimized = !config_of(cx, &["disableOptimized"])
                .and_then(|c| c.bool(cx, "disableOptimized"))
                .unwrap_or(false);
            Some(if id.v == SLI_RULES {
                RuleStep::SliRecordings { optimized }
            } else {
                RuleStep::DenominatorCorrected { optimized }
            })
        }
        METADATA_RULES => Some(RuleStep::MetaRecordings),
        ALERT_RULES => Some(RuleStep::Alerts),
        INFO_LABELS => {
            let c = config_of(cx, &["labels", "metricName"]);
            let added = c
                .as_ref()
                .and_then(|c| c.val("labels"))
                .map(|n| info_labels(cx, n))
                .unwrap_or_default();
            if added.is_empty() {
                cx.err(id.pos, format!("SLO plugin {:?} needs config.labels", id.v));
            }
            let metric = c
                .and_then(|c| c.str(cx, "metricName"))
                .map_or_else(|| "sloth_slo_info".to_string(), |m| m.v);
            Some(RuleStep::InfoLabels {
                metric,
                labels: added,
            })
        }
        RULE_INTERVALS => {
            let interval = config_of(cx, &["interval"])
                .and_then(|c| c.val("interval"))
                .and_then(|n| {
                    fields(
                        cx,
                        n,
                        "interval",
                        &["default", "sliError", "metadata", "alert"],
                    )
                });
            let Some(default) = interval
                .as_ref()
                .and_then(|i| i.span(cx, "default"))
                .filter(|d| d.v.millis() > 0)
            else {
                cx.err(
                    id.pos,
                    format!("SLO plugin {:?} needs config.interval.default", id.v),
                );
                return None;
            };
            let mut pick = |k: &str| {
                interval
                    .as_ref()
                    .and_then(|i| i.span(cx, k))
                    .map(|s| s.v)
                    .filter(|s| s.millis() > 0)
                    .unwrap_or(default.v)
            };
            Some(RuleStep::Intervals {
                sli: pick("sliError"),
                meta: pick("metadata"),
                alerts: pick("alert"),
            })
        }
        REMOVE_LABELS => {
            let c = config_of(cx, &["preserveLabels", "skipMetrics"]);
            let mut names = |k: &str| -> Vec<String> {
                c.as_ref()
                    .and_then(|c| c.list(cx, k))
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|n| string(cx, n, k).map(|s| s.v))
                    .collect()
            };
            Some(RuleStep::RemoveLabels {
                preserve: names("preserveLabels"),
                skip: names("skipMetrics"),
            })
        }
        BUDGET_EXHAUSTED => {
            let c = config_of(
                cx,
                &[
                    "threshold",
                    "for",
                    "annotations",
                    "alert_name",
                    "selector_labels",
                    "alert_labels",
                ],
            );
            let c = c.as_ref();
            let map = |cx: &mut Cx, k: &str| {
                c.and_then(|c| c.val(k))
                    .map(|n| labels(cx, n, "labels"))
                    .unwrap_or_default()
            };
            let (selector, alert_labels) = (map(cx, "selector_labels"), map(cx, "alert_labels"));
            let notes = c
                .and_then(|c| c.val("annotations"))
                .map(|n| annotations(cx, n, "annotations"))
                .unwrap_or_default();
            Some(RuleStep::BudgetExhaustedAlert {
                name: c
                    .and_then(|c| c.str(cx, "alert_name"))
                    .map(|n| n.v)
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| "ErrorBudgetExhausted".to_string()),
                threshold: c.and_then(|c| c.num(cx, "threshold")).map_or(0.0, |t| t.v),
                for_: c
                    .and_then(|c| c.span(cx, "for"))
                    .map(|f| f.v)
                    .filter(|f| f.millis() > 0)
                    .unwrap_or(headroom_core::Span::minutes(5)),
                selector,
                labels: alert_labels,
                annotations: notes,
            })
        }
        _ => {
            plugin_not_supported(cx, id, "SLO", "drop it from the chain");
            return None;
        }
    };
    cx.clean_since(mark).then_some(step)
}

/// The info labels plugin's `labels`: Sloth writes them unchecked, so a name Prometheus 3 takes
/// (any UTF-8) but Prometheus 2 refuses, like Sloth's own example's `plug-l1`, only warns.
fn info_labels(cx: &mut Cx, node: &Node) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(f) = open(cx, node, "labels") else {
        return out;
    };
    for (k, v) in f.entries() {
        let (Some(key), Some(value)) = (string(cx, k, "label name"), string(cx, v, "label value"))
        else {
            continue;
        };
        if key.v.is_empty() {
            cx.err(key.pos, "label name is empty");
            continue;
        }
        if !headroom_core::is_label_name(&key.v) {
            cx.warn(
                key.pos,
                format!(
                    "label name {:?} is not a Prometheus 2 label name: Prometheus 3 accepts it, \
                     earlier versions refuse the rule file",
                    key.v
                ),
            );
        }
        out.insert(key.v, value.v);
    }
    out
}

/// The one refusal of a Sloth plugin headroom has no native version of (Sloth's plugins are Go
/// code it does not run): a [`crate::ProblemKind::NotSupported`] problem at the id, naming it.
fn plugin_not_supported(cx: &mut Cx, id: &At<String>, kind: &str, way_out: &str) {
    cx.not_supported(
        id.pos,
        format!(
            "Sloth {kind} plugin {:?} is not supported: headroom does not run Sloth's Go plugins \
             and has no native version of this one; {way_out}",
            id.v
        ),
    );
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
fn sli_plugin(
    cx: &mut Cx,
    node: &Node,
    service_labels: &BTreeMap<String, String>,
    format: Format,
) -> Option<(Sli, Option<PromQuery>)> {
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
        _ => {
            let way_out = match format {
                Format::V1 => "rewrite the SLI as events (error_query, total_query) or raw",
                Format::K8s => "rewrite the SLI as events (errorQuery, totalQuery) or raw",
            };
            plugin_not_supported(cx, &id, "SLI", way_out);
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
) -> Option<(Sli, Option<PromQuery>)> {
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
    let bad = format!(
        "sum(rate({metric}{{ {filter}job=\"{job}\",code=~\"(5..|429)\" }}[{{{{.window}}}}]))"
    );
    let total = format!("sum(rate({metric}{{ {filter}job=\"{job}\" }}[{{{{.window}}}}]))");
    // The plugin hands Sloth one raw query, laid out as its template writes it; headroom keeps
    // the two counts it divides.
    let raw = PromQuery(format!("\n{bad}\n/\n{total}"));
    let sli = Sli::Ratio {
        queries: RatioQueries::BadTotal {
            bad: PromQuery(bad),
            total: PromQuery(total),
        },
        form: QueryForm::Windowed,
    };
    Some((sli, Some(raw)))
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
