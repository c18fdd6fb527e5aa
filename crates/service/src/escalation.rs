//! Escalations: a notification for a receiver that names an escalation policy starts one
//! (`headroom_oncall::Escalation`) for its receiver and group; the worker pages its levels to
//! the on-call users' contact methods until someone acknowledges or the alerts resolve.
//! Signed links in every page acknowledge or resolve without a token.
//!
//! Invariants:
//! - The escalation's whole state is in the store (`escalations.state_json`), so a restart
//!   resumes it; a page due while the server was down goes out at the next round, as
//!   `Escalation::due` defines.
//! - A record stays `open` until resolved (acknowledged ones too: their alerts still fire), and
//!   `next_at` is the next page's time, `NULL` once nothing more is due.
//! - Pages are in the outbox before the escalation's new state is stored; a page queued again
//!   after a failure has the same idempotency key, so it is sent once.
//! - A link is `id.action.expiry.signature`, the signature an HMAC-SHA256 of the rest with a
//!   key kept in the store; it is compared in constant time, works until it expires, and once
//!   (`ActionLinkStore`). It is spent in the same transaction as the change it makes.
//! - Lock order: the dispatcher's desk, then the escalations' own lock (`changing`).

use std::collections::HashSet;
use std::time::Duration;

use headroom_core::{Span, Timestamp};
use headroom_notify::{Actions, Message};
use headroom_oncall::{Directory, Escalation, EscalationState, Page};
use headroom_routing::dispatch::Notification;
use headroom_routing::group::Fingerprint;
use headroom_store::{
    ActionLinkStore, EscalationRecord, EscalationStore, NewOutboxItem, SecretStore, Store,
    StoreError,
};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tokio::sync::{Mutex, Notify};

use crate::clock::Clock;
use crate::desk::Desk;
use crate::error::ServiceError;
use crate::incidents::{Incidents, PageNote};
use crate::oncall::OnCall;
use crate::outbox::Outbox;

/// How long an action link works.
pub const LINK_LIFETIME: Span = Span(24 * 3_600_000);
/// The longest the worker sleeps: it also notices alerts that went away.
const MAX_IDLE: Duration = Duration::from_secs(5);
/// The store's name for the key that signs action links.
const LINK_KEY: &str = "action_links";

/// What the store keeps of one escalation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tracked {
    pub receiver: String,
    pub group_key: String,
    pub escalation: Escalation,
    /// The group's latest notification: what pages say.
    pub message: Message,
    #[serde(default)]
    pub pages: Vec<Page>,
    #[serde(default)]
    pub acknowledged_by: Option<String>,
    #[serde(default)]
    pub resolved_by: Option<String>,
}

impl Tracked {
    fn record(&self, id: &str, now: Timestamp) -> EscalationRecord {
        EscalationRecord {
            id: id.to_string(),
            subject: format!("{} {}", self.receiver, self.group_key),
            policy: self.escalation.policy().id.to_string(),
            state_json: serde_json::to_string(self).unwrap_or_default(),
            next_at: self
                .escalation
                .next_deadline()
                .map(|t| Timestamp::from_chrono(&t)),
            open: !matches!(self.escalation.state(), EscalationState::Resolved { .. }),
            updated_at: now,
        }
    }

    /// The fingerprints of the alerts it pages for, as incidents link them.
    fn alert_fingerprints(&self) -> Vec<String> {
        self.message
            .alerts
            .iter()
            .map(|a| format!("{:016x}", a.fingerprint.0))
            .collect()
    }
}

fn read(record: &EscalationRecord) -> Result<Tracked, StoreError> {
    serde_json::from_str(&record.state_json).map_err(|e| StoreError::Corrupt {
        op: "reading an escalation",
        detail: format!("escalation {}: {e}", record.id),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Acknowledge,
    Resolve,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Acknowledge => "ack",
            Action::Resolve => "resolve",
        }
    }
    fn past(self) -> &'static str {
        match self {
            Action::Acknowledge => "acknowledged",
            Action::Resolve => "resolved",
        }
    }
}

fn signature(key: &[u8], payload: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// A signed link token for `action` on escalation `id`, valid until `expires`.
pub fn link_token(key: &[u8], id: &str, action: Action, expires: Timestamp) -> String {
    let payload = format!("{id}.{}.{}", action.as_str(), expires.millis());
    let sig = hex::encode(signature(key, &payload));
    format!("{payload}.{sig}")
}

/// The escalations in the store, the key that signs their links, and the worker's wake-up.
pub struct Escalations {
    /// Signs action links; generated at the first start and kept in the store.
    pub link_key: Vec<u8>,
    /// Wakes the worker: an escalation started.
    wake: Notify,
    /// Serialises changes to escalations (dispatcher, worker, API). Taken after the desk lock.
    changing: Mutex<()>,
    /// The address links point to.
    external_url: String,
    store: Store,
    clock: Clock,
}

impl Escalations {
    /// The escalations of `store`, with its link key (created if missing).
    pub async fn restore(
        store: Store,
        clock: Clock,
        external_url: String,
    ) -> Result<Escalations, StoreError> {
        let candidate: [u8; 32] = rand::rng().random();
        let key = store
            .server_secret(LINK_KEY, &hex::encode(candidate), clock())
            .await?;
        let link_key = hex::decode(&key).map_err(|e| StoreError::Corrupt {
            op: "reading the action link key",
            detail: e.to_string(),
        })?;
        Ok(Escalations {
            link_key,
            wake: Notify::new(),
            changing: Mutex::new(()),
            external_url,
            store,
            clock,
        })
    }

    fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// The escalations in progress (acknowledged ones too), by id.
    pub async fn open(&self) -> Result<Vec<(String, Tracked)>, StoreError> {
        let mut out = Vec::new();
        for r in self.store.open_escalations().await? {
            match read(&r) {
                Ok(t) => out.push((r.id, t)),
                // One unreadable record must not stop every other escalation.
                Err(e) => tracing::error!(error = %e, "skipping an escalation"),
            }
        }
        Ok(out)
    }

    /// Escalation `id`, open or not.
    pub async fn get(&self, id: &str) -> Result<Tracked, ServiceError> {
        let record = self
            .store
            .get_escalation(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no escalation {id:?}")))?;
        Ok(read(&record)?)
    }

    /// The dispatcher's hook: starts or keeps the escalation of each notification to a receiver
    /// with a policy (resolves it when the notification says every alert resolved), and returns
    /// the action links each notification carries. `messages` are what the notifications say.
    /// Called with the desk locked, before enqueueing, so a failure here leaves the
    /// notifications to be flushed again.
    pub async fn notified(
        &self,
        oncall: &OnCall,
        notifications: &[Notification],
        messages: &[Message],
        now: Timestamp,
    ) -> Result<Vec<Option<Actions>>, StoreError> {
        let policies = oncall
            .receiver_escalations
            .read()
            .expect("receiver escalations lock")
            .clone();
        let mut actions = vec![None; notifications.len()];
        if !notifications
            .iter()
            .any(|n| policies.contains_key(&n.receiver))
        {
            return Ok(actions);
        }
        let _changing = self.changing.lock().await;
        let mut open = self.open().await?;
        let directory = oncall.config_directory();
        let at = now.to_chrono();
        let mut started = false;
        for (i, (n, message)) in notifications.iter().zip(messages).enumerate() {
            let Some(policy_id) = policies.get(&n.receiver) else {
                continue;
            };
            let firing = n.alerts.iter().any(|a| !a.resolved_at(n.at));
            let existing = open
                .iter_mut()
                .find(|(_, t)| t.receiver == n.receiver && t.group_key == n.group_key);
            match (existing, firing) {
                (Some((id, t)), true) => {
                    // Still firing (a repeat, or a new alert in the group): keep the escalation.
                    t.message = message.clone();
                    self.store.put_escalation(&t.record(id, now)).await?;
                    actions[i] = Some(self.links(id, now));
                }
                (Some((id, t)), false) => {
                    t.escalation.resolve(at);
                    t.resolved_by = Some("alerts resolved".to_string());
                    self.store.put_escalation(&t.record(id, now)).await?;
                }
                (None, true) => {
                    let Some(policy) = directory.policy(policy_id) else {
                        tracing::warn!(receiver = %n.receiver, policy = %policy_id, "escalation policy not in the config; not paging");
                        continue;
                    };
                    let id = format!("e-{}", hex::encode(rand::rng().random::<[u8; 8]>()));
                    let t = Tracked {
                        receiver: n.receiver.clone(),
                        group_key: n.group_key.clone(),
                        escalation: Escalation::start(policy, at),
                        message: message.clone(),
                        pages: Vec::new(),
                        acknowledged_by: None,
                        resolved_by: None,
                    };
                    self.store.put_escalation(&t.record(&id, now)).await?;
                    tracing::info!(escalation = %id, receiver = %n.receiver, group = %n.group_key, "escalation started");
                    actions[i] = Some(self.links(&id, now));
                    open.push((id, t));
                    started = true;
                }
                (None, false) => {}
            }
        }
        if started {
            self.wake.notify_one();
        }
        Ok(actions)
    }

    /// The worker: runs escalation rounds until the server stops.
    pub async fn run(
        &self,
        desk: &Mutex<Desk>,
        oncall: &OnCall,
        outbox: &Outbox,
        incidents: &Incidents,
    ) {
        loop {
            let wait = self.round(desk, oncall, outbox, incidents).await;
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One round at the clock's `now`: resolves escalations whose group has no firing alert
    /// left, pages what is due, and returns how long until the next page is due (at most
    /// `MAX_IDLE`).
    pub async fn round(
        &self,
        desk: &Mutex<Desk>,
        oncall: &OnCall,
        outbox: &Outbox,
        incidents: &Incidents,
    ) -> Duration {
        let now = self.now();
        let desk = desk.lock().await;
        let live = desk.live_groups(now.to_chrono());
        // Taken before the desk is released, so no escalation starts between the look at the
        // groups and the check against them.
        let changing = self.changing.lock().await;
        drop(desk);
        let next = match self.page_due(oncall, outbox, incidents, &live, now).await {
            Ok(next) => next,
            Err(e) => {
                tracing::error!(error = %e, "escalation round failed; retrying");
                None
            }
        };
        drop(changing);
        if let Err(e) = self
            .store
            .delete_action_links_before(now - LINK_LIFETIME)
            .await
        {
            tracing::warn!(error = %e, "could not forget expired action links");
        }
        next.map_or(MAX_IDLE, |t| {
            let ms = (t - now).millis().max(0);
            Duration::from_millis(ms as u64).min(MAX_IDLE)
        })
    }

    async fn page_due(
        &self,
        oncall: &OnCall,
        outbox: &Outbox,
        incidents: &Incidents,
        live: &HashSet<(String, String)>,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError> {
        let at = now.to_chrono();
        let mut open = self.open().await?;
        let earliest_due = open
            .iter()
            .filter_map(|(_, t)| t.escalation.next_deadline())
            .filter(|d| *d <= at)
            .min();
        // Pages resolve schedules at their own time, with the overrides then.
        let directory = match earliest_due {
            Some(from) => {
                oncall
                    .directory_between(from, at + chrono::TimeDelta::milliseconds(1))
                    .await?
            }
            None => Directory::default(),
        };
        let mut items = Vec::new();
        let mut changed = Vec::new();
        // Pages for the incidents that link the paged alerts: (fingerprints, (who, level, at)).
        let mut paged: Vec<(Vec<String>, Vec<PageNote>)> = Vec::new();
        for (id, t) in &mut open {
            if !live.contains(&(t.receiver.clone(), t.group_key.clone())) {
                t.escalation.resolve(at);
                t.resolved_by = Some("alerts resolved".to_string());
                changed.push(id.clone());
                continue;
            }
            if t.escalation.next_deadline().is_none_or(|d| d > at) {
                continue;
            }
            let was_acknowledged =
                matches!(t.escalation.state(), EscalationState::Acknowledged { .. });
            let pages = t.escalation.due(at, &directory);
            if was_acknowledged && t.escalation.state() == EscalationState::Triggered {
                tracing::info!(escalation = %id, acknowledged_by = ?t.acknowledged_by, "acknowledgement timed out; paging again");
                t.acknowledged_by = None;
            }
            for page in &pages {
                items.extend(self.page_items(id, t, page, &directory, now));
                tracing::info!(escalation = %id, level = page.level, pass = page.pass, users = ?page.users, "paging");
            }
            paged.push((
                t.alert_fingerprints(),
                pages
                    .iter()
                    .flat_map(|p| {
                        let at = Timestamp::from_chrono(&p.at);
                        p.users
                            .iter()
                            .map(move |u| (u.to_string(), p.level as u32 + 1, at))
                    })
                    .collect(),
            ));
            t.pages.extend(pages);
            changed.push(id.clone());
        }
        if !items.is_empty() {
            outbox.enqueue(&items, now).await?;
        }
        for (id, t) in open.iter().filter(|(id, _)| changed.contains(id)) {
            self.store.put_escalation(&t.record(id, now)).await?;
        }
        for (fingerprints, pages) in paged {
            if let Err(e) = incidents.record_pages(&fingerprints, &pages).await {
                // The pages went out; only the incident's timeline misses them.
                tracing::warn!(error = %e, "could not note pages on their incident");
            }
        }
        Ok(open
            .iter()
            .filter_map(|(_, t)| t.escalation.next_deadline())
            .min()
            .map(|t| Timestamp::from_chrono(&t)))
    }

    /// One outbox item per contact method of each paged user, carrying the group's latest
    /// message and fresh action links.
    fn page_items(
        &self,
        id: &str,
        t: &Tracked,
        page: &Page,
        directory: &Directory,
        now: Timestamp,
    ) -> Vec<NewOutboxItem> {
        let mut message = t.message.clone();
        message.actions = Some(self.links(id, now));
        let payload_json = serde_json::to_string(&message).unwrap_or_default();
        let mut items = Vec::new();
        for user in &page.users {
            let methods = directory.user(user).map_or(0, |u| u.contact_methods.len());
            if methods == 0 {
                tracing::warn!(escalation = %id, user = %user, "paged user has no contact method");
            }
            for n in 0..methods {
                items.push(NewOutboxItem {
                    idempotency_key: format!(
                        "escalation/{id}/{}/{}/{user}/{n}",
                        page.at.timestamp_millis(),
                        page.level
                    ),
                    receiver: t.receiver.clone(),
                    integration: format!("user:{user}:{n}"),
                    payload_json: payload_json.clone(),
                    not_before: None,
                });
            }
        }
        items
    }

    // ---- actions ----

    /// Acknowledges or resolves escalation `id`; returns its new state. Through a link, the
    /// link's signed payload is spent with the change.
    pub async fn act(
        &self,
        incidents: &Incidents,
        id: &str,
        action: Action,
        by: Option<String>,
        link: Option<&str>,
    ) -> Result<Tracked, ServiceError> {
        let _changing = self.changing.lock().await;
        let mut t = self.get(id).await?;
        let at = self.now().to_chrono();
        match action {
            Action::Acknowledge => {
                if matches!(t.escalation.state(), EscalationState::Triggered) {
                    t.acknowledged_by = by;
                }
                t.escalation
                    .acknowledge(at)
                    .map_err(|e| ServiceError::Conflict(format!("escalation {id}: {e}")))?;
            }
            Action::Resolve => {
                if !matches!(t.escalation.state(), EscalationState::Resolved { .. }) {
                    t.resolved_by = by;
                }
                t.escalation.resolve(at);
            }
        }
        let record = t.record(id, self.now());
        match link {
            None => self.store.put_escalation(&record).await?,
            // The link is spent in the same transaction as the change, so an action refused
            // above leaves it usable and a used one changes nothing.
            Some(link) => {
                if !self
                    .store
                    .put_escalation_using_link(&record, link, self.now())
                    .await?
                {
                    return Err(ServiceError::LinkUsed);
                }
            }
        }
        tracing::info!(escalation = %id, action = action.past(), "escalation changed");
        if action == Action::Acknowledge {
            let by = t
                .acknowledged_by
                .clone()
                .unwrap_or_else(|| "on-call".to_string());
            if let Err(e) = incidents
                .acknowledge_linked(&t.alert_fingerprints(), &by)
                .await
            {
                tracing::warn!(error = %e, "could not acknowledge the page's incident");
            }
        }
        Ok(t)
    }

    /// Acknowledges the open escalations of every group holding one of these alerts (a
    /// PagerDuty `acknowledge` event names its alert by dedup key, not an escalation); returns
    /// how many.
    pub async fn acknowledge_alerts(
        &self,
        desk: &Mutex<Desk>,
        incidents: &Incidents,
        fingerprints: &[Fingerprint],
        by: &str,
    ) -> Result<usize, ServiceError> {
        let subjects = desk.lock().await.groups_holding(fingerprints);
        let mut acknowledged = 0;
        for (id, t) in self.open().await? {
            if subjects.contains(&(t.receiver.clone(), t.group_key.clone()))
                && matches!(t.escalation.state(), EscalationState::Triggered)
            {
                self.act(
                    incidents,
                    &id,
                    Action::Acknowledge,
                    Some(by.to_string()),
                    None,
                )
                .await?;
                acknowledged += 1;
            }
        }
        Ok(acknowledged)
    }

    // ---- signed links ----

    fn links(&self, id: &str, now: Timestamp) -> Actions {
        let base = self.external_url.trim_end_matches('/');
        let expires = now + LINK_LIFETIME;
        let key = &self.link_key;
        Actions {
            acknowledge_url: Some(format!(
                "{base}/ack/{}",
                link_token(key, id, Action::Acknowledge, expires)
            )),
            resolve_url: Some(format!(
                "{base}/resolve/{}",
                link_token(key, id, Action::Resolve, expires)
            )),
        }
    }

    /// A link's escalation id and signed payload, once its signature, action and expiry check
    /// out.
    fn check_link<'t>(
        &self,
        token: &'t str,
        action: Action,
    ) -> Result<(&'t str, &'t str), ServiceError> {
        let malformed = || ServiceError::Invalid("malformed link: it was cut or changed".into());
        let (payload, sig) = token.rsplit_once('.').ok_or_else(malformed)?;
        let parts: Vec<&str> = payload.split('.').collect();
        let [id, kind, expires] = parts[..] else {
            return Err(malformed());
        };
        let sig = hex::decode(sig).map_err(|_| malformed())?;
        let expected = signature(&self.link_key, payload);
        if !bool::from(expected.ct_eq(&sig)) {
            return Err(ServiceError::LinkForged);
        }
        if kind != action.as_str() {
            return Err(ServiceError::Invalid(format!(
                "this is a {kind} link, not a {} link",
                action.as_str()
            )));
        }
        let expires = Timestamp(expires.parse().map_err(|_| malformed())?);
        if self.now() >= expires {
            return Err(ServiceError::LinkExpired(expires));
        }
        Ok((id, payload))
    }

    /// The escalation a link would act on, if it is good and unused. Changes nothing: a mail
    /// scanner or chat preview fetching the link must not act on the page.
    pub async fn link_target<'t>(
        &self,
        token: &'t str,
        action: Action,
    ) -> Result<&'t str, ServiceError> {
        let (id, payload) = self.check_link(token, action)?;
        if self.store.action_link_used(payload).await? {
            return Err(ServiceError::LinkUsed);
        }
        Ok(id)
    }

    /// Acts through a link: checks it, uses it once; returns the escalation's id and new state.
    pub async fn act_by_link<'t>(
        &self,
        incidents: &Incidents,
        token: &'t str,
        action: Action,
    ) -> Result<(&'t str, Tracked), ServiceError> {
        let (id, payload) = self.check_link(token, action)?;
        let t = self
            .act(
                incidents,
                id,
                action,
                Some("link".to_string()),
                Some(payload),
            )
            .await?;
        Ok((id, t))
    }
}
