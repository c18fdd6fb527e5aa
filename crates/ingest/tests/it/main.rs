//! One integration-test binary for the crate (it links once).

mod fuzz_regressions;
mod remote_write;
mod respond_formats;
