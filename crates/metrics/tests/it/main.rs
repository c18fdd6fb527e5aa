//! One integration-test binary for the crate (it links once).

mod baselines;
mod query;
mod query_shapes;
mod route;
