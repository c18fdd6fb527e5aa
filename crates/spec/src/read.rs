//! Reading typed values out of YAML nodes while collecting every problem on the way.
//!
//! Readers return `Option`: `None` means "absent or wrong, and if wrong a problem was recorded".
//! A converter reads every field of an SLO before giving up, so one pass reports all its defects.

pub(crate) use headroom_core::suggest::did_you_mean;
use headroom_core::{SourceRef, Span};

use crate::yaml::{Node, Pos, Value};
use crate::{Problem, ProblemKind};

/// The loader's context: the file table and the problems found so far.
pub(crate) struct Cx {
    pub files: Vec<String>,
    /// Each file's text, to place positions inside quoted scalars.
    pub texts: Vec<String>,
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl Cx {
    pub fn new() -> Self {
        Cx {
            files: Vec::new(),
            texts: Vec::new(),
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub fn add_file(&mut self, name: &str, text: &str) -> usize {
        self.files.push(name.to_string());
        self.texts.push(text.to_string());
        self.files.len() - 1
    }

    /// 1 when the scalar at `pos` is written in quotes, so a column inside its value is one
    /// further along the line; 0 otherwise.
    pub fn quote_width(&self, pos: Pos) -> u32 {
        let line = self
            .texts
            .get(pos.file)
            .and_then(|t| t.lines().nth(pos.line.saturating_sub(1) as usize));
        let first = line.and_then(|l| l.chars().nth(pos.column.saturating_sub(1) as usize));
        u32::from(matches!(first, Some('"' | '\'')))
    }

    fn problem(&self, pos: Pos, message: String) -> Problem {
        Problem {
            file: self.files.get(pos.file).cloned().unwrap_or_default(),
            line: pos.line,
            column: pos.column,
            message,
            kind: ProblemKind::Invalid,
        }
    }

    pub fn err(&mut self, pos: Pos, message: impl Into<String>) {
        let p = self.problem(pos, message.into());
        self.problems.push(p);
    }

    /// A refusal of what headroom cannot run, though the config is valid (see
    /// [`ProblemKind::NotSupported`]).
    pub fn not_supported(&mut self, pos: Pos, message: impl Into<String>) {
        let mut p = self.problem(pos, message.into());
        p.kind = ProblemKind::NotSupported;
        self.problems.push(p);
    }

    pub fn warn(&mut self, pos: Pos, message: impl Into<String>) {
        let p = self.problem(pos, message.into());
        self.warnings.push(p);
    }

    pub fn source(&self, pos: Pos) -> SourceRef {
        SourceRef {
            file: self.files.get(pos.file).cloned().unwrap_or_default(),
            line: pos.line,
            column: pos.column,
        }
    }

    /// The position a `SourceRef` made by this loader points at.
    pub fn pos_of(&self, at: &SourceRef) -> Pos {
        Pos {
            file: self
                .files
                .iter()
                .position(|f| *f == at.file)
                .unwrap_or_default(),
            line: at.line,
            column: at.column,
        }
    }

    /// A marker to ask later whether anything went wrong since.
    pub fn mark(&self) -> usize {
        self.problems.len()
    }

    pub fn clean_since(&self, mark: usize) -> bool {
        self.problems.len() == mark
    }
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct At<T> {
    pub v: T,
    pub pos: Pos,
}

/// The entries of a mapping whose keys have been checked against a known set.
#[derive(Clone)]
pub(crate) struct Fields<'a> {
    pub pos: Pos,
    pub what: String,
    entries: &'a [(Node, Node)],
}

/// Opens `node` as a mapping with the `allowed` keys; any other key is a problem with a
/// did-you-mean suggestion. `what` names the mapping in messages ("SLO", "alerting", ...).
pub(crate) fn fields<'a>(
    cx: &mut Cx,
    node: &'a Node,
    what: &str,
    allowed: &[&str],
) -> Option<Fields<'a>> {
    let f = open(cx, node, what)?;
    for (k, _) in f.entries {
        let name = k.scalar_text().unwrap_or_default();
        if !allowed.contains(&name) {
            cx.err(k.pos, unknown_field(name, &f.what, allowed));
        }
    }
    Some(f)
}

/// Opens `node` as a mapping without checking its keys (for free-form maps such as Kubernetes
/// metadata or a metric source's vendor-specific spec).
pub(crate) fn open<'a>(cx: &mut Cx, node: &'a Node, what: &str) -> Option<Fields<'a>> {
    match &node.value {
        Value::Map(entries) => Some(Fields {
            pos: node.pos,
            what: what.to_string(),
            entries,
        }),
        _ => {
            cx.err(
                node.pos,
                format!("{what} must be a mapping, found {}", node.type_name()),
            );
            None
        }
    }
}

pub(crate) fn unknown_field(name: &str, what: &str, allowed: &[&str]) -> String {
    match did_you_mean(name, allowed.iter().copied()) {
        Some(s) => format!("unknown field {name:?} in {what}; did you mean {s:?}?"),
        None => format!(
            "unknown field {name:?} in {what}; expected one of: {}",
            allowed.join(", ")
        ),
    }
}

impl<'a> Fields<'a> {
    /// The node under `name`, even when it is null.
    pub fn get(&self, name: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.scalar_text() == Some(name))
            .map(|(_, v)| v)
    }

    /// The key node `name` is written under, for problems about the key itself.
    pub fn key(&self, name: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.scalar_text() == Some(name))
            .map(|(k, _)| k)
    }

    /// The node under `name`; a null value counts as absent.
    pub fn val(&self, name: &str) -> Option<&'a Node> {
        self.get(name).filter(|n| !n.is_null())
    }

    /// The node under the first of several spellings (Sloth accepts `page_alert` and
    /// `pageAlert`); giving more than one spelling is a problem.
    pub fn pick(&self, cx: &mut Cx, names: &[&str]) -> Option<&'a Node> {
        let present: Vec<(&str, &Node)> = names
            .iter()
            .filter_map(|n| self.val(n).map(|v| (*n, v)))
            .collect();
        if let [(first, _), (second, node), ..] = present.as_slice() {
            cx.err(
                node.pos,
                format!(
                    "{second:?} repeats {first:?} in {}: give only one",
                    self.what
                ),
            );
        }
        present.first().map(|(_, v)| *v)
    }

    pub fn entries(&self) -> impl Iterator<Item = (&'a Node, &'a Node)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// A required field: reports it missing at the mapping.
    pub fn req(&self, cx: &mut Cx, name: &str) -> Option<&'a Node> {
        let v = self.val(name);
        if v.is_none() {
            cx.err(self.pos, format!("missing field {name:?} in {}", self.what));
        }
        v
    }

    pub fn str(&self, cx: &mut Cx, name: &str) -> Option<At<String>> {
        self.val(name).and_then(|n| string(cx, n, name))
    }

    pub fn req_str(&self, cx: &mut Cx, name: &str) -> Option<At<String>> {
        self.req(cx, name).and_then(|n| string(cx, n, name))
    }

    pub fn num(&self, cx: &mut Cx, name: &str) -> Option<At<f64>> {
        self.val(name).and_then(|n| number(cx, n, name))
    }

    pub fn bool(&self, cx: &mut Cx, name: &str) -> Option<bool> {
        self.val(name).and_then(|n| boolean(cx, n, name))
    }

    pub fn span(&self, cx: &mut Cx, name: &str) -> Option<At<Span>> {
        self.val(name).and_then(|n| span(cx, n, name))
    }

    pub fn req_span(&self, cx: &mut Cx, name: &str) -> Option<At<Span>> {
        self.req(cx, name).and_then(|n| span(cx, n, name))
    }

    pub fn list(&self, cx: &mut Cx, name: &str) -> Option<&'a [Node]> {
        self.val(name).and_then(|n| list(cx, n, name))
    }
}

/// Any scalar as text (Go YAML, which Sloth uses, reads `tier: 2` into a string too).
pub(crate) fn string(cx: &mut Cx, node: &Node, what: &str) -> Option<At<String>> {
    match node.scalar_text() {
        Some(s) => Some(At {
            v: s.to_string(),
            pos: node.pos,
        }),
        None => {
            cx.err(
                node.pos,
                format!("{what} must be a string, found {}", node.type_name()),
            );
            None
        }
    }
}

pub(crate) fn number(cx: &mut Cx, node: &Node, what: &str) -> Option<At<f64>> {
    let v = match node.value {
        Value::Int(i) => i as f64,
        Value::Float(f) if f.is_finite() => f,
        _ => {
            cx.err(
                node.pos,
                format!("{what} must be a number, found {}", node.type_name()),
            );
            return None;
        }
    };
    Some(At { v, pos: node.pos })
}

pub(crate) fn boolean(cx: &mut Cx, node: &Node, what: &str) -> Option<bool> {
    match node.value {
        Value::Bool(b) => Some(b),
        _ => {
            cx.err(
                node.pos,
                format!("{what} must be true or false, found {}", node.type_name()),
            );
            None
        }
    }
}

pub(crate) fn span(cx: &mut Cx, node: &Node, what: &str) -> Option<At<Span>> {
    let s = string(cx, node, what)?;
    match s.v.parse::<Span>() {
        Ok(v) => Some(At { v, pos: s.pos }),
        Err(e) => {
            cx.err(s.pos, format!("{what}: {e}"));
            None
        }
    }
}

pub(crate) fn list<'a>(cx: &mut Cx, node: &'a Node, what: &str) -> Option<&'a [Node]> {
    match &node.value {
        Value::Seq(items) => Some(items),
        _ => {
            cx.err(
                node.pos,
                format!("{what} must be a list, found {}", node.type_name()),
            );
            None
        }
    }
}
