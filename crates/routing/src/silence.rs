//! Silences: which alerts a silence mutes, and the state API v2 reports for it.
//!
//! Follows Alertmanager 0.25's `types.CalcSilenceState`: `pending` before `starts_at`,
//! `active` from `starts_at` (inclusive) until `ends_at` (exclusive), `expired` from
//! `ends_at` on. A silence mutes an alert only while active and when all its matchers match
//! (a missing label matching as `""`).

use std::fmt;

use chrono::{DateTime, Utc};

use crate::LabelSet;
use crate::matcher::{Matcher, all_match};

/// A silence's state as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SilenceState {
    /// Starts in the future.
    Pending,
    /// In force.
    Active,
    /// Ended.
    Expired,
}

impl SilenceState {
    /// The API v2 spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

impl fmt::Display for SilenceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A silence.
#[derive(Debug, Clone, PartialEq)]
pub struct Silence {
    /// Identifier.
    pub id: String,
    /// All must match for the silence to mute an alert.
    pub matchers: Vec<Matcher>,
    /// Start of the silence (inclusive).
    pub starts_at: DateTime<Utc>,
    /// End of the silence (exclusive).
    pub ends_at: DateTime<Utc>,
    /// Who created it.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

impl Silence {
    /// The state at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now < self.ends_at {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }

    /// Whether the silence is in force at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.state(now) == SilenceState::Active
    }

    /// Whether the silence mutes an alert with `labels` at `now`.
    pub fn mutes(&self, labels: &LabelSet, now: DateTime<Utc>) -> bool {
        self.is_active(now) && all_match(&self.matchers, labels)
    }
}
