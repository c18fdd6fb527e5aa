//! One integration-test binary for the crate (it links once).

mod actions;
mod deliveries;
mod integrations;
mod loader;
mod respond_oncall;
mod respond_receivers;
mod routing;
mod signals;
mod sloth_rules;
