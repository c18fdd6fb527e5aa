//! One integration-test binary for the crate (it links once).

mod fuzz_regressions;
mod github_hooks;
mod gitlab_hooks;
mod hook_signatures;
mod remote_write;
mod respond_formats;
