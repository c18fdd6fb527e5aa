//! Escalation timing on a simulated clock.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Europe::London;
use headroom_core::Span;
use headroom_oncall::{
    Directory, Escalation, EscalationError, EscalationLevel, EscalationPolicy, EscalationState,
    Page, Target, TurnLength,
};

use crate::common::*;

fn minutes(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

fn level(targets: Vec<Target>, delay_minutes: i64) -> EscalationLevel {
    EscalationLevel {
        targets,
        delay: Span::minutes(delay_minutes),
    }
}

fn to_user(id: &str) -> Target {
    Target::User(user(id))
}

/// Level 0 pages `a` and waits 10 minutes; level 1 pages the schedule and `b`, then 15
/// minutes until the next pass.
fn policy(repeat: u32) -> EscalationPolicy {
    EscalationPolicy {
        id: "ops".into(),
        name: "Ops".into(),
        levels: vec![
            level(vec![to_user("a")], 10),
            level(vec![Target::Schedule("primary".into()), to_user("b")], 15),
        ],
        repeat,
        ack_timeout: None,
    }
}

/// The "primary" schedule hands off daily at 09:00 London time between `day1` and `day2`.
fn directory() -> Directory {
    Directory {
        schedules: vec![schedule(
            London,
            vec![layer(
                "Daily",
                &["day1", "day2"],
                TurnLength::Daily,
                "2026-11-01 09:00",
            )],
        )],
        ..Directory::default()
    }
}

fn page(level: usize, pass: u32, users: &[&str], at: DateTime<Utc>) -> Page {
    Page {
        level,
        pass,
        users: users.iter().map(|u| user(u)).collect(),
        at,
    }
}

#[test]
fn levels_are_paged_on_their_delays_and_repeat() {
    let dir = directory();
    let t0 = utc("2026-11-02T12:00:00Z"); // day2 on call
    let mut e = Escalation::start(&policy(1), t0);
    assert_eq!(e.next_deadline(), Some(t0));
    assert_eq!(e.due(t0 - TimeDelta::seconds(1), &dir), vec![]);
    assert_eq!(e.due(t0, &dir), vec![page(0, 0, &["a"], t0)]);
    assert_eq!(e.due(t0, &dir), vec![], "a page is returned once");
    assert_eq!(e.next_deadline(), Some(t0 + minutes(10)));
    assert_eq!(e.due(t0 + minutes(9), &dir), vec![]);
    assert_eq!(
        e.due(t0 + minutes(10), &dir),
        vec![page(1, 0, &["day2", "b"], t0 + minutes(10))]
    );
    // The last level's delay leads back to level 0 of the next pass.
    assert_eq!(e.next_deadline(), Some(t0 + minutes(25)));
    assert_eq!(
        e.due(t0 + minutes(25), &dir),
        vec![page(0, 1, &["a"], t0 + minutes(25))]
    );
    assert_eq!(
        e.due(t0 + minutes(35), &dir),
        vec![page(1, 1, &["day2", "b"], t0 + minutes(35))]
    );
    // repeat = 1: two passes in all, then nothing more.
    assert_eq!(e.next_deadline(), None);
    assert_eq!(e.due(t0 + TimeDelta::days(1), &dir), vec![]);
    assert_eq!(e.state(), EscalationState::Triggered);
    assert_eq!(e.skipped_pages(), 0);
}

#[test]
fn acknowledge_stops_further_pages() {
    let dir = directory();
    let t0 = utc("2026-11-02T12:00:00Z");
    let mut e = Escalation::start(&policy(3), t0);
    assert_eq!(e.due(t0, &dir).len(), 1);
    e.acknowledge(t0 + minutes(5)).unwrap();
    assert_eq!(e.next_deadline(), None);
    assert_eq!(e.due(t0 + TimeDelta::hours(5), &dir), vec![]);
    assert_eq!(
        e.state(),
        EscalationState::Acknowledged {
            at: t0 + minutes(5)
        }
    );
    // Pages that came due before the acknowledgement but were never returned are dropped
    // too: whoever acknowledged already has the alert.
    let mut e2 = Escalation::start(&policy(3), t0);
    assert_eq!(e2.due(t0, &dir).len(), 1);
    e2.acknowledge(t0 + minutes(30)).unwrap();
    assert_eq!(e2.due(t0 + minutes(30), &dir), vec![]);
    // A second acknowledgement keeps the first time.
    e.acknowledge(t0 + minutes(7)).unwrap();
    assert_eq!(
        e.state(),
        EscalationState::Acknowledged {
            at: t0 + minutes(5)
        }
    );
}

#[test]
fn resolve_ends_the_escalation() {
    let dir = directory();
    let t0 = utc("2026-11-02T12:00:00Z");
    let mut e = Escalation::start(&policy(3), t0);
    e.due(t0 + minutes(12), &dir);
    e.resolve(t0 + minutes(20));
    e.resolve(t0 + minutes(30));
    assert_eq!(
        e.state(),
        EscalationState::Resolved {
            at: t0 + minutes(20)
        }
    );
    assert_eq!(e.next_deadline(), None);
    assert_eq!(e.due(t0 + TimeDelta::hours(2), &dir), vec![]);
    let refused = EscalationError::Resolved {
        at: t0 + minutes(20),
    };
    assert_eq!(e.acknowledge(t0 + minutes(40)), Err(refused.clone()));
    assert_eq!(e.trigger(t0 + minutes(40)), Err(refused));
}

#[test]
fn retrigger_is_deduplicated_while_triggered_and_restarts_after_ack() {
    let dir = directory();
    let t0 = utc("2026-11-02T12:00:00Z");
    let mut e = Escalation::start(&policy(0), t0);
    e.due(t0, &dir);
    assert_eq!(e.trigger(t0 + minutes(3)), Ok(false));
    assert_eq!(
        e.next_deadline(),
        Some(t0 + minutes(10)),
        "timing unchanged"
    );

    e.acknowledge(t0 + minutes(4)).unwrap();
    let t1 = t0 + minutes(30);
    assert_eq!(e.trigger(t1), Ok(true));
    assert_eq!(e.state(), EscalationState::Triggered);
    assert_eq!(e.started(), t1);
    assert_eq!(
        e.due(t1 + minutes(10), &dir),
        vec![
            page(0, 0, &["a"], t1),
            page(1, 0, &["day2", "b"], t1 + minutes(10)),
        ]
    );
}

#[test]
fn an_acknowledgement_lapses_after_the_ack_timeout_and_paging_starts_over() {
    let dir = directory();
    let t0 = utc("2026-11-02T12:00:00Z");
    let timing_out = EscalationPolicy {
        ack_timeout: Some(Span::minutes(30)),
        ..policy(0)
    };
    let mut e = Escalation::start(&timing_out, t0);
    assert_eq!(e.due(t0, &dir), vec![page(0, 0, &["a"], t0)]);
    let acked = t0 + minutes(5);
    e.acknowledge(acked).unwrap();
    assert_eq!(
        e.next_deadline(),
        Some(acked + minutes(30)),
        "when it lapses"
    );
    assert_eq!(e.due(acked + minutes(29), &dir), vec![]);
    assert_eq!(e.state(), EscalationState::Acknowledged { at: acked });

    // Asked late: the new pass counts from the lapse, not from the call.
    let lapse = acked + minutes(30);
    assert_eq!(
        e.due(lapse + minutes(12), &dir),
        vec![
            page(0, 0, &["a"], lapse),
            page(1, 0, &["day2", "b"], lapse + minutes(10)),
        ]
    );
    assert_eq!(e.state(), EscalationState::Triggered);
    assert_eq!(e.started(), lapse);

    // A new acknowledgement holds for a new timeout; resolving ends it for good.
    let again = lapse + minutes(15);
    e.acknowledge(again).unwrap();
    assert_eq!(e.next_deadline(), Some(again + minutes(30)));
    e.resolve(again + minutes(1));
    assert_eq!(e.next_deadline(), None);
    assert_eq!(e.due(again + TimeDelta::hours(3), &dir), vec![]);

    // Without a timeout an acknowledgement holds until resolved.
    let mut e = Escalation::start(&policy(0), t0);
    e.acknowledge(t0).unwrap();
    assert_eq!(e.next_deadline(), None);
    assert_eq!(e.due(t0 + TimeDelta::days(2), &dir), vec![]);
}

#[test]
fn schedule_target_resolves_to_whoever_is_on_call_at_page_time() {
    let dir = directory();
    // 08:55 GMT: day1 is on call until the 09:00 hand-off to day2.
    let t0 = utc("2026-11-02T08:55:00Z");
    let mut e = Escalation::start(
        &EscalationPolicy {
            id: "sched".into(),
            name: "Schedule first".into(),
            levels: vec![
                level(vec![Target::Schedule("primary".into())], 10),
                level(vec![Target::Schedule("primary".into())], 10),
            ],
            repeat: 0,
            ack_timeout: None,
        },
        t0,
    );
    // Asked late, after the hand-off: each page still names who was on call at its time.
    assert_eq!(
        e.due(t0 + minutes(30), &dir),
        vec![
            page(0, 0, &["day1"], t0),
            page(1, 0, &["day2"], t0 + minutes(10)),
        ]
    );
    // An unknown schedule adds nobody rather than failing the page.
    let mut e = Escalation::start(
        &EscalationPolicy {
            id: "ghost".into(),
            name: "Ghost".into(),
            levels: vec![level(
                vec![
                    Target::Schedule("missing".into()),
                    to_user("a"),
                    to_user("a"),
                ],
                5,
            )],
            repeat: 0,
            ack_timeout: None,
        },
        t0,
    );
    assert_eq!(e.due(t0, &dir), vec![page(0, 0, &["a"], t0)]);
}

#[test]
fn late_due_after_restart_returns_overdue_pages_in_order_once() {
    let dir = directory();
    let t0 = utc("2026-11-02T12:00:00Z");
    let mut e = Escalation::start(&policy(2), t0);
    assert_eq!(e.due(t0, &dir).len(), 1);

    // The server stops; the state was persisted.
    let saved = serde_json::to_string(&e).unwrap();
    let mut restored: Escalation = serde_json::from_str(&saved).unwrap();
    assert_eq!(restored, e);

    // Back 30 minutes later, less than a full pass (25 min) after the next page: nothing
    // is skipped, the overdue pages come in order with their own times.
    assert_eq!(
        restored.due(t0 + minutes(30), &dir),
        vec![
            page(1, 0, &["day2", "b"], t0 + minutes(10)),
            page(0, 1, &["a"], t0 + minutes(25)),
        ]
    );
    assert_eq!(restored.skipped_pages(), 0);
    assert_eq!(restored.due(t0 + minutes(30), &dir), vec![]);
    assert_eq!(restored.next_deadline(), Some(t0 + minutes(35)));
}

#[test]
fn restart_after_several_missed_passes_replays_at_most_one_pass() {
    let dir = directory();
    let t0 = utc("2026-11-02T12:00:00Z");
    let mut e = Escalation::start(&policy(10), t0);
    assert_eq!(e.due(t0, &dir).len(), 1);
    let mut restored: Escalation =
        serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();

    // Pages fall at 0, 10, 25, 35, 50, 60, 75, 85, 100 … minutes. Back at 80 minutes: due
    // since the last page are 10 … 75; only the last pass-length (55 < t <= 80) is replayed.
    let pages = restored.due(t0 + minutes(80), &dir);
    assert_eq!(
        pages,
        vec![
            page(1, 2, &["day2", "b"], t0 + minutes(60)),
            page(0, 3, &["a"], t0 + minutes(75)),
        ]
    );
    assert_eq!(
        restored.skipped_pages(),
        4,
        "10, 25, 35 and 50 were skipped"
    );
    assert_eq!(restored.next_deadline(), Some(t0 + minutes(85)));
    assert_eq!(
        restored.due(t0 + minutes(85), &dir),
        vec![page(1, 3, &["day2", "b"], t0 + minutes(85))]
    );

    // Far past the last pass: the final pass is what is returned, and then it is over.
    let mut e = Escalation::start(&policy(10), t0);
    let pages = e.due(t0 + TimeDelta::days(3), &dir);
    assert_eq!(
        pages,
        vec![
            page(0, 10, &["a"], t0 + minutes(250)),
            page(1, 10, &["day2", "b"], t0 + minutes(260)),
        ]
    );
    assert_eq!(e.skipped_pages(), 20);
    assert_eq!(e.next_deadline(), None);
}

/// `Directory::validate` refuses zero delays, but a policy built in code can hold them: the
/// state machine must still end rather than loop through every pass at one instant.
#[test]
fn zero_delays_page_every_level_at_once_and_repeat_only_once() {
    let dir = directory();
    let t0 = utc("2026-11-02T12:00:00Z");
    let mut e = Escalation::start(
        &EscalationPolicy {
            id: "all".into(),
            name: "All at once".into(),
            levels: vec![level(vec![to_user("a")], 0), level(vec![to_user("b")], 0)],
            repeat: 5,
            ack_timeout: None,
        },
        t0,
    );
    assert_eq!(
        e.due(t0, &dir),
        vec![page(0, 5, &["a"], t0), page(1, 5, &["b"], t0)]
    );
    assert_eq!(e.next_deadline(), None);
}

#[test]
fn policy_without_levels_pages_nobody() {
    let t0 = utc("2026-11-02T12:00:00Z");
    let mut e = Escalation::start(
        &EscalationPolicy {
            id: "empty".into(),
            name: "Empty".into(),
            levels: vec![],
            repeat: 3,
            ack_timeout: None,
        },
        t0,
    );
    assert_eq!(e.next_deadline(), None);
    assert_eq!(e.due(t0 + minutes(60), &directory()), vec![]);
}

#[test]
fn the_running_escalation_keeps_its_copy_of_the_policy() {
    let dir = directory();
    let t0 = utc("2026-11-02T12:00:00Z");
    let mut p = policy(0);
    let mut e = Escalation::start(&p, t0);
    p.levels[0].delay = Span::minutes(1);
    assert_eq!(e.policy().levels[0].delay, Span::minutes(10));
    e.due(t0, &dir);
    assert_eq!(e.next_deadline(), Some(t0 + minutes(10)));
}

#[test]
fn escalation_state_serializes_readably() {
    let t0 = utc("2026-11-02T12:00:00Z");
    let e = Escalation::start(&policy(1), t0);
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["state"]["state"], "triggered");
    assert_eq!(
        json["policy"]["levels"][1]["targets"][0]["type"],
        "schedule"
    );
    assert_eq!(json["policy"]["levels"][1]["targets"][0]["id"], "primary");
    assert_eq!(json["next"]["at"], "2026-11-02T12:00:00Z");
}
