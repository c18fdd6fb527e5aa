//! One integration-test binary for the crate (it links once).

mod bodies;
mod common;
mod deliver;
mod email;
mod templates;
mod untrusted;
