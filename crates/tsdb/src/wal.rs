//! The write-ahead log: numbered files of framed, checksummed records.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use headroom_core::{Span, Timestamp};

use crate::baseline::{BaselineMove, decode_moves, encode_moves};
use crate::codec::{self, Dec, DecodeError, Enc, FrameError};
use crate::error::TsdbError;
use crate::series::{SeriesConfig, SeriesKey, SliceKind, SliceRule};

pub(crate) const WAL_MAGIC: &[u8; 8] = b"HRTSWAL1";

const KIND_CONFIGURE: u8 = 1;
const KIND_REMOVE: u8 = 2;
const KIND_APPEND: u8 = 3;
const KIND_ADVANCE: u8 = 4;
/// Added after the first release; logs written before it simply hold none.
const KIND_ROUTED: u8 = 5;

pub(crate) fn wal_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("wal-{generation:016x}.log"))
}

/// The log files in `dir`, oldest generation first.
pub(crate) fn list_wal_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, TsdbError> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(TsdbError::io("list", dir))? {
        let path = entry.map_err(TsdbError::io("list", dir))?.path();
        let generation = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("wal-")?.strip_suffix(".log"))
            .and_then(|hex| u64::from_str_radix(hex, 16).ok());
        if let Some(generation) = generation {
            found.push((generation, path));
        }
    }
    found.sort();
    Ok(found)
}

/// Makes a rename or a new file in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), TsdbError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(TsdbError::io("sync directory", dir))
}

/// The log file being appended to.
pub(crate) struct WalFile {
    pub generation: u64,
    pub path: PathBuf,
    /// Shared with the group-commit syncer, which fsyncs without taking the writer's lock.
    pub file: Arc<File>,
    /// Bytes known written: where to cut back to if a write fails halfway.
    pub len: u64,
}

impl WalFile {
    /// Creates generation `generation` with its header, durably (file and directory entry).
    pub fn create(dir: &Path, generation: u64) -> Result<WalFile, TsdbError> {
        let path = wal_path(dir, generation);
        let mut file = File::options()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(TsdbError::io("create", &path))?;
        file.write_all(WAL_MAGIC)
            .and_then(|()| file.sync_all())
            .map_err(TsdbError::io("write", &path))?;
        drop(file);
        sync_dir(dir)?;
        Self::open_end(path, generation, WAL_MAGIC.len() as u64)
    }

    /// Opens an existing, already validated file for appending at `len`.
    pub fn open_end(path: PathBuf, generation: u64, len: u64) -> Result<WalFile, TsdbError> {
        let file = File::options()
            .append(true)
            .open(&path)
            .map_err(TsdbError::io("open", &path))?;
        Ok(WalFile {
            generation,
            path,
            file: Arc::new(file),
            len,
        })
    }

    /// Appends one or more whole frames. A failed write is cut back off, so the file never
    /// holds half a record ahead of later good ones; `Err` from the cut means the file is unusable.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), WriteFailure> {
        match (&*self.file).write_all(bytes) {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => match self.file.set_len(self.len) {
                Ok(()) => Err(WriteFailure::Recovered(e)),
                Err(e2) => Err(WriteFailure::Broken(format!(
                    "write failed ({e}) and the partial record could not be cut off ({e2})"
                ))),
            },
        }
    }
}

pub(crate) enum WriteFailure {
    /// Nothing was left behind; the log is usable.
    Recovered(io::Error),
    /// The log may hold a partial record: no further writes are safe.
    Broken(String),
}

/// One sample as logged: the key is an index into the record's key table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LoggedSample {
    pub key: u32,
    pub at: Timestamp,
    pub good: f64,
    pub total: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Record {
    Configure {
        key: SeriesKey,
        config: SeriesConfig,
    },
    Remove {
        key: SeriesKey,
    },
    Append {
        now: Timestamp,
        idempotency_key: Option<String>,
        keys: Vec<SeriesKey>,
        samples: Vec<LoggedSample>,
    },
    Advance {
        now: Timestamp,
    },
    /// Counter increments and the baseline moves that produced them: one record, so a crash
    /// keeps both or neither.
    Routed {
        now: Timestamp,
        keys: Vec<SeriesKey>,
        samples: Vec<LoggedSample>,
        moves: Vec<BaselineMove>,
    },
}

pub(crate) fn encode_key(e: &mut Enc<'_>, key: &SeriesKey) {
    e.str(&key.slo);
    e.str(&key.group);
}

pub(crate) fn decode_key(d: &mut Dec<'_>) -> Result<SeriesKey, DecodeError> {
    Ok(SeriesKey::new(d.str()?, d.str()?))
}

pub(crate) fn encode_config(e: &mut Enc<'_>, c: &SeriesConfig) {
    e.i64(c.retention.millis());
    match c.slices {
        None => e.u8(0),
        Some(rule) => {
            let (kind, target) = match rule.kind {
                SliceKind::Threshold(t) => (1, t),
                SliceKind::Ratio => (2, 0.0),
            };
            e.u8(kind);
            e.i64(rule.width.millis());
            e.f64(target);
        }
    }
}

pub(crate) fn decode_config(d: &mut Dec<'_>) -> Result<SeriesConfig, DecodeError> {
    let retention = Span(d.i64()?);
    let slices = match d.u8()? {
        0 => None,
        kind @ (1 | 2) => {
            let width = Span(d.i64()?);
            let target = d.f64()?;
            let kind = if kind == 1 {
                SliceKind::Threshold(target)
            } else {
                SliceKind::Ratio
            };
            Some(SliceRule { width, kind })
        }
        _ => return Err(DecodeError("unknown slice kind")),
    };
    Ok(SeriesConfig { retention, slices })
}

/// Appends a whole framed record for `lsn` to `buf`; `body` writes the kind and its fields.
pub(crate) fn frame_record(buf: &mut Vec<u8>, lsn: u64, body: impl FnOnce(&mut Enc<'_>)) {
    let start = codec::begin_frame(buf);
    let mut e = Enc(buf);
    e.u64(lsn);
    body(&mut e);
    codec::finish_frame(buf, start);
}

pub(crate) fn configure_body<'a>(
    key: &'a SeriesKey,
    config: &'a SeriesConfig,
) -> impl FnOnce(&mut Enc<'_>) + 'a {
    move |e| {
        e.u8(KIND_CONFIGURE);
        encode_key(e, key);
        encode_config(e, config);
    }
}

pub(crate) fn remove_body(key: &SeriesKey) -> impl FnOnce(&mut Enc<'_>) + '_ {
    move |e| {
        e.u8(KIND_REMOVE);
        encode_key(e, key);
    }
}

pub(crate) fn advance_body(now: Timestamp) -> impl FnOnce(&mut Enc<'_>) {
    move |e| {
        e.u8(KIND_ADVANCE);
        e.i64(now.millis());
    }
}

pub(crate) fn append_body<'a>(
    now: Timestamp,
    idempotency_key: Option<&'a str>,
    keys: &'a [&'a SeriesKey],
    samples: impl ExactSizeIterator<Item = LoggedSample> + 'a,
) -> impl FnOnce(&mut Enc<'_>) + 'a {
    move |e| {
        e.u8(KIND_APPEND);
        e.i64(now.millis());
        match idempotency_key {
            None => e.u8(0),
            Some(k) => {
                e.u8(1);
                e.str(k);
            }
        }
        encode_samples(e, keys, samples);
    }
}

pub(crate) fn routed_body<'a>(
    now: Timestamp,
    keys: &'a [&'a SeriesKey],
    samples: impl ExactSizeIterator<Item = LoggedSample> + 'a,
    moves: &'a [BaselineMove],
) -> impl FnOnce(&mut Enc<'_>) + 'a {
    move |e| {
        e.u8(KIND_ROUTED);
        e.i64(now.millis());
        encode_samples(e, keys, samples);
        encode_moves(e, moves);
    }
}

/// The key table, then the samples pointing into it.
fn encode_samples(
    e: &mut Enc<'_>,
    keys: &[&SeriesKey],
    samples: impl ExactSizeIterator<Item = LoggedSample>,
) {
    e.u32(keys.len() as u32);
    for k in keys {
        encode_key(e, k);
    }
    e.u32(samples.len() as u32);
    for s in samples {
        e.u32(s.key);
        e.i64(s.at.millis());
        e.f64(s.good);
        e.f64(s.total);
    }
}

fn decode_samples(
    d: &mut Dec<'_>,
    payload_len: usize,
) -> Result<(Vec<SeriesKey>, Vec<LoggedSample>), DecodeError> {
    let n_keys = d.u32()?;
    let keys = (0..n_keys)
        .map(|_| decode_key(d))
        .collect::<Result<Vec<_>, _>>()?;
    let n = d.u32()? as usize;
    let mut samples = Vec::with_capacity(n.min(payload_len / 28));
    for _ in 0..n {
        let s = LoggedSample {
            key: d.u32()?,
            at: Timestamp(d.i64()?),
            good: d.f64()?,
            total: d.f64()?,
        };
        if s.key >= n_keys {
            return Err(DecodeError("sample names a key the record does not hold"));
        }
        samples.push(s);
    }
    Ok((keys, samples))
}

pub(crate) fn decode_record(payload: &[u8]) -> Result<(u64, Record), DecodeError> {
    let mut d = Dec::new(payload);
    let lsn = d.u64()?;
    let record = match d.u8()? {
        KIND_CONFIGURE => Record::Configure {
            key: decode_key(&mut d)?,
            config: decode_config(&mut d)?,
        },
        KIND_REMOVE => Record::Remove {
            key: decode_key(&mut d)?,
        },
        KIND_APPEND => {
            let now = Timestamp(d.i64()?);
            let idempotency_key = match d.u8()? {
                0 => None,
                _ => Some(d.str()?.to_owned()),
            };
            let (keys, samples) = decode_samples(&mut d, payload.len())?;
            Record::Append {
                now,
                idempotency_key,
                keys,
                samples,
            }
        }
        KIND_ADVANCE => Record::Advance {
            now: Timestamp(d.i64()?),
        },
        KIND_ROUTED => {
            let now = Timestamp(d.i64()?);
            let (keys, samples) = decode_samples(&mut d, payload.len())?;
            Record::Routed {
                now,
                keys,
                samples,
                moves: decode_moves(&mut d)?,
            }
        }
        _ => return Err(DecodeError("unknown record kind")),
    };
    if !d.is_empty() {
        return Err(DecodeError("trailing bytes after record"));
    }
    Ok((lsn, record))
}

/// What one log file holds.
pub(crate) struct WalContents {
    pub records: Vec<(u64, Record)>,
    /// Length of the intact prefix: header plus every whole, checksummed record.
    pub valid_len: u64,
    /// Why reading stopped before the end of the file, if it did.
    pub torn: Option<&'static str>,
}

/// Reads a log file up to its first torn or corrupt record.
pub(crate) fn read_wal(path: &Path) -> Result<WalContents, TsdbError> {
    let bytes = fs::read(path).map_err(TsdbError::io("read", path))?;
    if bytes.len() < WAL_MAGIC.len() {
        // A crash while the file was being created: nothing was ever logged in it.
        return Ok(WalContents {
            records: Vec::new(),
            valid_len: 0,
            torn: (!bytes.is_empty()).then_some("header cut short"),
        });
    }
    if &bytes[..WAL_MAGIC.len()] != WAL_MAGIC {
        return Err(TsdbError::Corrupt {
            path: path.to_owned(),
            detail: "not a headroom write-ahead log (bad magic)".into(),
        });
    }
    let mut pos = WAL_MAGIC.len();
    let mut records = Vec::new();
    let mut last_lsn = 0;
    let mut torn = None;
    while pos < bytes.len() {
        let (payload, size) = match codec::read_frame(&bytes[pos..]) {
            Ok(f) => f,
            Err(FrameError::Truncated) => {
                torn = Some("last record cut short");
                break;
            }
            Err(FrameError::Corrupt) => {
                torn = Some("record checksum mismatch");
                break;
            }
        };
        let (lsn, record) = decode_record(payload).map_err(|e| TsdbError::Corrupt {
            path: path.to_owned(),
            detail: format!("record at byte {pos} passed its checksum but does not decode: {e}"),
        })?;
        if lsn <= last_lsn {
            torn = Some("record sequence number goes backwards");
            break;
        }
        last_lsn = lsn;
        records.push((lsn, record));
        pos += size;
    }
    Ok(WalContents {
        records,
        valid_len: pos as u64,
        torn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::{Baseline, BaselineKey};

    #[test]
    fn records_round_trip() {
        let key = SeriesKey::new("api", "region=eu");
        let config = SeriesConfig::timeslices(
            Span::days(31),
            SliceRule {
                width: Span::minutes(5),
                kind: SliceKind::Threshold(0.99),
            },
        );
        let samples = [
            LoggedSample {
                key: 0,
                at: Timestamp(60_000),
                good: 3.0,
                total: 4.0,
            },
            LoggedSample {
                key: 0,
                at: Timestamp(120_000),
                good: 0.5,
                total: 1.5,
            },
        ];
        let keys = [&key];
        let mut buf = Vec::new();
        frame_record(&mut buf, 1, configure_body(&key, &config));
        frame_record(
            &mut buf,
            2,
            append_body(Timestamp(7), Some("k1"), &keys, samples.iter().copied()),
        );
        frame_record(&mut buf, 3, advance_body(Timestamp(9)));
        frame_record(&mut buf, 4, remove_body(&key));
        let moves = [
            BaselineMove::Set(
                BaselineKey::Series([3; 16]),
                Baseline {
                    at: Timestamp(5),
                    value: 41.5,
                },
            ),
            BaselineMove::Forget(BaselineKey::Follower("shop".into())),
        ];
        frame_record(
            &mut buf,
            5,
            routed_body(Timestamp(11), &keys, samples.iter().copied(), &moves),
        );
        let mut out = Vec::new();
        let mut rest = &buf[..];
        while !rest.is_empty() {
            let (payload, size) = codec::read_frame(rest).unwrap();
            out.push(decode_record(payload).unwrap());
            rest = &rest[size..];
        }
        assert_eq!(
            out,
            vec![
                (
                    1,
                    Record::Configure {
                        key: key.clone(),
                        config
                    }
                ),
                (
                    2,
                    Record::Append {
                        now: Timestamp(7),
                        idempotency_key: Some("k1".into()),
                        keys: vec![key.clone()],
                        samples: samples.to_vec(),
                    }
                ),
                (3, Record::Advance { now: Timestamp(9) }),
                (4, Record::Remove { key: key.clone() }),
                (
                    5,
                    Record::Routed {
                        now: Timestamp(11),
                        keys: vec![key],
                        samples: samples.to_vec(),
                        moves: moves.to_vec(),
                    }
                ),
            ]
        );
    }
}
