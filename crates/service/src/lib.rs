//! The running services of headroom: alert intake and dispatch, escalation, incidents, on-call,
//! the outbox, signal sources, config load and reload, and the evaluator, behind one handle
//! ([`Headroom`]). Nothing here knows HTTP: the server crate parses requests, calls these
//! services and shapes their answers; every refusal is a [`ServiceError`].
//!
//! Modules depend on those listed before them only, never on a later one (a test checks that
//! no `crate::` reference makes a circle):
//! - foundations: `error`, `clock`, `limits`, `config`, `changed`, `records`, `action_request`
//!   (an action's request rendered without secrets, and made sendable with them);
//! - parts, each taking narrow handles (the store, the clock, the engine, the other parts it
//!   calls): `signals`, `sources`, `canary` (judging canaries, with queries to the backends),
//!   `oncall`, `outbox`, `incidents`, `notifications`, `desk`, `escalation`, `alerting`,
//!   `silences`, `pagerduty`, `deploys` (deploys and changes from hooks, the API and the CLI;
//!   GitHub issues labelled as incidents), `dora` (DORA metrics from the stored deploys, changes
//!   and incidents), `gates` (release gates: error-budget policy decisions, overrides), `actions`
//!   (configured actions fired by triggers or by hand, their runs and approvals), `selfmon`;
//! - the handle that holds them all: `state`;
//! - what spans the parts: `evaluation`, `workers`, `reload`.

pub mod action_request;
pub mod changed;
pub mod clock;
pub mod config;
pub mod error;
pub mod limits;
pub mod records;

pub mod actions;
pub mod alerting;
pub mod canary;
pub mod deploys;
pub mod desk;
pub mod dora;
pub mod escalation;
pub mod gates;
pub mod incidents;
pub mod notifications;
pub mod oncall;
pub mod outbox;
pub mod pagerduty;
pub mod selfmon;
pub mod signals;
pub mod silences;
pub mod sources;

pub mod state;

pub mod evaluation;
pub mod reload;
pub mod workers;

pub use clock::{Clock, system_clock};
pub use config::{ConfigSource, Loaded, QUICKSTART, load_config, load_config_text};
pub use error::{ServiceError, StartError};
pub use evaluation::{evaluate, run_evaluator};
pub use reload::reload;
pub use state::{Headroom, build_state, build_state_from};
