//! One integration-test binary for the server (it links once).

mod actions;
mod alertmanager_api;
mod api;
mod canary;
mod common;
mod deliveries;
mod dora;
mod gates;
mod incidents;
mod limits;
mod listener;
mod module_order;
mod oncall;
mod openapi_check;
mod openslo;
mod pagerduty_events;
mod scopes;
mod secrets;
mod signals;
