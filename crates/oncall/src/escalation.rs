//! Escalation policies and the state machine that pages their levels in turn until someone
//! acknowledges.

use chrono::{DateTime, TimeDelta, Utc};
use headroom_core::Span;
use serde::{Deserialize, Serialize};

use crate::directory::Directory;
use crate::ids::{PolicyId, ScheduleId, UserId};

/// Who to page, level by level. After the last level the policy starts over at level 0,
/// `repeat` more times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationPolicy {
    pub id: PolicyId,
    pub name: String,
    pub levels: Vec<EscalationLevel>,
    /// Extra passes through all levels after the first.
    #[serde(default)]
    pub repeat: u32,
    /// How long an acknowledgement holds: still unresolved this long after it, the
    /// escalation triggers again from level 0 (someone acknowledged and then lost track).
    #[serde(default)]
    pub ack_timeout: Option<Span>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationLevel {
    pub targets: Vec<Target>,
    /// Time from paging this level to paging the next one (or level 0 of the next pass).
    pub delay: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Target {
    User(UserId),
    /// Whoever the schedule has on call when the level is paged.
    Schedule(ScheduleId),
}

/// One level paged: the users to notify, and the instant the page was due (not when it was
/// returned, which may be later after a restart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub level: usize,
    pub pass: u32,
    pub users: Vec<UserId>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EscalationState {
    Triggered,
    Acknowledged { at: DateTime<Utc> },
    Resolved { at: DateTime<Utc> },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EscalationError {
    #[error("the escalation was resolved at {at}; a new alert starts a new escalation")]
    Resolved { at: DateTime<Utc> },
}

/// The escalation of one alert, as a value a server persists and restores.
///
/// - Level 0 is paged at the start; level `i + 1` at level `i`'s page time plus
///   `levels[i].delay`; after the last level, while passes remain, level 0 again after the
///   last level's delay. Times are computed from the schedule of pages, not from when
///   [`due`](Self::due) was called, so a late call does not shift later pages.
/// - [`acknowledge`](Self::acknowledge) stops all pages not yet returned (whoever
///   acknowledged already has the alert); [`resolve`](Self::resolve) ends the escalation.
/// - With an `ack_timeout`, an acknowledgement lapses: at its time plus the timeout the
///   escalation triggers again, as [`trigger`](Self::trigger) at that instant, and
///   [`due`](Self::due) returns the pages from there.
/// - Re-trigger ([`trigger`](Self::trigger)): while triggered it changes nothing (the alert is
///   already escalating, so a repeated trigger is deduplicated); once acknowledged it starts
///   over from level 0, pass 0, at the trigger time; once resolved it is refused, since a new
///   alert gets a new escalation.
/// - The policy is copied at the start: editing a policy affects new escalations only, so
///   levels never shift under a running one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    policy: EscalationPolicy,
    started: DateTime<Utc>,
    state: EscalationState,
    /// The next page not yet returned.
    next: Option<Step>,
    skipped_pages: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Step {
    level: usize,
    pass: u32,
    at: DateTime<Utc>,
}

impl Escalation {
    /// An escalation triggered at `at`; its first page (level 0) is due at `at`.
    pub fn start(policy: &EscalationPolicy, at: DateTime<Utc>) -> Self {
        Escalation {
            policy: policy.clone(),
            started: at,
            state: EscalationState::Triggered,
            next: first_step(policy, at),
            skipped_pages: 0,
        }
    }

    pub fn policy(&self) -> &EscalationPolicy {
        &self.policy
    }

    /// When it was triggered (last re-triggered, after an acknowledgement).
    pub fn started(&self) -> DateTime<Utc> {
        self.started
    }

    pub fn state(&self) -> EscalationState {
        self.state
    }

    /// Pages never returned because `due` was called more than a full pass late.
    pub fn skipped_pages(&self) -> u64 {
        self.skipped_pages
    }

    /// When the next page is due, or an acknowledgement lapses: the instant to call
    /// [`due`](Self::due) at. `None` once resolved, acknowledged without a timeout, or past
    /// the last pass.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        match self.state {
            EscalationState::Triggered => self.next.map(|s| s.at),
            EscalationState::Acknowledged { at } => self.ack_lapses(at),
            EscalationState::Resolved { .. } => None,
        }
    }

    fn ack_lapses(&self, acknowledged: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let timeout = self.policy.ack_timeout?;
        Some(acknowledged + TimeDelta::milliseconds(timeout.millis()))
    }

    /// The pages due at or before `now` and not returned before, in time order, each once.
    /// Schedule targets resolve to whoever is on call at the page's own time; a user is
    /// named once per page however many targets lead to them, and a schedule with nobody on
    /// call adds nobody (so a page may have no users).
    ///
    /// When called more than a full pass late (after a restart, say), older passes are not
    /// replayed: a page is skipped when the same level's page of a later pass is also due.
    /// What is returned is then at most one page per level, those due within the last
    /// pass-length before `now`, and [`skipped_pages`](Self::skipped_pages) counts the rest.
    pub fn due(&mut self, now: DateTime<Utc>, directory: &Directory) -> Vec<Page> {
        let mut pages = Vec::new();
        if let EscalationState::Acknowledged { at } = self.state
            && let Some(lapse) = self.ack_lapses(at).filter(|t| *t <= now)
        {
            self.restart(lapse);
        }
        if self.state != EscalationState::Triggered {
            return pages;
        }
        while let Some(mut step) = self.next.filter(|s| s.at <= now) {
            let skip = self.passes_to_skip(step, now);
            if skip > 0 {
                step.pass += skip;
                // No overflow: `skip` passes fit in how late the call is.
                let cycle = self.pass_length().num_milliseconds();
                step.at += TimeDelta::milliseconds(cycle * i64::from(skip));
                self.skipped_pages += u64::from(skip) * self.policy.levels.len() as u64;
            }
            pages.push(self.page(step, directory));
            self.next = self.after(step);
        }
        pages
    }

    /// Stops further pages. Acknowledging twice keeps the first time.
    pub fn acknowledge(&mut self, at: DateTime<Utc>) -> Result<(), EscalationError> {
        match self.state {
            EscalationState::Resolved { at } => Err(EscalationError::Resolved { at }),
            EscalationState::Acknowledged { .. } => Ok(()),
            EscalationState::Triggered => {
                self.state = EscalationState::Acknowledged { at };
                self.next = None;
                Ok(())
            }
        }
    }

    /// Ends the escalation. Resolving twice keeps the first time, so a retried resolve is
    /// harmless.
    pub fn resolve(&mut self, at: DateTime<Utc>) {
        if !matches!(self.state, EscalationState::Resolved { .. }) {
            self.state = EscalationState::Resolved { at };
            self.next = None;
        }
    }

    /// The alert fired again. Returns whether the escalation started over (see the type's
    /// documentation for the rules).
    pub fn trigger(&mut self, at: DateTime<Utc>) -> Result<bool, EscalationError> {
        match self.state {
            EscalationState::Resolved { at } => Err(EscalationError::Resolved { at }),
            EscalationState::Triggered => Ok(false),
            EscalationState::Acknowledged { .. } => {
                self.restart(at);
                Ok(true)
            }
        }
    }

    fn restart(&mut self, at: DateTime<Utc>) {
        self.state = EscalationState::Triggered;
        self.started = at;
        self.next = first_step(&self.policy, at);
    }

    /// Time from a level's page to the same level's page in the next pass.
    fn pass_length(&self) -> TimeDelta {
        let ms = self.policy.levels.iter().map(|l| l.delay.millis()).sum();
        TimeDelta::milliseconds(ms)
    }

    /// How many whole passes to jump so that `step` is the last due page of its level.
    fn passes_to_skip(&self, step: Step, now: DateTime<Utc>) -> u32 {
        let remaining = self.policy.repeat.saturating_sub(step.pass);
        let cycle = self.pass_length().num_milliseconds();
        if remaining == 0 {
            return 0;
        }
        if cycle <= 0 {
            // Every pass is due at once: paging the same people again adds nothing.
            return remaining;
        }
        let late = (now - step.at).num_milliseconds();
        u32::try_from(late / cycle)
            .unwrap_or(u32::MAX)
            .min(remaining)
    }

    fn after(&self, step: Step) -> Option<Step> {
        let levels = &self.policy.levels;
        let at = step.at + TimeDelta::milliseconds(levels.get(step.level)?.delay.millis());
        if step.level + 1 < levels.len() {
            Some(Step {
                level: step.level + 1,
                pass: step.pass,
                at,
            })
        } else if step.pass < self.policy.repeat {
            Some(Step {
                level: 0,
                pass: step.pass + 1,
                at,
            })
        } else {
            None
        }
    }

    fn page(&self, step: Step, directory: &Directory) -> Page {
        let mut users: Vec<UserId> = Vec::new();
        // A restored state names a level of its own policy copy; `get` only guards against
        // a hand-edited one.
        let targets = self
            .policy
            .levels
            .get(step.level)
            .map_or(&[][..], |l| &l.targets);
        for target in targets {
            let user = match target {
                Target::User(user) => Some(user.clone()),
                Target::Schedule(id) => directory.schedule(id).and_then(|s| s.oncall_at(step.at)),
            };
            if let Some(user) = user
                && !users.contains(&user)
            {
                users.push(user);
            }
        }
        Page {
            level: step.level,
            pass: step.pass,
            users,
            at: step.at,
        }
    }
}

fn first_step(policy: &EscalationPolicy, at: DateTime<Utc>) -> Option<Step> {
    (!policy.levels.is_empty()).then_some(Step {
        level: 0,
        pass: 0,
        at,
    })
}
