//! The commit graph and the walk that says what a deploy shipped.
//!
//! Commits are interned to dense indices on first sight (as a commit, a parent, a deploy's sha
//! or a pull request's), so walks touch arrays, not maps. A walk is git's `A..B` — commits
//! reachable from the tip and not from any shipped sha — done the way `git rev-list` limits
//! one: newest committed first, commits reachable from a shipped sha marked as such and their
//! marks carried down, stopping once nothing unmarked is left to visit (plus git's five commits
//! of slop for clocks that disagree). It touches the commits since the shipped ones, not the
//! history behind them, and gives up past a limit.

use std::collections::{BinaryHeap, HashMap};

use super::{Commit, CommitSha};
use crate::error::DeliveryError;

/// A sha as bytes: SHA-1 in the first 20, SHA-256 in all 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Oid {
    bytes: [u8; 32],
    long: bool,
}

impl Oid {
    fn of(sha: &CommitSha) -> Oid {
        let text = sha.as_str().as_bytes();
        let mut bytes = [0u8; 32];
        for (i, pair) in text.chunks(2).enumerate() {
            bytes[i] = (nibble(pair[0]) << 4) | nibble(pair[1]);
        }
        Oid {
            bytes,
            long: text.len() == 64,
        }
    }

    fn sha(&self) -> CommitSha {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let len = if self.long { 32 } else { 20 };
        let mut text = String::with_capacity(len * 2);
        for b in &self.bytes[..len] {
            text.push(HEX[(b >> 4) as usize] as char);
            text.push(HEX[(b & 15) as usize] as char);
        }
        CommitSha(text)
    }
}

/// A `CommitSha` holds only lowercase hexadecimal digits, so nothing else arrives here.
fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

#[derive(Debug, Clone)]
struct Node {
    oid: Oid,
    known: bool,
    authored: i64,
    committed: i64,
    /// Into `CommitGraph::parents`.
    parents_at: u32,
    parents_len: u32,
}

/// Commits and their parents, learnt in any order.
#[derive(Debug, Clone, Default)]
pub struct CommitGraph {
    index: HashMap<Oid, u32>,
    nodes: Vec<Node>,
    parents: Vec<u32>,
    files: HashMap<u32, Box<[String]>>,
    known: usize,
}

/// What a walk found between a tip and the shas already shipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitRange {
    /// The commits, newest committed first.
    Commits(Vec<CommitSha>),
    /// The tip is not a learnt commit: nothing is known of what it holds.
    UnknownTip,
    /// More than `limit` commits would have to be visited.
    TooLong { limit: usize },
}

/// How a walk ended, for the crate's callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walked {
    Done,
    UnknownTip,
    TooLong,
}

const SEEN: u8 = 1;
const SHIPPED: u8 = 2;
const POPPED: u8 = 4;
/// Commits popped after nothing unshipped is queued, as `git rev-list` allows for clock skew.
const SLOP: u32 = 5;

/// Scratch space for walks, reused across them: the marks are cleared after each walk by
/// visiting only what it touched.
pub(crate) struct Walker {
    flags: Vec<u8>,
    touched: Vec<u32>,
    heap: BinaryHeap<(i64, u32)>,
    stack: Vec<u32>,
}

impl Walker {
    pub(crate) fn new(graph: &CommitGraph) -> Walker {
        Walker {
            flags: vec![0; graph.nodes.len()],
            touched: Vec::new(),
            heap: BinaryHeap::new(),
            stack: Vec::new(),
        }
    }

    fn set(&mut self, ix: u32, flag: u8) {
        let f = &mut self.flags[ix as usize];
        if *f == 0 {
            self.touched.push(ix);
        }
        *f |= flag;
    }

    fn has(&self, ix: u32, flag: u8) -> bool {
        self.flags[ix as usize] & flag != 0
    }

    fn clear(&mut self) {
        for &ix in &self.touched {
            self.flags[ix as usize] = 0;
        }
        self.touched.clear();
        self.heap.clear();
        self.stack.clear();
    }
}

impl CommitGraph {
    pub fn new() -> CommitGraph {
        CommitGraph::default()
    }

    /// Learns a commit. Learning one again adds its file list if that was unknown; different
    /// parents are refused (a sha names one commit), and a refused commit changes nothing.
    pub fn learn(&mut self, commit: Commit) -> Result<(), DeliveryError> {
        let oid = Oid::of(&commit.sha);
        let parents: Vec<Oid> = commit.parents.iter().map(Oid::of).collect();
        if let Some(index) = parents.iter().position(|p| *p == oid) {
            return Err(DeliveryError::SelfParent {
                sha: commit.sha.to_string(),
                index,
            });
        }
        if let Some(&ix) = self.index.get(&oid)
            && self.nodes[ix as usize].known
        {
            let known: Vec<Oid> = self
                .parent_ixs(ix)
                .iter()
                .map(|&p| self.nodes[p as usize].oid)
                .collect();
            if known != parents {
                let list = |oids: &[Oid]| {
                    oids.iter()
                        .map(|o| o.sha().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Err(DeliveryError::ConflictingParents {
                    sha: commit.sha.to_string(),
                    known: list(&known),
                    given: list(&parents),
                });
            }
            if let Some(files) = commit.files {
                self.files.entry(ix).or_insert_with(|| files.into());
            }
            return Ok(());
        }
        let ix = self.intern_oid(oid);
        let parents_at = self.parents.len() as u32;
        for p in parents {
            let p = self.intern_oid(p);
            self.parents.push(p);
        }
        let node = &mut self.nodes[ix as usize];
        node.known = true;
        node.authored = commit.authored.millis();
        node.committed = commit.committed.millis();
        node.parents_at = parents_at;
        node.parents_len = commit.parents.len() as u32;
        self.known += 1;
        if let Some(files) = commit.files {
            self.files.insert(ix, files.into());
        }
        Ok(())
    }

    /// Commits learnt (not counting shas only named so far).
    pub fn len(&self) -> usize {
        self.known
    }

    pub fn is_empty(&self) -> bool {
        self.known == 0
    }

    pub fn knows(&self, sha: &CommitSha) -> bool {
        self.find(sha)
            .is_some_and(|ix| self.nodes[ix as usize].known)
    }

    /// The commits reachable from `tip` and from none of `shipped` (git's `shipped..tip`),
    /// visiting at most `limit` commits.
    pub fn range(&self, tip: &CommitSha, shipped: &[CommitSha], limit: usize) -> CommitRange {
        let Some(tip) = self.find(tip) else {
            return CommitRange::UnknownTip;
        };
        let shipped: Vec<u32> = shipped.iter().filter_map(|s| self.find(s)).collect();
        let mut walker = Walker::new(self);
        let mut out = Vec::new();
        match self.walk(tip, &shipped, limit, &mut walker, &mut out) {
            Walked::Done => CommitRange::Commits(out.iter().map(|&c| self.sha(c)).collect()),
            Walked::UnknownTip => CommitRange::UnknownTip,
            Walked::TooLong => CommitRange::TooLong { limit },
        }
    }

    pub(crate) fn find(&self, sha: &CommitSha) -> Option<u32> {
        self.index.get(&Oid::of(sha)).copied()
    }

    /// The index of a sha, made a placeholder if it was never seen.
    pub(crate) fn intern(&mut self, sha: &CommitSha) -> u32 {
        self.intern_oid(Oid::of(sha))
    }

    fn intern_oid(&mut self, oid: Oid) -> u32 {
        let next = self.nodes.len() as u32;
        let ix = *self.index.entry(oid).or_insert(next);
        if ix == next {
            self.nodes.push(Node {
                oid,
                known: false,
                authored: 0,
                committed: 0,
                parents_at: 0,
                parents_len: 0,
            });
        }
        ix
    }

    /// Every index ever handed out (learnt commits and placeholders).
    pub(crate) fn slots(&self) -> usize {
        self.nodes.len()
    }

    pub(crate) fn sha(&self, ix: u32) -> CommitSha {
        self.nodes[ix as usize].oid.sha()
    }

    pub(crate) fn is_known(&self, ix: u32) -> bool {
        self.nodes[ix as usize].known
    }

    /// When a learnt commit was authored, in milliseconds.
    pub(crate) fn authored(&self, ix: u32) -> Option<i64> {
        let node = &self.nodes[ix as usize];
        node.known.then_some(node.authored)
    }

    pub(crate) fn files(&self, ix: u32) -> Option<&[String]> {
        self.files.get(&ix).map(|f| &f[..])
    }

    fn parent_ixs(&self, ix: u32) -> &[u32] {
        let node = &self.nodes[ix as usize];
        let at = node.parents_at as usize;
        &self.parents[at..at + node.parents_len as usize]
    }

    /// The walk behind [`CommitGraph::range`] on indices, appending to `out`. A placeholder
    /// (a parent never learnt) ends the walk along its line.
    pub(crate) fn walk(
        &self,
        tip: u32,
        shipped: &[u32],
        limit: usize,
        w: &mut Walker,
        out: &mut Vec<u32>,
    ) -> Walked {
        if !self.is_known(tip) {
            return Walked::UnknownTip;
        }
        let from = out.len();
        let mut unshipped_queued = 1usize;
        w.set(tip, SEEN);
        w.heap.push((self.nodes[tip as usize].committed, tip));
        for &s in shipped {
            if !self.is_known(s) {
                continue;
            }
            if w.has(s, SEEN) {
                self.mark_shipped(s, w, &mut unshipped_queued);
            } else {
                w.set(s, SEEN | SHIPPED);
                w.heap.push((self.nodes[s as usize].committed, s));
            }
        }
        let mut visited = 0usize;
        let mut slop = SLOP;
        let mut ended = Walked::Done;
        while let Some((_, c)) = w.heap.pop() {
            visited += 1;
            if visited > limit {
                ended = Walked::TooLong;
                break;
            }
            w.set(c, POPPED);
            if w.has(c, SHIPPED) {
                for &p in self.parent_ixs(c) {
                    if !self.is_known(p) {
                        continue;
                    }
                    if w.has(p, SEEN) {
                        self.mark_shipped(p, w, &mut unshipped_queued);
                    } else {
                        w.set(p, SEEN | SHIPPED);
                        w.heap.push((self.nodes[p as usize].committed, p));
                    }
                }
                if unshipped_queued == 0 {
                    slop -= 1;
                    if slop == 0 {
                        break;
                    }
                } else {
                    slop = SLOP;
                }
            } else {
                unshipped_queued -= 1;
                out.push(c);
                for &p in self.parent_ixs(c) {
                    if self.is_known(p) && !w.has(p, SEEN) {
                        w.set(p, SEEN);
                        w.heap.push((self.nodes[p as usize].committed, p));
                        unshipped_queued += 1;
                    }
                }
            }
        }
        if ended == Walked::TooLong {
            out.truncate(from);
        } else {
            // A commit taken before a shipped line reached it (clocks that disagree) is not
            // in the range after all.
            let mut keep = from;
            for i in from..out.len() {
                if !w.has(out[i], SHIPPED) {
                    out[keep] = out[i];
                    keep += 1;
                }
            }
            out.truncate(keep);
        }
        w.clear();
        ended
    }

    /// Marks a seen commit as reachable from a shipped sha, and, if it was already visited,
    /// everything below it that the walk has seen.
    fn mark_shipped(&self, ix: u32, w: &mut Walker, unshipped_queued: &mut usize) {
        w.stack.push(ix);
        while let Some(c) = w.stack.pop() {
            if w.has(c, SHIPPED) {
                continue;
            }
            if !w.has(c, POPPED) {
                // Still queued as unshipped.
                *unshipped_queued -= 1;
                w.set(c, SHIPPED);
                continue;
            }
            w.set(c, SHIPPED);
            for &p in self.parent_ixs(c) {
                if w.has(p, SEEN) {
                    w.stack.push(p);
                }
            }
        }
    }
}
