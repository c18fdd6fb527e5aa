//! Alerts as Alertmanager 0.25 holds them: what `POST /api/v2/alerts` turns a posted alert
//! into, how two versions of one alert merge, and the in-memory store they live in.
//!
//! - [`PostableAlert::into_alert`] follows `api/v2`'s `postAlertsHandler`: `updated_at` is the
//!   receiving instant; a missing `starts_at` becomes `ends_at` when that is given, else now;
//!   a missing `ends_at` becomes now + `resolve_timeout` with `timeout` set; labels with an
//!   empty value are dropped; then the alert is validated as `model.Alert.Validate` does, with
//!   its messages.
//! - An alert is resolved at `t` when it has an end and the end is not after `t`
//!   ([`Alert::resolved_at`]).
//! - [`Alert::merge`] is `types.Alert.Merge`: the younger `updated_at` wins, the earliest
//!   start is kept, and an older explicit (non-timeout) end that is later wins while the
//!   younger alert is still firing.
//! - [`AlertBook::put`] is `provider/mem`'s `Put`: a new version merges with the stored one only
//!   when their activity ranges overlap (strictly, as upstream compares), otherwise it replaces
//!   it.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::group::{Fingerprint, fingerprint, go_quote};
use crate::{LabelSet, later};

/// Whether an alert is firing or resolved, spelled as the API and webhooks spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertStatus {
    /// Not resolved.
    Firing,
    /// Its end has passed.
    Resolved,
}

impl AlertStatus {
    /// `"firing"` or `"resolved"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

impl std::fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An alert as the store and the dispatcher hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Identity: two alerts with the same labels are versions of one alert.
    pub labels: LabelSet,
    /// Extra information, not part of the identity.
    pub annotations: LabelSet,
    /// When it started firing.
    pub starts_at: DateTime<Utc>,
    /// When it resolves; `None` is "no known end" (upstream's zero time), which is how
    /// notifications carry alerts that are still firing.
    pub ends_at: Option<DateTime<Utc>>,
    /// Link back to the rule that produced it.
    pub generator_url: String,
    /// When this version was received: the younger version wins a merge.
    pub updated_at: DateTime<Utc>,
    /// `ends_at` was not sent but set from `resolve_timeout`.
    pub timeout: bool,
}

impl Alert {
    /// The fingerprint of the labels.
    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint(&self.labels)
    }

    /// Whether the alert is resolved at `at`: it has an end and the end is not after `at`.
    pub fn resolved_at(&self, at: DateTime<Utc>) -> bool {
        self.ends_at.is_some_and(|end| end <= at)
    }

    /// Firing or resolved at `at`.
    pub fn status(&self, at: DateTime<Utc>) -> AlertStatus {
        if self.resolved_at(at) {
            AlertStatus::Resolved
        } else {
            AlertStatus::Firing
        }
    }

    /// Upstream's `Merge` of two versions of one alert (labels assumed equal), evaluated at
    /// `now` because upstream asks whether each version is resolved at the current time.
    pub fn merge(&self, other: &Alert, now: DateTime<Utc>) -> Alert {
        // `younger` is the later-updated version; ties keep `other` as upstream does.
        let (older, younger) = if other.updated_at < self.updated_at {
            (other, self)
        } else {
            (self, other)
        };
        let mut merged = younger.clone();
        if older.starts_at < younger.starts_at {
            merged.starts_at = older.starts_at;
        }
        if younger.resolved_at(now) {
            // Both resolved: the latest explicit end wins.
            if older.resolved_at(now) && after(older.ends_at, younger.ends_at) {
                merged.ends_at = older.ends_at;
            }
        } else if after(older.ends_at, younger.ends_at) && !older.timeout {
            // A later end that was sent explicitly beats one derived from the timeout.
            merged.ends_at = older.ends_at;
        }
        merged
    }
}

/// Go's `a.After(b)` with `None` as the zero time (before every instant).
fn after(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a > b,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Why a posted alert was refused; the messages are upstream's.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AlertError {
    /// `ends_at` before `starts_at`.
    #[error("start time must be before end time")]
    EndBeforeStart,
    /// A label name outside `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("invalid label set: invalid name {}", go_quote(.0))]
    InvalidLabelName(String),
    /// No labels left once the empty ones are dropped.
    #[error("at least one label pair required")]
    NoLabels,
    /// An annotation name outside `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("invalid annotations: invalid name {}", go_quote(.0))]
    InvalidAnnotationName(String),
}

/// An alert as a client posts it to `POST /api/v2/alerts`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PostableAlert {
    /// Labels; those with an empty value are dropped.
    pub labels: LabelSet,
    /// Annotations.
    pub annotations: LabelSet,
    /// Start; `None` lets the receiver choose.
    pub starts_at: Option<DateTime<Utc>>,
    /// End; `None` means "firing until resolve_timeout passes without an update".
    pub ends_at: Option<DateTime<Utc>>,
    /// Link back to the rule that produced it.
    pub generator_url: String,
}

impl PostableAlert {
    /// The alert `POST /api/v2/alerts` stores when this arrives at `now`.
    pub fn into_alert(
        self,
        now: DateTime<Utc>,
        resolve_timeout: Duration,
    ) -> Result<Alert, AlertError> {
        let starts_at = self.starts_at.or(self.ends_at).unwrap_or(now);
        let (ends_at, timeout) = match self.ends_at {
            Some(end) => (end, false),
            None => (later(now, resolve_timeout), true),
        };
        let mut labels = self.labels;
        labels.retain(|_, value| !value.is_empty());
        // Upstream's order: times, label names, emptiness, annotation names.
        if ends_at < starts_at {
            return Err(AlertError::EndBeforeStart);
        }
        if let Some(name) = labels.keys().find(|n| !is_valid_label_name(n)) {
            return Err(AlertError::InvalidLabelName(name.clone()));
        }
        if labels.is_empty() {
            return Err(AlertError::NoLabels);
        }
        if let Some(name) = self.annotations.keys().find(|n| !is_valid_label_name(n)) {
            return Err(AlertError::InvalidAnnotationName(name.clone()));
        }
        Ok(Alert {
            labels,
            annotations: self.annotations,
            starts_at,
            ends_at: Some(ends_at),
            generator_url: self.generator_url,
            updated_at: now,
            timeout,
        })
    }
}

/// Prometheus's `LabelName.IsValid` of Alertmanager 0.25's time: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_alphabetic() || b == b'_' || (i > 0 && b.is_ascii_digit()))
}

/// The alerts known now, one version per fingerprint (upstream's `provider/mem`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertBook {
    alerts: BTreeMap<Fingerprint, Alert>,
}

impl AlertBook {
    /// An empty book.
    pub fn new() -> AlertBook {
        AlertBook::default()
    }

    /// Stores a new version of an alert, merged with the stored one when their activity
    /// ranges overlap, and returns what is now stored.
    pub fn put(&mut self, alert: Alert, now: DateTime<Utc>) -> &Alert {
        let stored = self.merged(alert, now);
        let fp = stored.fingerprint();
        self.alerts.insert(fp, stored);
        &self.alerts[&fp]
    }

    /// What [`AlertBook::put`] would store for `alert`, without storing it: so a caller can
    /// make the result durable first and change nothing when that fails.
    pub fn merged(&self, alert: Alert, now: DateTime<Utc>) -> Alert {
        match self.alerts.get(&alert.fingerprint()) {
            Some(old) if overlaps(&alert, old) => old.merge(&alert, now),
            _ => alert,
        }
    }

    /// The stored version of the alert with this fingerprint.
    pub fn get(&self, fp: Fingerprint) -> Option<&Alert> {
        self.alerts.get(&fp)
    }

    /// Every stored alert, in fingerprint order.
    pub fn iter(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }

    /// How many alerts are stored.
    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Removes and returns the alerts resolved at `at` (their end is not after it), as
    /// upstream's periodic garbage collection does.
    pub fn gc(&mut self, at: DateTime<Utc>) -> Vec<Alert> {
        let gone: Vec<Fingerprint> = self
            .alerts
            .iter()
            .filter(|(_, a)| a.resolved_at(at))
            .map(|(fp, _)| *fp)
            .collect();
        gone.iter()
            .filter_map(|fp| self.alerts.remove(fp))
            .collect()
    }
}

/// mem.go's merge condition: the new end falls strictly inside the old range, or the new start
/// does. A missing end is the zero time, so it never falls inside.
fn overlaps(new: &Alert, old: &Alert) -> bool {
    let inside = |t: DateTime<Utc>| t > old.starts_at && old.ends_at.is_some_and(|end| t < end);
    new.ends_at.is_some_and(inside) || inside(new.starts_at)
}
