//! Local wall-clock time to instants, with the rules schedules use at DST changes.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant a local wall-clock time names in `tz`. A time that does not exist (skipped by
/// a spring-forward gap) moves to the first instant after the gap; an ambiguous one (repeated
/// by a fall-back) takes its first occurrence.
pub fn resolve(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.with_timezone(&Utc).min(b.with_timezone(&Utc)),
        LocalResult::None => first_after_gap(tz, local),
    }
}

/// The wall-clock time at `at` in `tz`.
pub fn local_of(tz: Tz, at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&tz).naive_local()
}

/// The first instant whose local time is at or after `local`: the end of the gap holding it.
/// Offsets stay within ±14 h, so the answer lies within ±26 h of `local` read as UTC, and
/// zones do not change offset twice within that span, so local time is monotonic there.
fn first_after_gap(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let guess = local.and_utc().timestamp();
    let (mut lo, mut hi) = (guess - 26 * 3600, guess + 26 * 3600);
    let local_at = |s: i64| tz.timestamp_opt(s, 0).unwrap().naive_local();
    // Transitions fall on whole seconds, so searching seconds finds the exact instant.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local_at(mid) >= local {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::from_timestamp(hi, 0).expect("in chrono's range")
}
