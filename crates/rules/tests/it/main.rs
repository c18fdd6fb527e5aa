//! One integration-test binary for the crate (it links once).

mod common;
mod openslo_gen;
mod prometheus_agreement;
mod sloth_gen;
mod steps;
