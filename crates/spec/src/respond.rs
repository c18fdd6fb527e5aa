//! The native format's response settings: Alertmanager's own config keys, so an existing
//! `alertmanager.yml` (its `global`, `route`, `inhibit_rules`, `time_intervals` and
//! `mute_time_intervals`; `receivers` in `receivers.rs`) loads as a headroom config document.
//!
//! ```yaml
//! global: {resolve_timeout: 5m}     # and the receiver defaults (smtp_*, slack_api_url, …)
//! route:
//!   receiver: team
//!   group_by: [alertname, slo]          # or ['...']
//!   group_wait: 30s
//!   routes:
//!     - matchers: ['severity="page"']  # or the legacy match / match_re maps
//!       receiver: oncall
//!       continue: true
//!       mute_time_intervals: [offhours]
//! inhibit_rules:
//!   - {source_matchers: ['severity="page"'], target_matchers: ['severity="ticket"'], equal: [slo]}
//! time_intervals:
//!   - name: offhours
//!     time_intervals: [{weekdays: ['saturday', 'sunday'], location: Europe/Berlin}]
//! ```

use std::time::Duration;

use headroom_routing::inhibit::InhibitRule;
use headroom_routing::interval::{
    DayOfMonthRange, MonthRange, NamedTimeInterval, TimeInterval, TimeRange, WeekdayRange,
    YearRange, parse_location,
};
use headroom_routing::matcher::{MatchOp, Matcher, parse_matchers};
use headroom_routing::route::{GroupBy, Route};

use crate::native::set_once;
use crate::read::{At, Cx, Fields, fields, string};
use crate::yaml::Node;

/// Alertmanager's default `resolve_timeout`: how long an alert posted without `endsAt` stays
/// firing without being posted again.
pub const DEFAULT_RESOLVE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Where alerts go: the routing tree and the rules that silence parts of it.
#[derive(Debug, Clone)]
pub struct Routing {
    pub resolve_timeout: Duration,
    pub route: Route,
    pub inhibit_rules: Vec<InhibitRule>,
    pub time_intervals: Vec<NamedTimeInterval>,
}

impl Default for Routing {
    /// One route to the receiver `default`, with Alertmanager's default timers.
    fn default() -> Self {
        Routing {
            resolve_timeout: DEFAULT_RESOLVE_TIMEOUT,
            route: Route {
                receiver: Some("default".to_string()),
                ..Route::default()
            },
            inhibit_rules: Vec::new(),
            time_intervals: Vec::new(),
        }
    }
}

impl PartialEq for Routing {
    /// Compared by what they decide, through their debug form: matchers hold compiled regexes.
    fn eq(&self, other: &Self) -> bool {
        format!("{self:?}") == format!("{other:?}")
    }
}

/// `resolve_timeout`, and the defaults receivers inherit (`receivers::read_global`).
const GLOBAL: &[&str] = &[
    "resolve_timeout",
    "smtp_from",
    "smtp_smarthost",
    "smtp_hello",
    "smtp_auth_username",
    "smtp_auth_password",
    "smtp_auth_password_file",
    "smtp_require_tls",
    "slack_api_url",
    "slack_api_url_file",
    "pagerduty_url",
];
const ROUTE: &[&str] = &[
    "receiver",
    "group_by",
    "continue",
    "matchers",
    "match",
    "match_re",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "mute_time_intervals",
    "active_time_intervals",
    "routes",
];
const INHIBIT: &[&str] = &[
    "source_matchers",
    "target_matchers",
    "equal",
    "source_match",
    "source_match_re",
    "target_match",
    "target_match_re",
];
const NAMED_INTERVAL: &[&str] = &["name", "time_intervals"];
const INTERVAL: &[&str] = &[
    "times",
    "weekdays",
    "days_of_month",
    "months",
    "years",
    "location",
];
const TIMES: &[&str] = &["start_time", "end_time"];

/// What the documents of a set say about routing, each part set in one place only.
#[derive(Default)]
pub(crate) struct RoutingParts {
    resolve_timeout: Option<At<Duration>>,
    route: Option<At<Route>>,
    inhibit_rules: Vec<InhibitRule>,
    time_intervals: Vec<At<NamedTimeInterval>>,
    /// What `global` says receivers inherit; they are read once every document's is known.
    pub receiver_defaults: crate::receivers::Defaults,
    /// Top-level `templates`: (name, source), each compiled.
    pub templates: Vec<(At<String>, At<String>)>,
}

/// Reads the routing keys of one native document into `parts`.
pub(crate) fn read(cx: &mut Cx, f: &Fields, parts: &mut RoutingParts) {
    if let Some(n) = f.val("global")
        && let Some(g) = fields(cx, n, "global", GLOBAL)
    {
        if let Some(t) = g.val("resolve_timeout")
            && let Some(d) = duration(cx, t, "resolve_timeout", false)
        {
            set_once(cx, &mut parts.resolve_timeout, d, "global.resolve_timeout");
        }
        crate::receivers::read_global(cx, &g, &mut parts.receiver_defaults);
    }
    if let Some(n) = f.val("route")
        && let Some(r) = route(cx, n, true)
    {
        set_once(cx, &mut parts.route, At { v: r, pos: n.pos }, "route");
    }
    for n in f.list(cx, "inhibit_rules").unwrap_or_default() {
        if let Some(rule) = inhibit_rule(cx, n) {
            parts.inhibit_rules.push(rule);
        }
    }
    if let Some(n) = f.val("templates") {
        crate::receivers::read_templates(cx, n, &mut parts.templates);
    }
    for key in ["time_intervals", "mute_time_intervals"] {
        for n in f.list(cx, key).unwrap_or_default() {
            if let Some(i) = named_interval(cx, n) {
                parts.time_intervals.push(At { v: i, pos: n.pos });
            }
        }
    }
}

/// The set's routing, once every document is read; names the routes use must exist.
/// `receivers` are the names receivers are declared under.
pub(crate) fn finish(cx: &mut Cx, parts: RoutingParts, receivers: &[String]) -> Routing {
    let mut intervals: Vec<NamedTimeInterval> = Vec::new();
    for i in parts.time_intervals {
        if intervals.iter().any(|o| o.name == i.v.name) {
            cx.err(
                i.pos,
                format!("time interval {:?} is defined twice", i.v.name),
            );
        } else {
            intervals.push(i.v);
        }
    }
    let Some(route) = parts.route else {
        return Routing {
            resolve_timeout: parts
                .resolve_timeout
                .map_or(DEFAULT_RESOLVE_TIMEOUT, |d| d.v),
            inhibit_rules: parts.inhibit_rules,
            time_intervals: intervals,
            ..Routing::default()
        };
    };
    check_names(cx, &route.v, route.pos, receivers, &intervals);
    Routing {
        resolve_timeout: parts
            .resolve_timeout
            .map_or(DEFAULT_RESOLVE_TIMEOUT, |d| d.v),
        route: route.v,
        inhibit_rules: parts.inhibit_rules,
        time_intervals: intervals,
    }
}

fn check_names(
    cx: &mut Cx,
    route: &Route,
    pos: crate::yaml::Pos,
    receivers: &[String],
    intervals: &[NamedTimeInterval],
) {
    route.walk(|r, _| {
        if let Some(name) = &r.receiver
            && !receivers.contains(name)
        {
            cx.err(
                pos,
                format!("route uses receiver {name:?}, which no receivers entry declares"),
            );
        }
        for name in r.mute_time_intervals.iter().chain(&r.active_time_intervals) {
            if !intervals.iter().any(|i| &i.name == name) {
                cx.err(
                    pos,
                    format!("route uses time interval {name:?}, which is not defined"),
                );
            }
        }
    });
}

fn route(cx: &mut Cx, node: &Node, root: bool) -> Option<Route> {
    let what = if root { "route" } else { "child route" };
    let f = fields(cx, node, what, ROUTE)?;
    let mark = cx.mark();
    let receiver = f.str(cx, "receiver");
    if root && receiver.is_none() {
        cx.err(f.pos, "the root route must name a receiver");
    }
    let mut matchers = Vec::new();
    for n in f.list(cx, "matchers").unwrap_or_default() {
        matchers.extend(matcher_list(cx, n));
    }
    matchers.extend(legacy_matchers(cx, &f, "match", "match_re"));
    if root && !matchers.is_empty() {
        cx.err(
            f.pos,
            "the root route must not have matchers: it takes every alert",
        );
    }
    let group_by = f.list(cx, "group_by").and_then(|items| group_by(cx, items));
    let timer = |cx: &mut Cx, name: &str, zero_ok: bool| {
        f.val(name)
            .and_then(|n| duration(cx, n, name, zero_ok))
            .map(|d| d.v)
    };
    let group_wait = timer(cx, "group_wait", true);
    let group_interval = timer(cx, "group_interval", false);
    let repeat_interval = timer(cx, "repeat_interval", false);
    let names = |cx: &mut Cx, key: &str| -> Vec<String> {
        f.list(cx, key)
            .unwrap_or_default()
            .iter()
            .filter_map(|n| string(cx, n, key).map(|s| s.v))
            .collect()
    };
    let mute_time_intervals = names(cx, "mute_time_intervals");
    let active_time_intervals = names(cx, "active_time_intervals");
    if root && !(mute_time_intervals.is_empty() && active_time_intervals.is_empty()) {
        cx.err(f.pos, "the root route cannot have time intervals");
    }
    let continue_ = f.bool(cx, "continue").unwrap_or(false);
    if root && continue_ {
        cx.err(f.pos, "the root route cannot have continue");
    }
    let routes: Vec<Route> = f
        .list(cx, "routes")
        .unwrap_or_default()
        .iter()
        .filter_map(|n| route(cx, n, false))
        .collect();
    if !cx.clean_since(mark) {
        return None;
    }
    Some(Route {
        receiver: receiver.map(|r| r.v),
        matchers,
        continue_,
        group_by,
        group_wait,
        group_interval,
        repeat_interval,
        mute_time_intervals,
        active_time_intervals,
        routes,
    })
}

fn group_by(cx: &mut Cx, items: &[Node]) -> Option<GroupBy> {
    let mut labels = Vec::new();
    let mut all = false;
    for n in items {
        let name = string(cx, n, "group_by")?;
        if name.v == "..." {
            all = true;
        } else if !headroom_core::is_label_name(&name.v) {
            cx.err(
                name.pos,
                format!("group_by: {:?} is not a valid label name", name.v),
            );
        } else if labels.contains(&name.v) {
            cx.err(name.pos, format!("group_by: {:?} is listed twice", name.v));
        } else {
            labels.push(name.v);
        }
    }
    match (all, labels.is_empty()) {
        (true, true) => Some(GroupBy::All),
        (true, false) => {
            cx.err(
                items[0].pos,
                "group_by: '...' groups by every label and cannot be combined with others",
            );
            None
        }
        // `group_by: []` is unset, as upstream reads it.
        (false, true) => None,
        (false, false) => Some(GroupBy::Labels(labels)),
    }
}

/// One `matchers` entry: a matcher or a `{…}` list, located at the offending column.
pub(crate) fn matcher_list(cx: &mut Cx, node: &Node) -> Vec<Matcher> {
    let Some(text) = string(cx, node, "matcher") else {
        return Vec::new();
    };
    match parse_matchers(&text.v) {
        Ok(m) => m,
        Err(e) => {
            let mut pos = node.pos;
            pos.column += e.column.saturating_sub(1) as u32 + cx.quote_width(node.pos);
            // Regex errors span several lines (a caret diagram); the last one says what is wrong.
            let why = e.kind.to_string();
            let why = match why.lines().last() {
                Some(last) if why.contains('\n') => {
                    format!("invalid regex: {}", last.trim_start_matches("error: "))
                }
                _ => why,
            };
            cx.err(pos, format!("matcher {:?}: {why}", text.v));
            Vec::new()
        }
    }
}

/// Alertmanager's deprecated `match` (equality) and `match_re` (regex, printed anchored in
/// route keys as upstream does) maps.
fn legacy_matchers(cx: &mut Cx, f: &Fields, eq: &str, re: &str) -> Vec<Matcher> {
    let mut out = Vec::new();
    for (key, regex) in [(eq, false), (re, true)] {
        let Some(n) = f.val(key) else { continue };
        let Some(m) = crate::read::open(cx, n, key) else {
            continue;
        };
        for (k, v) in m.entries() {
            let (Some(name), Some(value)) = (string(cx, k, key), string(cx, v, key)) else {
                continue;
            };
            if !headroom_core::is_label_name(&name.v) {
                cx.err(
                    name.pos,
                    format!("{key}: {:?} is not a valid label name", name.v),
                );
                continue;
            }
            let built = if regex {
                Matcher::new(name.v, MatchOp::Regex, format!("^(?:{})$", value.v))
            } else {
                Matcher::new(name.v, MatchOp::Equal, value.v)
            };
            match built {
                Ok(m) => out.push(m),
                Err(e) => cx.err(value.pos, format!("{key}: {e}")),
            }
        }
    }
    out
}

fn inhibit_rule(cx: &mut Cx, node: &Node) -> Option<InhibitRule> {
    let f = fields(cx, node, "inhibit rule", INHIBIT)?;
    let mark = cx.mark();
    let side = |cx: &mut Cx, list_key: &str, eq: &str, re: &str| {
        let mut m: Vec<Matcher> = f
            .list(cx, list_key)
            .unwrap_or_default()
            .iter()
            .flat_map(|n| matcher_list(cx, n))
            .collect();
        m.extend(legacy_matchers(cx, &f, eq, re));
        m
    };
    let source_matchers = side(cx, "source_matchers", "source_match", "source_match_re");
    let target_matchers = side(cx, "target_matchers", "target_match", "target_match_re");
    let mut equal = Vec::new();
    for n in f.list(cx, "equal").unwrap_or_default() {
        let Some(name) = string(cx, n, "equal") else {
            continue;
        };
        if headroom_core::is_label_name(&name.v) {
            equal.push(name.v);
        } else {
            cx.err(
                name.pos,
                format!("equal: {:?} is not a valid label name", name.v),
            );
        }
    }
    cx.clean_since(mark).then_some(InhibitRule {
        source_matchers,
        target_matchers,
        equal,
    })
}

fn named_interval(cx: &mut Cx, node: &Node) -> Option<NamedTimeInterval> {
    let f = fields(cx, node, "time interval", NAMED_INTERVAL)?;
    let mark = cx.mark();
    let name = f.req_str(cx, "name");
    let intervals: Vec<TimeInterval> = f
        .list(cx, "time_intervals")
        .unwrap_or_default()
        .iter()
        .filter_map(|n| interval(cx, n))
        .collect();
    cx.clean_since(mark).then(|| NamedTimeInterval {
        name: name.map(|n| n.v).unwrap_or_default(),
        intervals,
    })
}

fn interval(cx: &mut Cx, node: &Node) -> Option<TimeInterval> {
    let f = fields(cx, node, "time interval", INTERVAL)?;
    let mark = cx.mark();
    let mut times = Vec::new();
    for n in f.list(cx, "times").unwrap_or_default() {
        let Some(t) = fields(cx, n, "times entry", TIMES) else {
            continue;
        };
        let (Some(start), Some(end)) = (t.req_str(cx, "start_time"), t.req_str(cx, "end_time"))
        else {
            continue;
        };
        match TimeRange::parse(&start.v, &end.v) {
            Ok(r) => times.push(r),
            Err(e) => cx.err(start.pos, format!("times: {e}")),
        }
    }
    let weekdays = ranges(cx, &f, "weekdays", WeekdayRange::parse);
    let days_of_month = ranges(cx, &f, "days_of_month", DayOfMonthRange::parse);
    let months = ranges(cx, &f, "months", MonthRange::parse);
    let years = ranges(cx, &f, "years", YearRange::parse);
    let location = f
        .str(cx, "location")
        .and_then(|l| match parse_location(&l.v) {
            Ok(tz) => Some(tz),
            Err(e) => {
                cx.err(l.pos, format!("location: {e}"));
                None
            }
        });
    cx.clean_since(mark).then_some(TimeInterval {
        times,
        weekdays,
        days_of_month,
        months,
        years,
        location,
    })
}

fn ranges<T, E: std::fmt::Display>(
    cx: &mut Cx,
    f: &Fields,
    key: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Vec<T> {
    let mut out = Vec::new();
    for n in f.list(cx, key).unwrap_or_default() {
        if let Some(s) = string(cx, n, key) {
            match parse(&s.v) {
                Ok(r) => out.push(r),
                Err(e) => cx.err(s.pos, format!("{key}: {e}")),
            }
        }
    }
    out
}

/// A Prometheus duration; `0s` (or `0`) only where Alertmanager allows zero (`group_wait`).
pub(crate) fn duration(
    cx: &mut Cx,
    node: &Node,
    what: &str,
    zero_ok: bool,
) -> Option<At<Duration>> {
    let s = string(cx, node, what)?;
    let zero = !s.v.is_empty()
        && s.v
            .trim_end_matches(['s', 'm', 'h'])
            .bytes()
            .all(|c| c == b'0');
    if zero_ok && zero {
        return Some(At {
            v: Duration::ZERO,
            pos: s.pos,
        });
    }
    match s.v.parse::<headroom_core::Span>() {
        Ok(v) => Some(At {
            v: v.to_std(),
            pos: s.pos,
        }),
        Err(e) => {
            cx.err(s.pos, format!("{what}: {e}"));
            None
        }
    }
}
