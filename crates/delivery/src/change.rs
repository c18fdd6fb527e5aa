//! Changes: commits, the graph they form, and the pull requests that carried them.
//!
//! The graph is learnt a commit at a time from pushes, merges and `--git-range` lists, in any
//! order: a parent named before it is learnt is a placeholder, and a walk that reaches one ends
//! there. What a deploy shipped is a walk over it ([`CommitGraph::range`]).

pub(crate) mod graph;

use std::fmt;

use headroom_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::DeliveryError;

pub use graph::{CommitGraph, CommitRange};

/// A full commit id: 40 lowercase hexadecimal digits (SHA-1), or 64 (SHA-256). Abbreviated ids
/// are refused: two abbreviations of one commit would be two commits here.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CommitSha(String);

impl CommitSha {
    /// Reads a sha, in either case; it is kept in lowercase.
    pub fn parse(text: &str) -> Result<CommitSha, DeliveryError> {
        let refuse = |reason| DeliveryError::Sha {
            value: text.to_string(),
            reason,
        };
        if text.len() != 40 && text.len() != 64 {
            return Err(refuse("wrong length"));
        }
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(refuse("not hexadecimal"));
        }
        Ok(CommitSha(text.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CommitSha {
    type Error = DeliveryError;
    fn try_from(text: String) -> Result<Self, DeliveryError> {
        CommitSha::parse(&text)
    }
}

impl From<CommitSha> for String {
    fn from(sha: CommitSha) -> String {
        sha.0
    }
}

impl fmt::Display for CommitSha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A commit as pushes and merges tell of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub sha: CommitSha,
    /// First parent first, as git orders them; a merge has two or more.
    #[serde(default)]
    pub parents: Vec<CommitSha>,
    pub authored: Timestamp,
    pub committed: Timestamp,
    /// The paths the commit touched, relative to its repository's root, when the push said;
    /// `None` when unknown (then a monorepo service counts the commit, not knowing better).
    #[serde(default)]
    pub files: Option<Vec<String>>,
}

/// A pull (or merge) request: the unit of change when one is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    /// `octo-org/shop`, or a GitLab project path.
    pub repository: String,
    pub number: u64,
    pub opened: Timestamp,
    #[serde(default)]
    pub merged: Option<Timestamp>,
    /// The commit the merge made on the target branch (a merge commit, a squash or a rebase's
    /// last commit).
    #[serde(default)]
    pub merge_sha: Option<CommitSha>,
    /// The request's own commits.
    #[serde(default)]
    pub commits: Vec<CommitSha>,
}

impl PullRequest {
    pub(crate) fn check(&self) -> Result<(), DeliveryError> {
        if self.repository.is_empty() {
            return Err(DeliveryError::Empty {
                record: "pull request",
                id: format!("#{}", self.number),
                field: "repository",
            });
        }
        if self.merged.is_some() != self.merge_sha.is_some() {
            return Err(DeliveryError::PullRequestMerge {
                repository: self.repository.clone(),
                number: self.number,
            });
        }
        if let Some(merged) = self.merged
            && merged < self.opened
        {
            return Err(DeliveryError::PullRequestTimes {
                repository: self.repository.clone(),
                number: self.number,
                opened: self.opened,
                merged,
            });
        }
        Ok(())
    }
}

/// Whether `file` lies in the directory `dir` (both relative to the repository root): on a
/// path-component boundary, so `services/cart` holds `services/cart/a.go` but not
/// `services/cartography/a.go`.
pub(crate) fn under(file: &str, dir: &str) -> bool {
    let dir = dir.trim_matches('/');
    if dir.is_empty() {
        return true;
    }
    let file = file.trim_start_matches('/');
    file.strip_prefix(dir)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shas_are_full_and_lowercase() {
        let upper = "A".repeat(40);
        assert_eq!(CommitSha::parse(&upper).unwrap().as_str(), "a".repeat(40));
        assert!(CommitSha::parse(&"b".repeat(64)).is_ok());
        for bad in ["abc1234", "", &"g".repeat(40), &"a".repeat(41)] {
            assert!(CommitSha::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn directories_match_whole_components() {
        assert!(under("services/cart/main.go", "services/cart"));
        assert!(under("services/cart/main.go", "services/cart/"));
        assert!(under("services/cart", "services/cart"));
        assert!(!under("services/cartography/main.go", "services/cart"));
        assert!(!under("lib/services/cart/x", "services/cart"));
        assert!(under("anything", ""));
    }
}
