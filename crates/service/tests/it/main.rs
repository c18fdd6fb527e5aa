//! One integration-test binary for the service (it links once).

mod baselines;
mod deploys;
mod module_order;
mod ownership;
