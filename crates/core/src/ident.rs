//! Names that travel between crates, typed so that an SLO id, an alert severity and a group key
//! cannot be swapped for one another, and a group's labels are never re-parsed from a string
//! by whoever receives it.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! name {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        /// As the text itself, quoted: messages that print `{:?}` read as before the type.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                $name(s.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_string(self) -> String {
                self.0
            }
        }
        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }
        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

name!(
    /// An SLO's unique id: `<service>-<name>` for Sloth, `metadata.name` for OpenSLO, `name` for
    /// native specs.
    SloId
);

name!(
    /// An alert tier's severity, which also names the tier's alert: `page`, `ticket`, or any name
    /// a spec gives its tiers.
    Severity
);

/// One group of an SLO: the values of its grouping labels, in the SLO's grouping order; empty for
/// an ungrouped SLO.
///
/// Its text form, `name=value,name=value`, is what the SLI store and the API carry. A `\`, `,`
/// or `=` inside a name or value is escaped with `\`, so every key reads back into exactly the
/// labels it was made from (keys with none of those characters read the same as before escaping
/// existed). Order and equality are those of the text form.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GroupKey(String);

/// As its text form, quoted, like the other names.
impl fmt::Debug for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A group key's text that is not `name=value` pairs, or an event lacking a grouping label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupKeyError {
    #[error("group key {key:?}: {why}")]
    Malformed { key: String, why: &'static str },
    #[error("missing grouping label {label:?} (the SLO is grouped by {grouping:?})")]
    MissingLabel {
        label: String,
        grouping: Vec<String>,
    },
}

/// Compares the text form, as the API and tests write it (`region=eu`).
impl PartialEq<&str> for GroupKey {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl GroupKey {
    /// The key of an ungrouped SLO's only group.
    pub fn ungrouped() -> Self {
        GroupKey(String::new())
    }

    /// The group of `labels` under `grouping` (label names, in order).
    pub fn of(
        grouping: &[String],
        labels: &BTreeMap<String, String>,
    ) -> Result<Self, GroupKeyError> {
        let mut pairs = Vec::with_capacity(grouping.len());
        for name in grouping {
            let value = labels
                .get(name)
                .ok_or_else(|| GroupKeyError::MissingLabel {
                    label: name.clone(),
                    grouping: grouping.to_vec(),
                })?;
            pairs.push((name.as_str(), value.as_str()));
        }
        Ok(Self::from_pairs(pairs))
    }

    /// A key from `(name, value)` pairs, in the order given.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut s = String::new();
        for (i, (name, value)) in pairs.into_iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            escape_into(&mut s, name);
            s.push('=');
            escape_into(&mut s, value);
        }
        GroupKey(s)
    }

    /// Reads a key's text form back, refusing text that no key would have.
    pub fn parse(text: &str) -> Result<Self, GroupKeyError> {
        let key = GroupKey(text.to_string());
        key.try_pairs().map_err(|why| GroupKeyError::Malformed {
            key: text.to_string(),
            why,
        })?;
        Ok(key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `(name, value)` pairs, in grouping order.
    pub fn labels(&self) -> Vec<(String, String)> {
        self.try_pairs()
            .expect("a group key is only made from pairs or checked text")
    }

    fn try_pairs(&self) -> Result<Vec<(String, String)>, &'static str> {
        let mut out = Vec::new();
        if self.0.is_empty() {
            return Ok(out);
        }
        let (mut name, mut value) = (String::new(), None::<String>);
        let mut chars = self.0.chars();
        while let Some(c) = chars.next() {
            let c = match c {
                '\\' => match chars.next() {
                    Some(e @ ('\\' | ',' | '=')) => e,
                    _ => return Err("a `\\` must escape `\\`, `,` or `=`"),
                },
                '=' if value.is_none() => {
                    value = Some(String::new());
                    continue;
                }
                '=' => return Err("a second unescaped `=` in one pair"),
                ',' => {
                    let v = value.take().ok_or("a pair without `=`")?;
                    out.push((std::mem::take(&mut name), v));
                    continue;
                }
                c => c,
            };
            match &mut value {
                Some(v) => v.push(c),
                None => name.push(c),
            }
        }
        out.push((name, value.ok_or("a pair without `=`")?));
        if out.iter().any(|(n, _)| n.is_empty()) {
            return Err("an empty label name");
        }
        Ok(out)
    }
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
}

impl fmt::Display for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl std::str::FromStr for GroupKey {
    type Err = GroupKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GroupKey::parse(s)
    }
}

impl Serialize for GroupKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for GroupKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        GroupKey::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn plain_keys_read_as_before_escaping() {
        let grouping = vec!["route".to_string(), "code".to_string()];
        let key = GroupKey::of(&grouping, &labels(&[("code", "200"), ("route", "/a")])).unwrap();
        assert_eq!(key.as_str(), "route=/a,code=200");
        assert_eq!(GroupKey::parse("route=/a,code=200").unwrap(), key);
        assert_eq!(
            key.labels(),
            vec![
                ("route".to_string(), "/a".to_string()),
                ("code".to_string(), "200".to_string())
            ]
        );
    }

    #[test]
    fn values_with_separators_read_back_whole() {
        let grouping = vec!["q".to_string(), "r".to_string()];
        for value in ["a,b", "x=y", "back\\slash", "=,\\", "", "é,ü"] {
            let key = GroupKey::of(&grouping, &labels(&[("q", value), ("r", "z")])).unwrap();
            let read = GroupKey::parse(key.as_str()).unwrap();
            assert_eq!(read, key);
            assert_eq!(
                read.labels(),
                vec![
                    ("q".to_string(), value.to_string()),
                    ("r".to_string(), "z".to_string())
                ],
                "value {value:?} as {:?}",
                key.as_str()
            );
        }
        // Two label sets that a plain join would make the same text stay apart.
        let one = GroupKey::of(&grouping, &labels(&[("q", "a,r=b"), ("r", "c")])).unwrap();
        let two = GroupKey::of(&grouping, &labels(&[("q", "a"), ("r", "b,r=c")])).unwrap();
        assert_ne!(one, two);
    }

    #[test]
    fn malformed_text_is_refused() {
        for bad in ["route", "route=a,code", "a=b=c", "a=b\\", "a=\\x", "=v"] {
            assert!(
                matches!(GroupKey::parse(bad), Err(GroupKeyError::Malformed { .. })),
                "{bad:?}"
            );
        }
        assert!(GroupKey::parse("").unwrap().is_empty());
    }

    #[test]
    fn a_missing_grouping_label_is_named() {
        let err = GroupKey::of(&["tier".to_string()], &labels(&[("route", "/")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing grouping label \"tier\" (the SLO is grouped by [\"tier\"])"
        );
    }

    #[test]
    fn keys_serialize_as_their_text() {
        let key = GroupKey::from_pairs([("q", "a,b")]);
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, r#""q=a\\,b""#);
        assert_eq!(serde_json::from_str::<GroupKey>(&json).unwrap(), key);
        assert!(serde_json::from_str::<GroupKey>(r#""q""#).is_err());
    }
}
