//! One integration-test binary for the crate (it links once).

mod budget;
