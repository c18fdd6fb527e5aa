//! Synthetic probes: HTTP(S), TCP, DNS, TLS and heartbeat checks, judged by conditions written
//! in Gatus's syntax so existing Gatus checks carry over unchanged.
//!
//! What the crate owns:
//! - [`condition`]: the condition language (`[STATUS] == 200`, `[BODY].data[0].id == 1`,
//!   `len()`, `has()`, `pat()`, `any()`), parsed with column-located errors and evaluated
//!   against an [`Observation`].
//! - [`spec`]: what a probe is ([`ProbeSpec`], [`ProbeKind`]) and what a run produced
//!   ([`ProbeResult`]). Pure data, always compiled, so the config loader needs no runtime.
//! - [`dns`]: what a DNS probe asks (the query name) and how answers read to conditions
//!   (Gatus's rcode names and `[BODY]` text), over hickory-proto's messages; no network.
//! - [`cert`]: a certificate's notAfter, pure and small instead of an X.509 dependency.
//! - With feature `run`: [`run::execute`] runs one probe (reqwest with rustls, tokio-rustls,
//!   hickory-net's UDP and TCP DNS clients), and [`fleet::ProbeFleet`] schedules a
//!   configuration's probes.
//!
//! Invariants:
//! - A run never outlasts its timeout (a DNS run's nameservers, and its TCP retries of
//!   truncated answers, share it), and the fleet clamps the timeout to the interval, so a
//!   probe never overlaps itself; at most `max_concurrency` runs are in flight per fleet.
//! - `success` is true only when the target was observed (`error` is `None`) and every
//!   condition passed; a probe without conditions is judged by its kind's defaults.
//! - Conditions see the body only when one of them needs it; bodies are read up to 1 MiB.
//! - A probe's first run is offset within its interval by a stable hash of its name.

pub mod cert;
pub mod condition;
pub mod dns;
pub mod spec;

#[cfg(feature = "run")]
pub mod fleet;
#[cfg(feature = "run")]
pub mod run;

pub use condition::{
    BodyPath, Condition, ConditionError, Observation, Operand, Operator, Outcome, PathSegment,
    Placeholder, parse,
};
#[cfg(feature = "run")]
pub use fleet::{HeartbeatBoard, ProbeFleet, ResultSink, WallClock};
#[cfg(feature = "run")]
pub use run::{Clients, execute};
pub use spec::{
    ClientCert, DnsProbe, HttpProbe, ProbeKind, ProbeResult, ProbeSpec, RecordType, Resolver,
    TcpProbe, TlsProbe, Transport,
};
