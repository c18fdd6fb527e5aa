//! iCalendar feeds, read back by a real parser (Python's `icalendar`).

use std::io::Write;
use std::process::{Command, Stdio};

use chrono::TimeDelta;
use chrono_tz::Europe::London;
use headroom_oncall::ical::{escape_text, fold, schedule_feed, user_feed};
use headroom_oncall::{Directory, Schedule, Shift, TurnLength, User};
use serde_json::Value;

use crate::common::*;

const PARSER: &str = r#"
import json, sys
try:
    import icalendar
except ImportError:
    sys.exit(3)
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read().decode("utf-8"))
events = []
for ev in cal.walk("VEVENT"):
    events.append({
        "uid": str(ev["UID"]),
        "start": ev["DTSTART"].dt.isoformat(),
        "end": ev["DTEND"].dt.isoformat(),
        "stamp": ev["DTSTAMP"].dt.isoformat(),
        "summary": str(ev["SUMMARY"]),
    })
print(json.dumps({
    "version": str(cal["VERSION"]),
    "prodid": str(cal["PRODID"]),
    "calscale": str(cal["CALSCALE"]),
    "events": events,
}))
"#;

/// Parses `feed` with Python's `icalendar`. Fails (never skips) when it is not installed.
fn parse(feed: &str) -> Value {
    let missing = "python3 with the icalendar module is required: pip install icalendar";
    let mut child = Command::new("python3")
        .args(["-c", PARSER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{missing} ({e})"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(feed.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.code() == Some(3) {
        panic!("{missing}");
    }
    assert!(
        out.status.success(),
        "the parser refused the feed: {}\n{feed}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn person(id: &str, name: &str) -> User {
    User {
        id: user(id),
        name: name.into(),
        email: format!("{id}@example.com"),
        time_zone: London,
        contact_methods: vec![],
    }
}

/// A long name with multi-byte characters and every character TEXT escapes.
const LONG_NAME: &str =
    "Zoë Ångström-Øverlîe, \"Ops; Nights\" \\ 東京 オンコール担当 🚨🚨🚨 — weekend cover";

fn fixture() -> (Directory, Schedule) {
    let mut s = schedule(
        London,
        vec![layer(
            "Daily",
            &["alice", "zoe"],
            TurnLength::Daily,
            "2026-03-27 09:00",
        )],
    );
    s.overrides.push(over(
        "o1",
        "bob",
        "2026-03-29T12:00:00Z",
        "2026-03-29T15:30:00Z",
    ));
    let dir = Directory {
        users: vec![
            person("alice", "Alice"),
            person("zoe", LONG_NAME),
            person("bob", "Bob\nSmith"),
        ],
        schedules: vec![s.clone()],
        ..Directory::default()
    };
    (dir, s)
}

/// What the parser should report for a shift, times as Python's isoformat writes them.
fn expected(dir: &Directory, shifts: &[Shift]) -> Vec<(String, String, String)> {
    shifts
        .iter()
        .map(|s| {
            let name = &dir.user(&s.user).unwrap().name;
            (
                s.start.to_rfc3339(),
                s.end.to_rfc3339(),
                format!("On call: {name} (Primary)"),
            )
        })
        .collect()
}

fn events(parsed: &Value) -> Vec<(String, String, String)> {
    parsed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["start"].as_str().unwrap().to_string(),
                e["end"].as_str().unwrap().to_string(),
                e["summary"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every physical line ends in CRLF, is valid UTF-8 on its own, and fits in 75 octets.
fn assert_wire_format(feed: &str) {
    assert!(feed.ends_with("\r\n"));
    // Drop only the final LF, so every line, the last too, must end in CR.
    let body = &feed.as_bytes()[..feed.len() - 1];
    for line in body.split(|b| *b == b'\n') {
        assert_eq!(line.last(), Some(&b'\r'), "bare LF in {feed:?}");
        let line = &line[..line.len() - 1];
        assert!(!line.contains(&b'\r'), "bare CR");
        assert!(line.len() <= 75, "{} octets: {:?}", line.len(), line);
        std::str::from_utf8(line).expect("a fold split a UTF-8 sequence");
    }
}

#[test]
fn schedule_feed_parses_back_to_the_final_shifts() {
    let (dir, s) = fixture();
    let (from, to) = (utc("2026-03-27T00:00:00Z"), utc("2026-03-31T00:00:00Z"));
    let now = utc("2026-03-26T10:11:12Z");
    let feed = schedule_feed(&s, &dir, from, to, now);
    assert_wire_format(&feed);

    let shifts = s.final_shifts(from, to);
    assert_eq!(shifts.len(), 6, "{:#?}", plain(&shifts));
    let parsed = parse(&feed);
    assert_eq!(parsed["version"], "2.0");
    assert_eq!(parsed["calscale"], "GREGORIAN");
    assert!(parsed["prodid"].as_str().unwrap().contains("headroom"));
    assert_eq!(events(&parsed), expected(&dir, &shifts));
    for e in parsed["events"].as_array().unwrap() {
        assert_eq!(e["stamp"], "2026-03-26T10:11:12+00:00");
    }
    // UIDs differ between events and stay the same across renders.
    let uids: Vec<&str> = parsed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["uid"].as_str().unwrap())
        .collect();
    let mut unique = uids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), uids.len());
    let later = schedule_feed(&s, &dir, from, to, now + TimeDelta::hours(5));
    let reparsed = parse(&later);
    let again: Vec<&str> = reparsed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["uid"].as_str().unwrap())
        .collect();
    assert_eq!(again, uids);
}

#[test]
fn long_utf8_summary_is_folded_and_unfolds_to_the_same_text() {
    let (dir, s) = fixture();
    let (from, to) = (utc("2026-03-28T00:00:00Z"), utc("2026-03-29T00:00:00Z"));
    let feed = schedule_feed(&s, &dir, from, to, utc("2026-03-26T00:00:00Z"));
    assert_wire_format(&feed);
    assert!(
        feed.contains("\r\n "),
        "the long summary must be folded: {feed}"
    );
    let parsed = parse(&feed);
    let summaries: Vec<String> = events(&parsed).into_iter().map(|e| e.2).collect();
    assert_eq!(
        summaries,
        vec![
            "On call: Alice (Primary)".to_string(),
            format!("On call: {LONG_NAME} (Primary)"),
        ]
    );
}

#[test]
fn user_feed_holds_only_that_users_shifts_across_schedules() {
    let (mut dir, s) = fixture();
    let mut second = schedule(
        London,
        vec![layer(
            "Nights",
            &["bob"],
            TurnLength::Weekly,
            "2026-03-23 20:00",
        )],
    );
    second.id = "secondary".into();
    second.name = "Secondary".into();
    dir.schedules.push(second.clone());
    let (from, to) = (utc("2026-03-29T00:00:00Z"), utc("2026-03-30T00:00:00Z"));
    let feed = user_feed(&user("bob"), &dir, from, to, utc("2026-03-26T00:00:00Z"));
    assert_wire_format(&feed);
    let got = events(&parse(&feed));
    assert_eq!(
        got,
        vec![
            (
                "2026-03-29T00:00:00+00:00".to_string(),
                "2026-03-30T00:00:00+00:00".to_string(),
                "On call: Bob\nSmith (Secondary)".to_string(),
            ),
            (
                "2026-03-29T12:00:00+00:00".to_string(),
                "2026-03-29T15:30:00+00:00".to_string(),
                "On call: Bob\nSmith (Primary)".to_string(),
            ),
        ]
    );
    assert_eq!(s.final_shifts(from, to).len(), 4);
}

#[test]
fn empty_range_is_a_valid_calendar_without_events() {
    let (dir, s) = fixture();
    let t = utc("2026-03-28T00:00:00Z");
    let feed = schedule_feed(&s, &dir, t, t, t);
    assert_wire_format(&feed);
    let parsed = parse(&feed);
    assert_eq!(parsed["events"].as_array().unwrap().len(), 0);
    assert!(feed.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
}

#[test]
fn text_escaping_and_folding_rules() {
    assert_eq!(escape_text("a\\b;c,d\ne\r\n"), "a\\\\b\\;c\\,d\\ne\\n");
    assert_eq!(fold(&"x".repeat(75)), "x".repeat(75));
    assert_eq!(fold(&"x".repeat(76)), format!("{}\r\n x", "x".repeat(75)));
    // 74 ASCII octets then a 4-octet emoji: the cut moves before the emoji.
    let folded = fold(&format!("{}🚨", "x".repeat(74)));
    assert_eq!(folded, format!("{}\r\n 🚨", "x".repeat(74)));
    // Continuation lines carry 74 octets after their leading space.
    let folded = fold(&"y".repeat(75 + 74 + 1));
    let lines: Vec<&str> = folded.split("\r\n").collect();
    assert_eq!(
        lines.iter().map(|l| l.len()).collect::<Vec<_>>(),
        [75, 75, 2]
    );
}
