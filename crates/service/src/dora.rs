//! DORA metrics from what is stored: the deploys, commits and merged requests of the services a
//! report asks for, and the incidents (with what each says caused it), read into a
//! `headroom_delivery::DeliveryHistory` and reported by `headroom_delivery::dora::report`.
//!
//! Bounds: a range of at most [`MAX_RANGE`]; deploys from [`LOOKBACK`] before it (the deploy
//! before the first in range tells what that one shipped), at most the store's cap per
//! service; commits and merged requests from [`CHANGE_LOOKBACK`] before it (a change's first
//! commit may be older than its deploy's predecessor); incidents opened from the attribution
//! window before the range until now, at most [`MAX_INCIDENTS`].
//!
//! Ids: a stored deploy's id is its `DeployId` as text, an incident's id its number as text.
//! A service's production environment (`production:` in its config) is DORA's production.

use std::collections::BTreeSet;
use std::sync::RwLock;

use headroom_core::{Span, Timestamp};
use headroom_delivery::dora::{DoraFilter, DoraReport, IncidentAttribution, report};
use headroom_delivery::{
    Commit, CommitSha, DeliveryHistory, DeployId, DoraConfig, Environment, IncidentFacts,
    PullRequest, Repository, TimeRange,
};
use headroom_incident::{Cause, Incident};
use headroom_spec::{Config, Service};
use headroom_store::{
    ChangeStore, DEPLOYS_PER_SERVICE, Deploy, DeployFilter, DeployStatus, DeployStore, Store,
};

use crate::clock::Clock;
use crate::error::ServiceError;
use crate::incidents::{Incidents, parse_id, stored_resolved_at};

/// The longest range one report covers.
pub const MAX_RANGE: Span = Span(366 * 24 * 3_600_000);
/// The default range, ending now.
pub const DEFAULT_RANGE: Span = Span(30 * 24 * 3_600_000);
/// Deploys read before the range.
const LOOKBACK: Span = Span(90 * 24 * 3_600_000);
/// Commits and merged requests read before the range.
const CHANGE_LOOKBACK: Span = Span(180 * 24 * 3_600_000);
/// Incidents one report reads.
pub const MAX_INCIDENTS: u32 = 100_000;
/// Deploys shown around one incident.
pub const MAX_INCIDENT_DEPLOYS: u32 = 100;

/// What a report is asked for.
#[derive(Debug, Clone, Default)]
pub struct DoraQuery {
    pub service: Option<String>,
    pub team: Option<String>,
    /// Each service's production environment when absent.
    pub environment: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

/// The services and the `dora` settings of the config in force.
pub struct Dora {
    config: RwLock<(Vec<Service>, headroom_spec::Dora)>,
    store: Store,
    clock: Clock,
}

fn deploy_id(id: i64) -> DeployId {
    DeployId(id.to_string())
}

/// A stored deploy id back from the history's text (every id the history holds came from one).
pub fn stored_deploy_id(id: &DeployId) -> Option<i64> {
    id.0.parse().ok()
}

fn environment(service: Option<&Service>, name: &str) -> Environment {
    if service.is_some_and(|s| s.production == name) {
        Environment::production()
    } else {
        Environment::named(name)
    }
}

fn facts(i: &Incident) -> IncidentFacts {
    let (deploy, version, not_caused_by_change) = match i.cause() {
        Cause::Automatic => (None, None, false),
        Cause::Deploy { deploy } => (Some(DeployId(deploy.clone())), None, false),
        Cause::Version { version } => (None, Some(version.clone()), false),
        Cause::NotCausedByChange => (None, None, true),
    };
    IncidentFacts {
        id: i.id().to_string(),
        services: i.services().to_vec(),
        started: i.started_at(),
        resolved: stored_resolved_at(i),
        deploy,
        version,
        not_caused_by_change,
    }
}

impl Dora {
    pub fn new(config: &Config, store: Store, clock: Clock) -> Dora {
        Dora {
            config: RwLock::new((config.services.clone(), config.dora)),
            store,
            clock,
        }
    }

    pub fn reload(&self, config: &Config) {
        *self.config.write().expect("dora config lock") = (config.services.clone(), config.dora);
    }

    /// The attribution window of the config in force.
    pub fn attribution_window(&self) -> Span {
        self.config
            .read()
            .expect("dora config lock")
            .1
            .attribution_window
    }

    fn services(&self) -> Vec<Service> {
        self.config.read().expect("dora config lock").0.clone()
    }

    /// Refuses a cause naming a deploy no stored deploy is (`Unacceptable`, naming it).
    pub async fn check_cause(&self, cause: &Cause) -> Result<(), ServiceError> {
        if let Cause::Deploy { deploy } = cause {
            let stored = match deploy.parse::<i64>() {
                Ok(id) => self.store.get_deploy(id).await?,
                Err(_) => None,
            };
            if stored.is_none() {
                return Err(ServiceError::Unacceptable(format!(
                    "deploy: no deploy {deploy}"
                )));
            }
        }
        Ok(())
    }

    /// The five metrics for the query; `NotFound` for a service or team no service names,
    /// `Invalid` for a range that is empty, reversed or too long.
    pub async fn report(
        &self,
        incidents: &Incidents,
        q: DoraQuery,
    ) -> Result<DoraReport, ServiceError> {
        let now = (self.clock)();
        let to = q.to.unwrap_or(now);
        let from = q.from.unwrap_or(to - DEFAULT_RANGE);
        if from >= to {
            return Err(ServiceError::Invalid("from: must be before to".into()));
        }
        if to - from > MAX_RANGE {
            return Err(ServiceError::Invalid(format!(
                "from: the range is at most {MAX_RANGE}"
            )));
        }
        let services = self.services();
        if let Some(s) = &q.service
            && !services.iter().any(|x| &x.name == s)
        {
            return Err(ServiceError::NotFound(format!("no service {s:?}")));
        }
        if let Some(t) = &q.team
            && !services.iter().any(|x| x.team.as_ref() == Some(t))
        {
            return Err(ServiceError::NotFound(format!("no service of team {t:?}")));
        }
        let scope: Vec<&Service> = services
            .iter()
            .filter(|s| q.service.as_ref().is_none_or(|n| &s.name == n))
            .filter(|s| q.team.is_none() || s.team == q.team)
            .collect();
        let history = self.history(incidents, &scope, from, to, now).await?;
        let environment = match &q.environment {
            None => Environment::production(),
            Some(name) => environment(scope.first().copied(), name),
        };
        let range = TimeRange::new(from, to).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        Ok(report(
            &history,
            range,
            &DoraFilter {
                environment,
                service: q.service,
                team: q.team,
            },
        ))
    }

    /// The incidents counted against deploy `d` or naming it, with how each was attributed.
    pub async fn incidents_of(
        &self,
        incidents: &Incidents,
        d: &Deploy,
    ) -> Result<Vec<IncidentAttribution>, ServiceError> {
        let services = self.services();
        let scope: Vec<&Service> = services
            .iter()
            .filter(|s| s.name == d.deploy.service)
            .collect();
        let now = (self.clock)();
        let at = d.deploy.finished;
        let history = self
            .history(incidents, &scope, at, at.max(now), now)
            .await?;
        let id = deploy_id(d.id);
        let mut out = Vec::new();
        for (facts, attribution) in history.attributions() {
            let named = facts.deploy.as_ref() == Some(&id);
            if attribution.deploy() == Some(&id) || named {
                out.push(IncidentAttribution {
                    incident: facts.id.clone(),
                    started: facts.started,
                    resolved: facts.resolved,
                    attribution,
                });
            }
        }
        out.sort_by_key(|a| (a.started, parse_id(&a.incident).unwrap_or(0)));
        Ok(out)
    }

    /// Deploys of the incident's services that finished from the attribution window before it
    /// started until it was resolved (or now), newest first.
    pub async fn deploys_around(&self, incident: &Incident) -> Result<Vec<Deploy>, ServiceError> {
        let from = incident.started_at() - self.attribution_window();
        let to = stored_resolved_at(incident).unwrap_or_else(|| (self.clock)()) + Span(1);
        let mut out = Vec::new();
        for service in incident.services() {
            out.extend(
                self.store
                    .list_deploys(&DeployFilter {
                        service: Some(service.clone()),
                        environment: None,
                        from: Some(from),
                        to: Some(to),
                        limit: MAX_INCIDENT_DEPLOYS,
                    })
                    .await?,
            );
        }
        out.sort_by_key(|d| std::cmp::Reverse((d.deploy.finished, d.id)));
        out.truncate(MAX_INCIDENT_DEPLOYS as usize);
        Ok(out)
    }

    /// The history of `scope`'s services around `[from, to)`.
    async fn history(
        &self,
        incidents: &Incidents,
        scope: &[&Service],
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Result<DeliveryHistory, ServiceError> {
        let settings = self.config.read().expect("dora config lock").1;
        let mut history = DeliveryHistory::new(DoraConfig {
            attribution_window: settings.attribution_window,
            ..DoraConfig::default()
        })
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let invalid = |e: headroom_delivery::DeliveryError| ServiceError::Internal(e.to_string());
        let mut repositories = BTreeSet::new();
        for s in scope {
            history
                .record_service(headroom_delivery::Service {
                    name: s.name.clone(),
                    team: s.team.clone(),
                    repositories: s
                        .repositories
                        .iter()
                        .map(|r| Repository {
                            name: r.name.to_ascii_lowercase(),
                            path: r.path.clone(),
                        })
                        .collect(),
                })
                .map_err(invalid)?;
            repositories.extend(s.repositories.iter().map(|r| r.name.clone()));
            let deploys = self
                .store
                .list_deploys(&DeployFilter {
                    service: Some(s.name.clone()),
                    environment: None,
                    from: Some(from - LOOKBACK),
                    to: Some(to.max(now) + Span(1)),
                    limit: DEPLOYS_PER_SERVICE,
                })
                .await?;
            for d in &deploys {
                record_deploy(&mut history, Some(s), d);
            }
        }
        for repository in &repositories {
            for c in self
                .store
                .list_commits(repository, from - CHANGE_LOOKBACK, to)
                .await?
            {
                let (Ok(sha), Ok(parents)) = (
                    CommitSha::parse(&c.sha),
                    c.parents.iter().map(|p| CommitSha::parse(p)).collect(),
                ) else {
                    continue;
                };
                // A commit the history refuses (its times disagree) is left out, not fatal.
                let _ = history.learn_commit(Commit {
                    sha,
                    parents,
                    authored: c.authored,
                    committed: c.committed,
                    files: c.files,
                });
            }
            for p in self
                .store
                .list_pull_requests(repository, from - CHANGE_LOOKBACK, to)
                .await?
            {
                let Ok(head) = CommitSha::parse(&p.head_sha) else {
                    continue;
                };
                let _ = history.record_pull_request(PullRequest {
                    repository: p.repository.to_ascii_lowercase(),
                    number: p.number.max(0) as u64,
                    opened: p.opened,
                    merged: Some(p.merged),
                    merge_sha: p
                        .merge_sha
                        .as_deref()
                        .and_then(|s| CommitSha::parse(s).ok()),
                    commits: vec![head],
                });
            }
        }
        let names: BTreeSet<&str> = scope.iter().map(|s| s.name.as_str()).collect();
        let all = self.services();
        let opened = incidents
            .opened_between(
                from - settings.attribution_window,
                now.max(to) + Span(1),
                MAX_INCIDENTS,
            )
            .await?;
        for i in &opened {
            let f = facts(i);
            let affects = f.services.iter().any(|s| names.contains(s.as_str()));
            // A deploy named outside the deploys read: an older one of the scope's, or another
            // service's that an incident of the scope names (counted nowhere here, but the
            // incident's attribution is still explicit, not unresolved).
            if let Some(named) = f.deploy.as_ref()
                && history.deploy(named).is_none()
                && let Some(id) = stored_deploy_id(named)
                && let Some(d) = self.store.get_deploy(id).await?
                && (affects || names.contains(d.deploy.service.as_str()))
            {
                let service = all.iter().find(|s| s.name == d.deploy.service);
                record_deploy(&mut history, service, &d);
            }
            let names_scope = f.deploy.as_ref().and_then(|d| history.deploy(d)).is_some();
            if affects || names_scope {
                let _ = history.record_incident(f);
            }
        }
        Ok(history)
    }
}

fn record_deploy(history: &mut DeliveryHistory, service: Option<&Service>, d: &Deploy) {
    let x = &d.deploy;
    let Ok(sha) = CommitSha::parse(&x.sha) else {
        return;
    };
    let changes = x.changes.as_ref().map(|cs| {
        cs.iter()
            .filter_map(|c| CommitSha::parse(c).ok())
            .collect::<Vec<_>>()
    });
    // A deploy the history refuses (empty fields the store would not hold) is left out.
    let _ = history.record_deploy(headroom_delivery::Deploy {
        id: deploy_id(d.id),
        service: x.service.clone(),
        environment: environment(service, &x.environment),
        version: x.version.clone(),
        sha,
        started: x.started.unwrap_or(x.finished),
        finished: x.finished,
        status: match x.status {
            DeployStatus::Success => headroom_delivery::DeployStatus::Success,
            DeployStatus::Failure => headroom_delivery::DeployStatus::Failure,
            DeployStatus::Cancelled => headroom_delivery::DeployStatus::Cancelled,
        },
        labels: x.labels.clone(),
        changes,
    });
}
