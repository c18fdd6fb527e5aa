//! headroom's own format. `examples/quickstart.yaml` is its commented reference.
//!
//! ```yaml
//! anonymous_read: true          # may unauthenticated clients read SLOs and budgets?
//! metrics_token: <secret>       # optional: a bearer token that reads /metrics (besides read tokens)
//! services: [{name, description, labels, team, repositories, environments, production, deploy_workflows}]
//! hooks: {github: {secret_file, incident_labels}, gitlab: {token_file, signing_key_file}}   # see `delivery`
//! dora: {attribution_window: 24h}   # see `delivery`
//! actions: [{name, kind, on, approval, dry_run, timeout, max_attempts, …}]   # see `actions`
//! alert_windows: {slo_period, page: {quick, slow}, ticket: {quick, slow}}   # optional
//! slos:
//!   - name: checkout-availability   # the SLO id
//!     service: checkout
//!     objective: 99.9               # percent; or `target: 0.999` as a ratio, never both
//!     window: 30d                   # or {calendar: month, time_zone: Europe/Berlin}
//!     budgeting: occurrences        # or {timeslices: {target, slice}} / {ratio_timeslices: {slice}}
//!     sli: {events: {}}             # or ratio / threshold / raw with PromQL queries
//!     grouping: [region]
//!     labels: {team: shop}
//!     alerting: {name, labels, annotations, windows, page, ticket, tiers, no_data, min_events}
//! ```

use headroom_core::{
    AlertPolicy, AlertTier, AlertWindows, BudgetingMethod, BurnCondition, NoDataRule, Objective,
    PromQuery, QueryForm, RatioQueries, RulesSpec, Sli, Slo, Span, Window,
};

use crate::Service;
use crate::alerts::{Defaults, SNAKE, read_windows};
use crate::read::{At, Cx, Fields, did_you_mean, fields, list, number, span, string};
use crate::rules::{
    annotations, calendar_unit, check_label_name, check_name, check_windowed_query, labels,
    objective_percent, objective_ratio, slice_target, time_zone,
};
use crate::yaml::{Node, Value};

const TOP: &[&str] = &[
    "anonymous_read",
    "metrics_token",
    "services",
    "alert_windows",
    "slos",
    "probes",
    "scrape",
    "backends",
    "receivers",
    "global",
    "route",
    "inhibit_rules",
    "time_intervals",
    "mute_time_intervals",
    "users",
    "teams",
    "schedules",
    "escalation_policies",
    "incident_policies",
    "integrations",
    "templates",
    "hooks",
    "actions",
    "dora",
];
const SERVICE: &[&str] = &[
    "name",
    "description",
    "labels",
    "team",
    "repositories",
    "environments",
    "production",
    "deploy_workflows",
    "release_policy",
];
const SLO: &[&str] = &[
    "name",
    "service",
    "description",
    "objective",
    "target",
    "window",
    "budgeting",
    "sli",
    "grouping",
    "labels",
    "alerting",
];
const ALERTING: &[&str] = &[
    "name",
    "labels",
    "annotations",
    "windows",
    "page",
    "ticket",
    "tiers",
    "no_data",
    "min_events",
];

/// Settings a native document may carry besides SLOs. Each may be set in one place only.
#[derive(Default)]
pub(crate) struct Settings {
    pub anonymous_read: Option<At<bool>>,
    pub metrics_token: Option<At<String>>,
    pub alert_windows: Option<At<AlertWindows>>,
    pub services: Vec<(Service, At<()>)>,
    pub signals: crate::signals::Signals,
    pub routing: crate::respond::RoutingParts,
    pub oncall: crate::oncall::Parts,
    pub incident_policies: Vec<At<headroom_incident::IncidentPolicy>>,
    pub integrations: Vec<At<crate::integrations::InboundIntegration>>,
    pub hooks: Option<At<crate::delivery::Hooks>>,
    pub actions: Vec<At<crate::actions::Action>>,
    pub dora: Option<At<crate::delivery::Dora>>,
}

/// First pass over a native document: its settings and services (SLOs come later, once the
/// whole set's alert windows are known).
pub(crate) fn read_settings(cx: &mut Cx, doc: &Node, settings: &mut Settings) {
    let Some(f) = fields(cx, doc, "headroom config", TOP) else {
        return;
    };
    if let Some(n) = f.val("anonymous_read")
        && let Some(b) = crate::read::boolean(cx, n, "anonymous_read")
    {
        set_once(
            cx,
            &mut settings.anonymous_read,
            At { v: b, pos: n.pos },
            "anonymous_read",
        );
    }
    if let Some(n) = f.val("metrics_token")
        && let Some(t) = crate::read::string(cx, n, "metrics_token")
    {
        if t.v.trim().len() < 16 {
            cx.err(
                n.pos,
                "metrics_token must be at least 16 characters: it is a password",
            );
        } else {
            set_once(cx, &mut settings.metrics_token, t, "metrics_token");
        }
    }
    if let Some(n) = f.val("alert_windows")
        && let Some(w) = read_windows(cx, n, "alert_windows", &SNAKE, None)
    {
        set_once(
            cx,
            &mut settings.alert_windows,
            At { v: w, pos: n.pos },
            "alert_windows",
        );
    }
    crate::signals::read_probes(cx, &f, &mut settings.signals);
    crate::signals::read_scrape(cx, &f, &mut settings.signals);
    crate::signals::read_backends(cx, &f, &mut settings.signals);
    crate::respond::read(cx, &f, &mut settings.routing);
    crate::oncall::read(cx, &f, &mut settings.oncall);
    crate::incidents::read(cx, &f, &mut settings.incident_policies);
    crate::actions::read(cx, &f, &mut settings.actions);
    if let Some(items) = f.list(cx, "integrations") {
        crate::integrations::read(cx, items, &mut settings.integrations);
    }
    if let Some(n) = f.val("hooks") {
        let hooks = crate::delivery::read_hooks(cx, n);
        set_once(
            cx,
            &mut settings.hooks,
            At {
                v: hooks,
                pos: n.pos,
            },
            "hooks",
        );
    }
    if let Some(n) = f.val("dora") {
        let dora = crate::delivery::read_dora(cx, n);
        set_once(
            cx,
            &mut settings.dora,
            At {
                v: dora,
                pos: n.pos,
            },
            "dora",
        );
    }
    for item in f.list(cx, "services").unwrap_or_default() {
        if let Some(s) = service(cx, item) {
            settings.services.push((
                s,
                At {
                    v: (),
                    pos: item.pos,
                },
            ));
        }
    }
}

pub(crate) fn set_once<T>(cx: &mut Cx, slot: &mut Option<At<T>>, value: At<T>, what: &str) {
    if let Some(first) = slot {
        let at = cx.source(first.pos);
        cx.err(
            value.pos,
            format!("{what} is already set at {at}; set it once"),
        );
    } else {
        *slot = Some(value);
    }
}

fn service(cx: &mut Cx, node: &Node) -> Option<Service> {
    let f = fields(cx, node, "service", SERVICE)?;
    let mark = cx.mark();
    let name = f.req_str(cx, "name");
    if let Some(n) = &name {
        check_name(cx, n, "service name");
    }
    let description = f.str(cx, "description").map(|d| d.v);
    let labels = f
        .get("labels")
        .map(|n| labels(cx, n, "labels"))
        .unwrap_or_default();
    let d = crate::delivery::read_service(cx, &f);
    cx.clean_since(mark).then_some(())?;
    Some(Service {
        name: name?.v,
        description,
        labels,
        team: d.team,
        repositories: d.repositories,
        environments: d.environments,
        production: d.production,
        deploy_workflows: d.deploy_workflows,
        release_policy: d.release_policy,
    })
}

/// Second pass: the document's SLOs.
pub(crate) fn read_slos(cx: &mut Cx, doc: &Node, defaults: &Defaults, out: &mut Vec<Slo>) {
    // Keys were checked in the first pass; only reopen the mapping.
    let Some(f) = crate::read::open(cx, doc, "headroom config") else {
        return;
    };
    for item in f.list(cx, "slos").unwrap_or_default() {
        if let Some(slo) = slo(cx, item, defaults) {
            out.push(slo);
        }
    }
}

fn slo(cx: &mut Cx, node: &Node, defaults: &Defaults) -> Option<Slo> {
    let f = fields(cx, node, "SLO", SLO)?;
    let mark = cx.mark();
    let name = f.req_str(cx, "name");
    if let Some(n) = &name {
        check_name(cx, n, "SLO name");
    }
    let service = f.req_str(cx, "service");
    if let Some(s) = &service {
        check_name(cx, s, "service name");
    }
    let description = f.str(cx, "description").map(|d| d.v);
    let objective = objective(cx, &f);
    let window = match f.val("window") {
        Some(n) => window(cx, n),
        None => Some(Window::Rolling {
            length: Span::days(30),
        }),
    };
    let budgeting = match f.val("budgeting") {
        Some(n) => budgeting(cx, n),
        None => Some(BudgetingMethod::Occurrences),
    };
    let (sli, backend) = f.req(cx, "sli").and_then(|n| sli(cx, n)).unzip();
    let grouping = f
        .val("grouping")
        .map(|n| grouping(cx, n))
        .unwrap_or_default();
    let labels = f
        .get("labels")
        .map(|n| labels(cx, n, "labels"))
        .unwrap_or_default();
    let period = window.map_or(Span::days(30), |w| w.nominal_length());
    let alerting = alerting(cx, f.val("alerting"), period, defaults);
    if !cx.clean_since(mark) {
        return None;
    }
    let (name, service) = (name?.v, service?.v);
    Some(Slo {
        id: name.as_str().into(),
        rules: RulesSpec::new(&name, &service, &name),
        service,
        name,
        description,
        objective: objective?,
        window: window?,
        budgeting: budgeting?,
        sli: sli?,
        grouping,
        alerting: alerting?,
        labels,
        backend: backend.flatten(),
        source: cx.source(node.pos),
    })
}

/// `objective` is always a percentage and `target` always a ratio: the key decides, never the
/// size of the number.
fn objective(cx: &mut Cx, f: &Fields) -> Option<Objective> {
    match (f.val("objective"), f.val("target")) {
        (Some(_), Some(t)) => {
            cx.err(
                t.pos,
                "give either objective (a percentage, 99.9) or target (a ratio, 0.999), not both",
            );
            None
        }
        (Some(p), None) => {
            number(cx, p, "objective").and_then(|p| objective_percent(cx, &p, "objective"))
        }
        (None, Some(r)) => number(cx, r, "target").and_then(|r| objective_ratio(cx, &r, "target")),
        (None, None) => {
            cx.err(
                f.pos,
                "missing field \"objective\" in SLO (a percentage such as 99.9)",
            );
            None
        }
    }
}

/// `30d` (rolling) or `{calendar: month, time_zone: Europe/Berlin}`.
fn window(cx: &mut Cx, node: &Node) -> Option<Window> {
    if node.as_map().is_none() {
        return span(cx, node, "window").map(|s| Window::Rolling { length: s.v });
    }
    let f = fields(cx, node, "window", &["rolling", "calendar", "time_zone"])?;
    match (f.val("rolling"), f.val("calendar")) {
        (Some(r), None) => {
            if let Some(tz) = f.val("time_zone") {
                cx.err(tz.pos, "a rolling window has no time zone");
            }
            span(cx, r, "rolling").map(|s| Window::Rolling { length: s.v })
        }
        (None, Some(c)) => {
            let unit = string(cx, c, "calendar").and_then(|u| calendar_unit(cx, &u));
            let tz = match f.str(cx, "time_zone") {
                Some(name) => time_zone(cx, &name),
                None => Some(chrono_tz::UTC),
            };
            Some(Window::Calendar {
                unit: unit?,
                tz: tz?,
            })
        }
        (Some(_), Some(c)) => {
            cx.err(c.pos, "a window is either rolling or calendar, not both");
            None
        }
        (None, None) => {
            cx.err(
                f.pos,
                "window needs rolling (e.g. 30d) or calendar (week, month, quarter or year)",
            );
            None
        }
    }
}

/// `occurrences` (the default), `{timeslices: {target, slice}}` or `{ratio_timeslices: {slice}}`.
fn budgeting(cx: &mut Cx, node: &Node) -> Option<BudgetingMethod> {
    const METHODS: [&str; 3] = ["occurrences", "timeslices", "ratio_timeslices"];
    if let Some(s) = node.scalar_text() {
        return match s {
            "occurrences" => Some(BudgetingMethod::Occurrences),
            "timeslices" => {
                cx.err(
                    node.pos,
                    "timeslices needs its slice target and length: {timeslices: {target: 0.95, slice: 1m}}",
                );
                None
            }
            "ratio_timeslices" => {
                cx.err(
                    node.pos,
                    "ratio_timeslices needs its slice length: {ratio_timeslices: {slice: 5m}}",
                );
                None
            }
            other => {
                let hint = did_you_mean(other, METHODS)
                    .map(|m| format!("; did you mean {m:?}?"))
                    .unwrap_or_default();
                cx.err(
                    node.pos,
                    format!(
                        "unknown budgeting method {other:?}: use occurrences, timeslices or ratio_timeslices{hint}"
                    ),
                );
                None
            }
        };
    }
    let f = fields(cx, node, "budgeting", &METHODS)?;
    let given: Vec<(&Node, &Node)> = f.entries().collect();
    let [(key, settings)] = given.as_slice() else {
        cx.err(f.pos, "budgeting names exactly one method");
        return None;
    };
    match key.scalar_text() {
        Some("occurrences") => Some(BudgetingMethod::Occurrences),
        Some("timeslices") => {
            let s = fields(cx, settings, "timeslices", &["target", "slice"])?;
            let target = s
                .req(cx, "target")
                .and_then(|n| number(cx, n, "target"))
                .and_then(|t| slice_target(cx, &t, "target"));
            let slice = s.req_span(cx, "slice");
            Some(BudgetingMethod::Timeslices {
                target: target?,
                slice: slice?.v,
            })
        }
        Some("ratio_timeslices") => {
            let s = fields(cx, settings, "ratio_timeslices", &["slice"])?;
            Some(BudgetingMethod::RatioTimeslices {
                slice: s.req_span(cx, "slice")?.v,
            })
        }
        _ => None,
    }
}

/// The SLI and the backend that answers its queries, if one is named.
fn sli(cx: &mut Cx, node: &Node) -> Option<(Sli, Option<String>)> {
    const KINDS: &[&str] = &["events", "ratio", "threshold", "raw", "probe"];
    let f = fields(cx, node, "sli", &[KINDS, &["backend"]].concat())?;
    let backend = f.str(cx, "backend").map(|b| b.v);
    let given: Vec<(&Node, &Node)> = f
        .entries()
        .filter(|(k, _)| k.scalar_text() != Some("backend"))
        .collect();
    let [(key, body)] = given.as_slice() else {
        let msg = if given.is_empty() {
            "sli is empty: give one of events, ratio, threshold, raw or probe"
        } else {
            "sli takes exactly one of events, ratio, threshold, raw or probe"
        };
        cx.err(f.pos, msg);
        return None;
    };
    let sli = sli_kind(cx, key, body)?;
    if backend.is_some() && matches!(sli, Sli::Events | Sli::Probe { .. }) {
        cx.err(
            f.pos,
            format!(
                "backend answers PromQL queries; a {} SLI has none",
                sli.kind_name()
            ),
        );
        return None;
    }
    Some((sli, backend))
}

fn sli_kind(cx: &mut Cx, key: &Node, body: &Node) -> Option<Sli> {
    match key.scalar_text()? {
        "probe" => {
            let p = fields(cx, body, "probe", &["name", "latency"])?;
            let probe = p.req_str(cx, "name");
            let latency = p.span(cx, "latency").map(|l| l.v);
            Some(Sli::Probe {
                probe: probe?.v,
                latency,
            })
        }
        "events" => {
            // `events:` and `events: {}` both mean "fed through the events API".
            if !body.is_null() {
                fields(cx, body, "events", &[])?;
            }
            Some(Sli::Events)
        }
        "ratio" => {
            let r = fields(cx, body, "ratio", &["good", "bad", "total"])?;
            let shape = (r.val("good"), r.val("bad"), r.val("total"));
            let good = query(cx, &r, "good");
            let bad = query(cx, &r, "bad");
            let total = query(cx, &r, "total");
            let queries = match shape {
                (Some(_), None, Some(_)) => RatioQueries::GoodTotal {
                    good: good?,
                    total: total?,
                },
                (None, Some(_), Some(_)) => RatioQueries::BadTotal {
                    bad: bad?,
                    total: total?,
                },
                (Some(_), Some(_), None) => RatioQueries::GoodBad {
                    good: good?,
                    bad: bad?,
                },
                _ => {
                    cx.err(r.pos, "ratio takes exactly two of good, bad and total");
                    return None;
                }
            };
            Some(Sli::Ratio {
                queries,
                form: QueryForm::Windowed,
            })
        }
        "threshold" => {
            let t = fields(cx, body, "threshold", &["good", "total", "threshold"])?;
            if t.val("good").is_none() || t.val("total").is_none() {
                cx.err(t.pos, "threshold needs both good and total queries");
            }
            let good = query(cx, &t, "good");
            let total = query(cx, &t, "total");
            let threshold = t.num(cx, "threshold").map(|n| n.v);
            Some(Sli::Threshold {
                good: good?,
                total: total?,
                threshold,
            })
        }
        "raw" => {
            let r = fields(cx, body, "raw", &["error_ratio"])?;
            if r.val("error_ratio").is_none() {
                cx.err(r.pos, "missing field \"error_ratio\" in raw");
            }
            Some(Sli::RawErrorRatio {
                error_ratio: query(cx, &r, "error_ratio")?,
            })
        }
        _ => None,
    }
}

fn query(cx: &mut Cx, f: &Fields, name: &str) -> Option<PromQuery> {
    let q = f.str(cx, name)?;
    check_windowed_query(cx, &q, &format!("{name} query")).then_some(PromQuery(q.v))
}

fn grouping(cx: &mut Cx, node: &Node) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in list(cx, node, "grouping").unwrap_or_default() {
        let Some(name) = string(cx, item, "grouping label") else {
            continue;
        };
        if !check_label_name(cx, &name, "grouping label") {
            continue;
        }
        if out.contains(&name.v) {
            cx.err(
                name.pos,
                format!("grouping label {:?} is listed twice", name.v),
            );
            continue;
        }
        out.push(name.v);
    }
    out
}

/// Without `alerting`, the SLO pages and tickets on the loaded (or Sloth's default) windows.
fn alerting(
    cx: &mut Cx,
    node: Option<&Node>,
    period: Span,
    defaults: &Defaults,
) -> Option<AlertPolicy> {
    let Some(node) = node else {
        return Some(defaults.policy(period));
    };
    let f = fields(cx, node, "alerting", ALERTING)?;
    let name = f.str(cx, "name");
    if let Some(n) = &name
        && n.v.trim().is_empty()
    {
        cx.err(n.pos, "alert name is empty: give it a name or leave it out");
    }
    let common_labels = f
        .get("labels")
        .map(|n| labels(cx, n, "labels"))
        .unwrap_or_default();
    let common_annotations = f
        .get("annotations")
        .map(|n| annotations(cx, n, "annotations"))
        .unwrap_or_default();

    let mut policy = if let Some(tiers_node) = f.val("tiers") {
        for other in ["windows", "page", "ticket"] {
            if let Some(n) = f.val(other) {
                cx.err(
                    n.pos,
                    format!("tiers replace windows, page and ticket: drop {other:?} or tiers"),
                );
            }
        }
        let mut policy = AlertPolicy::none();
        for t in list(cx, tiers_node, "tiers").unwrap_or_default() {
            if let Some(tier) = tier(cx, t) {
                policy.tiers.push(tier);
            }
        }
        if policy.tiers.is_empty() {
            cx.err(
                tiers_node.pos,
                "tiers is empty: to alert on nothing, disable page and ticket",
            );
        }
        policy
    } else {
        let mut policy = match f.val("windows") {
            Some(w) => read_windows(cx, w, "windows", &SNAKE, Some(period))
                .map(|w| AlertPolicy::from_windows(&w, period))
                .unwrap_or_else(AlertPolicy::none),
            None => defaults.policy(period),
        };
        for severity in ["page", "ticket"] {
            if let Some(n) = f.val(severity) {
                tier_switch(cx, n, severity, &mut policy);
            }
        }
        policy
    };
    policy.name = name.map(|n| n.v);
    policy.labels = common_labels;
    policy.annotations = common_annotations;
    if let Some(n) = f.val("no_data") {
        policy.no_data = no_data(cx, n);
    }
    if let Some(m) = f.num(cx, "min_events") {
        if m.v < 0.0 {
            cx.err(m.pos, "min_events cannot be negative");
        }
        policy.min_events = m.v;
    }
    Some(policy)
}

/// `page:` / `ticket:` settings on a default tier: disable it, or give it labels and a `for`.
fn tier_switch(cx: &mut Cx, node: &Node, severity: &'static str, policy: &mut AlertPolicy) {
    let Some(f) = fields(
        cx,
        node,
        severity,
        &["disable", "for", "labels", "annotations"],
    ) else {
        return;
    };
    if f.bool(cx, "disable") == Some(true) {
        policy.tiers.retain(|t| t.severity != severity);
        return;
    }
    let for_ = f.span(cx, "for");
    let labels = f.get("labels").map(|n| labels(cx, n, "labels"));
    let annotations = f
        .get("annotations")
        .map(|n| annotations(cx, n, "annotations"));
    if let Some(tier) = policy.tiers.iter_mut().find(|t| t.severity == severity) {
        if let Some(d) = for_ {
            tier.for_ = d.v;
        }
        tier.labels.extend(labels.unwrap_or_default());
        tier.annotations.extend(annotations.unwrap_or_default());
    }
}

fn tier(cx: &mut Cx, node: &Node) -> Option<AlertTier> {
    let f = fields(
        cx,
        node,
        "tier",
        &["severity", "for", "conditions", "labels", "annotations"],
    )?;
    let mark = cx.mark();
    let severity = f.req_str(cx, "severity");
    if let Some(s) = &severity
        && s.v.trim().is_empty()
    {
        cx.err(s.pos, "severity is empty");
    }
    let for_ = f.span(cx, "for").map_or(Span(0), |s| s.v);
    let mut conditions = Vec::new();
    if let Some(list_node) = f.req(cx, "conditions") {
        for c in list(cx, list_node, "conditions").unwrap_or_default() {
            if let Some(c) = condition(cx, c) {
                conditions.push(c);
            }
        }
        if matches!(&list_node.value, Value::Seq(items) if items.is_empty()) {
            cx.err(
                list_node.pos,
                "conditions is empty: a tier needs at least one",
            );
        }
    }
    let labels = f
        .get("labels")
        .map(|n| labels(cx, n, "labels"))
        .unwrap_or_default();
    let annotations = f
        .get("annotations")
        .map(|n| annotations(cx, n, "annotations"))
        .unwrap_or_default();
    cx.clean_since(mark).then_some(())?;
    Some(AlertTier {
        severity: severity?.v.into(),
        conditions,
        for_,
        labels,
        annotations,
    })
}

fn condition(cx: &mut Cx, node: &Node) -> Option<BurnCondition> {
    let f = fields(cx, node, "condition", &["long", "short", "factor"])?;
    let long = f.req_span(cx, "long");
    let short = f.req_span(cx, "short");
    let factor = f.req(cx, "factor").and_then(|n| number(cx, n, "factor"));
    if let Some(factor) = &factor
        && factor.v <= 0.0
    {
        cx.err(
            factor.pos,
            "factor must be above 0: it is a multiple of the sustainable burn rate",
        );
        return None;
    }
    let (long, short) = (long?, short?);
    if short.v >= long.v {
        cx.err(
            short.pos,
            format!(
                "short window {} must be shorter than long window {}",
                short.v, long.v
            ),
        );
        return None;
    }
    Some(BurnCondition {
        long: long.v,
        short: short.v,
        factor: factor?.v,
    })
}

fn no_data(cx: &mut Cx, node: &Node) -> Option<NoDataRule> {
    let f = fields(cx, node, "no_data", &["after", "severity"])?;
    let after = f.req_span(cx, "after");
    let severity = f
        .str(cx, "severity")
        .map_or_else(|| "ticket".into(), |s| s.v.into());
    Some(NoDataRule {
        after: after?.v,
        severity,
    })
}

/// Services named by SLOs but not declared get an entry of their own, so every SLO has one.
pub(crate) fn implied_services(declared: &mut Vec<Service>, slos: &[Slo]) {
    for slo in slos {
        if !declared.iter().any(|s| s.name == slo.service) {
            declared.push(Service::named(slo.service.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Vec<Slo>, Vec<String>) {
        let mut cx = Cx::new();
        let f = cx.add_file("t.yaml", text);
        let docs = crate::yaml::parse(f, text).unwrap_or_else(|e| panic!("{}", e.message));
        let mut settings = Settings::default();
        let mut slos = Vec::new();
        for d in &docs {
            read_settings(&mut cx, d, &mut settings);
            read_slos(&mut cx, d, &Defaults::default(), &mut slos);
        }
        let msgs = cx.problems.iter().map(|p| p.to_string()).collect();
        (slos, msgs)
    }

    #[test]
    fn explicit_tiers_replace_the_defaults() {
        let (slos, problems) = read(
            "slos:\n- name: a\n  service: s\n  objective: 99\n  sli: {events: {}}\n  alerting:\n    tiers:\n    - severity: critical\n      for: 2m\n      conditions: [{long: 1h, short: 5m, factor: 14.4}]\n",
        );
        assert_eq!(problems, Vec::<String>::new());
        let tiers = &slos[0].alerting.tiers;
        assert_eq!(tiers.len(), 1);
        assert_eq!(tiers[0].severity, "critical");
        assert_eq!(tiers[0].for_, Span::minutes(2));
        assert_eq!(tiers[0].conditions[0].factor, 14.4);
    }

    #[test]
    fn objective_and_target_together_is_a_problem() {
        let (slos, problems) = read(
            "slos:\n- name: a\n  service: s\n  objective: 99\n  target: 0.99\n  sli: {events: {}}\n",
        );
        assert!(slos.is_empty());
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("t.yaml:5:11: give either objective"),
            "{problems:?}"
        );
    }

    #[test]
    fn ratio_needs_two_of_three_queries() {
        let (_, problems) = read(
            "slos:\n- name: a\n  service: s\n  objective: 99\n  sli:\n    ratio:\n      good: x[{{.window}}]\n",
        );
        assert_eq!(
            problems,
            vec!["t.yaml:7:7: ratio takes exactly two of good, bad and total"]
        );
    }
}
