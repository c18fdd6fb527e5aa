//! The unit every SLI source produces: good and total events at one moment.

use std::collections::BTreeMap;

use crate::Timestamp;

/// Good and total events observed at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub at: Timestamp,
    pub good: f64,
    pub total: f64,
    /// Values of the SLO's grouping labels (empty for an ungrouped SLO).
    pub labels: BTreeMap<String, String>,
}
