//! Receivers in Alertmanager's shape: every integration read into notify's types, `global`
//! defaults inherited, secrets read from files beside the config, templates compiled at load,
//! an Alertmanager configuration loading unchanged, and every mistake located at
//! FILE:LINE:COLUMN.

use std::path::PathBuf;
use std::time::Duration;

use headroom_notify::{
    Email, HttpAuth, Integration, PAGERDUTY_EVENTS_URL, PagerDuty, PagerDutyEvent, Receiver, Slack,
    Smarthost, Webhook, WebhookTls,
};
use headroom_routing::label_set;
use headroom_spec::{Config, Problem, load_paths, load_str};

fn ok(text: &str) -> Config {
    load_str("n.yaml", text).unwrap_or_else(|p| panic!("should load:\n{}", render(&p)))
}

fn errors(text: &str) -> Vec<String> {
    match load_str("n.yaml", text) {
        Ok(_) => panic!("should fail"),
        Err(p) => p.iter().map(|p| p.to_string()).collect(),
    }
}

fn render(p: &[Problem]) -> String {
    p.iter().map(|p| format!("  {p}\n")).collect()
}

/// Writes `files` into a fresh directory and loads `config.yaml` from it.
fn load_dir(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Config, Vec<Problem>>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let config: PathBuf = dir.path().join("config.yaml");
    let loaded = load_paths(&[config]);
    (dir, loaded)
}

const RECEIVERS: &str = r#"
global:
  smtp_from: alerts@example.com
  smtp_smarthost: mail.example.com:587
  smtp_hello: headroom.example.com
  smtp_auth_username: alerts
  smtp_auth_password_file: secrets/smtp
  smtp_require_tls: false
  slack_api_url_file: secrets/slack
  pagerduty_url: https://pd.example.com/v2/enqueue
route:
  receiver: shop
  routes: [{matchers: ['severity="page"'], receiver: oncall}]
receivers:
  - name: shop
    webhook_configs:
      - url: https://hooks.example.com/alerts
        max_alerts: 10
        http_config:
          authorization: {type: Bearer, credentials_file: secrets/hook}
      - {url: "http://localhost:9000/hook", send_resolved: false}
      - url: https://relay.example.com/in
        http_config: {basic_auth: {username: relay, password_file: secrets/relay}}
    slack_configs:
      - channel: '#shop'
        username: headroom
        title: '{{ status | upper }}: {{ commonLabels.alertname }}'
        text: |
          {% for alert in alerts %}
          {{ alert.annotations.summary }}
          {% endfor %}
        send_resolved: true
      - {api_url: "https://hooks.slack.com/services/T1/B1/own"}
    email_configs:
      - to: 'shop@example.com, lead@example.com'
        headers: {Subject: '[{{ status }}] {{ groupLabels | label_values }}'}
        html: '<p>{{ alerts | length }} alerts</p>'
      - to: ops@example.com
        from: shop@example.com
        smarthost: '[::1]:25'
        auth_username: shop
        auth_password: inline-secret
        require_tls: true
        hello: shop.example.com
        text: plain
        send_resolved: true
  - name: oncall
    pagerduty_configs:
      - {routing_key_file: secrets/pd, severity: critical}
      - {routing_key: inline-key, url: "https://events.eu.pagerduty.com/v2/enqueue", send_resolved: false}
    escalation_policy: urgent
escalation_policies:
  - {id: urgent, levels: [{delay: 5m, targets: [{user: alice}]}]}
users: [{id: alice, name: Alice, email: alice@example.com}]
"#;

fn receivers_dir() -> (tempfile::TempDir, Config) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("secrets")).unwrap();
    for (name, text) in [
        ("secrets/smtp", "smtp-password\n"),
        (
            "secrets/slack",
            "https://hooks.slack.com/services/T0/B0/shared\n",
        ),
        ("secrets/hook", "hook-token\n"),
        ("secrets/relay", "relay-password\n"),
        ("secrets/pd", "pd-routing-key\n"),
        ("config.yaml", RECEIVERS),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let loaded = load_paths(&[dir.path().join("config.yaml")])
        .unwrap_or_else(|p| panic!("should load:\n{}", render(&p)));
    (dir, loaded)
}

#[test]
fn every_integration_reads_into_its_values() {
    let (_dir, c) = receivers_dir();
    let shop = Receiver {
        name: "shop".into(),
        integrations: vec![
            Integration::Webhook(Webhook {
                url: "https://hooks.example.com/alerts".into(),
                send_resolved: true,
                max_alerts: 10,
                tls: None,
                auth: Some(HttpAuth::Credentials {
                    scheme: "Bearer".into(),
                    credentials: "hook-token".into(),
                }),
            }),
            Integration::Webhook(Webhook {
                url: "http://localhost:9000/hook".into(),
                send_resolved: false,
                max_alerts: 0,
                tls: None,
                auth: None,
            }),
            Integration::Webhook(Webhook {
                url: "https://relay.example.com/in".into(),
                send_resolved: true,
                max_alerts: 0,
                tls: None,
                auth: Some(HttpAuth::Basic {
                    username: "relay".into(),
                    password: "relay-password".into(),
                }),
            }),
            Integration::Slack(Slack {
                url: "https://hooks.slack.com/services/T0/B0/shared".into(),
                channel: Some("#shop".into()),
                username: Some("headroom".into()),
                title: Some("{{ status | upper }}: {{ commonLabels.alertname }}".into()),
                text: Some(
                    "{% for alert in alerts %}\n{{ alert.annotations.summary }}\n{% endfor %}\n"
                        .into(),
                ),
                send_resolved: true,
            }),
            Integration::Slack(Slack {
                url: "https://hooks.slack.com/services/T1/B1/own".into(),
                channel: None,
                username: None,
                title: None,
                text: None,
                send_resolved: false,
            }),
            Integration::Email(Email {
                to: "shop@example.com, lead@example.com".into(),
                from: "alerts@example.com".into(),
                smarthost: Smarthost {
                    host: "mail.example.com".into(),
                    port: 587,
                },
                auth_username: Some("alerts".into()),
                auth_password: Some("smtp-password".into()),
                require_tls: false,
                hello: "headroom.example.com".into(),
                subject: Some("[{{ status }}] {{ groupLabels | label_values }}".into()),
                text: None,
                html: Some("<p>{{ alerts | length }} alerts</p>".into()),
                send_resolved: false,
            }),
            Integration::Email(Email {
                to: "ops@example.com".into(),
                from: "shop@example.com".into(),
                smarthost: Smarthost {
                    host: "::1".into(),
                    port: 25,
                },
                auth_username: Some("shop".into()),
                auth_password: Some("inline-secret".into()),
                require_tls: true,
                hello: "shop.example.com".into(),
                subject: None,
                text: Some("plain".into()),
                html: None,
                send_resolved: true,
            }),
        ],
    };
    let oncall = Receiver {
        name: "oncall".into(),
        integrations: vec![
            Integration::PagerDuty(PagerDuty {
                routing_key: "pd-routing-key".into(),
                url: "https://pd.example.com/v2/enqueue".into(),
                severity: "critical".into(),
                send_resolved: true,
                event: Default::default(),
            }),
            Integration::PagerDuty(PagerDuty {
                routing_key: "inline-key".into(),
                url: "https://events.eu.pagerduty.com/v2/enqueue".into(),
                severity: "error".into(),
                send_resolved: false,
                event: Default::default(),
            }),
        ],
    };
    assert_eq!(c.receivers, [shop, oncall]);
    let escalations: Vec<(&str, &str)> = c
        .receiver_escalations
        .iter()
        .map(|(r, p)| (r.as_str(), p.as_str()))
        .collect();
    assert_eq!(escalations, [("oncall", "urgent")]);
}

#[test]
fn receivers_without_globals_take_alertmanagers_defaults() {
    let c = ok(r#"
receivers:
  - name: r
    email_configs: [{to: a@x, from: b@x, smarthost: "mail:25"}]
    pagerduty_configs: [{routing_key: k}]
"#);
    let [Integration::Email(e), Integration::PagerDuty(p)] = c.receivers[0].integrations.as_slice()
    else {
        panic!("{:?}", c.receivers)
    };
    assert!(e.require_tls);
    assert_eq!(e.hello, "localhost");
    assert_eq!(
        (e.auth_username.as_deref(), e.auth_password.as_deref()),
        (None, None)
    );
    assert_eq!(p.url, PAGERDUTY_EVENTS_URL);
    assert_eq!(p.severity, "error");
    assert!(p.send_resolved);
    assert!(c.receiver_escalations.is_empty());
}

/// An Alertmanager 0.25 configuration in its documented format (the shape of
/// `doc/examples/simple.yml` and the configuration reference), unchanged.
const ALERTMANAGER: &str = r#"
global:
  resolve_timeout: 5m
  smtp_smarthost: 'localhost:25'
  smtp_from: 'alertmanager@example.org'
  smtp_auth_username: 'alertmanager'
  smtp_auth_password: 'password'
  smtp_require_tls: true
  slack_api_url: 'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX'
  pagerduty_url: 'https://events.pagerduty.com/v2/enqueue'

route:
  group_by: ['alertname', 'cluster', 'service']
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 3h
  receiver: team-X-mails
  routes:
    - matchers:
        - service=~"foo1|foo2|baz"
      receiver: team-X-mails
      routes:
        - matchers:
            - severity="critical"
          receiver: team-X-pager
    - matchers:
        - service="files"
      receiver: team-Y-mails
      routes:
        - matchers:
            - severity="critical"
          receiver: team-Y-pager
    - matchers:
        - service="database"
      receiver: team-DB-pager
      group_by: [alertname, cluster, database]
      routes:
        - matchers:
            - owner="team-X"
          receiver: team-X-pager
          continue: true
        - matchers:
            - owner="team-Y"
          receiver: team-Y-pager
    - receiver: chat
      matchers: ['severity="warning"']
      mute_time_intervals: [offhours]

inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname, cluster, service]

time_intervals:
  - name: offhours
    time_intervals:
      - times:
          - start_time: '17:00'
            end_time: '24:00'
        weekdays: ['monday:friday']
        location: 'Europe/Amsterdam'
      - weekdays: ['saturday', 'sunday']

receivers:
  - name: 'team-X-mails'
    email_configs:
      - to: 'team-X+alerts@example.org'
  - name: 'team-X-pager'
    email_configs:
      - to: 'team-X+alerts-critical@example.org'
    pagerduty_configs:
      - routing_key: '0123456789abcdef0123456789abcdef'
  - name: 'team-Y-mails'
    email_configs:
      - to: 'team-Y+alerts@example.org'
        send_resolved: true
  - name: 'team-Y-pager'
    pagerduty_configs:
      - routing_key: 'fedcba9876543210fedcba9876543210'
        severity: 'critical'
  - name: 'team-DB-pager'
    pagerduty_configs:
      - routing_key: 'aaaabbbbccccddddeeeeffff00001111'
  - name: 'chat'
    slack_configs:
      - channel: '#alerts'
        send_resolved: true
    webhook_configs:
      - url: 'http://127.0.0.1:5001/'
        max_alerts: 20
        http_config:
          authorization:
            type: Bearer
            credentials: 'webhook-token'
"#;

#[test]
fn an_alertmanager_config_loads_unchanged() {
    let c = load_str("alertmanager.yml", ALERTMANAGER)
        .unwrap_or_else(|p| panic!("should load:\n{}", render(&p)));
    let names: Vec<&str> = c.receivers.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "team-X-mails",
            "team-X-pager",
            "team-Y-mails",
            "team-Y-pager",
            "team-DB-pager",
            "chat"
        ]
    );
    assert_eq!(c.routing.resolve_timeout, Duration::from_secs(300));
    assert_eq!(c.routing.inhibit_rules.len(), 1);
    assert_eq!(c.routing.time_intervals[0].name, "offhours");

    let Integration::Email(mail) = &c.receivers[0].integrations[0] else {
        panic!("{:?}", c.receivers[0])
    };
    assert_eq!(mail.to, "team-X+alerts@example.org");
    assert_eq!(mail.from, "alertmanager@example.org");
    assert_eq!(mail.smarthost.to_string(), "localhost:25");
    assert_eq!(mail.auth_username.as_deref(), Some("alertmanager"));
    assert_eq!(mail.auth_password.as_deref(), Some("password"));
    assert!(mail.require_tls && !mail.send_resolved);

    let Integration::PagerDuty(pd) = &c.receivers[3].integrations[0] else {
        panic!("{:?}", c.receivers[3])
    };
    assert_eq!(pd.routing_key, "fedcba9876543210fedcba9876543210");
    assert_eq!(pd.severity, "critical");
    assert_eq!(pd.url, PAGERDUTY_EVENTS_URL);

    let chat = &c.receivers[5].integrations;
    let kinds: Vec<&str> = chat.iter().map(Integration::kind).collect();
    assert_eq!(kinds, ["webhook", "slack"]);
    let Integration::Slack(slack) = &chat[1] else {
        panic!("{chat:?}")
    };
    assert!(
        slack
            .url
            .starts_with("https://hooks.slack.com/services/T00000000/")
    );
    let Integration::Webhook(hook) = &chat[0] else {
        panic!("{chat:?}")
    };
    assert_eq!(
        hook.auth,
        Some(HttpAuth::Credentials {
            scheme: "Bearer".into(),
            credentials: "webhook-token".into()
        })
    );
    assert_eq!(hook.max_alerts, 20);

    // The tree routes as Alertmanager would: a critical database alert owned by team X goes
    // to team X's pager and, through `continue`, on to team Y's route which does not match.
    let alert = label_set([
        ("alertname", "DiskFull"),
        ("service", "database"),
        ("owner", "team-X"),
    ]);
    let taken: Vec<String> = c
        .routing
        .route
        .matching(&alert)
        .iter()
        .map(|m| m.options.receiver.clone().unwrap_or_default())
        .collect();
    assert_eq!(taken, ["team-X-pager"]);
}

#[test]
fn secret_files_are_read_beside_the_config_and_named_when_missing() {
    let (dir, loaded) = load_dir(&[
        (
            "config.yaml",
            "receivers:\n  - name: r\n    pagerduty_configs: [{routing_key_file: pd-key}]\n    \
             webhook_configs: [{url: 'http://h', http_config: {authorization: {credentials_file: empty}}}]\n",
        ),
        ("empty", "  \n"),
    ]);
    let Err(problems) = loaded else {
        panic!("should fail")
    };
    let config = dir.path().join("config.yaml").display().to_string();
    let got: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    let pd = dir.path().join("pd-key").display().to_string();
    let empty = dir.path().join("empty").display().to_string();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], format!("{config}:4:89: {empty} is empty"));
    assert!(
        got[1].starts_with(&format!("{config}:3:44: cannot read {pd}: ")),
        "{got:?}"
    );
}

#[test]
fn receiver_mistakes_are_located() {
    let e = errors(
        r#"
global:
  smtp_smarthost: mail.example.com
  slack_api_url: hooks.slack.com
  pagerduty_url: ftp://pd
receivers:
  - name: a
    webhook_configs:
      - {url: "localhost:9000", max_alerts: -1, http_config: {authorization: {type: Basic, credentials: x}}}
      - {url: "http://h", http_config: {authorization: {}}}
      - {url: "http://h", http_config: {bearer_token: t, authorization: {credentials: u}}}
      - {ur: "http://h"}
    slack_configs:
      - {channel: '#a', title: '{{ status '}
      - {api_url: "https://h", api_url_file: f}
    email_configs:
      - {to: a@x, headers: {Subject: ok, X-Team: shop}, text: '{% for %}'}
      - {to: " , ", from: b@x, smarthost: "mail:smtp"}
    pagerduty_configs:
      - {severity: critcal}
      - {routing_key: k, service_key: k}
    opsgenie_configs: []
    escalation_policy: nobody
  - name: b
  - name: b
  - name: c
    webhook_configs:
      - {url: "http://h", http_config: {basic_auth: {username: u}}}
      - {url: "http://h", http_config: {basic_auth: {password: p}, bearer_token: t}}
"#,
    );
    let want = [
        "n.yaml:3:19: smtp_smarthost: smarthost \"mail.example.com\" is not host:port (e.g. mail.example.com:587)",
        "n.yaml:4:18: url \"hooks.slack.com\" must be an http:// or https:// URL with a host",
        "n.yaml:5:18: url \"ftp://pd\" must be an http:// or https:// URL with a host",
        "n.yaml:9:15: url \"localhost:9000\" must be an http:// or https:// URL with a host",
        "n.yaml:9:45: max_alerts must be a whole number (0 or more), found \"-1\"",
        "n.yaml:9:85: authorization type \"Basic\" cannot be used: give basic_auth instead",
        "n.yaml:10:56: authorization needs credentials or credentials_file",
        "n.yaml:11:55: give authorization or bearer_token, not both",
        "n.yaml:28:53: basic_auth needs password or password_file",
        "n.yaml:29:82: give basic_auth or bearer_token, not both",
        "n.yaml:12:10: unknown field \"ur\" in webhook config; did you mean \"url\"?",
        "n.yaml:12:9: missing field \"url\" in webhook config",
        "n.yaml:14:32: title: syntax error: unexpected end of input, expected end of variable block",
        "n.yaml:15:46: give api_url or api_url_file, not both",
        "n.yaml:17:42: header \"X-Team\" cannot be set: only Subject can",
        "n.yaml:17:63: text: syntax error: unexpected end of block, expected in",
        "n.yaml:17:9: missing field \"from\" in email config (or global smtp_from)",
        "n.yaml:18:14: to is empty: an email needs a recipient",
        "n.yaml:18:43: smarthost: smarthost \"mail:smtp\" is not host:port (e.g. mail.example.com:587)",
        "n.yaml:20:20: unknown severity \"critcal\": use critical, error, warning or info; did you mean \"critical\"?",
        "n.yaml:20:9: missing field \"routing_key\" in pagerduty config (or routing_key_file)",
        "n.yaml:21:26: unknown field \"service_key\" in pagerduty config; expected one of: routing_key, routing_key_file, url, severity, send_resolved",
        "n.yaml:22:5: unknown field \"opsgenie_configs\" in receiver; expected one of: name, webhook_configs, slack_configs, email_configs, pagerduty_configs, escalation_policy",
        "n.yaml:25:11: receiver \"b\" is declared twice",
        "n.yaml:23:24: unknown escalation policy \"nobody\"",
    ];
    let missing: Vec<&str> = want
        .iter()
        .copied()
        .filter(|w| !e.iter().any(|got| got.starts_with(w)))
        .collect();
    assert!(
        missing.is_empty(),
        "missing:\n{}\nin:\n{}",
        missing.join("\n"),
        e.join("\n")
    );
    assert_eq!(e.len(), want.len(), "{}", e.join("\n"));
}

#[test]
fn a_route_still_needs_its_receiver_declared() {
    let e = errors("route: {receiver: pager}\nreceivers: [{name: mail}]\n");
    assert_eq!(
        e,
        ["n.yaml:1:8: route uses receiver \"pager\", which no receivers entry declares"]
    );
    let c = ok("route: {receiver: default}\n");
    assert_eq!(
        c.receivers,
        [Receiver {
            name: "default".into(),
            integrations: vec![]
        }]
    );
}

#[test]
fn a_template_error_is_located_at_its_line() {
    let e = errors(
        "receivers:\n  - name: r\n    slack_configs:\n      - api_url: https://h\n        text: |\n          {% for a in alerts %}\n          {{ a.labels | nosuch( }}\n          {% endfor %}\n",
    );
    // Line 2 of the template is line 7 of the file.
    assert_eq!(e, ["n.yaml:7:11: text: syntax error: unexpected `}`"]);
}

#[test]
fn a_global_default_is_set_once_across_files() {
    let Err(e) = headroom_spec::load_sources(&[
        (
            "a.yaml".to_string(),
            "global: {smtp_from: a@x}\n".to_string(),
        ),
        (
            "b.yaml".to_string(),
            "global:\n  smtp_from: b@x\n".to_string(),
        ),
    ]) else {
        panic!("should fail")
    };
    let e: Vec<String> = e.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        e,
        ["b.yaml:2:14: global.smtp_from is already set at a.yaml:1:21; set it once"]
    );
}

#[test]
fn templates_replace_defaults_and_add_partials() {
    let c = ok(r#"
route: {receiver: chat}
receivers:
  - name: chat
    slack_configs: [{api_url: "https://h", text: "{% include 'footer' %}"}]
templates:
  subject: "[{{ status | upper }}] {{ groupLabels | label_values }}"
  footer: "Runbook: {{ alerts[0].slo.runbookURL }}"
  slack.titel: "{{ status }}"
"#);
    assert_eq!(
        c.templates.keys().collect::<Vec<_>>(),
        ["footer", "slack.titel", "subject"]
    );
    assert_eq!(
        c.templates["subject"],
        "[{{ status | upper }}] {{ groupLabels | label_values }}"
    );
    // `footer` is included by the receiver's text; the misspelt name is only a warning.
    let warnings: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        warnings,
        [
            "n.yaml:9:3: template \"slack.titel\" replaces no default (subject, slack.title, \
          slack.text, email.subject, email.text, email.html, pagerduty.summary) and no template \
          includes it; did you mean \"slack.title\"?"
        ]
    );
}

#[test]
fn template_mistakes_are_located() {
    let e = errors(
        r#"
templates: ['/etc/alertmanager/*.tmpl']
"#,
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(
            "n.yaml:2:12: templates: Alertmanager's Go template files are not read; \
             headroom's templates are minijinja, set here by name (subject, slack.title,"
        ),
        "{e:?}"
    );

    let e = errors(
        r#"
receivers:
  - name: chat
    slack_configs:
      - {api_url: "https://h", title: '{{ template "slack.default.title" . }}'}
templates:
  subject: "{{ .CommonLabels.alertname }}"
  email.text: "{{ status"
"#,
    );
    assert_eq!(e.len(), 3, "{e:#?}");
    let go = "(this looks like an Alertmanager Go template; headroom's are minijinja: \
              {{ .CommonLabels.alertname }} is {{ commonLabels.alertname }}, \
              {{ range .Alerts }} is {% for alert in alerts %})";
    // `templates` is read in the first pass, receivers in the second.
    assert!(
        e[0].starts_with("n.yaml:7:12: subject: syntax error") && e[0].ends_with(go),
        "{e:#?}"
    );
    assert!(
        e[1].starts_with("n.yaml:8:15: email.text: syntax error") && !e[1].contains("Go template"),
        "{e:#?}"
    );
    assert!(
        e[2].starts_with("n.yaml:5:39: title: syntax error") && e[2].ends_with(go),
        "{e:#?}"
    );
}

#[test]
fn templates_are_set_once_across_files() {
    let dir = tempfile::tempdir().unwrap();
    for (name, subject) in [("a.yaml", "a"), ("b.yaml", "b")] {
        std::fs::write(
            dir.path().join(name),
            format!("templates: {{subject: {subject}}}\n"),
        )
        .unwrap();
    }
    let e: Vec<String> = load_paths(&[dir.path().to_path_buf()])
        .unwrap_err()
        .iter()
        .map(|p| p.to_string())
        .collect();
    let d = dir.path().display();
    assert_eq!(
        e,
        [format!(
            "{d}/b.yaml:1:13: template \"subject\" is already set at {d}/a.yaml:1:13; set it once"
        )]
    );
}

#[test]
fn pagerduty_event_fields_load_as_templates() {
    let c = ok(r#"
route: {receiver: pd}
receivers:
  - name: pd
    pagerduty_configs:
      - routing_key: k
        client: headroom-shop
        class: "{{ commonLabels.alertname }}"
        group: prod
        details: {owner: "{{ commonLabels.team }}", firing: "{{ alerts | firing | length }}"}
"#);
    let Integration::PagerDuty(p) = &c.receivers[0].integrations[0] else {
        panic!("{:?}", c.receivers)
    };
    assert_eq!(
        p.event,
        PagerDutyEvent {
            client: Some("headroom-shop".into()),
            client_url: None,
            class: Some("{{ commonLabels.alertname }}".into()),
            component: None,
            group: Some("prod".into()),
            details: [
                (
                    "firing".to_string(),
                    "{{ alerts | firing | length }}".to_string()
                ),
                ("owner".to_string(), "{{ commonLabels.team }}".to_string()),
            ]
            .into(),
        }
    );

    let e = errors(
        r#"
route: {receiver: pd}
receivers:
  - name: pd
    pagerduty_configs:
      - {routing_key: k, details: {owner: "{{ .CommonLabels.team }}"}, images: []}
"#,
    );
    // Both problems, and no complaint that the route's receiver is undeclared.
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(
        e[0].starts_with("n.yaml:6:72: unknown field \"images\" in pagerduty config"),
        "{e:#?}"
    );
    assert!(
        e[1].starts_with("n.yaml:6:43: owner: syntax error") && e[1].contains("Go template"),
        "{e:#?}"
    );
}

#[test]
fn webhook_tls_config_reads_its_ca_beside_the_config() {
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let config = r#"
route: {receiver: hook}
receivers:
  - name: hook
    webhook_configs:
      - url: https://hooks.internal/alerts
        http_config: {tls_config: {ca_file: ca.pem}, bearer_token: t}
      - url: https://test.internal/alerts
        http_config: {tls_config: {insecure_skip_verify: true}}
"#;
    let (_dir, loaded) = load_dir(&[("ca.pem", pem), ("config.yaml", config)]);
    let c = loaded.unwrap_or_else(|p| panic!("{}", render(&p)));
    let tls: Vec<Option<WebhookTls>> = c.receivers[0]
        .integrations
        .iter()
        .map(|i| match i {
            Integration::Webhook(w) => w.tls.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        tls,
        [
            Some(WebhookTls {
                ca_pem: Some(pem.trim_end().to_string()),
                insecure_skip_verify: false
            }),
            Some(WebhookTls {
                ca_pem: None,
                insecure_skip_verify: true
            }),
        ]
    );

    let bad = r#"
route: {receiver: hook}
receivers:
  - name: hook
    webhook_configs:
      - {url: "https://h", http_config: {tls_config: {ca_file: missing.pem}}}
      - {url: "https://h", http_config: {tls_config: {ca_file: notes.txt}}}
      - {url: "https://h", http_config: {tls_config: {cert_file: c.pem}}}
"#;
    let (dir, loaded) = load_dir(&[("notes.txt", "hello\n"), ("config.yaml", bad)]);
    let e: Vec<String> = loaded.unwrap_err().iter().map(|p| p.to_string()).collect();
    let d = dir.path().display();
    assert_eq!(e.len(), 3, "{e:#?}");
    assert!(
        e[0].starts_with(&format!(
            "{d}/config.yaml:6:64: cannot read {d}/missing.pem:"
        )),
        "{e:#?}"
    );
    assert_eq!(
        e[1],
        format!("{d}/config.yaml:7:64: ca_file \"notes.txt\" holds no PEM certificate")
    );
    assert!(
        e[2].starts_with(&format!(
            "{d}/config.yaml:8:55: unknown field \"cert_file\" in tls_config"
        )),
        "{e:#?}"
    );
}

#[test]
fn email_addresses_are_checked_at_load() {
    let e = errors(
        r#"
global:
  smtp_from: "Headroom <alerts>"
receivers:
  - name: a
    email_configs:
      - {to: "ops@example.com, not an address", from: ok@example.com, smarthost: "mail:25"}
  - name: b
    email_configs:
      - {to: ops@example.com, smarthost: "mail:25"}
"#,
    );
    assert_eq!(e.len(), 2, "{}", e.join("\n"));
    assert!(
        e[0].starts_with("n.yaml:7:14: email to \"not an address\" is not an address: "),
        "{}",
        e[0]
    );
    assert!(
        e[1].starts_with("n.yaml:3:14: email from \"Headroom <alerts>\" is not an address: "),
        "{}",
        e[1]
    );
}
