//! One integration-test binary for the crate (it links once).

mod attribution;
mod common;
mod gate_properties;
mod ninety_days;
mod properties;
mod ranges;
mod rework_recovery;
mod scipy_agreement;
