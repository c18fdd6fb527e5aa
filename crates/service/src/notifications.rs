//! What a notification says: the message every integration renders, with the SLO context of
//! headroom's own alerts.

use std::collections::BTreeMap;

use headroom_core::GroupKey;
use headroom_engine::Engine;
use headroom_notify::{Message, SloContext};
use headroom_routing::dispatch::Notification;

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

/// The SLO context a notification shows for an alert of headroom's own (one with an `slo`
/// label naming a running SLO).
pub fn slo_context(engine: &Engine, labels: &BTreeMap<String, String>) -> Option<SloContext> {
    let view = engine.view(labels.get("slo")?)?;
    let group = GroupKey::of(&view.slo.grouping, labels).ok()?;
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
    Some(SloContext {
        id: view.slo.id.to_string(),
        objective: view.slo.objective.ratio(),
        budget_remaining: Some(status.budget.remaining),
        burn_rate: burn,
        time_to_exhaustion: status.time_to_exhaustion.map(|s| s.as_secs_f64()),
        runbook_url: note(&["runbook_url", "runbook"]),
        dashboard_url: note(&["dashboard_url", "dashboard"]),
    })
}
