//! A YAML document as a tree of nodes that each know where they came from.
//!
//! Every format is read from this tree rather than through derived `Deserialize` impls, so one
//! document can report all of its problems (not just the first serde error), and unknown keys
//! get a did-you-mean suggestion.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A place in one of the loaded files: an index into the loader's file table, and a 1-based
/// line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub file: usize,
    pub line: u32,
    pub column: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub pos: Pos,
    pub value: Value,
    /// For scalars, the text as written (`0.10`, `yes`), so label values keep their spelling.
    pub text: String,
}

impl Node {
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The scalar as text: a string's value, or how a number or boolean was written.
    pub fn scalar_text(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => Some(&self.text),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Looks a key up without any checking, for format detection.
    pub fn key(&self, name: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.scalar_text() == Some(name))
            .map(|(_, v)| v)
    }
}

/// A syntax error: where, and what.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// Parses every document of a YAML stream. Empty documents are skipped.
pub(crate) fn parse(file: usize, text: &str) -> Result<Vec<Node>, SyntaxError> {
    let docs = serde_saphyr::from_multiple::<Spanned<Raw>>(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (clamp(l.line()), clamp(l.column())))
            .unwrap_or((1, 1));
        let mut message = e.without_snippet().to_string();
        // The location is reported separately; drop the library's own suffix.
        if let Some(i) = message.rfind(" at line ") {
            message.truncate(i);
        }
        SyntaxError {
            line: line.max(1),
            column: column.max(1),
            message,
        }
    })?;
    Ok(docs.into_iter().map(|d| convert(file, text, d)).collect())
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn convert(file: usize, src: &str, raw: Spanned<Raw>) -> Node {
    let loc = raw.referenced;
    let pos = Pos {
        file,
        line: clamp(loc.line()),
        column: clamp(loc.column()),
    };
    let span = loc.span();
    let text = match (span.byte_offset(), span.byte_len()) {
        (Some(o), Some(l)) => src
            .get(o as usize..(o + l) as usize)
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    };
    let value = match raw.value {
        Raw::Null => Value::Null,
        Raw::Bool(b) => Value::Bool(b),
        Raw::Int(i) => Value::Int(i),
        Raw::Float(f) => Value::Float(f),
        Raw::Str(s) => Value::Str(s),
        Raw::Seq(items) => Value::Seq(items.into_iter().map(|n| convert(file, src, n)).collect()),
        Raw::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (convert(file, src, k), convert(file, src, v)))
                .collect(),
        ),
    };
    let text = match &value {
        Value::Bool(_) | Value::Int(_) | Value::Float(_) if !text.is_empty() => text,
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        _ => String::new(),
    };
    Node { pos, value, text }
}

/// What serde-saphyr hands us: any YAML value, children wrapped in `Spanned` for their locations.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_char<E>(self, v: char) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw, E> {
        Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Raw::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_know_their_position_and_spelling() {
        let docs = parse(0, "a: 1\nb:\n  c: 0.10\n---\n- x\n").unwrap();
        assert_eq!(docs.len(), 2);
        let b = docs[0].key("b").unwrap();
        let c = b.key("c").unwrap();
        assert_eq!((c.pos.line, c.pos.column), (3, 6));
        assert_eq!(c.scalar_text(), Some("0.10"));
        assert_eq!(docs[1].pos.line, 5);
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let Err(e) = parse(0, "a: 1\nb: [1, 2\nc: 3\n") else {
            panic!("should fail")
        };
        assert_eq!((e.line, e.column), (3, 2));
        assert!(!e.message.contains("at line"), "{}", e.message);
    }
}
