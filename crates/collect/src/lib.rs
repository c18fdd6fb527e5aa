//! The IO edge that pulls signals in: scraping `/metrics` endpoints and querying an external
//! Prometheus-compatible backend.
//!
//! What it owns:
//! - [`scrape`]: scrape jobs (static targets and `file_sd` files), one HTTP scrape, and the
//!   [`scrape::ScrapeRunner`] that scrapes every target on its own loop and hands each scrape's
//!   series to a sink.
//! - [`backend`]: a client for the Prometheus HTTP API (`query`, `query_range`), the pure
//!   translation of an SLO's SLI queries into per-step good/total counts, and the pure
//!   [`backend::Follower`] that decides which steps to fetch next.
//!
//! Invariants:
//! - A failed scrape hands nothing to the sink; only a whole, parsed body produces samples.
//!   No staleness markers are emitted (for a failed scrape, a vanished series or a removed
//!   target): the SLI path ignores NaN samples, so they would carry nothing.
//! - Bodies are read up to a size limit, counted after decompression.
//! - A target's scrapes never overlap; stopping the runner (or dropping it) ends every task.
//! - The follower never fetches a step twice after it was reported fetched, and a failed fetch
//!   leaves its steps to be fetched again (no gap left behind by a transient error).
//! - Everything that depends on time and can be pure is: the follower and the step arithmetic
//!   take `now` and spans as arguments.

pub mod backend;
mod body;
pub mod scrape;

pub use backend::{
    Auth, Backend, BackendConfig, BackendError, Fetch, Follower, RangeSeries, Sample, StepCount,
    StepQueries, step_counts, step_queries,
};
pub use scrape::{
    Health, HttpScraper, Scheme, ScrapeError, ScrapeJob, ScrapeRunner, ScrapedSeries, Sink, Target,
    TargetHealth,
};
