//! Signal sources in the native format: probes, scrape jobs, backends, the SLIs that name them,
//! and the rule that a PromQL SLI either runs natively or names a backend.

use std::path::Path;
use std::time::Duration;

use headroom_core::{Sli, Span};
use headroom_probe::spec::{ProbeKind, RecordType, Resolver, Transport};
use headroom_spec::{BackendAuth, Config, Problem, load_paths, load_str};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures");

fn ok(text: &str) -> Config {
    load_str("s.yaml", text).unwrap_or_else(|p| panic!("should load:\n{}", render(&p)))
}

fn errors(text: &str) -> Vec<String> {
    match load_str("s.yaml", text) {
        Ok(_) => panic!("should fail"),
        Err(p) => p.iter().map(|p| p.to_string()).collect(),
    }
}

fn render(p: &[Problem]) -> String {
    p.iter().map(|p| format!("  {p}\n")).collect()
}

#[test]
fn every_probe_kind_reads_into_its_spec() {
    let c = ok(r#"
probes:
  - name: web
    http:
      url: https://shop.example.com/health
      method: POST
      headers: {Accept: application/json}
      body: '{"deep": true}'
      tls_verify: false
      ca_file: certs/ca.pem
      follow_redirects: false
    interval: 30s
    timeout: 5s
    conditions: ["[STATUS] == 200", "[BODY].status == UP"]
  - name: db
    tcp: {address: "db.internal:5432", send: "PING", expect: "PONG"}
  - name: resolver
    dns: {name: example.com, type: aaaa, resolver: "10.0.0.2:53"}
    interval: 2m
  - name: cert
    tls: {address: "example.com:443", server_name: www.example.com}
  - name: backup
    heartbeat: {}
    interval: 25h
    timeout: 1m
"#);
    let names: Vec<&str> = c.probes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["web", "db", "resolver", "cert", "backup"]);
    let web = &c.probes[0];
    let ProbeKind::Http(h) = &web.kind else {
        panic!("web is http")
    };
    assert_eq!(
        (
            h.url.as_str(),
            h.method.as_str(),
            h.tls_verify,
            h.follow_redirects
        ),
        ("https://shop.example.com/health", "POST", false, false)
    );
    assert_eq!(
        h.headers,
        [("Accept".to_string(), "application/json".to_string())]
    );
    assert_eq!(h.body.as_deref(), Some(r#"{"deep": true}"#));
    assert_eq!(h.ca_file.as_deref(), Some(Path::new("certs/ca.pem")));
    assert_eq!(
        (web.interval, web.timeout),
        (Duration::from_secs(30), Duration::from_secs(5))
    );
    let conds: Vec<String> = web.conditions.iter().map(|c| c.to_string()).collect();
    assert_eq!(conds, ["[STATUS] == 200", "[BODY].status == UP"]);

    let ProbeKind::Tcp(t) = &c.probes[1].kind else {
        panic!("db is tcp")
    };
    assert_eq!(
        (t.send.as_deref(), t.expect.as_deref()),
        (Some("PING"), Some("PONG"))
    );
    // Defaults: a minute apart, timing out after 10 seconds.
    assert_eq!(
        (c.probes[1].interval, c.probes[1].timeout),
        (Duration::from_secs(60), Duration::from_secs(10))
    );
    let ProbeKind::Dns(d) = &c.probes[2].kind else {
        panic!("resolver is dns")
    };
    assert_eq!(d.record_type, RecordType::Aaaa);
    assert_eq!(d.resolvers, ["10.0.0.2:53".parse::<Resolver>().unwrap()]);
    let ProbeKind::Tls(t) = &c.probes[3].kind else {
        panic!("cert is tls")
    };
    assert_eq!(
        (t.server_name.as_deref(), t.tls_verify),
        (Some("www.example.com"), true)
    );
    assert!(matches!(c.probes[4].kind, ProbeKind::Heartbeat));
}

#[test]
fn a_bad_condition_is_reported_at_its_column_in_the_file() {
    let e = errors(
        "probes:\n  - name: web\n    http: {url: \"http://x/\"}\n    conditions:\n      - \"[STATUS] === 200\"\n      - '[STAUTS] == 200'\n",
    );
    // Line 5: the quoted scalar starts at column 9, its text at 10; `===` is at text column 10.
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(
        e[0].starts_with("s.yaml:5:19: condition \"[STATUS] === 200\""),
        "{e:?}"
    );
    // Single quotes too; the placeholder gets a suggestion.
    assert!(
        e[1].starts_with("s.yaml:6:10: condition \"[STAUTS] == 200\""),
        "{e:?}"
    );
    assert!(e[1].contains("[STATUS]"), "{e:?}");
}

#[test]
fn probe_mistakes_are_located() {
    let e = errors(
        r#"probes:
  - name: web
    http: {url: "ftp://x/"}
  - name: slow
    tcp: {address: "db:5432"}
    interval: 10s
    timeout: 30s
  - name: both
    tcp: {address: "db:5432"}
    dns: {name: x}
  - name: dns
    dns: {name: x, type: AAA}
  - name: addr
    tcp: {address: db}
  - name: beat
    heartbeat: {}
  - name: beat
    heartbeat: {}
"#,
    );
    let want = [
        "s.yaml:3:17: url \"ftp://x/\" must be an http:// or https:// URL with a host",
        "s.yaml:7:14: timeout (30s) is longer than the interval (10s): a probe must finish before its next run is due",
        "s.yaml:10:10: a probe is one of http, tcp, dns, tls or heartbeat, not several",
        "s.yaml:12:26: unknown DNS record type \"AAA\" (expected one of A, AAAA, CNAME, MX, NS, PTR, SRV, TXT); did you mean \"AAAA\"?",
        "s.yaml:14:20: address \"db\" must be host:port (e.g. db.internal:5432)",
        "s.yaml:17:5: probe \"beat\" is already defined at s.yaml:15:5",
    ];
    assert_eq!(e, want);
}

#[test]
fn dns_resolvers_as_gatus_writes_them_one_or_a_list() {
    let c = ok(r#"
probes:
  - name: one
    dns: {name: example.com, resolver: 8.8.8.8}
  - name: several
    dns:
      name: _sip._tcp.example.com
      type: srv
      resolver: ["udp://10.0.0.2", "[2001:db8::53]:5353", "tcp://dns.internal"]
  - name: system
    dns: {name: 192.0.2.1, type: PTR}
"#);
    let dns = |i: usize| match &c.probes[i].kind {
        ProbeKind::Dns(d) => d.clone(),
        other => panic!("{other:?}"),
    };
    let shown =
        |i: usize| -> Vec<String> { dns(i).resolvers.iter().map(|r| r.to_string()).collect() };
    assert_eq!(shown(0), ["8.8.8.8:53"]);
    assert_eq!(
        shown(1),
        [
            "10.0.0.2:53",
            "[2001:db8::53]:5353",
            "tcp://dns.internal:53"
        ]
    );
    assert_eq!(dns(1).record_type, RecordType::Srv);
    assert_eq!(dns(1).resolvers[2].transport, Transport::Tcp);
    assert!(dns(2).resolvers.is_empty(), "none: /etc/resolv.conf's");
    assert_eq!(dns(2).record_type, RecordType::Ptr);

    let e = errors(
        r#"probes:
  - name: scheme
    dns: {name: example.com, resolver: "https://dns.google/dns-query"}
  - name: port
    dns: {name: example.com, resolver: ["10.0.0.2", "10.0.0.3:99999"]}
  - name: empty
    dns: {name: example.com, resolver: []}
  - name: label
    dns: {name: "a..example.com"}
"#,
    );
    assert_eq!(
        e,
        [
            "s.yaml:3:40: resolver \"https://dns.google/dns-query\": the scheme must be udp:// or tcp://",
            "s.yaml:5:53: resolver \"10.0.0.3:99999\": the port must be a number from 1 to 65535",
            "s.yaml:7:40: resolver lists no nameserver; leave it out to use those of /etc/resolv.conf",
            "s.yaml:9:17: invalid DNS name \"a..example.com\": empty label (a leading dot, or two dots in a row)",
        ]
    );
}

#[test]
fn slos_name_probes_that_exist() {
    let c = ok(r#"
probes:
  - name: web
    http: {url: "http://x/"}
slos:
  - name: web-up
    service: web
    objective: 99
    sli: {probe: {name: web}}
  - name: web-fast
    service: web
    objective: 95
    sli: {probe: {name: web, latency: 300ms}}
"#);
    assert_eq!(
        c.slos[1].sli,
        Sli::Probe {
            probe: "web".into(),
            latency: Some(Span(300))
        }
    );
    let e = errors(
        "probes:\n  - name: web\n    http: {url: \"http://x/\"}\n  - name: cron\n    heartbeat: {}\nslos:\n  - name: a\n    service: s\n    objective: 99\n    sli: {probe: {name: wbe}}\n  - name: b\n    service: s\n    objective: 99\n    sli: {probe: {name: cron, latency: 1s}}\n",
    );
    assert_eq!(
        e,
        [
            "s.yaml:7:5: SLO \"a\" names probe \"wbe\", which is not defined; did you mean \"web\"?",
            "s.yaml:11:5: SLO \"b\": probe \"cron\" is a heartbeat, which has no latency",
        ]
    );
}

const QUERY_SLO: &str = r#"
  - name: wifi
    service: home
    objective: 95
    sli:
      raw:
        error_ratio: sum_over_time((count(satisfaction < 0.75))[{{.window}}:]) OR on() vector(0)
"#;

#[test]
fn a_promql_sli_must_run_natively_or_name_a_backend() {
    let e = errors(&format!("slos:{QUERY_SLO}"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("s.yaml:2:5: SLO \"wifi\": its error_ratio query cannot run natively: "),
        "{e:?}"
    );
    assert!(e[0].contains("subquery") || e[0].contains("`or`"), "{e:?}");

    // A default backend answers it; naming one does too.
    let c = ok(&format!(
        "backends:\n  - name: prom\n    prometheus: {{url: \"http://prom:9090\"}}\n    default: true\nslos:{QUERY_SLO}"
    ));
    assert_eq!(c.slos[0].backend.as_deref(), Some("prom"));
    assert_eq!(c.backends[0].interval, Span::minutes(1));
    let named = QUERY_SLO.replace("      raw:", "      backend: prom\n      raw:");
    let c = ok(&format!(
        "backends:\n  - name: prom\n    prometheus: {{url: \"http://prom:9090\"}}\nslos:{named}"
    ));
    assert_eq!(c.slos[0].backend.as_deref(), Some("prom"));

    let e = errors(&format!(
        "backends:\n  - name: prom\n    prometheus: {{url: \"http://prom:9090\"}}\nslos:{}",
        QUERY_SLO.replace("      raw:", "      backend: porm\n      raw:")
    ));
    assert_eq!(
        e,
        [
            "s.yaml:5:5: SLO \"wifi\" names backend \"porm\", which is not defined; did you mean \"prom\"?"
        ]
    );
}

#[test]
fn sloth_examples_run_natively_or_say_what_they_need() {
    let examples = Path::new(FIXTURES).join("sloth/examples");
    let natively = [
        "getting-started.yml",
        "kubernetes-apiserver.yml",
        "multifile.yml",
        "no-alerts.yml",
        "raw-home-wifi.yml",
    ];
    for f in natively {
        load_paths(&[examples.join(f)]).unwrap_or_else(|p| panic!("{f}:\n{}", render(&p)));
    }
    for (f, construct) in [
        ("home-wifi.yml", "`or`"),
        ("victoria-metrics.yml", "histogram_share"),
    ] {
        let p = load_paths(&[examples.join(f)]).expect_err(f);
        assert!(
            p.iter().all(|p| p.message.contains("cannot run natively")
                && p.message.contains(construct)
                && p.message.contains("backend")),
            "{f}:\n{}",
            render(&p)
        );
    }
    // With a default backend beside it, the same spec loads.
    let dir = tempfile::tempdir().unwrap();
    let backend = dir.path().join("backend.yaml");
    std::fs::write(
        &backend,
        "backends:\n  - name: prom\n    prometheus: {url: \"http://prom:9090\"}\n    default: true\n",
    )
    .unwrap();
    let c = load_paths(&[examples.join("home-wifi.yml"), backend]).expect("loads with a backend");
    assert!(c.slos.iter().all(|s| s.backend.as_deref() == Some("prom")));
}

#[test]
fn scrape_jobs_and_backends_read_their_files_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "s3cret\n").unwrap();
    std::fs::write(dir.path().join("password"), "pw").unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(
        &file,
        r#"
scrape:
  - job: shop
    interval: 15s
    targets: ["shop-1:8080"]
    labels: {env: prod}
    file_sd: [targets/*.json]
backends:
  - name: mimir
    prometheus:
      url: http://mimir:8080/prometheus
      bearer_token_file: token
      headers: {X-Scope-OrgID: shop}
    interval: 30s
  - name: thanos
    prometheus:
      url: http://thanos:9090
      basic_auth: {username: headroom, password_file: password}
"#,
    )
    .unwrap();
    let c = load_paths(&[file]).unwrap_or_else(|p| panic!("{}", render(&p)));
    let job = &c.scrape[0];
    assert_eq!(
        (job.interval, job.timeout),
        (Span::seconds(15), Span::seconds(10))
    );
    assert_eq!(job.file_sd, [dir.path().join("targets/*.json")]);
    assert_eq!(job.labels["env"], "prod");
    assert_eq!(c.backends[0].auth, BackendAuth::Bearer("s3cret".into()));
    assert_eq!(c.backends[0].headers["X-Scope-OrgID"], "shop");
    assert_eq!(c.backends[0].interval, Span::seconds(30));
    assert_eq!(
        c.backends[1].auth,
        BackendAuth::Basic {
            username: "headroom".into(),
            password: "pw".into()
        }
    );
    // Secrets never reach a debug print.
    assert!(!format!("{:?}", c.backends).contains("s3cret"));

    let e = errors(
        "scrape:\n  - job: a\n    interval: 5s\n    timeout: 10s\n  - job: b\n    targets: [\"http://x:80\"]\nbackends:\n  - name: p\n    prometheus: {url: \"http://p\", bearer_token_file: /nonexistent/t}\n",
    );
    assert_eq!(e.len(), 4, "{e:?}");
    assert!(
        e[0].starts_with("s.yaml:4:14: timeout (10s) is longer than the interval (5s)"),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("s.yaml:2:5: a scrape job needs targets or file_sd"),
        "{e:?}"
    );
    assert!(
        e[2].starts_with("s.yaml:6:15: address \"http://x:80\" must be host:port"),
        "{e:?}"
    );
    assert!(
        e[3].starts_with("s.yaml:9:54: cannot read /nonexistent/t"),
        "{e:?}"
    );
}

#[test]
fn readme_configs_load() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README");
    let blocks: Vec<&str> = readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .filter(|b| b.contains("slos:") || b.contains("route:") || b.contains("kind: SLO"))
        .collect();
    assert!(blocks.len() >= 3, "README has its config examples");
    for b in blocks {
        // Files the examples name (tokens) do not exist here; the rest must be valid as written.
        let text = b.replace("      bearer_token_file: /etc/headroom/mimir-token\n", "");
        load_str("README.md", &text).unwrap_or_else(|p| panic!("{}\n{text}", render(&p)));
    }
}
