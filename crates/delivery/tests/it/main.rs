//! One integration-test binary for the crate (it links once).

mod scipy_agreement;
