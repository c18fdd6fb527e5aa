//! One integration-test binary for the crate (it links once).

mod condition;
mod fuzz_regressions;
mod run;
