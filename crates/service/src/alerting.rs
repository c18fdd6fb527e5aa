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

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use headroom_core::Timestamp;
use headroom_engine::Engine;
use headroom_routing::alert::Alert;
use headroom_routing::dispatch::{
    DispatchConfig, Dispatcher, MAINTENANCE_INTERVAL, Notification, Receiver, bound_per_receiver,
};
use headroom_spec::Config;
use headroom_store::{
    NewOutboxItem, NotificationLogEntry, NotificationLogStore, RoutedAlert, RoutedAlertStore,
    SilenceStore, Store,
};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, Notify};

use crate::actions::{Actions, Trigger};
use crate::clock::Clock;
use crate::desk::{Desk, Mutes};
use crate::error::{ServiceError, StartError};
use crate::escalation::Escalations;
use crate::incidents::Incidents;
use crate::limits;
use crate::notifications::{message, slo_context};
use crate::oncall::OnCall;
use crate::outbox::Outbox;
use crate::records::{
    alert_from_record, alert_record, ended, log_entry_from_record, log_entry_record,
    silence_from_record,
};
use crate::signals::ProbeAlert;

/// The `source` of a burn alert of headroom's own, before its SLO's id.
pub const OWN_SLO: &str = "slo:";

/// How long to wait before retrying to enqueue notifications the store refused.
const STORE_RETRY: Duration = Duration::from_secs(1);
/// How often resolved alerts are forgotten (Alertmanager's `--alerts.gc-interval`): until then
/// they stay in their groups, so a reload regroups them as Alertmanager does.
const GC_EVERY: headroom_core::Span = headroom_core::Span(30 * 60_000);

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

/// The parts a dispatch round hands notifications to.
pub struct Handoff<'a> {
    /// Where headroom's own alerts find their SLO context.
    pub engine: &'a Engine,
    pub escalations: &'a Escalations,
    pub oncall: &'a OnCall,
    pub outbox: &'a Outbox,
}

/// The response side: the desk, and what Alertmanager's status shows.
pub struct Alerting {
    pub desk: Mutex<Desk>,
    /// Wakes the dispatch loop: new alerts, a silence change, a reload.
    pub wake: Notify,
    /// The config text in force, for `/api/v2/status`.
    pub original: RwLock<String>,
    pub started_at: Timestamp,
    /// The address notifications link back to (Alertmanager's `--web.external-url`).
    pub external_url: String,
    pub(crate) store: Store,
    clock: Clock,
    /// Fired by alerts that start firing and by incidents the policies open.
    actions: Arc<Actions>,
}

impl Alerting {
    /// The response side for `config`, with the alerts, silences and notification log the
    /// store holds (so a restart resumes where the last run stopped).
    pub async fn restore(
        config: &Config,
        original: String,
        external_url: String,
        store: Store,
        clock: Clock,
        actions: Arc<Actions>,
    ) -> Result<Alerting, StartError> {
        let now = clock();
        let at = now.to_chrono();
        let mut dispatcher = Dispatcher::new(dispatch_config(config), at)
            .map_err(|e| StartError::Config(vec![e.to_string()]))?;
        let log = store.load_notification_log(now).await?;
        dispatcher.restore_notification_log(log.iter().filter_map(log_entry_from_record));
        let mut owners = HashMap::new();
        let legacy = slo_url(&external_url, "");
        for record in store.load_alerts().await? {
            if let Some(alert) = alert_from_record(&record) {
                // Alerts stored before owners were recorded say only `headroom`; theirs is in
                // the link headroom itself gave them.
                let owner = match record.source.strip_prefix(OWN_SLO) {
                    Some(slo) => Some(slo.to_string()),
                    None if record.source == "headroom" => alert
                        .generator_url
                        .strip_prefix(&legacy)
                        .map(str::to_string),
                    None => None,
                };
                if let Some(slo) = owner {
                    owners.insert(alert.fingerprint(), slo);
                }
                dispatcher.receive(alert, at);
            }
        }
        let silences = store
            .list_silences()
            .await?
            .iter()
            .filter_map(silence_from_record)
            .collect();
        let mut desk = Desk::new(dispatcher, silences, now);
        desk.owners = owners;
        Ok(Alerting {
            desk: Mutex::new(desk),
            wake: Notify::new(),
            original: RwLock::new(original),
            started_at: now,
            external_url,
            store,
            clock,
            actions,
        })
    }

    pub(crate) fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// Applies a reloaded config's routing, with the receivers and templates the outbox sends
    /// with and the incident policies accepted alerts go through (swapped under the same lock,
    /// so no flush or accepted batch sees one without the others). A routing tree the
    /// dispatcher refuses keeps the running one.
    pub async fn reload(
        &self,
        config: &Config,
        original: String,
        (outbox, templates): (&Outbox, headroom_notify::Templates),
        incidents: &Incidents,
    ) -> Result<(), String> {
        let mut desk = self.desk.lock().await;
        desk.dispatcher
            .reload(dispatch_config(config), self.now().to_chrono())
            .map_err(|e| e.to_string())?;
        outbox.replace(config.receivers.clone(), templates);
        incidents.reload(config);
        *self.original.write().expect("original lock") = original;
        drop(desk);
        self.wake.notify_one();
        Ok(())
    }

    /// The names of the page-severity alerts (`severity="page"`) firing for `service` (its
    /// `service` label) that neither a silence nor an inhibition mutes, headroom's own SLO alerts
    /// left out (a release gate reads those from the SLOs themselves).
    pub async fn service_pages(
        &self,
        service: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<String> {
        let desk = self.desk.lock().await;
        // Own SLO alerts are those the dispatcher records an owning SLO for (`owners`), so an
        // outside alert carrying an `slo` label of its own (Pyrra's do) still counts.
        let paging = |a: &Alert| {
            let label = |k: &str| a.labels.get(k).map(String::as_str);
            label("service") == Some(service)
                && label("severity") == Some("page")
                && !desk.owners.contains_key(&a.fingerprint())
        };
        if !desk.dispatcher.alerts().iter().any(&paging) {
            return Vec::new();
        }
        let mutes = Mutes::new(&desk, now);
        let mut names: Vec<String> = mutes
            .firing
            .iter()
            .filter(|a| paging(a))
            .filter(|a| {
                let m = mutes.status(a);
                m.silenced_by.is_empty() && m.inhibited_by.is_empty()
            })
            .filter_map(|a| a.labels.get("alertname").cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// How long an alert posted without an end stays firing (the config's `resolve_timeout`).
    pub async fn resolve_timeout(&self) -> Duration {
        self.desk.lock().await.dispatcher.config().resolve_timeout
    }

    /// Makes `alerts` durable, runs them through the incident policies, then hands them to the
    /// dispatcher. `source` names where they came from: `api`, `webhook`, `pagerduty`, or for
    /// headroom's own, `slo:<id>` (burn alerts, which this records as that SLO's) and `headroom`.
    pub async fn accept(
        &self,
        incidents: &Incidents,
        alerts: Vec<Alert>,
        source: &str,
    ) -> Result<(), ServiceError> {
        if alerts.is_empty() {
            return Ok(());
        }
        limits::check_alerts(&alerts)?;
        let now = self.now().to_chrono();
        let mut desk = self.desk.lock().await;
        // headroom's own alerts are bounded by its SLOs and probes; only outside ones are refused.
        let owner = source.strip_prefix(OWN_SLO);
        if owner.is_none() && source != "headroom" {
            let size = desk.dispatcher.size();
            let growth = desk.dispatcher.growth(&alerts);
            if size.alerts + growth.alerts > limits::MAX_ALERTS {
                return Err(limits::full("alerts held", limits::MAX_ALERTS));
            }
            if growth.groups > 0 && size.groups + growth.groups > limits::MAX_GROUPS {
                return Err(limits::full("aggregation groups", limits::MAX_GROUPS));
            }
        }
        let records: Vec<RoutedAlert> = alerts
            .iter()
            .map(|a| alert_record(&desk.dispatcher.alerts().merged(a.clone(), now), source))
            .collect();
        self.store
            .save_alerts(&records)
            .await
            .map_err(|e| ServiceError::Unavailable {
                summary: "alerts not stored, nothing changed",
                cause: e.to_string(),
            })?;
        let opened = incidents.route_alerts(&alerts).await;
        let mut started = Vec::new();
        for alert in alerts {
            if let Some(slo) = owner {
                desk.owners.insert(alert.fingerprint(), slo.to_string());
            }
            // A repeat of an alert already firing fires no action again.
            let held = desk.dispatcher.alerts().get(alert.fingerprint());
            if !alert.resolved_at(now) && held.is_none_or(|h| h.resolved_at(now)) {
                started.push(alert.clone());
            }
            desk.dispatcher.receive(alert, now);
        }
        drop(desk);
        self.wake.notify_one();
        let at = self.now();
        for incident in opened {
            let Ok(id) = incident.id().parse() else {
                continue;
            };
            let trigger = Trigger::IncidentDeclared {
                id,
                title: incident.title().to_string(),
                severity: incident.severity(),
                services: incident.services().to_vec(),
            };
            self.actions.fire(trigger, at).await;
        }
        for alert in started {
            let trigger = Trigger::Alert {
                fingerprint: alert.fingerprint().to_string(),
                starts_at: Timestamp::from_chrono(&alert.starts_at),
                labels: alert.labels,
                annotations: alert.annotations,
            };
            self.actions.fire(trigger, at).await;
        }
        Ok(())
    }

    /// The dispatch loop: flushes due groups into the outbox, at each group's deadline or as
    /// soon as something changes, and runs Alertmanager's periodic maintenance.
    pub async fn run(&self, to: Handoff<'_>) {
        loop {
            let wait = self.dispatch_round(&to).await;
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One dispatch round at the clock's `now`; returns how long until the next is due.
    pub async fn dispatch_round(&self, to: &Handoff<'_>) -> Duration {
        let now = self.now();
        let mut desk = self.desk.lock().await;
        self.flush(to, &mut desk, now).await;
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
    async fn flush(&self, to: &Handoff<'_>, desk: &mut Desk, now: Timestamp) {
        let at = now.to_chrono();
        if now - desk.last_gc >= GC_EVERY {
            desk.last_gc = now;
            let forgotten = desk.dispatcher.gc(at);
            for a in &forgotten {
                desk.owners.remove(&a.fingerprint());
            }
            if !forgotten.is_empty()
                && let Err(e) = self.store.delete_alerts_ended_before(now).await
            {
                tracing::warn!(error = %e, "could not forget resolved alerts");
            }
        }
        let silences = std::mem::take(&mut desk.silences);
        let fresh = bound_per_receiver(
            desk.dispatcher.flush_due(at, &silences),
            limits::MAX_NOTIFICATIONS_PER_RECEIVER,
        );
        desk.silences = silences;
        desk.unqueued.extend(fresh);
        if desk.unqueued.is_empty() {
            return;
        }
        let receivers = to.outbox.receivers.read().expect("receivers lock").clone();
        let mut messages: Vec<_> = desk
            .unqueued
            .iter()
            .map(|n| message(n, &self.external_url, |l| slo_context(to.engine, l)))
            .collect();
        // Escalations first, so a notification to a receiver with a policy carries its links; a
        // failure keeps the notifications for the next round, as a failed enqueue does.
        let actions = match to
            .escalations
            .notified(to.oncall, &desk.unqueued, &messages, now)
            .await
        {
            Ok(actions) => actions,
            Err(e) => {
                tracing::error!(error = %e, "could not start escalations; retrying");
                return;
            }
        };
        let mut items = Vec::new();
        for ((n, message), actions) in desk.unqueued.iter().zip(&mut messages).zip(actions) {
            message.actions = actions;
            items.extend(outbox_items(n, message, &receivers));
        }
        if let Err(e) = to.outbox.enqueue(&items, now).await {
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
        if let Err(e) = self.store.put_notification_log(&log).await {
            // The outbox already holds the notifications; a lost log entry only risks a repeat,
            // which the idempotency key recognises.
            tracing::warn!(error = %e, "could not store the notification log");
        }
    }

    /// Resolves headroom's own firing alerts for SLOs the config no longer has (a reload
    /// removed them): nothing else would ever resolve them.
    pub async fn resolve_removed_slos(&self, incidents: &Incidents, remaining: &[String]) {
        let at = self.now().to_chrono();
        let orphans: Vec<Alert> = {
            let desk = self.desk.lock().await;
            desk.owners
                .iter()
                .filter(|(_, slo)| !remaining.iter().any(|r| r == *slo))
                .filter_map(|(fp, _)| desk.dispatcher.alerts().get(*fp))
                .filter(|a| !a.resolved_at(at))
                .map(|a| ended(a.clone(), at))
                .collect()
        };
        if let Err(e) = self.accept(incidents, orphans, "headroom").await {
            tracing::error!(error = %e, "could not resolve the alerts of removed SLOs");
        }
    }

    /// Raises or resolves a probe's failure alert (`ProbeFailed`, a ticket; for a heartbeat
    /// `HeartbeatMissed`, a page), labelled with the probe's name. A resolve for an alert that
    /// is not firing changes nothing.
    pub async fn probe_alert(
        &self,
        incidents: &Incidents,
        spec: &headroom_probe::spec::ProbeSpec,
        change: ProbeAlert,
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
        let at = self.now().to_chrono();
        let firing = self.desk.lock().await.firing(&labels, at);
        let alert = match (change, firing) {
            (ProbeAlert::Fire(why), None) => Alert {
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
            (ProbeAlert::Resolve, Some(a)) => ended(a, at),
            _ => return,
        };
        if let Err(e) = self.accept(incidents, vec![alert], "headroom").await {
            tracing::error!(probe = %spec.name, error = %e, "could not route a probe alert");
        }
    }

    /// The silences in force, re-read from the store after a change.
    pub async fn refresh_silences(&self) -> Result<(), ServiceError> {
        let silences = self
            .store
            .list_silences()
            .await?
            .iter()
            .filter_map(silence_from_record)
            .collect();
        self.desk.lock().await.silences = silences;
        self.wake.notify_one();
        Ok(())
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
    labels.insert("severity".to_string(), t.severity.to_string());
    labels.insert("slo".to_string(), slo.id.to_string());
    labels.insert("service".to_string(), slo.service.clone());
    labels.extend(t.group.labels());
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
