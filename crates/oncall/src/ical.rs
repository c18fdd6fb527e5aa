//! iCalendar (RFC 5545) feeds of on-call shifts, for calendar subscriptions.
//!
//! Times are written in UTC (`…Z`), so a feed needs no VTIMEZONE and reads the same in
//! every client. A shift's UID is derived from its schedule, user, source and start, so the
//! same shift keeps its UID from one render to the next (a shift clipped by the feed's range
//! starts at the range start, and so has its own UID).

use chrono::{DateTime, Utc};

use crate::directory::Directory;
use crate::ids::UserId;
use crate::schedule::{Schedule, Shift, Source};

const PRODID: &str = "-//headroom//on-call//EN";

/// The final shifts of `schedule` over `[from, to)`, one event each. `now` is the DTSTAMP.
pub fn schedule_feed(
    schedule: &Schedule,
    directory: &Directory,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> String {
    let shifts = schedule.final_shifts(from, to);
    let events: Vec<(&Schedule, &Shift)> = shifts.iter().map(|s| (schedule, s)).collect();
    calendar(
        &format!("On call: {}", schedule.name),
        &events,
        directory,
        now,
    )
}

/// Every final shift `user` has in any schedule of the directory over `[from, to)`, in time
/// order. `now` is the DTSTAMP.
pub fn user_feed(
    user: &UserId,
    directory: &Directory,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> String {
    let shifts: Vec<(&Schedule, Vec<Shift>)> = directory
        .schedules
        .iter()
        .map(|s| (s, s.final_shifts(from, to)))
        .collect();
    let mut events: Vec<(&Schedule, &Shift)> = shifts
        .iter()
        .flat_map(|(schedule, shifts)| shifts.iter().map(move |s| (*schedule, s)))
        .filter(|(_, s)| &s.user == user)
        .collect();
    events.sort_by(|a, b| (a.1.start, &a.0.id).cmp(&(b.1.start, &b.0.id)));
    let name = display_name(directory, user);
    calendar(&format!("On call: {name}"), &events, directory, now)
}

fn calendar(
    title: &str,
    events: &[(&Schedule, &Shift)],
    directory: &Directory,
    now: DateTime<Utc>,
) -> String {
    let mut out = String::new();
    let mut line = |content: String| {
        out.push_str(&fold(&content));
        out.push_str("\r\n");
    };
    line("BEGIN:VCALENDAR".into());
    line("VERSION:2.0".into());
    line(format!("PRODID:{PRODID}"));
    line("CALSCALE:GREGORIAN".into());
    line("METHOD:PUBLISH".into());
    line(format!("X-WR-CALNAME:{}", escape_text(title)));
    for (schedule, shift) in events {
        let name = display_name(directory, &shift.user);
        let source = match &shift.source {
            Source::Layer(i) => schedule
                .layers
                .get(*i)
                .map_or_else(|| format!("Layer {i}"), |l| format!("Layer: {}", l.name)),
            Source::Override(id) => format!("Override {id}"),
        };
        let source_key = match &shift.source {
            Source::Layer(i) => format!("layer-{i}"),
            Source::Override(id) => format!("override-{id}"),
        };
        line("BEGIN:VEVENT".into());
        line(format!(
            "UID:{}",
            escape_text(&format!(
                "{}/{}/{}/{}@headroom",
                schedule.id,
                shift.user,
                source_key,
                utc(shift.start)
            ))
        ));
        line(format!("DTSTAMP:{}", utc(now)));
        line(format!("DTSTART:{}", utc(shift.start)));
        line(format!("DTEND:{}", utc(shift.end)));
        line(format!(
            "SUMMARY:{}",
            escape_text(&format!("On call: {name} ({})", schedule.name))
        ));
        line(format!("DESCRIPTION:{}", escape_text(&source)));
        line("TRANSP:TRANSPARENT".into());
        line("END:VEVENT".into());
    }
    line("END:VCALENDAR".into());
    out
}

fn display_name(directory: &Directory, user: &UserId) -> String {
    directory
        .user(user)
        .map_or_else(|| user.to_string(), |u| u.name.clone())
}

/// An instant as an RFC 5545 UTC DATE-TIME (`20260329T010000Z`).
fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value escaped per RFC 5545 §3.3.11: backslash, semicolon, comma and newline.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            // A bare CR would end the line early in some readers; CRLF became `\n` above.
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// One content line folded per RFC 5545 §3.1: no physical line longer than 75 octets (the
/// leading space of a continuation counts), cut only between UTF-8 characters. Joined with
/// CRLF, without a final line end.
pub fn fold(line: &str) -> String {
    const LIMIT: usize = 75;
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3);
    let mut rest = line;
    let mut limit = LIMIT;
    loop {
        if rest.len() <= limit {
            out.push_str(rest);
            return out;
        }
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        out.push_str(head);
        out.push_str("\r\n ");
        rest = tail;
        limit = LIMIT - 1;
    }
}
