//! Time intervals (`time_intervals`, formerly `mute_time_intervals`), following Alertmanager
//! 0.25's `timeinterval/timeinterval.go`.
//!
//! An interval holds at an instant when every field it sets holds (a field left empty does not
//! restrict), each field holding when any of its ranges contains the instant, read in the
//! interval's `location` (UTC when unset):
//! - `times`: `[start_time, end_time)` in minutes of the day; seconds are ignored.
//! - `weekdays`, `months`, `years`: inclusive ranges.
//! - `days_of_month`: inclusive; negative days count from the month's end (`-1` is the last
//!   day); a range starting after the month's last day skips the month, otherwise both ends are
//!   clamped to the month.
//!
//! Parsing takes the YAML strings (`"monday:friday"`, `"1:5"`, `"-1"`, `"january:march"`,
//! `"09:00"`), case-insensitively, and reports errors with upstream's messages.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use thiserror::Error;

/// Why a time interval field did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IntervalError {
    /// A time not of the form `HH:MM` (00:00 to 23:59, or 24:00).
    #[error("couldn't parse timestamp {0}, invalid format")]
    BadTime(String),
    /// `start_time` not before `end_time`.
    #[error("start time cannot be equal or greater than end time")]
    EmptyTimeRange,
    /// More than one `:` in a range.
    #[error("couldn't parse range {0:?}, invalid format")]
    BadRange(String),
    /// Not a weekday name.
    #[error("{0} is not a valid weekday")]
    BadWeekday(String),
    /// Weekday range backwards.
    #[error("start day cannot be before end day")]
    WeekdaysBackwards,
    /// Not an integer day of the month.
    #[error("{0} is not a valid day of the month")]
    BadDayOfMonth(String),
    /// Day of the month 0 or beyond ±31.
    #[error("{0} is not a valid day of the month: out of range")]
    DayOfMonthOutOfRange(i32),
    /// `-15:5`.
    #[error("end day must be negative if start day is negative")]
    NegativeStartPositiveEnd,
    /// A range empty in every month (checked against a 28-day month).
    #[error("end day {end} is always before start day {begin}")]
    DaysBackwards {
        /// Start day as written.
        begin: i32,
        /// End day as written.
        end: i32,
    },
    /// Not a month name or number.
    #[error("{0} is not a valid month")]
    BadMonth(String),
    /// Month range backwards.
    #[error("end month {end} is before start month {begin}")]
    MonthsBackwards {
        /// Start month as written (lowercased).
        begin: String,
        /// End month as written (lowercased).
        end: String,
    },
    /// Not an integer year.
    #[error("{0} is not a valid year")]
    BadYear(String),
    /// Year range backwards.
    #[error("end year {end} is before start year {begin}")]
    YearsBackwards {
        /// Start year.
        begin: i32,
        /// End year.
        end: i32,
    },
    /// Not an IANA time zone name.
    #[error("unknown time zone {0}")]
    BadLocation(String),
}

/// `[start, end)` in minutes since midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// First minute inside.
    pub start_minute: u32,
    /// First minute after (at most 1440).
    pub end_minute: u32,
}

impl TimeRange {
    /// Parses `start_time`/`end_time` strings such as `"09:00"` and `"24:00"`.
    pub fn parse(start: &str, end: &str) -> Result<TimeRange, IntervalError> {
        let (start_minute, end_minute) = (parse_time(start)?, parse_time(end)?);
        if start_minute >= end_minute {
            return Err(IntervalError::EmptyTimeRange);
        }
        Ok(TimeRange {
            start_minute,
            end_minute,
        })
    }
}

fn parse_time(s: &str) -> Result<u32, IntervalError> {
    let bad = || IntervalError::BadTime(s.to_owned());
    if s == "24:00" {
        return Ok(24 * 60);
    }
    let b = s.as_bytes();
    if b.len() != 5
        || b[2] != b':'
        || !b
            .iter()
            .enumerate()
            .all(|(i, c)| i == 2 || c.is_ascii_digit())
    {
        return Err(bad());
    }
    let hours = u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0');
    let minutes = u32::from(b[3] - b'0') * 10 + u32::from(b[4] - b'0');
    if hours > 23 || minutes > 59 {
        return Err(bad());
    }
    Ok(hours * 60 + minutes)
}

/// Splits `a:b` (or `a`, meaning `a:a`), lowercased.
fn split_range(s: &str) -> Result<(String, String), IntervalError> {
    let lower = s.to_lowercase();
    let mut parts = lower.split(':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(one), None, _) => Ok((one.to_owned(), one.to_owned())),
        (Some(a), Some(b), None) => Ok((a.to_owned(), b.to_owned())),
        _ => Err(IntervalError::BadRange(lower.clone())),
    }
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Inclusive weekdays, 0 = Sunday … 6 = Saturday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeekdayRange {
    /// First day.
    pub begin: u32,
    /// Last day.
    pub end: u32,
}

impl WeekdayRange {
    /// Parses `"monday:friday"` or `"sunday"`; names only, as upstream.
    pub fn parse(s: &str) -> Result<WeekdayRange, IntervalError> {
        let (a, b) = split_range(s)?;
        let day = |name: &str| {
            WEEKDAYS
                .iter()
                .position(|d| *d == name)
                .map(|i| i as u32)
                .ok_or_else(|| IntervalError::BadWeekday(name.to_owned()))
        };
        let (begin, end) = (day(&a)?, day(&b)?);
        if begin > end {
            return Err(IntervalError::WeekdaysBackwards);
        }
        Ok(WeekdayRange { begin, end })
    }
}

/// Inclusive days of the month; negative counts from the end (-1 = last day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayOfMonthRange {
    /// First day.
    pub begin: i32,
    /// Last day.
    pub end: i32,
}

impl DayOfMonthRange {
    /// Parses `"1:5"`, `"-1"`, `"-7:-1"`, `"1:-1"`.
    pub fn parse(s: &str) -> Result<DayOfMonthRange, IntervalError> {
        let (a, b) = split_range(s)?;
        let day = |text: &str| {
            text.parse::<i32>()
                .map_err(|_| IntervalError::BadDayOfMonth(text.to_owned()))
        };
        let (begin, end) = (day(&a)?, day(&b)?);
        for d in [begin, end] {
            if d == 0 || !(-31..=31).contains(&d) {
                return Err(IntervalError::DayOfMonthOutOfRange(d));
            }
        }
        if begin < 0 && end > 0 {
            return Err(IntervalError::NegativeStartPositiveEnd);
        }
        // Upstream rejects only ranges empty even in the shortest (28-day) month.
        let in_short_month = |d: i32| if d < 0 { 28 + d } else { d };
        if in_short_month(begin) > in_short_month(end) {
            return Err(IntervalError::DaysBackwards { begin, end });
        }
        Ok(DayOfMonthRange { begin, end })
    }
}

/// Inclusive months, 1 = January.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthRange {
    /// First month.
    pub begin: u32,
    /// Last month.
    pub end: u32,
}

impl MonthRange {
    /// Parses `"january:march"`, `"may"`, `"1:3"`.
    pub fn parse(s: &str) -> Result<MonthRange, IntervalError> {
        let (a, b) = split_range(s)?;
        let month = |text: &str| {
            MONTHS
                .iter()
                .position(|m| *m == text)
                .map(|i| i as u32 + 1)
                .or_else(|| text.parse::<u32>().ok().filter(|m| (1..=12).contains(m)))
                .ok_or_else(|| IntervalError::BadMonth(text.to_owned()))
        };
        let (begin, end) = (month(&a)?, month(&b)?);
        if begin > end {
            return Err(IntervalError::MonthsBackwards { begin: a, end: b });
        }
        Ok(MonthRange { begin, end })
    }
}

/// Inclusive years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YearRange {
    /// First year.
    pub begin: i32,
    /// Last year.
    pub end: i32,
}

impl YearRange {
    /// Parses `"2020:2025"` or `"2020"`.
    pub fn parse(s: &str) -> Result<YearRange, IntervalError> {
        let (a, b) = split_range(s)?;
        let year = |text: &str| {
            text.parse::<i32>()
                .map_err(|_| IntervalError::BadYear(text.to_owned()))
        };
        let (begin, end) = (year(&a)?, year(&b)?);
        if begin > end {
            return Err(IntervalError::YearsBackwards { begin, end });
        }
        Ok(YearRange { begin, end })
    }
}

/// Parses a `location` (an IANA zone name such as `Australia/Sydney`, or `UTC`).
pub fn parse_location(name: &str) -> Result<Tz, IntervalError> {
    name.parse::<Tz>()
        .map_err(|_| IntervalError::BadLocation(name.to_owned()))
}

/// One `time_intervals[].time_intervals[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TimeInterval {
    /// Times of day; empty = any time.
    pub times: Vec<TimeRange>,
    /// Weekdays; empty = any.
    pub weekdays: Vec<WeekdayRange>,
    /// Days of the month; empty = any.
    pub days_of_month: Vec<DayOfMonthRange>,
    /// Months; empty = any.
    pub months: Vec<MonthRange>,
    /// Years; empty = any.
    pub years: Vec<YearRange>,
    /// Zone the fields are read in; `None` = UTC.
    pub location: Option<Tz>,
}

impl TimeInterval {
    /// Whether the interval holds at `at`.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        match self.location {
            Some(tz) => self.contains_local(&at.with_timezone(&tz)),
            None => self.contains_local(&at),
        }
    }

    fn contains_local<T: Datelike + Timelike>(&self, t: &T) -> bool {
        let minute = t.hour() * 60 + t.minute();
        if !self.times.is_empty()
            && !self
                .times
                .iter()
                .any(|r| minute >= r.start_minute && minute < r.end_minute)
        {
            return false;
        }
        if !self.days_of_month.is_empty() {
            let days = days_in_month(t.year(), t.month());
            let day = t.day() as i32;
            let held = self.days_of_month.iter().any(|r| {
                let resolve = |d: i32| if d < 0 { days + d + 1 } else { d };
                let (begin, end) = (resolve(r.begin), resolve(r.end));
                // A range starting past this month's end does not apply to it at all.
                if begin > days {
                    return false;
                }
                let (begin, end) = (begin.clamp(-days, days), end.clamp(-days, days));
                day >= begin && day <= end
            });
            if !held {
                return false;
            }
        }
        if !self.months.is_empty()
            && !self
                .months
                .iter()
                .any(|r| (r.begin..=r.end).contains(&t.month()))
        {
            return false;
        }
        let weekday = t.weekday().num_days_from_sunday();
        if !self.weekdays.is_empty()
            && !self
                .weekdays
                .iter()
                .any(|r| (r.begin..=r.end).contains(&weekday))
        {
            return false;
        }
        if !self.years.is_empty()
            && !self
                .years
                .iter()
                .any(|r| (r.begin..=r.end).contains(&t.year()))
        {
            return false;
        }
        true
    }
}

/// A named `time_intervals` entry: holds when any of its intervals does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NamedTimeInterval {
    /// The name routes refer to.
    pub name: String,
    /// The intervals; none means the name never holds.
    pub intervals: Vec<TimeInterval>,
}

impl NamedTimeInterval {
    /// Whether any of the intervals holds at `at`.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.intervals.iter().any(|i| i.contains(at))
    }
}

fn days_in_month(year: i32, month: u32) -> i32 {
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(next_year, next_month, 1)
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| d.day() as i32)
}
