//! Shared server state: the engine, the state store, the clock, the running config.

use std::net::SocketAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use headroom_core::Timestamp;
use headroom_engine::Engine;
use headroom_store::Store;
use tokio::sync::Notify;

use crate::selfmon::RequestTally;

/// Where the running config came from, so a reload reads the same place.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// The quickstart config compiled into the binary; its probes watch headroom at `listen`.
    Embedded {
        listen: SocketAddr,
    },
    Paths(Vec<PathBuf>),
}

impl ConfigSource {
    /// The quickstart config for a server on the default address.
    pub fn embedded() -> Self {
        ConfigSource::Embedded {
            listen: SocketAddr::from(([127, 0, 0, 1], 7979)),
        }
    }
}

/// The facts of the config in force.
#[derive(Debug, Clone)]
pub struct RunningConfig {
    pub anonymous_read: bool,
    /// The config's `metrics_token`: reads `/metrics` only.
    pub metrics_token: Option<String>,
    /// SHA-256 of the config text, to tell reloads apart.
    pub version: String,
    pub loaded_at: Timestamp,
}

pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The wall clock, in milliseconds.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(d.as_millis() as i64)
    })
}

/// Counters for headroom's own health on /metrics.
#[derive(Debug, Default)]
pub struct Health {
    pub events_ingested: AtomicU64,
    pub batches_rejected: AtomicU64,
    pub batches_duplicate: AtomicU64,
    pub evaluations: AtomicU64,
    pub reloads_ok: AtomicU64,
    pub reloads_failed: AtomicU64,
    pub last_checkpoint_ms: AtomicU64,
}

impl Health {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

pub struct Inner {
    pub engine: Engine,
    pub store: Store,
    pub clock: Clock,
    pub config: RwLock<RunningConfig>,
    pub config_source: ConfigSource,
    /// Wakes the evaluator when an SLO's data changed.
    pub dirty: Mutex<Vec<String>>,
    pub wake: Notify,
    pub ready: AtomicBool,
    pub health: Health,
    pub requests: RequestTally,
    /// Wrong credentials per client address (see `auth`).
    pub failed_auth: crate::auth::FailedAuth,
    pub signals: crate::signals::Signals,
    /// The running probes, scrape jobs and backend followers; replaced on reload.
    pub sources: tokio::sync::Mutex<Option<crate::sources::Sources>>,
    /// Where sources send their increments (set once the delivery task runs).
    pub deliveries: std::sync::OnceLock<crate::sources::Deliveries>,
    /// Alerts in, notifications out: the dispatcher, silences and the outbox's wake-ups.
    pub alerting: crate::alerting::Alerting,
    /// The on-call directory, escalation policies and the action link key.
    pub oncall: crate::oncall::OnCall,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }
    pub fn anonymous_read(&self) -> bool {
        self.config.read().expect("config lock").anonymous_read
    }
    /// Marks an SLO for re-evaluation and wakes the evaluator.
    pub fn touch(&self, slo: &str) {
        let mut d = self.dirty.lock().expect("dirty lock");
        if !d.iter().any(|s| s == slo) {
            d.push(slo.to_string());
        }
        drop(d);
        self.wake.notify_one();
    }
}
