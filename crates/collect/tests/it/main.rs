//! One integration-test binary for the crate (it links once).

mod backend_fake_api;
mod file_sd;
mod prometheus;
mod scrape;
