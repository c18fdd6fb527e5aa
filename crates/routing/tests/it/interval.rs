//! Time intervals, against Alertmanager's `timeinterval/timeinterval_test.go`
//! (`timeIntervalTestCases`, `timeStringTestCases`, `yamlUnmarshalTestCases`,
//! `completeTestCases`).

use chrono::{DateTime, Utc};
use headroom_routing::interval::{
    DayOfMonthRange, IntervalError, MonthRange, NamedTimeInterval, TimeInterval, TimeRange,
    WeekdayRange, YearRange, parse_location,
};

/// Go's `time.RFC822Z` layout, as upstream's cases are written.
fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_str(s, "%d %b %y %H:%M %z")
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

fn check(interval: &TimeInterval, inside: &[&str], outside: &[&str]) {
    for s in inside {
        assert!(interval.contains(t(s)), "{interval:?} should contain {s}");
    }
    for s in outside {
        assert!(
            !interval.contains(t(s)),
            "{interval:?} should not contain {s}"
        );
    }
}

fn weekdays(list: &[&str]) -> Vec<WeekdayRange> {
    list.iter()
        .map(|s| WeekdayRange::parse(s).unwrap())
        .collect()
}

fn days(list: &[&str]) -> Vec<DayOfMonthRange> {
    list.iter()
        .map(|s| DayOfMonthRange::parse(s).unwrap())
        .collect()
}

fn months(list: &[&str]) -> Vec<MonthRange> {
    list.iter().map(|s| MonthRange::parse(s).unwrap()).collect()
}

fn years(list: &[&str]) -> Vec<YearRange> {
    list.iter().map(|s| YearRange::parse(s).unwrap()).collect()
}

fn nine_to_five() -> Vec<TimeRange> {
    vec![TimeRange::parse("09:00", "17:00").unwrap()]
}

/// Upstream `timeIntervalTestCases` (`TestContainsTime`).
#[test]
fn upstream_contains_time() {
    check(
        &TimeInterval::default(),
        &[
            "02 Jan 06 15:04 +0000",
            "03 Jan 07 10:04 +0000",
            "04 Jan 06 09:04 +0000",
        ],
        &[],
    );
    let business = TimeInterval {
        times: nine_to_five(),
        weekdays: weekdays(&["monday:friday"]),
        ..TimeInterval::default()
    };
    check(
        &business,
        &[
            "04 May 20 15:04 +0000",
            "05 May 20 10:04 +0000",
            "09 Jun 20 09:04 +0000",
        ],
        &[
            "03 May 20 15:04 +0000",
            "04 May 20 08:59 +0000",
            "05 May 20 05:00 +0000",
        ],
    );
    let easter = TimeInterval {
        days_of_month: days(&["4:6"]),
        months: months(&["april"]),
        years: years(&["2020"]),
        ..TimeInterval::default()
    };
    check(
        &easter,
        &[
            "04 Apr 20 15:04 +0000",
            "05 Apr 20 00:00 +0000",
            "06 Apr 20 23:05 +0000",
        ],
        &[
            "03 May 18 15:04 +0000",
            "03 Apr 20 23:59 +0000",
            "04 Jun 20 23:59 +0000",
            "06 Apr 19 23:59 +0000",
            "07 Apr 20 00:00 +0000",
        ],
    );
    let last_three = TimeInterval {
        days_of_month: days(&["-3:-1"]),
        ..TimeInterval::default()
    };
    check(
        &last_three,
        &[
            "31 Jan 20 15:04 +0000",
            "30 Jan 20 15:04 +0000",
            "29 Jan 20 15:04 +0000",
            "30 Jun 20 00:00 +0000",
            "29 Feb 20 23:05 +0000",
        ],
        &[
            "03 May 18 15:04 +0000",
            "27 Jan 20 15:04 +0000",
            "03 Apr 20 23:59 +0000",
            "04 Jun 20 23:59 +0000",
            "06 Apr 19 23:59 +0000",
            "07 Apr 20 00:00 +0000",
            "01 Mar 20 00:00 +0000",
        ],
    );
    let clamped = TimeInterval {
        months: months(&["6"]),
        // Upstream builds this range directly; parsing refuses a negative start with a
        // positive end.
        days_of_month: vec![DayOfMonthRange {
            begin: -31,
            end: 31,
        }],
        ..TimeInterval::default()
    };
    check(
        &clamped,
        &["30 Jun 20 00:00 +0000", "01 Jun 20 00:00 +0000"],
        &["31 May 20 00:00 +0000", "01 Jul 20 00:00 +0000"],
    );
    let sydney = parse_location("Australia/Sydney").unwrap();
    let aest = TimeInterval {
        times: nine_to_five(),
        weekdays: weekdays(&["monday:friday"]),
        location: Some(sydney),
        ..TimeInterval::default()
    };
    check(
        &aest,
        &["06 Apr 21 13:00 +1000"],
        &["06 Apr 21 13:00 +0000"],
    );
    let aedt = TimeInterval {
        months: months(&["november"]),
        ..aest
    };
    check(
        &aedt,
        &["01 Nov 21 09:00 +1100", "31 Oct 21 22:00 +0000"],
        &["31 Oct 21 21:00 +0000"],
    );
}

/// Upstream `timeStringTestCases` (`TestParseTimeString`).
#[test]
fn upstream_time_strings() {
    let ok = [
        ("00:00", "24:00", 0, 1440),
        ("01:35", "17:39", 95, 1059),
        ("09:35", "09:39", 575, 579),
    ];
    for (start, end, start_minute, end_minute) in ok {
        assert_eq!(
            TimeRange::parse(start, end).unwrap(),
            TimeRange {
                start_minute,
                end_minute
            }
        );
    }
    assert_eq!(
        TimeRange::parse("17:31", "17:31"),
        Err(IntervalError::EmptyTimeRange)
    );
    assert_eq!(
        TimeRange::parse("12:30", "24:01"),
        Err(IntervalError::BadTime("24:01".into()))
    );
    assert_eq!(
        TimeRange::parse("09:30", "07:41"),
        Err(IntervalError::EmptyTimeRange)
    );
    assert_eq!(
        TimeRange::parse("24:00", "17:41"),
        Err(IntervalError::EmptyTimeRange)
    );
    assert_eq!(
        TimeRange::parse("14:03", "").unwrap_err().to_string(),
        "couldn't parse timestamp , invalid format"
    );
}

/// Upstream `yamlUnmarshalTestCases`: accepted intervals and what they contain.
#[test]
fn upstream_yaml_intervals() {
    check(
        &TimeInterval {
            weekdays: weekdays(&["monday:friday"]),
            times: nine_to_five(),
            ..TimeInterval::default()
        },
        &[
            "08 Jul 20 09:00 +0000",
            "08 Jul 20 16:59 +0000",
            "01 Apr 21 13:00 +0000",
        ],
        &["08 Jul 20 05:00 +0000", "08 Jul 20 08:59 +0000"],
    );
    let quarter = TimeInterval {
        weekdays: weekdays(&["monday:friday", "sunday"]),
        months: months(&["january:march"]),
        days_of_month: days(&["-7:-1"]),
        years: years(&["2020:2025", "2030:2035"]),
        times: nine_to_five(),
        location: None,
    };
    assert_eq!(
        quarter.weekdays,
        [
            WeekdayRange { begin: 1, end: 5 },
            WeekdayRange { begin: 0, end: 0 }
        ]
    );
    assert_eq!(quarter.months, [MonthRange { begin: 1, end: 3 }]);
    assert_eq!(
        quarter.days_of_month,
        [DayOfMonthRange { begin: -7, end: -1 }]
    );
    check(
        &quarter,
        &[
            "27 Jan 21 09:00 +0000",
            "28 Jan 21 16:59 +0000",
            "29 Jan 21 13:00 +0000",
            "31 Mar 25 13:00 +0000",
            "31 Jan 35 13:00 +0000",
        ],
        &[
            "30 Jan 21 13:00 +0000",
            "01 Apr 21 13:00 +0000",
            "30 Jan 26 13:00 +0000",
            "31 Jan 35 17:01 +0000",
        ],
    );
    assert_eq!(days(&["1:-1"]), [DayOfMonthRange { begin: 1, end: -1 }]);
    assert_eq!(
        months(&["January:december"]),
        [MonthRange { begin: 1, end: 12 }]
    );
    assert_eq!(
        years(&["2020:2022"]),
        [YearRange {
            begin: 2020,
            end: 2022
        }]
    );
}

/// Upstream `yamlUnmarshalTestCases`: refused strings and their exact messages.
#[test]
fn upstream_yaml_errors() {
    let msg = |e: IntervalError| e.to_string();
    assert_eq!(
        msg(TimeRange::parse("01:99", "23:59").unwrap_err()),
        "couldn't parse timestamp 01:99, invalid format"
    );
    assert_eq!(
        msg(TimeRange::parse("00:00", "99:99").unwrap_err()),
        "couldn't parse timestamp 99:99, invalid format"
    );
    let cases: Vec<(IntervalError, &str)> = vec![
        (
            WeekdayRange::parse("friday:monday").unwrap_err(),
            "start day cannot be before end day",
        ),
        (
            WeekdayRange::parse("blurgsday:flurgsday").unwrap_err(),
            "blurgsday is not a valid weekday",
        ),
        (
            WeekdayRange::parse("1:3").unwrap_err(),
            "1 is not a valid weekday",
        ),
        (
            WeekdayRange::parse("-2:-1").unwrap_err(),
            "-2 is not a valid weekday",
        ),
        (
            DayOfMonthRange::parse("0").unwrap_err(),
            "0 is not a valid day of the month: out of range",
        ),
        (
            DayOfMonthRange::parse("-50:-20").unwrap_err(),
            "-50 is not a valid day of the month: out of range",
        ),
        (
            DayOfMonthRange::parse("1:50").unwrap_err(),
            "50 is not a valid day of the month: out of range",
        ),
        (
            DayOfMonthRange::parse("-15:5").unwrap_err(),
            "end day must be negative if start day is negative",
        ),
        (
            DayOfMonthRange::parse("10:-25").unwrap_err(),
            "end day -25 is always before start day 10",
        ),
        (
            MonthRange::parse("martius:june").unwrap_err(),
            "martius is not a valid month",
        ),
        (
            MonthRange::parse("march:junius").unwrap_err(),
            "junius is not a valid month",
        ),
        (
            MonthRange::parse("december:january").unwrap_err(),
            "end month january is before start month december",
        ),
        (
            YearRange::parse("2022:2020").unwrap_err(),
            "end year 2020 is before start year 2022",
        ),
        (
            DayOfMonthRange::parse("1:2:3").unwrap_err(),
            "couldn't parse range \"1:2:3\", invalid format",
        ),
        (
            MonthRange::parse("13").unwrap_err(),
            "13 is not a valid month",
        ),
        (
            YearRange::parse("twenty").unwrap_err(),
            "twenty is not a valid year",
        ),
        (
            parse_location("Mars/Olympus").unwrap_err(),
            "unknown time zone Mars/Olympus",
        ),
    ];
    for (err, want) in cases {
        assert_eq!(err.to_string(), want);
    }
}

/// Upstream `completeTestCases` (`TestTimeIntervalComplete`).
#[test]
fn upstream_complete() {
    let interval = TimeInterval {
        weekdays: weekdays(&["monday:wednesday", "saturday", "sunday"]),
        times: vec![TimeRange::parse("13:00", "15:00").unwrap()],
        days_of_month: days(&["1", "10", "20:-1"]),
        years: years(&["2020:2023"]),
        months: months(&["january:march"]),
        location: None,
    };
    check(
        &interval,
        &["10 Jan 21 13:00 +0000", "30 Jan 21 14:24 +0000"],
        &[
            "09 Jan 21 13:00 +0000",
            "20 Jan 21 12:59 +0000",
            "02 Feb 21 13:00 +0000",
        ],
    );
    // A range starting past the month's end skips the month instead of clamping.
    let late_feb = TimeInterval {
        days_of_month: days(&["30:31"]),
        years: years(&["2020:2023"]),
        months: months(&["february"]),
        ..TimeInterval::default()
    };
    check(&late_feb, &[], &["28 Feb 21 13:00 +0000"]);
}

#[test]
fn named_intervals_hold_when_any_interval_does() {
    let weekend_or_night = NamedTimeInterval {
        name: "off-hours".into(),
        intervals: vec![
            TimeInterval {
                // Weekday ranges do not wrap: `saturday:sunday` is refused, as upstream.
                weekdays: weekdays(&["saturday", "sunday"]),
                ..TimeInterval::default()
            },
            TimeInterval {
                times: vec![TimeRange::parse("00:00", "06:00").unwrap()],
                ..TimeInterval::default()
            },
        ],
    };
    // 2024-03-02 is a Saturday; 2024-03-04 a Monday.
    assert!(weekend_or_night.contains(t("02 Mar 24 12:00 +0000")));
    assert!(weekend_or_night.contains(t("04 Mar 24 05:59 +0000")));
    assert!(!weekend_or_night.contains(t("04 Mar 24 06:00 +0000")));
    assert!(!NamedTimeInterval::default().contains(t("04 Mar 24 06:00 +0000")));
    // Names are case-insensitive; "UTC" is a location.
    assert_eq!(
        weekdays(&["Monday:FRIDAY"]),
        [WeekdayRange { begin: 1, end: 5 }]
    );
    assert!(parse_location("UTC").is_ok());
    assert_eq!(
        WeekdayRange::parse("saturday:sunday"),
        Err(IntervalError::WeekdaysBackwards)
    );
}
