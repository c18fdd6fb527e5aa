//! Snapshots: every series' rings as they are in memory, written atomically by `checkpoint`.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use headroom_core::Timestamp;

use crate::baseline::{BaselineMove, Baselines, decode_moves, encode_moves};
use crate::codec::{self, Dec, DecodeError, Enc};
use crate::error::TsdbError;
use crate::series::{Series, SeriesKey};
use crate::wal::{decode_config, decode_key, encode_config, encode_key, sync_dir};

pub(crate) const SNAPSHOT_FILE: &str = "snapshot.bin";
pub(crate) const SNAPSHOT_TMP: &str = "snapshot.tmp";
const MAGIC: &[u8; 8] = b"HRTSSNP1";
/// The version written. 4 added the baselines; 3 (without them) is still read, as holding none.
/// Earlier development builds wrote 1 and 2, which are not read.
const FORMAT_VERSION: u32 = 4;
const FORMAT_WITHOUT_BASELINES: u32 = 3;

const BLOCK_HEADER: u8 = 0;
const BLOCK_SERIES: u8 = 1;
const BLOCK_END: u8 = 2;
const BLOCK_BASELINES: u8 = 3;
/// Baselines per block: keeps each block's buffer a few megabytes at most.
const BASELINES_PER_BLOCK: usize = 65_536;

/// Everything in a snapshot besides the series.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SnapshotHeader {
    /// Logs of this generation and later are replayed on top of the snapshot.
    pub wal_generation: u64,
    /// The first sequence number not covered by the remembered idempotency keys.
    pub next_lsn: u64,
    pub clock: Timestamp,
    /// Idempotency keys with the record that first carried them and when.
    pub idempotency: Vec<(String, u64, Timestamp)>,
    /// As of `next_lsn`: records from it on are replayed over them. Written after the series.
    pub baselines: Baselines,
}

/// One series as stored, with the sequence number of the last log record applied to it.
pub(crate) struct StoredSeries {
    pub key: SeriesKey,
    pub applied_lsn: u64,
    pub series: Series,
}

/// Streams a snapshot to a temporary file; `finish` makes it the snapshot, atomically.
pub(crate) struct SnapshotWriter {
    dir: PathBuf,
    tmp: PathBuf,
    out: BufWriter<File>,
    buf: Vec<u8>,
    series: u64,
}

impl SnapshotWriter {
    pub fn create(dir: &Path, header: &SnapshotHeader) -> Result<Self, TsdbError> {
        let tmp = dir.join(SNAPSHOT_TMP);
        let file = File::create(&tmp).map_err(TsdbError::io("create", &tmp))?;
        let mut w = SnapshotWriter {
            dir: dir.to_owned(),
            out: BufWriter::with_capacity(1 << 20, file),
            tmp,
            buf: Vec::new(),
            series: 0,
        };
        w.write_raw(MAGIC)?;
        w.block(|e| {
            e.u8(BLOCK_HEADER);
            e.u32(FORMAT_VERSION);
            e.u64(header.wal_generation);
            e.u64(header.next_lsn);
            e.i64(header.clock.millis());
            e.u64(header.idempotency.len() as u64);
            for (key, lsn, seen_at) in &header.idempotency {
                e.str(key);
                e.u64(*lsn);
                e.i64(seen_at.millis());
            }
        })?;
        Ok(w)
    }

    /// Encodes one series into the pending block; call this under the series' lock, then
    /// [`SnapshotWriter::write_pending`] after releasing it, so a slow disk never holds a lock.
    pub fn encode_series(&mut self, key: &SeriesKey, applied_lsn: u64, series: &Series) {
        self.series += 1;
        self.buf.clear();
        let start = codec::begin_frame(&mut self.buf);
        let e = &mut Enc(&mut self.buf);
        e.u8(BLOCK_SERIES);
        encode_key(e, key);
        encode_config(e, series.config());
        e.u64(applied_lsn);
        series.encode(e);
        codec::finish_frame(&mut self.buf, start);
    }

    pub fn write_pending(&mut self) -> Result<(), TsdbError> {
        let buf = std::mem::take(&mut self.buf);
        let r = self.write_raw(&buf);
        self.buf = buf;
        r
    }

    /// Ends the file with the baselines, fsyncs it, renames it over the snapshot and fsyncs
    /// the directory.
    pub fn finish(mut self, baselines: &Baselines) -> Result<(), TsdbError> {
        let mut sets = baselines.sets();
        let mut chunk = Vec::with_capacity(BASELINES_PER_BLOCK);
        let mut written = 0u64;
        loop {
            chunk.clear();
            chunk.extend(sets.by_ref().take(BASELINES_PER_BLOCK));
            if chunk.is_empty() {
                break;
            }
            written += chunk.len() as u64;
            self.block(|e| {
                e.u8(BLOCK_BASELINES);
                encode_moves(e, &chunk);
            })?;
        }
        let count = self.series;
        self.block(|e| {
            e.u8(BLOCK_END);
            e.u64(count);
            e.u64(written);
        })?;
        let tmp = self.tmp.clone();
        let file = self
            .out
            .into_inner()
            .map_err(|e| TsdbError::io("write", &tmp)(e.into_error()))?;
        file.sync_all().map_err(TsdbError::io("sync", &tmp))?;
        drop(file);
        let target = self.dir.join(SNAPSHOT_FILE);
        fs::rename(&tmp, &target).map_err(TsdbError::io("rename snapshot to", &target))?;
        sync_dir(&self.dir)
    }

    fn block(&mut self, body: impl FnOnce(&mut Enc<'_>)) -> Result<(), TsdbError> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let start = codec::begin_frame(&mut buf);
        body(&mut Enc(&mut buf));
        codec::finish_frame(&mut buf, start);
        let r = self.write_raw(&buf);
        self.buf = buf;
        r
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<(), TsdbError> {
        self.out
            .write_all(bytes)
            .map_err(TsdbError::io("write", &self.tmp))
    }
}

/// Reads the snapshot in `dir`, if there is one. Any damage is an error: the snapshot is only
/// ever replaced whole, so damage is not a crash artefact and must not be silently dropped.
pub(crate) fn load(
    dir: &Path,
    mut each: impl FnMut(StoredSeries),
) -> Result<Option<SnapshotHeader>, TsdbError> {
    let path = dir.join(SNAPSHOT_FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(TsdbError::io("open", &path)(e)),
    };
    let corrupt = |detail: String| TsdbError::Corrupt {
        path: path.clone(),
        detail,
    };
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::new();
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)
        .map_err(|e| corrupt(format!("cannot read header: {e}")))?;
    if &magic != MAGIC {
        return Err(corrupt("not a headroom snapshot (bad magic)".into()));
    }
    let mut header: Option<SnapshotHeader> = None;
    let mut version = 0;
    let mut series = 0u64;
    let mut baselines = 0u64;
    loop {
        let mut fh = [0u8; codec::FRAME_HEADER];
        r.read_exact(&mut fh)
            .map_err(|e| corrupt(format!("ends without its end block ({e})")))?;
        let (len, crc) = codec::parse_frame_header(&fh)
            .map_err(|_| corrupt("block length out of range".into()))?;
        buf.resize(len, 0);
        r.read_exact(&mut buf)
            .map_err(|e| corrupt(format!("block cut short ({e})")))?;
        if crc32fast::hash(&buf) != crc {
            return Err(corrupt(format!(
                "checksum mismatch in block {}",
                series + 1
            )));
        }
        let mut d = Dec::new(&buf);
        let bad = |e: DecodeError| corrupt(e.to_string());
        match (d.u8().map_err(bad)?, &mut header) {
            (BLOCK_HEADER, None) => {
                let (v, h) = decode_header(&mut d).map_err(bad)?;
                version = v;
                header = Some(h);
            }
            (BLOCK_SERIES, Some(_)) if baselines == 0 => {
                let key = decode_key(&mut d).map_err(bad)?;
                let config = decode_config(&mut d).map_err(bad)?;
                let applied_lsn = d.u64().map_err(bad)?;
                let s = Series::decode(config, &mut d)
                    .map_err(|e| corrupt(format!("series {key}: {e}")))?;
                series += 1;
                each(StoredSeries {
                    key,
                    applied_lsn,
                    series: s,
                });
            }
            (BLOCK_BASELINES, Some(h)) if version >= FORMAT_VERSION => {
                let moves = decode_moves(&mut d).map_err(bad)?;
                if moves.iter().any(|m| matches!(m, BaselineMove::Forget(_))) {
                    return Err(corrupt("a baselines block holds a removal".into()));
                }
                baselines += moves.len() as u64;
                h.baselines.apply(&moves);
            }
            (BLOCK_END, Some(_)) => {
                if d.u64().map_err(bad)? != series {
                    return Err(corrupt("series count does not match the end block".into()));
                }
                if version >= FORMAT_VERSION && d.u64().map_err(bad)? != baselines {
                    return Err(corrupt(
                        "baseline count does not match the end block".into(),
                    ));
                }
                return Ok(header);
            }
            _ => return Err(corrupt("blocks out of order".into())),
        }
    }
}

/// The format version and the header.
fn decode_header(d: &mut Dec<'_>) -> Result<(u32, SnapshotHeader), DecodeError> {
    let version = d.u32()?;
    if version != FORMAT_VERSION && version != FORMAT_WITHOUT_BASELINES {
        return Err(DecodeError(
            "unsupported snapshot format version (written by another headroom version)",
        ));
    }
    let wal_generation = d.u64()?;
    let next_lsn = d.u64()?;
    let clock = Timestamp(d.i64()?);
    let n = d.u64()?;
    let mut idempotency = Vec::new();
    for _ in 0..n {
        idempotency.push((d.str()?.to_owned(), d.u64()?, Timestamp(d.i64()?)));
    }
    Ok((
        version,
        SnapshotHeader {
            wal_generation,
            next_lsn,
            clock,
            idempotency,
            baselines: Baselines::default(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::{Baseline, BaselineKey};
    use crate::{AppendOutcome, SeriesConfig, Tsdb, TsdbOptions};
    use headroom_core::{SliData, Span};

    const T: Timestamp = Timestamp(1_700_006_400_000);

    fn frame(buf: &mut Vec<u8>, body: impl FnOnce(&mut Enc<'_>)) {
        let start = codec::begin_frame(buf);
        body(&mut Enc(buf));
        codec::finish_frame(buf, start);
    }

    /// A snapshot as version 3 wrote it, byte for byte: no baselines blocks, and an end block
    /// holding only the series count.
    fn write_version_3(dir: &Path, key: &SeriesKey, applied_lsn: u64, series: &Series) {
        let mut buf = MAGIC.to_vec();
        frame(&mut buf, |e| {
            e.u8(BLOCK_HEADER);
            e.u32(3);
            e.u64(1); // wal_generation
            e.u64(applied_lsn + 1); // next_lsn
            e.i64(T.millis()); // clock
            e.u64(1);
            e.str("slo-a\0batch-1");
            e.u64(applied_lsn);
            e.i64(T.millis());
        });
        frame(&mut buf, |e| {
            e.u8(BLOCK_SERIES);
            encode_key(e, key);
            encode_config(e, series.config());
            e.u64(applied_lsn);
            series.encode(e);
        });
        frame(&mut buf, |e| {
            e.u8(BLOCK_END);
            e.u64(1);
        });
        fs::write(dir.join(SNAPSHOT_FILE), buf).unwrap();
    }

    #[test]
    fn a_version_3_snapshot_loads_as_holding_no_baselines() {
        let dir = tempfile::tempdir().unwrap();
        let key = SeriesKey::ungrouped("checkout");
        let mut series = Series::new(SeriesConfig::occurrences(Span::days(31))).unwrap();
        series.add(T - Span::minutes(3), 7.0, 9.0).unwrap();
        write_version_3(dir.path(), &key, 4, &series);

        let db = Tsdb::open(dir.path(), TsdbOptions::default()).unwrap();
        let counts = |db: &Tsdb| {
            db.with_series(&key, |s| s.counts(T - Span::HOUR, T + Span::MINUTE))
                .unwrap()
        };
        assert_eq!((counts(&db).good, counts(&db).total), (7.0, 9.0));
        assert!(db.series_baselines().is_empty() && db.follower_baselines().is_empty());
        // The rest of the header still counts: the idempotency key is remembered.
        let retry = [crate::Sample {
            key: key.clone(),
            at: T,
            good: 1.0,
            total: 1.0,
        }];
        assert_eq!(
            db.append(&retry, Some("slo-a\0batch-1"), T).unwrap(),
            AppendOutcome::Duplicate
        );

        // The next checkpoint writes the current version, baselines included.
        let moved = Baseline { at: T, value: 12.0 };
        let l = db
            .log_routed(
                &[],
                &[BaselineMove::Set(BaselineKey::Series([2; 16]), moved)],
                T,
            )
            .unwrap();
        db.sync(&l).unwrap();
        db.checkpoint().unwrap();
        drop(db);
        let bytes = fs::read(dir.path().join(SNAPSHOT_FILE)).unwrap();
        let (header, _) = codec::read_frame(&bytes[MAGIC.len()..]).unwrap();
        assert_eq!(header[1..5], FORMAT_VERSION.to_le_bytes());
        let db = Tsdb::open(dir.path(), TsdbOptions::default()).unwrap();
        assert_eq!(db.series_baselines(), [([2; 16], moved)]);
        assert_eq!(counts(&db).total, 9.0);
    }

    #[test]
    fn an_unknown_version_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut buf = MAGIC.to_vec();
        frame(&mut buf, |e| {
            e.u8(BLOCK_HEADER);
            e.u32(FORMAT_VERSION + 1);
        });
        fs::write(dir.path().join(SNAPSHOT_FILE), buf).unwrap();
        let err = load(dir.path(), |_| {}).unwrap_err().to_string();
        assert!(err.contains("unsupported snapshot format version"), "{err}");
    }
}
