//! Which steps of an SLO's SLI to fetch from the backend, and when: a backfill on start, then
//! each step once it is complete. Pure: the caller passes `now` and reports each fetch's outcome.
//!
//! A step is named by its end `t` and covers `(t − step, t]`; step ends are multiples of `step`.
//! Steps are fetched in order and each exactly once: a reported fetch moves past its steps, a
//! failed one leaves them to be asked again (with the steps that completed meanwhile) after a
//! backoff. Steps older than the SLO's window are never asked: they no longer count.

use headroom_core::{Span, Timestamp};

use super::MAX_POINTS_PER_QUERY;

/// A range of steps to fetch with `query_range(start, end, step)`: both ends are step ends,
/// inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fetch {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// The first retry waits this long, doubling with each failure in a row up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Span = Span(5_000);
const MAX_BACKOFF: Span = Span(300_000);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follower {
    step: Span,
    window: Span,
    delay: Span,
    /// The first step end not fetched yet; `None` until the first fetch: start at the window.
    next: Option<Timestamp>,
    retry_at: Option<Timestamp>,
    failures: u32,
}

impl Follower {
    /// `last_stored`: the last step end already in the store, if any. `window`: how far back to
    /// backfill at most (the SLO's window). `delay`: how long after a step's end its data is
    /// complete in the backend (scrape interval plus ingestion lag).
    pub fn new(step: Span, window: Span, delay: Span, last_stored: Option<Timestamp>) -> Self {
        Follower {
            step,
            window,
            delay,
            next: last_stored.map(|t| t.floor(step) + step),
            retry_at: None,
            failures: 0,
        }
    }

    pub fn step(&self) -> Span {
        self.step
    }

    /// The last step end whose data is complete at `now`.
    fn latest(&self, now: Timestamp) -> Timestamp {
        (now - self.delay).floor(self.step)
    }

    /// The steps to fetch now, if any: from the first not fetched (or the window's start) to the
    /// latest complete one, at most [`MAX_POINTS_PER_QUERY`] steps so progress is stored as it
    /// goes. `None` while backing off after a failure.
    pub fn due(&self, now: Timestamp) -> Option<Fetch> {
        if self.retry_at.is_some_and(|r| now < r) {
            return None;
        }
        let latest = self.latest(now);
        let earliest = latest - self.window + self.step;
        let start = self.next.map_or(earliest, |n| n.max(earliest));
        if start > latest {
            return None;
        }
        let end = latest.min(start + self.step * (MAX_POINTS_PER_QUERY - 1));
        Some(Fetch { start, end })
    }

    /// The fetch's counts are stored: its steps are done.
    pub fn fetched(&mut self, fetch: Fetch) {
        let after = fetch.end + self.step;
        self.next = Some(self.next.map_or(after, |n| n.max(after)));
        self.retry_at = None;
        self.failures = 0;
    }

    /// The fetch failed (query or store): its steps stay due, asked again after a backoff.
    pub fn failed(&mut self, now: Timestamp) {
        self.failures = self.failures.saturating_add(1);
        let backoff = Span(
            FIRST_BACKOFF
                .millis()
                .saturating_mul(1i64 << (self.failures - 1).min(20))
                .min(MAX_BACKOFF.millis()),
        );
        self.retry_at = Some(now + backoff);
    }

    /// When [`Follower::due`] next has something, for a loop to sleep until.
    pub fn next_wake(&self, now: Timestamp) -> Timestamp {
        if let Some(r) = self.retry_at.filter(|&r| now < r) {
            return r;
        }
        if self.due(now).is_some() {
            return now;
        }
        let next_end = self
            .next
            .unwrap_or(Timestamp(i64::MIN))
            .max(self.latest(now) + self.step);
        next_end + self.delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp(1_700_000_000_000 / 3_600_000 * 3_600_000); // on the hour

    fn at(minutes: i64, seconds: i64) -> Timestamp {
        T0 + Span::minutes(minutes) + Span(seconds * 1000)
    }

    #[test]
    fn backfills_the_window_then_follows_each_step() {
        let mut f = Follower::new(Span::MINUTE, Span::HOUR, Span(0), None);
        let now = at(0, 30);
        let fetch = f.due(now).unwrap();
        // 60 steps: (T0 − 59m … T0], the last hour of complete minutes.
        assert_eq!(
            fetch,
            Fetch {
                start: at(-59, 0),
                end: at(0, 0)
            }
        );
        f.fetched(fetch);
        assert_eq!(f.due(at(0, 59)), None);
        assert_eq!(f.next_wake(at(0, 59)), at(1, 0));
        assert_eq!(
            f.due(at(1, 0)),
            Some(Fetch {
                start: at(1, 0),
                end: at(1, 0)
            })
        );
    }

    #[test]
    fn resumes_after_the_last_stored_step_within_the_window() {
        let f = Follower::new(Span::MINUTE, Span::HOUR, Span(0), Some(at(-10, 0)));
        assert_eq!(
            f.due(at(0, 5)),
            Some(Fetch {
                start: at(-9, 0),
                end: at(0, 0)
            })
        );
        // Stored long ago: only the window is asked.
        let f = Follower::new(Span::MINUTE, Span::HOUR, Span(0), Some(at(-600, 0)));
        assert_eq!(
            f.due(at(0, 5)),
            Some(Fetch {
                start: at(-59, 0),
                end: at(0, 0)
            })
        );
        // Already up to date.
        let f = Follower::new(Span::MINUTE, Span::HOUR, Span(0), Some(at(0, 0)));
        assert_eq!(f.due(at(0, 5)), None);
    }

    #[test]
    fn waits_for_the_backend_delay() {
        let f = Follower::new(Span::MINUTE, Span::HOUR, Span(30_000), Some(at(0, 0)));
        assert_eq!(f.due(at(1, 29)), None);
        assert_eq!(f.next_wake(at(1, 29)), at(1, 30));
        assert_eq!(
            f.due(at(1, 30)),
            Some(Fetch {
                start: at(1, 0),
                end: at(1, 0)
            })
        );
    }

    #[test]
    fn a_long_backfill_is_fetched_in_parts() {
        let mut f = Follower::new(Span::MINUTE, Span::days(30), Span(0), None);
        let now = at(0, 0);
        let mut steps = 0;
        let mut last_end = None;
        while let Some(fetch) = f.due(now) {
            let n = (fetch.end - fetch.start).millis() / Span::MINUTE.millis() + 1;
            assert!(n <= MAX_POINTS_PER_QUERY);
            if let Some(e) = last_end {
                assert_eq!(fetch.start, e + Span::MINUTE);
            }
            last_end = Some(fetch.end);
            steps += n;
            f.fetched(fetch);
        }
        assert_eq!(steps, 30 * 24 * 60);
        assert_eq!(last_end, Some(now));
    }

    /// Two simulated hours with a backend that fails often: every step of the window is
    /// fetched, none twice, and a failure is retried after its backoff, not before.
    #[test]
    fn failures_leave_no_gap_and_nothing_twice() {
        let step = Span::MINUTE;
        let mut f = Follower::new(step, Span::HOUR, Span(10_000), None);
        let mut now = at(0, 0);
        let mut fetched: Vec<Timestamp> = Vec::new();
        let mut attempt = 0u32;
        let mut failed_at: Option<Timestamp> = None;
        let end = at(120, 0);
        while now <= end {
            if let Some(fetch) = f.due(now) {
                if let Some(t) = failed_at {
                    assert!(now >= t + FIRST_BACKOFF, "retried before the backoff");
                }
                attempt += 1;
                // Fails in bursts: attempts 3..=6 and every 7th.
                if (3..=6).contains(&attempt) || attempt.is_multiple_of(7) {
                    f.failed(now);
                    failed_at = Some(now);
                } else {
                    let mut t = fetch.start;
                    while t <= fetch.end {
                        fetched.push(t);
                        t = t + step;
                    }
                    f.fetched(fetch);
                    failed_at = None;
                }
            }
            now = now + Span(1_000);
        }
        // The first fetch starts one window back from the first complete step.
        assert_eq!(fetched.first(), Some(&(at(-1, 0) - Span::HOUR + step)));
        let mut sorted = fetched.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), fetched.len(), "a step was fetched twice");
        assert_eq!(sorted, fetched, "steps out of order");
        for w in fetched.windows(2) {
            assert_eq!(w[1] - w[0], step, "a gap after {}", w[0]);
        }
        assert_eq!(*fetched.last().unwrap(), at(119, 0));
        assert!(attempt > 10);
    }

    /// Restarts at every kind of moment over three simulated hours of 10 s steps: with a fetch
    /// in flight (its steps not stored), right after a fetch was stored but before the follower
    /// heard of it, and after a failed query. The store keeps each fetch's steps and its last
    /// step end together, and a restarted follower starts from that end: every step of the
    /// backfill and after is stored exactly once, in order, with no gap.
    #[test]
    fn restarts_resume_after_the_last_stored_step() {
        let step = Span(10_000);
        let delay = Span(2_000);
        let window = Span::HOUR;
        // What the store holds: the steps counted, and the last step end stored with them.
        let mut stored: Vec<Timestamp> = Vec::new();
        let mut stored_through: Option<Timestamp> = None;
        let mut f = Follower::new(step, window, delay, stored_through);
        let mut now = at(0, 0);
        let first_start = f.due(now).unwrap().start;
        let mut restarts = 0;
        let mut event = 0u32;
        while now < at(180, 0) {
            if let Some(fetch) = f.due(now) {
                event += 1;
                match event % 11 {
                    // Killed with the query in flight: nothing stored.
                    3 | 8 => {
                        f = Follower::new(step, window, delay, stored_through);
                        restarts += 1;
                    }
                    // The query failed: asked again after the backoff.
                    5 => f.failed(now),
                    outcome => {
                        let mut t = fetch.start;
                        while t <= fetch.end {
                            stored.push(t);
                            t = t + step;
                        }
                        stored_through = Some(fetch.end);
                        if outcome == 6 {
                            // Killed after the store, before the follower moved on.
                            f = Follower::new(step, window, delay, stored_through);
                            restarts += 1;
                        } else {
                            f.fetched(fetch);
                        }
                    }
                }
            }
            now = now + Span(1_000);
        }
        assert!(restarts >= 10, "{restarts} restarts");
        assert_eq!(stored.first(), Some(&first_start));
        for w in stored.windows(2) {
            assert_eq!(w[1] - w[0], step, "a step twice or a gap after {}", w[0]);
        }
        assert_eq!(stored.last(), stored_through.as_ref());
        assert!(*stored.last().unwrap() >= at(179, 0));
    }

    #[test]
    fn backoff_doubles_and_resets() {
        let mut f = Follower::new(Span::MINUTE, Span::HOUR, Span(0), None);
        let now = at(0, 0);
        f.failed(now);
        assert_eq!(f.next_wake(now), now + Span(5_000));
        f.failed(now);
        assert_eq!(f.next_wake(now), now + Span(10_000));
        for _ in 0..20 {
            f.failed(now);
        }
        assert_eq!(f.next_wake(now), now + MAX_BACKOFF);
        let fetch = f.due(now + MAX_BACKOFF).unwrap();
        f.fetched(fetch);
        f.failed(now + MAX_BACKOFF);
        assert_eq!(
            f.next_wake(now + MAX_BACKOFF),
            now + MAX_BACKOFF + Span(5_000)
        );
    }
}
