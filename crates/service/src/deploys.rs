//! Deploys and changes in: verified GitHub and GitLab hooks, and deploys reported by any CI,
//! stored for the services whose repositories they come from.
//!
//! A hook's repository maps to every service naming it under `repositories`. What is kept:
//! - pushes: their commits (once per repository), when a service naming the repository covers
//!   one of the commit's files (a monorepo `path`), or the commit lists no files;
//! - merged pull/merge requests;
//! - GitHub `deployment_status` success (a `success` deploy) or failure/error (`failure`), in
//!   the service's production environment when the deployment says `production_environment`,
//!   else in the status's environment; one deploy per deployment, later statuses update it;
//! - a completed GitHub `workflow_run` of a workflow the service names in `deploy_workflows`
//!   (by name, path, or file name), as a deploy to its production environment;
//! - a GitLab Deployment hook that finished (success, failed, canceled), its commit taken from
//!   `commit_url` or resolved from the pushed commits stored for the project (a short sha two
//!   stored commits share is not guessed).
//!
//! A GitHub issue carrying one of `hooks.github.incident_labels` is an incident of the services
//! naming its repository (through `incidents`): opened once per issue, resolved when it closes,
//! reopened when it reopens.
//!
//! Everything else is `Ignored` with its reason, not refused: it was delivered correctly. A
//! GitLab pipeline is ignored even when its jobs name environments, because GitLab sends a
//! Deployment hook for each of those jobs, which is what is recorded.
//!
//! PagerDuty change events (authenticated by an integration's routing key, as alert events are)
//! become change markers of the integration's service.
//!
//! Credentials are checked here, on the raw body, before it is parsed. A forge without a
//! secret in `hooks` refuses every delivery ([`HookRefused::NotConfigured`]): a hook endpoint
//! never takes anonymous writes.

use std::sync::{Arc, RwLock};

use headroom_core::{Span, Timestamp};
use headroom_incident::{Declaration, Incident, IncidentStatus, Severity};
use headroom_ingest::hook::{HookError, Sha, SignatureError};
use headroom_ingest::pagerduty::ChangeEvent;
use headroom_ingest::{github, gitlab};
use headroom_spec::{Config, Hooks, InboundIntegration, Service};
use headroom_store::{
    CHANGE_MARKERS_PER_SERVICE, COMMITS_PER_REPOSITORY, ChangeMarker, ChangeStore, CommitRecord,
    DEPLOYS_PER_SERVICE, Deploy, DeployFilter, DeploySource, DeployStatus, DeployStore, GateStore,
    NewChangeMarker, NewDeploy, PULL_REQUESTS_PER_REPOSITORY, PullRequestRecord, Store,
};
use rand::Rng;

use crate::clock::Clock;
use crate::error::ServiceError;
use crate::incidents::{self, Incidents};

/// Who changes an incident opened from a GitHub issue.
const ISSUE_ACTOR: &str = "github";

/// Labels a deploy may carry.
pub const MAX_DEPLOY_LABELS: usize = 32;
/// Bytes of one label, version or external id.
pub const MAX_DEPLOY_TEXT_BYTES: usize = 256;
/// Commits a deploy may list as its changes, and commits one request may carry.
pub const MAX_DEPLOY_COMMITS: usize = 10_000;
/// Deploys one list answers with.
pub const MAX_DEPLOYS_LISTED: u32 = 1_000;
/// How long before a deploy starts a gate's allow still counts as the decision it passed.
pub const GATE_LINK_WINDOW: Span = Span::hours(6);

/// Why a hook delivery was not taken.
#[derive(Debug, thiserror::Error)]
pub enum HookRefused {
    /// No secret for this forge in `hooks`.
    #[error("no {0} webhook secret is configured (hooks.{0} in the config)")]
    NotConfigured(&'static str),
    /// The credential is missing or wrong (the error names the header, never its value).
    #[error(transparent)]
    Credential(#[from] SignatureError),
    /// The body is not a hook headroom reads.
    #[error(transparent)]
    Malformed(#[from] HookError),
    #[error(transparent)]
    Failed(#[from] ServiceError),
}

/// What a delivery recorded, or why nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookOutcome {
    /// Ids of the deploys recorded (new or updated).
    pub deploys: Vec<i64>,
    /// Commits newly stored.
    pub commits: u64,
    /// Merged requests stored.
    pub pull_requests: u64,
    /// Incidents opened or changed (GitHub issues labelled as incidents).
    pub incidents: Vec<i64>,
    /// Those of them this delivery opened, whose declaration fires actions.
    pub opened: Vec<Incident>,
    /// Set when nothing was kept, and why.
    pub ignored: Option<String>,
}

impl HookOutcome {
    fn ignored(reason: impl Into<String>) -> HookOutcome {
        HookOutcome {
            ignored: Some(reason.into()),
            ..HookOutcome::default()
        }
    }
}

/// GitLab's credential headers, each `None` when absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct GitlabCredentials<'a> {
    pub token: Option<&'a str>,
    pub signed: gitlab::SignedHeaders<'a>,
}

/// A deploy reported through the API or the CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedDeploy {
    pub service: String,
    /// The service's production environment when absent.
    pub environment: Option<String>,
    pub version: Option<String>,
    pub sha: String,
    pub started: Option<Timestamp>,
    /// `now` when absent.
    pub finished: Option<Timestamp>,
    pub status: DeployStatus,
    pub labels: Vec<String>,
    /// The commits it ships, when the sender knows them.
    pub changes: Option<Vec<String>>,
    /// The commits themselves (the CLI reads them from the repository), stored for the
    /// service's first repository.
    pub commits: Vec<ReportedCommit>,
    pub source: DeploySource,
    /// The sender's key: the same key again updates the same deploy.
    pub idempotency_key: Option<String>,
    /// The release gate's decision it passed; the latest allow before it when absent.
    pub gate_decision_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedCommit {
    pub sha: String,
    pub parents: Vec<String>,
    pub authored: Timestamp,
    pub committed: Timestamp,
    pub files: Option<Vec<String>>,
}

/// The services' repositories and the hook credentials of the config in force.
pub struct Deploys {
    services: RwLock<Vec<Service>>,
    hooks: RwLock<Hooks>,
    store: Store,
    clock: Clock,
    /// Where GitHub issues labelled as incidents go.
    incidents: Arc<Incidents>,
}

impl Deploys {
    pub fn new(config: &Config, store: Store, clock: Clock, incidents: Arc<Incidents>) -> Deploys {
        Deploys {
            services: RwLock::new(config.services.clone()),
            hooks: RwLock::new(config.hooks.clone()),
            store,
            clock,
            incidents,
        }
    }

    pub fn reload(&self, config: &Config) {
        *self.services.write().expect("services lock") = config.services.clone();
        *self.hooks.write().expect("hooks lock") = config.hooks.clone();
    }

    /// Whether `POST /hooks/github` may take deliveries: asked before the body is read.
    pub fn accepts_github(&self) -> bool {
        self.hooks.read().expect("hooks lock").github.is_some()
    }

    pub fn accepts_gitlab(&self) -> bool {
        self.hooks.read().expect("hooks lock").gitlab.is_some()
    }

    /// The services naming `repository`.
    fn services_of(&self, repository: &str) -> Vec<Service> {
        self.services
            .read()
            .expect("services lock")
            .iter()
            .filter(|s| s.repositories.iter().any(|r| r.is(repository)))
            .cloned()
            .collect()
    }

    /// Verifies `X-Hub-Signature-256`, then reads and records the delivery.
    pub async fn github(
        &self,
        event: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<HookOutcome, HookRefused> {
        let secret = match &self.hooks.read().expect("hooks lock").github {
            Some(g) => g.secret.clone(),
            None => return Err(HookRefused::NotConfigured("github")),
        };
        github::verify_signature(secret.as_bytes(), body, signature)?;
        let event = event.ok_or(HookError::EventMissing {
            header: github::EVENT_HEADER,
        })?;
        let hook = github::parse(event, body)?;
        Ok(self.github_hook(hook).await?)
    }

    /// Verifies `X-Gitlab-Token` and, when a signing token is configured, `webhook-signature`;
    /// then reads and records the delivery.
    pub async fn gitlab(
        &self,
        event: Option<&str>,
        credentials: GitlabCredentials<'_>,
        body: &[u8],
    ) -> Result<HookOutcome, HookRefused> {
        let hook = match &self.hooks.read().expect("hooks lock").gitlab {
            Some(g) => g.clone(),
            None => return Err(HookRefused::NotConfigured("gitlab")),
        };
        gitlab::verify_token(&hook.token, credentials.token)?;
        if let Some(key) = &hook.signing_key {
            gitlab::verify_signature(key, credentials.signed, body, (self.clock)())?;
        }
        let event = event.ok_or(HookError::EventMissing {
            header: gitlab::EVENT_HEADER,
        })?;
        let hook = gitlab::parse(event, body)?;
        Ok(self.gitlab_hook(hook).await?)
    }

    /// Records what a verified GitHub delivery says.
    pub async fn github_hook(&self, hook: github::Hook) -> Result<HookOutcome, ServiceError> {
        let now = (self.clock)();
        match hook {
            github::Hook::Push(p) => {
                let commits = p
                    .commits
                    .iter()
                    .map(|c| CommitRecord {
                        repository: p.repository.clone(),
                        sha: c.id.to_string(),
                        parents: c
                            .parents
                            .as_ref()
                            .map(|ps| ps.iter().map(Sha::to_string).collect())
                            .unwrap_or_default(),
                        authored: c.authored_at.unwrap_or(c.timestamp),
                        committed: c.committed_at.unwrap_or(c.timestamp),
                        files: Some(files(&c.added, &c.modified, &c.removed)),
                    })
                    .collect();
                self.commits(&p.repository, commits).await
            }
            github::Hook::MergedPullRequest(pr) => {
                self.pull_request(PullRequestRecord {
                    repository: pr.repository.clone(),
                    number: pr.number as i64,
                    opened: pr.opened_at,
                    merged: pr.merged_at,
                    merge_sha: Some(pr.merge_commit_sha.to_string()),
                    head_sha: pr.head_sha.to_string(),
                })
                .await
            }
            github::Hook::Deployment(d) => Ok(HookOutcome::ignored(format!(
                "deployment {} created: it is recorded when a deployment_status says how it ended",
                d.id
            ))),
            github::Hook::DeploymentStatus(s) => {
                use github::DeploymentState as S;
                let status = match s.state {
                    S::Success => DeployStatus::Success,
                    S::Failure | S::Error => DeployStatus::Failure,
                    other => {
                        return Ok(HookOutcome::ignored(format!(
                            "deployment status {} is not an outcome",
                            other.as_str()
                        )));
                    }
                };
                let d = &s.deployment;
                let services = self.services_of(&d.repository);
                if services.is_empty() {
                    return Ok(no_service(&d.repository));
                }
                let mut out = HookOutcome::default();
                for svc in services {
                    let environment = if d.production_environment == Some(true) {
                        svc.production.clone()
                    } else {
                        s.environment.clone()
                    };
                    let deploy = NewDeploy {
                        service: svc.name.clone(),
                        environment,
                        version: None,
                        sha: d.sha.to_string(),
                        started: Some(d.created_at.min(s.updated_at)),
                        finished: s.updated_at,
                        status,
                        labels: Vec::new(),
                        changes: None,
                        source: DeploySource::Github,
                        external_id: format!("deployment:{}", d.id),
                    };
                    out.deploys.push(self.deploy(&deploy, None, now).await?);
                }
                Ok(out)
            }
            github::Hook::WorkflowRun(run) => {
                use github::RunConclusion as C;
                let status = match run.conclusion {
                    C::Success => DeployStatus::Success,
                    C::Failure | C::TimedOut | C::StartupFailure => DeployStatus::Failure,
                    C::Cancelled => DeployStatus::Cancelled,
                    other => {
                        return Ok(HookOutcome::ignored(format!(
                            "workflow run concluded {}: not a deploy outcome",
                            other.as_str()
                        )));
                    }
                };
                let services: Vec<Service> = self
                    .services_of(&run.repository)
                    .into_iter()
                    .filter(|s| names_workflow(s, &run.name, &run.path))
                    .collect();
                if services.is_empty() {
                    return Ok(HookOutcome::ignored(format!(
                        "no service names workflow {:?} ({}) of {} in deploy_workflows",
                        run.name, run.path, run.repository
                    )));
                }
                let mut out = HookOutcome::default();
                for svc in services {
                    let deploy = NewDeploy {
                        service: svc.name.clone(),
                        environment: svc.production.clone(),
                        version: None,
                        sha: run.head_sha.to_string(),
                        started: Some(run.started_at.min(run.updated_at)),
                        finished: run.updated_at,
                        status,
                        labels: Vec::new(),
                        changes: None,
                        source: DeploySource::Github,
                        // A re-run is another attempt at deploying: its own deploy.
                        external_id: format!("workflow-run:{}:{}", run.id, run.run_attempt),
                    };
                    out.deploys.push(self.deploy(&deploy, None, now).await?);
                }
                Ok(out)
            }
            github::Hook::Issue(i) => self.issue(i, now).await,
            github::Hook::Ignored { reason } => Ok(HookOutcome::ignored(reason)),
        }
    }

    /// An issue carrying one of `hooks.github.incident_labels` is an incident of the services
    /// naming its repository: opened once per issue (by its repository and number, so a
    /// redelivery or a later event finds it), resolved when the issue closes, reopened when it
    /// reopens. Its impact starts when the issue was created.
    async fn issue(
        &self,
        i: github::IssueEvent,
        now: Timestamp,
    ) -> Result<HookOutcome, ServiceError> {
        let labels = match &self.hooks.read().expect("hooks lock").github {
            Some(g) => g.incident_labels.clone(),
            None => Vec::new(),
        };
        let marked = i
            .labels
            .iter()
            .any(|l| labels.iter().any(|m| m.eq_ignore_ascii_case(l)));
        if !marked {
            return Ok(HookOutcome::ignored(format!(
                "issue {}#{} carries none of the incident labels {labels:?}",
                i.repository, i.number
            )));
        }
        let services = self.services_of(&i.repository);
        if services.is_empty() {
            return Ok(no_service(&i.repository));
        }
        let closed = match i.action {
            github::IssueAction::Closed => true,
            github::IssueAction::Reopened => false,
            _ => i.closed_at.is_some(),
        };
        let closed_at = i.closed_at.unwrap_or(now).min(now);
        let reference = format!("github:{}#{}", i.repository.to_ascii_lowercase(), i.number);
        let id = match self.incidents.by_ref(&reference).await? {
            Some(id) => id,
            None => {
                let title = if i.title.trim().is_empty() {
                    format!("{}#{}", i.repository, i.number)
                } else {
                    i.title.clone()
                };
                let severity = i
                    .labels
                    .iter()
                    .find_map(|l| l.parse::<Severity>().ok())
                    .unwrap_or(Severity::Sev3);
                let opened = i.created_at.min(now);
                let mut incident = Incident::declare(
                    Declaration {
                        id: "new".into(),
                        title,
                        severity,
                        started_at: Some(opened),
                        services: services.into_iter().map(|s| s.name).collect(),
                        slos: Vec::new(),
                    },
                    ISSUE_ACTOR,
                    opened,
                )
                .map_err(|e| ServiceError::Invalid(format!("issue {reference}: {e}")))?;
                incident
                    .note(
                        ISSUE_ACTOR,
                        opened,
                        &format!("Opened from GitHub issue {}#{}", i.repository, i.number),
                    )
                    .map_err(|e| ServiceError::Invalid(e.to_string()))?;
                if closed {
                    incident
                        .set_status(ISSUE_ACTOR, closed_at.max(opened), IncidentStatus::Resolved)
                        .map_err(|e| ServiceError::Invalid(e.to_string()))?;
                }
                let (stored, created) = self.incidents.declare_once(&reference, &incident).await?;
                let id = incidents::parse_id(stored.incident.id())?;
                if created {
                    return Ok(HookOutcome {
                        incidents: vec![id],
                        opened: vec![stored.incident],
                        ..HookOutcome::default()
                    });
                }
                id
            }
        };
        let current = self.incidents.get(id).await?.incident;
        let target = match (closed, current.is_open()) {
            (true, true) => Some(IncidentStatus::Resolved),
            (false, false) => Some(IncidentStatus::Investigating),
            _ => None,
        };
        if let Some(to) = target {
            let at = if closed { closed_at } else { now };
            self.incidents
                .modify(id, |incident, now| {
                    // A close dated before the incident's last move happened after it here.
                    incident
                        .set_status(ISSUE_ACTOR, at, to)
                        .or_else(|_| incident.set_status(ISSUE_ACTOR, now, to))
                })
                .await?;
        }
        Ok(HookOutcome {
            incidents: vec![id],
            ..HookOutcome::default()
        })
    }

    /// Records what a verified GitLab delivery says.
    pub async fn gitlab_hook(&self, hook: gitlab::Hook) -> Result<HookOutcome, ServiceError> {
        let now = (self.clock)();
        match hook {
            gitlab::Hook::Push(p) => {
                let commits = p
                    .commits
                    .iter()
                    .map(|c| CommitRecord {
                        repository: p.project.clone(),
                        sha: c.id.to_string(),
                        parents: Vec::new(),
                        authored: c.timestamp,
                        committed: c.timestamp,
                        files: Some(files(&c.added, &c.modified, &c.removed)),
                    })
                    .collect();
                self.commits(&p.project, commits).await
            }
            gitlab::Hook::MergedMergeRequest(mr) => {
                let Some(head) = mr.last_commit.as_ref().or(mr.merge_commit_sha.as_ref()) else {
                    return Ok(HookOutcome::ignored(format!(
                        "merge request !{} of {} names no commit",
                        mr.iid, mr.project
                    )));
                };
                self.pull_request(PullRequestRecord {
                    repository: mr.project.clone(),
                    number: mr.iid as i64,
                    opened: mr.opened_at.min(mr.merged_at),
                    merged: mr.merged_at,
                    merge_sha: mr.merge_commit_sha.as_ref().map(Sha::to_string),
                    head_sha: head.to_string(),
                })
                .await
            }
            gitlab::Hook::Pipeline(p) => Ok(HookOutcome::ignored(if p.environments.is_empty() {
                format!("pipeline {} deploys to no environment", p.id)
            } else {
                format!(
                    "pipeline {}: its environment jobs are recorded from their Deployment hooks",
                    p.id
                )
            })),
            gitlab::Hook::Deployment(d) => {
                use gitlab::DeploymentStatus as S;
                let status = match d.status {
                    S::Success => DeployStatus::Success,
                    S::Failed => DeployStatus::Failure,
                    S::Canceled => DeployStatus::Cancelled,
                    other => {
                        return Ok(HookOutcome::ignored(format!(
                            "deployment status {} is not an outcome",
                            other.as_str()
                        )));
                    }
                };
                let services = self.services_of(&d.project);
                if services.is_empty() {
                    return Ok(no_service(&d.project));
                }
                let sha = match &d.sha {
                    Some(s) => Some(s.clone()),
                    None if d.short_sha.chars().all(|c| c.is_ascii_hexdigit())
                        && !d.short_sha.is_empty() =>
                    {
                        let known: Vec<Sha> = self
                            .store
                            .commits_by_prefix(&d.project, &d.short_sha, 2)
                            .await?
                            .into_iter()
                            .filter_map(|c| Sha::parse(&c.sha).ok())
                            .collect();
                        d.resolve_sha(&known)
                    }
                    None => None,
                };
                let Some(sha) = sha else {
                    return Ok(HookOutcome::ignored(format!(
                        "deployment {}: commit {} is not one pushed commit of {} headroom knows",
                        d.deployment_id, d.short_sha, d.project
                    )));
                };
                let mut out = HookOutcome::default();
                for svc in services {
                    let environment = if d.environment_tier.as_deref() == Some("production") {
                        svc.production.clone()
                    } else {
                        d.environment.clone()
                    };
                    let deploy = NewDeploy {
                        service: svc.name.clone(),
                        environment,
                        version: None,
                        sha: sha.to_string(),
                        started: None,
                        finished: d.status_changed_at,
                        status,
                        labels: Vec::new(),
                        changes: None,
                        source: DeploySource::Gitlab,
                        external_id: format!("deployment:{}", d.deployment_id),
                    };
                    out.deploys.push(self.deploy(&deploy, None, now).await?);
                }
                Ok(out)
            }
            gitlab::Hook::Ignored { reason } => Ok(HookOutcome::ignored(reason)),
        }
    }

    async fn commits(
        &self,
        repository: &str,
        commits: Vec<CommitRecord>,
    ) -> Result<HookOutcome, ServiceError> {
        let services = self.services_of(repository);
        if services.is_empty() {
            return Ok(no_service(repository));
        }
        if commits.is_empty() {
            return Ok(HookOutcome::ignored(format!(
                "push to {repository} carries no commits"
            )));
        }
        let kept: Vec<CommitRecord> = commits
            .into_iter()
            .filter(|c| covered(&services, repository, c))
            .collect();
        if kept.is_empty() {
            return Ok(HookOutcome::ignored(format!(
                "no pushed commit touches a path a service of {repository} names"
            )));
        }
        let new = self
            .store
            .upsert_commits(&kept, COMMITS_PER_REPOSITORY)
            .await?;
        if new == 0 {
            return Ok(HookOutcome::ignored(format!(
                "every pushed commit of {repository} was already stored"
            )));
        }
        Ok(HookOutcome {
            commits: new,
            ..HookOutcome::default()
        })
    }

    async fn pull_request(&self, pr: PullRequestRecord) -> Result<HookOutcome, ServiceError> {
        if self.services_of(&pr.repository).is_empty() {
            return Ok(no_service(&pr.repository));
        }
        self.store
            .upsert_pull_request(&pr, PULL_REQUESTS_PER_REPOSITORY)
            .await?;
        Ok(HookOutcome {
            pull_requests: 1,
            ..HookOutcome::default()
        })
    }

    /// Stores the deploy (every path comes here) and links the gate decision it passed:
    /// `gate_decision` when named (checked before), else the latest allow shortly before it.
    async fn deploy(
        &self,
        d: &NewDeploy,
        gate_decision: Option<i64>,
        now: Timestamp,
    ) -> Result<i64, ServiceError> {
        let id = self
            .store
            .record_deploy(d, now, DEPLOYS_PER_SERVICE)
            .await?
            .id();
        self.store
            .link_gate_decision(id, gate_decision, GATE_LINK_WINDOW)
            .await?;
        Ok(id)
    }

    /// Records a deploy reported by a CI job (API or CLI). Refused whole, naming the field,
    /// when the service or environment is not configured or a value is malformed.
    pub async fn report(&self, r: ReportedDeploy) -> Result<Deploy, ServiceError> {
        let now = (self.clock)();
        let service = self
            .services
            .read()
            .expect("services lock")
            .iter()
            .find(|s| s.name == r.service)
            .cloned()
            .ok_or_else(|| {
                ServiceError::Unacceptable(format!(
                    "service: {:?} is not a service of the config",
                    r.service
                ))
            })?;
        let environment = r.environment.unwrap_or_else(|| service.production.clone());
        if !service.environments.contains(&environment) {
            return Err(ServiceError::Unacceptable(format!(
                "environment: {environment:?} is not one of service {}'s environments {:?}",
                service.name, service.environments
            )));
        }
        let sha = full_sha("sha", &r.sha)?;
        let finished = r.finished.unwrap_or(now);
        if let Some(s) = r.started
            && s > finished
        {
            return Err(ServiceError::Invalid(format!(
                "started: {s} is after finished {finished}"
            )));
        }
        if r.labels.len() > MAX_DEPLOY_LABELS {
            return Err(ServiceError::TooLarge(format!(
                "labels: {} labels, at most {MAX_DEPLOY_LABELS}",
                r.labels.len()
            )));
        }
        for (i, l) in r.labels.iter().enumerate() {
            text(&format!("labels[{i}]"), l)?;
        }
        if let Some(v) = &r.version {
            text("version", v)?;
        }
        if let Some(k) = &r.idempotency_key {
            text("idempotency key", k)?;
        }
        let changes = match &r.changes {
            None => None,
            Some(c) if c.len() > MAX_DEPLOY_COMMITS => {
                return Err(ServiceError::TooLarge(format!(
                    "changes: {} commits, at most {MAX_DEPLOY_COMMITS}",
                    c.len()
                )));
            }
            Some(c) => Some(
                c.iter()
                    .enumerate()
                    .map(|(i, s)| full_sha(&format!("changes[{i}]"), s))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        if r.commits.len() > MAX_DEPLOY_COMMITS {
            return Err(ServiceError::TooLarge(format!(
                "commits: {} commits, at most {MAX_DEPLOY_COMMITS}",
                r.commits.len()
            )));
        }
        let repository = service.repositories.first().map(|r| r.name.clone());
        if !r.commits.is_empty() && repository.is_none() {
            return Err(ServiceError::Unacceptable(format!(
                "commits: service {} names no repository to keep them under",
                service.name
            )));
        }
        let mut commits = Vec::with_capacity(r.commits.len());
        for (i, c) in r.commits.iter().enumerate() {
            commits.push(CommitRecord {
                repository: repository.clone().unwrap_or_default(),
                sha: full_sha(&format!("commits[{i}].sha"), &c.sha)?,
                parents: c
                    .parents
                    .iter()
                    .enumerate()
                    .map(|(j, p)| full_sha(&format!("commits[{i}].parents[{j}]"), p))
                    .collect::<Result<_, _>>()?,
                authored: c.authored,
                committed: c.committed,
                files: c.files.clone(),
            });
        }
        if let Some(id) = r.gate_decision_id {
            // Checked before anything is stored: a refused report stores nothing.
            let passed = self.store.get_gate_decision(id).await?.is_some_and(|g| {
                let g = g.decision;
                g.allowed && g.service == service.name && g.environment == environment
            });
            if !passed {
                return Err(ServiceError::Unacceptable(format!(
                    "gate_decision_id: {id} is not an allow decision for {} in {environment}",
                    service.name
                )));
            }
        }
        let external_id = r.idempotency_key.clone().unwrap_or_else(|| {
            let b: [u8; 16] = rand::rng().random();
            hex::encode(b)
        });
        // Commits first: a deploy whose commits failed to store would read as shipping nothing.
        if !commits.is_empty() {
            self.store
                .upsert_commits(&commits, COMMITS_PER_REPOSITORY)
                .await?;
        }
        let deploy = NewDeploy {
            service: service.name.clone(),
            environment,
            version: r.version,
            sha,
            started: r.started,
            finished,
            status: r.status,
            labels: r.labels,
            changes,
            source: r.source,
            external_id,
        };
        let id = self.deploy(&deploy, r.gate_decision_id, now).await?;
        self.get(id).await
    }

    /// Records a PagerDuty change event from `integration` as a change marker of its service
    /// (the integration's name when it names none); at `now` when the event has no time.
    pub async fn change_event(
        &self,
        integration: &InboundIntegration,
        event: &ChangeEvent,
    ) -> Result<i64, ServiceError> {
        let now = (self.clock)();
        let details = match &event.custom_details {
            None => None,
            Some(v) => {
                let text = v.to_string();
                if text.len() > crate::limits::MAX_CUSTOM_DETAILS_BYTES {
                    return Err(ServiceError::TooLarge(format!(
                        "payload.custom_details: {} bytes, at most {}",
                        text.len(),
                        crate::limits::MAX_CUSTOM_DETAILS_BYTES
                    )));
                }
                Some(text)
            }
        };
        let links: Vec<serde_json::Value> = event
            .links
            .iter()
            .map(|(href, text)| serde_json::json!({"href": href, "text": text}))
            .collect();
        let marker = NewChangeMarker {
            service: integration
                .service
                .clone()
                .unwrap_or_else(|| integration.name.clone()),
            summary: event.summary.clone(),
            source: event.source.clone(),
            at: event.timestamp.as_ref().map_or(now, Timestamp::from_chrono),
            custom_details_json: details,
            links_json: serde_json::Value::Array(links).to_string(),
        };
        Ok(self
            .store
            .record_change_marker(&marker, now, CHANGE_MARKERS_PER_SERVICE)
            .await?)
    }

    pub async fn get(&self, id: i64) -> Result<Deploy, ServiceError> {
        self.store
            .get_deploy(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("deploy {id} not found")))
    }

    /// Newest first; at most [`MAX_DEPLOYS_LISTED`].
    pub async fn list(&self, mut filter: DeployFilter) -> Result<Vec<Deploy>, ServiceError> {
        if let (Some(f), Some(t)) = (filter.from, filter.to)
            && f > t
        {
            return Err(ServiceError::Invalid(format!("from: {f} is after to {t}")));
        }
        filter.limit = filter.limit.clamp(1, MAX_DEPLOYS_LISTED);
        Ok(self.store.list_deploys(&filter).await?)
    }

    /// A service's change markers in `[from, to)`, newest first; at most
    /// [`MAX_DEPLOYS_LISTED`].
    pub async fn change_markers(
        &self,
        service: &str,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> Result<Vec<ChangeMarker>, ServiceError> {
        let limit = limit.clamp(1, MAX_DEPLOYS_LISTED);
        Ok(self
            .store
            .list_change_markers(Some(service), from, to, limit)
            .await?)
    }
}

fn no_service(repository: &str) -> HookOutcome {
    HookOutcome::ignored(format!(
        "no service names repository {repository} under repositories"
    ))
}

fn files(added: &[String], modified: &[String], removed: &[String]) -> Vec<String> {
    let mut all: Vec<String> = added
        .iter()
        .chain(modified)
        .chain(removed)
        .cloned()
        .collect();
    all.sort();
    all.dedup();
    all
}

/// Whether some service of the repository covers the commit: any file under its path, or
/// no path, or no file list to tell.
fn covered(services: &[Service], repository: &str, c: &CommitRecord) -> bool {
    services.iter().any(|s| {
        s.repositories
            .iter()
            .filter(|r| r.is(repository))
            .any(|r| match &c.files {
                None => true,
                Some(files) => r.path.is_none() || files.iter().any(|f| r.covers(f)),
            })
    })
}

/// A workflow is named by its name, its path (`.github/workflows/deploy.yml`) or file name.
fn names_workflow(s: &Service, name: &str, path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    s.deploy_workflows
        .iter()
        .any(|w| w == name || w == path || w == file)
}

fn full_sha(field: &str, text: &str) -> Result<String, ServiceError> {
    Sha::parse(text)
        .map(|s| s.to_string())
        .map_err(|e| ServiceError::Invalid(format!("{field}: {e}")))
}

fn text(field: &str, value: &str) -> Result<(), ServiceError> {
    if value.trim().is_empty() {
        Err(ServiceError::Invalid(format!("{field} is empty")))
    } else if value.len() > MAX_DEPLOY_TEXT_BYTES {
        Err(ServiceError::TooLarge(format!(
            "{field}: {} bytes, at most {MAX_DEPLOY_TEXT_BYTES}",
            value.len()
        )))
    } else if value.chars().any(char::is_control) {
        Err(ServiceError::Invalid(format!(
            "{field} holds a control character"
        )))
    } else {
        Ok(())
    }
}
