//! Backtest scenarios that pin down alert timing and budget figures against hand calculations.
//!
//! Every scenario is per-minute data generated in memory. Each event is stamped at the start of
//! the minute it describes, and the backtest evaluates at every minute boundary after ingesting
//! that minute's event. An evaluation at `now` uses windows ending at the end of the bucket that
//! holds `now`, so at minute boundary `S + j` a window already holds the `j + 1` minutes
//! `S ..= S + j`.

use std::collections::BTreeMap;

use chrono::TimeZone;
use headroom_core::{
    AlertPolicy, AlertState, AlertTransition, BudgetingMethod, CalendarUnit, NoDataRule, Objective,
    RulesSpec, Sli, Slo, SourceRef, Span, Timestamp, Window,
};
use headroom_engine::backtest::{self, Report, Summary};
use headroom_ingest::{Event, RecordedEvent};

const MIN: i64 = 60_000;
/// 2026-01-05 00:00 UTC: a day (and hour) boundary, so hourly buckets line up with our minutes.
const T0: i64 = 1_767_571_200_000;

fn slo(id: &str, objective: f64, window: Window, budgeting: BudgetingMethod) -> Slo {
    Slo {
        id: id.into(),
        service: "svc".to_string(),
        name: id.to_string(),
        description: None,
        objective: Objective::new(objective).unwrap(),
        window,
        budgeting,
        sli: Sli::Events,
        grouping: Vec::new(),
        alerting: AlertPolicy::none(),
        labels: BTreeMap::new(),
        backend: None,
        rules: RulesSpec::new(id, "svc", id),
        source: SourceRef::default(),
    }
}

/// A 99.9%, rolling 30-day, Occurrences SLO with Sloth's default (SRE Workbook) policy.
fn slo_30d(id: &str) -> Slo {
    let mut s = slo(
        id,
        0.999,
        Window::Rolling {
            length: Span::days(30),
        },
        BudgetingMethod::Occurrences,
    );
    s.alerting = AlertPolicy::sloth_default(Span::days(30));
    s
}

fn event_at(slo: &str, at: Timestamp, good: f64, total: f64) -> RecordedEvent {
    RecordedEvent {
        slo: slo.to_string(),
        event: Event {
            at,
            good,
            total,
            labels: BTreeMap::new(),
        },
    }
}

/// One event at minute `m` after `T0`.
fn ev(slo: &str, m: i64, good: f64, total: f64) -> RecordedEvent {
    event_at(slo, Timestamp(T0 + m * MIN), good, total)
}

/// Minutes after `T0` of every transition of `severity` to `to`.
fn minutes(report: &Report, severity: &str, to: AlertState) -> Vec<i64> {
    report
        .transitions
        .iter()
        .filter(|t| t.severity == severity && t.to == to)
        .map(|t| (t.at.millis() - T0) / MIN)
        .collect()
}

fn summary<'a>(report: &'a Report, slo: &str, group: &str) -> &'a Summary {
    report
        .summary
        .iter()
        .find(|s| s.slo == slo && s.group == group)
        .unwrap_or_else(|| panic!("no summary row for {slo:?}/{group:?}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

macro_rules! assert_close {
    ($a:expr, $b:expr) => {{
        let (a, b): (f64, f64) = ($a, $b);
        assert!(close(a, b), "{} = {a}, expected {b}", stringify!($a));
    }};
}

// ---------------------------------------------------------------------------------------------
// Multi-window multi-burn-rate timing against the SRE Workbook formula.
// ---------------------------------------------------------------------------------------------

/// One burn condition of the Workbook policy for a 30-day period, with its factor as an exact
/// fraction `num / den` so the predictions below are integer arithmetic.
#[derive(Clone, Copy, Debug)]
struct Cond {
    long: i64,
    short: i64,
    num: i64,
    den: i64,
}

/// Page: 2% of the budget in 1h (14.4 = 72/5, short 5m), 5% in 6h (6, short 30m).
const PAGE: [Cond; 2] = [
    Cond {
        long: 60,
        short: 5,
        num: 72,
        den: 5,
    },
    Cond {
        long: 360,
        short: 30,
        num: 6,
        den: 1,
    },
];
/// Ticket: 10% in 1d (3, short 2h), 10% in 3d (1, short 6h).
const TICKET: [Cond; 2] = [
    Cond {
        long: 1440,
        short: 120,
        num: 3,
        den: 1,
    },
    Cond {
        long: 4320,
        short: 360,
        num: 1,
        den: 1,
    },
];

/// Events per minute in the burn scenarios: error rate e = bad / 1000.
const RATE: i64 = 1000;
/// Clean minutes before the outage: three days, so that even the 3d window is full of clean traffic
/// when the outage starts (the formula assumes full windows; a part-filled window has fewer good
/// events and would detect earlier).
const CLEAN: i64 = 3 * 1440;

/// The Workbook's time to detect, in minutes: factor × window × (1 − objective) ÷ error rate.
/// With the budget 1/1000 and e = bad/1000 that is `factor × window / bad`, here as an exact
/// fraction (numerator, denominator).
fn detect_time(window: i64, c: Cond, bad: i64) -> (i64, i64) {
    (c.num * window, c.den * bad)
}

/// The minute (after the outage starts) at which a condition first holds, or `None` when the error
/// rate never exceeds `factor × (1 − objective)`.
///
/// Rounding: at minute `S + j` a window holds `j + 1` bad minutes (see the module comment), and the
/// rule compares strictly (`error ratio > factor × budget`, as Sloth's rules do). So the window is
/// over its threshold once `j + 1 > t`, t the formula's time: `j = floor(t)`. When t is a whole
/// number of minutes the ratio equals the threshold at `j = t − 1`, which does not count.
/// The condition holds when both windows are over, so it is the later of the two detections (for a
/// constant error rate that is always the long window's).
fn condition_fires(c: Cond, bad: i64) -> Option<i64> {
    if bad * c.den <= c.num {
        return None;
    }
    let floor = |(n, d): (i64, i64)| n / d;
    let long = floor(detect_time(c.long, c, bad));
    let short = floor(detect_time(c.short, c, bad));
    Some(long.max(short))
}

fn tier_fires(tier: &[Cond], bad: i64) -> Option<i64> {
    tier.iter().filter_map(|c| condition_fires(*c, bad)).min()
}

/// Bad minutes inside the window of `len` minutes evaluated at minute `t`, for an outage over the
/// minutes `[start, end)`.
fn bad_minutes(len: i64, t: i64, start: i64, end: i64) -> i64 {
    let (from, to) = (t + 1 - len, t + 1);
    (to.min(end) - from.max(start)).max(0)
}

/// After the outage stops at minute `end` (the first clean minute), a tier resolves once none of
/// its conditions holds. A window of `w` minutes that was over at the end still holds
/// `w − 1 − j` bad minutes at `end + j` (once that is fewer than the outage's length), and is over
/// while that exceeds `t = factor × w / bad`: it drops at `j = w − 1 − floor(t)`. A condition stops
/// holding when the first of its two windows drops (for a short outage that can be the long one),
/// and the tier resolves when the last condition that held at the end stops.
fn tier_resolves(tier: &[Cond], bad: i64, start: i64, end: i64) -> Option<i64> {
    let over_at =
        |w: i64, c: &Cond, t: i64| bad_minutes(w, t, start, end) * bad * c.den > c.num * w;
    let drop = |w: i64, c: &Cond| {
        let (n, d) = detect_time(w, *c, bad);
        w - 1 - n / d
    };
    tier.iter()
        .filter(|c| over_at(c.long, c, end - 1) && over_at(c.short, c, end - 1))
        .map(|c| end + drop(c.short, c).min(drop(c.long, c)))
        .max()
}

/// Clean traffic for `CLEAN` minutes, `bad` of every 1000 events failing for `outage` minutes, then
/// clean again for `after` minutes.
fn outage(id: &str, bad: i64, outage: i64, after: i64) -> Vec<RecordedEvent> {
    (0..CLEAN + outage + after)
        .map(|m| {
            let failing = (CLEAN..CLEAN + outage).contains(&m);
            let b = if failing { bad } else { 0 };
            ev(id, m, (RATE - b) as f64, RATE as f64)
        })
        .collect()
}

struct Timing {
    page_fire: Option<i64>,
    page_resolve: Option<i64>,
    ticket_fire: Option<i64>,
    ticket_resolve: Option<i64>,
}

/// Runs an outage of `bad` per mille long enough for every tier that can fire to fire, and
/// returns the observed transition minutes relative to the outage start.
fn observe(bad: i64) -> (Timing, i64, Report) {
    let last_fire = [tier_fires(&PAGE, bad), tier_fires(&TICKET, bad)]
        .into_iter()
        .flatten()
        .max()
        .expect("scenario fires something");
    // Longer than the longest short window, so every short window is full of errors at the end.
    let len = (last_fire + 60).max(400);
    let report = backtest::run(vec![slo_30d("api")], outage("api", bad, len, 400)).unwrap();
    let one = |sev: &str, to: AlertState| {
        let v = minutes(&report, sev, to);
        assert!(v.len() <= 1, "{sev} went {to:?} more than once: {v:?}");
        v.first().map(|m| m - CLEAN)
    };
    let t = Timing {
        page_fire: one("page", AlertState::Firing),
        page_resolve: one("page", AlertState::Resolved),
        ticket_fire: one("ticket", AlertState::Firing),
        ticket_resolve: one("ticket", AlertState::Resolved),
    };
    (t, len, report)
}

fn check_formula(bad: i64) {
    let (t, len, _) = observe(bad);
    assert_eq!(t.page_fire, tier_fires(&PAGE, bad), "page firing, e={bad}‰");
    assert_eq!(
        t.ticket_fire,
        tier_fires(&TICKET, bad),
        "ticket firing, e={bad}‰"
    );
    assert_eq!(
        t.page_resolve,
        tier_resolves(&PAGE, bad, 0, len),
        "page resolved, e={bad}‰"
    );
    assert_eq!(
        t.ticket_resolve,
        tier_resolves(&TICKET, bad, 0, len),
        "ticket resolved, e={bad}‰"
    );
}

#[test]
fn policy_factors_are_the_fractions_the_predictions_use() {
    let policy = AlertPolicy::sloth_default(Span::days(30));
    for (tier, conds) in policy.tiers.iter().zip([PAGE, TICKET]) {
        for (c, want) in tier.conditions.iter().zip(conds) {
            assert_eq!(c.long, Span::minutes(want.long));
            assert_eq!(c.short, Span::minutes(want.short));
            assert_close!(c.factor, want.num as f64 / want.den as f64);
        }
    }
}

#[test]
fn total_outage_pages_within_a_minute() {
    // e = 100%: page 1h/5m at 14.4 × 60 × 0.001 / 1 = 0.864 min → the outage's first minute;
    // ticket 1d at 3 × 1440 × 0.001 = 4.32 min → minute 4.
    assert_eq!(tier_fires(&PAGE, 1000), Some(0));
    assert_eq!(tier_fires(&TICKET, 1000), Some(4));
    check_formula(1000);
}

#[test]
fn ten_percent_errors_detect_per_formula() {
    // 14.4 × 60 × 0.001 / 0.1 = 8.64 min; ticket 3 × 1440 × 0.001 / 0.1 = 43.2 min.
    assert_eq!(tier_fires(&PAGE, 100), Some(8));
    assert_eq!(tier_fires(&TICKET, 100), Some(43));
    check_formula(100);
}

#[test]
fn two_percent_errors_detect_per_formula() {
    // 14.4 × 60 × 0.001 / 0.02 = 43.2 min; ticket 3 × 1440 × 0.001 / 0.02 = 216 min exactly, so
    // at minute 215 the 1d ratio equals the threshold (not over) and the ticket fires at 216.
    assert_eq!(tier_fires(&PAGE, 20), Some(43));
    assert_eq!(tier_fires(&TICKET, 20), Some(216));
    check_formula(20);
}

#[test]
fn one_percent_errors_page_through_the_slow_window_first() {
    // 1% is below 14.4 × 0.1%: the 1h/5m condition can never hold. The 6h/30m condition at 6×
    // fires at 6 × 360 × 0.001 / 0.01 = 216 min; the ticket at 3 × 1440 × 0.001 / 0.01 = 432 min.
    assert_eq!(condition_fires(PAGE[0], 10), None);
    assert_eq!(tier_fires(&PAGE, 10), Some(216));
    assert_eq!(tier_fires(&TICKET, 10), Some(432));
    check_formula(10);
    let (_, _, report) = observe(10);
    let page: &AlertTransition = report
        .transitions
        .iter()
        .find(|t| t.severity == "page" && t.to == AlertState::Firing)
        .unwrap();
    // The burn rates recorded with the transition show which pair fired: 6h and 30m above 6,
    // 1h at 10 (below 14.4).
    let rate = |w: &str| page.burn_rates[w].unwrap();
    assert!(
        rate("6h") > 6.0 && rate("30m") > 6.0,
        "{:?}",
        page.burn_rates
    );
    assert_close!(rate("1h"), 10.0);
}

#[test]
fn half_percent_errors_only_open_a_ticket() {
    // 0.5% is under both page thresholds (1.44%, 0.6%); the ticket fires at
    // 3 × 1440 × 0.001 / 0.005 = 864 min (= 1 × 4320 × 0.001 / 0.005, the 3d condition, too).
    assert_eq!(tier_fires(&PAGE, 5), None);
    assert_eq!(tier_fires(&TICKET, 5), Some(864));
    check_formula(5);
}

#[test]
fn double_burn_fires_only_the_3d_ticket_after_36_hours() {
    // 0.2% errors burn at 2×: under 1d/2h's 3×, over 3d/6h's 1×, which fires at
    // 72h × 1 × 0.001 / 0.002 = 36h. At 36h − 1 min the 3d ratio is exactly 0.1%: not over.
    assert_eq!(condition_fires(TICKET[0], 2), None);
    assert_eq!(tier_fires(&TICKET, 2), Some(36 * 60));
    assert_eq!(tier_fires(&PAGE, 2), None);
    check_formula(2);
}

#[test]
fn short_windows_resolve_a_total_outage() {
    // A 100% outage makes every short window over while it holds even one bad minute, so each tier
    // resolves when its longest short window has no bad minute left: page at end + 29 (30m),
    // ticket at end + 359 (6h).
    let (t, len, _) = observe(1000);
    assert_eq!(t.page_resolve, Some(len + 29));
    assert_eq!(t.ticket_resolve, Some(len + 359));
}

// ---------------------------------------------------------------------------------------------
// min_events, no_data, `for`, groups.
// ---------------------------------------------------------------------------------------------

/// One event a minute for 240 minutes; the one at minute 120 fails.
fn quiet_service(id: &str) -> Vec<RecordedEvent> {
    (0..240)
        .map(|m| ev(id, m, if m == 120 { 0.0 } else { 1.0 }, 1.0))
        .collect()
}

#[test]
fn min_events_keeps_a_quiet_service_from_paging() {
    // Without a minimum: at minute 120 the 1h window holds 1 bad of 60 (1.7% > 1.44%) and the 5m
    // window 1 of 5: the page fires at once. (The 1d/2h ticket too: 1 of 121 and 1 of 120, both
    // over 0.3%, since the windows hold only the two hours of data there are.)
    let plain = backtest::run(vec![slo_30d("quiet")], quiet_service("quiet")).unwrap();
    assert_eq!(minutes(&plain, "page", AlertState::Firing), vec![120]);
    assert_eq!(minutes(&plain, "ticket", AlertState::Firing), vec![120]);
    // With a minimum above what any long window holds (≤ 240 events), nothing fires.
    let mut guarded = slo_30d("quiet");
    guarded.alerting.min_events = 500.0;
    let report = backtest::run(vec![guarded], quiet_service("quiet")).unwrap();
    assert_eq!(report.transitions, Vec::new());
}

#[test]
fn no_data_fires_after_silence_and_resolves_on_the_next_event() {
    let mut s = slo_30d("silent");
    s.alerting = AlertPolicy::none();
    s.alerting.no_data = Some(NoDataRule {
        after: Span::minutes(10),
        severity: "ticket".into(),
    });
    // Events at minutes 0..=59, silence, then again from minute 90.
    let events = (0..60).chain(90..100).map(|m| ev("silent", m, 1.0, 1.0));
    let report = backtest::run(vec![s], events.collect()).unwrap();
    // The 10m window at minute 59 + k ends at 60 + k: it last holds minute 59 at k = 9, so the
    // alert fires at 59 + 10 = 69, and resolves at the evaluation after the event at minute 90.
    assert_eq!(minutes(&report, "no_data", AlertState::Firing), vec![69]);
    assert_eq!(minutes(&report, "no_data", AlertState::Resolved), vec![90]);
}

#[test]
fn for_delays_firing_by_exactly_its_duration() {
    // 6h of clean traffic (so 1h and 6h windows are full), then 10% errors for an hour: the page
    // condition holds from 14.4 × 60 × 0.001 / 0.1 = 8.64 → minute 8 of the outage.
    let events = |id: &str| -> Vec<RecordedEvent> {
        (0..360 + 60 + 60)
            .map(|m| {
                let bad = if (360..420).contains(&m) { 100.0 } else { 0.0 };
                ev(id, m, 1000.0 - bad, 1000.0)
            })
            .collect()
    };
    let plain = backtest::run(vec![slo_30d("api")], events("api")).unwrap();
    let mut held = slo_30d("api");
    held.alerting.tiers[0].for_ = Span::minutes(5);
    let delayed = backtest::run(vec![held], events("api")).unwrap();
    let fire = minutes(&plain, "page", AlertState::Firing);
    assert_eq!(fire, vec![360 + 8]);
    assert_eq!(
        minutes(&delayed, "page", AlertState::Firing),
        vec![360 + 8 + 5]
    );
    // `for` delays firing only: both resolve at the same minute.
    assert_eq!(
        minutes(&plain, "page", AlertState::Resolved),
        minutes(&delayed, "page", AlertState::Resolved)
    );
}

#[test]
fn grouped_slo_alerts_only_for_the_failing_group() {
    let mut s = slo_30d("api");
    s.grouping = vec!["region".to_string()];
    let mut events = Vec::new();
    for m in 0..120 {
        for region in ["eu", "us"] {
            let bad = if region == "eu" && (60..70).contains(&m) {
                1000.0
            } else {
                0.0
            };
            let mut e = ev("api", m, 1000.0 - bad, 1000.0);
            e.event
                .labels
                .insert("region".to_string(), region.to_string());
            events.push(e);
        }
    }
    let report = backtest::run(vec![s], events).unwrap();
    assert!(!report.transitions.is_empty());
    assert!(
        report.transitions.iter().all(|t| t.group == "region=eu"),
        "{:?}",
        report.transitions
    );
    assert_eq!(minutes(&report, "page", AlertState::Firing), vec![60]);
    let groups: Vec<&str> = report.summary.iter().map(|s| s.group.as_str()).collect();
    assert_eq!(groups, vec!["region=eu", "region=us"]);
    // eu: 10,000 bad of 120,000, allowed 0.1% of 120,000 = 120: consumed 83.3, remaining −82.3.
    let eu = summary(&report, "api", "region=eu");
    assert_close!(eu.budget_consumed, 10_000.0 / 120.0);
    assert_close!(eu.budget_remaining, 1.0 - 10_000.0 / 120.0);
    assert_close!(eu.sli.unwrap(), 110_000.0 / 120_000.0);
    let us = summary(&report, "api", "region=us");
    assert_eq!((us.budget_consumed, us.budget_remaining), (0.0, 1.0));
    assert_eq!(us.sli, Some(1.0));
}

// ---------------------------------------------------------------------------------------------
// Calendar windows and budget figures.
// ---------------------------------------------------------------------------------------------

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Timestamp {
    Timestamp::from_chrono(&chrono::Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap())
}

/// One event per minute in `[from, to)`, `bad(minute index)` of `total` failing.
fn minutes_between(
    id: &str,
    from: Timestamp,
    to: Timestamp,
    total: f64,
    bad: impl Fn(i64) -> f64,
) -> Vec<RecordedEvent> {
    (0..(to - from).millis() / MIN)
        .map(|i| {
            let b = bad(i);
            event_at(id, from + Span::minutes(i), total - b, total)
        })
        .collect()
}

#[test]
fn calendar_month_budget_resets_at_the_month_boundary() {
    let month = |id: &str| {
        let mut s = slo(
            id,
            0.999,
            Window::Calendar {
                unit: CalendarUnit::Month,
                tz: chrono_tz::UTC,
            },
            BudgetingMethod::Occurrences,
        );
        s.alerting = AlertPolicy::sloth_default(Span::days(30));
        s
    };
    // Jan 31 22:00–23:59: 1000 a minute, 10 bad a minute from 23:00 to 23:09 (100 bad).
    let january = minutes_between(
        "m",
        utc(2026, 1, 31, 22, 0),
        utc(2026, 2, 1, 0, 0),
        1000.0,
        |i| if (60..70).contains(&i) { 10.0 } else { 0.0 },
    );
    let report = backtest::run(vec![month("m")], january.clone()).unwrap();
    // 100 bad of 120,000; allowed 120: five sixths spent.
    let s = summary(&report, "m", "");
    assert_close!(s.budget_consumed, 100.0 / 120.0);
    assert_close!(s.budget_remaining, 20.0 / 120.0);

    // One clean event at Feb 1 00:00: a fresh budget, nothing of January counted.
    let mut first = january.clone();
    first.push(event_at("m", utc(2026, 2, 1, 0, 0), 1000.0, 1000.0));
    let report = backtest::run(vec![month("m")], first).unwrap();
    let s = summary(&report, "m", "");
    assert_eq!((s.budget_consumed, s.budget_remaining), (0.0, 1.0));
    assert_eq!(s.sli, Some(1.0));

    // The first hour of February with 5 bad events at 00:30: 5 of 60,000, allowed 60.
    let mut hour = january;
    hour.extend(minutes_between(
        "m",
        utc(2026, 2, 1, 0, 0),
        utc(2026, 2, 1, 1, 0),
        1000.0,
        |i| if i == 30 { 5.0 } else { 0.0 },
    ));
    let report = backtest::run(vec![month("m")], hour).unwrap();
    let s = summary(&report, "m", "");
    assert_close!(s.budget_consumed, 5.0 / 60.0);
    assert_close!(s.budget_remaining, 55.0 / 60.0);
}

#[test]
fn berlin_march_has_31_days_less_an_hour_of_slices() {
    let tz = chrono_tz::Europe::Berlin;
    let window = Window::Calendar {
        unit: CalendarUnit::Month,
        tz,
    };
    // March 2026 in Berlin: Mar 1 00:00 CET (Feb 28 23:00 UTC) to Apr 1 00:00 CEST (Mar 31 22:00
    // UTC); clocks go forward on Mar 29 at 01:00 UTC.
    let start = utc(2026, 2, 28, 23, 0);
    let period = window.period(utc(2026, 3, 29, 1, 0));
    assert_eq!(period.start, start);
    assert_eq!(period.end, utc(2026, 3, 31, 22, 0));
    assert_eq!(period.length(), Span::days(31) - Span::HOUR);

    let s = slo(
        "berlin",
        0.999,
        window,
        BudgetingMethod::Timeslices {
            target: 0.99,
            slice: Span::MINUTE,
        },
    );
    let mut events = Vec::new();
    // Feb 28 22:00–22:59 UTC is still February in Berlin: every slice bad, none counted in March.
    events.extend(minutes_between(
        "berlin",
        utc(2026, 2, 28, 22, 0),
        start,
        100.0,
        |_| 100.0,
    ));
    // Mar 1 00:00–00:59 Berlin: 10 bad slices (2 of 100 bad < 99%), 50 good (1 of 100 bad = 99%).
    events.extend(minutes_between(
        "berlin",
        start,
        start + Span::HOUR,
        100.0,
        |i| if i < 10 { 2.0 } else { 1.0 },
    ));
    // Mar 29 00:30–01:29 UTC, across the DST change: 5 bad slices.
    events.extend(minutes_between(
        "berlin",
        utc(2026, 3, 29, 0, 30),
        utc(2026, 3, 29, 1, 30),
        100.0,
        |i| if (25..30).contains(&i) { 50.0 } else { 0.0 },
    ));
    let report = backtest::run(vec![s], events).unwrap();
    let sum = summary(&report, "berlin", "");
    // The budget is 0.1% of every minute slice of the period: 0.001 × (31 × 1440 − 60) = 44.58.
    let allowed = 0.001 * (31.0 * 1440.0 - 60.0);
    assert_close!(sum.budget_consumed, 15.0 / allowed);
    assert_close!(sum.budget_remaining, 1.0 - 15.0 / allowed);
    // 120 slices with data in March, 105 of them good.
    assert_close!(sum.sli.unwrap(), 105.0 / 120.0);
}

#[test]
fn timeslice_budgets_match_hand_calculations() {
    let window = Window::Rolling {
        length: Span::days(7),
    };
    let slices = slo(
        "slices",
        0.99,
        window,
        BudgetingMethod::Timeslices {
            target: 0.95,
            slice: Span::minutes(5),
        },
    );
    let ratio = slo(
        "ratio",
        0.99,
        window,
        BudgetingMethod::RatioTimeslices {
            slice: Span::minutes(5),
        },
    );
    // Two hours of 100 events a minute: 24 five-minute slices of 500 events. Slices 3, 7 and 11
    // have one minute with 30 bad (470/500 = 0.94 < 0.95: bad); slice 15 one with 20 bad
    // (480/500 = 0.96: good).
    let bad = |m: i64| match m {
        15 | 35 | 55 => 30.0,
        75 => 20.0,
        _ => 0.0,
    };
    let mut events = Vec::new();
    for id in ["slices", "ratio"] {
        events.extend((0..120).map(|m| ev(id, m, 100.0 - bad(m), 100.0)));
    }
    let report = backtest::run(vec![slices, ratio], events).unwrap();
    // The budget is 1% of the window's 7 × 288 = 2016 slices: 20.16 slices.
    let allowed = 0.01 * 2016.0;
    let s = summary(&report, "slices", "");
    assert_close!(s.budget_consumed, 3.0 / allowed);
    assert_close!(s.budget_remaining, 1.0 - 3.0 / allowed);
    assert_close!(s.sli.unwrap(), 21.0 / 24.0);
    // Ratio slices: 20 × 1.0 + 0.96 + 3 × 0.94 = 23.78; spent 24 − 23.78 = 0.22 slices.
    let r = summary(&report, "ratio", "");
    assert_close!(r.budget_consumed, 0.22 / allowed);
    assert_close!(r.budget_remaining, 1.0 - 0.22 / allowed);
    assert_close!(r.sli.unwrap(), 23.78 / 24.0);
}

#[test]
fn summary_reports_fractions_and_overspending() {
    // One hour of 1000 events a minute (allowed: 0.1% of 60,000 = 60 bad events).
    let half = (0..60).map(|m| ev("half", m, if m == 10 { 970.0 } else { 1000.0 }, 1000.0));
    let over = (0..60).map(|m| {
        let bad = if (10..13).contains(&m) { 60.0 } else { 0.0 };
        ev("over", m, 1000.0 - bad, 1000.0)
    });
    let report = backtest::run(
        vec![slo_30d("half"), slo_30d("over")],
        half.chain(over).collect(),
    )
    .unwrap();
    let h = summary(&report, "half", "");
    assert_close!(h.budget_consumed, 0.5);
    assert_close!(h.budget_remaining, 0.5);
    assert_close!(h.sli.unwrap(), 1.0 - 30.0 / 60_000.0);
    // 180 bad against 60 allowed: three budgets spent, two more than there were.
    let o = summary(&report, "over", "");
    assert_close!(o.budget_consumed, 3.0);
    assert_close!(o.budget_remaining, -2.0);
    assert_eq!(report.summary.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// The engine's stored views across evaluations and reloads.
// ---------------------------------------------------------------------------------------------

#[test]
fn views_follow_evaluations_and_reloads() {
    use headroom_engine::Engine;
    use headroom_tsdb::Tsdb;

    let engine = Engine::new(Tsdb::in_memory(), vec![slo_30d("api")]).unwrap();
    let mut fired = Vec::new();
    for m in 0..70 {
        let bad = if m >= 60 { 1000.0 } else { 0.0 };
        let e = ev("api", m, 1000.0 - bad, 1000.0).event;
        engine
            .ingest("api", std::slice::from_ref(&e), None, e.at)
            .unwrap();
        fired.extend(engine.evaluate(None, e.at));
    }
    let alert_states = |engine: &Engine| -> Vec<(String, AlertState)> {
        engine.views()[0].groups[0]
            .alerts
            .iter()
            .map(|(n, a)| (n.clone(), a.state))
            .collect()
    };
    // Both fire at minute 60: 1 bad minute in 61 is over 14.4 × 0.1% in the 1h window and, since
    // the 1d window holds only those 61 minutes of data, over 3 × 0.1% there too.
    let firing: Vec<(String, i64)> = fired
        .iter()
        .filter(|t| t.to == AlertState::Firing)
        .map(|t| (t.severity.to_string(), (t.at.millis() - T0) / MIN))
        .collect();
    assert_eq!(
        firing,
        vec![("page".to_string(), 60), ("ticket".to_string(), 60)]
    );
    assert_eq!(
        alert_states(&engine),
        vec![
            ("page".to_string(), AlertState::Firing),
            ("ticket".to_string(), AlertState::Firing)
        ]
    );
    let page = engine.views()[0].groups[0].alerts[0].1;
    assert_eq!(page.since, Timestamp(T0 + 60 * MIN));
    let consumed = engine.views()[0].groups[0].status.budget.consumed;
    // 10,000 bad of 70,000 events, 70 allowed.
    assert_close!(consumed, 10_000.0 / 70.0);

    // A reload with the same SLO keeps its views until the next evaluation.
    engine.replace_slos(vec![slo_30d("api")]).unwrap();
    assert_eq!(engine.views()[0].groups.len(), 1);
    assert_close!(engine.views()[0].groups[0].status.budget.consumed, consumed);

    // A reload that drops the ticket tier: the next evaluation lists only the page alert.
    let mut page_only = slo_30d("api");
    page_only.alerting.tiers.truncate(1);
    engine.replace_slos(vec![page_only]).unwrap();
    engine.evaluate(None, Timestamp(T0 + 70 * MIN));
    assert_eq!(
        alert_states(&engine),
        vec![("page".to_string(), AlertState::Firing)]
    );

    // Removed SLOs lose their views.
    engine.replace_slos(Vec::new()).unwrap();
    assert!(engine.views().is_empty());
}
