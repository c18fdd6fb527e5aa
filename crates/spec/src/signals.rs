//! Where signals come from besides the events API: probes, scrape jobs and external
//! Prometheus-compatible backends (native top-level `probes`, `scrape` and `backends`).
//!
//! ```yaml
//! probes:
//!   - name: shop-home
//!     http: {url: https://shop.example.com/, method: GET, headers: {}, body: "", tls_verify: true,
//!            ca_file: ca.pem, client_cert: {cert_file: c.pem, key_file: k.pem},
//!            follow_redirects: true}
//!     # or tcp: {address: host:port, send: "", expect: ""}
//!     # or dns: {name: example.com, type: A, resolver: 1.1.1.1:53}
//!     # or tls: {address: host:443, server_name: host, tls_verify: true, ca_file: ca.pem}
//!     # or heartbeat: {}      (the service pings; a missing ping within `interval` fails)
//!     interval: 30s
//!     timeout: 10s            # at most the interval; default min(10s, interval)
//!     conditions: ["[STATUS] == 200", "[RESPONSE_TIME] < 500"]
//! scrape:
//!   - job: shop
//!     interval: 15s
//!     timeout: 10s
//!     scheme: http
//!     metrics_path: /metrics
//!     targets: [localhost:8080]
//!     labels: {env: prod}
//!     file_sd: [targets/*.json]
//! backends:
//!   - name: prom
//!     prometheus: {url: http://localhost:9090, bearer_token_file: t, basic_auth: {username, password_file},
//!                  headers: {X-Scope-OrgID: shop}, timeout: 30s}
//!     interval: 1m            # one step of SLI counts
//!     delay: 1m               # a step is asked for this long after it ends
//!     default: true           # answers every PromQL SLI that names no backend
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use headroom_core::{Sli, Slo, Span};
use headroom_probe::spec::{
    ClientCert, DnsProbe, HttpProbe, ProbeKind, ProbeSpec, RecordType, TcpProbe, TlsProbe,
};

use crate::read::{At, Cx, Fields, did_you_mean, fields, string};
use crate::rules::{check_name, labels};
use crate::yaml::Node;

/// A scrape job: Prometheus text or OpenMetrics from static targets and file_sd files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeConfig {
    pub job: String,
    pub interval: Span,
    pub timeout: Span,
    /// `http` or `https`.
    pub scheme: String,
    pub metrics_path: String,
    /// `host:port` each.
    pub targets: Vec<String>,
    /// Labels added to every series of the job's targets.
    pub labels: BTreeMap<String, String>,
    /// Prometheus `file_sd` JSON files; the last path component may be a glob.
    pub file_sd: Vec<PathBuf>,
    pub file_sd_refresh: Span,
}

/// How headroom authenticates to a backend. Secrets are read from files at load.
#[derive(Clone, PartialEq, Eq)]
pub enum BackendAuth {
    None,
    Bearer(String),
    Basic { username: String, password: String },
}

impl std::fmt::Debug for BackendAuth {
    // Never print a secret, not even in a debug log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackendAuth::None => f.write_str("None"),
            BackendAuth::Bearer(_) => f.write_str("Bearer(***)"),
            BackendAuth::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
        }
    }
}

/// An external Prometheus-compatible HTTP API (Prometheus, Thanos, Mimir, VictoriaMetrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendConfig {
    pub name: String,
    pub url: String,
    pub auth: BackendAuth,
    pub headers: BTreeMap<String, String>,
    pub timeout: Span,
    /// The step of SLI counts: queried once per step, backfilled by steps.
    pub interval: Span,
    /// How long after a step's end its data is complete in the backend (scrape interval plus
    /// ingestion and rule lag): the step is asked for then.
    pub delay: Span,
    /// Answers every PromQL SLI that names no backend.
    pub default: bool,
}

/// The signal sources a set of files declares, each name checked unique.
#[derive(Debug, Default)]
pub(crate) struct Signals {
    pub probes: Vec<(ProbeSpec, At<()>)>,
    pub scrape: Vec<ScrapeConfig>,
    pub backends: Vec<(BackendConfig, At<()>)>,
}

const PROBE: &[&str] = &[
    "name",
    "http",
    "tcp",
    "dns",
    "tls",
    "heartbeat",
    "interval",
    "timeout",
    "conditions",
];
const PROBE_KINDS: [&str; 5] = ["http", "tcp", "dns", "tls", "heartbeat"];

pub(crate) fn read_probes(cx: &mut Cx, f: &Fields, out: &mut Signals) {
    for item in f.list(cx, "probes").unwrap_or_default() {
        if let Some(p) = probe(cx, item) {
            let dup = out.probes.iter().find(|(q, _)| q.name == p.name);
            if let Some((_, first)) = dup {
                let at = cx.source(first.pos);
                cx.err(
                    item.pos,
                    format!("probe {:?} is already defined at {at}", p.name),
                );
            } else {
                out.probes.push((
                    p,
                    At {
                        v: (),
                        pos: item.pos,
                    },
                ));
            }
        }
    }
}

fn probe(cx: &mut Cx, node: &Node) -> Option<ProbeSpec> {
    let f = fields(cx, node, "probe", PROBE)?;
    let mark = cx.mark();
    let name = f.req_str(cx, "name");
    if let Some(n) = &name {
        check_name(cx, n, "probe name");
    }
    let kinds: Vec<(&str, &Node)> = PROBE_KINDS
        .iter()
        .filter_map(|k| f.get(k).map(|n| (*k, n)))
        .collect();
    let kind = match kinds.as_slice() {
        [(k, body)] => probe_kind(cx, k, body),
        [] => {
            cx.err(
                f.pos,
                "a probe needs one of http, tcp, dns, tls or heartbeat",
            );
            None
        }
        [_, (_, second), ..] => {
            cx.err(
                second.pos,
                "a probe is one of http, tcp, dns, tls or heartbeat, not several",
            );
            None
        }
    };
    let interval = f.span(cx, "interval").map_or(Span::seconds(60), |s| s.v);
    let timeout = match f.span(cx, "timeout") {
        Some(t) if t.v > interval => {
            cx.err(
                t.pos,
                format!(
                    "timeout ({}) is longer than the interval ({interval}): a probe must finish \
                     before its next run is due",
                    t.v
                ),
            );
            None
        }
        Some(t) => Some(t.v),
        None => Some(interval.min(Span::seconds(10))),
    };
    let mut conditions = Vec::new();
    for c in f.list(cx, "conditions").unwrap_or_default() {
        let Some(text) = string(cx, c, "condition") else {
            continue;
        };
        match headroom_probe::parse(&text.v) {
            Ok(cond) => conditions.push(cond),
            Err(e) => {
                let mut pos = c.pos;
                pos.column += e.column.saturating_sub(1) as u32 + cx.quote_width(c.pos);
                cx.err(pos, format!("condition {:?}: {}", text.v, e.message));
            }
        }
    }
    if !cx.clean_since(mark) {
        return None;
    }
    Some(ProbeSpec {
        name: name?.v,
        kind: kind?,
        interval: interval.to_std(),
        timeout: timeout?.to_std(),
        conditions,
    })
}

fn probe_kind(cx: &mut Cx, kind: &str, body: &Node) -> Option<ProbeKind> {
    match kind {
        "heartbeat" => {
            if !body.is_null() {
                fields(cx, body, "heartbeat", &[])?;
            }
            Some(ProbeKind::Heartbeat)
        }
        "http" => {
            const HTTP: &[&str] = &[
                "url",
                "method",
                "headers",
                "body",
                "tls_verify",
                "ca_file",
                "client_cert",
                "follow_redirects",
            ];
            let h = fields(cx, body, "http", HTTP)?;
            let url = h.req_str(cx, "url").and_then(|u| http_url(cx, u));
            let method = h.str(cx, "method").map_or("GET".to_string(), |m| m.v);
            if !method.bytes().all(|b| b.is_ascii_uppercase()) || method.is_empty() {
                let at = h.val("method").map_or(h.pos, |n| n.pos);
                cx.err(
                    at,
                    format!("method {method:?} must be an upper-case HTTP method such as GET"),
                );
            }
            let headers = h
                .get("headers")
                .map(|n| labels_any(cx, n, "headers"))
                .unwrap_or_default();
            let client_cert = match h.val("client_cert") {
                Some(n) => {
                    let c = fields(cx, n, "client_cert", &["cert_file", "key_file"])?;
                    let cert = c.req_str(cx, "cert_file");
                    let key = c.req_str(cx, "key_file");
                    Some(ClientCert {
                        cert_file: cx.relative_path(&cert?),
                        key_file: cx.relative_path(&key?),
                    })
                }
                None => None,
            };
            Some(ProbeKind::Http(HttpProbe {
                url: url?,
                method,
                headers: headers.into_iter().collect(),
                body: h.str(cx, "body").map(|b| b.v),
                tls_verify: h.bool(cx, "tls_verify").unwrap_or(true),
                ca_file: h.str(cx, "ca_file").map(|p| cx.relative_path(&p)),
                client_cert,
                follow_redirects: h.bool(cx, "follow_redirects").unwrap_or(true),
            }))
        }
        "tcp" => {
            let t = fields(cx, body, "tcp", &["address", "send", "expect"])?;
            let address = t.req_str(cx, "address").and_then(|a| host_port(cx, a));
            Some(ProbeKind::Tcp(TcpProbe {
                address: address?,
                send: t.str(cx, "send").map(|s| s.v),
                expect: t.str(cx, "expect").map(|s| s.v),
            }))
        }
        "dns" => {
            let d = fields(cx, body, "dns", &["name", "type", "resolver"])?;
            let name = d.req_str(cx, "name");
            let record_type = match d.str(cx, "type") {
                Some(t) => record_type(cx, &t),
                None => Some(RecordType::A),
            };
            let resolver = d.str(cx, "resolver").and_then(|r| host_port(cx, r));
            Some(ProbeKind::Dns(DnsProbe {
                name: name?.v,
                record_type: record_type?,
                resolver,
            }))
        }
        "tls" => {
            let t = fields(
                cx,
                body,
                "tls",
                &["address", "server_name", "tls_verify", "ca_file"],
            )?;
            let address = t.req_str(cx, "address").and_then(|a| host_port(cx, a));
            Some(ProbeKind::Tls(TlsProbe {
                address: address?,
                server_name: t.str(cx, "server_name").map(|s| s.v),
                tls_verify: t.bool(cx, "tls_verify").unwrap_or(true),
                ca_file: t.str(cx, "ca_file").map(|p| cx.relative_path(&p)),
            }))
        }
        _ => None,
    }
}

fn record_type(cx: &mut Cx, t: &At<String>) -> Option<RecordType> {
    t.v.parse()
        .map_err(|e| {
            let upper = t.v.to_ascii_uppercase();
            let hint = did_you_mean(&upper, RecordType::ALL.iter().map(|r| r.as_str()))
                .map(|s| format!("; did you mean {s:?}?"))
                .unwrap_or_default();
            cx.err(t.pos, format!("{e}{hint}"));
        })
        .ok()
}

pub(crate) fn http_url(cx: &mut Cx, u: At<String>) -> Option<String> {
    let ok = (u.v.starts_with("http://") || u.v.starts_with("https://"))
        && u.v.split("://").nth(1).is_some_and(|rest| {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            !host.is_empty() && !host.contains(char::is_whitespace)
        });
    if ok {
        Some(u.v)
    } else {
        cx.err(
            u.pos,
            format!(
                "url {:?} must be an http:// or https:// URL with a host",
                u.v
            ),
        );
        None
    }
}

/// `host:port`, the port a number.
fn host_port(cx: &mut Cx, a: At<String>) -> Option<String> {
    let ok = a.v.rsplit_once(':').is_some_and(|(h, p)| {
        !h.is_empty()
            && !h.contains(['/', ' ', '@', '?', '#'])
            && p.parse::<u16>().is_ok_and(|p| p > 0)
    });
    if ok {
        Some(a.v)
    } else {
        cx.err(
            a.pos,
            format!(
                "address {:?} must be host:port (e.g. db.internal:5432)",
                a.v
            ),
        );
        None
    }
}

/// A string map whose keys need not be label names (HTTP headers).
fn labels_any(cx: &mut Cx, node: &Node, what: &str) -> BTreeMap<String, String> {
    let Some(f) = crate::read::open(cx, node, what) else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for (k, v) in f.entries() {
        if let (Some(k), Some(v)) = (string(cx, k, what), string(cx, v, what)) {
            out.insert(k.v, v.v);
        }
    }
    out
}

const SCRAPE: &[&str] = &[
    "job",
    "interval",
    "timeout",
    "scheme",
    "metrics_path",
    "targets",
    "labels",
    "file_sd",
    "file_sd_refresh",
];

pub(crate) fn read_scrape(cx: &mut Cx, f: &Fields, out: &mut Signals) {
    for item in f.list(cx, "scrape").unwrap_or_default() {
        if let Some(job) = scrape_job(cx, item) {
            if out.scrape.iter().any(|j| j.job == job.job) {
                cx.err(
                    item.pos,
                    format!("scrape job {:?} is defined twice", job.job),
                );
            } else {
                out.scrape.push(job);
            }
        }
    }
}

fn scrape_job(cx: &mut Cx, node: &Node) -> Option<ScrapeConfig> {
    let f = fields(cx, node, "scrape job", SCRAPE)?;
    let mark = cx.mark();
    let job = f.req_str(cx, "job");
    let interval = f.span(cx, "interval").map_or(Span::seconds(60), |s| s.v);
    let timeout = match f.span(cx, "timeout") {
        Some(t) if t.v > interval => {
            cx.err(
                t.pos,
                format!("timeout ({}) is longer than the interval ({interval})", t.v),
            );
            None
        }
        Some(t) => Some(t.v),
        None => Some(interval.min(Span::seconds(10))),
    };
    let scheme = f.str(cx, "scheme").map_or("http".to_string(), |s| s.v);
    if scheme != "http" && scheme != "https" {
        let at = f.val("scheme").map_or(f.pos, |n| n.pos);
        cx.err(at, format!("scheme {scheme:?} must be http or https"));
    }
    let metrics_path = f
        .str(cx, "metrics_path")
        .map_or("/metrics".to_string(), |s| s.v);
    if !metrics_path.starts_with('/') {
        let at = f.val("metrics_path").map_or(f.pos, |n| n.pos);
        cx.err(
            at,
            format!("metrics_path {metrics_path:?} must start with /"),
        );
    }
    let mut targets = Vec::new();
    let listed = f.list(cx, "targets").unwrap_or_default();
    for t in listed {
        if let Some(a) = string(cx, t, "target").and_then(|a| host_port(cx, a)) {
            targets.push(a);
        }
    }
    let mut file_sd = Vec::new();
    for p in f.list(cx, "file_sd").unwrap_or_default() {
        if let Some(p) = string(cx, p, "file_sd") {
            file_sd.push(cx.relative_path(&p));
        }
    }
    if listed.is_empty() && file_sd.is_empty() {
        cx.err(f.pos, "a scrape job needs targets or file_sd");
    }
    let labels = f
        .get("labels")
        .map(|n| labels(cx, n, "labels"))
        .unwrap_or_default();
    let file_sd_refresh = f
        .span(cx, "file_sd_refresh")
        .map_or(Span::minutes(5), |s| s.v);
    if !cx.clean_since(mark) {
        return None;
    }
    Some(ScrapeConfig {
        job: job?.v,
        interval,
        timeout: timeout?,
        scheme,
        metrics_path,
        targets,
        labels,
        file_sd,
        file_sd_refresh,
    })
}

pub(crate) fn read_backends(cx: &mut Cx, f: &Fields, out: &mut Signals) {
    for item in f.list(cx, "backends").unwrap_or_default() {
        if let Some(b) = backend(cx, item) {
            let dup = out.backends.iter().find(|(c, _)| c.name == b.name);
            if let Some((_, first)) = dup {
                let at = cx.source(first.pos);
                cx.err(
                    item.pos,
                    format!("backend {:?} is already defined at {at}", b.name),
                );
                continue;
            }
            let default = out.backends.iter().find(|(c, _)| c.default);
            if let (true, Some((first, at))) = (b.default, default) {
                let at = cx.source(at.pos);
                cx.err(
                    item.pos,
                    format!(
                        "backend {:?} is the default already ({at}): only one may be",
                        first.name
                    ),
                );
                continue;
            }
            out.backends.push((
                b,
                At {
                    v: (),
                    pos: item.pos,
                },
            ));
        }
    }
}

fn backend(cx: &mut Cx, node: &Node) -> Option<BackendConfig> {
    let f = fields(
        cx,
        node,
        "backend",
        &["name", "prometheus", "interval", "delay", "default"],
    )?;
    let mark = cx.mark();
    let name = f.req_str(cx, "name");
    if let Some(n) = &name {
        check_name(cx, n, "backend name");
    }
    let p = f.req(cx, "prometheus").and_then(|n| {
        fields(
            cx,
            n,
            "prometheus",
            &[
                "url",
                "bearer_token_file",
                "basic_auth",
                "headers",
                "timeout",
            ],
        )
    });
    let interval = f.span(cx, "interval").map_or(Span::minutes(1), |s| s.v);
    if interval < Span::seconds(10) || interval.millis() % 1000 != 0 {
        let at = f.val("interval").map_or(f.pos, |n| n.pos);
        cx.err(at, "interval must be whole seconds, at least 10s");
    }
    let delay = f.span(cx, "delay").map_or(Span::minutes(1), |s| s.v);
    let default = f.bool(cx, "default").unwrap_or(false);
    let p = p?;
    let url = p.req_str(cx, "url").and_then(|u| http_url(cx, u));
    let bearer = p
        .str(cx, "bearer_token_file")
        .and_then(|path| read_secret(cx, &path));
    let basic = match p.val("basic_auth") {
        Some(n) => {
            let b = fields(cx, n, "basic_auth", &["username", "password_file"])?;
            let username = b.req_str(cx, "username");
            let password = b
                .req_str(cx, "password_file")
                .and_then(|path| read_secret(cx, &path));
            Some((username?.v, password?))
        }
        None => None,
    };
    let auth = match (bearer, basic) {
        (Some(_), Some(_)) => {
            cx.err(p.pos, "give bearer_token_file or basic_auth, not both");
            None
        }
        (Some(t), None) => Some(BackendAuth::Bearer(t)),
        (None, Some((username, password))) => Some(BackendAuth::Basic { username, password }),
        (None, None) => Some(BackendAuth::None),
    };
    let headers = p
        .get("headers")
        .map(|n| labels_any(cx, n, "headers"))
        .unwrap_or_default();
    let timeout = p.span(cx, "timeout").map_or(Span::seconds(30), |s| s.v);
    if !cx.clean_since(mark) {
        return None;
    }
    Some(BackendConfig {
        name: name?.v,
        url: url?,
        auth: auth?,
        headers,
        timeout,
        interval,
        delay,
        default,
    })
}

/// A secret from a file, relative to the config file; trailing whitespace trimmed.
pub(crate) fn read_secret(cx: &mut Cx, path: &At<String>) -> Option<String> {
    let full = cx.relative_path(path);
    match std::fs::read_to_string(&full) {
        Ok(s) if !s.trim().is_empty() => Some(s.trim_end().to_string()),
        Ok(_) => {
            cx.err(path.pos, format!("{} is empty", full.display()));
            None
        }
        Err(e) => {
            cx.err(path.pos, format!("cannot read {}: {e}", full.display()));
            None
        }
    }
}

impl Cx {
    /// A path as written in a config file, relative to that file's directory (as Prometheus
    /// resolves `file_sd` and credential files).
    pub fn relative_path(&self, p: &At<String>) -> PathBuf {
        let path = Path::new(&p.v);
        if path.is_absolute() {
            return path.to_path_buf();
        }
        let file = self.files.get(p.pos.file).map(String::as_str).unwrap_or("");
        match Path::new(file).parent() {
            Some(dir) => dir.join(path),
            None => path.to_path_buf(),
        }
    }
}

/// Checks what SLOs name (probes, backends) and gives PromQL SLIs without a backend the default
/// one, when a backend is marked default.
pub(crate) fn resolve_references(cx: &mut Cx, signals: &Signals, slos: &mut [Slo]) {
    let default = signals
        .backends
        .iter()
        .find(|(b, _)| b.default)
        .map(|(b, _)| b.name.clone());
    for slo in slos {
        let pos = cx.pos_of(&slo.source);
        if let Sli::Probe { probe, latency } = &slo.sli {
            match signals.probes.iter().find(|(p, _)| &p.name == probe) {
                None => {
                    let hint = did_you_mean(probe, signals.probes.iter().map(|(p, _)| &*p.name))
                        .map(|s| format!("; did you mean {s:?}?"))
                        .unwrap_or_default();
                    cx.err(
                        pos,
                        format!(
                            "SLO {:?} names probe {probe:?}, which is not defined{hint}",
                            slo.id.as_str()
                        ),
                    );
                }
                Some((p, _)) if latency.is_some() && matches!(p.kind, ProbeKind::Heartbeat) => {
                    cx.err(
                        pos,
                        format!(
                            "SLO {:?}: probe {probe:?} is a heartbeat, which has no latency",
                            slo.id.as_str()
                        ),
                    );
                }
                Some(_) => {}
            }
        }
        let queries = !matches!(slo.sli, Sli::Events | Sli::Probe { .. });
        match &slo.backend {
            Some(b) if !signals.backends.iter().any(|(c, _)| &c.name == b) => {
                let hint = did_you_mean(b, signals.backends.iter().map(|(c, _)| &*c.name))
                    .map(|s| format!("; did you mean {s:?}?"))
                    .unwrap_or_default();
                cx.err(
                    pos,
                    format!(
                        "SLO {:?} names backend {b:?}, which is not defined{hint}",
                        slo.id.as_str()
                    ),
                );
            }
            Some(_) => {}
            None if queries => slo.backend.clone_from(&default),
            None => {}
        }
    }
}

/// Every PromQL SLI that no backend answers must run natively on Prometheus samples: a query
/// headroom cannot translate is a problem at the SLO, naming the construct.
pub(crate) fn check_native_queries(cx: &mut Cx, slos: &[Slo]) {
    for slo in slos.iter().filter(|s| s.backend.is_none()) {
        if let Err(u) = headroom_metrics::query::plan(&slo.sli, &slo.grouping) {
            let pos = cx.pos_of(&slo.source);
            cx.err(
                pos,
                format!(
                    "SLO {:?}: its {} query cannot run natively: {}",
                    slo.id.as_str(),
                    u.query,
                    u.message
                ),
            );
        }
    }
}
