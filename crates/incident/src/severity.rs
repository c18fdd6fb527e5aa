//! The small vocabularies of an incident: severity, status, role.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How bad an incident is. `Sev1` is the worst; the derived order puts it first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Severity {
    Sev1,
    Sev2,
    Sev3,
    Sev4,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Sev1,
        Severity::Sev2,
        Severity::Sev3,
        Severity::Sev4,
    ];

    /// `SEV1` … `SEV4`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Sev1 => "SEV1",
            Severity::Sev2 => "SEV2",
            Severity::Sev3 => "SEV3",
            Severity::Sev4 => "SEV4",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no severity or status.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown {what} {input:?} (expected one of {expected})")]
pub struct ParseError {
    pub what: &'static str,
    pub input: String,
    pub expected: &'static str,
}

impl FromStr for Severity {
    type Err = ParseError;
    /// `SEV1` … `SEV4`, in any case (`sev2` is common in chat commands).
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseError {
                what: "severity",
                input: s.to_string(),
                expected: "SEV1, SEV2, SEV3, SEV4",
            })
    }
}

impl From<Severity> for String {
    fn from(s: Severity) -> String {
        s.as_str().to_string()
    }
}

impl TryFrom<String> for Severity {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        s.parse()
    }
}

/// Where an incident is in its life. The declared order is the order of progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    Triggered,
    Acknowledged,
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl IncidentStatus {
    pub const ALL: [IncidentStatus; 6] = [
        IncidentStatus::Triggered,
        IncidentStatus::Acknowledged,
        IncidentStatus::Investigating,
        IncidentStatus::Identified,
        IncidentStatus::Monitoring,
        IncidentStatus::Resolved,
    ];

    /// The status a resolved incident goes back to when reopened: someone is already on it, so
    /// it is not triggered again, but the cause it was resolved for proved wrong or incomplete.
    pub const REOPENED: IncidentStatus = IncidentStatus::Investigating;

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Triggered => "triggered",
            IncidentStatus::Acknowledged => "acknowledged",
            IncidentStatus::Investigating => "investigating",
            IncidentStatus::Identified => "identified",
            IncidentStatus::Monitoring => "monitoring",
            IncidentStatus::Resolved => "resolved",
        }
    }

    /// Whether `self → to` is allowed: any move forward (skipping steps is fine: a false alarm
    /// goes straight from triggered to resolved), and the one move back, reopening a resolved
    /// incident to [`IncidentStatus::REOPENED`]. Staying put is not a move.
    pub fn can_move_to(self, to: IncidentStatus) -> bool {
        to > self || (self == IncidentStatus::Resolved && to == IncidentStatus::REOPENED)
    }

    /// Anything but resolved.
    pub fn is_open(self) -> bool {
        self != IncidentStatus::Resolved
    }
}

impl fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IncidentStatus {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        IncidentStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseError {
                what: "status",
                input: s.to_string(),
                expected: "triggered, acknowledged, investigating, identified, monitoring, resolved",
            })
    }
}

/// The roles of the incident command system that a team fills during an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Owns the response and its decisions.
    Commander,
    /// Keeps stakeholders and status pages informed.
    Communications,
    /// Keeps the record.
    Scribe,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Commander, Role::Communications, Role::Scribe];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Commander => "commander",
            Role::Communications => "communications",
            Role::Scribe => "scribe",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
