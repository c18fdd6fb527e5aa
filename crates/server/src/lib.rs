//! The headroom server: the HTTP edge of the service (`headroom_service`). Routes, the auth
//! extractors, JSON shapes, /metrics and health; handlers authenticate, parse, call the service
//! and shape its answer.
//!
//! `app(service)` builds the whole `Router` without a socket (tests drive it with `oneshot`);
//! `serve(options)` opens storage, starts the service's workers and listens.
//!
//! Modules depend on those listed before them only (a test checks that no `crate::` reference
//! makes a circle): `error`, `failed_auth`, `html`, `limits`, `listener`, `tls`; `state`; `auth`;
//! `metrics`, `selfmon`; the handler modules (`actions`, `canary`, `deliveries`, `dora` and `gates` among them); `escalation`, whose JSON shares `oncall`'s times;
//! `openapi`, the one list of routes the router and its document are built from.

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

pub mod actions;
pub mod alertmanager;
pub mod api;
pub mod canary;
pub mod deliveries;
pub mod dora;
pub mod gates;
pub mod health;
pub mod incidents;
pub mod oncall;
pub mod pagerduty;
pub mod probes;
pub mod remote_write;

pub mod escalation;

pub mod openapi;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::DefaultBodyLimit;
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

/// Builds the router over the service: API, compatibility paths, metrics and health, every
/// route from the documented list in [`openapi`].
pub fn app(service: Headroom) -> Router {
    let state = AppState::new(service);
    openapi::routes()
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
