//! The native format's `incident_policies`: which alerts open an incident, with which severity
//! and title, and which alerts join one already open.
//!
//! ```yaml
//! incident_policies:
//!   - name: tier-1-pages
//!     matchers: ['severity="page"', 'tier="1"']   # all must match; none matches every alert
//!     severity: SEV2                               # SEV1 … SEV4
//!     title: "{{alertname}} on {{service}}"        # {{label}} is the alert's label value
//!     group_by: [service]                          # alerts agreeing on these join one incident
//! ```

use headroom_incident::{IncidentPolicy, Severity};

use crate::read::{At, Cx, Fields, fields, string};
use crate::respond::matcher_list;
use crate::rules::{check_label_name, check_name};
use crate::yaml::Node;

const POLICY: &[&str] = &["name", "matchers", "severity", "title", "group_by"];

/// Reads the `incident_policies` of one native document; names are unique across the set.
pub(crate) fn read(cx: &mut Cx, f: &Fields, out: &mut Vec<At<IncidentPolicy>>) {
    for item in f.list(cx, "incident_policies").unwrap_or_default() {
        let Some(p) = policy(cx, item) else {
            continue;
        };
        if let Some(first) = out.iter().find(|q| q.v.name == p.name) {
            let at = cx.source(first.pos);
            cx.err(
                item.pos,
                format!("incident policy {:?} is already defined at {at}", p.name),
            );
        } else {
            out.push(At {
                v: p,
                pos: item.pos,
            });
        }
    }
}

fn policy(cx: &mut Cx, node: &Node) -> Option<IncidentPolicy> {
    let f = fields(cx, node, "incident policy", POLICY)?;
    let mark = cx.mark();
    let name = f.req_str(cx, "name");
    if let Some(n) = &name {
        check_name(cx, n, "incident policy name");
    }
    let matchers = f
        .list(cx, "matchers")
        .unwrap_or_default()
        .iter()
        .flat_map(|n| matcher_list(cx, n))
        .collect();
    let severity = f.req_str(cx, "severity").and_then(|s| {
        s.v.parse::<Severity>()
            .map_err(|e| cx.err(s.pos, e.to_string()))
            .ok()
    });
    let title = f.req_str(cx, "title");
    if let Some(t) = &title
        && t.v.trim().is_empty()
    {
        cx.err(t.pos, "title is empty");
    }
    let mut group_by: Vec<String> = Vec::new();
    for n in f.list(cx, "group_by").unwrap_or_default() {
        let Some(label) = string(cx, n, "group_by") else {
            continue;
        };
        if !check_label_name(cx, &label, "group_by") {
            continue;
        }
        if group_by.contains(&label.v) {
            cx.err(
                label.pos,
                format!("group_by: {:?} is listed twice", label.v),
            );
        } else {
            group_by.push(label.v);
        }
    }
    cx.clean_since(mark).then_some(())?;
    Some(IncidentPolicy {
        name: name?.v,
        matchers,
        severity: severity?,
        title: title?.v,
        group_by,
    })
}
