//! The store: many series, a write-ahead log with group commit, snapshots, idempotency keys.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{
    Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard,
};

use headroom_core::{Span, Timestamp};

use crate::baseline::{Baseline, BaselineKey, BaselineMove, Baselines};
use crate::error::TsdbError;
use crate::series::{SampleError, Series, SeriesConfig, SeriesKey, check_counts, check_increment};
use crate::snapshot::{self, SNAPSHOT_TMP, SnapshotHeader, SnapshotWriter};
use crate::wal::{self, LoggedSample, Record, WalFile, WriteFailure};

/// Tunables of a [`Tsdb`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsdbOptions {
    /// How far ahead of `now` a sample may be stamped (clock skew between senders).
    pub max_future: Span,
    /// How long an idempotency key is remembered, measured in the `now` of appends.
    pub idempotency_ttl: Span,
}

impl Default for TsdbOptions {
    fn default() -> Self {
        TsdbOptions {
            max_future: Span::minutes(5),
            idempotency_ttl: Span::DAY,
        }
    }
}

/// `good` of `total` events of one series at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub key: SeriesKey,
    pub at: Timestamp,
    pub good: f64,
    pub total: f64,
}

/// Routed increments written and applied by [`Tsdb::log_routed`], not yet known durable:
/// [`Tsdb::sync`] waits for that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "the record may not be durable until `Tsdb::sync` returns"]
pub struct Logged {
    lsn: u64,
    /// Samples written.
    pub samples: usize,
    /// Samples left out: their series does not exist, or cannot hold them (see [`Tsdb::append`]).
    pub dropped: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The batch is durable and counted.
    Applied { samples: usize },
    /// A batch with the same idempotency key was already accepted (and is durable); this one
    /// was ignored.
    Duplicate,
}

/// One series and the sequence number of the last log record applied to it. On replay, records
/// at or below `applied_lsn` are skipped for this series: that is what lets a snapshot be taken
/// series by series while appends go on.
struct Stored {
    series: Series,
    applied_lsn: u64,
}

struct SeriesCell(RwLock<Stored>);

impl SeriesCell {
    fn new(series: Series, applied_lsn: u64) -> Arc<Self> {
        Arc::new(SeriesCell(RwLock::new(Stored {
            series,
            applied_lsn,
        })))
    }
}

#[derive(Default)]
struct SeriesMap {
    by_key: HashMap<SeriesKey, Arc<SeriesCell>>,
    groups: BTreeMap<String, BTreeSet<String>>,
}

impl SeriesMap {
    fn insert(&mut self, key: SeriesKey, cell: Arc<SeriesCell>) {
        self.groups
            .entry(key.slo.clone())
            .or_default()
            .insert(key.group.clone());
        self.by_key.insert(key, cell);
    }
    fn remove(&mut self, key: &SeriesKey) {
        self.by_key.remove(key);
        if let Some(groups) = self.groups.get_mut(&key.slo) {
            groups.remove(&key.group);
            if groups.is_empty() {
                self.groups.remove(&key.slo);
            }
        }
    }
}

/// Idempotency keys seen within the TTL, with the record that carried them.
#[derive(Default)]
struct Idempotency {
    keys: HashMap<String, (u64, Timestamp)>,
    inserts_since_prune: usize,
}

impl Idempotency {
    fn get(&self, key: &str, now: Timestamp, ttl: Span) -> Option<u64> {
        let &(lsn, seen_at) = self.keys.get(key)?;
        (seen_at > now - ttl).then_some(lsn)
    }
    fn insert(&mut self, key: String, lsn: u64, seen_at: Timestamp) {
        self.keys.insert(key, (lsn, seen_at));
        self.inserts_since_prune += 1;
    }
    /// Drops expired keys, every so often so the cost per insert stays constant.
    fn prune(&mut self, horizon: Timestamp, force: bool) {
        if force || self.inserts_since_prune >= (self.keys.len() / 2).max(4096) {
            self.keys.retain(|_, (_, seen_at)| *seen_at > horizon);
            self.inserts_since_prune = 0;
        }
    }
}

/// What writers share, behind one mutex: the log is written in the order records are applied.
struct Appender {
    next_lsn: u64,
    /// The latest `now` seen, for expiring idempotency keys.
    clock: Timestamp,
    /// The minute every series was last advanced to: a second `advance` within it is a no-op.
    advanced_to: i64,
    idempotency: Idempotency,
    /// Changed only by records, in log order, under this lock: what a snapshot copies at rotation.
    baselines: Baselines,
    wal: Option<WalFile>,
    /// Set when the log may hold a partial record: no further writes are safe.
    broken: Option<String>,
    buf: Vec<u8>,
}

impl Appender {
    fn new(next_lsn: u64, clock: Timestamp) -> Self {
        Appender {
            next_lsn,
            clock,
            advanced_to: i64::MIN,
            idempotency: Idempotency::default(),
            baselines: Baselines::default(),
            wal: None,
            broken: None,
            buf: Vec::new(),
        }
    }

    /// Writes one record (not yet fsync'd) and returns its sequence number.
    fn log(
        &mut self,
        durability: Option<&Durability>,
        body: impl FnOnce(&mut crate::codec::Enc<'_>),
    ) -> Result<u64, TsdbError> {
        if let Some(reason) = &self.broken {
            return Err(TsdbError::Failed {
                reason: reason.clone(),
            });
        }
        let lsn = self.next_lsn;
        if let (Some(wal), Some(durability)) = (&mut self.wal, durability) {
            self.buf.clear();
            wal::frame_record(&mut self.buf, lsn, body);
            match wal.write(&self.buf) {
                Ok(()) => lock(&durability.tail).written_lsn = lsn,
                Err(WriteFailure::Recovered(e)) => {
                    return Err(TsdbError::io("append to", &wal.path)(e));
                }
                Err(WriteFailure::Broken(reason)) => {
                    self.broken = Some(reason.clone());
                    return Err(TsdbError::Failed { reason });
                }
            }
        }
        self.next_lsn += 1;
        Ok(lsn)
    }
}

/// The newest log file and how far it has been written, for whoever fsyncs next.
struct SyncTarget {
    file: Arc<File>,
    written_lsn: u64,
}

struct SyncState {
    durable_lsn: u64,
    syncing: bool,
    failure: Option<String>,
}

/// Group commit: appenders wait for their record to be durable; the first waiter to find no
/// fsync in flight runs one for everything written so far, and the others ride along.
struct Durability {
    dir: PathBuf,
    /// The `LOCK` file, exclusively locked (advisory, `flock`) for the life of the store so no
    /// other process (or other `Tsdb` in this one) uses the directory; closing it unlocks.
    _lock: File,
    tail: Mutex<SyncTarget>,
    state: Mutex<SyncState>,
    synced: Condvar,
}

impl Durability {
    fn check(&self) -> Result<(), TsdbError> {
        match &lock(&self.state).failure {
            Some(reason) => Err(TsdbError::Failed {
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    fn wait(&self, lsn: u64) -> Result<(), TsdbError> {
        let mut st = lock(&self.state);
        loop {
            if let Some(reason) = &st.failure {
                return Err(TsdbError::Failed {
                    reason: reason.clone(),
                });
            }
            if st.durable_lsn >= lsn {
                return Ok(());
            }
            if st.syncing {
                st = self.synced.wait(st).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            st.syncing = true;
            drop(st);
            let (file, target) = {
                let t = lock(&self.tail);
                (Arc::clone(&t.file), t.written_lsn)
            };
            let result = file.sync_data();
            st = lock(&self.state);
            st.syncing = false;
            match result {
                Ok(()) => st.durable_lsn = st.durable_lsn.max(target),
                Err(e) => st.failure = Some(format!("fsync of the log failed: {e}")),
            }
            self.synced.notify_all();
        }
    }

    fn mark_durable(&self, lsn: u64) {
        let mut st = lock(&self.state);
        st.durable_lsn = st.durable_lsn.max(lsn);
        self.synced.notify_all();
    }

    fn fail(&self, reason: String) {
        lock(&self.state).failure = Some(reason);
        self.synced.notify_all();
    }
}

/// See [`Tsdb::handle`].
#[derive(Clone)]
pub struct SeriesHandle(Arc<SeriesCell>);

impl SeriesHandle {
    /// Starts loading the series' header without waiting (see [`Series::prefetch_levels`]).
    pub fn prefetch(&self) {
        crate::series::prefetch(&*self.0);
    }

    /// Runs `f` on the series under its read lock.
    pub fn read<R>(&self, f: impl FnOnce(&Series) -> R) -> R {
        f(&read(&self.0.0).series)
    }
}

impl std::fmt::Debug for SeriesHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeriesHandle")
    }
}

/// An embedded, durable store of aggregated SLI counters. See the crate docs for the formats.
///
/// All methods take `&self`; share it in an `Arc`. Appends are serialized among themselves but
/// wait for fsync outside every lock, so reads never wait on the disk.
pub struct Tsdb {
    options: TsdbOptions,
    series: RwLock<SeriesMap>,
    appender: Mutex<Appender>,
    /// `None` for an in-memory store.
    durability: Option<Durability>,
    checkpointing: Mutex<()>,
}

const MINUTE: i64 = Span::MINUTE.0;
/// Locked while a store has the directory open.
pub(crate) const LOCK_FILE: &str = "LOCK";

/// Takes the exclusive lock on `dir/LOCK`, creating the file if need be.
fn lock_dir(dir: &Path) -> Result<File, TsdbError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(TsdbError::io("open", &path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(TsdbError::Locked {
            dir: dir.to_owned(),
        }),
        Err(TryLockError::Error(e)) => Err(TsdbError::io("lock", &path)(e)),
    }
}

impl Tsdb {
    /// A store without files, for backtests and benchmarks: `append` returns once applied.
    pub fn in_memory() -> Tsdb {
        Tsdb::in_memory_with(TsdbOptions::default())
    }

    pub fn in_memory_with(options: TsdbOptions) -> Tsdb {
        Tsdb {
            options,
            series: RwLock::default(),
            appender: Mutex::new(Appender::new(1, Timestamp::default())),
            durability: None,
            checkpointing: Mutex::new(()),
        }
    }

    /// Opens (or creates) the store in `dir`: loads the snapshot, replays the logs after it, and
    /// cuts off a torn or corrupt tail of the newest log. One process at a time may use `dir`.
    pub fn open(dir: &Path, options: TsdbOptions) -> Result<Tsdb, TsdbError> {
        fs::create_dir_all(dir).map_err(TsdbError::io("create directory", dir))?;
        let lock_file = lock_dir(dir)?;
        let tmp = dir.join(SNAPSHOT_TMP);
        if tmp.exists() {
            // A checkpoint that crashed before its rename: the previous snapshot still stands.
            fs::remove_file(&tmp).map_err(TsdbError::io("remove", &tmp))?;
        }
        let mut map = SeriesMap::default();
        let header = snapshot::load(dir, |s| {
            map.insert(s.key, SeriesCell::new(s.series, s.applied_lsn));
        })?
        .unwrap_or(SnapshotHeader {
            wal_generation: 1,
            next_lsn: 1,
            ..SnapshotHeader::default()
        });
        let mut app = Appender::new(header.next_lsn, header.clock);
        app.baselines = header.baselines;
        for (key, lsn, seen_at) in header.idempotency {
            app.idempotency.insert(key, lsn, seen_at);
        }
        let max_applied = map
            .by_key
            .values()
            .map(|c| read(&c.0).applied_lsn)
            .max()
            .unwrap_or(0);
        app.next_lsn = app.next_lsn.max(max_applied + 1);

        let mut logs = Vec::new();
        for (generation, path) in wal::list_wal_files(dir)? {
            if generation < header.wal_generation {
                // Already in the snapshot; a checkpoint crashed before deleting it.
                fs::remove_file(&path).map_err(TsdbError::io("remove", &path))?;
            } else {
                logs.push((generation, path));
            }
        }
        let mut newest = None;
        for (i, (generation, path)) in logs.iter().enumerate() {
            let contents = wal::read_wal(path)?;
            let is_newest = i + 1 == logs.len();
            if let Some(reason) = contents.torn {
                if !is_newest {
                    // Older logs were fsync'd whole before the next one began: not a crash artefact.
                    return Err(TsdbError::Corrupt {
                        path: path.clone(),
                        detail: format!("{reason}, in a log that is not the newest"),
                    });
                }
                // A crash mid-write: the cut-off record was never acknowledged.
                File::options()
                    .write(true)
                    .open(path)
                    .and_then(|f| {
                        f.set_len(contents.valid_len)?;
                        f.sync_all()
                    })
                    .map_err(TsdbError::io("truncate the torn tail of", path))?;
            }
            for (lsn, record) in contents.records {
                replay(&mut map, &mut app, lsn, record).map_err(|detail| TsdbError::Corrupt {
                    path: path.clone(),
                    detail,
                })?;
            }
            if is_newest {
                newest = Some((*generation, path.clone(), contents.valid_len));
            }
        }
        let horizon = app.clock - options.idempotency_ttl;
        app.idempotency.prune(horizon, true);

        let wal = match newest {
            Some((generation, path, len)) if len >= wal::WAL_MAGIC.len() as u64 => {
                WalFile::open_end(path, generation, len)?
            }
            Some((generation, _, _)) => WalFile::create(dir, generation)?,
            None => WalFile::create(dir, header.wal_generation)?,
        };
        let last_lsn = app.next_lsn - 1;
        let durability = Durability {
            dir: dir.to_owned(),
            _lock: lock_file,
            tail: Mutex::new(SyncTarget {
                file: Arc::clone(&wal.file),
                written_lsn: last_lsn,
            }),
            state: Mutex::new(SyncState {
                durable_lsn: last_lsn,
                syncing: false,
                failure: None,
            }),
            synced: Condvar::new(),
        };
        app.wal = Some(wal);
        Ok(Tsdb {
            options,
            series: RwLock::new(map),
            appender: Mutex::new(app),
            durability: Some(durability),
            checkpointing: Mutex::new(()),
        })
    }

    pub fn options(&self) -> &TsdbOptions {
        &self.options
    }

    /// Creates a series, or re-configures it (see [`Series::reconfigured`] for what is kept).
    /// The same configuration again is a no-op. Logged, but not waited on: the next append's
    /// fsync or checkpoint makes it durable, and the server re-configures at start anyway.
    pub fn configure(&self, key: SeriesKey, config: SeriesConfig) -> Result<(), TsdbError> {
        config.validate().map_err(|error| TsdbError::Config {
            key: key.clone(),
            error,
        })?;
        let mut app = self.writer()?;
        if let Some(cell) = read(&self.series).by_key.get(&key)
            && read(&cell.0).series.config() == &config
        {
            return Ok(());
        }
        let lsn = app.log(self.durability.as_ref(), wal::configure_body(&key, &config))?;
        let mut map = write(&self.series);
        apply_configure(&mut map, key.clone(), config, lsn)
            .map_err(|error| TsdbError::Config { key, error })
    }

    /// Removes every series `keep` says no to (for a config reload); returns what was removed.
    pub fn remove_unlisted(
        &self,
        keep: impl Fn(&SeriesKey) -> bool,
    ) -> Result<Vec<SeriesKey>, TsdbError> {
        let mut app = self.writer()?;
        let mut map = write(&self.series);
        let mut doomed: Vec<SeriesKey> = map.by_key.keys().filter(|k| !keep(k)).cloned().collect();
        doomed.sort();
        for key in &doomed {
            app.log(self.durability.as_ref(), wal::remove_body(key))?;
            map.remove(key);
        }
        Ok(doomed)
    }

    /// Adds a batch of samples, all or nothing. `Ok` means durable: the batch's log record has
    /// been fdatasync'd. Every sample is checked before anything is applied; the error names
    /// the first bad one. A batch whose `idempotency_key` was accepted within the TTL is
    /// answered [`AppendOutcome::Duplicate`] (once that earlier batch is durable).
    pub fn append(
        &self,
        batch: &[Sample],
        idempotency_key: Option<&str>,
        now: Timestamp,
    ) -> Result<AppendOutcome, TsdbError> {
        self.append_as(batch, idempotency_key, now, Counting::Events)
    }

    /// As [`Tsdb::append`], for increments of counters whose good and total come from different
    /// series ([`check_increment`]): each sample need only be finite.
    pub fn append_increments(
        &self,
        batch: &[Sample],
        now: Timestamp,
    ) -> Result<AppendOutcome, TsdbError> {
        self.append_as(batch, None, now, Counting::Increments)
    }

    fn append_as(
        &self,
        batch: &[Sample],
        idempotency_key: Option<&str>,
        now: Timestamp,
        counting: Counting,
    ) -> Result<AppendOutcome, TsdbError> {
        let lsn = {
            let mut app = self.writer()?;
            if let Some(key) = idempotency_key
                && let Some(lsn) = app.idempotency.get(key, now, self.options.idempotency_ttl)
            {
                drop(app);
                self.wait_durable(lsn)?;
                return Ok(AppendOutcome::Duplicate);
            }
            let map = read(&self.series);
            let cells = self.validate(&map, batch, now, counting)?;
            let lsn = if app.wal.is_some() {
                let (keys, logged) = key_table(batch.iter().zip(cells.iter().copied()));
                app.log(
                    self.durability.as_ref(),
                    wal::append_body(now, idempotency_key, &keys, logged.iter().copied()),
                )?
            } else {
                app.log(None, |_| {})?
            };
            let mut writes: Vec<Write<'_>> = cells
                .iter()
                .zip(batch)
                .map(|(cell, s)| (&***cell, s.at, s.good, s.total))
                .collect();
            apply_writes(&mut writes, now, lsn);
            app.clock = app.clock.max(now);
            if let Some(key) = idempotency_key {
                app.idempotency.insert(key.to_owned(), lsn, now);
                let horizon = app.clock - self.options.idempotency_ttl;
                app.idempotency.prune(horizon, false);
            }
            lsn
        };
        self.wait_durable(lsn)?;
        Ok(AppendOutcome::Applied {
            samples: batch.len(),
        })
    }

    /// Writes counter increments routed from a source together with the baseline moves that
    /// produced them, as one log record, and applies both; [`Tsdb::sync`] then waits until the
    /// record is durable (a caller that must keep records in its own order writes under its
    /// lock and waits outside it, so group commit still shares fsyncs). A crash keeps the
    /// increments and the moves together or neither, so a source resuming from its stored
    /// baseline never counts a stored increment twice.
    ///
    /// Unlike [`Tsdb::append`], a sample its series cannot take (no such series, not finite,
    /// outside the series' range) is left out and counted in [`Logged::dropped`]; the moves are
    /// written regardless, since the source did move past it.
    pub fn log_routed(
        &self,
        batch: &[Sample],
        moves: &[BaselineMove],
        now: Timestamp,
    ) -> Result<Logged, TsdbError> {
        let mut app = self.writer()?;
        let map = read(&self.series);
        let (latest, latest_allowed) = self.batch_reach(batch, now);
        let kept: Vec<(&Sample, &Arc<SeriesCell>)> = batch
            .iter()
            .filter_map(|s| {
                let cell = map.by_key.get(&s.key)?;
                let series = &read(&cell.0).series;
                check_sample(series, s, Counting::Increments, now, latest, latest_allowed).ok()?;
                Some((s, cell))
            })
            .collect();
        let dropped = batch.len() - kept.len();
        if kept.is_empty() && moves.is_empty() {
            return Ok(Logged {
                lsn: 0,
                samples: 0,
                dropped,
            });
        }
        let lsn = if app.wal.is_some() {
            let (keys, logged) = key_table(kept.iter().copied());
            app.log(
                self.durability.as_ref(),
                wal::routed_body(now, &keys, logged.iter().copied(), moves),
            )?
        } else {
            app.log(None, |_| {})?
        };
        let mut writes: Vec<Write<'_>> = kept
            .iter()
            .map(|(s, cell)| (&***cell, s.at, s.good, s.total))
            .collect();
        apply_writes(&mut writes, now, lsn);
        app.clock = app.clock.max(now);
        app.baselines.apply(moves);
        Ok(Logged {
            lsn,
            samples: kept.len(),
            dropped,
        })
    }

    /// Waits until a [`Tsdb::log_routed`] record is durable (at once for an in-memory store).
    pub fn sync(&self, logged: &Logged) -> Result<(), TsdbError> {
        self.wait_durable(logged.lsn)
    }

    /// Waits until every record written so far is durable: for a caller that answers for data
    /// another call wrote (a retried batch whose samples an earlier record already counted).
    pub fn sync_written(&self) -> Result<(), TsdbError> {
        match &self.durability {
            Some(d) => {
                let lsn = lock(&d.tail).written_lsn;
                d.wait(lsn)
            }
            None => Ok(()),
        }
    }

    /// One source's baseline, as the records applied so far left it.
    pub fn baseline(&self, key: &BaselineKey) -> Option<Baseline> {
        lock(&self.appender).baselines.get(key)
    }

    /// Every counter series' baseline (what a router resumes from at start).
    pub fn series_baselines(&self) -> Vec<([u8; 16], Baseline)> {
        lock(&self.appender).baselines.series().collect()
    }

    /// Every backend follower's baseline, by SLO id.
    pub fn follower_baselines(&self) -> Vec<(String, Baseline)> {
        lock(&self.appender)
            .baselines
            .followers()
            .map(|(slo, b)| (slo.to_owned(), b))
            .collect()
    }

    /// Moves every series' newest bucket up to `now` (buckets close even without data). Cheap
    /// when called again within the same minute.
    pub fn advance(&self, now: Timestamp) -> Result<(), TsdbError> {
        let mut app = self.writer()?;
        let minute = now.millis().div_euclid(MINUTE);
        if minute <= app.advanced_to {
            return Ok(());
        }
        let lsn = app.log(self.durability.as_ref(), wal::advance_body(now))?;
        app.advanced_to = minute;
        app.clock = app.clock.max(now);
        apply_advance(&read(&self.series), now, lsn);
        Ok(())
    }

    /// Writes a snapshot of every series (temp file, fsync, rename, fsync directory) and drops
    /// the logs it covers. Appends continue meanwhile: they go to a fresh log, and each series
    /// is copied under its own lock only. A no-op for an in-memory store.
    pub fn checkpoint(&self) -> Result<(), TsdbError> {
        let Some(durability) = &self.durability else {
            return Ok(());
        };
        let _one_at_a_time = lock(&self.checkpointing);
        let header = {
            let mut app = self.writer()?;
            let Some(old) = &app.wal else {
                return Ok(());
            };
            // The syncer only fsyncs the newest log, so the old one must be whole on disk first.
            if let Err(e) = old.file.sync_data() {
                let reason = format!("fsync of the log failed: {e}");
                durability.fail(reason.clone());
                app.broken = Some(reason.clone());
                return Err(TsdbError::Failed { reason });
            }
            let new = WalFile::create(&durability.dir, old.generation + 1)?;
            lock(&durability.tail).file = Arc::clone(&new.file);
            durability.mark_durable(app.next_lsn - 1);
            let generation = new.generation;
            app.wal = Some(new);
            let horizon = app.clock - self.options.idempotency_ttl;
            app.idempotency.prune(horizon, true);
            SnapshotHeader {
                wal_generation: generation,
                next_lsn: app.next_lsn,
                clock: app.clock,
                idempotency: app
                    .idempotency
                    .keys
                    .iter()
                    .map(|(k, &(lsn, seen_at))| (k.clone(), lsn, seen_at))
                    .collect(),
                // As of the rotation, like the idempotency keys: the new log replays over them.
                baselines: app.baselines.clone(),
            }
        };
        let cells: Vec<(SeriesKey, Arc<SeriesCell>)> = read(&self.series)
            .by_key
            .iter()
            .map(|(k, c)| (k.clone(), Arc::clone(c)))
            .collect();
        let mut out = SnapshotWriter::create(&durability.dir, &header)?;
        let mut newest_applied = 0;
        for (key, cell) in &cells {
            {
                let st = read(&cell.0);
                newest_applied = newest_applied.max(st.applied_lsn);
                out.encode_series(key, st.applied_lsn, &st.series);
            }
            out.write_pending()?;
        }
        // A batch copied into some series but not yet into others must be replayable: its
        // record has to be durable before the snapshot counts, or a power cut could leave it
        // half applied.
        durability.wait(newest_applied)?;
        out.finish(&header.baselines)?;
        for (generation, path) in wal::list_wal_files(&durability.dir)? {
            if generation < header.wal_generation {
                fs::remove_file(&path).map_err(TsdbError::io("remove", &path))?;
            }
        }
        Ok(())
    }

    /// A handle to one series that reads it without looking it up again: what an evaluator keeps
    /// per SLO. It stays valid while the series is configured (re-configuring keeps it); after the
    /// series is removed it reads the last state it had, so holders refresh on config changes.
    pub fn handle(&self, key: &SeriesKey) -> Option<SeriesHandle> {
        read(&self.series)
            .by_key
            .get(key)
            .map(|c| SeriesHandle(Arc::clone(c)))
    }

    /// Runs `f` on one series under its read lock (appends to other series go on).
    pub fn with_series<R>(&self, key: &SeriesKey, f: impl FnOnce(&Series) -> R) -> Option<R> {
        let cell = read(&self.series).by_key.get(key).map(Arc::clone)?;
        let st = read(&cell.0);
        Some(f(&st.series))
    }

    /// Runs `f` on every series, each under its read lock, in no particular order. `f` must not
    /// call back into this store: the series map stays read-locked throughout.
    pub fn for_each_series(&self, mut f: impl FnMut(&SeriesKey, &Series)) {
        let map = read(&self.series);
        for (key, cell) in &map.by_key {
            f(key, &read(&cell.0).series);
        }
    }

    /// Every series key, sorted.
    pub fn keys(&self) -> Vec<SeriesKey> {
        let mut keys: Vec<_> = read(&self.series).by_key.keys().cloned().collect();
        keys.sort();
        keys
    }

    /// The groups of one SLO, sorted (`[""]` for an ungrouped SLO).
    pub fn groups_of(&self, slo: &str) -> Vec<String> {
        read(&self.series)
            .groups
            .get(slo)
            .map(|g| g.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn config_of(&self, key: &SeriesKey) -> Option<SeriesConfig> {
        self.with_series(key, |s| *s.config())
    }

    pub fn len(&self) -> usize {
        read(&self.series).by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes in the current write-ahead log (0 in memory): a checkpoint resets it, and the server
    /// checkpoints early when it grows, so a restart never replays much.
    pub fn wal_bytes(&self) -> u64 {
        lock(&self.appender).wal.as_ref().map_or(0, |w| w.len)
    }

    /// Approximate bytes held: series rings, keys, map entries, idempotency keys and baselines.
    pub fn memory_bytes(&self) -> usize {
        let per_entry = size_of::<(SeriesKey, Arc<SeriesCell>)>() + size_of::<SeriesCell>() + 16;
        let series: usize = read(&self.series)
            .by_key
            .iter()
            .map(|(k, c)| {
                read(&c.0).series.memory_bytes() + k.slo.capacity() + k.group.capacity() + per_entry
            })
            .sum();
        // Taken after the map's lock is released: writers take the appender's lock first.
        let app = lock(&self.appender);
        let idempotency: usize = app
            .idempotency
            .keys
            .keys()
            .map(|k| k.capacity() + size_of::<(String, (u64, Timestamp))>() + 8)
            .sum();
        series + idempotency + app.baselines.memory_bytes() + app.buf.capacity()
    }

    fn writer(&self) -> Result<MutexGuard<'_, Appender>, TsdbError> {
        let app = lock(&self.appender);
        if let Some(reason) = &app.broken {
            return Err(TsdbError::Failed {
                reason: reason.clone(),
            });
        }
        if let Some(d) = &self.durability {
            d.check()?;
        }
        Ok(app)
    }

    fn wait_durable(&self, lsn: u64) -> Result<(), TsdbError> {
        match &self.durability {
            Some(d) => d.wait(lsn),
            None => Ok(()),
        }
    }

    /// Checks every sample; returns each one's series.
    fn validate<'m>(
        &self,
        map: &'m SeriesMap,
        batch: &[Sample],
        now: Timestamp,
        counting: Counting,
    ) -> Result<Vec<&'m Arc<SeriesCell>>, TsdbError> {
        let (latest, latest_allowed) = self.batch_reach(batch, now);
        let mut cells = Vec::with_capacity(batch.len());
        for (index, s) in batch.iter().enumerate() {
            let reject = |error| TsdbError::Sample { index, error };
            let cell = map
                .by_key
                .get(&s.key)
                .ok_or_else(|| reject(SampleError::UnknownSeries(s.key.clone())))?;
            check_sample(
                &read(&cell.0).series,
                s,
                counting,
                now,
                latest,
                latest_allowed,
            )
            .map_err(reject)?;
            cells.push(cell);
        }
        Ok(cells)
    }

    /// The newest instant a batch can move the rings to (so a later sample is not judged by a
    /// stale head), and the newest instant it may hold.
    fn batch_reach(&self, batch: &[Sample], now: Timestamp) -> (Timestamp, Timestamp) {
        let latest_allowed = now + self.options.max_future;
        let latest = batch
            .iter()
            .map(|s| s.at)
            .filter(|&at| at <= latest_allowed)
            .fold(now, Timestamp::max);
        (latest, latest_allowed)
    }

    /// Checks `batch` as [`Tsdb::append`] would if each sample's series were configured with
    /// `config` and empty: lets a caller refuse a batch before creating the series it names.
    pub fn check_new(
        &self,
        config: SeriesConfig,
        batch: &[Sample],
        now: Timestamp,
        counting: Counting,
    ) -> Result<(), TsdbError> {
        let empty = Series::new(config).map_err(|error| TsdbError::Config {
            key: batch
                .first()
                .map_or_else(|| SeriesKey::new("", ""), |s| s.key.clone()),
            error,
        })?;
        let (latest, latest_allowed) = self.batch_reach(batch, now);
        for (index, s) in batch.iter().enumerate() {
            check_sample(&empty, s, counting, now, latest, latest_allowed)
                .map_err(|error| TsdbError::Sample { index, error })?;
        }
        Ok(())
    }
}

/// The checks one sample passes before a batch is applied.
fn check_sample(
    series: &Series,
    s: &Sample,
    counting: Counting,
    now: Timestamp,
    latest: Timestamp,
    latest_allowed: Timestamp,
) -> Result<(), SampleError> {
    match counting {
        Counting::Events => check_counts(s.good, s.total)?,
        Counting::Increments => check_increment(s.good, s.total)?,
    }
    if s.at > latest_allowed {
        return Err(SampleError::TooFarInFuture {
            at: s.at,
            latest: latest_allowed,
        });
    }
    let oldest = now - series.config().retention;
    if s.at < oldest {
        return Err(SampleError::TooOld { at: s.at, oldest });
    }
    series.check_time(s.at, latest)
}

/// How a batch's samples are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Observed events: 0 ≤ good ≤ total each.
    Events,
    /// Counter increments: finite ([`check_increment`]).
    Increments,
}

/// One sample bound for one series.
type Write<'a> = (&'a SeriesCell, Timestamp, f64, f64);

/// A record names each series once and its samples point into that table.
fn key_table<'a>(
    samples: impl Iterator<Item = (&'a Sample, &'a Arc<SeriesCell>)>,
) -> (Vec<&'a SeriesKey>, Vec<LoggedSample>) {
    let mut table: HashMap<*const SeriesCell, u32> = HashMap::new();
    let mut keys: Vec<&SeriesKey> = Vec::new();
    let logged = samples
        .map(|(s, cell)| {
            let key = *table.entry(Arc::as_ptr(cell)).or_insert_with(|| {
                keys.push(&s.key);
                keys.len() as u32 - 1
            });
            LoggedSample {
                key,
                at: s.at,
                good: s.good,
                total: s.total,
            }
        })
        .collect();
    (keys, logged)
}

/// Applies an append record: each series under its lock once, its samples in batch order, after
/// advancing it to `now`. Live and on replay alike, so replay rebuilds the same rings.
fn apply_writes(writes: &mut [Write<'_>], now: Timestamp, lsn: u64) {
    let addr = |w: &Write<'_>| std::ptr::from_ref(w.0) as usize;
    writes.sort_by_key(addr); // stable: keeps each series' samples in order
    for group in writes.chunk_by(|a, b| addr(a) == addr(b)) {
        let mut st = write(&group[0].0.0);
        if st.applied_lsn >= lsn {
            continue;
        }
        st.series.advance(now);
        for &(_, at, good, total) in group {
            st.series.apply(at, good, total);
        }
        st.applied_lsn = lsn;
    }
}

fn apply_advance(map: &SeriesMap, now: Timestamp, lsn: u64) {
    for cell in map.by_key.values() {
        let mut st = write(&cell.0);
        if st.applied_lsn < lsn {
            st.series.advance(now);
            st.applied_lsn = lsn;
        }
    }
}

fn apply_configure(
    map: &mut SeriesMap,
    key: SeriesKey,
    config: SeriesConfig,
    lsn: u64,
) -> Result<(), crate::series::ConfigError> {
    if let Some(cell) = map.by_key.get(&key) {
        let mut st = write(&cell.0);
        if st.applied_lsn < lsn {
            st.series = st.series.reconfigured(config)?;
            st.applied_lsn = lsn;
        }
    } else {
        map.insert(key, SeriesCell::new(Series::new(config)?, lsn));
    }
    Ok(())
}

/// Re-applies a logged record's samples; a series removed since is simply skipped.
fn replay_writes(
    map: &SeriesMap,
    keys: &[SeriesKey],
    samples: &[LoggedSample],
    now: Timestamp,
    lsn: u64,
) {
    let cells: Vec<Option<&Arc<SeriesCell>>> = keys.iter().map(|k| map.by_key.get(k)).collect();
    let mut writes: Vec<Write<'_>> = samples
        .iter()
        .filter_map(|s| {
            let cell = cells[s.key as usize]?;
            Some((&**cell, s.at, s.good, s.total))
        })
        .collect();
    apply_writes(&mut writes, now, lsn);
}

/// Re-applies one log record at open.
fn replay(map: &mut SeriesMap, app: &mut Appender, lsn: u64, record: Record) -> Result<(), String> {
    match record {
        Record::Configure { key, config } => apply_configure(map, key.clone(), config, lsn)
            .map_err(|e| format!("logged configuration of {key} is invalid: {e}"))?,
        Record::Remove { key } => {
            let stale = map
                .by_key
                .get(&key)
                .is_some_and(|c| read(&c.0).applied_lsn < lsn);
            if stale {
                map.remove(&key);
            }
        }
        Record::Append {
            now,
            idempotency_key,
            keys,
            samples,
        } => {
            replay_writes(map, &keys, &samples, now, lsn);
            app.clock = app.clock.max(now);
            if let Some(key) = idempotency_key {
                app.idempotency.insert(key, lsn, now);
            }
        }
        Record::Routed {
            now,
            keys,
            samples,
            moves,
        } => {
            replay_writes(map, &keys, &samples, now, lsn);
            app.clock = app.clock.max(now);
            // Absolute values applied in log order: replaying a record again leaves the same.
            app.baselines.apply(&moves);
        }
        Record::Advance { now } => {
            apply_advance(map, now, lsn);
            app.advanced_to = app.advanced_to.max(now.millis().div_euclid(MINUTE));
            app.clock = app.clock.max(now);
        }
    }
    app.next_lsn = app.next_lsn.max(lsn + 1);
    Ok(())
}

// Locks that shrug off poisoning: a panic in one caller must not take the whole store down. At
// worst it leaves one series mid-update in memory; the log still holds the truth for a restart.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}
