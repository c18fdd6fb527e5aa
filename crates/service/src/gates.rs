//! Release gates: may a service be released to an environment now? The facts are read from the
//! engine at `clock()` (each of the service's SLO groups: budget remaining, 1 h burn rate, a
//! firing page alert), judged by `delivery::gate::decide` against the service's release policy,
//! the release's labels and the overrides in force, and the decision is stored before it is
//! returned, so every answer a pipeline acted on is in the history. Overrides are time-boxed
//! (at most [`MAX_OVERRIDE_SPAN`]) and their creation and revocation record who and when.

use std::sync::{Arc, RwLock};

use headroom_core::budget::CURRENT_BURN_WINDOW;
use headroom_core::{AlertState, Span, Timestamp};
use headroom_delivery::gate::{self, GateDecision, GateOverride, SloFacts, Verdict};
use headroom_engine::Engine;
use headroom_spec::{Config, Service};
use headroom_store::{
    GATE_DECISIONS_PER_SERVICE, GATE_OVERRIDES_PER_SERVICE, GateDecisionRecord, GateOverrideRecord,
    GateStore, NewGateDecision, NewGateOverride, Revoked, Store,
};

use crate::clock::Clock;
use crate::deploys::MAX_DEPLOY_LABELS;
use crate::error::ServiceError;

/// The longest an override may stay in force: a gate opened by hand closes again within a week.
pub const MAX_OVERRIDE_SPAN: Span = Span::days(7);
/// Longest override reason, in bytes.
pub const MAX_OVERRIDE_REASON: usize = 1_000;
/// Most decisions or overrides one listing returns.
pub const MAX_GATE_LISTED: u32 = 1_000;
/// The severity whose firing alert closes a gate (`deny_on_page_alert`).
pub const PAGE: &str = "page";

/// A decision as stored and answered.
#[derive(Debug, Clone, PartialEq)]
pub struct GateRecord {
    pub id: i64,
    pub service: String,
    pub environment: String,
    pub labels: Vec<String>,
    pub at: Timestamp,
    /// Who asked.
    pub actor: String,
    pub decision: GateDecision,
}

impl GateRecord {
    fn read(r: GateDecisionRecord) -> Result<GateRecord, ServiceError> {
        let d = r.decision;
        let reasons = serde_json::from_str(&d.reasons_json)
            .map_err(|e| ServiceError::Internal(format!("gate decision {} reasons: {e}", r.id)))?;
        Ok(GateRecord {
            id: r.id,
            service: d.service,
            environment: d.environment,
            labels: d.labels,
            at: d.at,
            actor: d.actor,
            decision: GateDecision {
                verdict: if d.allowed {
                    Verdict::Allow
                } else {
                    Verdict::Deny
                },
                reasons,
                override_id: d.override_id,
            },
        })
    }
}

/// An override to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideRequest {
    pub environment: String,
    pub reason: String,
    pub until: Timestamp,
    /// The caller's token name when absent.
    pub approver: Option<String>,
}

/// The services' release policies of the config in force, and the engine they read.
pub struct Gates {
    services: RwLock<Arc<[Service]>>,
    engine: Arc<Engine>,
    store: Store,
    clock: Clock,
}

/// One SLO group's facts, owned so they outlive the engine's read lock.
struct Facts {
    slo: String,
    group: String,
    budget_remaining: Option<f64>,
    burn_rate_1h: Option<f64>,
    page_alert: bool,
}

impl Gates {
    pub fn new(config: &Config, engine: Arc<Engine>, store: Store, clock: Clock) -> Gates {
        Gates {
            services: RwLock::new(config.services.clone().into()),
            engine,
            store,
            clock,
        }
    }

    pub fn reload(&self, config: &Config) {
        *self.services.write().expect("services lock") = config.services.clone().into();
    }

    /// The service of the config in force (404 otherwise) and `environment`, its production
    /// one when absent (400 when it is not one of the service's).
    fn service(
        &self,
        name: &str,
        environment: Option<String>,
    ) -> Result<(Service, String), ServiceError> {
        let service = self
            .services
            .read()
            .expect("services lock")
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .ok_or_else(|| {
                ServiceError::NotFound(format!("service {name:?} is not a service of the config"))
            })?;
        let environment = environment.unwrap_or_else(|| service.production.clone());
        if !service.environments.contains(&environment) {
            return Err(ServiceError::Invalid(format!(
                "environment: {environment:?} is not one of service {}'s environments {:?}",
                service.name, service.environments
            )));
        }
        Ok((service, environment))
    }

    /// Decides a release of `service` to `environment` carrying `labels` now, stores the
    /// decision and returns it.
    pub async fn decide(
        &self,
        service: &str,
        environment: Option<String>,
        labels: Vec<String>,
        service_pages: &[String],
        actor: &str,
    ) -> Result<GateRecord, ServiceError> {
        let (service, environment) = self.service(service, environment)?;
        check_labels(&labels)?;
        let now = (self.clock)();
        let overrides: Vec<GateOverride> = self
            .store
            .gate_overrides_in_force(&service.name, &environment, now)
            .await?
            .into_iter()
            .map(override_of)
            .collect();
        let decision = self.judge(
            &service,
            &environment,
            &labels,
            service_pages,
            &overrides,
            now,
        );
        let stored = NewGateDecision {
            service: service.name.clone(),
            environment: environment.clone(),
            labels: labels.clone(),
            allowed: decision.verdict == Verdict::Allow,
            reasons_json: serde_json::to_string(&decision.reasons)
                .map_err(|e| ServiceError::Internal(format!("gate reasons: {e}")))?,
            at: now,
            override_id: decision.override_id,
            actor: actor.to_string(),
        };
        let id = self
            .store
            .record_gate_decision(&stored, GATE_DECISIONS_PER_SERVICE)
            .await?;
        Ok(GateRecord {
            id,
            service: service.name,
            environment,
            labels,
            at: now,
            actor: actor.to_string(),
            decision,
        })
    }

    /// The decision without storing it: the service's SLO groups read from the engine and
    /// judged (what the benchmark measures).
    pub fn judge(
        &self,
        service: &Service,
        environment: &str,
        labels: &[String],
        service_pages: &[String],
        overrides: &[GateOverride],
        now: Timestamp,
    ) -> GateDecision {
        let Some(policy) = &service.release_policy else {
            return gate::decide(None, environment, [], &[], labels, overrides, now);
        };
        let mut facts = Vec::new();
        self.engine.visit_groups(
            |slo| slo.service == service.name,
            |slo, group| {
                let (group, status, alerts) = match group {
                    Some((g, status, alerts)) => (g.to_string(), status, Some(alerts)),
                    None => (String::new(), None, None),
                };
                // No events over the window is no data, not a full budget.
                let budget_remaining = status
                    .filter(|s| s.sli.is_some())
                    .map(|s| s.budget.remaining);
                let burn_rate_1h = status
                    .and_then(|s| s.burn_rate(CURRENT_BURN_WINDOW))
                    .and_then(|b| b.rate);
                let page_alert = alerts.is_some_and(|a| {
                    a.iter(slo)
                        .any(|(name, a)| name == PAGE && a.state == AlertState::Firing)
                });
                facts.push(Facts {
                    slo: slo.id.to_string(),
                    group,
                    budget_remaining,
                    burn_rate_1h,
                    page_alert,
                });
            },
        );
        gate::decide(
            Some(policy),
            environment,
            facts.iter().map(|f| SloFacts {
                slo: &f.slo,
                group: &f.group,
                budget_remaining: f.budget_remaining,
                burn_rate_1h: f.burn_rate_1h,
                page_alert: f.page_alert.then_some(PAGE),
            }),
            service_pages,
            labels,
            overrides,
            now,
        )
    }

    /// The service's configuration as the gate reads it (for callers timing [`Gates::judge`]).
    pub fn service_named(&self, name: &str) -> Result<Service, ServiceError> {
        Ok(self.service(name, None)?.0)
    }

    pub async fn get(&self, id: i64) -> Result<Option<GateRecord>, ServiceError> {
        self.store
            .get_gate_decision(id)
            .await?
            .map(GateRecord::read)
            .transpose()
    }

    /// The stored decisions among `ids` (a dropped one is absent).
    pub async fn many(&self, ids: &[i64]) -> Result<Vec<GateRecord>, ServiceError> {
        self.store
            .gate_decisions_by_id(ids)
            .await?
            .into_iter()
            .map(GateRecord::read)
            .collect()
    }

    /// Decisions of `service`, newest first, at most `limit` (1 to [`MAX_GATE_LISTED`]).
    pub async fn decisions(
        &self,
        service: &str,
        environment: Option<String>,
        limit: u32,
    ) -> Result<Vec<GateRecord>, ServiceError> {
        // Without an environment, every one of the service's is listed.
        let only = environment.is_some();
        let (service, environment) = self.service(service, environment)?;
        self.store
            .list_gate_decisions(
                &service.name,
                only.then_some(environment.as_str()),
                limit.clamp(1, MAX_GATE_LISTED),
            )
            .await?
            .into_iter()
            .map(GateRecord::read)
            .collect()
    }

    /// Adds an override of `service`'s gate, checked whole before anything is stored: the
    /// environment is the service's, the reason is given, `until` is in the future and within
    /// [`MAX_OVERRIDE_SPAN`].
    pub async fn add_override(
        &self,
        service: &str,
        r: OverrideRequest,
        actor: &str,
    ) -> Result<GateOverrideRecord, ServiceError> {
        let (service, environment) = self.service(service, Some(r.environment))?;
        let now = (self.clock)();
        let reason = r.reason.trim();
        if reason.is_empty() {
            return Err(ServiceError::Invalid(
                "reason: required, say why the gate is opened".into(),
            ));
        }
        if reason.len() > MAX_OVERRIDE_REASON {
            return Err(ServiceError::TooLarge(format!(
                "reason: {} bytes, at most {MAX_OVERRIDE_REASON}",
                reason.len()
            )));
        }
        if r.until <= now {
            return Err(ServiceError::Invalid(format!(
                "until: {} is not in the future (now is {})",
                r.until.to_rfc3339(),
                now.to_rfc3339()
            )));
        }
        if r.until - now > MAX_OVERRIDE_SPAN {
            return Err(ServiceError::Unacceptable(format!(
                "until: {} is more than {MAX_OVERRIDE_SPAN} away; an override is time-boxed",
                r.until.to_rfc3339()
            )));
        }
        let approver = match r.approver {
            Some(a) if a.trim().is_empty() => {
                return Err(ServiceError::Invalid("approver: empty".into()));
            }
            Some(a) if a.len() > 255 => {
                return Err(ServiceError::TooLarge("approver: at most 255 bytes".into()));
            }
            Some(a) => a,
            None => actor.to_string(),
        };
        let over = NewGateOverride {
            service: service.name.clone(),
            environment,
            reason: reason.to_string(),
            approver,
            created_by: actor.to_string(),
            created: now,
            until: r.until,
        };
        let id = self
            .store
            .add_gate_override(&over, GATE_OVERRIDES_PER_SERVICE)
            .await?;
        Ok(GateOverrideRecord {
            id,
            over,
            revoked: None,
        })
    }

    /// Overrides of `service`, newest first, revoked and expired ones too.
    pub async fn overrides(
        &self,
        service: &str,
        limit: u32,
    ) -> Result<Vec<GateOverrideRecord>, ServiceError> {
        let (service, _) = self.service(service, None)?;
        Ok(self
            .store
            .list_gate_overrides(&service.name, limit.clamp(1, MAX_GATE_LISTED))
            .await?)
    }

    /// Revokes an override now; revoking it again keeps the first revocation.
    pub async fn revoke_override(
        &self,
        service: &str,
        id: i64,
        actor: &str,
    ) -> Result<GateOverrideRecord, ServiceError> {
        let (service, _) = self.service(service, None)?;
        match self
            .store
            .revoke_gate_override(&service.name, id, actor, (self.clock)())
            .await?
        {
            Revoked::Now(r) | Revoked::Already(r) => Ok(r),
            Revoked::NotFound => Err(ServiceError::NotFound(format!(
                "override {id} of service {} not found",
                service.name
            ))),
        }
    }
}

fn check_labels(labels: &[String]) -> Result<(), ServiceError> {
    if labels.len() > MAX_DEPLOY_LABELS {
        return Err(ServiceError::TooLarge(format!(
            "label: {} labels, at most {MAX_DEPLOY_LABELS}",
            labels.len()
        )));
    }
    match labels
        .iter()
        .position(|l| l.trim().is_empty() || l.len() > 255)
    {
        Some(i) => Err(ServiceError::Invalid(format!(
            "label[{i}]: empty or over 255 bytes"
        ))),
        None => Ok(()),
    }
}

fn override_of(r: GateOverrideRecord) -> GateOverride {
    GateOverride {
        id: r.id,
        environment: r.over.environment,
        reason: r.over.reason,
        approver: r.over.approver,
        created: r.over.created,
        until: r.over.until,
        revoked: r.revoked.map(|(t, _)| t),
    }
}
