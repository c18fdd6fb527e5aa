//! Who exists: users, teams, schedules and escalation policies, and the check that every
//! reference between them resolves.

use std::collections::HashSet;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::escalation::{EscalationPolicy, Target};
use crate::ids::{PolicyId, ScheduleId, TeamId, UserId};
use crate::schedule::{Schedule, TurnLength};

/// Where a user can be reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContactMethod {
    Email { address: String },
    Slack { webhook_url: String },
    Webhook { url: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: String,
    pub time_zone: Tz,
    #[serde(default)]
    pub contact_methods: Vec<ContactMethod>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub members: Vec<UserId>,
    /// The team's usual policy, listed with the team; what pages is a receiver's
    /// `escalation_policy`, which may name the same one.
    #[serde(default)]
    pub escalation_policy: Option<PolicyId>,
}

/// Everything on-call knows about: the unit a server loads, validates and swaps whole.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Directory {
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub teams: Vec<Team>,
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    #[serde(default)]
    pub escalation_policies: Vec<EscalationPolicy>,
}

/// One problem found by [`Directory::validate`]. `place` says where the reference sits, e.g.
/// `schedule "primary" layer 0`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("{place}: unknown user \"{user}\"")]
    UnknownUser { place: String, user: UserId },
    #[error("{place}: unknown schedule \"{schedule}\"")]
    UnknownSchedule { place: String, schedule: ScheduleId },
    #[error("{place}: unknown escalation policy \"{policy}\"")]
    UnknownPolicy { place: String, policy: PolicyId },
    #[error("duplicate {kind} id {id:?}")]
    DuplicateId { kind: &'static str, id: String },
    #[error("{place}: {reason}")]
    Invalid { place: String, reason: &'static str },
}

impl Directory {
    pub fn user(&self, id: &UserId) -> Option<&User> {
        self.users.iter().find(|u| &u.id == id)
    }

    pub fn team(&self, id: &TeamId) -> Option<&Team> {
        self.teams.iter().find(|t| &t.id == id)
    }

    pub fn schedule(&self, id: &ScheduleId) -> Option<&Schedule> {
        self.schedules.iter().find(|s| &s.id == id)
    }

    pub fn policy(&self, id: &PolicyId) -> Option<&EscalationPolicy> {
        self.escalation_policies.iter().find(|p| &p.id == id)
    }

    /// Every problem at once (not just the first), so a config can be fixed in one pass:
    /// unknown user, schedule and policy references, duplicate ids, and shapes that would
    /// make a schedule or policy meaningless (an empty rotation, a zero-length turn, an
    /// override ending before it starts, a policy without levels, a level without targets or
    /// with a zero delay).
    pub fn validate(&self) -> Result<(), Vec<DirectoryError>> {
        let mut errors = Vec::new();
        let users = unique(
            "user",
            self.users.iter().map(|u| u.id.as_str()),
            &mut errors,
        );
        unique(
            "team",
            self.teams.iter().map(|t| t.id.as_str()),
            &mut errors,
        );
        let schedules = unique(
            "schedule",
            self.schedules.iter().map(|s| s.id.as_str()),
            &mut errors,
        );
        let policies = unique(
            "escalation policy",
            self.escalation_policies.iter().map(|p| p.id.as_str()),
            &mut errors,
        );
        let user_ref = |place: &dyn Fn() -> String, user: &UserId, errors: &mut Vec<_>| {
            if !users.contains(user.as_str()) {
                errors.push(DirectoryError::UnknownUser {
                    place: place(),
                    user: user.clone(),
                });
            }
        };

        for team in &self.teams {
            let place = || format!("team {:?}", team.id.as_str());
            for member in &team.members {
                user_ref(&place, member, &mut errors);
            }
            if let Some(policy) = &team.escalation_policy
                && !policies.contains(policy.as_str())
            {
                errors.push(DirectoryError::UnknownPolicy {
                    place: place(),
                    policy: policy.clone(),
                });
            }
        }

        for schedule in &self.schedules {
            for (i, layer) in schedule.layers.iter().enumerate() {
                let place = || format!("schedule {:?} layer {i}", schedule.id.as_str());
                for user in &layer.users {
                    user_ref(&place, user, &mut errors);
                }
                if layer.users.is_empty() {
                    errors.push(DirectoryError::Invalid {
                        place: place(),
                        reason: "a layer needs at least one user",
                    });
                }
                if matches!(layer.turn, TurnLength::Days(0) | TurnLength::Hours(0)) {
                    errors.push(DirectoryError::Invalid {
                        place: place(),
                        reason: "a turn must be longer than zero",
                    });
                }
                if layer.end.is_some_and(|end| end <= layer.rotation_start) {
                    errors.push(DirectoryError::Invalid {
                        place: place(),
                        reason: "a layer must end after its rotation starts",
                    });
                }
            }
            for o in &schedule.overrides {
                let place = || {
                    format!(
                        "schedule {:?} override {:?}",
                        schedule.id.as_str(),
                        o.id.as_str()
                    )
                };
                user_ref(&place, &o.user, &mut errors);
                if o.end <= o.start {
                    errors.push(DirectoryError::Invalid {
                        place: place(),
                        reason: "an override must end after it starts",
                    });
                }
            }
        }

        for policy in &self.escalation_policies {
            if policy.levels.is_empty() {
                errors.push(DirectoryError::Invalid {
                    place: format!("escalation policy {:?}", policy.id.as_str()),
                    reason: "a policy needs at least one level",
                });
            }
            for (i, level) in policy.levels.iter().enumerate() {
                let place = || format!("escalation policy {:?} level {i}", policy.id.as_str());
                // Span's own syntax has no zero, so a zero delay could not be stored and read
                // back; and a page repeated at once adds nothing.
                if level.delay.millis() <= 0 {
                    errors.push(DirectoryError::Invalid {
                        place: place(),
                        reason: "a level's delay must be longer than zero",
                    });
                }
                if level.targets.is_empty() {
                    errors.push(DirectoryError::Invalid {
                        place: place(),
                        reason: "a level needs at least one target",
                    });
                }
                for target in &level.targets {
                    match target {
                        Target::User(user) => user_ref(&place, user, &mut errors),
                        Target::Schedule(schedule) => {
                            if !schedules.contains(schedule.as_str()) {
                                errors.push(DirectoryError::UnknownSchedule {
                                    place: place(),
                                    schedule: schedule.clone(),
                                });
                            }
                        }
                    }
                }
            }
        }

        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn unique<'a>(
    kind: &'static str,
    ids: impl Iterator<Item = &'a str>,
    errors: &mut Vec<DirectoryError>,
) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            errors.push(DirectoryError::DuplicateId {
                kind,
                id: id.to_string(),
            });
        }
    }
    seen
}
