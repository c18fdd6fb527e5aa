//! An instant on the wire.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An RFC 3339 time as the server writes it (`2027-01-15T08:00:30Z`,
/// `2027-01-15T08:00:30.000Z`). Kept as the text itself, so a value read and written again is
/// the same text; parse it where a computation needs the instant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, format = DateTime)]
pub struct Time(pub String);

impl Time {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Time {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Time {
    fn from(s: String) -> Self {
        Time(s)
    }
}

impl From<&str> for Time {
    fn from(s: &str) -> Self {
        Time(s.to_string())
    }
}
