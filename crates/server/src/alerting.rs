//! Alerts in, notifications out. Every alert source (the Alertmanager API, forwarded webhooks,
//! PagerDuty events, headroom's own burn, no-data and heartbeat alerts) lands in one
//! [`Dispatcher`]: Alertmanager's routing, grouping, inhibition and silences. Each notification
//! it decides on goes to the durable outbox before anything is sent.
//!
//! Invariants:
//! - An alert is durable (`routed_alerts`) before the request that carried it is answered. A
//!   batch is validated whole and made durable before the dispatcher sees it, so a refused or
//!   failed batch changes nothing.
//! - A notification is in the outbox before its log entry is stored; one flushed while the store
//!   was failing is kept and enqueued first on the next round. Its idempotency key is derived from
//!   what it says and when the group was last notified, so a notification re-flushed after a
//!   crash that lost its log entry is recognised by the outbox and not queued twice.
//! - Silences live in the store; the desk holds a copy that every change refreshes.

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use headroom_core::Timestamp;
use headroom_routing::alert::Alert;
use headroom_routing::dispatch::{
    DispatchConfig, Dispatcher, LogEntry, MAINTENANCE_INTERVAL, Notification, Receiver,
    bound_per_receiver,
};
use headroom_routing::group::Fingerprint;
use headroom_routing::matcher::{MatchOp, Matcher};
use headroom_routing::silence::Silence;
use headroom_spec::Config;
use headroom_store::{
    NewOutboxItem, NotificationLogEntry, NotificationLogStore, OutboxStore, RoutedAlert,
    RoutedAlertStore, SilenceRecord, SilenceStore, StoreError,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, Notify};

use crate::error::ApiError;
use crate::state::AppState;

/// How a stored alert with no known end is written (the column is not nullable).
const NO_END: Timestamp = Timestamp(i64::MAX);
/// How long to wait before retrying to enqueue notifications the store refused.
const STORE_RETRY: Duration = Duration::from_secs(1);
/// How often resolved alerts are forgotten (Alertmanager's `--alerts.gc-interval`): until then
/// they stay in their groups, so a reload regroups them as Alertmanager does.
const GC_EVERY: headroom_core::Span = headroom_core::Span(30 * 60_000);

/// The dispatcher and the silences it applies, behind one lock: every change to either is
/// made durable while the lock is held, so the store and memory never disagree.
pub struct Desk {
    pub dispatcher: Dispatcher,
    pub silences: Vec<Silence>,
    /// Flushed notifications the outbox has not accepted yet (the store was failing).
    unqueued: Vec<Notification>,
    /// When resolved alerts were last forgotten.
    last_gc: Timestamp,
}

/// The response side of the server state.
pub struct Alerting {
    pub desk: Mutex<Desk>,
    /// Wakes the dispatch loop: new alerts, a silence change, a reload.
    pub wake: Notify,
    /// Wakes the outbox sender: new notifications were queued.
    pub queued: Notify,
    /// The receivers of the config in force.
    pub receivers: RwLock<Vec<headroom_notify::Receiver>>,
    /// The notification templates of the config in force (defaults with its `templates`).
    pub templates: RwLock<headroom_notify::Templates>,
    /// The config text in force, for `/api/v2/status`.
    pub original: RwLock<String>,
    pub started_at: Timestamp,
    /// The address notifications link back to (Alertmanager's `--web.external-url`).
    pub external_url: String,
    /// PagerDuty senders by routing key hash (`integrations`), with each one's event budget.
    pub integrations: RwLock<Vec<headroom_spec::InboundIntegration>>,
    /// Which alerts open incidents, and the service → team map incident metrics filter by.
    pub incidents: RwLock<std::sync::Arc<crate::incidents::IncidentConfig>>,
    pub throttle: std::sync::Mutex<crate::pagerduty::Throttle>,
}

/// The dispatcher's view of a loaded config.
pub fn dispatch_config(config: &Config) -> DispatchConfig {
    let receivers = config
        .receivers
        .iter()
        // Alertmanager's send_resolved is per integration; the dispatcher keeps resolved alerts
        // for a receiver if any of its integrations wants them, and each integration filters.
        .map(|r| {
            let any = r.integrations.iter().any(|i| i.send_resolved());
            Receiver::new(r.name.clone(), any || r.integrations.is_empty())
        })
        .collect();
    let mut d = DispatchConfig::new(config.routing.route.clone(), receivers);
    d.inhibit_rules = config.routing.inhibit_rules.clone();
    d.time_intervals = config.routing.time_intervals.clone();
    d.resolve_timeout = config.routing.resolve_timeout;
    d
}

impl Alerting {
    /// The response side for `config`, with the alerts, silences and notification log the
    /// store holds (so a restart resumes where the last run stopped).
    pub async fn restore(
        config: &Config,
        original: String,
        external_url: String,
        store: &headroom_store::Store,
        now: Timestamp,
    ) -> Result<Alerting, crate::ServeError> {
        let at = now.to_chrono();
        let mut dispatcher = Dispatcher::new(dispatch_config(config), at)
            .map_err(|e| crate::ServeError::Config(vec![e.to_string()]))?;
        let templates = templates(config).map_err(|e| crate::ServeError::Config(vec![e]))?;
        let log = store.load_notification_log(now).await?;
        dispatcher.restore_notification_log(log.iter().filter_map(log_entry_from_record));
        for record in store.load_alerts().await? {
            if let Some(alert) = alert_from_record(&record) {
                dispatcher.receive(alert, at);
            }
        }
        let silences = store
            .list_silences()
            .await?
            .iter()
            .filter_map(silence_from_record)
            .collect();
        Ok(Alerting {
            desk: Mutex::new(Desk {
                dispatcher,
                silences,
                unqueued: Vec::new(),
                last_gc: now,
            }),
            wake: Notify::new(),
            queued: Notify::new(),
            receivers: RwLock::new(config.receivers.clone()),
            templates: RwLock::new(templates),
            original: RwLock::new(original),
            started_at: now,
            external_url,
            integrations: RwLock::new(config.integrations.clone()),
            incidents: RwLock::new(std::sync::Arc::new(
                crate::incidents::IncidentConfig::from_config(config),
            )),
            throttle: Default::default(),
        })
    }

    /// Applies a reloaded config. A routing tree the dispatcher refuses keeps the running one.
    pub async fn reload(
        &self,
        config: &Config,
        original: String,
        now: Timestamp,
    ) -> Result<(), String> {
        let templates = templates(config)?;
        let mut desk = self.desk.lock().await;
        desk.dispatcher
            .reload(dispatch_config(config), now.to_chrono())
            .map_err(|e| e.to_string())?;
        *self.receivers.write().expect("receivers lock") = config.receivers.clone();
        *self.templates.write().expect("templates lock") = templates;
        *self.original.write().expect("original lock") = original;
        *self.integrations.write().expect("integrations lock") = config.integrations.clone();
        *self.incidents.write().expect("incident config lock") =
            std::sync::Arc::new(crate::incidents::IncidentConfig::from_config(config));
        drop(desk);
        self.wake.notify_one();
        Ok(())
    }
}

fn templates(config: &Config) -> Result<headroom_notify::Templates, String> {
    headroom_notify::Templates::with_overrides(config.templates.clone()).map_err(|e| e.to_string())
}

/// Makes `alerts` durable, then hands them to the dispatcher. `source` names where they came
/// from (`api`, `webhook`, `pagerduty`, `headroom`).
pub async fn accept(state: &AppState, alerts: Vec<Alert>, source: &str) -> Result<(), ApiError> {
    if alerts.is_empty() {
        return Ok(());
    }
    crate::limits::check_alerts(&alerts)?;
    let now = state.now().to_chrono();
    let mut desk = state.alerting.desk.lock().await;
    // headroom's own alerts are bounded by its SLOs and probes; only outside ones are refused.
    if source != "headroom" {
        let size = desk.dispatcher.size();
        let growth = desk.dispatcher.growth(&alerts);
        if size.alerts + growth.alerts > crate::limits::MAX_ALERTS {
            return Err(crate::limits::full(
                "alerts held",
                crate::limits::MAX_ALERTS,
            ));
        }
        if growth.groups > 0 && size.groups + growth.groups > crate::limits::MAX_GROUPS {
            return Err(crate::limits::full(
                "aggregation groups",
                crate::limits::MAX_GROUPS,
            ));
        }
    }
    let records: Vec<RoutedAlert> = alerts
        .iter()
        .map(|a| alert_record(&desk.dispatcher.alerts().merged(a.clone(), now), source))
        .collect();
    state
        .store
        .save_alerts(&records)
        .await
        .map_err(|e| ApiError::unavailable_logged("alerts not stored, nothing changed", e))?;
    crate::incidents::route_alerts(state, &alerts).await;
    for alert in alerts {
        desk.dispatcher.receive(alert, now);
    }
    drop(desk);
    state.alerting.wake.notify_one();
    Ok(())
}

/// The dispatch loop: flushes due groups into the outbox, at each group's deadline or as soon
/// as something changes, and runs Alertmanager's periodic maintenance.
pub async fn run_dispatch(state: AppState) {
    loop {
        let wait = dispatch_round(&state).await;
        tokio::select! {
            _ = state.alerting.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One dispatch round at the state's `now`; returns how long until the next is due.
pub async fn dispatch_round(state: &AppState) -> Duration {
    let now = state.now();
    let mut desk = state.alerting.desk.lock().await;
    flush(state, &mut desk, now).await;
    let retry = !desk.unqueued.is_empty();
    let next = desk.dispatcher.next_wakeup();
    drop(desk);
    let until_next = next.map(|t| {
        let ms = (Timestamp::from_chrono(&t) - now).millis().max(0);
        Duration::from_millis(ms as u64)
    });
    let cap = if retry {
        STORE_RETRY
    } else {
        MAINTENANCE_INTERVAL
    };
    until_next.map_or(cap, |d| d.min(cap))
}

/// One dispatch round at `now`, with the desk locked.
async fn flush(state: &AppState, desk: &mut Desk, now: Timestamp) {
    let at = now.to_chrono();
    if now - desk.last_gc >= GC_EVERY {
        desk.last_gc = now;
        if !desk.dispatcher.gc(at).is_empty()
            && let Err(e) = state.store.delete_alerts_ended_before(now).await
        {
            tracing::warn!(error = %e, "could not forget resolved alerts");
        }
    }
    let silences = std::mem::take(&mut desk.silences);
    let fresh = bound_per_receiver(
        desk.dispatcher.flush_due(at, &silences),
        crate::limits::MAX_NOTIFICATIONS_PER_RECEIVER,
    );
    desk.silences = silences;
    desk.unqueued.extend(fresh);
    if desk.unqueued.is_empty() {
        return;
    }
    let receivers = state
        .alerting
        .receivers
        .read()
        .expect("receivers lock")
        .clone();
    let external_url = &state.alerting.external_url;
    // Escalations first, so a notification to a receiver with a policy carries its links; a
    // failure keeps the notifications for the next round, as a failed enqueue does.
    let actions = match crate::escalation::notified(state, &desk.unqueued, now).await {
        Ok(actions) => actions,
        Err(e) => {
            tracing::error!(error = %e, "could not start escalations; retrying");
            return;
        }
    };
    let mut items = Vec::new();
    for (n, actions) in desk.unqueued.iter().zip(actions) {
        let mut message =
            crate::outbox::message(n, external_url, |labels| slo_context(state, labels));
        message.actions = actions;
        items.extend(outbox_items(n, &message, &receivers));
    }
    if let Err(e) = state.store.enqueue(&items, now).await {
        tracing::error!(error = %e, notifications = desk.unqueued.len(), "could not queue notifications; retrying");
        return;
    }
    let log: Vec<NotificationLogEntry> = desk
        .unqueued
        .iter()
        .filter_map(|n| {
            desk.dispatcher
                .notification_log()
                .get(&n.receiver, &n.group_key)
        })
        .map(log_entry_record)
        .collect();
    desk.unqueued.clear();
    state.alerting.queued.notify_one();
    if let Err(e) = state.store.put_notification_log(&log).await {
        // The outbox already holds the notifications; a lost log entry only risks a repeat,
        // which the idempotency key recognises.
        tracing::warn!(error = %e, "could not store the notification log");
    }
}

/// One outbox item per integration of the notification's receiver. Integrations that do not
/// send resolved notifications skip all-resolved ones and carry only the firing alerts.
pub fn outbox_items(
    n: &Notification,
    message: &headroom_notify::Message,
    receivers: &[headroom_notify::Receiver],
) -> Vec<NewOutboxItem> {
    let Some(receiver) = receivers.iter().find(|r| r.name == n.receiver) else {
        return Vec::new();
    };
    let key = notification_key(n);
    receiver
        .integrations
        .iter()
        .enumerate()
        .filter_map(|(i, integration)| {
            if !integration.send_resolved() && message.without_resolved().is_none() {
                return None;
            }
            Some(NewOutboxItem {
                idempotency_key: format!("{key}/{i}"),
                receiver: n.receiver.clone(),
                integration: i.to_string(),
                payload_json: serde_json::to_string(message).unwrap_or_default(),
                not_before: None,
            })
        })
        .collect()
}

/// Identifies a notification by its receiver, group, alert sets and the previous send: the
/// same notification flushed twice (after a crash) gets the same key, a repeat does not.
fn notification_key(n: &Notification) -> String {
    let mut h = Sha256::new();
    h.update(n.receiver.as_bytes());
    h.update([0xff]);
    h.update(n.group_key.as_bytes());
    h.update([0xff]);
    h.update(
        n.previous
            .map_or(-1, |t| t.timestamp_millis())
            .to_be_bytes(),
    );
    for a in &n.alerts {
        h.update(a.fingerprint().0.to_be_bytes());
        h.update([u8::from(a.resolved_at(n.at))]);
    }
    hex::encode(&h.finalize()[..16])
}

// ---- conversions between the dispatcher's types and the store's records ----

fn labels_json(labels: &BTreeMap<String, String>) -> String {
    serde_json::to_string(labels).unwrap_or_else(|_| "{}".to_string())
}

fn alert_record(a: &Alert, source: &str) -> RoutedAlert {
    RoutedAlert {
        fingerprint: a.fingerprint().to_string(),
        labels_json: labels_json(&a.labels),
        annotations_json: labels_json(&a.annotations),
        starts_at: Timestamp::from_chrono(&a.starts_at),
        ends_at: a.ends_at.map_or(NO_END, |t| Timestamp::from_chrono(&t)),
        updated_at: Timestamp::from_chrono(&a.updated_at),
        generator_url: a.generator_url.clone(),
        timeout: a.timeout,
        source: source.to_string(),
    }
}

fn alert_from_record(r: &RoutedAlert) -> Option<Alert> {
    Some(Alert {
        labels: serde_json::from_str(&r.labels_json).ok()?,
        annotations: serde_json::from_str(&r.annotations_json).ok()?,
        starts_at: r.starts_at.to_chrono(),
        ends_at: (r.ends_at != NO_END).then(|| r.ends_at.to_chrono()),
        generator_url: r.generator_url.clone(),
        updated_at: r.updated_at.to_chrono(),
        timeout: r.timeout,
    })
}

fn log_entry_record(e: &LogEntry) -> NotificationLogEntry {
    let fps = |v: &[Fingerprint]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    NotificationLogEntry {
        receiver: e.receiver.clone(),
        group_key: e.group_key.clone(),
        payload_json: json!({"firing": fps(&e.firing), "resolved": fps(&e.resolved)}).to_string(),
        sent_at: Timestamp::from_chrono(&e.at),
        expires_at: Timestamp::from_chrono(&e.expires_at),
    }
}

fn log_entry_from_record(r: &NotificationLogEntry) -> Option<LogEntry> {
    let v: Value = serde_json::from_str(&r.payload_json).ok()?;
    let fps = |key: &str| -> Option<Vec<Fingerprint>> {
        v.get(key)?
            .as_array()?
            .iter()
            .map(|s| u64::from_str_radix(s.as_str()?, 16).ok().map(Fingerprint))
            .collect()
    };
    Some(LogEntry {
        receiver: r.receiver.clone(),
        group_key: r.group_key.clone(),
        firing: fps("firing")?,
        resolved: fps("resolved")?,
        at: r.sent_at.to_chrono(),
        expires_at: r.expires_at.to_chrono(),
    })
}

/// A silence's matchers as the API writes them.
pub fn matchers_json(matchers: &[Matcher]) -> Value {
    Value::Array(
        matchers
            .iter()
            .map(|m| {
                json!({
                    "name": m.name(),
                    "value": m.value(),
                    "isRegex": matches!(m.op(), MatchOp::Regex | MatchOp::NotRegex),
                    "isEqual": matches!(m.op(), MatchOp::Equal | MatchOp::Regex),
                })
            })
            .collect(),
    )
}

/// The matcher an API matcher describes.
pub fn matcher_from_api(
    name: &str,
    value: &str,
    is_regex: bool,
    is_equal: bool,
) -> Result<Matcher, String> {
    let op = match (is_regex, is_equal) {
        (false, true) => MatchOp::Equal,
        (false, false) => MatchOp::NotEqual,
        (true, true) => MatchOp::Regex,
        (true, false) => MatchOp::NotRegex,
    };
    Matcher::new(name, op, value).map_err(|e| format!("matcher {name}: {e}"))
}

pub fn silence_record(s: &Silence, updated_at: Timestamp) -> SilenceRecord {
    SilenceRecord {
        id: s.id.clone(),
        matchers_json: matchers_json(&s.matchers).to_string(),
        starts_at: Timestamp::from_chrono(&s.starts_at),
        ends_at: Timestamp::from_chrono(&s.ends_at),
        created_by: s.created_by.clone(),
        comment: s.comment.clone(),
        updated_at,
    }
}

pub fn silence_from_record(r: &SilenceRecord) -> Option<Silence> {
    let v: Value = serde_json::from_str(&r.matchers_json).ok()?;
    let matchers = v
        .as_array()?
        .iter()
        .map(|m| {
            matcher_from_api(
                m.get("name")?.as_str()?,
                m.get("value")?.as_str()?,
                m.get("isRegex")?.as_bool()?,
                m.get("isEqual")?.as_bool()?,
            )
            .ok()
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Silence {
        id: r.id.clone(),
        matchers,
        starts_at: r.starts_at.to_chrono(),
        ends_at: r.ends_at.to_chrono(),
        created_by: r.created_by.clone(),
        comment: r.comment.clone(),
    })
}

/// The silences in force, re-read from the store after a change.
pub async fn refresh_silences(state: &AppState) -> Result<(), StoreError> {
    let silences = state
        .store
        .list_silences()
        .await?
        .iter()
        .filter_map(silence_from_record)
        .collect();
    state.alerting.desk.lock().await.silences = silences;
    state.alerting.wake.notify_one();
    Ok(())
}

/// An instant as the Alertmanager API writes it.
pub fn api_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// headroom's own alert for an SLO alert transition: firing starts it (with no known end, as
/// the engine will say when it resolves), resolved ends it; pending and inactive say nothing
/// to receivers. Labels: `alertname` (the policy's name, else `SLOBurn`), `severity`, `slo`,
/// `service`, the group's labels, then the SLO's, the policy's and the tier's labels.
pub fn own_alert(
    slo: &headroom_core::Slo,
    t: &headroom_core::AlertTransition,
    external_url: &str,
) -> Option<Alert> {
    use headroom_core::AlertState;
    let mut labels = BTreeMap::new();
    labels.insert(
        "alertname".to_string(),
        slo.alerting
            .name
            .clone()
            .unwrap_or_else(|| "SLOBurn".to_string()),
    );
    labels.insert("severity".to_string(), t.severity.clone());
    labels.insert("slo".to_string(), slo.id.to_string());
    labels.insert("service".to_string(), slo.service.clone());
    for pair in t.group.split(',').filter(|p| !p.is_empty()) {
        if let Some((k, v)) = pair.split_once('=') {
            labels.insert(k.to_string(), v.to_string());
        }
    }
    let tier = slo
        .alerting
        .tiers
        .iter()
        .find(|tier| tier.severity == t.severity);
    for (k, v) in slo
        .labels
        .iter()
        .chain(&slo.alerting.labels)
        .chain(tier.into_iter().flat_map(|tier| &tier.labels))
    {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let mut annotations = slo.alerting.annotations.clone();
    annotations.entry("summary".to_string()).or_insert_with(|| {
        format!(
            "SLO {} is burning its error budget ({})",
            slo.id, t.severity
        )
    });
    let at = t.at.to_chrono();
    let ends_at = match t.to {
        AlertState::Firing => None,
        AlertState::Resolved if t.from == AlertState::Firing => Some(at),
        _ => return None,
    };
    Some(Alert {
        labels,
        annotations,
        starts_at: at,
        ends_at,
        generator_url: slo_url(external_url, slo.id.as_str()),
        updated_at: at,
        timeout: false,
    })
}

/// Where an SLO alert links to; also how headroom tells its own SLO alerts from others.
fn slo_url(external_url: &str, slo: &str) -> String {
    format!("{}/api/v1/slos/{slo}", external_url.trim_end_matches('/'))
}

/// Resolves headroom's own firing alerts for SLOs the config no longer has (a reload removed
/// them): nothing else would ever resolve them.
pub async fn resolve_removed_slos(state: &AppState, remaining: &[String]) {
    let at = state.now().to_chrono();
    let prefix = slo_url(&state.alerting.external_url, "");
    let orphans: Vec<Alert> = {
        let desk = state.alerting.desk.lock().await;
        desk.dispatcher
            .alerts()
            .iter()
            .filter(|a| !a.resolved_at(at))
            .filter(|a| {
                a.generator_url
                    .strip_prefix(&prefix)
                    .is_some_and(|slo| !remaining.iter().any(|r| r == slo))
            })
            .map(|a| Alert {
                ends_at: Some(at),
                updated_at: at,
                ..a.clone()
            })
            .collect()
    };
    if let Err(e) = accept(state, orphans, "headroom").await {
        tracing::error!(error = %e.detail, "could not resolve the alerts of removed SLOs");
    }
}

/// The SLO context a notification shows for an alert of headroom's own (one with an `slo`
/// label naming a running SLO).
pub fn slo_context(
    state: &AppState,
    labels: &BTreeMap<String, String>,
) -> Option<headroom_notify::SloContext> {
    let view = state.engine.view(labels.get("slo")?)?;
    let group = headroom_engine::group_key(&view.slo, labels).ok()?;
    let status = &view.groups.iter().find(|g| g.group == group)?.status;
    let burn = status
        .burn_rates
        .iter()
        .filter_map(|b| b.rate)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
    let note = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| view.slo.alerting.annotations.get(*k).cloned())
    };
    Some(headroom_notify::SloContext {
        id: view.slo.id.to_string(),
        objective: view.slo.objective.ratio(),
        budget_remaining: Some(status.budget.remaining),
        burn_rate: burn,
        time_to_exhaustion: status.time_to_exhaustion.map(|s| s.as_secs_f64()),
        runbook_url: note(&["runbook_url", "runbook"]),
        dashboard_url: note(&["dashboard_url", "dashboard"]),
    })
}

/// Raises or resolves a probe's failure alert (`ProbeFailed`, a ticket; for a heartbeat
/// `HeartbeatMissed`, a page), labelled with the probe's name. A resolve for an alert that is
/// not firing changes nothing.
pub async fn probe_alert(
    state: &AppState,
    spec: &headroom_probe::spec::ProbeSpec,
    change: crate::signals::ProbeAlert,
) {
    use headroom_probe::spec::ProbeKind;
    let (name, severity) = match spec.kind {
        ProbeKind::Heartbeat => ("HeartbeatMissed", "page"),
        _ => ("ProbeFailed", "ticket"),
    };
    let labels: BTreeMap<String, String> = [
        ("alertname", name),
        ("probe", spec.name.as_str()),
        ("severity", severity),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let at = state.now().to_chrono();
    let firing = {
        let desk = state.alerting.desk.lock().await;
        desk.dispatcher
            .alerts()
            .get(headroom_routing::group::fingerprint(&labels))
            .filter(|a| !a.resolved_at(at))
            .cloned()
    };
    let alert = match (change, firing) {
        (crate::signals::ProbeAlert::Fire(why), None) => Alert {
            annotations: BTreeMap::from([(
                "summary".to_string(),
                format!("probe {} is failing: {why}", spec.name),
            )]),
            labels,
            starts_at: at,
            ends_at: None,
            generator_url: String::new(),
            updated_at: at,
            timeout: false,
        },
        (crate::signals::ProbeAlert::Resolve, Some(a)) => Alert {
            ends_at: Some(at),
            updated_at: at,
            ..a
        },
        _ => return,
    };
    if let Err(e) = accept(state, vec![alert], "headroom").await {
        tracing::error!(probe = %spec.name, error = %e.detail, "could not route a probe alert");
    }
}
