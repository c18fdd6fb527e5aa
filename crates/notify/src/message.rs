//! What one notification carries: the data Alertmanager's templates see, plus headroom's
//! SLO context and action links.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Label or annotation names to values, sorted by name (as Go's `KV` encodes).
pub type Labels = BTreeMap<String, String>;

/// Whether an alert, or a notification as a whole, is firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Firing,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

/// An alert's identity as Alertmanager prints it: 16 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub u64);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A fingerprint that is not 16 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fingerprint {0:?} is not 16 hex digits")]
pub struct BadFingerprint(pub String);

impl FromStr for Fingerprint {
    type Err = BadFingerprint;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BadFingerprint(s.to_string()));
        }
        u64::from_str_radix(s, 16)
            .map(Fingerprint)
            .map_err(|_| BadFingerprint(s.to_string()))
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The SLO behind an alert, when the alert comes from headroom's own evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SloContext {
    /// The SLO's id.
    pub id: String,
    /// The objective as a ratio in (0, 1), e.g. 0.999.
    pub objective: f64,
    /// Fraction of the window's error budget left (negative once overspent).
    pub budget_remaining: Option<f64>,
    /// The burn rate that fired the alert (1.0 spends the budget exactly over the window).
    pub burn_rate: Option<f64>,
    /// Seconds until the budget is gone at the current burn rate.
    pub time_to_exhaustion: Option<f64>,
    #[serde(rename = "runbookURL")]
    pub runbook_url: Option<String>,
    #[serde(rename = "dashboardURL")]
    pub dashboard_url: Option<String>,
}

/// Links that act on the page this notification belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actions {
    #[serde(rename = "acknowledgeURL")]
    pub acknowledge_url: Option<String>,
    #[serde(rename = "resolveURL")]
    pub resolve_url: Option<String>,
}

/// One alert in a notification, as Alertmanager's `template.Alert`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub status: Status,
    pub labels: Labels,
    pub annotations: Labels,
    #[serde(with = "go_time")]
    pub starts_at: DateTime<Utc>,
    /// `None` while firing: serialized as Go's zero time, as Alertmanager sends it.
    #[serde(with = "go_time_opt")]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    pub fingerprint: Fingerprint,
    /// headroom's SLO context; absent for alerts from elsewhere.
    pub slo: Option<SloContext>,
}

/// What one notification carries to one receiver.
///
/// Its serde form is the template context; field names are those of Alertmanager's webhook JSON
/// (`commonLabels`, `alerts[].startsAt`, …) so a template reads the names a webhook consumer sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub receiver: String,
    pub status: Status,
    pub alerts: Vec<Alert>,
    pub group_labels: Labels,
    pub common_labels: Labels,
    pub common_annotations: Labels,
    #[serde(rename = "externalURL")]
    pub external_url: String,
    pub group_key: String,
    /// Alerts left out of `alerts` by an integration's `max_alerts`.
    pub truncated_alerts: u64,
    pub actions: Option<Actions>,
}

impl Message {
    /// A notification of `alerts` for one group, with status and common labels/annotations
    /// derived as Alertmanager derives them: firing if any alert is firing; common = the pairs
    /// every alert has.
    pub fn new(
        receiver: impl Into<String>,
        group_key: impl Into<String>,
        group_labels: Labels,
        alerts: Vec<Alert>,
        external_url: impl Into<String>,
    ) -> Message {
        let status = if alerts.iter().any(|a| a.status == Status::Firing) {
            Status::Firing
        } else {
            Status::Resolved
        };
        let common_labels = common(alerts.iter().map(|a| &a.labels));
        let common_annotations = common(alerts.iter().map(|a| &a.annotations));
        Message {
            receiver: receiver.into(),
            status,
            alerts,
            group_labels,
            common_labels,
            common_annotations,
            external_url: external_url.into(),
            group_key: group_key.into(),
            truncated_alerts: 0,
            actions: None,
        }
    }

    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| a.status == Status::Firing)
    }

    pub fn resolved(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| a.status == Status::Resolved)
    }

    /// Keeps the first `max_alerts` alerts (0 keeps all) and counts the rest in
    /// `truncated_alerts`, as Alertmanager's webhook does. Status and common labels stay those
    /// of the alerts kept, since upstream computes them after truncating.
    pub fn truncated(&self, max_alerts: u64) -> Message {
        let max = usize::try_from(max_alerts).unwrap_or(usize::MAX);
        if max_alerts == 0 || self.alerts.len() <= max {
            return self.clone();
        }
        let dropped = (self.alerts.len() - max) as u64;
        let mut kept = Message::new(
            self.receiver.clone(),
            self.group_key.clone(),
            self.group_labels.clone(),
            self.alerts[..max].to_vec(),
            self.external_url.clone(),
        );
        kept.truncated_alerts = self.truncated_alerts + dropped;
        kept.actions = self.actions.clone();
        kept
    }

    /// The message without its resolved alerts (for integrations with `send_resolved: false`),
    /// or `None` when nothing is left to send.
    pub fn without_resolved(&self) -> Option<Message> {
        let firing: Vec<Alert> = self.firing().cloned().collect();
        if firing.is_empty() {
            return None;
        }
        if firing.len() == self.alerts.len() {
            return Some(self.clone());
        }
        let mut kept = Message::new(
            self.receiver.clone(),
            self.group_key.clone(),
            self.group_labels.clone(),
            firing,
            self.external_url.clone(),
        );
        kept.truncated_alerts = self.truncated_alerts;
        kept.actions = self.actions.clone();
        Some(kept)
    }

    /// The first alert carrying SLO context, whose links a whole-group body shows.
    pub fn first_slo(&self) -> Option<&SloContext> {
        self.alerts.iter().find_map(|a| a.slo.as_ref())
    }
}

fn common<'a>(mut sets: impl Iterator<Item = &'a Labels>) -> Labels {
    let Some(first) = sets.next() else {
        return Labels::new();
    };
    let mut common = first.clone();
    for set in sets {
        common.retain(|k, v| set.get(k) == Some(v));
    }
    common
}

/// Go's `time.Time` JSON form: RFC 3339 with nanoseconds, trailing zeros trimmed.
pub fn go_time_string(t: Option<DateTime<Utc>>) -> String {
    let Some(t) = t else {
        return "0001-01-01T00:00:00Z".to_string();
    };
    let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos != 0 {
        let digits = format!("{nanos:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

fn parse_go_time(s: &str) -> Result<Option<DateTime<Utc>>, chrono::ParseError> {
    let t = DateTime::parse_from_rfc3339(s)?.with_timezone(&Utc);
    // Go's zero time is how "not ended" travels.
    Ok(if s.starts_with("0001-01-01T00:00:00") {
        None
    } else {
        Some(t)
    })
}

mod go_time {
    use super::*;
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&go_time_string(Some(*t)))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

mod go_time_opt {
    use super::*;
    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&go_time_string(*t))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let s = String::deserialize(d)?;
        parse_go_time(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn go_time_trims_trailing_zeros_and_zero_time_is_year_one() {
        let t = Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 5).unwrap();
        assert_eq!(go_time_string(Some(t)), "2024-03-01T12:00:05Z");
        let t = t + chrono::Duration::milliseconds(120);
        assert_eq!(go_time_string(Some(t)), "2024-03-01T12:00:05.12Z");
        assert_eq!(go_time_string(None), "0001-01-01T00:00:00Z");
        assert_eq!(parse_go_time("0001-01-01T00:00:00Z").unwrap(), None);
    }

    #[test]
    fn fingerprint_is_sixteen_hex_digits() {
        assert_eq!(Fingerprint(0xabc).to_string(), "0000000000000abc");
        assert_eq!(
            "0000000000000abc".parse::<Fingerprint>().unwrap(),
            Fingerprint(0xabc)
        );
        assert!("abc".parse::<Fingerprint>().is_err());
        assert!("000000000000zabc".parse::<Fingerprint>().is_err());
    }
}
