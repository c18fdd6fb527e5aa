//! One integration-test binary for the crate (it links once).

mod properties;
mod scipy_agreement;
