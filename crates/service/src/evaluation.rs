//! Evaluation: the engine decides alert transitions at the clock's `now`; they are stored, and
//! those that say something to receivers become headroom's own alerts.

use std::collections::BTreeMap;
use std::time::Duration;

use headroom_core::{AlertTransition, Span};
use headroom_store::AlertStore;

use crate::actions::Trigger;
use crate::alerting::{OWN_SLO, own_alert};
use crate::state::{Headroom, Health};

/// Evaluates (one SLO or all) now and stores the transitions.
pub async fn evaluate(h: &Headroom, only: Option<&str>) -> Vec<AlertTransition> {
    let now = h.now();
    let transitions = h.engine.evaluate(only, now);
    Health::add(&h.health.evaluations, 1);
    budget_triggers(h, only).await;
    if !transitions.is_empty() {
        let rows: Vec<headroom_store::AlertTransition> = transitions
            .iter()
            .map(|t| headroom_store::AlertTransition {
                at: t.at,
                slo: t.slo.clone(),
                group: t.group.clone(),
                severity: t.severity.clone(),
                from: t.from.as_str().to_string(),
                to: t.to.as_str().to_string(),
                values_json: serde_json::to_string(&t.burn_rates).unwrap_or_default(),
            })
            .collect();
        for t in &transitions {
            tracing::info!(slo = %t.slo, group = %t.group, alert = %t.severity, from = t.from.as_str(), to = t.to.as_str(), "alert transition");
        }
        if let Err(e) = h.store.record_transitions(&rows).await {
            tracing::error!(error = %e, "could not store alert transitions");
        }
        let slos = h.engine.slos();
        // Accepted per SLO, so the desk records which SLO owns each alert.
        let mut by_slo: BTreeMap<&str, Vec<_>> = BTreeMap::new();
        for t in &transitions {
            if let Some(slo) = slos.iter().find(|s| s.id == t.slo)
                && let Some(alert) = own_alert(slo, t, &h.alerting.external_url)
            {
                by_slo.entry(t.slo.as_str()).or_default().push(alert);
            }
        }
        for (slo, alerts) in by_slo {
            if let Err(e) = h.accept(alerts, &format!("{OWN_SLO}{slo}")).await {
                tracing::error!(error = %e, %slo, "could not route headroom's own alerts");
            }
        }
    }
    transitions
}

/// Hands each evaluated SLO group's budget to the actions with budget triggers, which fire on
/// a crossing below their threshold.
async fn budget_triggers(h: &Headroom, only: Option<&str>) {
    let watched = h.actions.configured().iter().any(|a| {
        a.on.iter()
            .any(|t| matches!(t, headroom_spec::ActionTrigger::BudgetBelow { .. }))
    });
    if !watched {
        return;
    }
    let views = match only {
        Some(id) => h.engine.view(id).into_iter().collect(),
        None => h.engine.views(),
    };
    let now = h.now();
    for view in views {
        for g in &view.groups {
            let trigger = Trigger::Budget {
                slo: view.slo.id.to_string(),
                service: view.slo.service.clone(),
                group: g.group.to_string(),
                remaining: g.status.budget.remaining,
            };
            h.actions.fire(trigger, now).await;
        }
    }
}

/// The evaluator: re-evaluates SLOs whose data changed as soon as it changes, and every SLO when
/// a minute bucket closes, so no fixed interval delays a page.
pub async fn run_evaluator(h: Headroom) {
    loop {
        let now = h.now();
        // The next minute boundary, or sooner a pending alert's `for` running out.
        let next_bucket = now.floor(Span::MINUTE) + Span::MINUTE;
        let wake_at = h
            .engine
            .next_deadline()
            .map_or(next_bucket, |d| d.max(now).min(next_bucket));
        let wait = Duration::from_millis((wake_at - now).millis().max(1) as u64);
        tokio::select! {
            _ = h.changed.notified() => {
                for slo in h.changed.take() {
                    evaluate(&h, Some(&slo)).await;
                }
            }
            _ = tokio::time::sleep(wait) => {
                evaluate(&h, None).await;
            }
        }
    }
}
