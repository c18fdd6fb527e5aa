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

use std::time::Duration;

use headroom_core::Span;
use headroom_notify::SloContext;
use headroom_notify::{Backoff, Client, Message, Outcome, Templates};
use headroom_routing::dispatch::Notification;
use headroom_store::{OutboxItem, OutboxStore};
use rand::Rng;

use crate::state::AppState;

/// How long a claimed item is reserved for its sender: three delivery time limits. An item
/// claimed by a sender that died (kill -9) waits this long before another takes it.
pub const CLAIM: Span = Span(30_000);
/// How many items one round claims (and sends concurrently).
const BATCH: u32 = 64;
/// How long an idle sender waits before looking again (new items wake it sooner).
const IDLE: Duration = Duration::from_secs(1);
/// A delivery attempt's time limit.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The message a notification carries, as every integration renders it.
pub fn message(
    n: &Notification,
    external_url: &str,
    slo_context: impl Fn(&headroom_routing::LabelSet) -> Option<SloContext>,
) -> Message {
    let alerts = n
        .alerts
        .iter()
        .map(|a| headroom_notify::Alert {
            status: if a.resolved_at(n.at) {
                headroom_notify::Status::Resolved
            } else {
                headroom_notify::Status::Firing
            },
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            starts_at: a.starts_at,
            ends_at: a.ends_at.filter(|t| *t <= n.at),
            generator_url: a.generator_url.clone(),
            fingerprint: headroom_notify::Fingerprint(a.fingerprint().0),
            slo: slo_context(&a.labels),
        })
        .collect();
    Message::new(
        n.receiver.clone(),
        n.group_key.clone(),
        n.group_labels.clone(),
        alerts,
        external_url,
    )
}

/// Sends due items until the server stops.
pub async fn run_sender(state: AppState) {
    let client = match Client::new(SEND_TIMEOUT) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client: notifications stay queued");
            return;
        }
    };
    loop {
        if send_round(&state, &client).await == 0 {
            tokio::select! {
                _ = state.alerting.queued.notified() => {}
                _ = tokio::time::sleep(IDLE) => {}
            }
        }
    }
}

/// Claims the items due now and sends them concurrently; returns how many it claimed.
pub async fn send_round(state: &AppState, client: &Client) -> usize {
    let now = state.now();
    // The templates of the config in force when the round starts.
    let templates = state
        .alerting
        .templates
        .read()
        .expect("templates lock")
        .clone();
    let claimed = match state.store.claim_due(now, BATCH, now + CLAIM).await {
        Ok(items) => items,
        Err(e) => {
            tracing::error!(error = %e, "could not claim queued notifications");
            return 0;
        }
    };
    let n = claimed.len();
    let mut sends = tokio::task::JoinSet::new();
    for item in claimed {
        let (state, client, templates) = (state.clone(), client.clone(), templates.clone());
        sends.spawn(async move { send(&state, &client, &templates, item).await });
    }
    while sends.join_next().await.is_some() {}
    n
}

/// One attempt at one item, and its outcome recorded.
async fn send(state: &AppState, client: &Client, templates: &Templates, item: OutboxItem) {
    let integration = match item.integration.strip_prefix("user:") {
        // A page to an on-call user's contact method (escalation.rs).
        Some(contact) => crate::oncall::contact_integration(state, contact),
        None => {
            let receivers = state.alerting.receivers.read().expect("receivers lock");
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
    let outcome = match (
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
    };
    let now = state.now();
    let result = match outcome {
        Outcome::Delivered | Outcome::Skipped => state.store.mark_delivered(item.id, now).await,
        Outcome::Failed { reason } => state.store.mark_failed(item.id, &reason, now).await,
        Outcome::Retry { reason, after } => {
            let age = (now - item.created_at).to_std();
            let attempts = u32::try_from(item.attempts).unwrap_or(u32::MAX);
            let jitter: f64 = rand::rng().random();
            match Backoff::default().next(attempts, age, after, jitter) {
                Some(wait) => {
                    let at = now + Span(wait.as_millis() as i64);
                    state.store.mark_retry(item.id, at, &reason).await
                }
                None => {
                    let reason = format!("gave up after {attempts} attempts: {reason}");
                    state.store.mark_failed(item.id, &reason, now).await
                }
            }
        }
    };
    if let Err(e) = result {
        // The claim lapses and the item is sent again: at least once, never silently lost.
        tracing::error!(error = %e, id = item.id, "could not record a delivery outcome");
    }
}
