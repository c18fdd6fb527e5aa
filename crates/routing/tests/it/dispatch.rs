//! The dispatcher on a simulated clock: group timers, the dedup rules, `send_resolved`,
//! cleanup of resolved alerts, silences, inhibition, time intervals, multiple receivers,
//! `group_by: ['...']`, reload and restart.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use headroom_routing::alert::{Alert, PostableAlert};
use headroom_routing::dispatch::{
    ConfigError, DispatchConfig, Dispatcher, LogEntry, Notification, Receiver,
};
use headroom_routing::inhibit::InhibitRule;
use headroom_routing::interval::{NamedTimeInterval, TimeInterval, TimeRange};
use headroom_routing::label_set;
use headroom_routing::matcher::parse_matchers;
use headroom_routing::route::{GroupBy, Route};
use headroom_routing::silence::Silence;

const GROUP_WAIT: i64 = 30;
const GROUP_INTERVAL: i64 = 300;
const REPEAT_INTERVAL: i64 = 4 * 3600;
/// Long enough that no alert here resolves by timeout.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(30 * 24 * 3600);

/// Seconds after a fixed instant (10:00 UTC).
fn t(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).unwrap() + TimeDelta::seconds(s)
}

fn by(names: &[&str]) -> Option<GroupBy> {
    Some(GroupBy::Labels(
        names.iter().map(|s| s.to_string()).collect(),
    ))
}

fn root(receiver: &str, routes: Vec<Route>) -> Route {
    Route {
        receiver: Some(receiver.into()),
        group_by: by(&["alertname"]),
        group_wait: Some(Duration::from_secs(GROUP_WAIT as u64)),
        group_interval: Some(Duration::from_secs(GROUP_INTERVAL as u64)),
        repeat_interval: Some(Duration::from_secs(REPEAT_INTERVAL as u64)),
        routes,
        ..Route::default()
    }
}

fn child(matchers: &str, receiver: &str) -> Route {
    Route {
        receiver: Some(receiver.into()),
        matchers: parse_matchers(matchers).unwrap(),
        ..Route::default()
    }
}

fn config(route: Route) -> DispatchConfig {
    DispatchConfig::new(
        route,
        vec![Receiver::new("team", true), Receiver::new("pager", false)],
    )
}

fn dispatcher(route: Route) -> Dispatcher {
    Dispatcher::new(config(route), t(0)).unwrap()
}

/// An alert named `name` on `instance`, posted at `now` without times (firing).
fn fire(name: &str, instance: &str, now: DateTime<Utc>) -> Alert {
    posted(name, instance, None, None, now)
}

/// The same alert posted at `now` as resolved (`endsAt` = now).
fn resolve(name: &str, instance: &str, now: DateTime<Utc>) -> Alert {
    posted(name, instance, None, Some(now), now)
}

fn posted(
    name: &str,
    instance: &str,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Alert {
    PostableAlert {
        labels: label_set([("alertname", name), ("instance", instance), ("team", "db")]),
        starts_at,
        ends_at,
        ..PostableAlert::default()
    }
    .into_alert(now, RESOLVE_TIMEOUT)
    .unwrap()
}

/// Flushes every due group up to `until`, as a caller sleeping until `next_wakeup` would.
fn run(d: &mut Dispatcher, until: DateTime<Utc>, silences: &[Silence]) -> Vec<Notification> {
    let mut out = Vec::new();
    while let Some(due) = d.next_wakeup().filter(|due| *due <= until) {
        out.extend(d.flush_due(due, silences));
    }
    out
}

/// A notification as (receiver, flush second, [(instance, status)]).
type Seen = (String, i64, Vec<(String, String)>);

fn seen(ns: &[Notification]) -> Vec<Seen> {
    ns.iter()
        .map(|n| {
            let alerts = n
                .alerts
                .iter()
                .map(|a| (a.labels["instance"].clone(), a.status(n.at).to_string()))
                .collect();
            (n.receiver.clone(), (n.at - t(0)).num_seconds(), alerts)
        })
        .collect()
}

fn s(receiver: &str, at: i64, alerts: &[(&str, &str)]) -> Seen {
    (
        receiver.to_owned(),
        at,
        alerts
            .iter()
            .map(|(i, st)| (i.to_string(), st.to_string()))
            .collect(),
    )
}

#[test]
fn a_new_group_waits_group_wait_then_flushes() {
    let mut d = dispatcher(root("team", vec![]));
    d.receive(fire("DiskFull", "db1", t(0)), t(0));
    d.receive(fire("DiskFull", "db2", t(10)), t(10));
    assert_eq!(d.next_wakeup(), Some(t(GROUP_WAIT)));
    assert!(d.flush_due(t(GROUP_WAIT - 1), &[]).is_empty());
    let ns = d.flush_due(t(GROUP_WAIT), &[]);
    assert_eq!(
        seen(&ns),
        vec![s("team", 30, &[("db1", "firing"), ("db2", "firing")])]
    );
    let n = &ns[0];
    assert_eq!(n.group_key, r#"{}:{alertname="DiskFull"}"#);
    assert_eq!(n.route_key, "{}");
    assert_eq!(n.group_labels, label_set([("alertname", "DiskFull")]));
    // Firing alerts carry no end, as upstream sends them.
    assert!(n.alerts.iter().all(|a| a.ends_at.is_none()));
    assert_eq!(d.next_wakeup(), Some(t(GROUP_WAIT + GROUP_INTERVAL)));
}

#[test]
fn an_old_alert_flushes_a_new_group_at_once() {
    let mut d = dispatcher(root("team", vec![]));
    let old = posted("DiskFull", "db1", Some(t(-3600)), None, t(100));
    d.receive(old, t(100));
    assert_eq!(d.next_wakeup(), Some(t(100)));
    assert_eq!(
        seen(&d.flush_due(t(100), &[])),
        vec![s("team", 100, &[("db1", "firing")])]
    );

    // Exactly group_wait old is not "already past" (upstream compares strictly).
    let mut d = dispatcher(root("team", vec![]));
    d.receive(posted("X", "a", Some(t(70)), None, t(100)), t(100));
    assert_eq!(d.next_wakeup(), Some(t(100 + GROUP_WAIT)));

    // An old alert joining a group that already flushed waits for the next interval.
    let mut d = dispatcher(root("team", vec![]));
    d.receive(fire("DiskFull", "db1", t(0)), t(0));
    assert_eq!(run(&mut d, t(30), &[]).len(), 1);
    d.receive(
        posted("DiskFull", "db2", Some(t(-3600)), None, t(40)),
        t(40),
    );
    assert_eq!(d.next_wakeup(), Some(t(30 + GROUP_INTERVAL)));
}

#[test]
fn later_alerts_go_out_one_group_interval_after_the_last_flush() {
    let mut d = dispatcher(root("team", vec![]));
    d.receive(fire("DiskFull", "db1", t(0)), t(0));
    run(&mut d, t(30), &[]);
    d.receive(fire("DiskFull", "db2", t(60)), t(60));
    assert!(run(&mut d, t(329), &[]).is_empty());
    assert_eq!(
        seen(&run(&mut d, t(330), &[])),
        vec![s("team", 330, &[("db1", "firing"), ("db2", "firing")])]
    );
}

#[test]
fn nothing_new_is_repeated_only_after_repeat_interval() {
    let mut d = dispatcher(root("team", vec![]));
    d.receive(fire("DiskFull", "db1", t(0)), t(0));
    assert_eq!(run(&mut d, t(30), &[]).len(), 1);
    // Flushes at 330, 630, … find nothing new until the last send is older than 4 h.
    assert!(run(&mut d, t(30 + REPEAT_INTERVAL), &[]).is_empty());
    let ns = run(&mut d, t(30 + REPEAT_INTERVAL + GROUP_INTERVAL), &[]);
    assert_eq!(
        seen(&ns),
        vec![s(
            "team",
            30 + REPEAT_INTERVAL + GROUP_INTERVAL,
            &[("db1", "firing")]
        )]
    );
}

#[test]
fn a_resolved_alert_is_sent_with_send_resolved_and_then_dropped() {
    let mut d = dispatcher(root("team", vec![]));
    d.receive(fire("DiskFull", "db1", t(0)), t(0));
    d.receive(fire("DiskFull", "db2", t(0)), t(0));
    run(&mut d, t(30), &[]);
    d.receive(resolve("DiskFull", "db1", t(100)), t(100));
    let ns = run(&mut d, t(330), &[]);
    assert_eq!(
        seen(&ns),
        vec![s("team", 330, &[("db1", "resolved"), ("db2", "firing")])]
    );
    assert_eq!(ns[0].alerts[0].ends_at, Some(t(100)));
    // The resolved alert left the group; the firing one stays.
    let groups = d.groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].alerts.len(), 1);
    assert_eq!(groups[0].alerts[0].labels["instance"], "db2");

    d.receive(resolve("DiskFull", "db2", t(400)), t(400));
    assert_eq!(
        seen(&run(&mut d, t(630), &[])),
        vec![s("team", 630, &[("db2", "resolved")])]
    );
    assert_eq!(d.next_wakeup(), None);
    // The empty group goes at the next 30-second maintenance tick.
    assert_eq!(d.groups().len(), 1);
    assert!(d.flush_due(t(660), &[]).is_empty());
    assert!(d.groups().is_empty());
    // The book keeps resolved alerts until garbage collection.
    assert_eq!(d.alerts().len(), 2);
    assert_eq!(d.gc(t(660)).len(), 2);
    assert!(d.alerts().is_empty());
}

#[test]
fn without_send_resolved_only_firing_alerts_go_out() {
    let mut d = dispatcher(root("pager", vec![]));
    d.receive(fire("DiskFull", "db1", t(0)), t(0));
    d.receive(fire("DiskFull", "db2", t(0)), t(0));
    run(&mut d, t(30), &[]);
    // One resolves: nothing new fires, so nothing is sent.
    d.receive(resolve("DiskFull", "db1", t(100)), t(100));
    assert!(run(&mut d, t(330), &[]).is_empty());
    // A new firing alert: sent without the resolved one.
    d.receive(resolve("DiskFull", "db2", t(400)), t(400));
    d.receive(fire("DiskFull", "db3", t(400)), t(400));
    assert_eq!(
        seen(&run(&mut d, t(630), &[])),
        vec![s("pager", 630, &[("db3", "firing")])]
    );
    // All resolved: logged (so a later firing is news) but not sent.
    d.receive(resolve("DiskFull", "db3", t(700)), t(700));
    assert!(run(&mut d, t(930), &[]).is_empty());
    let key = r#"{}:{alertname="DiskFull"}"#;
    let entry = d.notification_log().get("pager", key).unwrap();
    assert!(entry.firing.is_empty());
    assert_eq!(entry.resolved.len(), 1);
    assert_eq!(entry.at, t(930));
    d.receive(fire("DiskFull", "db3", t(1000)), t(1000));
    assert_eq!(
        seen(&run(&mut d, t(1000 + GROUP_WAIT), &[])),
        vec![s("pager", 1030, &[("db3", "firing")])]
    );
}

#[test]
fn alerts_that_fired_and_resolved_unseen_are_not_sent() {
    let mut d = dispatcher(root("team", vec![]));
    // Resolved before the first flush: the receiver never heard of it.
    d.receive(fire("DiskFull", "db1", t(0)), t(0));
    d.receive(resolve("DiskFull", "db1", t(10)), t(10));
    assert!(run(&mut d, t(30), &[]).is_empty());
    assert!(d.notification_log().entries().next().is_none());
    assert_eq!(d.next_wakeup(), None);
}

#[test]
fn silenced_alerts_are_held_back_until_the_silence_ends() {
    let mut d = dispatcher(root("team", vec![]));
    let silence = Silence {
        id: "s1".into(),
        matchers: parse_matchers(r#"instance="db1""#).unwrap(),
        starts_at: t(0),
        ends_at: t(200),
        created_by: "oncall".into(),
        comment: "maintenance".into(),
    };
    d.receive(fire("DiskFull", "db1", t(0)), t(0));
    d.receive(fire("DiskFull", "db2", t(0)), t(0));
    let silences = [silence];
    assert_eq!(
        seen(&run(&mut d, t(30), &silences)),
        vec![s("team", 30, &[("db2", "firing")])]
    );
    // Once expired, db1 is news.
    assert_eq!(
        seen(&run(&mut d, t(330), &silences)),
        vec![s("team", 330, &[("db1", "firing"), ("db2", "firing")])]
    );
}

#[test]
fn inhibition_follows_the_firing_source() {
    let mut route = root("team", vec![]);
    route.group_by = by(&["alertname", "severity"]);
    let mut cfg = config(route);
    cfg.inhibit_rules = vec![InhibitRule {
        source_matchers: parse_matchers(r#"alertname="NodeDown""#).unwrap(),
        target_matchers: parse_matchers(r#"alertname="DiskFull""#).unwrap(),
        equal: vec!["instance".into()],
    }];
    let mut d = Dispatcher::new(cfg, t(0)).unwrap();
    d.receive(fire("NodeDown", "db1", t(0)), t(0));
    d.receive(fire("DiskFull", "db1", t(0)), t(0));
    d.receive(fire("DiskFull", "db2", t(0)), t(0));
    let ns = run(&mut d, t(30), &[]);
    let keys: Vec<&str> = ns.iter().map(|n| n.group_key.as_str()).collect();
    assert_eq!(
        keys,
        [
            r#"{}:{alertname="NodeDown"}"#,
            r#"{}:{alertname="DiskFull"}"#
        ]
    );
    assert_eq!(seen(&ns)[1], s("team", 30, &[("db2", "firing")]));
    // The source resolves: the target is news at the next flush.
    d.receive(resolve("NodeDown", "db1", t(100)), t(100));
    let ns = run(&mut d, t(330), &[]);
    let disk = ns
        .iter()
        .find(|n| n.group_key.contains("DiskFull"))
        .unwrap();
    assert_eq!(
        seen(std::slice::from_ref(disk)),
        vec![s("team", 330, &[("db1", "firing"), ("db2", "firing")])]
    );
}

fn office_hours() -> NamedTimeInterval {
    NamedTimeInterval {
        name: "office".into(),
        intervals: vec![TimeInterval {
            times: vec![TimeRange::parse("09:00", "17:00").unwrap()],
            ..TimeInterval::default()
        }],
    }
}

#[test]
fn a_mute_time_interval_holds_notifications_back() {
    // 10:00 is inside office hours, so the route is muted until 17:00.
    let mut route = root("team", vec![child(r#"team="db""#, "team")]);
    route.routes[0].mute_time_intervals = vec!["office".into()];
    let mut cfg = config(route);
    cfg.time_intervals = vec![office_hours()];
    let mut d = Dispatcher::new(cfg, t(0)).unwrap();
    d.receive(fire("DiskFull", "db1", t(0)), t(0));
    assert!(run(&mut d, t(7 * 3600 - 1), &[]).is_empty());
    // Muted flushes record nothing.
    assert!(d.notification_log().entries().next().is_none());
    let ns = run(&mut d, t(7 * 3600 + GROUP_INTERVAL), &[]);
    assert_eq!(ns.len(), 1);
    assert!(ns[0].at >= t(7 * 3600));
    assert!(ns[0].at < t(7 * 3600 + GROUP_INTERVAL));
}

#[test]
fn an_active_time_interval_lets_notifications_through_only_inside() {
    let mut route = root("team", vec![child(r#"team="db""#, "team")]);
    route.routes[0].active_time_intervals = vec!["office".into()];
    let mut cfg = config(route);
    cfg.time_intervals = vec![office_hours()];
    let mut d = Dispatcher::new(cfg.clone(), t(0)).unwrap();
    d.receive(fire("DiskFull", "db1", t(0)), t(0));
    assert_eq!(
        seen(&run(&mut d, t(30), &[])),
        vec![s("team", 30, &[("db1", "firing")])]
    );

    // 18:00 is outside: nothing until 09:00 the next day.
    let evening = 8 * 3600;
    let mut d = Dispatcher::new(cfg, t(evening)).unwrap();
    d.receive(fire("DiskFull", "db1", t(evening)), t(evening));
    assert!(run(&mut d, t(23 * 3600 - 1), &[]).is_empty());
    let ns = run(&mut d, t(23 * 3600 + GROUP_INTERVAL), &[]);
    assert_eq!(ns.len(), 1);
    assert!(ns[0].at >= t(23 * 3600));
}

#[test]
fn continue_sends_to_every_matching_route() {
    let mut first = child(r#"team="db""#, "pager");
    first.continue_ = true;
    let second = child(r#"instance=~"db.*""#, "team");
    let mut d = dispatcher(root("team", vec![first, second]));
    d.receive(fire("DiskFull", "db1", t(0)), t(0));
    let ns = run(&mut d, t(30), &[]);
    let routed: Vec<(&str, &str)> = ns
        .iter()
        .map(|n| (n.receiver.as_str(), n.group_key.as_str()))
        .collect();
    assert_eq!(
        routed,
        [
            ("pager", r#"{}/{team="db"}:{alertname="DiskFull"}"#),
            ("team", r#"{}/{instance=~"db.*"}:{alertname="DiskFull"}"#),
        ]
    );
}

#[test]
fn group_by_all_labels_makes_one_group_per_alert() {
    let mut all = child(r#"team="db""#, "team");
    all.group_by = Some(GroupBy::All);
    let mut d = dispatcher(root("team", vec![all]));
    d.receive(fire("DiskFull", "db1", t(0)), t(0));
    d.receive(fire("DiskFull", "db2", t(0)), t(0));
    let ns = run(&mut d, t(30), &[]);
    let keys: Vec<&str> = ns.iter().map(|n| n.group_key.as_str()).collect();
    assert_eq!(
        keys,
        [
            r#"{}/{team="db"}:{alertname="DiskFull", instance="db1", team="db"}"#,
            r#"{}/{team="db"}:{alertname="DiskFull", instance="db2", team="db"}"#,
        ]
    );
    assert!(ns.iter().all(|n| n.alerts.len() == 1));
}

#[test]
fn an_emptied_group_keeps_its_rhythm_until_maintenance_removes_it() {
    let mut d = dispatcher(root("team", vec![]));
    d.receive(fire("DiskFull", "db1", t(0)), t(0));
    run(&mut d, t(30), &[]);
    d.receive(resolve("DiskFull", "db1", t(31)), t(31));
    assert_eq!(run(&mut d, t(330), &[]).len(), 1);
    // Emptied at 330; maintenance at 360 has not come yet at 335: the alert joins the old
    // group, which has flushed, so it waits for the group's next tick at 630.
    d.receive(fire("DiskFull", "db2", t(335)), t(335));
    assert_eq!(d.next_wakeup(), Some(t(630)));

    // Past a maintenance tick the group is gone and a new one waits group_wait.
    let mut d = dispatcher(root("team", vec![]));
    d.receive(fire("DiskFull", "db1", t(0)), t(0));
    run(&mut d, t(30), &[]);
    d.receive(resolve("DiskFull", "db1", t(31)), t(31));
    run(&mut d, t(330), &[]);
    d.receive(fire("DiskFull", "db2", t(365)), t(365));
    assert_eq!(d.next_wakeup(), Some(t(365 + GROUP_WAIT)));
}

#[test]
fn alerts_are_ordered_by_job_then_instance_then_labels() {
    let mut d = dispatcher(root("team", vec![]));
    let alert = |pairs: &[(&str, &str)]| {
        let mut labels = label_set([("alertname", "A")]);
        labels.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        PostableAlert {
            labels,
            ..PostableAlert::default()
        }
        .into_alert(t(0), RESOLVE_TIMEOUT)
        .unwrap()
    };
    for pairs in [
        vec![("instance", "b")],
        vec![("zone", "z")],
        vec![("job", "api"), ("instance", "b")],
        vec![("instance", "a"), ("zone", "y")],
        vec![("job", "api"), ("instance", "a")],
        vec![("job", "web")],
        vec![("aaa", "1")],
    ] {
        d.receive(alert(&pairs), t(0));
    }
    let ns = run(&mut d, t(30), &[]);
    let order: Vec<Vec<(String, String)>> = ns[0]
        .alerts
        .iter()
        .map(|a| {
            a.labels
                .iter()
                .filter(|(k, _)| *k != "alertname")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .collect();
    let want: Vec<Vec<(String, String)>> = [
        vec![("instance", "a"), ("job", "api")],
        vec![("instance", "b"), ("job", "api")],
        vec![("job", "web")],
        vec![("instance", "a"), ("zone", "y")],
        vec![("instance", "b")],
        // Without job or instance: fewer labels first, then at the first name (over both
        // sets) that one lacks, the one lacking it first.
        vec![("zone", "z")],
        vec![("aaa", "1")],
    ]
    .iter()
    .map(|v| {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
    .collect();
    assert_eq!(order, want);
}

#[test]
fn reload_rebuilds_groups_without_sending_twice() {
    let mut d = dispatcher(root("team", vec![]));
    d.receive(fire("DiskFull", "db1", t(0)), t(0));
    assert_eq!(run(&mut d, t(30), &[]).len(), 1);
    // A new tree sends DiskFull to the pager under a new route key.
    let new = root("team", vec![child(r#"alertname="DiskFull""#, "pager")]);
    d.reload(config(new), t(100)).unwrap();
    // The alert is older than group_wait, so its fresh group flushes at once.
    assert_eq!(d.next_wakeup(), Some(t(100)));
    let ns = run(&mut d, t(100), &[]);
    assert_eq!(seen(&ns), vec![s("pager", 100, &[("db1", "firing")])]);
    assert_eq!(
        ns[0].group_key,
        r#"{}/{alertname="DiskFull"}:{alertname="DiskFull"}"#
    );

    // Reloading the same tree again: the log knows the group, nothing is repeated.
    let same = root("team", vec![child(r#"alertname="DiskFull""#, "pager")]);
    d.reload(config(same), t(200)).unwrap();
    assert!(run(&mut d, t(200 + GROUP_INTERVAL * 3), &[]).is_empty());

    // A refused configuration changes nothing.
    let bad = root("nobody", vec![]);
    assert_eq!(
        d.reload(config(bad), t(300)).unwrap_err(),
        ConfigError::UndefinedReceiver("nobody".into())
    );
    assert_eq!(d.config().route.routes.len(), 1);
}

#[test]
fn a_restored_log_prevents_repeats_after_a_restart() {
    let mut d = dispatcher(root("team", vec![]));
    d.receive(fire("DiskFull", "db1", t(0)), t(0));
    run(&mut d, t(30), &[]);
    let saved: Vec<LogEntry> = d.notification_log().entries().cloned().collect();
    let alerts: Vec<Alert> = d.alerts().iter().cloned().collect();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].at, t(30));
    assert_eq!(saved[0].expires_at, t(30) + TimeDelta::hours(120));

    let restart = |restore: bool| {
        let mut d = Dispatcher::new(config(root("team", vec![])), t(1000)).unwrap();
        if restore {
            d.restore_notification_log(saved.clone());
        }
        for a in &alerts {
            d.receive(a.clone(), t(1000));
        }
        run(&mut d, t(2000), &[])
    };
    assert!(restart(true).is_empty());
    assert_eq!(
        seen(&restart(false)),
        vec![s("team", 1000, &[("db1", "firing")])]
    );
}

#[test]
fn log_entries_expire_after_the_retention() {
    let mut d = dispatcher(root("team", vec![]));
    d.receive(fire("DiskFull", "db1", t(0)), t(0));
    run(&mut d, t(30), &[]);
    d.gc(t(30) + TimeDelta::hours(120));
    assert_eq!(d.notification_log().entries().count(), 1);
    d.gc(t(31) + TimeDelta::hours(120));
    assert_eq!(d.notification_log().entries().count(), 0);
}

#[test]
fn configurations_are_checked_as_upstream_checks_them() {
    let check = |cfg: DispatchConfig| Dispatcher::new(cfg, t(0)).unwrap_err().to_string();
    let mut no_receiver = root("team", vec![]);
    no_receiver.receiver = None;
    assert_eq!(
        check(config(no_receiver)),
        "root route must specify a default receiver"
    );
    let mut matchers = root("team", vec![]);
    matchers.matchers = parse_matchers("a=b").unwrap();
    assert_eq!(
        check(config(matchers)),
        "root route must not have any matchers"
    );
    let undefined = root("team", vec![child("a=b", "ghost")]);
    assert_eq!(
        check(config(undefined)),
        r#"undefined receiver "ghost" used in route"#
    );
    let mut interval = root("team", vec![child("a=b", "team")]);
    interval.routes[0].mute_time_intervals = vec!["weekend".into()];
    assert_eq!(
        check(config(interval)),
        r#"undefined time interval "weekend" used in route"#
    );
    let mut zero = root("team", vec![child("a=b", "team")]);
    zero.routes[0].group_interval = Some(Duration::ZERO);
    assert_eq!(check(config(zero)), "group_interval cannot be zero");
    let mut zero = root("team", vec![]);
    zero.repeat_interval = Some(Duration::ZERO);
    assert_eq!(check(config(zero)), "repeat_interval cannot be zero");
    let mut dup = config(root("team", vec![]));
    dup.receivers.push(Receiver::new("team", false));
    assert_eq!(
        check(dup),
        r#"notification config name "team" is not unique"#
    );
}

#[test]
fn post_fills_times_with_the_configured_resolve_timeout_and_refuses_invalid_alerts() {
    let mut d = dispatcher(root("team", vec![]));
    let fp = d
        .post(
            PostableAlert {
                labels: label_set([("alertname", "DiskFull")]),
                ..PostableAlert::default()
            },
            t(10),
        )
        .unwrap();
    let stored = d.alerts().get(fp).unwrap();
    // DispatchConfig::new uses upstream's default resolve_timeout of 5 minutes.
    assert_eq!(stored.ends_at, Some(t(10 + 300)));
    assert!(stored.timeout);
    assert_eq!(d.next_wakeup(), Some(t(10 + GROUP_WAIT)));

    let refused = d.post(
        PostableAlert {
            labels: label_set([("bad-name", "x")]),
            ..PostableAlert::default()
        },
        t(10),
    );
    assert_eq!(
        refused.unwrap_err().to_string(),
        r#"invalid label set: invalid name "bad-name""#
    );
    assert_eq!(d.alerts().len(), 1);
    assert_eq!(d.groups().len(), 1);
}

#[test]
fn an_alert_that_times_out_is_sent_resolved() {
    let mut d = dispatcher(root("team", vec![]));
    d.post(
        PostableAlert {
            labels: label_set([("alertname", "DiskFull"), ("instance", "db1")]),
            ..PostableAlert::default()
        },
        t(0),
    )
    .unwrap();
    assert_eq!(
        seen(&run(&mut d, t(30), &[])),
        vec![s("team", 30, &[("db1", "firing")])]
    );
    // Never updated: resolved by resolve_timeout at 300, reported at the flush after.
    let ns = run(&mut d, t(330), &[]);
    assert_eq!(seen(&ns), vec![s("team", 330, &[("db1", "resolved")])]);
    assert_eq!(ns[0].alerts[0].ends_at, Some(t(300)));
}

#[test]
fn growth_counts_new_alerts_and_groups_without_changing_anything() {
    let mut d = dispatcher(root("team", vec![child("instance=\"a\"", "pager")]));
    d.receive(fire("Disk", "a", t(0)), t(0));
    // Disk/a is in two groups already (root's continue is off, so only the child's); root
    // groups by alertname.
    let before = d.size();
    let batch = [
        fire("Disk", "a", t(1)), // known alert, known group
        fire("Disk", "b", t(1)), // new alert, new group under root (Disk)
        fire("Cpu", "b", t(1)),  // new alert, new group (Cpu)
        fire("Cpu", "c", t(1)),  // new alert, same new group as the one before
    ];
    assert_eq!(
        d.growth(&batch),
        headroom_routing::dispatch::Growth {
            alerts: 3,
            groups: 2
        }
    );
    assert_eq!(d.size(), before, "growth changes nothing");
    for a in batch {
        d.receive(a, t(1));
    }
    assert_eq!(d.size().alerts, before.alerts + 3);
    assert_eq!(d.size().groups, before.groups + 2);
}

#[test]
fn one_flush_sends_a_receiver_at_most_max_notifications() {
    use headroom_routing::dispatch::bound_per_receiver;
    // Grouped by instance: 50 alerts make 50 groups for `team`, one for `pager`.
    let mut route = root("team", vec![child("instance=\"pg\"", "pager")]);
    route.group_by = by(&["instance"]);
    let mut d = dispatcher(route);
    for i in 0..50 {
        d.receive(fire("Disk", &format!("db{i}"), t(0)), t(0));
    }
    d.receive(fire("Disk", "pg", t(0)), t(0));
    let flushed = run(&mut d, t(GROUP_WAIT), &[]);
    assert_eq!(flushed.len(), 51);

    let bounded = bound_per_receiver(flushed.clone(), 10);
    let team: Vec<&Notification> = bounded.iter().filter(|n| n.receiver == "team").collect();
    assert_eq!(team.len(), 10);
    let overflow = team.last().unwrap();
    assert_eq!(overflow.group_key, "team/overflow");
    assert_eq!(
        overflow.alerts.len(),
        41,
        "the 41 groups past the first 9 in one message"
    );
    let delivered: usize = team.iter().map(|n| n.alerts.len()).sum();
    assert_eq!(delivered, 50, "no alert is dropped");
    assert_eq!(
        bounded.iter().filter(|n| n.receiver == "pager").count(),
        1,
        "a receiver under the bound is untouched"
    );
    assert_eq!(bound_per_receiver(flushed.clone(), 51), flushed);
}
