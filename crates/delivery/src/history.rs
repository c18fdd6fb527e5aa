//! The delivery history: services, deploys, the commit graph, pull requests and incident
//! facts, each recorded whole or refused whole, and indexed for the questions DORA asks — what
//! a deploy shipped, and which deploy an incident is counted against.
//!
//! Deploys are kept per service and environment in order of finishing (then starting, then
//! id), successful and failed apart, so "the previous successful deploy" and "the latest one
//! before the incident" are binary searches. Every sha is interned into the commit graph when
//! recorded, so reports walk indices.

use std::collections::HashMap;

use headroom_core::{Span, Timestamp};
use serde::{Deserialize, Serialize};

use crate::change::graph::{Walked, Walker};
use crate::change::{Commit, CommitGraph, CommitSha, PullRequest, under};
use crate::deploy::{Deploy, DeployId, DeployStatus, Environment, Service};
use crate::error::DeliveryError;
use crate::incident::{Attribution, IncidentFacts};

/// How DORA reads the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoraConfig {
    /// An incident is counted against the latest successful production deploy of an affected
    /// service that finished at most this long before it started.
    #[serde(default = "default_window")]
    pub attribution_window: Span,
    /// The most commits one deploy's walk may visit; past it, what the deploy shipped is
    /// unknown rather than guessed.
    #[serde(default = "default_walk_limit")]
    pub walk_limit: usize,
}

fn default_window() -> Span {
    Span::hours(24)
}

fn default_walk_limit() -> usize {
    100_000
}

impl Default for DoraConfig {
    fn default() -> Self {
        DoraConfig {
            attribution_window: default_window(),
            walk_limit: default_walk_limit(),
        }
    }
}

/// What a deploy shipped, and how that is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", content = "commits", rename_all = "snake_case")]
pub enum Shipped {
    /// The deploy listed its commits (those learnt: one never learnt has no authoring time).
    Listed(Vec<CommitSha>),
    /// The commits since the previous successful deploy of its service and environment
    /// (newest committed first), those a monorepo service's paths do not touch left out.
    Range(Vec<CommitSha>),
    /// No successful deploy of its service and environment came before it.
    FirstDeploy,
    /// Its sha is not a learnt commit.
    UnknownCommit,
    /// The walk passed [`DoraConfig::walk_limit`].
    TooLong,
}

/// How one deploy's changes were found, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    Listed,
    Range,
    FirstDeploy,
    UnknownCommit,
    TooLong,
}

/// A service's deploys to one environment, each list in order of finishing.
#[derive(Debug, Clone, Default)]
pub(crate) struct Group {
    pub(crate) successful: Vec<u32>,
    pub(crate) failed: Vec<u32>,
}

const NONE: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub struct DeliveryHistory {
    config: DoraConfig,
    pub(crate) services: HashMap<String, Service>,
    pub(crate) deploys: Vec<Deploy>,
    /// The graph index of each deploy's sha.
    pub(crate) deploy_tip: Vec<u32>,
    /// Each deploy's listed commits, interned.
    deploy_listed: Vec<Option<Vec<u32>>>,
    pub(crate) deploy_ix: HashMap<DeployId, u32>,
    pub(crate) groups: HashMap<(String, Environment), Group>,
    by_version: HashMap<String, Vec<u32>>,
    pub(crate) incidents: Vec<IncidentFacts>,
    incident_ix: HashMap<String, u32>,
    pub(crate) graph: CommitGraph,
    pub(crate) pulls: Vec<PullRequest>,
    pull_ix: HashMap<(String, u64), u32>,
    /// Each pull request's commits (its own and its merge commit), interned.
    pub(crate) pull_commits: Vec<Vec<u32>>,
    /// Per graph index: the pull request whose merge commit it is, or `NONE`.
    pull_by_merge: Vec<u32>,
    /// Per graph index: the first recorded pull request holding it, or `NONE`.
    pull_by_commit: Vec<u32>,
}

impl Default for DeliveryHistory {
    fn default() -> Self {
        DeliveryHistory {
            config: DoraConfig::default(),
            services: HashMap::new(),
            deploys: Vec::new(),
            deploy_tip: Vec::new(),
            deploy_listed: Vec::new(),
            deploy_ix: HashMap::new(),
            groups: HashMap::new(),
            by_version: HashMap::new(),
            incidents: Vec::new(),
            incident_ix: HashMap::new(),
            graph: CommitGraph::new(),
            pulls: Vec::new(),
            pull_ix: HashMap::new(),
            pull_commits: Vec::new(),
            pull_by_merge: Vec::new(),
            pull_by_commit: Vec::new(),
        }
    }
}

impl DeliveryHistory {
    pub fn new(config: DoraConfig) -> Result<DeliveryHistory, DeliveryError> {
        if config.attribution_window.millis() <= 0 {
            return Err(DeliveryError::Window {
                window: config.attribution_window,
            });
        }
        if config.walk_limit == 0 {
            return Err(DeliveryError::WalkLimit);
        }
        Ok(DeliveryHistory {
            config,
            ..DeliveryHistory::default()
        })
    }

    pub fn config(&self) -> &DoraConfig {
        &self.config
    }

    pub fn graph(&self) -> &CommitGraph {
        &self.graph
    }

    pub fn deploys(&self) -> &[Deploy] {
        &self.deploys
    }

    pub fn incidents(&self) -> &[IncidentFacts] {
        &self.incidents
    }

    /// Adds a service, or replaces the one of that name.
    pub fn record_service(&mut self, service: Service) -> Result<(), DeliveryError> {
        service.check()?;
        self.services.insert(service.name.clone(), service);
        Ok(())
    }

    pub fn learn_commit(&mut self, commit: Commit) -> Result<(), DeliveryError> {
        self.graph.learn(commit)
    }

    /// Adds a deploy, or replaces the one with its id (a redelivered or corrected event).
    pub fn record_deploy(&mut self, deploy: Deploy) -> Result<(), DeliveryError> {
        deploy.check()?;
        let tip = self.graph.intern(&deploy.sha);
        let listed = deploy
            .changes
            .as_ref()
            .map(|shas| shas.iter().map(|s| self.graph.intern(s)).collect());
        let ix = match self.deploy_ix.get(&deploy.id) {
            Some(&ix) => {
                self.unindex(ix);
                self.deploys[ix as usize] = deploy;
                self.deploy_tip[ix as usize] = tip;
                self.deploy_listed[ix as usize] = listed;
                ix
            }
            None => {
                let ix = self.deploys.len() as u32;
                self.deploy_ix.insert(deploy.id.clone(), ix);
                self.deploys.push(deploy);
                self.deploy_tip.push(tip);
                self.deploy_listed.push(listed);
                ix
            }
        };
        self.index(ix);
        Ok(())
    }

    /// Adds an incident's facts, or replaces those with its id (it resolved, someone named its
    /// deploy).
    pub fn record_incident(&mut self, incident: IncidentFacts) -> Result<(), DeliveryError> {
        incident.check()?;
        match self.incident_ix.get(&incident.id) {
            Some(&ix) => self.incidents[ix as usize] = incident,
            None => {
                self.incident_ix
                    .insert(incident.id.clone(), self.incidents.len() as u32);
                self.incidents.push(incident);
            }
        }
        Ok(())
    }

    /// Adds a pull request, or replaces the one with its repository and number. A commit in
    /// several requests belongs to the one it is the merge commit of, else to the first
    /// recorded.
    pub fn record_pull_request(&mut self, pull: PullRequest) -> Result<(), DeliveryError> {
        pull.check()?;
        let mut commits: Vec<u32> = pull.commits.iter().map(|s| self.graph.intern(s)).collect();
        let merge = pull.merge_sha.as_ref().map(|s| self.graph.intern(s));
        if let Some(m) = merge
            && !commits.contains(&m)
        {
            commits.push(m);
        }
        let key = (pull.repository.clone(), pull.number);
        let ix = match self.pull_ix.get(&key) {
            Some(&ix) => {
                for slot in self
                    .pull_by_merge
                    .iter_mut()
                    .chain(self.pull_by_commit.iter_mut())
                {
                    if *slot == ix {
                        *slot = NONE;
                    }
                }
                self.pulls[ix as usize] = pull;
                self.pull_commits[ix as usize] = commits.clone();
                ix
            }
            None => {
                let ix = self.pulls.len() as u32;
                self.pull_ix.insert(key, ix);
                self.pulls.push(pull);
                self.pull_commits.push(commits.clone());
                ix
            }
        };
        let slots = self.graph.slots();
        self.pull_by_merge.resize(slots, NONE);
        self.pull_by_commit.resize(slots, NONE);
        if let Some(m) = merge {
            self.pull_by_merge[m as usize] = ix;
        }
        for c in commits {
            let slot = &mut self.pull_by_commit[c as usize];
            if *slot == NONE {
                *slot = ix;
            }
        }
        Ok(())
    }

    pub fn deploy(&self, id: &DeployId) -> Option<&Deploy> {
        self.deploy_ix.get(id).map(|&ix| &self.deploys[ix as usize])
    }

    /// What a deploy shipped; `None` for an unknown id.
    pub fn shipped(&self, id: &DeployId) -> Option<Shipped> {
        let ix = *self.deploy_ix.get(id)?;
        let mut walker = Walker::new(&self.graph);
        let mut out = Vec::new();
        let paths = self.paths_of(&self.deploys[ix as usize].service);
        let shas = |out: &[u32]| out.iter().map(|&c| self.graph.sha(c)).collect();
        Some(match self.changes_of(ix, &paths, &mut walker, &mut out) {
            Found::Listed => Shipped::Listed(shas(&out)),
            Found::Range => Shipped::Range(shas(&out)),
            Found::FirstDeploy => Shipped::FirstDeploy,
            Found::UnknownCommit => Shipped::UnknownCommit,
            Found::TooLong => Shipped::TooLong,
        })
    }

    /// How an incident is attributed; `None` for an unknown id.
    pub fn attribution(&self, incident_id: &str) -> Option<Attribution> {
        let ix = *self.incident_ix.get(incident_id)?;
        Some(self.attribute(&self.incidents[ix as usize]))
    }

    /// Every incident with its attribution, in the order they were first recorded.
    pub fn attributions(&self) -> Vec<(&IncidentFacts, Attribution)> {
        self.incidents
            .iter()
            .map(|i| (i, self.attribute(i)))
            .collect()
    }

    /// Explicit first: a named deploy, else a named version, else "not caused by a change",
    /// else the window.
    pub(crate) fn attribute(&self, incident: &IncidentFacts) -> Attribution {
        if incident.not_caused_by_change {
            return Attribution::NotCausedByChange;
        }
        if let Some(id) = &incident.deploy {
            return match self.deploy_ix.get(id) {
                Some(_) => Attribution::Explicit {
                    deploy: id.clone(),
                    version: None,
                },
                None => Attribution::Unresolved {
                    deploy: Some(id.clone()),
                    version: None,
                },
            };
        }
        if let Some(version) = &incident.version {
            return match self.deploy_of_version(incident, version) {
                Some(ix) => Attribution::Explicit {
                    deploy: self.deploys[ix as usize].id.clone(),
                    version: Some(version.clone()),
                },
                None => Attribution::Unresolved {
                    deploy: None,
                    version: Some(version.clone()),
                },
            };
        }
        let window = self.config.attribution_window;
        let earliest = incident.started - window;
        let production = Environment::production();
        let mut best: Option<u32> = None;
        for service in &incident.services {
            let Some(group) = self.groups.get(&(service.clone(), production.clone())) else {
                continue;
            };
            let at = group
                .successful
                .partition_point(|&d| self.deploys[d as usize].finished <= incident.started);
            if at == 0 {
                continue;
            }
            let d = group.successful[at - 1];
            if self.deploys[d as usize].finished < earliest {
                continue;
            }
            if best.is_none_or(|b| self.order(b) < self.order(d)) {
                best = Some(d);
            }
        }
        match best {
            Some(d) => Attribution::Window {
                deploy: self.deploys[d as usize].id.clone(),
                window,
            },
            None => Attribution::None,
        }
    }

    /// A successful production deploy of an affected service (of any service, when the
    /// incident names none) carrying `version`: the latest that finished by the time the
    /// incident started, else the first after.
    fn deploy_of_version(&self, incident: &IncidentFacts, version: &str) -> Option<u32> {
        let candidates = self.by_version.get(version)?.iter().copied().filter(|&d| {
            let deploy = &self.deploys[d as usize];
            deploy.status == DeployStatus::Success
                && deploy.environment.is_production()
                && (incident.services.is_empty() || incident.services.contains(&deploy.service))
        });
        let (before, after): (Vec<u32>, Vec<u32>) =
            candidates.partition(|&d| self.deploys[d as usize].finished <= incident.started);
        before
            .into_iter()
            .max_by(|&a, &b| self.order(a).cmp(&self.order(b)))
            .or_else(|| {
                after
                    .into_iter()
                    .min_by(|&a, &b| self.order(a).cmp(&self.order(b)))
            })
    }

    /// The order deploys of a group are kept in.
    pub(crate) fn order(&self, d: u32) -> (Timestamp, Timestamp, &str) {
        let deploy = &self.deploys[d as usize];
        (deploy.finished, deploy.started, deploy.id.0.as_str())
    }

    /// The directories a service's commits must touch (empty: any commit counts).
    pub(crate) fn paths_of(&self, service: &str) -> Vec<String> {
        self.services
            .get(service)
            .map(Service::paths)
            .unwrap_or_default()
    }

    /// The commits deploy `d` shipped, appended to `out` as graph indices.
    ///
    /// Listed commits win. Otherwise, the walk from its sha stops at the previous successful
    /// deploy of its service and environment; when that deploy was a rollback, also at the
    /// deploys it undid, so changes a rollback took out count once, when they first shipped.
    pub(crate) fn changes_of(
        &self,
        d: u32,
        paths: &[String],
        walker: &mut Walker,
        out: &mut Vec<u32>,
    ) -> Found {
        let deploy = &self.deploys[d as usize];
        let group = &self.groups[&(deploy.service.clone(), deploy.environment.clone())];
        let key = self.order(d);
        let at = group.successful.partition_point(|&s| self.order(s) < key);
        self.changes_in(group, at, d, paths, walker, out)
    }

    /// [`DeliveryHistory::changes_of`] for a deploy of `group` with `at` of the group's
    /// successful deploys before it.
    pub(crate) fn changes_in(
        &self,
        group: &Group,
        at: usize,
        d: u32,
        paths: &[String],
        walker: &mut Walker,
        out: &mut Vec<u32>,
    ) -> Found {
        if let Some(listed) = &self.deploy_listed[d as usize] {
            out.extend(listed.iter().copied().filter(|&c| self.graph.is_known(c)));
            return Found::Listed;
        }
        if at == 0 {
            return Found::FirstDeploy;
        }
        let mut stops = Vec::new();
        let mut q = at;
        loop {
            q -= 1;
            let s = group.successful[q];
            stops.push(self.deploy_tip[s as usize]);
            if q == 0 || !self.deploys[s as usize].is_rollback() {
                break;
            }
        }
        let from = out.len();
        let walked = self.graph.walk(
            self.deploy_tip[d as usize],
            &stops,
            self.config.walk_limit,
            walker,
            out,
        );
        match walked {
            Walked::UnknownTip => Found::UnknownCommit,
            Walked::TooLong => Found::TooLong,
            Walked::Done => {
                if !paths.is_empty() {
                    let mut keep = from;
                    for i in from..out.len() {
                        let c = out[i];
                        let touches = self.graph.files(c).is_none_or(|files| {
                            files.iter().any(|f| paths.iter().any(|p| under(f, p)))
                        });
                        if touches {
                            out[keep] = c;
                            keep += 1;
                        }
                    }
                    out.truncate(keep);
                }
                Found::Range
            }
        }
    }

    /// The pull request a commit belongs to, if any.
    pub(crate) fn pull_of(&self, c: u32) -> Option<u32> {
        let get = |v: &Vec<u32>| v.get(c as usize).copied().filter(|&p| p != NONE);
        get(&self.pull_by_merge).or_else(|| get(&self.pull_by_commit))
    }

    fn index(&mut self, ix: u32) {
        let deploys = &self.deploys;
        let deploy = &deploys[ix as usize];
        if let Some(version) = &deploy.version {
            self.by_version.entry(version.clone()).or_default().push(ix);
        }
        let group = self
            .groups
            .entry((deploy.service.clone(), deploy.environment.clone()))
            .or_default();
        let list = match deploy.status {
            DeployStatus::Success => &mut group.successful,
            DeployStatus::Failure => &mut group.failed,
            DeployStatus::Cancelled => return,
        };
        let key_of = |d: u32| {
            let x = &deploys[d as usize];
            (x.finished, x.started, x.id.0.as_str())
        };
        // Deploys mostly arrive in order, so this is usually a push at the end.
        let at = list.partition_point(|&d| key_of(d) < key_of(ix));
        list.insert(at, ix);
    }

    fn unindex(&mut self, ix: u32) {
        let deploy = &self.deploys[ix as usize];
        if let Some(version) = &deploy.version
            && let Some(list) = self.by_version.get_mut(version)
        {
            list.retain(|&d| d != ix);
        }
        let key = (deploy.service.clone(), deploy.environment.clone());
        if let Some(group) = self.groups.get_mut(&key) {
            group.successful.retain(|&d| d != ix);
            group.failed.retain(|&d| d != ix);
        }
    }
}
