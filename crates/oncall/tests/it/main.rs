//! One integration-test binary for the crate (it links once).

mod common;
mod directory;
mod escalation;
mod ical;
mod properties;
mod schedule;
