//! One integration-test binary for the service (it links once).

mod module_order;
mod ownership;
