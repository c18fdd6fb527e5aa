//! Which alerts open incidents, and which join one already open.

use headroom_routing::LabelSet;
use headroom_routing::group::fingerprint;
use headroom_routing::matcher::{Matcher, MatcherError, all_match, parse_matchers};

use crate::incident::Incident;
use crate::severity::Severity;

/// A rule that opens an incident for alerts whose labels satisfy every matcher, such as
/// "any page for a tier-1 service": `severity="page", tier="1"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentPolicy {
    pub name: String,
    /// All must match; an empty list matches every alert.
    pub matchers: Vec<Matcher>,
    pub severity: Severity,
    /// The incident title, with `{{label}}` replaced by the alert's label value.
    pub title: String,
    /// Labels whose values make two alerts of this policy the same incident (e.g. `service`):
    /// a second alert agreeing on them joins the open incident instead of opening another.
    /// Empty: only a repeat of the very same alert joins.
    pub group_by: Vec<String>,
}

impl IncidentPolicy {
    /// A policy from matchers in Alertmanager's syntax (`{severity="page", tier="1"}`, braces
    /// optional).
    pub fn new(
        name: impl Into<String>,
        matchers: &str,
        severity: Severity,
        title: impl Into<String>,
    ) -> Result<IncidentPolicy, MatcherError> {
        Ok(IncidentPolicy {
            name: name.into(),
            matchers: parse_matchers(matchers)?,
            severity,
            title: title.into(),
            group_by: Vec::new(),
        })
    }

    pub fn group_by<I, S>(mut self, labels: I) -> IncidentPolicy
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.group_by = labels.into_iter().map(Into::into).collect();
        self
    }

    /// The severity and rendered title of the incident this alert opens, if it matches.
    pub fn opens(&self, labels: &LabelSet) -> Option<(Severity, String)> {
        all_match(&self.matchers, labels)
            .then(|| (self.severity, render_title(&self.title, labels)))
    }

    /// Whether two label sets agree on every `group_by` label (a missing label reads as `""`,
    /// as in matchers).
    fn same_group(&self, a: &LabelSet, b: &LabelSet) -> bool {
        self.group_by.iter().all(|name| {
            a.get(name).map_or("", String::as_str) == b.get(name).map_or("", String::as_str)
        })
    }
}

/// Replaces each `{{label}}` (spaces inside the braces allowed) with the label's value, or
/// nothing when the alert lacks it. An unclosed `{{` is kept as written.
pub fn render_title(template: &str, labels: &LabelSet) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..open]);
        let name = rest[open + 2..open + 2 + close].trim();
        out.push_str(labels.get(name).map_or("", String::as_str));
        rest = &rest[open + 2 + close + 2..];
    }
    out.push_str(rest);
    out
}

/// What to do with an incoming alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertDisposition {
    /// Link it to this open incident.
    Join { incident: String },
    /// Declare a new incident under this policy.
    Open {
        policy: String,
        severity: Severity,
        title: String,
    },
    /// No policy wants an incident for it.
    Ignore,
}

/// Decides an alert's fate against the policies (first match wins) and the incidents (only
/// open ones count):
/// 1. an open incident already linking an alert with the same fingerprint takes it back;
/// 2. otherwise the first matching policy decides: with `group_by`, an open incident holding
///    an alert that matches the same policy and agrees on the `group_by` labels takes it;
/// 3. otherwise that policy opens a new incident; with no matching policy the alert is ignored.
///
/// When several incidents qualify, the one opened first (then lowest id) takes the alert.
/// Grouping reads linked alerts' kept labels, so keep the policy's matcher and `group_by`
/// labels when trimming a [`crate::LinkedAlert`]'s summary.
pub fn route_alert(
    policies: &[IncidentPolicy],
    incidents: &[Incident],
    labels: &LabelSet,
) -> AlertDisposition {
    let mut open: Vec<&Incident> = incidents.iter().filter(|i| i.is_open()).collect();
    open.sort_by(|a, b| (a.opened_at(), a.id()).cmp(&(b.opened_at(), b.id())));

    let print = fingerprint(labels).to_string();
    if let Some(incident) = open
        .iter()
        .find(|i| i.alerts().iter().any(|a| a.fingerprint == print))
    {
        return AlertDisposition::Join {
            incident: incident.id().to_string(),
        };
    }

    let Some(policy) = policies.iter().find(|p| all_match(&p.matchers, labels)) else {
        return AlertDisposition::Ignore;
    };
    if !policy.group_by.is_empty()
        && let Some(incident) = open.iter().find(|i| {
            i.alerts().iter().any(|a| {
                all_match(&policy.matchers, &a.labels) && policy.same_group(&a.labels, labels)
            })
        })
    {
        return AlertDisposition::Join {
            incident: incident.id().to_string(),
        };
    }
    AlertDisposition::Open {
        policy: policy.name.clone(),
        severity: policy.severity,
        title: render_title(&policy.title, labels),
    }
}
