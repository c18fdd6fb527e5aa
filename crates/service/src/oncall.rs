//! On-call: the config's directory (users, teams, schedules) with the overrides added through the
//! API, who is on call when, calendar feeds, and the contact methods pages go to.
//!
//! Invariants:
//! - Overrides added through the API live in the store and sit on top of the config's own: the
//!   most recently added one wins where they overlap (`Schedule`'s later-override-wins rule).
//! - Every answer about a time (who, shifts, feeds, pages) reads the directory with the stored
//!   overrides that overlap it, so the API, the feeds and the pager agree.
//! - A feed's subscription key reads that one feed, and rotating it ends the old key.

use std::collections::BTreeMap;
use std::sync::RwLock;

use chrono::{DateTime, TimeDelta, Utc};
use headroom_core::Timestamp;
use headroom_notify::{Email, Integration, Slack, Webhook};
use headroom_oncall::{
    ContactMethod, Directory, Override, OverrideId, PolicyId, Schedule, ScheduleId, UserId,
};
use headroom_spec::Config;
use headroom_store::{FeedKeyStore, OverrideStore, ScheduleOverride, Store, StoreError};
use rand::Rng;

use crate::clock::Clock;
use crate::error::ServiceError;
use crate::limits;

/// What a calendar feed covers: from a week ago to three months ahead.
const FEED_PAST: TimeDelta = TimeDelta::days(7);
const FEED_AHEAD: TimeDelta = TimeDelta::days(90);

/// The on-call directory of the config in force, with the store's overrides.
pub struct OnCall {
    /// The config's directory (without stored overrides).
    pub directory: RwLock<Directory>,
    /// Receiver name → the escalation policy it pages.
    pub receiver_escalations: RwLock<BTreeMap<String, PolicyId>>,
    /// The SMTP settings email contact methods are sent with: those of the config's first email
    /// integration (the config does not expose its `global` SMTP settings on their own).
    pub smtp: RwLock<Option<Email>>,
    store: Store,
    clock: Clock,
}

/// An override to add to a schedule.
pub struct NewOverride {
    pub schedule: String,
    pub user: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Who added it.
    pub by: String,
}

impl OnCall {
    pub fn new(config: &Config, store: Store, clock: Clock) -> OnCall {
        OnCall {
            directory: RwLock::new(config.oncall.clone()),
            receiver_escalations: RwLock::new(config.receiver_escalations.clone()),
            smtp: RwLock::new(smtp_of(config)),
            store,
            clock,
        }
    }

    /// Takes a reloaded config's directory and policies. Running escalations keep their copy
    /// of the policy they started with.
    pub fn reload(&self, config: &Config) {
        *self.directory.write().expect("directory lock") = config.oncall.clone();
        *self
            .receiver_escalations
            .write()
            .expect("receiver escalations lock") = config.receiver_escalations.clone();
        *self.smtp.write().expect("smtp lock") = smtp_of(config);
    }

    /// The config's directory, without stored overrides.
    pub fn config_directory(&self) -> Directory {
        self.directory.read().expect("directory lock").clone()
    }

    /// The integration behind an outbox item's `user:<id>:<n>` (given without `user:`): the
    /// user's `n`th contact method in the directory in force.
    pub fn contact_integration(&self, contact: &str) -> Result<Integration, String> {
        let (user, n) = contact
            .rsplit_once(':')
            .and_then(|(u, n)| Some((u, n.parse::<usize>().ok()?)))
            .ok_or_else(|| format!("malformed contact reference {contact:?}"))?;
        let directory = self.directory.read().expect("directory lock");
        let method = directory
            .user(&UserId::from(user))
            .ok_or_else(|| format!("user {user:?} is not in the config in force"))?
            .contact_methods
            .get(n)
            .ok_or_else(|| {
                format!("user {user:?} has no contact method {n} in the config in force")
            })?;
        Ok(match method {
            ContactMethod::Email { address } => {
                let smtp = self.smtp.read().expect("smtp lock").clone();
                let smtp = smtp.ok_or_else(|| {
                    "no SMTP settings: email contact methods need global smtp_from and \
                     smtp_smarthost (or an email receiver to borrow them from)"
                        .to_string()
                })?;
                Integration::Email(Email {
                    to: address.clone(),
                    send_resolved: true,
                    ..smtp
                })
            }
            ContactMethod::Slack { webhook_url } => Integration::Slack(Slack {
                url: webhook_url.clone(),
                channel: None,
                username: None,
                title: None,
                text: None,
                send_resolved: true,
            }),
            ContactMethod::Webhook { url } => Integration::Webhook(Webhook {
                url: url.clone(),
                send_resolved: true,
                max_alerts: 0,
                tls: None,
                auth: None,
            }),
        })
    }

    /// The config's directory with the stored overrides overlapping `[from, to)` added to their
    /// schedules, oldest added first (so the newest wins).
    pub async fn directory_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Directory, StoreError> {
        let mut directory = self.config_directory();
        for schedule in &mut directory.schedules {
            self.add_stored_overrides(schedule, from, to).await?;
        }
        Ok(directory)
    }

    async fn add_stored_overrides(
        &self,
        schedule: &mut Schedule,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut stored = self
            .store
            .list_overrides(
                schedule.id.as_str(),
                Timestamp::from_chrono(&from),
                Timestamp::from_chrono(&to),
            )
            .await?;
        stored.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        schedule
            .overrides
            .extend(stored.into_iter().map(|o| Override {
                id: OverrideId(o.id),
                user: UserId(o.user_id),
                start: o.starts_at.to_chrono(),
                end: o.ends_at.to_chrono(),
            }));
        Ok(())
    }

    /// One schedule with its stored overrides over `[from, to)`, and the config's directory.
    pub async fn schedule_between(
        &self,
        id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(Schedule, Directory), ServiceError> {
        let directory = self.config_directory();
        let mut schedule = directory
            .schedule(&ScheduleId::from(id))
            .cloned()
            .ok_or_else(|| ServiceError::NotFound(format!("no schedule {id:?}")))?;
        self.add_stored_overrides(&mut schedule, from, to).await?;
        Ok((schedule, directory))
    }

    /// Whether the config has schedule `id`.
    pub fn known_schedule(&self, id: &str) -> Result<(), ServiceError> {
        match self.config_directory().schedule(&ScheduleId::from(id)) {
            Some(_) => Ok(()),
            None => Err(ServiceError::NotFound(format!("no schedule {id:?}"))),
        }
    }

    /// Adds an override to a schedule of the config; returns its id.
    pub async fn add_override(&self, o: NewOverride) -> Result<String, ServiceError> {
        let id = &o.schedule;
        self.known_schedule(id)?;
        let directory = self.config_directory();
        let user = &o.user;
        if directory.user(&UserId::from(user.as_str())).is_none() {
            return Err(ServiceError::Invalid(format!(
                "user: unknown user {user:?}"
            )));
        }
        if o.end <= o.start {
            return Err(ServiceError::Invalid("end: must be after start".into()));
        }
        limits::check_text("by", &o.by)?;
        let now = (self.clock)();
        let live = self
            .store
            .list_overrides(id, now, Timestamp(i64::MAX))
            .await?
            .len();
        if live >= limits::MAX_OVERRIDES_PER_SCHEDULE {
            return Err(limits::full(
                &format!("overrides of schedule {id:?} not yet ended"),
                limits::MAX_OVERRIDES_PER_SCHEDULE,
            ));
        }
        let override_id = format!("o-{}", hex::encode(rand::rng().random::<[u8; 8]>()));
        self.store
            .add_override(&ScheduleOverride {
                id: override_id.clone(),
                schedule: id.clone(),
                user_id: user.clone(),
                starts_at: Timestamp::from_chrono(&o.start),
                ends_at: Timestamp::from_chrono(&o.end),
                created_by: o.by,
                created_at: now,
            })
            .await?;
        Ok(override_id)
    }

    /// Deletes an override added through the API; the config's own are changed in the config.
    pub async fn delete_override(&self, id: &str) -> Result<(), ServiceError> {
        if self.store.delete_override(id).await? {
            return Ok(());
        }
        let in_config = self
            .config_directory()
            .schedules
            .iter()
            .any(|s| s.overrides.iter().any(|o| o.id.as_str() == id));
        if in_config {
            return Err(ServiceError::Conflict(format!(
                "override {id:?} is defined in the config; remove it there"
            )));
        }
        Err(ServiceError::NotFound(format!("no override {id:?}")))
    }

    /// A schedule's calendar feed (iCalendar).
    pub async fn schedule_feed(&self, id: &str) -> Result<String, ServiceError> {
        let now = (self.clock)().to_chrono();
        let (from, to) = (now - FEED_PAST, now + FEED_AHEAD);
        let (schedule, directory) = self.schedule_between(id, from, to).await?;
        Ok(headroom_oncall::ical::schedule_feed(
            &schedule, &directory, from, to, now,
        ))
    }

    /// A user's calendar feed: their shifts in every schedule.
    pub async fn user_feed(&self, id: &str) -> Result<String, ServiceError> {
        let user = self.known_user(id)?;
        let now = (self.clock)().to_chrono();
        let (from, to) = (now - FEED_PAST, now + FEED_AHEAD);
        let directory = self.directory_between(from, to).await?;
        Ok(headroom_oncall::ical::user_feed(
            &user, &directory, from, to, now,
        ))
    }

    /// The feed a subscription key was made for; `None` when no feed has this key.
    pub async fn keyed_feed(&self, key: &str) -> Result<Option<String>, ServiceError> {
        let Some(feed) = self.store.feed_for_key(key).await? else {
            return Ok(None);
        };
        match feed.split_once(':') {
            Some(("user", id)) => self.user_feed(id).await.map(Some),
            Some(("schedule", id)) => self.schedule_feed(id).await.map(Some),
            _ => Err(ServiceError::Internal(format!(
                "feed key for an unknown feed {feed:?}"
            ))),
        }
    }

    /// A new subscription key for a user's feed; the previous one stops working. Returns the
    /// feed's name and its key.
    pub async fn rotate_user_feed(&self, id: &str) -> Result<(String, String), ServiceError> {
        self.known_user(id)?;
        self.rotate(format!("user:{id}")).await
    }

    /// As [`OnCall::rotate_user_feed`], for a schedule.
    pub async fn rotate_schedule_feed(&self, id: &str) -> Result<(String, String), ServiceError> {
        self.known_schedule(id)?;
        self.rotate(format!("schedule:{id}")).await
    }

    async fn rotate(&self, feed: String) -> Result<(String, String), ServiceError> {
        let key = self.store.rotate_feed_key(&feed, (self.clock)()).await?;
        tracing::info!(%feed, "calendar feed key rotated");
        Ok((feed, key))
    }

    fn known_user(&self, id: &str) -> Result<UserId, ServiceError> {
        let user = UserId::from(id);
        if self.config_directory().user(&user).is_none() {
            return Err(ServiceError::NotFound(format!("no user {id:?}")));
        }
        Ok(user)
    }
}

/// The SMTP server email contact methods use: the config's `global.smtp_*`, else that of its
/// first email receiver.
fn smtp_of(config: &Config) -> Option<Email> {
    config.smtp.clone().or_else(|| {
        config
            .receivers
            .iter()
            .flat_map(|r| &r.integrations)
            .find_map(|i| match i {
                Integration::Email(e) => Some(e.clone()),
                _ => None,
            })
    })
}
