//! No secret from the config leaves the server: every GET operation the OpenAPI document lists,
//! asked with no token and with a read token, against a config holding every kind of secret
//! headroom accepts. The admin's raw view of `/api/v2/status` is the control that shows the
//! secrets are really in the config the server runs.

use crate::common::*;
use axum::body::Body;
use axum::http::{Method, StatusCode};
use headroom_service::ConfigSource;
use headroom_store::{FeedKeyStore, Scope, TokenStore};
use tempfile::TempDir;

/// Each secret is a distinct string that appears nowhere else.
const SMTP_PASSWORD: &str = "smtp-pw-Q1w2e3";
const SLACK_GLOBAL: &str = "T0GLOBAL/B0GLOBAL/slackglobalZ9";
const WEBHOOK_QUERY: &str = "webhook-query-tok-77";
const WEBHOOK_BASIC: &str = "webhook-basic-pw-88";
const WEBHOOK_BEARER: &str = "webhook-bearer-cred-99";
const WEBHOOK_FILE: &str = "webhook-file-cred-55";
const SLACK_RECEIVER: &str = "T1RECV/B1RECV/slackreceiverY8";
const EMAIL_PASSWORD: &str = "email-auth-pw-44";
const PD_ROUTING_KEY: &str = "pd-routing-key-33";
const PD_ROUTING_KEY_FILE: &str = "pd-routing-file-key-22";
const USER_SLACK: &str = "T2USER/B2USER/userslackX7";
const USER_WEBHOOK_TOKEN: &str = "user-webhook-tok-66";
const BACKEND_PASSWORD: &str = "backend-basic-pw-11";
const BACKEND_BEARER: &str = "backend-bearer-tok-00";
const BACKEND_HEADER: &str = "backend-header-key-12";
const PROBE_QUERY: &str = "probe-query-key-13";
const PROBE_HEADER: &str = "probe-header-tok-14";
const INTEGRATION_KEY: &str = "inbound-routing-key-15";
const METRICS_TOKEN: &str = "metrics-token-0123456789";
const GITHUB_HOOK_SECRET: &str = "github-hook-secret-16";
const GITLAB_HOOK_TOKEN: &str = "gitlab-hook-token-17";
/// A GitLab signing token: `whsec_` and base64 of "gitlab-signing-key-18".
const GITLAB_SIGNING_KEY: &str = "whsec_Z2l0bGFiLXNpZ25pbmcta2V5LTE4";
const ACTION_QUERY: &str = "action-query-key-19";
const ACTION_HEADER: &str = "action-header-key-20";
const ACTION_GITHUB_TOKEN: &str = "action-github-token-21";
const ACTION_GITLAB_TOKEN: &str = "action-gitlab-token-23";

const SECRETS: &[&str] = &[
    SMTP_PASSWORD,
    SLACK_GLOBAL,
    WEBHOOK_QUERY,
    WEBHOOK_BASIC,
    WEBHOOK_BEARER,
    WEBHOOK_FILE,
    SLACK_RECEIVER,
    EMAIL_PASSWORD,
    PD_ROUTING_KEY,
    PD_ROUTING_KEY_FILE,
    USER_SLACK,
    USER_WEBHOOK_TOKEN,
    BACKEND_PASSWORD,
    BACKEND_BEARER,
    BACKEND_HEADER,
    PROBE_QUERY,
    PROBE_HEADER,
    INTEGRATION_KEY,
    METRICS_TOKEN,
    GITHUB_HOOK_SECRET,
    GITLAB_HOOK_TOKEN,
    GITLAB_SIGNING_KEY,
    ACTION_QUERY,
    ACTION_HEADER,
    ACTION_GITHUB_TOKEN,
    ACTION_GITLAB_TOKEN,
];

fn config() -> String {
    format!(
        r##"anonymous_read: true
metrics_token: {METRICS_TOKEN}
global:
  smtp_from: alerts@example.com
  smtp_smarthost: 127.0.0.1:1
  smtp_auth_username: alerts
  smtp_auth_password: {SMTP_PASSWORD}
  slack_api_url: https://hooks.slack.com/services/{SLACK_GLOBAL}
route:
  receiver: team
  routes: [{{matchers: ['severity="page"'], receiver: pager}}]
receivers:
  - name: team
    webhook_configs:
      - url: http://127.0.0.1:1/hook?token={WEBHOOK_QUERY}
        http_config: {{basic_auth: {{username: relay, password: {WEBHOOK_BASIC}}}}}
      - url: http://127.0.0.1:1/bearer
        http_config: {{authorization: {{type: Bearer, credentials: {WEBHOOK_BEARER}}}}}
      - url: http://127.0.0.1:1/file
        http_config: {{authorization: {{credentials_file: secrets/hook}}}}
    slack_configs:
      - {{api_url: "https://hooks.slack.com/services/{SLACK_RECEIVER}", channel: "#team"}}
      - {{channel: "#global"}}
    email_configs:
      - {{to: team@example.com, auth_username: team, auth_password: {EMAIL_PASSWORD}}}
  - name: pager
    pagerduty_configs:
      - {{routing_key: {PD_ROUTING_KEY}}}
      - {{routing_key_file: secrets/pd}}
    escalation_policy: urgent
users:
  - id: alice
    name: Alice
    email: alice@example.com
    contact_methods:
      - {{slack: "https://hooks.slack.com/services/{USER_SLACK}"}}
      - {{webhook: "https://pager.example.com/alice?token={USER_WEBHOOK_TOKEN}"}}
teams: [{{id: shop, members: [alice]}}]
schedules:
  - id: primary
    time_zone: UTC
    layers: [{{users: [alice], turn: weekly, rotation_start: "2026-01-05T09:00"}}]
escalation_policies:
  - {{id: urgent, levels: [{{delay: 5m, targets: [{{schedule: primary}}]}}]}}
integrations:
  - name: cron
    pagerduty_events: {{routing_key_file: secrets/inbound}}
backends:
  - name: prom
    prometheus:
      url: http://127.0.0.1:1/
      basic_auth: {{username: reader, password_file: secrets/backend}}
      headers: {{X-Api-Key: {BACKEND_HEADER}}}
  - name: prom2
    prometheus:
      url: http://127.0.0.1:1/
      bearer_token_file: secrets/bearer
probes:
  - name: api
    http:
      url: http://127.0.0.1:1/health?apikey={PROBE_QUERY}
      headers: {{Authorization: "Bearer {PROBE_HEADER}"}}
    interval: 30s
    timeout: 5s
    conditions: ["[STATUS] == 200"]
hooks:
  github: {{secret: {GITHUB_HOOK_SECRET}}}
  gitlab: {{token_file: secrets/gitlab, signing_key: {GITLAB_SIGNING_KEY}}}
services: [{{name: shop, repositories: [octo-org/shop]}}]
actions:
  - name: rollback
    kind: http
    url: http://127.0.0.1:1/rollback?key={ACTION_QUERY}
    headers: {{X-Api-Key: {ACTION_HEADER}}}
    dry_run: true
  - name: redeploy
    kind: github_dispatch
    repository: octo-org/shop
    event_type: go
    token: {ACTION_GITHUB_TOKEN}
    dry_run: true
  - name: pipeline
    kind: gitlab_trigger
    project: "1"
    ref: main
    token: {ACTION_GITLAB_TOKEN}
    dry_run: true
slos:
  - name: shop-availability
    service: shop
    objective: 99.9
    window: 30d
    sli: {{events: {{}}}}
"##
    )
}

async fn secret_config() -> Ctx {
    let dir = TempDir::new().unwrap();
    std::fs::create_dir(dir.path().join("secrets")).unwrap();
    for (name, text) in [
        ("secrets/hook", WEBHOOK_FILE),
        ("secrets/pd", PD_ROUTING_KEY_FILE),
        ("secrets/inbound", INTEGRATION_KEY),
        ("secrets/backend", BACKEND_PASSWORD),
        ("secrets/bearer", BACKEND_BEARER),
        ("secrets/gitlab", GITLAB_HOOK_TOKEN),
        ("config.yaml", &config()),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let path = dir.path().join("config.yaml");
    setup_in(ConfigSource::Paths(vec![path]), dir).await
}

fn leaks(resp: &Resp) -> Vec<&'static str> {
    let mut text = resp.text();
    for (name, value) in &resp.headers {
        text.push_str(&format!(
            "\n{name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    SECRETS
        .iter()
        .copied()
        .filter(|s| text.contains(s))
        .collect()
}

#[tokio::test]
async fn no_get_route_shows_a_secret_to_readers() {
    let ctx = secret_config().await;
    // A dry run of every action, so the audit log holds their rendered requests.
    for name in ["rollback", "redeploy", "pipeline"] {
        let uri = format!("/api/v1/actions/{name}/runs");
        let r = post(&ctx, &ctx.respond, &uri, serde_json::json!({})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    // The control: the secrets are in the running config, and an admin can see it as written.
    let raw = get(&ctx.app, "/api/v2/status", Some(&ctx.admin)).await;
    assert_eq!(raw.status, StatusCode::OK);
    let raw_original = raw.json()["config"]["original"]
        .as_str()
        .unwrap()
        .to_string();
    for s in [
        SMTP_PASSWORD,
        WEBHOOK_QUERY,
        PD_ROUTING_KEY,
        METRICS_TOKEN,
        GITHUB_HOOK_SECRET,
        GITLAB_SIGNING_KEY,
        ACTION_QUERY,
        ACTION_HEADER,
        ACTION_GITHUB_TOKEN,
        ACTION_GITLAB_TOKEN,
    ] {
        assert!(raw_original.contains(s), "{s} is not in the raw config");
    }

    let doc = get(&ctx.app, "/api/v1/openapi.json", None).await.json();
    let paths = doc["paths"].as_object().unwrap();
    let mut asked = 0;
    for (path, ops) in paths {
        if ops.get("get").is_none() {
            continue;
        }
        // Real ids where a path takes one, so handlers answer with data rather than 404.
        let uri = path
            .replace("{slo}", "shop-availability")
            .replace("{name}", "api")
            .replace(
                "{id}",
                if path.contains("users") {
                    "alice"
                } else {
                    "primary"
                },
            )
            .replace("{token}", "x")
            .replace("{key}", "hrf_nope");
        for token in [None, Some(ctx.read.as_str())] {
            let r = send(&ctx.app, Method::GET, &uri, token, &[], Body::empty()).await;
            assert_ne!(
                r.status,
                StatusCode::INTERNAL_SERVER_ERROR,
                "{uri}: {}",
                r.text()
            );
            assert_eq!(
                leaks(&r),
                Vec::<&str>::new(),
                "GET {uri} ({token:?}) leaks: {}",
                r.text()
            );
            asked += 1;
        }
    }
    assert!(
        asked >= 2 * 25,
        "only {asked} requests: the document lost its GET operations?"
    );

    // The redacted status still shows the config's shape.
    let shown = get(&ctx.app, "/api/v2/status", Some(&ctx.read))
        .await
        .json();
    let shown = shown["config"]["original"].as_str().unwrap();
    assert!(
        shown.contains("<secret>") && shown.contains("shop-availability"),
        "{shown}"
    );

    // A calendar feed read through its key leaks nothing either.
    let key = ctx
        .state
        .store
        .rotate_feed_key("user:alice", ctx.state.now())
        .await
        .unwrap();
    let feed = get(&ctx.app, &format!("/calendars/{key}/feed.ics"), None).await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.text());
    assert_eq!(leaks(&feed), Vec::<&str>::new());
}

const PRIVATE: &str = "anonymous_read: false
services: [{name: shop}]
slos:
  - {name: shop-availability, service: shop, objective: 99.9, window: 30d, sli: {events: {}}}
";

#[tokio::test]
async fn metrics_need_a_read_token_or_the_metrics_token_when_reads_are_private() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, format!("{PRIVATE}metrics_token: {METRICS_TOKEN}\n")).unwrap();
    let ctx = setup_in(ConfigSource::Paths(vec![path]), dir).await;
    let anonymous = get(&ctx.app, "/metrics", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(!anonymous.text().contains("headroom_"));
    let wrong = get(&ctx.app, "/metrics", Some("metrics-token-wrong-000000")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    for token in [ctx.read.as_str(), METRICS_TOKEN] {
        let r = get(&ctx.app, "/metrics", Some(token)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.text().contains("headroom_slo_objective"), "{}", r.text());
    }
    // The metrics token reads /metrics and nothing else.
    let api = get(&ctx.app, "/api/v1/slos", Some(METRICS_TOKEN)).await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn calendar_feeds_take_their_own_key_not_an_api_token() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(
        &path,
        format!(
            "{PRIVATE}users: [{{id: alice, name: Alice, email: a@example.com}}, {{id: bob, name: Bob, email: b@example.com}}]
schedules:
  - id: primary
    time_zone: UTC
    layers: [{{users: [alice, bob], turn: weekly, rotation_start: \"2026-01-05T09:00\"}}]
"
        ),
    )
    .unwrap();
    let ctx = setup_in(ConfigSource::Paths(vec![path]), dir).await;
    let (_, responder) = ctx
        .state
        .store
        .create_token("responder", Scope::Respond, ctx.state.now())
        .await
        .unwrap();
    // The API token is no longer taken from the query string.
    let by_query = get(
        &ctx.app,
        &format!("/api/v1/users/alice/calendar.ics?token={}", ctx.read),
        None,
    )
    .await;
    assert_eq!(by_query.status, StatusCode::UNAUTHORIZED);
    let by_header = get(
        &ctx.app,
        "/api/v1/users/alice/calendar.ics",
        Some(&ctx.read),
    )
    .await;
    assert_eq!(by_header.status, StatusCode::OK);

    // Making a feed URL is a write: read cannot, respond can.
    let uri = "/api/v1/users/alice/calendar-key";
    let denied = send(
        &ctx.app,
        Method::POST,
        uri,
        Some(&ctx.read),
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let made = send(
        &ctx.app,
        Method::POST,
        uri,
        Some(&responder),
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    let url = made.json()["url"].as_str().unwrap().to_string();
    let path = &url[url.find("/calendars/").unwrap()..];
    let feed = get(&ctx.app, path, None).await;
    assert_eq!(feed.status, StatusCode::OK);
    assert!(feed.text().contains("BEGIN:VCALENDAR"));
    assert!(feed.text().contains("Alice"), "{}", feed.text());
    // The key reads this feed only: it is not a token for anything else.
    let key = path.split('/').nth(2).unwrap();
    assert_eq!(
        get(&ctx.app, "/api/v1/users", Some(key)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Rotating ends the old URL.
    let rotated = send(
        &ctx.app,
        Method::POST,
        uri,
        Some(&responder),
        &[],
        Body::empty(),
    )
    .await;
    let new_url = rotated.json()["url"].as_str().unwrap().to_string();
    assert_ne!(new_url, url);
    assert_eq!(
        get(&ctx.app, path, None).await.status,
        StatusCode::NOT_FOUND
    );
    let new_path = &new_url[new_url.find("/calendars/").unwrap()..];
    assert_eq!(get(&ctx.app, new_path, None).await.status, StatusCode::OK);

    let schedule = send(
        &ctx.app,
        Method::POST,
        "/api/v1/schedules/primary/calendar-key",
        Some(&responder),
        &[],
        Body::empty(),
    )
    .await
    .json();
    let s = schedule["url"].as_str().unwrap();
    let s = get(&ctx.app, &s[s.find("/calendars/").unwrap()..], None).await;
    assert!(s.text().contains("BEGIN:VCALENDAR"));
    assert_eq!(
        send(
            &ctx.app,
            Method::POST,
            "/api/v1/users/nobody/calendar-key",
            Some(&responder),
            &[],
            Body::empty()
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

/// Log lines, for the test to read.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_500_names_an_id_the_log_has_and_nothing_of_the_cause() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let ctx = setup(ConfigSource::embedded()).await;
    // The database goes away under the server.
    ctx.state.store.close().await;
    let r = get(&ctx.app, "/api/v1/incidents", Some(&ctx.read)).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    let v = r.json();
    assert_eq!(v["error"], "internal");
    let detail = v["detail"].as_str().unwrap();
    let id = detail
        .strip_prefix("internal error ")
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("{detail}"));
    assert_eq!(id.len(), 16, "{detail}");
    for word in ["pool", "closed", "sqlite", "incidents"] {
        assert!(!detail.to_lowercase().contains(word), "{detail}");
    }
    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains(id))
        .unwrap_or_else(|| panic!("no log line with {id}:\n{log}"));
    assert!(line.contains("closed"), "the log has the cause: {line}");
}
