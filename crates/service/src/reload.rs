//! Reload: re-reads the config from where it came from and swaps every part's view of it. A
//! config that fails to load, or that a part refuses, keeps the running one; both outcomes are
//! recorded in `config_loads`.

use headroom_store::ConfigStore;

use crate::config::{Loaded, load_config_text};
use crate::evaluation::evaluate;
use crate::state::{Headroom, Health, RunningConfig};
use crate::workers::restart_sources;

/// Re-reads the config; on success swaps the SLO set, on failure keeps the running one.
/// Returns the number of SLOs, or the problems.
pub async fn reload(h: &Headroom) -> Result<usize, Vec<String>> {
    let now = h.now();
    let Loaded {
        config,
        version,
        text,
    } = match load_config_text(&h.config_source) {
        Ok(loaded) => loaded,
        Err(problems) => {
            Health::add(&h.health.reloads_failed, 1);
            let msg = problems.join("\n");
            tracing::error!(problems = %msg, "config reload refused; the running config stays");
            if let Err(e) = h.store.record_config("", now, false, &msg).await {
                tracing::warn!(error = %e, "could not record the refused reload");
            }
            return Err(problems);
        }
    };
    let n = config.slos.len();
    let routing = match crate::outbox::templates(&config) {
        Ok(templates) => {
            let outbox = (h.outbox.as_ref(), templates);
            h.alerting.reload(&config, text, outbox, &h.incidents).await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = routing {
        Health::add(&h.health.reloads_failed, 1);
        return Err(vec![format!("routing refused: {e}")]);
    }
    h.pagerduty.reload(&config);
    h.actions.reload(&config);
    h.deploys.reload(&config);
    h.dora.reload(&config);
    h.gates.reload(&config);
    h.oncall.reload(&config);
    h.signals.replace(&config);
    if let Err(e) = h.engine.replace_slos(config.slos.clone()) {
        Health::add(&h.health.reloads_failed, 1);
        return Err(vec![format!("SLI store refused the new SLOs: {e}")]);
    }
    *h.config.write().expect("config lock") = RunningConfig {
        anonymous_read: config.anonymous_read,
        metrics_token: config.metrics_token.clone(),
        version: version.clone(),
        loaded_at: now,
        backends: config.backends.clone().into(),
    };
    Health::add(&h.health.reloads_ok, 1);
    if let Err(e) = h.store.record_config(&version, now, true, "reloaded").await {
        tracing::warn!(error = %e, "could not record the reload");
    }
    restart_sources(h, &config).await;
    let ids: Vec<String> = config.slos.iter().map(|s| s.id.to_string()).collect();
    h.alerting.resolve_removed_slos(&h.incidents, &ids).await;
    evaluate(h, None).await;
    tracing::info!(slos = n, "config reloaded");
    Ok(n)
}
