//! Properties over random schedules around DST changes: `oncall_at` agrees with
//! `final_shifts`, and the final shifts are well formed however the range is cut.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use headroom_oncall::{Layer, Override, Restriction, Schedule, Shift, TurnLength};
use proptest::prelude::*;

use crate::common::user;

const ZONES: [Tz; 4] = [
    chrono_tz::Europe::London,
    chrono_tz::America::New_York,
    // DST of 30 minutes, changing at 02:00 local.
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Asia::Kolkata,
];
const NAMES: [&str; 4] = ["a", "b", "c", "d"];

fn quarter(q: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(q / 4 % 24, q % 4 * 15, 0).unwrap()
}

fn weekday(i: u8) -> Weekday {
    Weekday::try_from(i % 7).unwrap()
}

fn restriction() -> impl Strategy<Value = Restriction> {
    prop_oneof![
        (0u32..96, 0u32..96).prop_map(|(s, e)| Restriction::Daily {
            start: quarter(s),
            end: quarter(e),
        }),
        (0u8..7, 0u32..96, 0u8..7, 0u32..96).prop_map(|(sd, s, ed, e)| Restriction::Weekly {
            start_day: weekday(sd),
            start: quarter(s),
            end_day: weekday(ed),
            end: quarter(e),
        }),
    ]
}

fn turn() -> impl Strategy<Value = TurnLength> {
    prop_oneof![
        Just(TurnLength::Daily),
        Just(TurnLength::Weekly),
        (1u32..5).prop_map(TurnLength::Days),
        (1u32..48).prop_map(TurnLength::Hours),
    ]
}

/// Days with a DST change in one of the zones above (2026).
const CHANGES: [(u32, u32); 6] = [(3, 8), (3, 29), (4, 5), (10, 4), (10, 25), (11, 1)];

fn day(i: usize) -> DateTime<Utc> {
    let (m, d) = CHANGES[i];
    NaiveDate::from_ymd_opt(2026, m, d)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
}

/// A layer whose rotation starts within 30 days before `from` (or just after it).
fn layer(from: DateTime<Utc>) -> impl Strategy<Value = Layer> {
    (
        proptest::sample::subsequence(NAMES.to_vec(), 1..=3),
        turn(),
        // Rotation start in quarter hours relative to the range start.
        -2880i64..200,
        proptest::collection::vec(restriction(), 0..3),
        proptest::option::weighted(0.2, 1i64..4000),
    )
        .prop_map(move |(users, turn, start_q, restrictions, end_q)| {
            let start = from.naive_utc() + TimeDelta::minutes(15 * start_q);
            Layer {
                name: "layer".into(),
                users: users.into_iter().map(user).collect(),
                turn,
                rotation_start: start,
                restrictions,
                end: end_q.map(|q| start + TimeDelta::minutes(15 * q)),
            }
        })
}

fn schedule_and_range() -> impl Strategy<Value = (Schedule, DateTime<Utc>, DateTime<Utc>)> {
    // The range starts within 5 days of a DST change and lasts up to 12 days.
    (0usize..CHANGES.len(), -7200i64..7200, 1i64..17_280)
        .prop_flat_map(|(change, from_m, len_m)| {
            let from = day(change) + TimeDelta::minutes(from_m);
            let to = from + TimeDelta::minutes(len_m);
            (
                Just((from, to)),
                0usize..ZONES.len(),
                proptest::collection::vec(layer(from), 1..4),
                proptest::collection::vec((0i64..17_280, 1i64..3000, 0usize..4), 0..4),
            )
        })
        .prop_map(|((from, to), zone, layers, overrides)| {
            let overrides = overrides
                .into_iter()
                .enumerate()
                .map(|(i, (start, len, who))| {
                    // Some overrides start before the range.
                    let start = from + TimeDelta::minutes(start - 600);
                    Override {
                        id: format!("o{i}").into(),
                        user: user(NAMES[who]),
                        start,
                        end: start + TimeDelta::minutes(len),
                    }
                })
                .collect();
            let s = Schedule {
                id: "s".into(),
                name: "S".into(),
                time_zone: ZONES[zone],
                layers,
                overrides,
            };
            (s, from, to)
        })
}

fn containing(shifts: &[Shift], t: DateTime<Utc>) -> Option<&Shift> {
    shifts.iter().find(|s| s.start <= t && t < s.end)
}

/// Joins two consecutive results the way one call over the whole range merges.
fn joined(mut left: Vec<Shift>, right: Vec<Shift>) -> Vec<Shift> {
    for s in right {
        match left.last_mut() {
            Some(l) if l.end == s.start && l.user == s.user && l.source == s.source => {
                l.end = s.end;
            }
            _ => left.push(s),
        }
    }
    left
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn oncall_at_is_the_user_of_the_final_shift_holding_t(
        (s, from, to) in schedule_and_range(),
        probes in proptest::collection::vec(0.0f64..1.0, 20),
    ) {
        let shifts = s.final_shifts(from, to);
        // Well formed: ordered, non-empty, inside the range, not overlapping, fully merged.
        for sh in &shifts {
            prop_assert!(from <= sh.start && sh.start < sh.end && sh.end <= to, "{sh:?}");
        }
        for w in shifts.windows(2) {
            prop_assert!(w[0].end <= w[1].start, "overlap {:?} {:?}", w[0], w[1]);
            prop_assert!(
                !(w[0].end == w[1].start && w[0].user == w[1].user && w[0].source == w[1].source),
                "unmerged {:?} {:?}", w[0], w[1]
            );
        }
        // Random instants, and every boundary with the instant just before it.
        let span = (to - from).num_milliseconds() as f64;
        let mut times: Vec<DateTime<Utc>> = probes
            .iter()
            .map(|p| from + TimeDelta::milliseconds((p * span) as i64))
            .collect();
        for sh in &shifts {
            for b in [sh.start, sh.end] {
                times.extend([b, b - TimeDelta::nanoseconds(1)]);
            }
        }
        for t in times.into_iter().filter(|t| from <= *t && *t < to) {
            let expected = containing(&shifts, t).map(|sh| sh.user.clone());
            prop_assert_eq!(s.oncall_at(t), expected, "at {}", t);
        }
    }

    #[test]
    fn cutting_the_range_changes_nothing_but_the_cut(
        (s, from, to) in schedule_and_range(),
        cut in 0.0f64..1.0,
    ) {
        let mid = from + TimeDelta::minutes(((to - from).num_minutes() as f64 * cut) as i64);
        let whole = s.final_shifts(from, to);
        let parts = joined(s.final_shifts(from, mid), s.final_shifts(mid, to));
        prop_assert_eq!(parts, whole);
    }
}
