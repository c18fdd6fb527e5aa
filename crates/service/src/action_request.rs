//! An action's request in two forms: rendered from its templates and stored without secrets
//! ([`RenderedRequest`], what the audit log shows and the outbox keeps), and made sendable at
//! send time with the secrets of the config in force ([`sendable`]).
//!
//! GitHub (REST API 2022-11-28): `workflow_dispatch` is `POST
//! {api}/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches` with `{"ref", "inputs"}`,
//! `repository_dispatch` is `POST {api}/repos/{owner}/{repo}/dispatches` with `{"event_type",
//! "client_payload"}`, each with `Authorization: Bearer`, `Accept: application/vnd.github+json`
//! and `X-GitHub-Api-Version: 2022-11-28`. GitLab: `POST
//! {api}/api/v4/projects/{id or URL-encoded path}/trigger/pipeline` with the form fields
//! `token`, `ref` and `variables[KEY]`.

use std::collections::BTreeMap;

use headroom_notify::{ActionRequest, render_action};
use headroom_spec::{Action, ActionKind, GithubEvent, SECRET, redacted_url};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The outbox integration name of action runs; the item's receiver is the action's name.
pub const ACTION_INTEGRATION: &str = "action";
pub const GITHUB_API_VERSION: &str = "2022-11-28";
const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// A rendered request with its secrets left out: header values of an HTTP action and tokens
/// are `<secret>`, URLs are shown without credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// What the outbox carries for a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunPayload {
    pub run: String,
    pub request: RenderedRequest,
}

/// Renders `action`'s templates over `context`. The error names the template that failed.
pub fn render(action: &Action, context: &Value) -> Result<RenderedRequest, String> {
    let text = |map: &BTreeMap<String, String>, what: &str| -> Result<Value, String> {
        let mut out = serde_json::Map::new();
        for (k, source) in map {
            let v =
                render_action(source, context, false).map_err(|e| format!("{what}.{k}: {e}"))?;
            out.insert(k.clone(), Value::String(v));
        }
        Ok(Value::Object(out))
    };
    Ok(match &action.kind {
        ActionKind::Http(h) => {
            let body = match &h.body {
                Some(source) => {
                    render_action(source, context, true).map_err(|e| format!("body: {e}"))?
                }
                // Without a body template the trigger's context is the body.
                None if h.method != "GET" => context.to_string(),
                None => String::new(),
            };
            let mut headers: Vec<(String, String)> = h
                .headers
                .iter()
                .map(|(name, _)| (name.clone(), SECRET.to_string()))
                .collect();
            if !body.is_empty()
                && !h
                    .headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            {
                headers.push(("Content-Type".into(), JSON.into()));
            }
            RenderedRequest {
                method: h.method.clone(),
                url: redacted_url(&h.url),
                headers,
                body,
            }
        }
        ActionKind::GithubDispatch(g) => {
            let (path, body) = match &g.event {
                GithubEvent::Workflow {
                    workflow,
                    git_ref,
                    inputs,
                } => (
                    format!("actions/workflows/{}/dispatches", encode(workflow, false)),
                    json!({"ref": git_ref, "inputs": text(inputs, "inputs")?}),
                ),
                GithubEvent::Repository {
                    event_type,
                    client_payload,
                } => (
                    "dispatches".to_string(),
                    json!({"event_type": event_type, "client_payload": text(client_payload, "client_payload")?}),
                ),
            };
            RenderedRequest {
                method: "POST".into(),
                url: format!("{}/repos/{}/{path}", redacted_url(&g.api_url), g.repository),
                headers: vec![
                    ("Accept".into(), "application/vnd.github+json".into()),
                    ("Authorization".into(), format!("Bearer {SECRET}")),
                    ("X-GitHub-Api-Version".into(), GITHUB_API_VERSION.into()),
                    ("Content-Type".into(), JSON.into()),
                ],
                body: body.to_string(),
            }
        }
        ActionKind::GitlabTrigger(g) => {
            let mut form = vec![format!("ref={}", encode(&g.git_ref, true))];
            for (k, v) in text(&g.variables, "variables")?
                .as_object()
                .into_iter()
                .flatten()
            {
                let v = v.as_str().unwrap_or_default();
                form.push(format!(
                    "{}={}",
                    encode(&format!("variables[{k}]"), true),
                    encode(v, true)
                ));
            }
            RenderedRequest {
                method: "POST".into(),
                url: format!(
                    "{}/api/v4/projects/{}/trigger/pipeline",
                    redacted_url(&g.api_url),
                    encode(&g.project, false)
                ),
                headers: vec![("Content-Type".into(), FORM.into())],
                // The token is the first field, added at send time.
                body: form.join("&"),
            }
        }
    })
}

/// The request as it leaves: the stored one with the secrets and the URL of `action` as the
/// config in force has them.
pub fn sendable(action: &Action, stored: &RenderedRequest) -> ActionRequest {
    let mut headers: Vec<(String, String)> = stored
        .headers
        .iter()
        .filter(|(_, v)| !v.contains(SECRET))
        .cloned()
        .collect();
    let mut body = stored.body.clone().into_bytes();
    let url = match &action.kind {
        ActionKind::Http(h) => {
            headers.extend(h.headers.iter().cloned());
            h.url.clone()
        }
        ActionKind::GithubDispatch(g) => {
            headers.push(("Authorization".into(), format!("Bearer {}", g.token)));
            stored
                .url
                .replacen(&redacted_url(&g.api_url), &g.api_url, 1)
        }
        ActionKind::GitlabTrigger(g) => {
            let mut form = format!("token={}", encode(&g.token, true)).into_bytes();
            if !body.is_empty() {
                form.push(b'&');
                form.append(&mut body);
            }
            body = form;
            stored
                .url
                .replacen(&redacted_url(&g.api_url), &g.api_url, 1)
        }
    };
    ActionRequest {
        method: stored.method.clone(),
        url,
        headers,
        body,
        timeout: action.timeout,
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters; a form (`form`) writes a space
/// as `+`, as `application/x-www-form-urlencoded` does.
pub fn encode(s: &str, form: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' if form => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn encodes_paths_and_form_fields() {
        assert_eq!(encode("group/sub project", false), "group%2Fsub%20project");
        assert_eq!(encode("variables[A B]", true), "variables%5BA+B%5D");
        assert_eq!(encode("a-b_c.d~e", true), "a-b_c.d~e");
        assert_eq!(encode("é", true), "%C3%A9");
    }
}
