//! The native format's on-call directory: who exists, who is on call when, and who is paged as
//! an alert goes unanswered (top-level `users`, `teams`, `schedules` and `escalation_policies`).
//!
//! ```yaml
//! users:
//!   - id: alice
//!     name: Alice
//!     email: alice@example.com
//!     time_zone: Europe/Berlin          # default UTC
//!     contact_methods: [{email: alice@example.com}, {slack: https://hooks.slack.com/…},
//!                       {webhook: https://pager.example.com/alice}]
//! teams:
//!   - {id: shop, name: Shop, members: [alice, bob], escalation_policy: shop-urgent}
//!   - {id: ops, members: [bob]}         # name: the id
//! schedules:
//!   - id: shop-primary
//!     name: Shop primary                 # default: the id
//!     time_zone: Europe/Berlin           # required: every local time below is read in it
//!     layers:
//!       - name: weekdays                 # default: "layer N"
//!         users: [alice, bob]            # in turn; one may be named more than once
//!         turn: weekly                   # daily, weekly, {days: n} or {hours: n}
//!         rotation_start: "2026-01-05T09:00"
//!         restrictions:                  # {daily: {start: "09:00", end: "17:00"}} too
//!           - weekly: {start: "monday 09:00", end: "friday 17:00"}
//!         end: "2026-12-28T09:00"        # optional
//!     overrides:
//!       - {id: swap-1, user: bob, start: "2026-02-02T09:00:00+01:00", end: "2026-02-03T09:00:00Z"}
//! escalation_policies:
//!   - id: shop-urgent
//!     name: Shop urgent                  # default: the id
//!     repeat: 2                          # passes through the levels after the first
//!     ack_timeout: 30m                   # optional: still firing this long after an ack,
//!                                        # it pages again from the first level
//!     levels:
//!       - {delay: 10m, targets: [{schedule: shop-primary}]}
//!       - {delay: 15m, targets: [{user: alice}]}
//! ```
//!
//! Ids are unique per kind across the set. References (team members, layer users, override
//! users, targets, a team's or a receiver's `escalation_policy`) are checked once every document
//! is read, each reported at the id that names nothing.

use chrono::{DateTime, NaiveDateTime, NaiveTime, Utc, Weekday};
use headroom_oncall::{
    ContactMethod, Directory, EscalationLevel, EscalationPolicy, Layer, Override, OverrideId,
    PolicyId, Restriction, Schedule, ScheduleId, Target, Team, TeamId, TurnLength, User, UserId,
};

use crate::read::{At, Cx, Fields, did_you_mean, fields, list, string};
use crate::rules::{check_name, time_zone};
use crate::signals::http_url;
use crate::yaml::{Node, Pos, Value};

const USER: &[&str] = &["id", "name", "email", "time_zone", "contact_methods"];
const CONTACT: &[&str] = &["email", "slack", "webhook"];
const TEAM: &[&str] = &["id", "name", "members", "escalation_policy"];
const SCHEDULE: &[&str] = &["id", "name", "time_zone", "layers", "overrides"];
const LAYER: &[&str] = &[
    "name",
    "users",
    "turn",
    "rotation_start",
    "restrictions",
    "end",
];
const TURNS: &[&str] = &["days", "hours"];
const RESTRICTIONS: &[&str] = &["daily", "weekly"];
const OVERRIDE: &[&str] = &["id", "user", "start", "end"];
const POLICY: &[&str] = &["id", "name", "repeat", "ack_timeout", "levels"];
const LEVEL: &[&str] = &["delay", "targets"];
const TARGETS: &[&str] = &["user", "schedule"];
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// The kinds of things that have ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    User,
    Team,
    Schedule,
    Policy,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Team => "team",
            Kind::Schedule => "schedule",
            Kind::Policy => "escalation policy",
        }
    }
}

/// What the documents of a set declare, and every id they refer to.
#[derive(Default)]
pub(crate) struct Parts {
    users: Vec<User>,
    teams: Vec<Team>,
    schedules: Vec<Schedule>,
    policies: Vec<EscalationPolicy>,
    /// Every id declared, also by entries that failed to read, so a reference to them is not
    /// reported a second time as unknown.
    declared: Vec<(Kind, At<String>)>,
    refs: Vec<(Kind, At<String>)>,
}

impl Parts {
    /// Notes a reference to be checked once every document is read.
    pub fn refer(&mut self, kind: Kind, id: At<String>) {
        self.refs.push((kind, id));
    }

    /// Reads the required `id` of an entry and declares it; a second declaration is a problem.
    fn declare(&mut self, cx: &mut Cx, f: &Fields, kind: Kind) -> Option<At<String>> {
        let id = f.req_str(cx, "id")?;
        if !check_name(cx, &id, &format!("{} id", kind.name())) {
            return None;
        }
        let first = self
            .declared
            .iter()
            .find(|(k, d)| *k == kind && d.v == id.v);
        if let Some((_, first)) = first {
            let at = cx.source(first.pos);
            cx.err(
                id.pos,
                format!("{} {:?} is already defined at {at}", kind.name(), id.v),
            );
            return None;
        }
        self.declared.push((kind, id.clone()));
        Some(id)
    }
}

/// Reads the on-call keys of one native document into `parts`.
pub(crate) fn read(cx: &mut Cx, f: &Fields, parts: &mut Parts) {
    for item in f.list(cx, "users").unwrap_or_default() {
        if let Some(u) = user(cx, item, parts) {
            parts.users.push(u);
        }
    }
    for item in f.list(cx, "teams").unwrap_or_default() {
        if let Some(t) = team(cx, item, parts) {
            parts.teams.push(t);
        }
    }
    for item in f.list(cx, "schedules").unwrap_or_default() {
        if let Some(s) = schedule(cx, item, parts) {
            parts.schedules.push(s);
        }
    }
    for item in f.list(cx, "escalation_policies").unwrap_or_default() {
        if let Some(p) = policy(cx, item, parts) {
            parts.policies.push(p);
        }
    }
}

/// The set's directory, once every document (and every receiver) is read: each reference must
/// name something declared.
pub(crate) fn finish(cx: &mut Cx, parts: Parts) -> Directory {
    let mark = cx.mark();
    for (kind, id) in &parts.refs {
        let known = parts.declared.iter().filter(|(k, _)| k == kind);
        if known.clone().any(|(_, d)| d.v == id.v) {
            continue;
        }
        let hint = did_you_mean(&id.v, known.map(|(_, d)| d.v.as_str()))
            .map(|s| format!("; did you mean {s:?}?"))
            .unwrap_or_default();
        cx.err(id.pos, format!("unknown {} {:?}{hint}", kind.name(), id.v));
    }
    let directory = Directory {
        users: parts.users,
        teams: parts.teams,
        schedules: parts.schedules,
        escalation_policies: parts.policies,
    };
    // The checks above and in the readers cover what `validate` does, each at its position;
    // this catches whatever the model may come to require beyond them.
    if cx.clean_since(mark)
        && let Err(errors) = directory.validate()
    {
        let at = parts
            .declared
            .first()
            .map_or(Pos::default(), |(_, d)| d.pos);
        for e in errors {
            cx.err(at, e.to_string());
        }
    }
    directory
}

fn user(cx: &mut Cx, node: &Node, parts: &mut Parts) -> Option<User> {
    let f = fields(cx, node, "user", USER)?;
    let mark = cx.mark();
    let id = parts.declare(cx, &f, Kind::User);
    let name = f.req_str(cx, "name");
    let email = f.req_str(cx, "email").and_then(|e| email_address(cx, e));
    let tz = match f.str(cx, "time_zone") {
        Some(name) => time_zone(cx, &name),
        None => Some(chrono_tz::UTC),
    };
    let contact_methods: Vec<ContactMethod> = f
        .list(cx, "contact_methods")
        .unwrap_or_default()
        .iter()
        .filter_map(|n| contact_method(cx, n))
        .collect();
    cx.clean_since(mark).then_some(())?;
    Some(User {
        id: UserId(id?.v),
        name: name?.v,
        email: email?,
        time_zone: tz?,
        contact_methods,
    })
}

fn contact_method(cx: &mut Cx, node: &Node) -> Option<ContactMethod> {
    let (kind, value) = one_of(cx, node, "contact method", CONTACT)?;
    let value = string(cx, value, kind)?;
    match kind {
        "email" => email_address(cx, value).map(|address| ContactMethod::Email { address }),
        "slack" => http_url(cx, value).map(|webhook_url| ContactMethod::Slack { webhook_url }),
        _ => http_url(cx, value).map(|url| ContactMethod::Webhook { url }),
    }
}

/// `local@domain`: enough to catch a name or a URL given where an address belongs.
fn email_address(cx: &mut Cx, e: At<String>) -> Option<String> {
    let ok = e.v.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !domain.contains('@')
    }) && !e.v.contains(char::is_whitespace);
    if ok {
        Some(e.v)
    } else {
        cx.err(
            e.pos,
            format!(
                "email {:?} must be an address such as alice@example.com",
                e.v
            ),
        );
        None
    }
}

fn team(cx: &mut Cx, node: &Node, parts: &mut Parts) -> Option<Team> {
    let f = fields(cx, node, "team", TEAM)?;
    let mark = cx.mark();
    let id = parts.declare(cx, &f, Kind::Team);
    let name = f.str(cx, "name");
    let members = id_list(cx, &f, "members", Kind::User, false, parts);
    let escalation_policy = f.str(cx, "escalation_policy").map(|p| {
        parts.refer(Kind::Policy, p.clone());
        PolicyId(p.v)
    });
    cx.clean_since(mark).then_some(())?;
    let id = id?;
    Some(Team {
        name: name.map_or_else(|| id.v.clone(), |n| n.v),
        id: TeamId(id.v),
        members: members.into_iter().map(UserId).collect(),
        escalation_policy,
    })
}

/// A list of ids of one kind, each noted as a reference. Naming one twice is a problem unless
/// `repeats` (a rotation may give someone more turns than the others).
fn id_list(
    cx: &mut Cx,
    f: &Fields,
    key: &str,
    kind: Kind,
    repeats: bool,
    parts: &mut Parts,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in f.list(cx, key).unwrap_or_default() {
        let Some(id) = string(cx, n, key) else {
            continue;
        };
        if !repeats && out.contains(&id.v) {
            cx.err(id.pos, format!("{key}: {:?} is listed twice", id.v));
            continue;
        }
        parts.refer(kind, id.clone());
        out.push(id.v);
    }
    out
}

fn schedule(cx: &mut Cx, node: &Node, parts: &mut Parts) -> Option<Schedule> {
    let f = fields(cx, node, "schedule", SCHEDULE)?;
    let mark = cx.mark();
    let id = parts.declare(cx, &f, Kind::Schedule);
    let name = f.str(cx, "name");
    // Required: rotations hand off at local times, and a silent UTC would move every hand-off.
    let tz = f.req_str(cx, "time_zone").and_then(|n| time_zone(cx, &n));
    let mut layers = Vec::new();
    if let Some(list_node) = f.req(cx, "layers") {
        for (i, n) in list(cx, list_node, "layers")
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if let Some(l) = layer(cx, n, i, parts) {
                layers.push(l);
            }
        }
    }
    let mut overrides: Vec<At<Override>> = Vec::new();
    for n in f.list(cx, "overrides").unwrap_or_default() {
        let Some(o) = override_(cx, n, parts) else {
            continue;
        };
        if let Some(first) = overrides.iter().find(|p| p.v.id == o.v.id) {
            let at = cx.source(first.pos);
            cx.err(
                o.pos,
                format!("override {:?} is already defined at {at}", o.v.id.as_str()),
            );
        } else {
            overrides.push(o);
        }
    }
    cx.clean_since(mark).then_some(())?;
    let id = id?;
    Some(Schedule {
        name: name.map_or_else(|| id.v.clone(), |n| n.v),
        id: ScheduleId(id.v),
        time_zone: tz?,
        layers,
        overrides: overrides.into_iter().map(|o| o.v).collect(),
    })
}

fn layer(cx: &mut Cx, node: &Node, index: usize, parts: &mut Parts) -> Option<Layer> {
    let f = fields(cx, node, "layer", LAYER)?;
    let mark = cx.mark();
    let name = f.str(cx, "name");
    let users = id_list(cx, &f, "users", Kind::User, true, parts);
    match f.req(cx, "users") {
        Some(n)
            if users.is_empty() && matches!(&n.value, Value::Seq(items) if items.is_empty()) =>
        {
            cx.err(n.pos, "users is empty: a layer needs at least one user");
        }
        _ => {}
    }
    let turn = f.req(cx, "turn").and_then(|n| turn(cx, n));
    let rotation_start = f
        .req(cx, "rotation_start")
        .and_then(|n| local_time(cx, n, "rotation_start"));
    let restrictions: Vec<Restriction> = f
        .list(cx, "restrictions")
        .unwrap_or_default()
        .iter()
        .filter_map(|n| restriction(cx, n))
        .collect();
    let end = f.val("end").and_then(|n| local_time(cx, n, "end"));
    if let (Some(start), Some(end)) = (&rotation_start, &end)
        && end.v <= start.v
    {
        cx.err(
            end.pos,
            format!(
                "end {} is not after rotation_start {}: a layer must end after its rotation starts",
                end.v.format("%Y-%m-%dT%H:%M"),
                start.v.format("%Y-%m-%dT%H:%M")
            ),
        );
    }
    cx.clean_since(mark).then_some(())?;
    Some(Layer {
        name: name.map_or_else(|| format!("layer {}", index + 1), |n| n.v),
        users: users.into_iter().map(UserId).collect(),
        turn: turn?,
        rotation_start: rotation_start?.v,
        restrictions,
        end: end.map(|e| e.v),
    })
}

/// `daily`, `weekly`, `{days: n}` or `{hours: n}`.
fn turn(cx: &mut Cx, node: &Node) -> Option<TurnLength> {
    if let Some(s) = node.scalar_text() {
        return match s {
            "daily" => Some(TurnLength::Daily),
            "weekly" => Some(TurnLength::Weekly),
            other => {
                let hint = did_you_mean(other, ["daily", "weekly"])
                    .map(|s| format!("; did you mean {s:?}?"))
                    .unwrap_or_default();
                cx.err(
                    node.pos,
                    format!(
                        "unknown turn {other:?}: use daily, weekly, {{days: n}} or {{hours: n}}{hint}"
                    ),
                );
                None
            }
        };
    }
    let (kind, n) = one_of(cx, node, "turn", TURNS)?;
    let n = whole(cx, n, kind)?;
    if n.v == 0 {
        cx.err(
            n.pos,
            format!("{kind} must be at least 1: a turn cannot be empty"),
        );
        return None;
    }
    Some(match kind {
        "days" => TurnLength::Days(n.v),
        _ => TurnLength::Hours(n.v),
    })
}

/// A local date and time, `2026-01-05T09:00` (seconds optional), read in the schedule's zone.
fn local_time(cx: &mut Cx, node: &Node, what: &str) -> Option<At<NaiveDateTime>> {
    let s = string(cx, node, what)?;
    let parsed = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&s.v, f).ok());
    match parsed {
        Some(v) => Some(At { v, pos: s.pos }),
        None => {
            cx.err(
                s.pos,
                format!(
                    "{what} {:?} must be a local date and time such as 2026-01-05T09:00",
                    s.v
                ),
            );
            None
        }
    }
}

/// An instant in RFC 3339, offset included: `2026-02-02T09:00:00+01:00`.
fn instant(cx: &mut Cx, node: &Node, what: &str) -> Option<At<DateTime<Utc>>> {
    let s = string(cx, node, what)?;
    match DateTime::parse_from_rfc3339(&s.v) {
        Ok(t) => Some(At {
            v: t.with_timezone(&Utc),
            pos: s.pos,
        }),
        Err(_) => {
            cx.err(
                s.pos,
                format!(
                    "{what} {:?} must be an RFC 3339 time such as 2026-02-02T09:00:00+01:00",
                    s.v
                ),
            );
            None
        }
    }
}

fn restriction(cx: &mut Cx, node: &Node) -> Option<Restriction> {
    let (kind, body) = one_of(cx, node, "restriction", RESTRICTIONS)?;
    let r = fields(cx, body, kind, &["start", "end"])?;
    let (start, end) = (r.req_str(cx, "start"), r.req_str(cx, "end"));
    if kind == "daily" {
        let start = start.and_then(|s| clock(cx, &s, "start"));
        let end = end.and_then(|e| clock(cx, &e, "end"));
        return Some(Restriction::Daily {
            start: start?,
            end: end?,
        });
    }
    let start = start.and_then(|s| day_and_clock(cx, &s, "start"));
    let end = end.and_then(|e| day_and_clock(cx, &e, "end"));
    let ((start_day, start), (end_day, end)) = (start?, end?);
    Some(Restriction::Weekly {
        start_day,
        start,
        end_day,
        end,
    })
}

/// A local time of day, `09:00`.
fn clock(cx: &mut Cx, s: &At<String>, what: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(&s.v, "%H:%M")
        .map_err(|_| {
            cx.err(
                s.pos,
                format!("{what} {:?} must be a time of day such as 09:00", s.v),
            );
        })
        .ok()
}

/// A weekday and a local time of day, `monday 09:00`.
fn day_and_clock(cx: &mut Cx, s: &At<String>, what: &str) -> Option<(Weekday, NaiveTime)> {
    let (day, time) = s.v.split_once(' ').unwrap_or((&s.v, ""));
    let parsed = (
        day.parse::<Weekday>().ok(),
        NaiveTime::parse_from_str(time.trim(), "%H:%M").ok(),
    );
    if let (Some(d), Some(t)) = parsed {
        return Some((d, t));
    }
    let hint = match parsed.0 {
        None => did_you_mean(&day.to_ascii_lowercase(), WEEKDAYS)
            .map(|s| format!("; did you mean {s:?}?"))
            .unwrap_or_default(),
        Some(_) => String::new(),
    };
    cx.err(
        s.pos,
        format!(
            "{what} {:?} must be a weekday and a time of day such as monday 09:00{hint}",
            s.v
        ),
    );
    None
}

fn override_(cx: &mut Cx, node: &Node, parts: &mut Parts) -> Option<At<Override>> {
    let f = fields(cx, node, "override", OVERRIDE)?;
    let mark = cx.mark();
    let id = f.req_str(cx, "id");
    if let Some(id) = &id {
        check_name(cx, id, "override id");
    }
    let user = f.req_str(cx, "user");
    if let Some(u) = &user {
        parts.refer(Kind::User, u.clone());
    }
    let start = f.req(cx, "start").and_then(|n| instant(cx, n, "start"));
    let end = f.req(cx, "end").and_then(|n| instant(cx, n, "end"));
    if let (Some(start), Some(end)) = (&start, &end)
        && end.v <= start.v
    {
        cx.err(
            end.pos,
            format!(
                "end {} is not after start {}: an override must end after it starts",
                end.v.to_rfc3339(),
                start.v.to_rfc3339()
            ),
        );
    }
    cx.clean_since(mark).then_some(())?;
    Some(At {
        v: Override {
            id: OverrideId(id?.v),
            user: UserId(user?.v),
            start: start?.v,
            end: end?.v,
        },
        pos: node.pos,
    })
}

fn policy(cx: &mut Cx, node: &Node, parts: &mut Parts) -> Option<EscalationPolicy> {
    let f = fields(cx, node, "escalation policy", POLICY)?;
    let mark = cx.mark();
    let id = parts.declare(cx, &f, Kind::Policy);
    let name = f.str(cx, "name");
    let repeat = f
        .val("repeat")
        .map_or(Some(0), |n| whole(cx, n, "repeat").map(|r| r.v));
    let ack_timeout = f.span(cx, "ack_timeout");
    let mut levels = Vec::new();
    if let Some(list_node) = f.req(cx, "levels") {
        let items = list(cx, list_node, "levels").unwrap_or_default();
        for n in items {
            if let Some(l) = level(cx, n, parts) {
                levels.push(l);
            }
        }
        if matches!(&list_node.value, Value::Seq(items) if items.is_empty()) {
            cx.err(
                list_node.pos,
                "levels is empty: a policy needs at least one",
            );
        }
    }
    cx.clean_since(mark).then_some(())?;
    let id = id?;
    Some(EscalationPolicy {
        name: name.map_or_else(|| id.v.clone(), |n| n.v),
        id: PolicyId(id.v),
        levels,
        repeat: repeat?,
        ack_timeout: ack_timeout.map(|t| t.v),
    })
}

fn level(cx: &mut Cx, node: &Node, parts: &mut Parts) -> Option<EscalationLevel> {
    let f = fields(cx, node, "level", LEVEL)?;
    let mark = cx.mark();
    let delay = f.req_span(cx, "delay");
    let mut targets = Vec::new();
    if let Some(list_node) = f.req(cx, "targets") {
        for n in list(cx, list_node, "targets").unwrap_or_default() {
            let Some((kind, id)) = one_of(cx, n, "target", TARGETS) else {
                continue;
            };
            let Some(id) = string(cx, id, kind) else {
                continue;
            };
            if kind == "user" {
                parts.refer(Kind::User, id.clone());
                targets.push(Target::User(UserId(id.v)));
            } else {
                parts.refer(Kind::Schedule, id.clone());
                targets.push(Target::Schedule(ScheduleId(id.v)));
            }
        }
        if matches!(&list_node.value, Value::Seq(items) if items.is_empty()) {
            cx.err(
                list_node.pos,
                "targets is empty: a level needs at least one",
            );
        }
    }
    cx.clean_since(mark).then_some(())?;
    Some(EscalationLevel {
        targets,
        delay: delay?.v,
    })
}

/// A mapping holding exactly one of `kinds` (`{user: alice}`), as its kind and value.
pub(crate) fn one_of<'a>(
    cx: &mut Cx,
    node: &'a Node,
    what: &str,
    kinds: &[&str],
) -> Option<(&'a str, &'a Node)> {
    let mark = cx.mark();
    let f = fields(cx, node, what, kinds)?;
    let present: Vec<(&'a str, &'a Node)> = f
        .entries()
        .filter_map(|(k, v)| {
            let k = k.scalar_text()?;
            kinds.contains(&k).then_some((k, v))
        })
        .collect();
    let choices = match kinds {
        [init @ .., last] if !init.is_empty() => format!("{} or {last}", init.join(", ")),
        _ => kinds.join(""),
    };
    match present.as_slice() {
        [one] => Some(*one),
        [] => {
            // An unknown key was reported already, with its did-you-mean.
            if cx.clean_since(mark) {
                cx.err(f.pos, format!("a {what} needs one of {choices}"));
            }
            None
        }
        [_, (_, second), ..] => {
            cx.err(
                second.pos,
                format!("a {what} is one of {choices}, not several"),
            );
            None
        }
    }
}

/// A whole number from 0 up (a count, a number of days).
pub(crate) fn whole(cx: &mut Cx, node: &Node, what: &str) -> Option<At<u32>> {
    match node.value {
        Value::Int(i) if (0..=i64::from(u32::MAX)).contains(&i) => Some(At {
            v: i as u32,
            pos: node.pos,
        }),
        _ => {
            let found = node
                .scalar_text()
                .map_or_else(|| node.type_name().to_string(), |t| format!("{t:?}"));
            cx.err(
                node.pos,
                format!("{what} must be a whole number (0 or more), found {found}"),
            );
            None
        }
    }
}
