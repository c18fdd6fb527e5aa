//! The headroom server: HTTP API, /metrics, and the workers that keep SLO state current.
//!
//! `app(state)` builds the whole `Router` without a socket (tests drive it with `oneshot`);
//! `serve(options)` opens storage, starts the workers and listens.

pub mod alerting;
pub mod alertmanager;
pub mod api;
pub mod auth;
pub mod error;
pub mod escalation;
pub mod html;
pub mod incidents;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod oncall;
pub mod openapi;
pub mod outbox;
pub mod pagerduty;
pub mod probes;
pub mod remote_write;
pub mod selfmon;
pub mod signals;
pub mod sources;
pub mod state;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use headroom_core::{Alert, AlertState, AlertTransition, Span};
use headroom_engine::Engine;
use headroom_spec::Config;
use headroom_store::{AlertStore, ConfigStore, Scope, Store, TokenStore};
use headroom_tsdb::Tsdb;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::state::{AppState, Clock, ConfigSource, Health, Inner, RunningConfig};

/// The bundled quickstart config, used when no `--config` is given.
pub const QUICKSTART: &str = include_str!("../../../examples/quickstart.yaml");
/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// How often the SLI store writes a snapshot (and trims its write-ahead log).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(300);
/// Log size that triggers an early snapshot.
const CHECKPOINT_LOG_BYTES: u64 = 256 * 1024 * 1024;
/// How often headroom's own request tally is pushed into its SLOs.
const SELF_FLUSH_EVERY: Duration = Duration::from_secs(10);

/// Everything `headroom serve` takes.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub config: Option<Vec<PathBuf>>,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub database_url: Option<String>,
    /// The address notifications link back to; `http://<listen>` when unset.
    pub external_url: Option<String>,
    /// PEM certificate chain and private key: serve HTTPS instead of HTTP.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// How many connections are served at once, and for how long.
    pub limits: listener::ConnectionLimits,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("config is invalid:\n{}", .0.join("\n"))]
    Config(Vec<String>),
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state store: {0}")]
    Store(#[from] headroom_store::StoreError),
    #[error("SLI store: {0}")]
    Tsdb(#[from] headroom_tsdb::TsdbError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Tls(#[from] tls::TlsError),
}

/// Reads the config from its source: problems come back one `FILE:LINE:COL: message` per line.
pub fn load_config(source: &ConfigSource) -> Result<(Config, String), Vec<String>> {
    load_config_text(source).map(|l| (l.config, l.version))
}

/// A loaded config, its version and the text it was loaded from.
pub struct Loaded {
    pub config: Config,
    pub version: String,
    /// Every file's text, in load order, as YAML documents of one stream.
    pub text: String,
}

/// As [`load_config`], keeping the text (`/api/v2/status` shows it).
pub fn load_config_text(source: &ConfigSource) -> Result<Loaded, Vec<String>> {
    let lines =
        |ps: Vec<headroom_spec::Problem>| ps.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    let sources = match source {
        ConfigSource::Embedded { listen } => vec![(
            "quickstart.yaml".to_string(),
            QUICKSTART.replace("127.0.0.1:7979", &listen.to_string()),
        )],
        ConfigSource::Paths(paths) => headroom_spec::read_paths(paths).map_err(lines)?,
    };
    // The version is the hash of exactly what was loaded: names and texts, read once.
    let mut hash = Sha256::new();
    for (name, text) in &sources {
        hash.update(name.as_bytes());
        hash.update(text.as_bytes());
    }
    let version = hex::encode(hash.finalize());
    let config = headroom_spec::load_sources(&sources).map_err(lines)?;
    for w in &config.warnings {
        tracing::warn!(warning = %w, "config");
    }
    let text = sources
        .iter()
        .map(|(name, text)| format!("# {name}\n{text}"))
        .collect::<Vec<_>>()
        .join("\n---\n");
    Ok(Loaded {
        config,
        version,
        text,
    })
}

/// Builds the router: API, compatibility paths, metrics and health.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/slos", get(api::list_slos))
        .route("/api/v1/slos/{slo}", get(api::get_slo))
        .route("/api/v1/slos/{slo}/series", get(api::slo_series))
        .route("/api/v1/slos/{slo}/events", post(api::push_events))
        .route("/api/v1/alerts/transitions", get(api::transitions))
        .route("/api/v1/write", post(remote_write::write))
        .route("/api/v1/probes", get(probes::list))
        .route("/api/v1/probes/{name}/results", get(probes::results))
        .route("/api/v1/heartbeats/{name}", post(probes::ping))
        .route("/api/v1/targets", get(probes::targets))
        .route("/api/v1/openapi.json", get(openapi::openapi))
        .route(
            "/api/v2/alerts",
            get(alertmanager::get_alerts).post(alertmanager::post_alerts),
        )
        .route("/api/v2/alerts/groups", get(alertmanager::get_alert_groups))
        .route("/api/v2/status", get(alertmanager::status))
        .route("/api/v2/receivers", get(alertmanager::receivers))
        .route(
            "/api/v2/silences",
            get(alertmanager::list_silences).post(alertmanager::post_silence),
        )
        .route(
            "/api/v2/silence/{id}",
            get(alertmanager::get_silence).delete(alertmanager::expire_silence),
        )
        .route(
            "/api/v1/integrations/alertmanager",
            post(alertmanager::forwarded),
        )
        .route("/v2/enqueue", post(pagerduty::enqueue))
        .route(
            "/api/v1/incidents",
            get(incidents::list_incidents).post(incidents::declare),
        )
        .route("/api/v1/incidents/metrics", get(incidents::metrics))
        .route("/api/v1/incidents/{id}", get(incidents::get_incident))
        .route(
            "/api/v1/incidents/{id}/acknowledge",
            post(incidents::acknowledge),
        )
        .route("/api/v1/incidents/{id}/status", post(incidents::set_status))
        .route(
            "/api/v1/incidents/{id}/severity",
            post(incidents::set_severity),
        )
        .route("/api/v1/incidents/{id}/roles", post(incidents::assign_role))
        .route("/api/v1/incidents/{id}/notes", post(incidents::add_note))
        .route("/api/v1/incidents/{id}/resolve", post(incidents::resolve))
        .route(
            "/api/v1/incidents/{id}/impact-start",
            post(incidents::set_impact_start),
        )
        .route(
            "/api/v1/incidents/{id}/action-items",
            post(incidents::add_action_item),
        )
        .route(
            "/api/v1/incidents/{id}/action-items/{n}",
            axum::routing::patch(incidents::update_action_item),
        )
        .route(
            "/api/v1/incidents/{id}/postmortem",
            get(incidents::postmortem),
        )
        .route("/api/v1/users", get(oncall::list_users))
        .route(
            "/api/v1/users/{id}/calendar.ics",
            get(oncall::user_calendar),
        )
        .route("/api/v1/teams", get(oncall::list_teams))
        .route("/api/v1/schedules", get(oncall::list_schedules))
        .route("/api/v1/schedules/{id}/oncall", get(oncall::oncall_at))
        .route("/api/v1/schedules/{id}/shifts", get(oncall::shifts))
        .route(
            "/api/v1/schedules/{id}/overrides",
            post(oncall::add_override),
        )
        .route(
            "/api/v1/schedules/{id}/calendar.ics",
            get(oncall::schedule_calendar),
        )
        .route(
            "/api/v1/schedules/{id}/calendar-key",
            post(oncall::rotate_schedule_feed),
        )
        .route(
            "/api/v1/users/{id}/calendar-key",
            post(oncall::rotate_user_feed),
        )
        .route("/calendars/{key}/feed.ics", get(oncall::keyed_feed))
        .route(
            "/api/v1/overrides/{id}",
            axum::routing::delete(oncall::delete_override),
        )
        .route("/api/v1/escalations", get(escalation::list))
        .route("/api/v1/escalations/{id}", get(escalation::get_one))
        .route(
            "/api/v1/escalations/{id}/ack",
            post(escalation::acknowledge),
        )
        .route(
            "/api/v1/escalations/{id}/resolve",
            post(escalation::resolve),
        )
        .route(
            "/ack/{token}",
            get(escalation::ack_link_page).post(escalation::ack_link),
        )
        .route(
            "/resolve/{token}",
            get(escalation::resolve_link_page).post(escalation::resolve_link),
        )
        .route("/-/reload", post(api::reload))
        .route("/metrics", get(metrics::metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .fallback(|| async {
            error::ApiError::not_found("no such endpoint; see /api/v1/openapi.json")
        })
        .layer(axum::middleware::from_fn(error::json_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            selfmon::measure,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    }
}

/// Opens storage and builds the state; restores alert states from the store.
pub async fn build_state(
    source: ConfigSource,
    tsdb: Tsdb,
    store: Store,
    clock: Clock,
) -> Result<AppState, ServeError> {
    let loaded = load_config_text(&source).map_err(ServeError::Config)?;
    build_state_from(source, loaded, None, tsdb, store, clock).await
}

/// As [`build_state`], with the config already loaded from `source`.
async fn build_state_from(
    source: ConfigSource,
    Loaded {
        config,
        version,
        text,
    }: Loaded,
    external_url: Option<String>,
    tsdb: Tsdb,
    store: Store,
    clock: Clock,
) -> Result<AppState, ServeError> {
    let now = clock();
    let signals = signals::Signals::new(&config);
    let external_url = external_url.unwrap_or_else(|| match &source {
        ConfigSource::Embedded { listen } => format!("http://{listen}"),
        ConfigSource::Paths(_) => "http://127.0.0.1:7979".to_string(),
    });
    let alerting = alerting::Alerting::restore(&config, text, external_url, &store, now).await?;
    let oncall = oncall::OnCall::restore(&config, &store, now).await?;
    let engine = Engine::new(tsdb, config.slos)?;
    for s in store.alert_states().await? {
        if let Some(state) = AlertState::parse(&s.state) {
            engine.restore_alert(
                &s.slo,
                &s.group,
                &s.severity,
                Alert {
                    state,
                    since: s.since,
                },
            );
        }
    }
    store
        .record_config(&version, now, true, "loaded at start")
        .await?;
    let inner = Inner {
        engine,
        store,
        clock,
        config: RwLock::new(RunningConfig {
            anonymous_read: config.anonymous_read,
            metrics_token: config.metrics_token.clone(),
            version,
            loaded_at: now,
        }),
        config_source: source,
        dirty: Mutex::new(Vec::new()),
        wake: Notify::new(),
        ready: Default::default(),
        health: Health::default(),
        requests: Default::default(),
        failed_auth: Default::default(),
        signals,
        sources: Default::default(),
        deliveries: Default::default(),
        alerting,
        oncall,
    };
    Ok(AppState(Arc::new(inner)))
}

/// Re-reads the config; on success swaps the SLO set, on failure keeps the running one.
/// Returns the number of SLOs, or the problems.
pub async fn reload(state: &AppState) -> Result<usize, Vec<String>> {
    let now = state.now();
    match load_config_text(&state.config_source) {
        Ok(Loaded {
            config,
            version,
            text,
        }) => {
            let n = config.slos.len();
            if let Err(e) = state.alerting.reload(&config, text, now).await {
                Health::add(&state.health.reloads_failed, 1);
                return Err(vec![format!("routing refused: {e}")]);
            }
            state.oncall.reload(&config);
            state.signals.replace(&config);
            if let Err(e) = state.engine.replace_slos(config.slos.clone()) {
                Health::add(&state.health.reloads_failed, 1);
                return Err(vec![format!("SLI store refused the new SLOs: {e}")]);
            }
            *state.config.write().expect("config lock") = RunningConfig {
                anonymous_read: config.anonymous_read,
                metrics_token: config.metrics_token.clone(),
                version: version.clone(),
                loaded_at: now,
            };
            Health::add(&state.health.reloads_ok, 1);
            if let Err(e) = state
                .store
                .record_config(&version, now, true, "reloaded")
                .await
            {
                tracing::warn!(error = %e, "could not record the reload");
            }
            sources::restart(state, &config).await;
            let ids: Vec<String> = config.slos.iter().map(|s| s.id.to_string()).collect();
            alerting::resolve_removed_slos(state, &ids).await;
            evaluate(state, None).await;
            tracing::info!(slos = n, "config reloaded");
            Ok(n)
        }
        Err(problems) => {
            Health::add(&state.health.reloads_failed, 1);
            let msg = problems.join("\n");
            tracing::error!(problems = %msg, "config reload refused; the running config stays");
            if let Err(e) = state.store.record_config("", now, false, &msg).await {
                tracing::warn!(error = %e, "could not record the refused reload");
            }
            Err(problems)
        }
    }
}

/// Evaluates (one SLO or all) now and stores the transitions.
pub async fn evaluate(state: &AppState, only: Option<&str>) -> Vec<AlertTransition> {
    let now = state.now();
    let transitions = state.engine.evaluate(only, now);
    Health::add(&state.health.evaluations, 1);
    if !transitions.is_empty() {
        let rows: Vec<headroom_store::AlertTransition> = transitions
            .iter()
            .map(|t| headroom_store::AlertTransition {
                at: t.at,
                slo: t.slo.clone(),
                group: t.group.clone(),
                severity: t.severity.clone(),
                from: t.from.as_str().to_string(),
                to: t.to.as_str().to_string(),
                values_json: serde_json::to_string(&t.burn_rates).unwrap_or_default(),
            })
            .collect();
        for t in &transitions {
            tracing::info!(slo = %t.slo, group = %t.group, alert = %t.severity, from = t.from.as_str(), to = t.to.as_str(), "alert transition");
        }
        if let Err(e) = state.store.record_transitions(&rows).await {
            tracing::error!(error = %e, "could not store alert transitions");
        }
        let slos = state.engine.slos();
        let alerts: Vec<_> = transitions
            .iter()
            .filter_map(|t| {
                let slo = slos.iter().find(|s| s.id.as_str() == t.slo)?;
                alerting::own_alert(slo, t, &state.alerting.external_url)
            })
            .collect();
        if let Err(e) = alerting::accept(state, alerts, "headroom").await {
            tracing::error!(error = %e.detail, "could not route headroom's own alerts");
        }
    }
    transitions
}

/// The evaluator: re-evaluates SLOs whose data changed as soon as it changes, and every SLO when a
/// minute bucket closes, so no fixed interval delays a page.
pub async fn run_evaluator(state: AppState) {
    loop {
        let now = state.now();
        // The next minute boundary, or sooner a pending alert's `for` running out.
        let next_bucket = now.floor(Span::MINUTE) + Span::MINUTE;
        let wake_at = state
            .engine
            .next_deadline()
            .map_or(next_bucket, |d| d.max(now).min(next_bucket));
        let wait = Duration::from_millis((wake_at - now).millis().max(1) as u64);
        tokio::select! {
            _ = state.wake.notified() => {
                let dirty = std::mem::take(&mut *state.dirty.lock().expect("dirty lock"));
                for slo in dirty {
                    evaluate(&state, Some(&slo)).await;
                }
            }
            _ = tokio::time::sleep(wait) => {
                evaluate(&state, None).await;
            }
        }
    }
}

/// Snapshots the SLI store every `CHECKPOINT_EVERY`, or sooner once its log passes
/// `CHECKPOINT_LOG_BYTES`, so a restart replays little.
async fn run_checkpoints(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut last = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        if last.elapsed() >= CHECKPOINT_EVERY
            || state.engine.tsdb().wal_bytes() >= CHECKPOINT_LOG_BYTES
        {
            checkpoint(&state).await;
            last = tokio::time::Instant::now();
        }
    }
}

async fn checkpoint(state: &AppState) {
    let st = state.clone();
    match tokio::task::spawn_blocking(move || st.engine.tsdb().checkpoint()).await {
        Ok(Ok(())) => state
            .health
            .last_checkpoint_ms
            .store(state.now().0 as u64, Ordering::Relaxed),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "SLI checkpoint failed; the write-ahead log still holds everything")
        }
        Err(e) => tracing::error!(error = %e, "SLI checkpoint panicked"),
    }
}

async fn run_self_measurement(state: AppState) {
    let mut tick = tokio::time::interval(SELF_FLUSH_EVERY);
    loop {
        tick.tick().await;
        let st = state.clone();
        let now = state.now();
        let _ = tokio::task::spawn_blocking(move || st.requests.flush(&st, now)).await;
    }
}

/// `headroom serve`: opens storage, prints a first admin token on an empty database, starts the
/// workers, and serves until SIGINT/SIGTERM (then writes a final snapshot).
pub async fn serve(opts: ServeOptions) -> Result<(), ServeError> {
    let source = match &opts.config {
        Some(paths) => ConfigSource::Paths(paths.clone()),
        None => ConfigSource::Embedded {
            listen: opts.listen,
        },
    };
    // Validate before touching storage, so a bad config changes nothing.
    let loaded = load_config_text(&source).map_err(ServeError::Config)?;
    let config = loaded.config.clone();
    let acceptor = match &opts.tls {
        Some((cert, key)) => Some(tls::acceptor(cert, key)?),
        None => None,
    };
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    std::fs::create_dir_all(&opts.data_dir).map_err(|source| ServeError::DataDir {
        path: opts.data_dir.clone(),
        source,
    })?;
    let db = match &opts.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", opts.data_dir.join("headroom.db").display()),
    };
    let store = Store::open(&db).await?;
    let clock = state::system_clock();
    if store.count_tokens().await? == 0 {
        let (_, token) = store
            .create_token("admin (created at first start)", Scope::Admin, clock())
            .await?;
        println!(
            "First start: created an admin token. It is shown only this once:\n\n    {token}\n"
        );
    }
    let tsdb_dir = opts.data_dir.join("sli");
    let tsdb = tokio::task::spawn_blocking(move || Tsdb::open(&tsdb_dir, Default::default()))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
    let external_url = Some(
        opts.external_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{}", opts.listen)),
    );
    let state = build_state_from(source, loaded, external_url, tsdb, store, clock).await?;
    evaluate(&state, None).await;
    state.ready.store(true, Ordering::Release);

    let _ = state.deliveries.set(sources::start_delivery(state.clone()));
    sources::restart(&state, &config).await;
    tokio::spawn(run_evaluator(state.clone()));
    tokio::spawn(alerting::run_dispatch(state.clone()));
    tokio::spawn(outbox::run_sender(state.clone()));
    tokio::spawn(escalation::run_escalations(state.clone()));
    tokio::spawn(run_checkpoints(state.clone()));
    tokio::spawn(run_self_measurement(state.clone()));
    tokio::spawn(reload_on_sighup(state.clone()));

    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: opts.listen,
            source,
        })?;
    let n = state.engine.slos().len();
    tracing::info!(addr = %opts.listen, slos = n, "headroom is serving");
    println!(
        "headroom listening on {scheme}://{} with {n} SLOs",
        opts.listen
    );
    listener::serve(
        listener,
        acceptor,
        app(state.clone()),
        opts.limits,
        shutdown_signal(),
    )
    .await;
    checkpoint(&state).await;
    Ok(())
}

async fn reload_on_sighup(state: AppState) {
    #[cfg(unix)]
    {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            let _ = reload(&state).await;
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
