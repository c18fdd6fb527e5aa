//! Automated actions: a trigger (a gate denial, a failed canary, a matched alert, a declared
//! incident, a budget falling below a threshold) or a person fires the configured actions it
//! matches; each becomes a stored run, rendered from the trigger's context, and goes out
//! through the outbox (retried there), waits for approval, or is only stored (dry run).
//!
//! Invariants:
//! - A run is stored before it is sent: a run to send and its outbox item are written in one
//!   transaction, so every request that leaves has its audit entry.
//! - A run whose action requires approval is not in the outbox until someone with the respond
//!   scope approves it; a rejected run never is.
//! - Secrets are rendered only at send time (`action_request::sendable`): runs, logs, answers
//!   and errors hold the request with `<secret>` in their place.
//! - A budget trigger fires once per crossing below its threshold and re-arms when the budget
//!   is back at or above it; the crossing state is bounded ([`MAX_BUDGET_WATCHES`]).
//!
//! Template context (every key absent when the trigger has none): `action`, `run_id`,
//! `trigger`, `requested_by`, `service`, `environment`, `gate` (`decision_id`, `reasons`),
//! `canary` (`score`, `reason`), `alert` (`labels`, `annotations`, `fingerprint`, `starts_at`),
//! `incident` (`id`, `title`, `severity`, `services`), `slo` (`id`, `group`, `remaining`,
//! `threshold`), `context` (what a run by hand was given).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use headroom_core::Timestamp;
use headroom_incident::Severity;
use headroom_routing::matcher::all_match;
use headroom_spec::{Action, ActionTrigger, Config};
use headroom_store::{
    ACTION_RUNS_KEPT, ActionRun, ActionRunFilter, ActionRunState, ActionRunStore, NewOutboxItem,
    Store,
};
use serde_json::{Map, Value, json};

use crate::action_request::{ACTION_INTEGRATION, RenderedRequest, RunPayload, render};
use crate::clock::Clock;
use crate::error::ServiceError;
use crate::incidents::Incidents;
use crate::outbox::Outbox;

/// (action, SLO, group) crossings remembered for budget triggers.
pub const MAX_BUDGET_WATCHES: usize = 100_000;
/// The largest context a run by hand may carry (as JSON).
pub const MAX_CONTEXT_BYTES: usize = 16 * 1024;
/// The longest rejection reason kept.
pub const MAX_REASON_CHARS: usize = 1_000;
/// Runs one listing shows at most.
pub const MAX_LIST: u32 = 1_000;

/// What happened, as a trigger of actions.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// A release gate refused a deploy (`service::gates` calls this).
    GateDenied {
        service: String,
        environment: String,
        decision_id: String,
        reasons_text: String,
    },
    CanaryFailed {
        score: f64,
        reason: Option<String>,
    },
    /// An alert started firing (once per firing, not per repeat of it).
    Alert {
        labels: BTreeMap<String, String>,
        annotations: BTreeMap<String, String>,
        fingerprint: String,
        starts_at: Timestamp,
    },
    IncidentDeclared {
        id: i64,
        title: String,
        severity: Severity,
        services: Vec<String>,
    },
    /// An SLO group's budget remaining, as evaluated; actions fire when it crosses below their
    /// threshold.
    Budget {
        slo: String,
        service: String,
        group: String,
        remaining: f64,
    },
}

impl Trigger {
    fn kind(&self) -> &'static str {
        match self {
            Trigger::GateDenied { .. } => "gate_denied",
            Trigger::CanaryFailed { .. } => "canary_failed",
            Trigger::Alert { .. } => "alert",
            Trigger::IncidentDeclared { .. } => "incident_declared",
            Trigger::Budget { .. } => "budget_below",
        }
    }

    /// The template context of the trigger (see the module doc).
    fn context(&self) -> Map<String, Value> {
        let v = match self {
            Trigger::GateDenied {
                service,
                environment,
                decision_id,
                reasons_text,
            } => json!({"service": service, "environment": environment,
                "gate": {"decision_id": decision_id, "reasons": reasons_text}}),
            Trigger::CanaryFailed { score, reason } => {
                json!({"canary": {"score": score, "reason": reason}})
            }
            Trigger::Alert {
                labels,
                annotations,
                fingerprint,
                starts_at,
            } => {
                let mut v = json!({"alert": {"labels": labels, "annotations": annotations,
                    "fingerprint": fingerprint, "starts_at": starts_at.to_string()}});
                if let Some(s) = labels.get("service") {
                    v["service"] = json!(s);
                }
                v
            }
            Trigger::IncidentDeclared {
                id,
                title,
                severity,
                services,
            } => {
                let mut v = json!({"incident": {"id": id, "title": title,
                    "severity": severity.to_string(), "services": services}});
                if let Some(s) = services.first() {
                    v["service"] = json!(s);
                }
                v
            }
            Trigger::Budget {
                slo,
                service,
                group,
                remaining,
            } => {
                json!({"service": service, "slo": {"id": slo, "group": group, "remaining": remaining}})
            }
        };
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    /// Whether `on` fires on this trigger (budget thresholds are checked by crossing).
    fn fires(&self, on: &ActionTrigger) -> bool {
        match (on, self) {
            (
                ActionTrigger::GateDenied {
                    service,
                    environment,
                },
                Trigger::GateDenied {
                    service: s,
                    environment: e,
                    ..
                },
            ) => {
                service.as_ref().is_none_or(|x| x == s)
                    && environment.as_ref().is_none_or(|x| x == e)
            }
            (ActionTrigger::CanaryFailed, Trigger::CanaryFailed { .. }) => true,
            (ActionTrigger::Alert { matchers }, Trigger::Alert { labels, .. }) => {
                all_match(matchers, labels)
            }
            (
                ActionTrigger::IncidentDeclared {
                    severities,
                    service,
                },
                Trigger::IncidentDeclared {
                    severity, services, ..
                },
            ) => {
                (severities.is_empty() || severities.contains(severity))
                    && service.as_ref().is_none_or(|s| services.contains(s))
            }
            _ => false,
        }
    }
}

/// What one run is made from.
struct Firing<'a> {
    trigger: &'a str,
    context: Map<String, Value>,
    requested_by: String,
    incident: Option<i64>,
    dry_run: bool,
}

/// A run by hand.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ByHand {
    /// Free keys for the templates, under `context`.
    pub context: Map<String, Value>,
    /// Overrides the action's `dry_run`.
    pub dry_run: Option<bool>,
}

/// The configured actions and their runs.
pub struct Actions {
    config: RwLock<Arc<[Action]>>,
    /// (action, SLO, group) → whether the budget was below the action's threshold when last
    /// evaluated.
    below: Mutex<HashMap<(String, String, String), bool>>,
    store: Store,
    clock: Clock,
    outbox: Arc<Outbox>,
    incidents: Arc<Incidents>,
}

impl Actions {
    pub fn new(
        config: &Config,
        store: Store,
        clock: Clock,
        outbox: Arc<Outbox>,
        incidents: Arc<Incidents>,
    ) -> Actions {
        Actions {
            config: RwLock::new(config.actions.clone().into()),
            below: Mutex::default(),
            store,
            clock,
            outbox,
            incidents,
        }
    }

    /// Takes a reloaded config's actions (the outbox sends with them too).
    pub fn reload(&self, config: &Config) {
        *self.config.write().expect("actions lock") = config.actions.clone().into();
        self.outbox.replace_actions(config.actions.clone());
    }

    /// The actions of the config in force.
    pub fn configured(&self) -> Arc<[Action]> {
        self.config.read().expect("actions lock").clone()
    }

    /// Fires every action `trigger` matches; returns the runs made. A run that cannot be
    /// stored is logged and skipped: a trigger is never refused for it.
    pub async fn fire(&self, trigger: Trigger, now: Timestamp) -> Vec<ActionRun> {
        if let Trigger::Budget { .. } = trigger {
            return self.budget(&trigger, now).await;
        }
        let matching: Vec<Action> = self
            .configured()
            .iter()
            .filter(|a| a.on.iter().any(|on| trigger.fires(on)))
            .cloned()
            .collect();
        let mut runs = Vec::new();
        if matching.is_empty() {
            return runs;
        }
        let incident = match &trigger {
            Trigger::IncidentDeclared { id, .. } => Some(*id),
            Trigger::Alert { fingerprint, .. } => self
                .incidents
                .open_linking(std::slice::from_ref(fingerprint))
                .await
                .ok()
                .and_then(|ids| ids.first().copied()),
            _ => None,
        };
        for action in matching {
            let firing = Firing {
                trigger: trigger.kind(),
                context: trigger.context(),
                requested_by: format!("trigger:{}", trigger.kind()),
                incident,
                dry_run: action.dry_run,
            };
            runs.extend(self.fired(&action, firing, now).await);
        }
        runs
    }

    /// Budget triggers: fires the actions whose threshold the budget just crossed below.
    async fn budget(&self, trigger: &Trigger, now: Timestamp) -> Vec<ActionRun> {
        let Trigger::Budget {
            slo,
            service,
            group,
            remaining,
        } = trigger
        else {
            return Vec::new();
        };
        let mut runs = Vec::new();
        for action in self.configured().iter() {
            for on in &action.on {
                let ActionTrigger::BudgetBelow {
                    slo: want_slo,
                    service: want_service,
                    remaining: threshold,
                } = on
                else {
                    continue;
                };
                if want_slo.as_ref().is_some_and(|s| s != slo)
                    || want_service.as_ref().is_some_and(|s| s != service)
                {
                    continue;
                }
                let below = *remaining < *threshold;
                let key = (action.name.clone(), slo.clone(), group.clone());
                let before = {
                    let mut watched = self.below.lock().expect("budget watch lock");
                    if !watched.contains_key(&key) && watched.len() >= MAX_BUDGET_WATCHES {
                        tracing::warn!(action = %action.name, %slo, "too many budget watches; not watched");
                        continue;
                    }
                    watched.insert(key, below)
                };
                let crossed = match before {
                    Some(was) => below && !was,
                    // First seen since start: below fires unless this crossing already did
                    // (the newest budget run for this SLO group is one from before a restart).
                    None => below && !self.fired_before(&action.name, slo, group).await,
                };
                if !crossed {
                    continue;
                }
                let mut context = trigger.context();
                context.insert("slo".into(), json!({"id": slo, "group": group, "remaining": remaining, "threshold": threshold}));
                let firing = Firing {
                    trigger: "budget_below",
                    context,
                    requested_by: "trigger:budget_below".to_string(),
                    incident: None,
                    dry_run: action.dry_run,
                };
                runs.extend(self.fired(action, firing, now).await);
            }
        }
        runs
    }

    async fn fired_before(&self, action: &str, slo: &str, group: &str) -> bool {
        let filter = ActionRunFilter {
            action: Some(action.to_string()),
            state: None,
            limit: 100,
        };
        let Ok(runs) = self.store.list_action_runs(&filter).await else {
            return false;
        };
        runs.iter()
            .filter(|r| r.trigger == "budget_below")
            .any(|r| {
                serde_json::from_str::<Value>(&r.context_json).is_ok_and(|c| {
                    c["slo"]["id"] == json!(slo) && c["slo"]["group"] == json!(group)
                })
            })
    }

    /// Runs `name` by hand as `who`.
    pub async fn run_by_hand(
        &self,
        name: &str,
        by_hand: ByHand,
        who: &str,
    ) -> Result<ActionRun, ServiceError> {
        let action = self
            .configured()
            .iter()
            .find(|a| a.name == name)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound(format!("no action {name:?}")))?;
        let size = Value::Object(by_hand.context.clone()).to_string().len();
        if size > MAX_CONTEXT_BYTES {
            return Err(ServiceError::Unacceptable(format!(
                "context is {size} bytes as JSON; at most {MAX_CONTEXT_BYTES}"
            )));
        }
        let mut context = Map::new();
        context.insert("context".into(), Value::Object(by_hand.context));
        let dry_run = by_hand.dry_run.unwrap_or(action.dry_run);
        let now = (self.clock)();
        let firing = Firing {
            trigger: "manual",
            context,
            requested_by: who.to_string(),
            incident: None,
            dry_run,
        };
        self.create(&action, firing, now).await
    }

    /// A run made by a trigger; one that cannot be stored is logged, never refused.
    async fn fired(
        &self,
        action: &Action,
        firing: Firing<'_>,
        now: Timestamp,
    ) -> Option<ActionRun> {
        let trigger = firing.trigger;
        self.create(action, firing, now)
            .await
            .map_err(|e| {
                tracing::error!(action = %action.name, trigger, error = %e, "could not store an action run");
            })
            .ok()
    }

    /// Stores a run of `action` (and queues it unless it waits or is a dry run).
    async fn create(
        &self,
        action: &Action,
        firing: Firing<'_>,
        now: Timestamp,
    ) -> Result<ActionRun, ServiceError> {
        let Firing {
            trigger,
            mut context,
            requested_by,
            incident,
            dry_run,
        } = firing;
        let requested_by = requested_by.as_str();
        let id = format!("run_{}", hex::encode(rand::random::<[u8; 8]>()));
        context.insert("action".into(), json!(action.name));
        context.insert("run_id".into(), json!(id));
        context.insert("trigger".into(), json!(trigger));
        context.insert("requested_by".into(), json!(requested_by));
        let context = Value::Object(context);
        let rendered = render(action, &context);
        let (state, last_error) = match (&rendered, dry_run) {
            (Err(e), _) => (ActionRunState::Failed, Some(e.clone())),
            (Ok(_), true) => (ActionRunState::DryRun, None),
            (Ok(_), false) if action.approval_required => (ActionRunState::AwaitingApproval, None),
            (Ok(_), false) => (ActionRunState::Queued, None),
        };
        let request_json = match &rendered {
            Ok(r) => serde_json::to_string(r).map_err(|e| ServiceError::Internal(e.to_string()))?,
            Err(_) => "null".to_string(),
        };
        let finished = matches!(state, ActionRunState::Failed | ActionRunState::DryRun);
        let run = ActionRun {
            id: id.clone(),
            action: action.name.clone(),
            trigger: trigger.to_string(),
            context_json: context.to_string(),
            request_json,
            state,
            requested_by: requested_by.to_string(),
            created_at: now,
            approved_by: None,
            decided_at: None,
            reason: None,
            attempts: 0,
            last_error,
            finished_at: finished.then_some(now),
            incident_id: incident,
        };
        let item = match (&rendered, state) {
            (Ok(request), ActionRunState::Queued) => Some(outbox_item(&run, request)?),
            _ => None,
        };
        self.store
            .create_action_run(&run, item.as_ref(), ACTION_RUNS_KEPT)
            .await?;
        if item.is_some() {
            self.outbox.wake();
        }
        tracing::info!(action = %run.action, run = %run.id, trigger, state = %run.state, "action run");
        self.note(
            &run,
            &format!(
                "Action {} ({trigger}): run {} {}",
                run.action,
                run.id,
                describe(state)
            ),
        )
        .await;
        Ok(run)
    }

    /// Approves a run awaiting approval as `who`: it is queued for sending.
    pub async fn approve(&self, id: &str, who: &str) -> Result<ActionRun, ServiceError> {
        let run = self.awaiting(id).await?;
        let request: RenderedRequest = serde_json::from_str(&run.request_json)
            .map_err(|e| ServiceError::Internal(format!("run {id}'s request: {e}")))?;
        let item = outbox_item(&run, &request)?;
        let now = (self.clock)();
        if !self
            .store
            .decide_action_run(id, Some(&item), who, None, now)
            .await?
        {
            return Err(self.not_awaiting(id).await);
        }
        self.outbox.wake();
        tracing::info!(action = %run.action, run = id, by = who, "action run approved");
        let run = self.get(id).await?;
        self.note(
            &run,
            &format!("Action {}: run {id} approved by {who}", run.action),
        )
        .await;
        Ok(run)
    }

    /// Rejects a run awaiting approval as `who`: it is never sent.
    pub async fn reject(
        &self,
        id: &str,
        who: &str,
        reason: &str,
    ) -> Result<ActionRun, ServiceError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(ServiceError::Invalid(
                "reason is empty: say why the run is rejected".into(),
            ));
        }
        if reason.chars().count() > MAX_REASON_CHARS {
            return Err(ServiceError::Unacceptable(format!(
                "reason is longer than {MAX_REASON_CHARS} characters"
            )));
        }
        let run = self.awaiting(id).await?;
        let now = (self.clock)();
        if !self
            .store
            .decide_action_run(id, None, who, Some(reason), now)
            .await?
        {
            return Err(self.not_awaiting(id).await);
        }
        tracing::info!(action = %run.action, run = id, by = who, "action run rejected");
        let run = self.get(id).await?;
        self.note(
            &run,
            &format!(
                "Action {}: run {id} rejected by {who}: {reason}",
                run.action
            ),
        )
        .await;
        Ok(run)
    }

    pub async fn get(&self, id: &str) -> Result<ActionRun, ServiceError> {
        self.store
            .get_action_run(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no action run {id:?}")))
    }

    /// The audit log, newest first.
    pub async fn runs(
        &self,
        action: Option<String>,
        state: Option<ActionRunState>,
        limit: u32,
    ) -> Result<Vec<ActionRun>, ServiceError> {
        let filter = ActionRunFilter {
            action,
            state,
            limit: limit.clamp(1, MAX_LIST),
        };
        Ok(self.store.list_action_runs(&filter).await?)
    }

    async fn awaiting(&self, id: &str) -> Result<ActionRun, ServiceError> {
        let run = self.get(id).await?;
        if run.state != ActionRunState::AwaitingApproval {
            return Err(not_awaiting(&run));
        }
        Ok(run)
    }

    async fn not_awaiting(&self, id: &str) -> ServiceError {
        match self.get(id).await {
            Ok(run) => not_awaiting(&run),
            Err(e) => e,
        }
    }

    /// A timeline entry on the run's incident; a failure is logged (the run stands).
    async fn note(&self, run: &ActionRun, text: &str) {
        let Some(id) = run.incident_id else { return };
        let actor = format!("action:{}", run.action);
        if let Err(e) = self
            .incidents
            .modify(id, |incident, now| incident.note(&actor, now, text))
            .await
        {
            tracing::warn!(incident = id, run = %run.id, error = %e, "action run not on the incident's timeline");
        }
    }
}

fn not_awaiting(run: &ActionRun) -> ServiceError {
    ServiceError::Conflict(format!(
        "action run {} is {}, not awaiting approval",
        run.id, run.state
    ))
}

fn describe(state: ActionRunState) -> &'static str {
    match state {
        ActionRunState::AwaitingApproval => "awaits approval",
        ActionRunState::Queued => "queued",
        ActionRunState::DryRun => "stored as a dry run (nothing sent)",
        ActionRunState::Failed => "failed to render",
        ActionRunState::Delivered => "delivered",
        ActionRunState::Rejected => "rejected",
    }
}

/// The outbox item of a run: keyed by the run's id, so it is queued and sent once.
fn outbox_item(run: &ActionRun, request: &RenderedRequest) -> Result<NewOutboxItem, ServiceError> {
    let payload = RunPayload {
        run: run.id.clone(),
        request: request.clone(),
    };
    Ok(NewOutboxItem {
        idempotency_key: format!("action-run:{}", run.id),
        receiver: run.action.clone(),
        integration: ACTION_INTEGRATION.to_string(),
        payload_json: serde_json::to_string(&payload)
            .map_err(|e| ServiceError::Internal(e.to_string()))?,
        not_before: None,
    })
}
