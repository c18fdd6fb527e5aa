//! Alertmanager's API v2, in its own shapes and camelCase names (`gettableAlert`,
//! `alertGroup`, `gettableSilence`, `postableSilence`, `alertmanagerStatus`, `receiver`):
//! `GET/POST /api/v2/alerts`, `GET /api/v2/alerts/groups`, `GET /api/v2/status`,
//! `GET /api/v2/receivers`, `GET/POST /api/v2/silences`, `GET/DELETE /api/v2/silence/{id}`.
//! And the webhook payload (version 4) another Alertmanager forwards to
//! `POST /api/v1/integrations/alertmanager`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Time;

/// An alert as `POST /api/v2/alerts` takes it (the body is an array of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostableAlert {
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<Time>,
    /// Absent: the alert resolves after the resolve timeout unless posted again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<Time>,
    #[serde(
        rename = "generatorURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub generator_url: Option<String>,
}

/// An alert as `GET /api/v2/alerts` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GettableAlert {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: Time,
    /// Go's zero time (`0001-01-01T00:00:00.000Z`) for an alert with no known end.
    pub ends_at: Time,
    pub updated_at: Time,
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// 16 hex digits identifying the label set.
    pub fingerprint: String,
    /// The receivers the routing tree sends it to.
    pub receivers: Vec<Receiver>,
    pub status: AlertStatus,
}

/// Whether an alert is muted, and by what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertStatus {
    pub state: AlertState,
    /// Ids of the silences muting it.
    pub silenced_by: Vec<String>,
    /// Fingerprints of the alerts inhibiting it.
    pub inhibited_by: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Unprocessed,
    Active,
    Suppressed,
}

/// A receiver, named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Receiver {
    pub name: String,
}

/// `GET /api/v2/alerts/groups`: one aggregation group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlertGroup {
    /// The values of the route's `group_by` labels.
    pub labels: BTreeMap<String, String>,
    pub receiver: Receiver,
    pub alerts: Vec<GettableAlert>,
}

/// `GET /api/v2/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerStatus {
    pub cluster: ClusterStatus,
    pub config: AlertmanagerConfig,
    /// When the server started.
    pub uptime: Time,
    pub version_info: VersionInfo,
}

/// headroom runs no gossip cluster: `disabled`, no peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClusterStatus {
    pub name: String,
    pub peers: Vec<PeerStatus>,
    pub status: ClusterState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PeerStatus {
    pub name: String,
    pub address: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClusterState {
    Ready,
    Settling,
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlertmanagerConfig {
    /// The config's text; secrets shown as `<secret>` except to admin tokens.
    pub original: String,
}

/// Go build details in Alertmanager; headroom fills in only `version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub branch: String,
    pub build_date: String,
    pub build_user: String,
    pub go_version: String,
    pub revision: String,
    pub version: String,
}

/// One matcher of a silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Matcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    /// `false` for `!=` and `!~`. A posted matcher without it means `true`.
    #[serde(default = "equal_by_default")]
    pub is_equal: bool,
}

fn equal_by_default() -> bool {
    true
}

/// `POST /api/v2/silences`: a new silence, or (with `id`) a change to one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostableSilence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub matchers: Vec<Matcher>,
    pub starts_at: Time,
    pub ends_at: Time,
    pub created_by: String,
    pub comment: String,
}

/// The answer to `POST /api/v2/silences`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SilenceCreated {
    #[serde(rename = "silenceID")]
    pub silence_id: String,
}

/// A silence as `GET /api/v2/silences` and `GET /api/v2/silence/{id}` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GettableSilence {
    pub id: String,
    pub matchers: Vec<Matcher>,
    pub starts_at: Time,
    pub ends_at: Time,
    pub updated_at: Time,
    pub created_by: String,
    pub comment: String,
    pub status: SilenceStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SilenceStatus {
    pub state: SilenceState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    Expired,
    Active,
    Pending,
}

/// Alertmanager's webhook payload, version 4: what `POST /api/v1/integrations/alertmanager`
/// takes from an Alertmanager's `webhook_configs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookMessage {
    /// `"4"`.
    pub version: String,
    pub group_key: String,
    #[serde(default)]
    pub truncated_alerts: u64,
    pub status: NotificationStatus,
    #[serde(default)]
    pub receiver: String,
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(rename = "externalURL", default)]
    pub external_url: String,
    pub alerts: Vec<WebhookAlert>,
}

/// One alert of a webhook payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    pub status: NotificationStatus,
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub starts_at: Time,
    /// Go's zero time (`0001-01-01T00:00:00Z`) while firing.
    pub ends_at: Time,
    #[serde(rename = "generatorURL", default)]
    pub generator_url: String,
    #[serde(default)]
    pub fingerprint: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NotificationStatus {
    Firing,
    Resolved,
}

/// The answer to a forwarded webhook payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookAccepted {
    pub status: WebhookOutcome,
    /// Alerts taken from the payload.
    pub alerts: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookOutcome {
    Success,
}
