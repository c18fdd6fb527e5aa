//! One integration-test binary for the crate (it links once).

mod metrics;
mod policy;
mod postmortem;
mod properties;
mod status;
mod timeline;
