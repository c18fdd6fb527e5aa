//! headroom's SLI store: aggregated (good, total) counters per series in time buckets, with
//! O(1) window sums, kept durably in a write-ahead log and snapshots.
//!
//! Never raw events. Synchronous and thread-safe; the crate never reads the clock (`now` is
//! always an argument) and the server wraps it for async use.
//!
//! # Data model
//! A series is one SLO, or one group of a grouped SLO ([`SeriesKey`]). Its [`SeriesConfig`] says
//! how far back it answers (`retention`) and, for Timeslices / RatioTimeslices SLOs, how wide a
//! slice is and how it is judged ([`SliceRule`]).
//!
//! Each [`Series`] holds up to three levels, each a ring of buckets:
//!
//! | level | bucket | span kept                                                   |
//! |-------|--------|-------------------------------------------------------------|
//! | 0     | 1 min  | 26 h (or the retention, if shorter)                         |
//! | 1     | 1 h    | the retention (+2 buckets), or 35 d when retention is longer |
//! | 2     | 1 d    | the retention (+2 buckets), only when retention > 35 d      |
//!
//! A 30-day SLO (31 d retention) holds 1560 + 746 buckets of 16 bytes: about 37 KB.
//!
//! A series with slices also keeps slice tallies: for `SliceKind::Threshold` (slices with data,
//! good slices) as `u32` (8 bytes a slot), for `SliceKind::Ratio` (slices with data, ratio sum)
//! as f64 (16 bytes a slot); at level 0 **one slot per slice** over level 0's span, plus one
//! (`ceil(span / width) + 1`; one per minute for 1-minute slices), at the coarser levels one per
//! bucket. A 30-day SLO with Threshold slices holds about 55.6 KB with 1-minute slices (1560
//! slice slots at level 0), under 64 KiB, and about 45.4 KB with 5-minute slices (313); with
//! Ratio slices about 74.1 KB and 54.1 KB.
//!
//! # Invariants
//! - **Every event is added to every level** whose span still holds its bucket. There is no
//!   roll-up step, so nothing is counted twice or lost between levels.
//! - **Slots hold prefix sums.** A slot holds the sum of all buckets up to and including its
//!   own, relative to an origin; `floor` holds the sum just before the oldest bucket. Any
//!   window is a difference of two slots: O(1). A late write into bucket `b` adds its delta to
//!   every prefix from `b` to the newest bucket (O(buckets after b), rare). Eviction moves
//!   `floor` forward; once per turn of the ring the origin is moved to `floor` (O(len) per len
//!   buckets, amortized O(1)) so values stay small and precise. Counts and ratio sums are f64:
//!   integer counts stay exact below 2^53. Threshold slice tallies are whole numbers in wrapping
//!   `u32` arithmetic, read relative to `floor`: every difference is exact, since no ring holds
//!   2^31 slices.
//! - **Levels advance together**, driven by the data and by explicit `advance(now)`. Every
//!   coarser level spans more than the finer one plus two of its own buckets, so the coarse
//!   bucket holding a finer level's oldest instant is always whole.
//! - **Queries.** `counts(from, to)` takes each part of `[from, to)` from the finest level that
//!   covers it, handing over to a finer level at the first coarse bucket boundary that level
//!   covers. Hence: **exact to the minute within the last 26 h; exact on hour boundaries within
//!   the hourly level**; where `from` lies inside a coarse bucket (or `to` does, for ranges
//!   entirely older than the finer level), that bucket is **prorated linearly** by the fraction
//!   of it inside the range. The same rule applies to a partial minute. Data older than the
//!   coarsest level is gone; a range beyond the newest bucket adds nothing.
//! - **Slices** are aligned to multiples of their width since the epoch. A slice is judged
//!   from its level-0 minutes; level 0 holds a slice when it holds the minute the slice starts
//!   in. When an event lands in a slice level 0 holds, the slice is judged before and after and
//!   the difference of (slices with data, good slices, ratio) is added to every level's slice
//!   prefix sums, in the bucket holding the slice's start (at level 0, in the slice's own slot,
//!   which stands for that minute). A late event for a slice older than level 0 updates the
//!   counts but not the slice tallies. `slices(from, to)` is the tally of slices whose start
//!   lies in `[from, to)`, by the same level and proration rules as counts: at level 0 a slice
//!   counts as if in its start minute (prorated only when `from` or `to` falls inside that
//!   minute), and a slot whose slice starts before level 0's oldest minute counts nothing (it
//!   stays in the prefix sums until its slot is reused). For `SliceKind::Ratio`, `good` stays 0;
//!   for `SliceKind::Threshold`, `ratio_sum` stays 0 (it is not kept). Prorating converts to f64
//!   at query time.
//! - **Validation.** A batch is checked whole before anything is applied: unknown series,
//!   non-finite or negative counts, good > total, older than `now - retention` (`TooOld`) or
//!   later than `now + max_future` (`TooFarInFuture`). Routed increments (`log_routed`) are the
//!   exception: a sample its series cannot take is left out and counted, and the rest is
//!   written with the baseline moves, since the source did move past it.
//!
//! # Durability
//! A directory holds `snapshot.bin` and `wal-<generation, 16 hex digits>.log` files.
//! Restart = load the snapshot, then replay every log of its generation or later.
//!
//! **One store per directory.** `Tsdb::open` takes an exclusive advisory lock (`flock`) on the
//! file `LOCK` in the directory, held until the `Tsdb` is dropped (or the process dies), and
//! fails with `TsdbError::Locked` ("another headroom process is using DIR") if another holds it:
//! another process, or another open `Tsdb` in this one.
//!
//! **Frame** (shared by both formats): `len: u32 LE`, `crc32: u32 LE` (of the payload),
//! `payload[len]`. All integers and floats are little-endian; strings are `u32 len + UTF-8`.
//!
//! **Write-ahead log**: the magic `HRTSWAL1`, then one frame per record. A record's payload is
//! `lsn: u64` (strictly increasing across files), `kind: u8` and its fields:
//! - `1` configure: key (slo, group), config (`retention_ms: i64`, slice kind `u8` 0 none /
//!   1 threshold / 2 ratio, then `width_ms: i64`, `target: f64`);
//! - `2` remove: key;
//! - `3` append: `now: i64`, idempotency key (`u8` flag + string), a key table
//!   (`u32` count + keys), samples (`u32` count + `key_index: u32, at_ms: i64, good: f64,
//!   total: f64`);
//! - `4` advance: `now: i64`;
//! - `5` routed append (added later; older logs simply hold none): `now: i64`, the key table
//!   and samples as in `3`, then baseline moves (`u32` count + per move a tag `u8` and its key:
//!   `1` set a series' baseline (16-byte digest, `at: i64`, `value: f64`), `2` set a follower's
//!   (SLO id string, `at`, `value`), `3` forget a series' (digest), `4` forget a follower's (id)).
//!
//! Appends are serialized; each writes its record (one `write`) and applies it under the
//! writers' lock, so log order is apply order, then waits outside every lock until the record
//! is fdatasync'd. **Group commit**: the first waiter that finds no fsync in flight syncs the
//! log up to everything written so far and wakes all the others it covered. `append` returns
//! `Ok` only after its record is durable; readers never wait on the disk (they may see a batch
//! a moment before it is durable). A failed write is cut off the file; a failed fsync makes
//! the store refuse writes until restarted (the page cache can no longer be trusted).
//!
//! On open, each log is read up to its first short, oversized or checksum-failing frame, or a
//! sequence number that goes backwards. In the newest log that is a crash artefact: the tail is
//! truncated and the store opens with every record before it. In an older log it is real damage
//! (older logs are fsync'd whole before the next one starts) and open fails.
//!
//! **Snapshot**: the magic `HRTSSNP1`, then frames whose payload begins with a kind byte:
//! - `0` header: `format_version: u32` (4; 3 is still read, as holding no baselines),
//!   `wal_generation: u64`, `next_lsn: u64`,
//!   `clock: i64`, idempotency keys (`u64` count + key string, `lsn: u64`, `seen_at: i64`);
//! - `1` series, one per series: key, config, `applied_lsn: u64`, `started: u8`,
//!   `levels: u8`, then per level `width_ms: i64, len: u32, head: i64`, counts `floor` and
//!   `len` slots of (good, total) f64, and, for slice series, slices `floor` and their slots,
//!   of (slices, good) `u32` for Threshold slices or of (slices, ratio_sum) f64 for Ratio slices:
//!   at level 0 `ceil(len minutes / slice width) + 1` slots (or
//!   `len` for 1-minute slices), slot of slice `k` (start `k × width` since the epoch) at
//!   `k mod slots`, the newest being the slice holding the start of bucket `head`; at coarser
//!   levels `len` slots, like the counts. All in slot order: the rings as they are in memory, so
//!   loading is a straight read and little-endian decode;
//! - `3` baselines (version 4), after every series, in blocks of at most 65,536: moves as in
//!   the log's record `5`, sets only;
//! - `2` end: `series_count: u64`, and in version 4 `baseline_count: u64`.
//!
//! `checkpoint` rotates the log (fsync the old one, create and fsync the next generation), then
//! copies each series under its own lock into `snapshot.tmp`, fsyncs it, renames it over
//! `snapshot.bin`, fsyncs the directory and deletes the older logs. Appends go on meanwhile.
//! Each series records the `lsn` of the last record applied to it, and replay skips records at
//! or below it for that series: so a series copied after some post-rotation appends is not
//! counted twice. Before the rename, the log is made durable up to the newest record any copied
//! series reflects, so a batch copied into some series and not yet into others is always
//! completed by replay, even after a power cut. Idempotency keys are copied at rotation, and replay re-adds later ones.
//! A damaged snapshot fails the open (it is only ever replaced whole, so damage is not a crash
//! artefact). Leftover `snapshot.tmp` and logs older than the snapshot are removed at open.
//!
//! **Baselines** say where each source of counter increments stood when the increments logged
//! with it were taken: a counter series' last accepted sample (named by a digest of its labels,
//! which the caller computes), or the last step end a backend follower stored. They travel in
//! the same record as those increments (`log_routed`), so after a crash the store holds both or
//! neither, and a source resuming from its baseline counts nothing twice and skips nothing.
//! Records move them in log order under the writers' lock; a snapshot copies them at rotation,
//! like idempotency keys, and replay applies the moves of later records again (absolute values,
//! so replaying is idempotent). Memory: a 32-byte hash-map entry a series (some 40–70 bytes with
//! the map's spare room).
//!
//! **Idempotency keys** are opaque strings (the server scopes them), remembered with the record
//! that carried them for `idempotency_ttl` (24 h) of `now`; they live in append records and
//! the snapshot header, so a retry after a restart is still a duplicate.

mod baseline;
mod codec;
mod db;
mod error;
mod series;
mod snapshot;
mod wal;

pub use baseline::{Baseline, BaselineKey, BaselineMove};
pub use db::{AppendOutcome, Counting, Logged, Sample, SeriesHandle, Tsdb, TsdbOptions};
pub use error::TsdbError;
pub use series::{
    ConfigError, LevelInfo, SampleError, Series, SeriesConfig, SeriesKey, SliceKind, SliceRule,
    check_counts,
};
