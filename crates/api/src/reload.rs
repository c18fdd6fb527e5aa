//! `POST /-/reload`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The config was reloaded. A refused config is an error answer (422) with one problem a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reloaded {
    pub status: ReloadStatus,
    /// SLOs in the config now in force.
    pub slos: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReloadStatus {
    Reloaded,
}
