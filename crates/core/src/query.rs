//! A PromQL query as written in a spec, below both the SLO and the rules it is written into.

use serde::{Deserialize, Serialize};

/// A PromQL query kept verbatim (with Sloth's `{{.window}}` placeholder) for the metric sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PromQuery(pub String);
