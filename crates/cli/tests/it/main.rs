//! One integration-test binary for the CLI (it links once): the binary as a process beside
//! real peers, and the API types against a real server.

mod action;
mod alertmanager_peers;
mod api_types;
mod canary;
mod cli;
mod common;
mod crash;
mod deploy;
mod dora;
mod gate;
mod incident;
mod oncall;
mod outbox_crash;
mod prometheus;
mod serve;
mod silence;
