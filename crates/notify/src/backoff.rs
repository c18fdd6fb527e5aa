//! Retry timing: exponential backoff with full jitter, capped, and when to give up.

use std::time::Duration;

/// `delay(n) = random × min(cap, base × 2ⁿ)`; give up after `max_attempts` attempts or once
/// the first attempt is `max_age` old.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    pub max_attempts: u32,
    pub max_age: Duration,
}

impl Default for Backoff {
    /// 1 s doubling to 5 min, for at most 20 attempts or 1 h (a page older than that is stale).
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            max_attempts: 20,
            max_age: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// The wait before retry number `attempt` (0 after the first failure). `random_fraction`
    /// is uniform in [0, 1), clamped; full jitter spreads retries of many senders so they do
    /// not hit a recovering endpoint together.
    pub fn delay(&self, attempt: u32, random_fraction: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        let r = if random_fraction.is_nan() {
            0.0
        } else {
            random_fraction.clamp(0.0, 1.0)
        };
        ceiling.mul_f64(r)
    }

    /// The upper bound of `delay(attempt, _)`: `min(cap, base × 2^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.checked_pow(attempt).unwrap_or(u32::MAX);
        self.base
            .checked_mul(factor)
            .map_or(self.cap, |d| d.min(self.cap))
    }

    /// The wait before the next attempt given the server's `Retry-After`, which is honoured
    /// even past the cap (the server said when), or `None` when it is time to give up.
    pub fn next(
        &self,
        attempts_made: u32,
        age: Duration,
        retry_after: Option<Duration>,
        random_fraction: f64,
    ) -> Option<Duration> {
        if self.give_up(attempts_made, age) {
            return None;
        }
        let jittered = self.delay(attempts_made.saturating_sub(1), random_fraction);
        let wait = retry_after.map_or(jittered, |after| after.max(jittered));
        // A wait that ends past max_age would only be given up after it.
        if age + wait > self.max_age {
            return None;
        }
        Some(wait)
    }

    /// True once `attempts_made` reaches `max_attempts` or the first attempt is `max_age` old.
    pub fn give_up(&self, attempts_made: u32, age: Duration) -> bool {
        attempts_made >= self.max_attempts || age >= self.max_age
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Backoff {
        Backoff {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(10),
            max_attempts: 5,
            max_age: Duration::from_secs(60),
        }
    }

    #[test]
    fn delay_doubles_up_to_the_cap_scaled_by_the_random_fraction() {
        let b = backoff();
        assert_eq!(
            b.delay(0, 0.999_999),
            Duration::from_millis(500).mul_f64(0.999_999)
        );
        assert_eq!(b.ceiling(0), Duration::from_millis(500));
        assert_eq!(b.ceiling(1), Duration::from_secs(1));
        assert_eq!(b.ceiling(4), Duration::from_secs(8));
        assert_eq!(b.ceiling(5), Duration::from_secs(10));
        assert_eq!(b.ceiling(200), Duration::from_secs(10));
        assert_eq!(b.delay(3, 0.5), Duration::from_secs(2));
        assert_eq!(b.delay(3, 0.0), Duration::ZERO);
        assert_eq!(b.delay(3, 7.0), Duration::from_secs(4));
        assert_eq!(b.delay(3, -1.0), Duration::ZERO);
        assert_eq!(b.delay(3, f64::NAN), Duration::ZERO);
    }

    #[test]
    fn gives_up_on_attempts_or_age() {
        let b = backoff();
        assert!(!b.give_up(4, Duration::from_secs(59)));
        assert!(b.give_up(5, Duration::ZERO));
        assert!(b.give_up(1, Duration::from_secs(60)));
        assert_eq!(b.next(5, Duration::ZERO, None, 0.5), None);
        assert_eq!(
            b.next(1, Duration::ZERO, None, 0.5),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            b.next(2, Duration::from_secs(1), None, 1.0),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn retry_after_wins_when_longer_but_not_past_max_age() {
        let b = backoff();
        let after = Some(Duration::from_secs(30));
        assert_eq!(
            b.next(1, Duration::ZERO, after, 0.5),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            b.next(1, Duration::ZERO, Some(Duration::from_millis(1)), 1.0),
            Some(Duration::from_millis(500))
        );
        assert_eq!(b.next(1, Duration::from_secs(40), after, 0.5), None);
    }
}
