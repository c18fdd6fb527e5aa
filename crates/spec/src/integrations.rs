//! The native format's `integrations`: senders that reach headroom through another tool's
//! protocol, here PagerDuty's Events API v2 (`POST /v2/enqueue`). Each maps its routing key to
//! a service and labels, which every alert it sends carries.
//!
//! ```yaml
//! integrations:
//!   - name: cron-jobs
//!     pagerduty_events:
//!       routing_key_file: secrets/cron.key   # or routing_key_sha256: <64 hex digits>
//!     service: checkout
//!     labels: {team: shop}
//! ```
//!
//! A routing key is a secret: the loader keeps only its SHA-256, whether it was given hashed or
//! read from a file, and never echoes it.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::read::{At, Cx, fields};
use crate::rules::labels;
use crate::signals::read_secret;
use crate::yaml::Node;

const INTEGRATION: &[&str] = &["name", "pagerduty_events", "service", "labels"];
const PAGERDUTY: &[&str] = &["routing_key_sha256", "routing_key_file"];

/// A sender of PagerDuty events, known by the SHA-256 of its routing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundIntegration {
    pub name: String,
    pub routing_key_sha256: [u8; 32],
    /// Set as the `service` label of its alerts.
    pub service: Option<String>,
    pub labels: BTreeMap<String, String>,
}

pub(crate) fn read(cx: &mut Cx, items: &[Node], out: &mut Vec<At<InboundIntegration>>) {
    for node in items {
        if let Some(i) = integration(cx, node) {
            out.push(At {
                v: i,
                pos: node.pos,
            });
        }
    }
}

fn integration(cx: &mut Cx, node: &Node) -> Option<InboundIntegration> {
    let f = fields(cx, node, "integration", INTEGRATION)?;
    let mark = cx.mark();
    let name = f.req_str(cx, "name");
    let service = f.str(cx, "service").map(|s| s.v);
    let labels = f
        .get("labels")
        .map(|n| labels(cx, n, "labels"))
        .unwrap_or_default();
    let key = f.req(cx, "pagerduty_events").and_then(|n| {
        let p = fields(cx, n, "pagerduty_events", PAGERDUTY)?;
        match (p.str(cx, "routing_key_sha256"), p.str(cx, "routing_key_file")) {
            (Some(h), None) => match hex::decode(&h.v).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()) {
                Some(k) => Some(k),
                None => {
                    cx.err(h.pos, "routing_key_sha256 must be 64 hexadecimal digits (sha256sum of the key)");
                    None
                }
            },
            (None, Some(path)) => {
                let key = read_secret(cx, &path)?;
                Some(Sha256::digest(key.trim().as_bytes()).into())
            }
            (Some(_), Some(path)) => {
                cx.err(path.pos, "give routing_key_sha256 or routing_key_file, not both");
                None
            }
            (None, None) => {
                cx.err(p.pos, "pagerduty_events needs routing_key_sha256 or routing_key_file");
                None
            }
        }
    });
    if !cx.clean_since(mark) {
        return None;
    }
    Some(InboundIntegration {
        name: name?.v,
        routing_key_sha256: key?,
        service,
        labels,
    })
}
