//! PagerDuty's Events API v2 as an alert source. The routing key authenticates the sender: it
//! must be one of the config's `integrations`, compared by SHA-256 in constant time. A trigger
//! becomes an alert labelled with the event's severity, source, component, group and class, the
//! integration's service and labels, and the `dedup_key`; it stays firing until a resolve event
//! for its `dedup_key` arrives (PagerDuty alerts do not time out). An acknowledge event
//! acknowledges its escalation. An integration sending more than [`BURST`] events faster than
//! [`PER_MINUTE`] a minute is throttled.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, RwLock};

use headroom_core::Timestamp;
use headroom_ingest::pagerduty::{EventAction, PagerDutyEvent};
use headroom_routing::alert::Alert;
use headroom_spec::{Config, InboundIntegration};
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::alerting::Alerting;
use crate::error::ServiceError;
use crate::escalation::Escalations;
use crate::incidents::Incidents;
use crate::limits;
use crate::records::ended;

/// Events an integration may send in a burst.
pub const BURST: f64 = 120.0;
/// Events an integration may send per minute, sustained (PagerDuty's documented limit).
pub const PER_MINUTE: f64 = 120.0;

/// Per-integration token buckets, by routing key hash.
#[derive(Default)]
struct Throttle(HashMap<[u8; 32], (f64, Timestamp)>);

impl Throttle {
    /// Takes one event from the integration's bucket at `now`; `false` when it is empty.
    fn take(&mut self, key: [u8; 32], now: Timestamp) -> bool {
        let (tokens, at) = self.0.entry(key).or_insert((BURST, now));
        let refill = (now - *at).millis().max(0) as f64 * PER_MINUTE / 60_000.0;
        *tokens = (*tokens + refill).min(BURST);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Why an event was not processed.
#[derive(Debug, thiserror::Error)]
pub enum EventRefused {
    #[error("Invalid routing key")]
    UnknownRoutingKey,
    #[error("Requests for this service are arriving too quickly. Please retry later.")]
    Throttled,
    #[error(transparent)]
    Failed(#[from] ServiceError),
}

/// The parts an event acts on.
pub struct Responders<'a> {
    pub alerting: &'a Alerting,
    pub escalations: &'a Escalations,
    pub incidents: &'a Incidents,
}

/// The senders the config allows, and each one's event budget.
pub struct PagerDuty {
    /// PagerDuty senders by routing key hash (`integrations`).
    integrations: RwLock<Vec<InboundIntegration>>,
    throttle: Mutex<Throttle>,
}

impl PagerDuty {
    pub fn new(config: &Config) -> PagerDuty {
        PagerDuty {
            integrations: RwLock::new(config.integrations.clone()),
            throttle: Default::default(),
        }
    }

    /// Takes a reloaded config's integrations; budgets of the keys that remain are kept.
    pub fn reload(&self, config: &Config) {
        *self.integrations.write().expect("integrations lock") = config.integrations.clone();
    }

    /// The integration a routing key belongs to (compared by SHA-256 in constant time).
    pub fn integration(&self, routing_key: &str) -> Option<InboundIntegration> {
        let hash: [u8; 32] = Sha256::digest(routing_key.as_bytes()).into();
        self.integrations
            .read()
            .expect("integrations lock")
            .iter()
            .find(|i| bool::from(i.routing_key_sha256.ct_eq(&hash)))
            .cloned()
    }

    /// Processes one event at `now`; returns its dedup key (generated when the event has none).
    pub async fn enqueue(
        &self,
        to: Responders<'_>,
        event: &PagerDutyEvent,
        now: Timestamp,
    ) -> Result<String, EventRefused> {
        let hash: [u8; 32] = Sha256::digest(event.routing_key.as_bytes()).into();
        let integration = self
            .integrations
            .read()
            .expect("integrations lock")
            .iter()
            .find(|i| bool::from(i.routing_key_sha256.ct_eq(&hash)))
            .cloned()
            .ok_or(EventRefused::UnknownRoutingKey)?;
        if !self.throttle.lock().expect("throttle lock").take(hash, now) {
            return Err(EventRefused::Throttled);
        }
        let dedup_key = event.dedup_key.clone().unwrap_or_else(|| {
            let b: [u8; 16] = rand::rng().random();
            hex::encode(b)
        });
        let firing = current(to.alerting, &integration, &dedup_key, now).await;
        let at = now.to_chrono();
        match event.action {
            EventAction::Trigger => {
                let Some(new) = triggered(&integration, event, &dedup_key, now)? else {
                    return Ok(dedup_key);
                };
                // A trigger for a key that fires with other labels (a new severity, say)
                // replaces it.
                let mut alerts: Vec<Alert> = firing
                    .into_iter()
                    .filter(|old| old.labels != new.labels)
                    .map(|old| ended(old, at))
                    .collect();
                alerts.push(new);
                to.alerting
                    .accept(to.incidents, alerts, "pagerduty")
                    .await?;
            }
            EventAction::Resolve => {
                let alerts = firing.into_iter().map(|a| ended(a, at)).collect();
                to.alerting
                    .accept(to.incidents, alerts, "pagerduty")
                    .await?;
            }
            EventAction::Acknowledge => {
                // Acknowledges the escalations paging for this key's alert.
                let fingerprints: Vec<_> = firing.iter().map(Alert::fingerprint).collect();
                let by = format!("pagerduty:{}", integration.name);
                to.escalations
                    .acknowledge_alerts(&to.alerting.desk, to.incidents, &fingerprints, &by)
                    .await?;
            }
        }
        Ok(dedup_key)
    }
}

/// The labels every alert of an integration carries, which identify its dedup key.
fn identity(integration: &InboundIntegration, dedup_key: &str) -> BTreeMap<String, String> {
    let mut labels = integration.labels.clone();
    labels.insert("integration".to_string(), integration.name.clone());
    labels.insert("dedup_key".to_string(), dedup_key.to_string());
    if let Some(s) = &integration.service {
        labels.insert("service".to_string(), s.clone());
    }
    labels
}

/// The firing alerts of this integration with this dedup key.
async fn current(
    alerting: &Alerting,
    integration: &InboundIntegration,
    dedup_key: &str,
    now: Timestamp,
) -> Vec<Alert> {
    let at = now.to_chrono();
    let desk = alerting.desk.lock().await;
    desk.dispatcher
        .alerts()
        .iter()
        .filter(|a| {
            !a.resolved_at(at)
                && a.labels.get("integration") == Some(&integration.name)
                && a.labels.get("dedup_key").map(String::as_str) == Some(dedup_key)
        })
        .cloned()
        .collect()
}

/// The alert a trigger event raises; none for an event without a payload.
fn triggered(
    integration: &InboundIntegration,
    event: &PagerDutyEvent,
    dedup_key: &str,
    now: Timestamp,
) -> Result<Option<Alert>, ServiceError> {
    let Some(p) = &event.payload else {
        return Ok(None);
    };
    let at = now.to_chrono();
    let mut labels = identity(integration, dedup_key);
    labels.insert(
        "alertname".to_string(),
        p.class
            .clone()
            .unwrap_or_else(|| "PagerDutyEvent".to_string()),
    );
    labels.insert("severity".to_string(), p.severity.as_str().to_string());
    labels.insert("source".to_string(), p.source.clone());
    for (name, value) in [("component", &p.component), ("group", &p.group)] {
        if let Some(v) = value {
            labels.insert(name.to_string(), v.clone());
        }
    }
    let mut annotations = BTreeMap::from([("summary".to_string(), p.summary.clone())]);
    if let Some(d) = &p.custom_details {
        let d = d.to_string();
        if d.len() > limits::MAX_CUSTOM_DETAILS_BYTES {
            return Err(ServiceError::TooLarge(format!(
                "payload.custom_details is {} bytes of JSON, more than the limit of {}; \
                 nothing was stored",
                d.len(),
                limits::MAX_CUSTOM_DETAILS_BYTES
            )));
        }
        annotations.insert("custom_details".to_string(), d);
    }
    for (i, (href, text)) in event.links.iter().enumerate() {
        annotations.insert(format!("link_{i}"), format!("{text} <{href}>"));
    }
    if let Some(client) = &event.client {
        annotations.insert("client".to_string(), client.clone());
    }
    Ok(Some(Alert {
        labels,
        annotations,
        starts_at: p.timestamp.unwrap_or(at).min(at),
        ends_at: None,
        generator_url: event.client_url.clone().unwrap_or_default(),
        updated_at: at,
        timeout: false,
    }))
}
