//! `/metrics` in the Prometheus text format: every SLO's state and headroom's own health.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use headroom_core::AlertState;
use headroom_store::Scope;
use subtle::ConstantTimeEq;

use crate::auth::{ClientAddr, authenticate, bearer};
use crate::error::ApiError;
use crate::state::AppState;

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let l: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        let _ = writeln!(self.out, "{name}{{{}}} {}", l.join(","), num(value));
    }
}

pub fn render(state: &AppState) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let views = state.engine.views();
    let mut f = Family { out: &mut out };

    type Pick = fn(&headroom_core::SloStatus) -> Option<f64>;
    let gauges: [(&str, &str, Pick); 6] = [
        (
            "headroom_slo_sli",
            "SLI over the SLO window (absent with no data).",
            |s| s.sli,
        ),
        (
            "headroom_slo_budget_remaining",
            "Error budget remaining, as a fraction of the budget (negative when overspent).",
            |s| Some(s.budget.remaining),
        ),
        (
            "headroom_slo_budget_consumed",
            "Error budget consumed, as a fraction of the budget.",
            |s| Some(s.budget.consumed),
        ),
        (
            "headroom_slo_good_events",
            "Good events in the SLO window.",
            |s| Some(s.counts.good),
        ),
        (
            "headroom_slo_total_events",
            "All events in the SLO window.",
            |s| Some(s.counts.total),
        ),
        (
            "headroom_slo_time_to_exhaustion_seconds",
            "Time until the budget is gone at the 1h burn rate (absent when not burning).",
            |s| s.time_to_exhaustion.map(|t| t.as_secs_f64()),
        ),
    ];
    f.header(
        "headroom_slo_objective",
        "gauge",
        "The SLO's objective as a ratio.",
    );
    for v in &views {
        f.sample(
            "headroom_slo_objective",
            &[("slo", v.slo.id.as_str()), ("service", &v.slo.service)],
            v.slo.objective.ratio(),
        );
    }
    for (name, help, pick) in gauges {
        f.header(name, "gauge", help);
        for v in &views {
            for g in &v.groups {
                if let Some(x) = pick(&g.status) {
                    f.sample(
                        name,
                        &[
                            ("slo", v.slo.id.as_str()),
                            ("service", &v.slo.service),
                            ("group", g.group.as_str()),
                        ],
                        x,
                    );
                }
            }
        }
    }
    f.header(
        "headroom_slo_burn_rate",
        "gauge",
        "Burn rate over each alert window (1 spends the budget exactly over the SLO window).",
    );
    for v in &views {
        for g in &v.groups {
            for b in &g.status.burn_rates {
                if let Some(r) = b.rate {
                    let w = b.window.to_string();
                    f.sample(
                        "headroom_slo_burn_rate",
                        &[
                            ("slo", v.slo.id.as_str()),
                            ("service", &v.slo.service),
                            ("group", g.group.as_str()),
                            ("window", &w),
                        ],
                        r,
                    );
                }
            }
        }
    }
    f.header(
        "headroom_slo_alert_state",
        "gauge",
        "1 for the state each SLO alert is in.",
    );
    for v in &views {
        for g in &v.groups {
            for (name, a) in &g.alerts {
                for s in [
                    AlertState::Inactive,
                    AlertState::Pending,
                    AlertState::Firing,
                ] {
                    let current = match a.state {
                        AlertState::Resolved => AlertState::Inactive,
                        x => x,
                    };
                    let labels = [
                        ("slo", v.slo.id.as_str()),
                        ("group", g.group.as_str()),
                        ("alert", name.as_str()),
                        ("state", s.as_str()),
                    ];
                    f.sample(
                        "headroom_slo_alert_state",
                        &labels,
                        f64::from(u8::from(current == s)),
                    );
                }
            }
        }
    }

    let h = &state.health;
    let counters = [
        (
            "headroom_events_ingested_total",
            "Pushed events accepted.",
            &h.events_ingested,
        ),
        (
            "headroom_batches_rejected_total",
            "Pushed batches refused (nothing of them stored).",
            &h.batches_rejected,
        ),
        (
            "headroom_batches_duplicate_total",
            "Pushed batches recognised by their Idempotency-Key and not counted again.",
            &h.batches_duplicate,
        ),
        (
            "headroom_evaluations_total",
            "SLO evaluation rounds.",
            &h.evaluations,
        ),
        (
            "headroom_config_reloads_total",
            "Config reloads applied.",
            &h.reloads_ok,
        ),
        (
            "headroom_config_reload_failures_total",
            "Config reloads refused; the previous config stayed in force.",
            &h.reloads_failed,
        ),
    ];
    for (name, help, c) in counters {
        f.header(name, "counter", help);
        let _ = writeln!(f.out, "{name} {}", c.load(Ordering::Relaxed));
    }
    let sh = &state.signals.health;
    let stats = state.signals.router_stats();
    let signal_counters: [(&str, &str, u64); 8] = [
        (
            "headroom_remote_write_requests_total",
            "remote_write requests received.",
            sh.remote_write_requests.load(Ordering::Relaxed),
        ),
        (
            "headroom_remote_write_requests_rejected_total",
            "remote_write requests answered with an error.",
            sh.remote_write_rejected.load(Ordering::Relaxed),
        ),
        (
            "headroom_samples_received_total",
            "Prometheus samples received (remote_write and scrapes).",
            sh.samples_received.load(Ordering::Relaxed),
        ),
        (
            "headroom_samples_matched_total",
            "Samples that some SLO's selectors matched.",
            stats.samples_matched,
        ),
        (
            "headroom_samples_dropped_total",
            "Matched samples not counted: out of order, retried, or over the series limit.",
            stats.samples_out_of_order + stats.samples_over_cap,
        ),
        (
            "headroom_signal_events_dropped_total",
            "Routed, probed or queried events outside what their SLO keeps (older than its window, or from the future).",
            sh.events_out_of_range.load(Ordering::Relaxed),
        ),
        (
            "headroom_probe_runs_total",
            "Probe runs completed.",
            sh.probe_runs.load(Ordering::Relaxed),
        ),
        (
            "headroom_backend_queries_failed_total",
            "Queries to external backends that failed (their steps are asked again).",
            sh.backend_queries_failed.load(Ordering::Relaxed),
        ),
    ];
    for (name, help, v) in signal_counters {
        f.header(name, "counter", help);
        let _ = writeln!(f.out, "{name} {v}");
    }
    f.header(
        "headroom_series_tracked",
        "gauge",
        "Prometheus series whose counters headroom follows for some SLO.",
    );
    let _ = writeln!(f.out, "headroom_series_tracked {}", stats.series_tracked);
    probe_metrics(&mut f, state);
    f.header("headroom_slos", "gauge", "Configured SLOs.");
    let _ = writeln!(f.out, "headroom_slos {}", views.len());
    f.header(
        "headroom_sli_memory_bytes",
        "gauge",
        "Memory held by SLI series.",
    );
    let _ = writeln!(
        f.out,
        "headroom_sli_memory_bytes {}",
        state.engine.tsdb().memory_bytes()
    );
    f.header(
        "headroom_last_checkpoint_timestamp_seconds",
        "gauge",
        "When the SLI store last wrote a snapshot.",
    );
    let _ = writeln!(
        f.out,
        "headroom_last_checkpoint_timestamp_seconds {}",
        h.last_checkpoint_ms.load(Ordering::Relaxed) as f64 / 1000.0
    );
    let config = state.config.read().expect("config lock").clone();
    f.header(
        "headroom_config_last_reload_success_timestamp_seconds",
        "gauge",
        "When the config in force was loaded.",
    );
    let _ = writeln!(
        f.out,
        "headroom_config_last_reload_success_timestamp_seconds {}",
        config.loaded_at.millis() as f64 / 1000.0
    );
    f.header(
        "headroom_config_info",
        "gauge",
        "The config in force, by the SHA-256 of its text.",
    );
    f.sample("headroom_config_info", &[("sha256", &config.version)], 1.0);
    f.header("headroom_build_info", "gauge", "Build facts.");
    let _ = writeln!(
        f.out,
        "headroom_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    out
}

/// The blackbox exporter's metrics for each probe's latest result, labelled by probe.
fn probe_metrics(f: &mut Family, state: &AppState) {
    let book = state.signals.probes.lock().expect("probe lock");
    let latest: Vec<(&str, &headroom_probe::spec::ProbeResult)> = book
        .iter()
        .filter_map(|(name, r)| r.results.back().map(|x| (name.as_str(), x)))
        .collect();
    type Pick = fn(&headroom_probe::spec::ProbeResult) -> Option<f64>;
    let gauges: [(&str, &str, Pick); 4] = [
        (
            "probe_success",
            "Whether the probe's latest run succeeded (every condition passed).",
            |r| Some(f64::from(u8::from(r.success))),
        ),
        (
            "probe_duration_seconds",
            "How long the probe's latest run took.",
            |r| Some(r.duration.as_secs_f64()),
        ),
        (
            "probe_http_status_code",
            "The HTTP status code of the latest run (HTTP probes).",
            |r| r.status_code.map(f64::from),
        ),
        (
            "probe_ssl_earliest_cert_expiry",
            "Unix time the peer certificate expires (HTTPS and TLS probes).",
            |r| r.certificate_expiry_unix.map(|s| s as f64),
        ),
    ];
    for (name, help, pick) in gauges {
        f.header(name, "gauge", help);
        for (probe, r) in &latest {
            if let Some(v) = pick(r) {
                f.sample(name, &[("probe", probe)], v);
            }
        }
    }
}

/// `GET /metrics`: as readable as the API (anonymously only with `anonymous_read`), or with
/// the config's `metrics_token`.
#[utoipa::path(
    get,
    path = "/metrics",
    summary = "Prometheus metrics: SLO state and headroom's health",
    description = "A `read` token, the config's `metrics_token`, or none with `anonymous_read`.",
    responses(
        (status = 200, description = "text exposition format", body = String, content_type = "text/plain"),
        (status = 401, description = "no or a wrong token", body = headroom_api::ErrorBody),
        (status = 403, description = "a token without scope read", body = headroom_api::ErrorBody),
        (status = 429, description = "too many failed attempts from this address", body = headroom_api::ErrorBody)
    )
)]
pub async fn metrics(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let metrics_token = state
        .config
        .read()
        .expect("config lock")
        .metrics_token
        .clone();
    let presented = headers.get(header::AUTHORIZATION).and_then(bearer);
    let by_metrics_token = matches!((&metrics_token, presented),
        (Some(want), Some(got)) if bool::from(want.as_bytes().ct_eq(got.as_bytes())));
    if !by_metrics_token {
        authenticate(&state, &headers, client, Scope::Read).await?;
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&state),
    )
        .into_response())
}
