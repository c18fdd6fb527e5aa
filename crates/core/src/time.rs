//! Time as plain values: the core never reads a clock, callers pass `now`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A point in time: milliseconds since the Unix epoch, UTC.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }
    pub const fn from_secs(s: i64) -> Self {
        Timestamp(s * 1000)
    }
    pub const fn millis(self) -> i64 {
        self.0
    }
    /// Floors to a multiple of `step` (Euclidean, so correct before 1970 too).
    pub fn floor(self, step: Span) -> Self {
        Timestamp(self.0.div_euclid(step.0) * step.0)
    }
    pub fn to_chrono(self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.0).unwrap_or_default()
    }
    pub fn from_chrono<Tz: chrono::TimeZone>(t: &chrono::DateTime<Tz>) -> Self {
        Timestamp(t.timestamp_millis())
    }
    /// RFC 3339 with second precision when whole seconds, milliseconds otherwise.
    pub fn to_rfc3339(self) -> String {
        let fmt = if self.0 % 1000 == 0 {
            chrono::SecondsFormat::Secs
        } else {
            chrono::SecondsFormat::Millis
        };
        self.to_chrono().to_rfc3339_opts(fmt, true)
    }
}

impl std::ops::Add<Span> for Timestamp {
    type Output = Timestamp;
    fn add(self, d: Span) -> Timestamp {
        Timestamp(self.0.saturating_add(d.0))
    }
}

impl std::ops::Sub<Span> for Timestamp {
    type Output = Timestamp;
    fn sub(self, d: Span) -> Timestamp {
        Timestamp(self.0.saturating_sub(d.0))
    }
}

impl std::ops::Sub for Timestamp {
    type Output = Span;
    fn sub(self, o: Timestamp) -> Span {
        Span(self.0 - o.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// A length of time in milliseconds, written in Prometheus duration syntax (`5m`, `1h30m`, `28d`, `4w`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span(pub i64);

impl Span {
    pub const MILLISECOND: Span = Span(1);
    pub const SECOND: Span = Span(1000);
    pub const MINUTE: Span = Span(60_000);
    pub const HOUR: Span = Span(3_600_000);
    pub const DAY: Span = Span(86_400_000);
    pub const WEEK: Span = Span(7 * 86_400_000);

    pub const fn millis(self) -> i64 {
        self.0
    }
    pub const fn seconds(n: i64) -> Span {
        Span(n * 1000)
    }
    pub const fn minutes(n: i64) -> Span {
        Span(n * 60_000)
    }
    pub const fn hours(n: i64) -> Span {
        Span(n * 3_600_000)
    }
    pub const fn days(n: i64) -> Span {
        Span(n * 86_400_000)
    }
    /// As a `std::time::Duration` (a negative span is zero).
    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0.max(0) as u64)
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
    pub fn as_days_f64(self) -> f64 {
        self.0 as f64 / Span::DAY.0 as f64
    }
    /// `self / other` as a real number.
    pub fn ratio(self, other: Span) -> f64 {
        self.0 as f64 / other.0 as f64
    }
}

impl std::ops::Add for Span {
    type Output = Span;
    fn add(self, o: Span) -> Span {
        Span(self.0 + o.0)
    }
}

impl std::ops::Sub for Span {
    type Output = Span;
    fn sub(self, o: Span) -> Span {
        Span(self.0 - o.0)
    }
}

impl std::ops::Mul<i64> for Span {
    type Output = Span;
    fn mul(self, n: i64) -> Span {
        Span(self.0 * n)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {input:?}: {reason} (use Prometheus syntax such as 30s, 5m, 1h30m, 28d, 4w)"
)]
pub struct SpanError {
    pub input: String,
    pub reason: &'static str,
}

impl FromStr for Span {
    type Err = SpanError;
    fn from_str(s: &str) -> Result<Self, SpanError> {
        let err = |reason| SpanError {
            input: s.to_string(),
            reason,
        };
        let t = s.trim();
        if t.is_empty() {
            return Err(err("empty"));
        }
        let mut total: i64 = 0;
        let mut rest = t;
        let mut last_rank = usize::MAX;
        const UNITS: [(&str, i64); 8] = [
            ("ms", 1),
            ("y", 365 * 86_400_000),
            ("w", 7 * 86_400_000),
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
            ("", 0),
        ];
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 {
                return Err(err("expected a number"));
            }
            let n: i64 = rest[..digits]
                .parse()
                .map_err(|_| err("number too large"))?;
            rest = &rest[digits..];
            let (rank, (unit, ms)) = UNITS[..7]
                .iter()
                .enumerate()
                .find(|(_, (u, _))| rest.starts_with(u))
                .ok_or_else(|| err("unknown unit"))?;
            // Units must go from largest to smallest, each once, as in Prometheus.
            let order = ["y", "w", "d", "h", "m", "s", "ms"]
                .iter()
                .position(|u| u == unit)
                .unwrap_or(rank);
            if last_rank != usize::MAX && order <= last_rank {
                return Err(err("units out of order"));
            }
            last_rank = order;
            rest = &rest[unit.len()..];
            total = n
                .checked_mul(*ms)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| err("too large"))?;
        }
        if total <= 0 {
            return Err(err("must be greater than zero"));
        }
        Ok(Span(total))
    }
}

impl fmt::Display for Span {
    /// Largest unit first, up to days, as SLO windows are written: 90m → `1h30m`, 30d → `30d`
    /// (not Prometheus's `4w2d`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
            ("ms", 1),
        ] {
            if ms >= size {
                write!(f, "{}{}", ms / size, unit)?;
                ms %= size;
            }
        }
        Ok(())
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!("5m".parse::<Span>().unwrap(), Span::minutes(5));
        assert_eq!("1h30m".parse::<Span>().unwrap(), Span::minutes(90));
        assert_eq!("28d".parse::<Span>().unwrap(), Span::days(28));
        assert_eq!("4w".parse::<Span>().unwrap(), Span::days(28));
        assert_eq!("250ms".parse::<Span>().unwrap(), Span(250));
        assert_eq!("1m30s".parse::<Span>().unwrap(), Span(90_000));
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in ["", "5", "m", "5x", "1m1h", "0s", "-5m", "5m5m"] {
            assert!(bad.parse::<Span>().is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn displays_largest_unit_first() {
        assert_eq!(Span::minutes(90).to_string(), "1h30m");
        assert_eq!(Span::days(28).to_string(), "28d");
        assert_eq!(Span::days(30).to_string(), "30d");
        assert_eq!(Span::hours(26).to_string(), "1d2h");
        assert_eq!(Span::minutes(5).to_string(), "5m");
    }
}
