//! Compliance windows: rolling (the last N) and calendar (this week, month, quarter, year in a time zone).

use chrono::{Datelike, LocalResult, NaiveDate, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::time::{Span, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarUnit {
    Week,
    Month,
    Quarter,
    Year,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Window {
    Rolling {
        length: Span,
    },
    Calendar {
        unit: CalendarUnit,
        #[serde(with = "tz_name")]
        tz: Tz,
    },
}

/// The stretch of time a budget is counted over at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: Timestamp,
    /// Where this budget period ends: `now` for a rolling window, the calendar boundary otherwise.
    pub end: Timestamp,
}

impl Period {
    pub fn length(&self) -> Span {
        self.end - self.start
    }
}

impl Window {
    /// The length alert factors are scaled by: the rolling length, or the unit's usual length
    /// (a month counts as 30 days, as in Sloth's period).
    pub fn nominal_length(&self) -> Span {
        match self {
            Window::Rolling { length } => *length,
            Window::Calendar { unit, .. } => match unit {
                CalendarUnit::Week => Span::WEEK,
                CalendarUnit::Month => Span::days(30),
                CalendarUnit::Quarter => Span::days(91),
                CalendarUnit::Year => Span::days(365),
            },
        }
    }

    /// The longest the window can be (31-day month, 92-day quarter, 366-day year, plus a DST hour).
    pub fn max_length(&self) -> Span {
        match self {
            Window::Rolling { length } => *length,
            Window::Calendar { unit, .. } => {
                let days = match unit {
                    CalendarUnit::Week => 7,
                    CalendarUnit::Month => 31,
                    CalendarUnit::Quarter => 92,
                    CalendarUnit::Year => 366,
                };
                Span::days(days) + Span::HOUR
            }
        }
    }

    /// The whole budget period containing `now`. For a rolling window it ends at `now`.
    pub fn period(&self, now: Timestamp) -> Period {
        match *self {
            Window::Rolling { length } => Period {
                start: now - length,
                end: now,
            },
            Window::Calendar { unit, tz } => {
                let local = tz
                    .timestamp_millis_opt(now.millis())
                    .single()
                    .map(|t| t.date_naive());
                let date = local.unwrap_or_else(|| now.to_chrono().date_naive());
                let (start, next) = calendar_bounds(unit, date);
                Period {
                    start: local_midnight(tz, start),
                    end: local_midnight(tz, next),
                }
            }
        }
    }

    /// The part of the period that has elapsed at `now`: what events can have been counted in.
    pub fn elapsed(&self, now: Timestamp) -> Period {
        let p = self.period(now);
        Period {
            start: p.start,
            end: now,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Window::Rolling { length } => format!("rolling {length}"),
            Window::Calendar { unit, tz } => {
                let u = match unit {
                    CalendarUnit::Week => "week",
                    CalendarUnit::Month => "month",
                    CalendarUnit::Quarter => "quarter",
                    CalendarUnit::Year => "year",
                };
                format!("calendar {u} ({tz})")
            }
        }
    }
}

fn calendar_bounds(unit: CalendarUnit, d: NaiveDate) -> (NaiveDate, NaiveDate) {
    let ymd = |y, m| NaiveDate::from_ymd_opt(y, m, 1).expect("first of month exists");
    match unit {
        CalendarUnit::Week => {
            // ISO weeks start on Monday.
            let start = d - chrono::Duration::days(d.weekday().num_days_from_monday() as i64);
            (start, start + chrono::Duration::days(7))
        }
        CalendarUnit::Month => {
            let start = ymd(d.year(), d.month());
            let next = if d.month() == 12 {
                ymd(d.year() + 1, 1)
            } else {
                ymd(d.year(), d.month() + 1)
            };
            (start, next)
        }
        CalendarUnit::Quarter => {
            let m0 = (d.month() - 1) / 3 * 3 + 1;
            let start = ymd(d.year(), m0);
            let next = if m0 == 10 {
                ymd(d.year() + 1, 1)
            } else {
                ymd(d.year(), m0 + 3)
            };
            (start, next)
        }
        CalendarUnit::Year => (ymd(d.year(), 1), ymd(d.year() + 1, 1)),
    }
}

/// Local midnight of `d` in `tz`; where midnight does not exist (a DST jump at 00:00) the first
/// instant after the gap.
fn local_midnight(tz: Tz, d: NaiveDate) -> Timestamp {
    let naive = d.and_hms_opt(0, 0, 0).expect("midnight exists");
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Timestamp::from_chrono(&t),
        LocalResult::Ambiguous(first, _) => Timestamp::from_chrono(&first),
        LocalResult::None => {
            let mut probe = naive;
            loop {
                probe += chrono::Duration::minutes(15);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return Timestamp::from_chrono(&t);
                }
            }
        }
    }
}

mod tz_name {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom(format!("unknown time zone {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::from_chrono(&chrono::DateTime::parse_from_rfc3339(s).unwrap())
    }

    #[test]
    fn rolling_period_ends_now() {
        let w = Window::Rolling {
            length: Span::days(30),
        };
        let now = ts("2026-03-10T12:00:00Z");
        let p = w.period(now);
        assert_eq!(p.end, now);
        assert_eq!(p.length(), Span::days(30));
    }

    #[test]
    fn calendar_month_across_month_end_in_a_zone() {
        let w = Window::Calendar {
            unit: CalendarUnit::Month,
            tz: chrono_tz::Europe::Berlin,
        };
        // 23:30 UTC on Jan 31 is already Feb 1 in Berlin.
        let p = w.period(ts("2026-01-31T23:30:00Z"));
        assert_eq!(p.start, ts("2026-01-31T23:00:00Z"));
        assert_eq!(p.end, ts("2026-02-28T23:00:00Z"));
        assert_eq!(p.length(), Span::days(28));
        let p = w.period(ts("2026-01-31T22:30:00Z"));
        assert_eq!(p.start, ts("2025-12-31T23:00:00Z"));
    }

    #[test]
    fn calendar_month_with_dst_change_is_an_hour_short() {
        // Berlin springs forward on 2026-03-29: March has 31 days less one hour.
        let w = Window::Calendar {
            unit: CalendarUnit::Month,
            tz: chrono_tz::Europe::Berlin,
        };
        let p = w.period(ts("2026-03-15T00:00:00Z"));
        assert_eq!(p.start, ts("2026-02-28T23:00:00Z"));
        assert_eq!(p.end, ts("2026-03-31T22:00:00Z"));
        assert_eq!(p.length(), Span::days(31) - Span::HOUR);
    }

    #[test]
    fn calendar_week_quarter_year() {
        let utc = chrono_tz::UTC;
        let now = ts("2026-05-14T10:00:00Z"); // a Thursday
        let week = Window::Calendar {
            unit: CalendarUnit::Week,
            tz: utc,
        }
        .period(now);
        assert_eq!(week.start, ts("2026-05-11T00:00:00Z"));
        let q = Window::Calendar {
            unit: CalendarUnit::Quarter,
            tz: utc,
        }
        .period(now);
        assert_eq!(
            (q.start, q.end),
            (ts("2026-04-01T00:00:00Z"), ts("2026-07-01T00:00:00Z"))
        );
        let y = Window::Calendar {
            unit: CalendarUnit::Year,
            tz: utc,
        }
        .period(now);
        assert_eq!(
            (y.start, y.end),
            (ts("2026-01-01T00:00:00Z"), ts("2027-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn midnight_inside_a_dst_gap_moves_to_the_first_instant_after() {
        // Chile springs forward at local midnight: 2026-09-06 00:00 does not exist in Santiago.
        let t = local_midnight(
            chrono_tz::America::Santiago,
            NaiveDate::from_ymd_opt(2026, 9, 6).unwrap(),
        );
        assert_eq!(t.to_chrono().format("%H:%M").to_string(), "04:00");
    }
}
