//! What can go wrong, said so that the caller knows what to do.

use std::io;
use std::path::PathBuf;

use crate::series::{ConfigError, SampleError, SeriesKey};

#[derive(Debug, thiserror::Error)]
pub enum TsdbError {
    /// A batch was refused because of one sample; none of the batch was applied.
    #[error("sample {index} rejected, so nothing in the batch was applied: {error}")]
    Sample {
        index: usize,
        #[source]
        error: SampleError,
    },
    #[error("series {key} cannot be configured: {error}")]
    Config {
        key: SeriesKey,
        #[source]
        error: ConfigError,
    },
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{} is corrupt ({detail}); restore the data directory from a backup, or move this file away to start without it",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },
    /// Another process (or another open `Tsdb` in this one) holds the directory's `LOCK` file.
    #[error(
        "another headroom process is using {}; stop it, or give this one another data directory",
        dir.display()
    )]
    Locked { dir: PathBuf },
    /// An earlier write or fsync of the log failed; what is in memory may be ahead of the disk.
    #[error(
        "the write-ahead log failed earlier ({reason}); writes are refused until the process restarts and recovers from the log"
    )]
    Failed { reason: String },
}

impl TsdbError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| TsdbError::Io {
            action,
            path,
            source,
        }
    }
}
