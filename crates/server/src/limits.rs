//! Bounds the HTTP edge keeps itself: request bodies, and the remote_write bodies it decodes.
//! The service's own bounds (alerts, silences, timelines…) are in `headroom_service::limits`.

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Largest decompressed remote_write request: Prometheus sends well under 1 MiB (2,000 samples
/// per request by default), vmagent at most 8 MiB; the limit is checked against the snappy
/// header before any allocation.
pub const MAX_DECOMPRESSED: usize = 16 << 20;
/// remote_write bodies decoded at once. Decoding is CPU-bound, so more would not finish sooner;
/// the rest wait holding only their compressed bytes, which bounds memory to about
/// `DECODE_SLOTS × (MAX_DECOMPRESSED + its parsed form)` plus the bodies in flight.
pub const DECODE_SLOTS: usize = 2;
