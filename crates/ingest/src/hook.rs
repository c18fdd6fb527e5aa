//! What the GitHub and GitLab webhook parsers share: the body bound, the errors, commit ids,
//! the times both forges write, and a JSON reader that names the path of every defect.

use std::fmt;

use headroom_core::Timestamp;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::alertmanager::FormatError;

/// The largest hook body read. GitHub caps webhook payloads at 25 MB and drops larger ones
/// undelivered; GitLab's are smaller (it truncates push commits to 20), so one bound serves
/// both.
pub const MAX_HOOK_BYTES: usize = 25 << 20;

/// Why a hook body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    #[error("body is {len} bytes, over the limit of {limit} bytes")]
    TooLarge { len: usize, limit: usize },
    #[error("{header} is missing: it names the event the body describes")]
    EventMissing { header: &'static str },
    /// The first defect of the body, at its JSON path (`commits[0].timestamp`).
    #[error("{event} hook: {error}")]
    Malformed { event: String, error: FormatError },
}

/// Why a request's credential was refused. Each names the header it read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("{header} is missing")]
    Missing { header: &'static str },
    #[error("{header} is malformed: {reason}")]
    Malformed {
        header: &'static str,
        reason: String,
    },
    #[error("{header} does not match")]
    Mismatch { header: &'static str },
    #[error(
        "{header} {sent} is more than {tolerance_secs} s from now ({now}): a replay or a skewed clock"
    )]
    Stale {
        header: &'static str,
        sent: Timestamp,
        now: Timestamp,
        tolerance_secs: i64,
    },
}

/// A full commit id: 40 hex digits (SHA-1) or 64 (SHA-256 repositories), kept in lower case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha(String);

impl Sha {
    pub fn parse(text: &str) -> Result<Sha, String> {
        if (text.len() == 40 || text.len() == 64) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Sha(text.to_ascii_lowercase()))
        } else {
            Err(format!(
                "{text:?} is not a commit id (40 or 64 hexadecimal digits)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Git writes all zeros for "no commit": the old side of a created ref, the new side of a
    /// deleted one.
    pub fn is_zero(&self) -> bool {
        self.0.bytes().all(|b| b == b'0')
    }

    /// Whether `prefix` (an abbreviated id, any case) abbreviates this one.
    pub fn starts_with(&self, prefix: &str) -> bool {
        prefix.len() <= self.0.len() && self.0[..prefix.len()].eq_ignore_ascii_case(prefix)
    }
}

impl fmt::Display for Sha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length")
}

/// The size check, then the body as JSON. With `form`, a body in GitHub's other content type
/// (`application/x-www-form-urlencoded`, the JSON in a `payload` field) is read too.
pub(crate) fn json_body(body: &[u8], event: &str, form: bool) -> Result<Value, HookError> {
    if body.len() > MAX_HOOK_BYTES {
        return Err(HookError::TooLarge {
            len: body.len(),
            limit: MAX_HOOK_BYTES,
        });
    }
    let malformed = |message: String| HookError::Malformed {
        event: event.to_string(),
        error: FormatError {
            path: String::new(),
            message,
        },
    };
    let decoded;
    let json = match body.strip_prefix(b"payload=") {
        Some(encoded) if form => {
            decoded = percent_decode(encoded).map_err(malformed)?;
            &decoded[..]
        }
        _ => body,
    };
    serde_json::from_slice(json).map_err(|e| {
        malformed(format!(
            "invalid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        ))
    })
}

/// One form field's value: `+` is a space, `%XX` a byte; it ends at the next `&`.
fn percent_decode(encoded: &[u8]) -> Result<Vec<u8>, String> {
    let value = encoded.split(|&b| b == b'&').next().unwrap_or_default();
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = value
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("form field payload has a bad escape at byte {i}"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Ok(out)
}

/// A time as GitHub and GitLab write them: RFC 3339 (`2019-05-15T15:19:25Z`,
/// `2011-12-12T14:27:31+02:00`), or GitLab's `2021-04-28 21:50:00 +0200` and
/// `2016-08-12 15:23:28 UTC` (fractional seconds allowed in each).
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    let s = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(Timestamp::from_chrono(&t));
    }
    if let Ok(t) = chrono::DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f %z") {
        return Ok(Timestamp::from_chrono(&t));
    }
    if let Some(utc) = s.strip_suffix(" UTC")
        && let Ok(t) = chrono::NaiveDateTime::parse_from_str(utc, "%Y-%m-%d %H:%M:%S%.f")
    {
        return Ok(Timestamp::from_chrono(&t.and_utc()));
    }
    Err(format!(
        "{text:?} is not a time (RFC 3339, or \"YYYY-MM-DD hh:mm:ss +hhmm\" or \"… UTC\")"
    ))
}

/// A commit message's first line, as `git log --oneline` shows it.
pub(crate) fn first_line(message: &str) -> String {
    message
        .lines()
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

/// A JSON value and the path it was reached by, so every defect names where it is.
#[derive(Debug)]
pub(crate) struct Node<'a> {
    value: &'a Value,
    path: String,
}

fn err(path: String, message: impl Into<String>) -> FormatError {
    FormatError {
        path,
        message: message.into(),
    }
}

impl<'a> Node<'a> {
    pub fn root(value: &'a Value) -> Self {
        Node {
            value,
            path: String::new(),
        }
    }

    #[cfg(test)]
    pub fn path(&self) -> &str {
        &self.path
    }

    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn map(&self) -> Result<&'a Map<String, Value>, FormatError> {
        self.value
            .as_object()
            .ok_or_else(|| err(self.path.clone(), "must be a JSON object"))
    }

    /// The raw value at `key`; absent and null are both `None`.
    fn raw(&self, key: &str) -> Result<Option<&'a Value>, FormatError> {
        Ok(self.map()?.get(key).filter(|v| !v.is_null()))
    }

    /// A child object that must be there.
    pub fn object(&self, key: &str) -> Result<Node<'a>, FormatError> {
        self.opt_object(key)?
            .ok_or_else(|| err(self.key_path(key), "is required"))
    }

    /// A child object that may be absent or null.
    pub fn opt_object(&self, key: &str) -> Result<Option<Node<'a>>, FormatError> {
        match self.raw(key)? {
            None => Ok(None),
            Some(value) => {
                let node = Node {
                    value,
                    path: self.key_path(key),
                };
                node.map()?;
                Ok(Some(node))
            }
        }
    }

    /// The elements of an array; absent or null is an empty list.
    pub fn items(&self, key: &str) -> Result<Vec<Node<'a>>, FormatError> {
        let Some(child) = self.raw(key)? else {
            return Ok(Vec::new());
        };
        let path = self.key_path(key);
        let items = child
            .as_array()
            .ok_or_else(|| err(path.clone(), "must be an array"))?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, value)| Node {
                value,
                path: format!("{path}[{i}]"),
            })
            .collect())
    }

    /// This node itself as a string (an element of an array of strings).
    pub fn as_str(&self) -> Result<&'a str, FormatError> {
        self.value
            .as_str()
            .ok_or_else(|| err(self.path.clone(), "must be a string"))
    }

    /// This node itself as a commit id.
    pub fn as_sha(&self) -> Result<Sha, FormatError> {
        Sha::parse(self.as_str()?).map_err(|m| err(self.path.clone(), m))
    }

    /// Whether `key` is present and not null.
    pub fn has(&self, key: &str) -> Result<bool, FormatError> {
        Ok(self.raw(key)?.is_some())
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, FormatError> {
        match self.raw(key)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(err(self.key_path(key), "must be a string")),
        }
    }

    pub fn str(&self, key: &str) -> Result<&'a str, FormatError> {
        self.opt_str(key)?
            .ok_or_else(|| err(self.key_path(key), "is required"))
    }

    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, FormatError> {
        match self.raw(key)? {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| err(self.key_path(key), "must be a non-negative integer")),
        }
    }

    pub fn u64(&self, key: &str) -> Result<u64, FormatError> {
        self.opt_u64(key)?
            .ok_or_else(|| err(self.key_path(key), "is required"))
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, FormatError> {
        match self.raw(key)? {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(err(self.key_path(key), "must be true or false")),
        }
    }

    pub fn opt_time(&self, key: &str) -> Result<Option<Timestamp>, FormatError> {
        match self.opt_str(key)? {
            None => Ok(None),
            Some(s) => parse_time(s)
                .map(Some)
                .map_err(|m| err(self.key_path(key), m)),
        }
    }

    pub fn time(&self, key: &str) -> Result<Timestamp, FormatError> {
        self.opt_time(key)?
            .ok_or_else(|| err(self.key_path(key), "is required"))
    }

    pub fn opt_sha(&self, key: &str) -> Result<Option<Sha>, FormatError> {
        match self.opt_str(key)? {
            None => Ok(None),
            Some(s) => Sha::parse(s)
                .map(Some)
                .map_err(|m| err(self.key_path(key), m)),
        }
    }

    pub fn sha(&self, key: &str) -> Result<Sha, FormatError> {
        self.opt_sha(key)?
            .ok_or_else(|| err(self.key_path(key), "is required"))
    }

    /// A commit id where all zeros means "none" (a created or deleted ref's other side).
    pub fn nonzero_sha(&self, key: &str) -> Result<Option<Sha>, FormatError> {
        Ok(self.opt_sha(key)?.filter(|s| !s.is_zero()))
    }

    /// An array of strings; absent or null is empty.
    pub fn strings(&self, key: &str) -> Result<Vec<String>, FormatError> {
        self.items(key)?
            .iter()
            .map(|n| n.as_str().map(str::to_string))
            .collect()
    }

    /// An error at `key` under this node.
    pub fn error(&self, key: &str, message: impl Into<String>) -> FormatError {
        err(self.key_path(key), message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_form_the_forges_write() {
        let utc = Timestamp::from_secs(1_619_639_400); // 2021-04-28T19:50:00Z
        for text in [
            "2021-04-28T19:50:00Z",
            "2021-04-28T21:50:00+02:00",
            "2021-04-28 21:50:00 +0200",
            "2021-04-28 19:50:00 UTC",
            "2021-04-28 19:50:00.000 UTC",
        ] {
            assert_eq!(parse_time(text), Ok(utc), "{text}");
        }
        assert_eq!(
            parse_time("2021-02-23T02:41:37.886Z"),
            Ok(Timestamp::from_millis(1_614_048_097_886))
        );
        let e = parse_time("2021-04-28 21:50").unwrap_err();
        assert!(e.contains("is not a time"), "{e}");
    }

    #[test]
    fn shas_are_full_hex_ids() {
        let s = Sha::parse("6113728F27ae82c7b1a177c8d03f9e96e0adf246").unwrap();
        assert_eq!(s.as_str(), "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
        assert!(s.starts_with("6113728f") && s.starts_with("6113728F") && !s.starts_with("7"));
        assert!(Sha::parse("6113728").is_err());
        assert!(Sha::parse(&"g".repeat(40)).is_err());
        assert!(Sha::parse(&"0".repeat(40)).unwrap().is_zero());
        assert!(Sha::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn paths_name_nested_fields() {
        let v: Value = serde_json::from_str(
            r#"{"a":{"list":[{"t":"x"},{"t":"2020-01-01 00:00:00 UTC","n":-1}]}}"#,
        )
        .unwrap();
        let root = Node::root(&v);
        let a = root.object("a").unwrap();
        let items = a.items("list").unwrap();
        assert_eq!(items[1].path(), "a.list[1]");
        let e = items[0].time("t").unwrap_err();
        assert_eq!(e.path, "a.list[0].t");
        assert_eq!(items[1].u64("n").unwrap_err().path, "a.list[1].n");
        assert_eq!(
            root.str("missing").unwrap_err().to_string(),
            "missing: is required"
        );
        assert_eq!(a.object("b").unwrap_err().path, "a.b");
    }

    #[test]
    fn form_bodies_decode_their_payload_field() {
        let v = json_body(b"payload=%7B%22a%22%3A+%22b+c%22%7D", "push", true).unwrap();
        assert_eq!(v["a"], "b c");
        let e = json_body(b"payload=%7", "push", true).unwrap_err();
        assert!(e.to_string().contains("bad escape"), "{e}");
        // Where forms are not a format the forge sends, the body is JSON or nothing.
        assert!(json_body(b"payload=%7B%7D", "push", false).is_err());
    }
}
