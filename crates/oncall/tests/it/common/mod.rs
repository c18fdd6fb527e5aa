//! Builders shared by the integration tests.

use chrono::{DateTime, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use headroom_oncall::{Layer, Override, Restriction, Schedule, Shift, Source, TurnLength, UserId};

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

pub fn local(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub fn time(s: &str) -> NaiveTime {
    NaiveTime::parse_from_str(s, "%H:%M").unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub fn user(id: &str) -> UserId {
    UserId::new(id)
}

pub fn layer(name: &str, users: &[&str], turn: TurnLength, start: &str) -> Layer {
    Layer {
        name: name.into(),
        users: users.iter().map(|u| user(u)).collect(),
        turn,
        rotation_start: local(start),
        restrictions: Vec::new(),
        end: None,
    }
}

pub fn restricted(mut l: Layer, restrictions: Vec<Restriction>) -> Layer {
    l.restrictions = restrictions;
    l
}

pub fn schedule(tz: Tz, layers: Vec<Layer>) -> Schedule {
    Schedule {
        id: "primary".into(),
        name: "Primary".into(),
        time_zone: tz,
        layers,
        overrides: Vec::new(),
    }
}

pub fn over(id: &str, who: &str, start: &str, end: &str) -> Override {
    Override {
        id: id.into(),
        user: user(who),
        start: utc(start),
        end: utc(end),
    }
}

pub fn shift(who: &str, start: &str, end: &str, source: Source) -> Shift {
    Shift {
        user: user(who),
        start: utc(start),
        end: utc(end),
        source,
    }
}

/// Shifts as (user, start, end) in RFC 3339, for readable failure output.
pub fn plain(shifts: &[Shift]) -> Vec<(String, String, String)> {
    shifts
        .iter()
        .map(|s| (s.user.to_string(), s.start.to_rfc3339(), s.end.to_rfc3339()))
        .collect()
}
