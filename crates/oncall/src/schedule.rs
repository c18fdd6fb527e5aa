//! Schedules: rotation layers, restrictions, overrides, and the final schedule they make.

use chrono::{DateTime, Datelike, Days, NaiveDateTime, NaiveTime, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::ids::{OverrideId, ScheduleId, UserId};
use crate::local::{local_of, resolve};

/// Who is on call when: layers stacked in order, overrides on top. Local times (rotation
/// starts, restrictions, layer ends) are read in `time_zone`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub id: ScheduleId,
    pub name: String,
    pub time_zone: Tz,
    pub layers: Vec<Layer>,
    #[serde(default)]
    pub overrides: Vec<Override>,
}

/// One rotation: `users` take turns in order, the first turn beginning at `rotation_start`.
///
/// Before `rotation_start` and from `end` on the layer covers nothing. With restrictions it
/// covers only times inside one of them; the turns still run underneath (a restriction
/// masks time, it does not pause the rotation), as in PagerDuty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    pub name: String,
    pub users: Vec<UserId>,
    pub turn: TurnLength,
    /// The first hand-off, in the schedule's zone.
    pub rotation_start: NaiveDateTime,
    #[serde(default)]
    pub restrictions: Vec<Restriction>,
    /// When the layer stops covering, in the schedule's zone.
    #[serde(default)]
    pub end: Option<NaiveDateTime>,
}

/// How long one user's turn lasts.
///
/// Day-based turns (`Daily`, `Weekly`, `Days`) hand off at the same local wall-clock time, so
/// a turn spanning a DST change is an hour shorter or longer. `Hours` turns are elapsed time:
/// every turn is exactly `n` hours and the local hand-off time shifts by the DST change.
/// [`Directory::validate`](crate::Directory::validate) refuses a zero `n`; one used anyway
/// counts as 1, so no rotation divides by zero or stalls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnLength {
    Daily,
    Weekly,
    Days(u32),
    Hours(u32),
}

/// A recurring local time range a layer is limited to. The range runs from its start to the
/// next occurrence of its end, so `Daily { start: 22:00, end: 06:00 }` crosses midnight, and
/// an end equal to the start means a full day (or week).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Restriction {
    Daily {
        start: NaiveTime,
        end: NaiveTime,
    },
    Weekly {
        start_day: Weekday,
        start: NaiveTime,
        end_day: Weekday,
        end: NaiveTime,
    },
}

/// `user` is on call over `[start, end)`, whatever the layers say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    pub id: OverrideId,
    pub user: UserId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// A stretch of time `[start, end)` one user is on call, and what put them there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    pub user: UserId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The layer at this index of [`Schedule::layers`].
    Layer(usize),
    Override(OverrideId),
}

type Span = (DateTime<Utc>, DateTime<Utc>);

impl Schedule {
    /// Who is on call at `at`: the last override covering it, else the last layer covering
    /// it, else nobody. Ranges are start-inclusive and end-exclusive.
    pub fn oncall_at(&self, at: DateTime<Utc>) -> Option<UserId> {
        if let Some(o) = self
            .overrides
            .iter()
            .rev()
            .find(|o| o.start <= at && at < o.end)
        {
            return Some(o.user.clone());
        }
        self.layers
            .iter()
            .rev()
            .find_map(|layer| layer.user_at(self.time_zone, at))
            .cloned()
    }

    /// The final schedule over `[from, to)`: who is on call and why, in time order, with
    /// gaps where nobody is. Adjacent pieces with the same user and source are merged, and
    /// pieces are clipped to the range.
    pub fn final_shifts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Shift> {
        if from >= to {
            return Vec::new();
        }
        let layers: Vec<Vec<(Span, &UserId)>> = self
            .layers
            .iter()
            .map(|l| l.pieces(self.time_zone, from, to))
            .collect();
        let overrides: Vec<&Override> = self
            .overrides
            .iter()
            .filter(|o| o.start < to && from < o.end && o.start < o.end)
            .collect();

        // Between two consecutive boundaries nothing changes, so each elementary stretch
        // has one winner.
        let mut bounds = vec![from, to];
        for pieces in &layers {
            for ((s, e), _) in pieces {
                bounds.extend([*s, *e]);
            }
        }
        for o in &overrides {
            bounds.extend([o.start.max(from), o.end.min(to)]);
        }
        bounds.sort();
        bounds.dedup();

        let mut shifts: Vec<Shift> = Vec::new();
        for w in bounds.windows(2) {
            let (a, b) = (w[0], w[1]);
            let winner = overrides
                .iter()
                .rev()
                .find(|o| o.start <= a && a < o.end)
                .map(|o| (&o.user, Source::Override(o.id.clone())))
                .or_else(|| {
                    layers.iter().enumerate().rev().find_map(|(i, pieces)| {
                        piece_at(pieces, a).map(|user| (user, Source::Layer(i)))
                    })
                });
            let Some((user, source)) = winner else {
                continue;
            };
            match shifts.last_mut() {
                Some(last) if last.end == a && &last.user == user && last.source == source => {
                    last.end = b;
                }
                _ => shifts.push(Shift {
                    user: user.clone(),
                    start: a,
                    end: b,
                    source,
                }),
            }
        }
        shifts
    }

    /// One layer's own shifts over `[from, to)`, ignoring the layers above it and overrides
    /// (what a schedule view draws per layer). Empty for an index out of range.
    pub fn layer_shifts(&self, layer: usize, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Shift> {
        let Some(l) = self.layers.get(layer) else {
            return Vec::new();
        };
        let mut shifts: Vec<Shift> = Vec::new();
        for ((start, end), user) in l.pieces(self.time_zone, from, to) {
            match shifts.last_mut() {
                Some(last) if last.end == start && &last.user == user => last.end = end,
                _ => shifts.push(Shift {
                    user: user.clone(),
                    start,
                    end,
                    source: Source::Layer(layer),
                }),
            }
        }
        shifts
    }
}

/// The user of the piece holding `at`, in pieces sorted by start and not overlapping.
fn piece_at<'a>(pieces: &[(Span, &'a UserId)], at: DateTime<Utc>) -> Option<&'a UserId> {
    let i = pieces.partition_point(|((s, _), _)| *s <= at);
    let ((_, end), user) = pieces.get(i.checked_sub(1)?)?;
    (at < *end).then_some(*user)
}

impl Layer {
    /// Who this layer has on call at `at`, if it covers `at`.
    pub fn user_at(&self, tz: Tz, at: DateTime<Utc>) -> Option<&UserId> {
        if self.users.is_empty() || at < self.start(tz) || self.end(tz).is_some_and(|e| at >= e) {
            return None;
        }
        if !self.restrictions.is_empty() {
            let windows = self.windows(tz, at, at + TimeDelta::seconds(1));
            if !windows.iter().any(|(s, e)| *s <= at && at < *e) {
                return None;
            }
        }
        let turn = self.turn_at(tz, at);
        Some(&self.users[turn.rem_euclid(self.users.len() as i64) as usize])
    }

    /// The instant of the first hand-off.
    pub fn start(&self, tz: Tz) -> DateTime<Utc> {
        resolve(tz, self.rotation_start)
    }

    /// The instant the layer stops covering, if it does.
    pub fn end(&self, tz: Tz) -> Option<DateTime<Utc>> {
        self.end.map(|e| resolve(tz, e))
    }

    /// The instant turn `k` begins (turn 0 at the rotation start).
    pub fn handoff(&self, tz: Tz, k: i64) -> DateTime<Utc> {
        match self.turn {
            TurnLength::Hours(n) => self.start(tz) + TimeDelta::hours(k * i64::from(n.max(1))),
            // Day arithmetic on the local date-time, then resolved: same wall-clock time.
            turn => {
                let n = i64::from(turn.days().unwrap_or(1).max(1));
                resolve(tz, self.rotation_start + TimeDelta::days(k * n))
            }
        }
    }

    /// The turn holding `at` (which is at or after the rotation start).
    fn turn_at(&self, tz: Tz, at: DateTime<Utc>) -> i64 {
        let mut k = match self.turn {
            TurnLength::Hours(n) => {
                let elapsed = (at - self.start(tz)).num_seconds();
                elapsed.div_euclid(3600 * i64::from(n.max(1)))
            }
            // Wall-clock days elapsed give the turn up to the DST hour; fixed below.
            _ => {
                let n = i64::from(self.turn.days().unwrap_or(1).max(1));
                let elapsed = (local_of(tz, at) - self.rotation_start).num_seconds();
                elapsed.div_euclid(86_400 * n)
            }
        };
        while k > 0 && self.handoff(tz, k) > at {
            k -= 1;
        }
        while self.handoff(tz, k + 1) <= at {
            k += 1;
        }
        k
    }

    /// The layer's coverage within `[from, to)`: turn pieces cut by the layer's start and
    /// end and its restrictions, sorted and not overlapping.
    fn pieces(&self, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(Span, &UserId)> {
        let mut out = Vec::new();
        let from = from.max(self.start(tz));
        let to = self.end(tz).map_or(to, |e| e.min(to));
        if self.users.is_empty() || from >= to {
            return out;
        }
        let windows = if self.restrictions.is_empty() {
            vec![(from, to)]
        } else {
            self.windows(tz, from, to)
        };
        let mut k = self.turn_at(tz, from);
        // Turns and windows are both sorted: windows ending before a turn never matter again.
        let mut w = 0;
        loop {
            let (start, end) = (
                self.handoff(tz, k).max(from),
                self.handoff(tz, k + 1).min(to),
            );
            let user = &self.users[k.rem_euclid(self.users.len() as i64) as usize];
            while windows.get(w).is_some_and(|(_, we)| *we <= start) {
                w += 1;
            }
            for (ws, we) in windows[w..].iter().take_while(|(ws, _)| *ws < end) {
                let (s, e) = (start.max(*ws), end.min(*we));
                if s < e {
                    out.push(((s, e), user));
                }
            }
            if end >= to {
                break;
            }
            k += 1;
        }
        out
    }

    /// The restriction windows meeting `[from, to)`, clipped to it, merged and sorted.
    fn windows(&self, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Span> {
        // A window starts at most a week before the local date of `from`.
        let first = local_of(tz, from).date() - Days::new(8);
        let last = local_of(tz, to).date() + Days::new(1);
        let mut spans = Vec::new();
        for r in &self.restrictions {
            for date in first.iter_days().take_while(|d| *d <= last) {
                let Some((start, length)) = r.window_on(date.weekday()) else {
                    continue;
                };
                let local = date.and_time(start);
                let (s, e) = (resolve(tz, local), resolve(tz, local + length));
                let (s, e) = (s.max(from), e.min(to));
                if s < e {
                    spans.push((s, e));
                }
            }
        }
        spans.sort();
        let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
        for (s, e) in spans {
            match merged.last_mut() {
                Some((_, last_end)) if s <= *last_end => *last_end = (*last_end).max(e),
                _ => merged.push((s, e)),
            }
        }
        merged
    }
}

impl TurnLength {
    /// The turn in local days, or `None` for an elapsed-hours turn.
    fn days(self) -> Option<u32> {
        match self {
            TurnLength::Daily => Some(1),
            TurnLength::Weekly => Some(7),
            TurnLength::Days(n) => Some(n),
            TurnLength::Hours(_) => None,
        }
    }
}

impl Restriction {
    /// The local start time and length of the window beginning on a day of `weekday`, if
    /// one does.
    fn window_on(&self, weekday: Weekday) -> Option<(NaiveTime, TimeDelta)> {
        match *self {
            Restriction::Daily { start, end } => {
                let mut length = end - start;
                if length <= TimeDelta::zero() {
                    length += TimeDelta::days(1);
                }
                Some((start, length))
            }
            Restriction::Weekly {
                start_day,
                start,
                end_day,
                end,
            } => {
                if weekday != start_day {
                    return None;
                }
                let day = |d: Weekday| TimeDelta::days(i64::from(d.num_days_from_monday()));
                let mut length = (day(end_day) + (end - NaiveTime::MIN))
                    - (day(start_day) + (start - NaiveTime::MIN));
                if length <= TimeDelta::zero() {
                    length += TimeDelta::weeks(1);
                }
                Some((start, length))
            }
        }
    }
}
