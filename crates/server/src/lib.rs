//! The headroom server: the HTTP edge of the service (`headroom_service`). Routes, the auth
//! extractors, JSON shapes, /metrics and health; handlers authenticate, parse, call the service
//! and shape its answer.
//!
//! `app(service)` builds the whole `Router` without a socket (tests drive it with `oneshot`);
//! `serve(options)` opens storage, starts the service's workers and listens.
//!
//! Modules depend on those listed before them only (a test checks that no `crate::` reference
//! makes a circle): `error`, `failed_auth`, `html`, `limits`, `listener`, `tls`; `state`; `auth`;
//! `metrics`, `selfmon`; the handler modules; `escalation`, whose JSON shares `oncall`'s times.

pub mod error;
pub mod failed_auth;
pub mod html;
pub mod limits;
pub mod listener;
pub mod tls;

pub mod state;

pub mod auth;

pub mod metrics;
pub mod selfmon;

pub mod alertmanager;
pub mod api;
pub mod incidents;
pub mod oncall;
pub mod openapi;
pub mod pagerduty;
pub mod probes;
pub mod remote_write;

pub mod escalation;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use headroom_service::workers::{self, checkpoint};
use headroom_service::{
    ConfigSource, Headroom, StartError, build_state_from, evaluate, load_config_text, reload,
    system_clock,
};
use headroom_store::{Scope, Store, TokenStore};
use headroom_tsdb::Tsdb;

pub use crate::limits::MAX_BODY_BYTES;
use crate::state::AppState;

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

impl From<StartError> for ServeError {
    fn from(e: StartError) -> Self {
        match e {
            StartError::Config(problems) => ServeError::Config(problems),
            StartError::Store(e) => ServeError::Store(e),
            StartError::Tsdb(e) => ServeError::Tsdb(e),
        }
    }
}

/// Builds the router over the service: API, compatibility paths, metrics and health.
pub fn app(service: Headroom) -> Router {
    let state = AppState::new(service);
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
    let clock = system_clock();
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

    workers::start(&state, &config).await;
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

async fn reload_on_sighup(state: Headroom) {
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
