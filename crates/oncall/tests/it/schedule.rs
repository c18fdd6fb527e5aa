//! Rotations, restrictions, layers and overrides, checked against hand-computed instants.

use chrono::{TimeDelta, Weekday};
use chrono_tz::America::New_York;
use chrono_tz::Europe::London;
use headroom_oncall::{Restriction, Source, TurnLength};

use crate::common::*;

const L0: Source = Source::Layer(0);

#[test]
fn daily_rotation_across_london_spring_forward_keeps_local_handoff() {
    // 2026-03-29: clocks go 01:00 GMT -> 02:00 BST.
    let s = schedule(
        London,
        vec![layer(
            "Daily",
            &["a", "b", "c"],
            TurnLength::Daily,
            "2026-03-27 09:00",
        )],
    );
    let shifts = s.final_shifts(utc("2026-03-27T09:00:00Z"), utc("2026-03-31T08:00:00Z"));
    assert_eq!(
        shifts,
        vec![
            shift("a", "2026-03-27T09:00:00Z", "2026-03-28T09:00:00Z", L0),
            // The turn over the change is 23 h: 09:00 GMT to 09:00 BST.
            shift("b", "2026-03-28T09:00:00Z", "2026-03-29T08:00:00Z", L0),
            shift("c", "2026-03-29T08:00:00Z", "2026-03-30T08:00:00Z", L0),
            shift("a", "2026-03-30T08:00:00Z", "2026-03-31T08:00:00Z", L0),
        ],
        "{:#?}",
        plain(&shifts)
    );
    assert_eq!(
        shifts[1].end - shifts[1].start,
        TimeDelta::hours(23),
        "spring-forward day is 23 h"
    );
}

#[test]
fn daily_rotation_across_new_york_fall_back_is_25_hours() {
    // 2026-11-01: clocks go 02:00 EDT -> 01:00 EST.
    let s = schedule(
        New_York,
        vec![layer(
            "Daily",
            &["a", "b"],
            TurnLength::Daily,
            "2026-10-31 09:00",
        )],
    );
    let shifts = s.final_shifts(utc("2026-10-31T13:00:00Z"), utc("2026-11-02T14:00:00Z"));
    assert_eq!(
        shifts,
        vec![
            shift("a", "2026-10-31T13:00:00Z", "2026-11-01T14:00:00Z", L0),
            shift("b", "2026-11-01T14:00:00Z", "2026-11-02T14:00:00Z", L0),
        ],
        "{:#?}",
        plain(&shifts)
    );
    assert_eq!(shifts[0].end - shifts[0].start, TimeDelta::hours(25));
}

#[test]
fn weekly_rotation_across_new_york_spring_forward() {
    // Monday 10:00 hand-offs; 2026-03-08 clocks go 02:00 EST -> 03:00 EDT.
    let s = schedule(
        New_York,
        vec![layer(
            "Weekly",
            &["a", "b"],
            TurnLength::Weekly,
            "2026-03-02 10:00",
        )],
    );
    let shifts = s.final_shifts(utc("2026-03-02T15:00:00Z"), utc("2026-03-16T14:00:00Z"));
    assert_eq!(
        shifts,
        vec![
            shift("a", "2026-03-02T15:00:00Z", "2026-03-09T14:00:00Z", L0),
            shift("b", "2026-03-09T14:00:00Z", "2026-03-16T14:00:00Z", L0),
        ],
        "{:#?}",
        plain(&shifts)
    );
    assert_eq!(
        shifts[0].end - shifts[0].start,
        TimeDelta::hours(7 * 24 - 1)
    );
}

#[test]
fn custom_days_rotation_across_london_fall_back() {
    // Three-day turns at 18:00; 2026-10-25 clocks go 02:00 BST -> 01:00 GMT.
    let s = schedule(
        London,
        vec![layer(
            "3d",
            &["a", "b"],
            TurnLength::Days(3),
            "2026-10-23 18:00",
        )],
    );
    let shifts = s.final_shifts(utc("2026-10-23T17:00:00Z"), utc("2026-10-29T18:00:00Z"));
    assert_eq!(
        shifts,
        vec![
            shift("a", "2026-10-23T17:00:00Z", "2026-10-26T18:00:00Z", L0),
            shift("b", "2026-10-26T18:00:00Z", "2026-10-29T18:00:00Z", L0),
        ],
        "{:#?}",
        plain(&shifts)
    );
    assert_eq!(shifts[0].end - shifts[0].start, TimeDelta::hours(73));
}

#[test]
fn hours_rotation_is_elapsed_time_across_dst() {
    // 12-hour turns from 08:00 GMT: after the change they hand off at 09:00 and 21:00 BST.
    let s = schedule(
        London,
        vec![layer(
            "12h",
            &["a", "b"],
            TurnLength::Hours(12),
            "2026-03-28 08:00",
        )],
    );
    let shifts = s.final_shifts(utc("2026-03-28T08:00:00Z"), utc("2026-03-30T08:00:00Z"));
    assert_eq!(
        shifts,
        vec![
            shift("a", "2026-03-28T08:00:00Z", "2026-03-28T20:00:00Z", L0),
            shift("b", "2026-03-28T20:00:00Z", "2026-03-29T08:00:00Z", L0),
            shift("a", "2026-03-29T08:00:00Z", "2026-03-29T20:00:00Z", L0),
            shift("b", "2026-03-29T20:00:00Z", "2026-03-30T08:00:00Z", L0),
        ],
        "{:#?}",
        plain(&shifts)
    );
}

#[test]
fn handoff_in_spring_gap_moves_to_end_of_gap() {
    // 01:30 does not exist in London on 2026-03-29: the hand-off is at 02:00 BST (01:00Z).
    let s = schedule(
        London,
        vec![layer(
            "Daily",
            &["a", "b", "c"],
            TurnLength::Daily,
            "2026-03-28 01:30",
        )],
    );
    let shifts = s.final_shifts(utc("2026-03-28T01:30:00Z"), utc("2026-03-31T00:30:00Z"));
    assert_eq!(
        shifts,
        vec![
            shift("a", "2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", L0),
            shift("b", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", L0),
            shift("c", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z", L0),
        ],
        "{:#?}",
        plain(&shifts)
    );
    // New York too: 02:30 on 2026-03-08 becomes 03:00 EDT (07:00Z).
    let s = schedule(
        New_York,
        vec![layer(
            "Daily",
            &["a", "b"],
            TurnLength::Daily,
            "2026-03-07 02:30",
        )],
    );
    assert_eq!(s.oncall_at(utc("2026-03-08T06:59:59Z")), Some(user("a")));
    assert_eq!(s.oncall_at(utc("2026-03-08T07:00:00Z")), Some(user("b")));
}

#[test]
fn half_hour_gap_in_lord_howe() {
    // Lord Howe Island moves from +10:30 to +11:00 at 02:00 local on 2026-10-04, so 02:15
    // does not exist and the hand-off is at 02:30 (15:30Z the day before).
    let s = schedule(
        chrono_tz::Australia::Lord_Howe,
        vec![layer(
            "Daily",
            &["a", "b"],
            TurnLength::Daily,
            "2026-10-03 02:15",
        )],
    );
    let shifts = s.final_shifts(utc("2026-10-02T15:45:00Z"), utc("2026-10-04T15:15:00Z"));
    assert_eq!(
        shifts,
        vec![
            shift("a", "2026-10-02T15:45:00Z", "2026-10-03T15:30:00Z", L0),
            shift("b", "2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z", L0),
        ],
        "{:#?}",
        plain(&shifts)
    );
}

#[test]
fn handoff_in_fall_back_takes_first_occurrence() {
    // 01:30 happens twice in London on 2026-10-25 (00:30Z in BST, 01:30Z in GMT).
    let s = schedule(
        London,
        vec![layer(
            "Daily",
            &["a", "b", "c"],
            TurnLength::Daily,
            "2026-10-24 01:30",
        )],
    );
    let shifts = s.final_shifts(utc("2026-10-24T00:30:00Z"), utc("2026-10-27T01:30:00Z"));
    assert_eq!(
        shifts,
        vec![
            shift("a", "2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", L0),
            shift("b", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z", L0),
            shift("c", "2026-10-26T01:30:00Z", "2026-10-27T01:30:00Z", L0),
        ],
        "{:#?}",
        plain(&shifts)
    );
    // New York: 01:30 on 2026-11-01 is first 05:30Z (EDT).
    let s = schedule(
        New_York,
        vec![layer(
            "Daily",
            &["a", "b"],
            TurnLength::Daily,
            "2026-10-31 01:30",
        )],
    );
    assert_eq!(s.oncall_at(utc("2026-11-01T05:29:59Z")), Some(user("a")));
    assert_eq!(s.oncall_at(utc("2026-11-01T05:30:00Z")), Some(user("b")));
    assert_eq!(s.oncall_at(utc("2026-11-01T06:30:00Z")), Some(user("b")));
}

#[test]
fn business_hours_restriction_follows_local_time_across_dst() {
    // Weekly turns, covered only 09:00-17:00 local every day.
    let s = schedule(
        London,
        vec![restricted(
            layer(
                "Business",
                &["a", "b"],
                TurnLength::Weekly,
                "2026-03-23 09:00",
            ),
            vec![Restriction::Daily {
                start: time("09:00"),
                end: time("17:00"),
            }],
        )],
    );
    let shifts = s.final_shifts(utc("2026-03-27T00:00:00Z"), utc("2026-03-31T00:00:00Z"));
    assert_eq!(
        shifts,
        vec![
            shift("a", "2026-03-27T09:00:00Z", "2026-03-27T17:00:00Z", L0),
            shift("a", "2026-03-28T09:00:00Z", "2026-03-28T17:00:00Z", L0),
            shift("a", "2026-03-29T08:00:00Z", "2026-03-29T16:00:00Z", L0),
            // The weekly hand-off at Monday 09:00 BST falls on a window start.
            shift("b", "2026-03-30T08:00:00Z", "2026-03-30T16:00:00Z", L0),
        ],
        "{:#?}",
        plain(&shifts)
    );
    assert_eq!(s.oncall_at(utc("2026-03-29T07:59:59Z")), None);
    assert_eq!(s.oncall_at(utc("2026-03-29T08:00:00Z")), Some(user("a")));
    assert_eq!(s.oncall_at(utc("2026-03-29T16:00:00Z")), None);
}

#[test]
fn handoff_inside_restriction_splits_the_window() {
    // Daily hand-off at 12:00, covered 09:00-17:00: each window has two people.
    let s = schedule(
        New_York,
        vec![restricted(
            layer("Split", &["a", "b"], TurnLength::Daily, "2026-06-01 12:00"),
            vec![Restriction::Daily {
                start: time("09:00"),
                end: time("17:00"),
            }],
        )],
    );
    let shifts = s.final_shifts(utc("2026-06-02T00:00:00Z"), utc("2026-06-03T00:00:00Z"));
    assert_eq!(
        shifts,
        vec![
            shift("a", "2026-06-02T13:00:00Z", "2026-06-02T16:00:00Z", L0),
            shift("b", "2026-06-02T16:00:00Z", "2026-06-02T21:00:00Z", L0),
        ],
        "{:#?}",
        plain(&shifts)
    );
}

#[test]
fn overnight_and_weekend_restrictions() {
    // Nights 22:00-06:00 (crossing midnight) plus the whole weekend, Sat 00:00 - Mon 00:00.
    let s = schedule(
        London,
        vec![restricted(
            layer(
                "Out of hours",
                &["a"],
                TurnLength::Weekly,
                "2026-06-01 00:00",
            ),
            vec![
                Restriction::Daily {
                    start: time("22:00"),
                    end: time("06:00"),
                },
                Restriction::Weekly {
                    start_day: Weekday::Sat,
                    start: time("00:00"),
                    end_day: Weekday::Mon,
                    end: time("00:00"),
                },
            ],
        )],
    );
    // Fri 5 June 2026 to Tue 9 June, BST (UTC+1).
    let shifts = s.final_shifts(utc("2026-06-05T00:00:00Z"), utc("2026-06-09T00:00:00Z"));
    assert_eq!(
        shifts,
        vec![
            shift("a", "2026-06-05T00:00:00Z", "2026-06-05T05:00:00Z", L0),
            // Friday 22:00 runs through the weekend to Monday 06:00 as one piece.
            shift("a", "2026-06-05T21:00:00Z", "2026-06-08T05:00:00Z", L0),
            shift("a", "2026-06-08T21:00:00Z", "2026-06-09T00:00:00Z", L0),
        ],
        "{:#?}",
        plain(&shifts)
    );
}

#[test]
fn weekly_business_restriction_mon_to_fri() {
    // Mon 09:00 - Fri 17:00 as one range: nights in the week are covered, weekends not.
    let s = schedule(
        New_York,
        vec![restricted(
            layer("Week", &["a", "b"], TurnLength::Daily, "2026-06-01 09:00"),
            vec![Restriction::Weekly {
                start_day: Weekday::Mon,
                start: time("09:00"),
                end_day: Weekday::Fri,
                end: time("17:00"),
            }],
        )],
    );
    assert_eq!(s.oncall_at(utc("2026-06-01T12:59:59Z")), None); // Mon 08:59:59 EDT
    assert_eq!(s.oncall_at(utc("2026-06-01T13:00:00Z")), Some(user("a")));
    assert_eq!(s.oncall_at(utc("2026-06-03T06:00:00Z")), Some(user("b"))); // Wed 02:00
    assert_eq!(s.oncall_at(utc("2026-06-05T20:59:59Z")), Some(user("a"))); // Fri 16:59:59
    assert_eq!(s.oncall_at(utc("2026-06-05T21:00:00Z")), None);
    assert_eq!(s.oncall_at(utc("2026-06-06T15:00:00Z")), None); // Saturday
    let week = s.final_shifts(utc("2026-06-01T00:00:00Z"), utc("2026-06-08T00:00:00Z"));
    assert_eq!(
        week.first().map(|s| s.start),
        Some(utc("2026-06-01T13:00:00Z"))
    );
    assert_eq!(
        week.last().map(|s| s.end),
        Some(utc("2026-06-05T21:00:00Z"))
    );
    assert_eq!(week.len(), 5, "{:#?}", plain(&week));
}

#[test]
fn later_layer_wins_where_it_has_someone() {
    let s = schedule(
        London,
        vec![
            layer("Base", &["a", "b"], TurnLength::Weekly, "2026-06-01 09:00"),
            restricted(
                layer("Days", &["c", "d"], TurnLength::Daily, "2026-06-01 09:00"),
                vec![Restriction::Daily {
                    start: time("09:00"),
                    end: time("17:00"),
                }],
            ),
        ],
    );
    let shifts = s.final_shifts(utc("2026-06-02T00:00:00Z"), utc("2026-06-03T12:00:00Z"));
    let l1 = Source::Layer(1);
    assert_eq!(
        shifts,
        vec![
            shift("a", "2026-06-02T00:00:00Z", "2026-06-02T08:00:00Z", L0),
            shift(
                "d",
                "2026-06-02T08:00:00Z",
                "2026-06-02T16:00:00Z",
                l1.clone()
            ),
            shift("a", "2026-06-02T16:00:00Z", "2026-06-03T08:00:00Z", L0),
            shift("c", "2026-06-03T08:00:00Z", "2026-06-03T12:00:00Z", l1),
        ],
        "{:#?}",
        plain(&shifts)
    );
    // The layer's own view is unaffected by the layer above.
    let base = s.layer_shifts(0, utc("2026-06-02T00:00:00Z"), utc("2026-06-03T12:00:00Z"));
    assert_eq!(
        base,
        vec![shift(
            "a",
            "2026-06-02T00:00:00Z",
            "2026-06-03T12:00:00Z",
            L0
        )]
    );
}

#[test]
fn override_beats_layers_and_may_span_a_handoff() {
    let mut s = schedule(
        London,
        vec![
            layer("Base", &["a", "b"], TurnLength::Daily, "2026-06-01 09:00"),
            layer("Top", &["c"], TurnLength::Weekly, "2026-06-02 12:00"),
        ],
    );
    // Around the 09:00 BST (08:00Z) hand-off on 2 June from a to b.
    s.overrides.push(over(
        "o1",
        "x",
        "2026-06-02T07:00:00Z",
        "2026-06-02T10:00:00Z",
    ));
    let shifts = s.final_shifts(utc("2026-06-02T00:00:00Z"), utc("2026-06-02T13:00:00Z"));
    assert_eq!(
        shifts,
        vec![
            shift("a", "2026-06-02T00:00:00Z", "2026-06-02T07:00:00Z", L0),
            shift(
                "x",
                "2026-06-02T07:00:00Z",
                "2026-06-02T10:00:00Z",
                Source::Override("o1".into())
            ),
            shift("b", "2026-06-02T10:00:00Z", "2026-06-02T11:00:00Z", L0),
            shift(
                "c",
                "2026-06-02T11:00:00Z",
                "2026-06-02T13:00:00Z",
                Source::Layer(1)
            ),
        ],
        "{:#?}",
        plain(&shifts)
    );
    assert_eq!(s.oncall_at(utc("2026-06-02T06:59:59Z")), Some(user("a")));
    assert_eq!(s.oncall_at(utc("2026-06-02T07:00:00Z")), Some(user("x")));
    assert_eq!(s.oncall_at(utc("2026-06-02T09:59:59Z")), Some(user("x")));
    assert_eq!(s.oncall_at(utc("2026-06-02T10:00:00Z")), Some(user("b")));
}

#[test]
fn later_override_wins_where_overrides_overlap() {
    let mut s = schedule(
        London,
        vec![layer("Base", &["a"], TurnLength::Daily, "2026-06-01 00:00")],
    );
    s.overrides.push(over(
        "o1",
        "x",
        "2026-06-02T10:00:00Z",
        "2026-06-02T14:00:00Z",
    ));
    s.overrides.push(over(
        "o2",
        "y",
        "2026-06-02T12:00:00Z",
        "2026-06-02T13:00:00Z",
    ));
    let shifts = s.final_shifts(utc("2026-06-02T09:00:00Z"), utc("2026-06-02T15:00:00Z"));
    let (o1, o2) = (Source::Override("o1".into()), Source::Override("o2".into()));
    assert_eq!(
        shifts,
        vec![
            shift("a", "2026-06-02T09:00:00Z", "2026-06-02T10:00:00Z", L0),
            shift(
                "x",
                "2026-06-02T10:00:00Z",
                "2026-06-02T12:00:00Z",
                o1.clone()
            ),
            shift("y", "2026-06-02T12:00:00Z", "2026-06-02T13:00:00Z", o2),
            shift("x", "2026-06-02T13:00:00Z", "2026-06-02T14:00:00Z", o1),
            shift("a", "2026-06-02T14:00:00Z", "2026-06-02T15:00:00Z", L0),
        ],
        "{:#?}",
        plain(&shifts)
    );
}

#[test]
fn same_user_same_source_merges_but_different_sources_do_not() {
    let mut s = schedule(
        London,
        vec![layer("Solo", &["a"], TurnLength::Daily, "2026-06-01 09:00")],
    );
    // Four daily turns of the same user are one shift.
    let shifts = s.final_shifts(utc("2026-06-01T08:00:00Z"), utc("2026-06-05T08:00:00Z"));
    assert_eq!(
        shifts,
        vec![shift(
            "a",
            "2026-06-01T08:00:00Z",
            "2026-06-05T08:00:00Z",
            L0
        )]
    );
    // An override by the same user stays its own piece.
    s.overrides.push(over(
        "o1",
        "a",
        "2026-06-02T00:00:00Z",
        "2026-06-02T06:00:00Z",
    ));
    let shifts = s.final_shifts(utc("2026-06-01T08:00:00Z"), utc("2026-06-05T08:00:00Z"));
    assert_eq!(shifts.len(), 3, "{:#?}", plain(&shifts));
    assert_eq!(shifts[1].source, Source::Override("o1".into()));
    assert_eq!(shifts[1].start, utc("2026-06-02T00:00:00Z"));
    assert_eq!(shifts[2].start, utc("2026-06-02T06:00:00Z"));
}

#[test]
fn final_shifts_are_clipped_to_the_range() {
    let s = schedule(
        London,
        vec![layer(
            "Daily",
            &["a", "b"],
            TurnLength::Daily,
            "2026-06-01 09:00",
        )],
    );
    let shifts = s.final_shifts(utc("2026-06-01T20:00:00Z"), utc("2026-06-02T10:30:00Z"));
    assert_eq!(
        shifts,
        vec![
            shift("a", "2026-06-01T20:00:00Z", "2026-06-02T08:00:00Z", L0),
            shift("b", "2026-06-02T08:00:00Z", "2026-06-02T10:30:00Z", L0),
        ]
    );
    assert!(
        s.final_shifts(utc("2026-06-02T10:00:00Z"), utc("2026-06-02T10:00:00Z"))
            .is_empty()
    );
    assert!(
        s.final_shifts(utc("2026-06-03T10:00:00Z"), utc("2026-06-02T10:00:00Z"))
            .is_empty()
    );
}

#[test]
fn oncall_at_boundaries_start_inclusive_end_exclusive() {
    let mut s = schedule(
        London,
        vec![layer(
            "Daily",
            &["a", "b"],
            TurnLength::Daily,
            "2026-06-01 09:00",
        )],
    );
    s.layers[0].end = Some(local("2026-06-04 09:00"));
    let ns = TimeDelta::nanoseconds(1);
    let start = utc("2026-06-01T08:00:00Z");
    assert_eq!(s.oncall_at(start - ns), None, "before the rotation starts");
    assert_eq!(s.oncall_at(start), Some(user("a")));
    let handoff = utc("2026-06-02T08:00:00Z");
    assert_eq!(s.oncall_at(handoff - ns), Some(user("a")));
    assert_eq!(s.oncall_at(handoff), Some(user("b")));
    let end = utc("2026-06-04T08:00:00Z");
    assert_eq!(s.oncall_at(end - ns), Some(user("a")));
    assert_eq!(s.oncall_at(end), None, "the layer's end is exclusive");
    let shifts = s.final_shifts(utc("2026-05-31T00:00:00Z"), utc("2026-06-10T00:00:00Z"));
    assert_eq!(
        shifts,
        vec![
            shift("a", "2026-06-01T08:00:00Z", "2026-06-02T08:00:00Z", L0),
            shift("b", "2026-06-02T08:00:00Z", "2026-06-03T08:00:00Z", L0),
            shift("a", "2026-06-03T08:00:00Z", "2026-06-04T08:00:00Z", L0),
        ]
    );
}

#[test]
fn schedule_round_trips_through_json() {
    let mut s = schedule(
        New_York,
        vec![restricted(
            layer("Week", &["a", "b"], TurnLength::Days(2), "2026-06-01 09:00"),
            vec![Restriction::Weekly {
                start_day: Weekday::Mon,
                start: time("09:00"),
                end_day: Weekday::Fri,
                end: time("17:00"),
            }],
        )],
    );
    s.overrides.push(over(
        "o1",
        "x",
        "2026-06-02T10:00:00Z",
        "2026-06-02T14:00:00Z",
    ));
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains("\"America/New_York\""), "{json}");
    let back: headroom_oncall::Schedule = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
}
