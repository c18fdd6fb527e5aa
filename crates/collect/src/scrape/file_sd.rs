//! Prometheus's `file_sd_configs`: JSON files listing target groups, re-read when they change.
//!
//! A file that fails to read or parse keeps the targets it gave last (a half-written file must
//! not empty a job), a file that disappears takes its targets with it, as in Prometheus.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

/// One `{"targets": [...], "labels": {...}}` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroup {
    /// `file:index`, as Prometheus names a file's groups.
    pub source: String,
    pub targets: Vec<String>,
    /// Sorted by name.
    pub labels: Vec<(String, String)>,
}

/// Why a file's targets could not be read; the file keeps its previous targets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileSdError {
    #[error("{file}: {message}")]
    Read { file: PathBuf, message: String },
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{pattern}: {message}")]
    Pattern { pattern: PathBuf, message: String },
}

/// What one refresh found.
#[derive(Debug, Default)]
pub struct Refresh {
    /// Whether the set of target groups differs from before.
    pub changed: bool,
    pub errors: Vec<FileSdError>,
}

#[derive(Debug)]
struct FileState {
    /// mtime and length when last read (successfully or not): a change of either re-reads.
    stamp: Option<(SystemTime, u64)>,
    groups: Vec<TargetGroup>,
}

/// The files of one job's `file_sd` patterns and the groups each gave last.
#[derive(Debug)]
pub struct FileSd {
    patterns: Vec<PathBuf>,
    files: BTreeMap<PathBuf, FileState>,
}

impl FileSd {
    pub fn new(patterns: Vec<PathBuf>) -> Result<Self, FileSdError> {
        for p in &patterns {
            check_pattern(p).map_err(|message| FileSdError::Pattern {
                pattern: p.clone(),
                message: message.into(),
            })?;
        }
        Ok(FileSd {
            patterns,
            files: BTreeMap::new(),
        })
    }

    /// Every group of every file, in file order.
    pub fn groups(&self) -> impl Iterator<Item = &TargetGroup> {
        self.files.values().flat_map(|f| f.groups.iter())
    }

    /// Expands the patterns again and reads files that are new or whose mtime or length
    /// changed; with `force`, reads every file (the refresh interval).
    pub fn refresh(&mut self, force: bool) -> Refresh {
        let mut out = Refresh::default();
        let mut present = BTreeSet::new();
        for p in &self.patterns {
            match expand(p) {
                Ok(paths) => present.extend(paths),
                Err(message) => out.errors.push(FileSdError::Pattern {
                    pattern: p.clone(),
                    message,
                }),
            }
        }
        let before = self.files.len();
        self.files.retain(|path, f| {
            let keep = present.contains(path);
            if !keep && !f.groups.is_empty() {
                out.changed = true;
            }
            keep
        });
        if self.files.len() != before {
            out.changed = true;
        }
        for path in present {
            let stamp = std::fs::metadata(&path)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            let state = self.files.entry(path.clone()).or_insert(FileState {
                stamp: None,
                groups: Vec::new(),
            });
            if !force && state.stamp.is_some() && state.stamp == stamp {
                continue;
            }
            state.stamp = stamp;
            match read_file(&path) {
                Ok(groups) => {
                    if groups != state.groups {
                        state.groups = groups;
                        out.changed = true;
                    }
                }
                Err(e) => out.errors.push(e),
            }
        }
        out
    }
}

/// Globs are allowed in the last path component only, and files must be `.json`.
pub(crate) fn check_pattern(p: &Path) -> Result<(), &'static str> {
    let is_glob = |s: &str| s.contains(['*', '?', '[']);
    if let Some(parent) = p.parent()
        && is_glob(&parent.to_string_lossy())
    {
        return Err("a glob is allowed only in the last path component");
    }
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.ends_with(".json") {
        return Err("file_sd files must end in .json");
    }
    if is_glob(&name) {
        glob::Pattern::new(&name).map_err(|_| "the glob pattern is malformed")?;
    }
    Ok(())
}

fn expand(p: &Path) -> Result<Vec<PathBuf>, String> {
    let pattern = p.to_string_lossy();
    let paths = glob::glob(&pattern).map_err(|e| e.to_string())?;
    // Entries that cannot be read (a vanished directory) simply match nothing.
    Ok(paths
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect())
}

fn read_file(path: &Path) -> Result<Vec<TargetGroup>, FileSdError> {
    let text = std::fs::read_to_string(path).map_err(|e| FileSdError::Read {
        file: path.to_path_buf(),
        message: e.to_string(),
    })?;
    parse(path, &text)
}

/// Parses a file's text; errors carry the 1-based line and column serde_json reports.
pub fn parse(path: &Path, text: &str) -> Result<Vec<TargetGroup>, FileSdError> {
    let raw: Vec<RawGroup> = serde_json::from_str(text).map_err(|e| {
        // serde_json appends " at line L column C" to its message; the location is ours to put.
        let message = e.to_string();
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        FileSdError::Syntax {
            file: path.to_path_buf(),
            line: e.line(),
            // serde_json says column 0 for an error before the first character of a line.
            column: e.column().max(1),
            message,
        }
    })?;
    Ok(raw
        .into_iter()
        .enumerate()
        .map(|(i, g)| TargetGroup {
            source: format!("{}:{i}", path.display()),
            targets: g.targets.into_iter().map(|a| a.0).collect(),
            labels: g
                .labels
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.0, v))
                .collect(),
        })
        .collect())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    #[serde(default)]
    targets: Vec<Address>,
    #[serde(default)]
    labels: Option<BTreeMap<LabelName, String>>,
}

/// Validated while deserializing, so serde_json's error points at the offending value.
struct Address(String);

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        super::check_address(&s)
            .map_err(|m| serde::de::Error::custom(format!("target {s:?}: {m}")))?;
        Ok(Address(s))
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct LabelName(String);

impl<'de> Deserialize<'de> for LabelName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if !headroom_core::is_label_name(&s) {
            return Err(serde::de::Error::custom(format!(
                "{s:?} is not a valid label name"
            )));
        }
        Ok(LabelName(s))
    }
}

impl fmt::Debug for LabelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_file_sd_json() {
        let text = r#"[
  {"targets": ["a:9100", "b:9100"], "labels": {"env": "prod", "__metrics_path__": "/m"}},
  {"targets": ["c:1"]}
]"#;
        let g = parse(Path::new("t.json"), text).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].targets, vec!["a:9100", "b:9100"]);
        assert_eq!(
            g[0].labels,
            vec![
                ("__metrics_path__".to_string(), "/m".to_string()),
                ("env".to_string(), "prod".to_string())
            ]
        );
        assert_eq!(g[1].source, "t.json:1");
        assert!(g[1].labels.is_empty());
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let cases = [
            ("[\n  {\"targets\": [\"a:1\",]}\n]", 2, 22, "trailing comma"),
            (
                "[\n  {\"targets\": [\"a:1\"],\n   \"labels\": {\"bad-name\": \"x\"}}\n]",
                3,
                24,
                "not a valid label name",
            ),
            (
                "[{\"targets\": [\"http://a:1\"]}]",
                1,
                27,
                "without a scheme",
            ),
            ("[{\"target\": []}]", 1, 10, "unknown field"),
            ("{}", 1, 1, "expected a sequence"),
        ];
        for (text, line, column, needle) in cases {
            let e = parse(Path::new("dir/t.json"), text).unwrap_err();
            let FileSdError::Syntax {
                line: l,
                column: c,
                message,
                ..
            } = &e
            else {
                panic!("{e}")
            };
            assert_eq!((*l, *c), (line, column), "{text:?}: {e}");
            assert!(message.contains(needle), "{text:?}: {e}");
            assert!(
                e.to_string()
                    .starts_with(&format!("dir/t.json:{line}:{column}: ")),
                "{e}"
            );
        }
    }

    #[test]
    fn patterns_glob_only_the_last_component() {
        assert!(check_pattern(Path::new("targets/*.json")).is_ok());
        assert!(check_pattern(Path::new("targets/a.json")).is_ok());
        assert!(check_pattern(Path::new("t*/a.json")).is_err());
        assert!(check_pattern(Path::new("targets/*.yml")).is_err());
    }
}
