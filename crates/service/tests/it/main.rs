//! One integration-test binary for the service (it links once).

mod deploys;
mod module_order;
mod ownership;
