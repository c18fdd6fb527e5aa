//! Delivery, pure: what the release side of headroom decides from numbers it is given.
//!
//! Modules, in dependency order:
//! - [`error`]: [`DeliveryError`], the refusals of deploys, changes and incident facts.
//! - [`canary`]: a canary judged against its baseline as Kayenta's NetflixACAJudge does
//!   (Mann-Whitney per metric, Pass/High/Low/Nodata labels, weighted group scores and a
//!   Pass/Marginal/Fail verdict).
//! - [`change`]: commits, the [`CommitGraph`] learnt from pushes, merges and `--git-range`, and
//!   pull requests.
//! - [`deploy`]: deploys, services (team, repositories or monorepo directories) and
//!   environments.
//! - [`incident`]: the facts about an incident DORA reads, and how it was [`Attribution`]
//!   tied to a deploy.
//! - [`history`]: the [`DeliveryHistory`] holding all of them, indexed: what each deploy
//!   shipped, which deploy each incident counts against.
//! - [`dora`]: the five DORA metrics over a range, per service, team and environment, with a
//!   weekly trend and the DORA 2024 tiers.
//! - [`gate`]: release gates: a service's error-budget [`ReleasePolicy`] judged against its
//!   SLOs' budgets, burn rates and page alerts, with exempt labels and time-boxed overrides.
//!
//! Pure: no IO, no async, no clock. Inputs arrive as values (samples already fetched, events
//! already parsed), time ranges are passed in, every refusal names what and where, and a
//! refused record changes nothing.

pub mod canary;
pub mod change;
pub mod deploy;
pub mod dora;
pub mod error;
pub mod gate;
pub mod history;
pub mod incident;

pub use change::{Commit, CommitGraph, CommitRange, CommitSha, PullRequest};
pub use deploy::{Deploy, DeployId, DeployStatus, Environment, Repository, Service, TimeRange};
pub use dora::{DoraFilter, DoraReport, Tier, report};
pub use error::DeliveryError;
pub use gate::{GateDecision, GateOverride, GateReason, ReleasePolicy, Rule, SloFacts, Verdict};
pub use history::{DeliveryHistory, DoraConfig, Shipped};
pub use incident::{Attribution, IncidentFacts};
