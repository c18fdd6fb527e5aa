//! PagerDuty's Events API v2 on headroom: `POST /v2/enqueue`, so anything that pages through
//! PagerDuty (its official clients included, pointed at headroom's URL) pages through headroom.
//!
//! The routing key authenticates the sender: it must be one of the config's `integrations`,
//! compared by SHA-256 in constant time. A trigger becomes an alert labelled with the event's
//! severity, source, component, group and class, the integration's service and labels, and the
//! `dedup_key`; it stays firing until a resolve event for its `dedup_key` arrives (PagerDuty
//! alerts do not time out). An acknowledge event acknowledges its escalation.
//!
//! Answers are PagerDuty's: 202 `{"status":"success","message":"Event processed","dedup_key"}`,
//! 400 `{"status":"invalid event","message":"Event object is invalid","errors":[…]}`, and 429
//! once an integration sends more than [`BURST`] events faster than [`PER_MINUTE`] a minute.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use headroom_core::Timestamp;
use headroom_ingest::pagerduty::{EventAction, PagerDutyEvent, parse_event};
use headroom_routing::alert::Alert;
use headroom_spec::InboundIntegration;
use rand::Rng;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::alerting::accept;
use crate::state::AppState;

/// Events an integration may send in a burst.
pub const BURST: f64 = 120.0;
/// Events an integration may send per minute, sustained (PagerDuty's documented limit).
pub const PER_MINUTE: f64 = 120.0;

/// Per-integration token buckets, by routing key hash.
#[derive(Default)]
pub struct Throttle(HashMap<[u8; 32], (f64, Timestamp)>);

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

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

fn invalid(errors: Vec<String>) -> Response {
    answer(
        StatusCode::BAD_REQUEST,
        json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors}),
    )
}

/// `POST /v2/enqueue`.
pub async fn enqueue(State(state): State<AppState>, body: Bytes) -> Response {
    let event = match parse_event(&body) {
        Ok(e) => e,
        Err(errors) => return invalid(errors),
    };
    let hash: [u8; 32] = Sha256::digest(event.routing_key.as_bytes()).into();
    let Some(integration) = state
        .alerting
        .integrations
        .read()
        .expect("integrations lock")
        .iter()
        .find(|i| bool::from(i.routing_key_sha256.ct_eq(&hash)))
        .cloned()
    else {
        return invalid(vec!["Invalid routing key".to_string()]);
    };
    let now = state.now();
    if !state
        .alerting
        .throttle
        .lock()
        .expect("throttle lock")
        .take(hash, now)
    {
        return answer(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"status": "throttle event", "message": "Requests for this service are arriving too quickly. Please retry later."}),
        );
    }
    let dedup_key = event.dedup_key.clone().unwrap_or_else(|| {
        let b: [u8; 16] = rand::rng().random();
        hex::encode(b)
    });
    let result = match event.action {
        EventAction::Trigger => trigger(&state, &integration, &event, &dedup_key, now).await,
        EventAction::Resolve => resolve(&state, &integration, &dedup_key, now).await,
        EventAction::Acknowledge => acknowledge(&state, &integration, &dedup_key, now).await,
    };
    match result {
        Ok(()) => answer(
            StatusCode::ACCEPTED,
            json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key}),
        ),
        Err(e) => e.into_response(),
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
    state: &AppState,
    integration: &InboundIntegration,
    dedup_key: &str,
    now: Timestamp,
) -> Vec<Alert> {
    let at = now.to_chrono();
    let desk = state.alerting.desk.lock().await;
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

async fn trigger(
    state: &AppState,
    integration: &InboundIntegration,
    event: &PagerDutyEvent,
    dedup_key: &str,
    now: Timestamp,
) -> Result<(), crate::error::ApiError> {
    let Some(p) = &event.payload else {
        return Ok(());
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
        if d.len() > crate::limits::MAX_CUSTOM_DETAILS_BYTES {
            return Err(crate::error::ApiError::too_large(format!(
                "payload.custom_details is {} bytes of JSON, more than the limit of {}; \
                 nothing was stored",
                d.len(),
                crate::limits::MAX_CUSTOM_DETAILS_BYTES
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
    let new = Alert {
        labels,
        annotations,
        starts_at: p.timestamp.unwrap_or(at).min(at),
        ends_at: None,
        generator_url: event.client_url.clone().unwrap_or_default(),
        updated_at: at,
        timeout: false,
    };
    // A trigger for a key that fires with other labels (a new severity, say) replaces it.
    let mut alerts: Vec<Alert> = current(state, integration, dedup_key, now)
        .await
        .into_iter()
        .filter(|old| old.labels != new.labels)
        .map(|old| Alert {
            ends_at: Some(at),
            updated_at: at,
            ..old
        })
        .collect();
    alerts.push(new);
    accept(state, alerts, "pagerduty").await
}

async fn resolve(
    state: &AppState,
    integration: &InboundIntegration,
    dedup_key: &str,
    now: Timestamp,
) -> Result<(), crate::error::ApiError> {
    let at = now.to_chrono();
    let alerts = current(state, integration, dedup_key, now)
        .await
        .into_iter()
        .map(|a| Alert {
            ends_at: Some(at),
            updated_at: at,
            ..a
        })
        .collect();
    accept(state, alerts, "pagerduty").await
}

/// Acknowledges the escalations paging for this key's alert.
async fn acknowledge(
    state: &AppState,
    integration: &InboundIntegration,
    dedup_key: &str,
    now: Timestamp,
) -> Result<(), crate::error::ApiError> {
    let fingerprints: Vec<_> = current(state, integration, dedup_key, now)
        .await
        .iter()
        .map(Alert::fingerprint)
        .collect();
    let by = format!("pagerduty:{}", integration.name);
    crate::escalation::acknowledge_alerts(state, &fingerprints, &by).await?;
    Ok(())
}
