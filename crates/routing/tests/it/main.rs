//! One integration-test binary for the crate (it links once).

mod alert;
mod alertmanager_conformance;
mod dispatch;
mod group;
mod inhibit;
mod interval;
mod matcher;
mod route;
mod silence;
