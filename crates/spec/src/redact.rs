//! The config as it may be shown to readers (`/api/v2/status`, as Alertmanager shows its own):
//! every secret replaced by `<secret>`.
//!
//! What counts as secret is decided by key, not by knowing each field, so that a field added
//! later is hidden by default:
//! - keys naming a credential (`password`, `secret`, `token`, `credentials`, `authorization`,
//!   and any key ending in `_password`, `_secret`, `_token` or `_key`): the whole value;
//! - `headers` and `http_headers` maps: every value (they carry API keys);
//! - URLs under `receivers`, `global`, `users` and `integrations` (Slack and webhook URLs hold
//!   their credential in the path): the whole value;
//! - any other URL: its user-info and its query values (`?token=…`).
//!
//! `*_file` keys name files; their contents are never part of the config text.

use serde_json::Value;

pub const SECRET: &str = "<secret>";

/// The config text with its secrets replaced, one YAML document per input document. A text
/// that does not parse (it was loaded, so it should) comes back as `<secret>` whole.
pub fn redacted_config(text: &str) -> String {
    let docs: Vec<Value> = match serde_saphyr::from_str_multiple(text) {
        Ok(docs) => docs,
        Err(_) => return SECRET.to_string(),
    };
    let docs: Vec<Value> = docs
        .into_iter()
        .map(|mut d| {
            redact(&mut d, false);
            d
        })
        .collect();
    match serde_saphyr::to_string_multiple(&docs) {
        Ok(s) => s,
        Err(_) => SECRET.to_string(),
    }
}

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    matches!(
        k.as_str(),
        "password" | "secret" | "token" | "credentials" | "authorization" | "api_key"
    ) || ["_password", "_secret", "_token", "_key"]
        .iter()
        .any(|s| k.ends_with(s))
}

/// Sections whose URLs are notification targets: secret as a whole.
fn holds_target_urls(key: &str) -> bool {
    matches!(key, "receivers" | "global" | "users" | "integrations")
}

fn redact(v: &mut Value, targets: bool) {
    match v {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_key(k) {
                    *v = Value::String(SECRET.into());
                } else if k == "headers" || k == "http_headers" {
                    hide_values(v);
                } else {
                    redact(v, targets || holds_target_urls(k));
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| redact(i, targets)),
        Value::String(s) if looks_like_url(s) => {
            *s = if targets {
                SECRET.to_string()
            } else {
                redacted_url(s)
            };
        }
        _ => {}
    }
}

fn hide_values(v: &mut Value) {
    match v {
        Value::Object(map) => map
            .values_mut()
            .for_each(|v| *v = Value::String(SECRET.into())),
        other => *other = Value::String(SECRET.into()),
    }
}

fn looks_like_url(s: &str) -> bool {
    s.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphabetic())
    })
}

/// `scheme://user:pass@host/path?k=v#f` → `scheme://<secret>@host/path?k=<secret>`: where a
/// URL shows, not what it carries.
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (before_fragment, _) = rest.split_once('#').unwrap_or((rest, ""));
    let (head, query) = match before_fragment.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (before_fragment, None),
    };
    let authority_end = head.find('/').unwrap_or(head.len());
    let (authority, path) = head.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("{SECRET}@{host}"),
        None => authority.to_string(),
    };
    let mut out = format!("{scheme}://{authority}{path}");
    if let Some(q) = query {
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) => format!("{k}={SECRET}"),
                None => SECRET.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_their_place_but_not_their_credentials() {
        assert_eq!(
            redacted_url("https://u:p@prom.example:9090/api?token=abc&x=1#frag"),
            "https://<secret>@prom.example:9090/api?token=<secret>&x=<secret>"
        );
        assert_eq!(redacted_url("http://prom:9090/"), "http://prom:9090/");
    }

    #[test]
    fn secrets_are_hidden_by_key_section_and_url() {
        let text = "\
global:
  smtp_auth_password: hunter2
  slack_api_url: https://hooks.slack.com/services/T0/B0/XYZ
receivers:
  - name: team
    webhook_configs:
      - url: https://hooks.example/in?token=wh-secret
        http_config:
          basic_auth: {username: bob, password: pw1}
          authorization: {type: Bearer, credentials: cred1}
backends:
  - name: prom
    url: https://reader:pw2@prom.example/
    headers: {X-Api-Key: key1}
probes:
  - name: home
    url: https://example.com/health?apikey=key2
slos: []
";
        let out = redacted_config(text);
        for secret in [
            "hunter2",
            "XYZ",
            "wh-secret",
            "pw1",
            "cred1",
            "pw2",
            "key1",
            "key2",
        ] {
            assert!(!out.contains(secret), "{secret} in\n{out}");
        }
        for kept in ["bob", "prom.example", "https://example.com/health", "team"] {
            assert!(out.contains(kept), "{kept} missing from\n{out}");
        }
    }

    #[test]
    fn each_document_stays_a_document() {
        let out = redacted_config("a: 1\n---\nb: {password: x}\n");
        let docs: Vec<Value> = serde_saphyr::from_str_multiple(&out).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1]["b"]["password"], SECRET);
    }
}
