//! The outbox sender: delivers queued notifications through their receiver's integration,
//! retrying timeouts, 5xx and 429 with exponential backoff and jitter, and recording other
//! refusals as failed with the reason.
//!
//! Invariants:
//! - An item is claimed (for [`CLAIM`]) before it is sent, so concurrent senders never send it
//!   together; an item whose sender died is claimed again once the claim lapses.
//! - An item is marked delivered only after the receiver accepted it. A crash between the two
//!   sends it again after a restart, with the same `Idempotency-Key` header (email: the same
//!   Message-Id; PagerDuty: the same `dedup_key`), so the receiver can recognise the repeat.
//! - An item whose receiver or integration is gone from the config is failed, not dropped.
//! - An action run's item (integration `action`) is sent with the secrets of the action in the
//!   config in force, retried up to the action's `max_attempts`; each attempt's outcome is
//!   recorded on the run before the outbox item, so a crash between the two sends again
//!   rather than leave the run queued for good.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use headroom_core::{Span, Timestamp};
use headroom_notify::{Backoff, Client, Message, Outcome, Receiver, Templates};
use headroom_spec::{Action, Config};
use headroom_store::{
    ActionRunState, ActionRunStore, NewOutboxItem, OutboxItem, OutboxStore, Store, StoreError,
};
use rand::Rng;
use tokio::sync::Notify;

use crate::action_request::{ACTION_INTEGRATION, RunPayload, sendable};
use crate::clock::Clock;
use crate::oncall::OnCall;

/// How long a claimed item is reserved for its sender: three delivery time limits. An item
/// claimed by a sender that died (kill -9) waits this long before another takes it.
pub const CLAIM: Span = Span(30_000);
/// How many items one round claims (and sends concurrently).
const BATCH: u32 = 64;
/// How long an idle sender waits before looking again (new items wake it sooner).
const IDLE: Duration = Duration::from_secs(1);
/// A delivery attempt's time limit.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The queue of notifications and pages, and the receivers and templates they are sent with.
pub struct Outbox {
    /// The receivers of the config in force.
    pub receivers: RwLock<Vec<Receiver>>,
    /// The notification templates of the config in force (defaults with its `templates`).
    pub templates: RwLock<Templates>,
    /// The actions of the config in force, whose runs are sent with their secrets.
    actions: RwLock<Vec<Action>>,
    /// Wakes the sender: new items were queued.
    queued: Notify,
    store: Store,
    clock: Clock,
}

/// A config's templates: the defaults with its `templates` over them.
pub fn templates(config: &Config) -> Result<Templates, String> {
    Templates::with_overrides(config.templates.clone()).map_err(|e| e.to_string())
}

impl Outbox {
    pub fn new(config: &Config, store: Store, clock: Clock) -> Result<Outbox, String> {
        Ok(Outbox {
            receivers: RwLock::new(config.receivers.clone()),
            templates: RwLock::new(templates(config)?),
            actions: RwLock::new(config.actions.clone()),
            queued: Notify::new(),
            store,
            clock,
        })
    }

    /// Takes a reloaded config's receivers and templates.
    pub fn replace(&self, receivers: Vec<Receiver>, templates: Templates) {
        *self.receivers.write().expect("receivers lock") = receivers;
        *self.templates.write().expect("templates lock") = templates;
    }

    /// Takes a reloaded config's actions.
    pub fn replace_actions(&self, actions: Vec<Action>) {
        *self.actions.write().expect("actions lock") = actions;
    }

    /// Wakes the sender: items were queued by other means than [`Outbox::enqueue`].
    pub fn wake(&self) {
        self.queued.notify_one();
    }

    /// Queues items and wakes the sender.
    pub async fn enqueue(&self, items: &[NewOutboxItem], now: Timestamp) -> Result<(), StoreError> {
        self.store.enqueue(items, now).await?;
        self.queued.notify_one();
        Ok(())
    }

    /// Sends due items until the server stops.
    pub async fn run(self: &Arc<Self>, oncall: &Arc<OnCall>) {
        let client = match Client::new(SEND_TIMEOUT) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "no HTTP client: notifications stay queued");
                return;
            }
        };
        loop {
            if self.send_round(oncall, &client).await == 0 {
                tokio::select! {
                    _ = self.queued.notified() => {}
                    _ = tokio::time::sleep(IDLE) => {}
                }
            }
        }
    }

    /// Claims the items due now and sends them concurrently; returns how many it claimed.
    pub async fn send_round(self: &Arc<Self>, oncall: &Arc<OnCall>, client: &Client) -> usize {
        let now = (self.clock)();
        // The templates of the config in force when the round starts.
        let templates = self.templates.read().expect("templates lock").clone();
        let claimed = match self.store.claim_due(now, BATCH, now + CLAIM).await {
            Ok(items) => items,
            Err(e) => {
                tracing::error!(error = %e, "could not claim queued notifications");
                return 0;
            }
        };
        let n = claimed.len();
        let mut sends = tokio::task::JoinSet::new();
        for item in claimed {
            let (outbox, oncall) = (self.clone(), oncall.clone());
            let (client, templates) = (client.clone(), templates.clone());
            sends.spawn(async move { outbox.send(&oncall, &client, &templates, item).await });
        }
        while sends.join_next().await.is_some() {}
        n
    }

    /// One attempt at one item, and its outcome recorded.
    async fn send(
        &self,
        oncall: &OnCall,
        client: &Client,
        templates: &Templates,
        item: OutboxItem,
    ) {
        let (outcome, backoff, run) = if item.integration == ACTION_INTEGRATION {
            let (outcome, backoff, run) = self.attempt_action(client, &item).await;
            (outcome, backoff, run)
        } else {
            let outcome = self
                .attempt_notification(oncall, client, templates, &item)
                .await;
            (outcome, Backoff::default(), None)
        };
        let now = (self.clock)();
        let next = match outcome {
            Outcome::Delivered | Outcome::Skipped => Next::Delivered,
            Outcome::Failed { reason } => Next::Failed(reason),
            Outcome::Retry { reason, after } => {
                let age = (now - item.created_at).to_std();
                let attempts = u32::try_from(item.attempts).unwrap_or(u32::MAX);
                let jitter: f64 = rand::rng().random();
                match backoff.next(attempts, age, after, jitter) {
                    Some(wait) => Next::Retry(now + Span(wait.as_millis() as i64), reason),
                    None => Next::Failed(format!("gave up after {attempts} attempts: {reason}")),
                }
            }
        };
        let store = &self.store;
        if let Some(run) = run {
            let (error, finished) = match &next {
                Next::Delivered => (None, Some(ActionRunState::Delivered)),
                Next::Failed(reason) => (Some(reason.as_str()), Some(ActionRunState::Failed)),
                Next::Retry(_, reason) => (Some(reason.as_str()), None),
            };
            if let Err(e) = store
                .record_action_attempt(&run, item.attempts, error, finished, now)
                .await
            {
                // The claim lapses and the run is sent again, its outcome recorded then.
                tracing::error!(error = %e, run, "could not record an action run's attempt");
                return;
            }
            tracing::info!(run, attempts = item.attempts, outcome = ?finished.map(ActionRunState::as_str), "action run attempt");
        }
        let result = match next {
            Next::Delivered => store.mark_delivered(item.id, now).await,
            Next::Failed(reason) => store.mark_failed(item.id, &reason, now).await,
            Next::Retry(at, reason) => store.mark_retry(item.id, at, &reason).await,
        };
        if let Err(e) = result {
            // The claim lapses and the item is sent again: at least once, never silently lost.
            tracing::error!(error = %e, id = item.id, "could not record a delivery outcome");
        }
    }

    /// One attempt at a notification or a page.
    async fn attempt_notification(
        &self,
        oncall: &OnCall,
        client: &Client,
        templates: &Templates,
        item: &OutboxItem,
    ) -> Outcome {
        let integration = match item.integration.strip_prefix("user:") {
            // A page to an on-call user's contact method (escalation.rs).
            Some(contact) => oncall.contact_integration(contact),
            None => {
                let receivers = self.receivers.read().expect("receivers lock");
                receivers
                    .iter()
                    .find(|r| r.name == item.receiver)
                    .and_then(|r| r.integrations.get(item.integration.parse::<usize>().ok()?))
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "receiver {:?} has no integration {} in the config in force",
                            item.receiver, item.integration
                        )
                    })
            }
        };
        match (
            integration,
            serde_json::from_str::<Message>(&item.payload_json),
        ) {
            (Err(reason), _) => Outcome::Failed { reason },
            (_, Err(e)) => Outcome::Failed {
                reason: format!("stored message is unreadable: {e}"),
            },
            (Ok(integration), Ok(message)) => {
                headroom_notify::deliver(
                    &integration,
                    &message,
                    templates,
                    client,
                    &item.idempotency_key,
                )
                .await
            }
        }
    }

    /// One attempt at an action run: the outcome, the action's retry limit, and the run's id.
    async fn attempt_action(
        &self,
        client: &Client,
        item: &OutboxItem,
    ) -> (Outcome, Backoff, Option<String>) {
        let payload: RunPayload = match serde_json::from_str(&item.payload_json) {
            Ok(p) => p,
            Err(e) => {
                let reason = format!("stored action run is unreadable: {e}");
                return (Outcome::Failed { reason }, Backoff::default(), None);
            }
        };
        let action = {
            let actions = self.actions.read().expect("actions lock");
            actions.iter().find(|a| a.name == item.receiver).cloned()
        };
        let Some(action) = action else {
            let reason = format!("action {:?} is not in the config in force", item.receiver);
            return (
                Outcome::Failed { reason },
                Backoff::default(),
                Some(payload.run),
            );
        };
        let backoff = Backoff {
            max_attempts: action.max_attempts,
            ..Backoff::default()
        };
        let request = sendable(&action, &payload.request);
        let outcome = headroom_notify::send_action(client, request, &item.idempotency_key).await;
        (outcome, backoff, Some(payload.run))
    }
}

/// What becomes of an outbox item after an attempt.
enum Next {
    Delivered,
    Failed(String),
    Retry(Timestamp, String),
}
