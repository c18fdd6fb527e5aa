//! One integration-test binary for the crate (it links once).

mod condition;
mod dns;
mod fuzz_regressions;
mod run;
