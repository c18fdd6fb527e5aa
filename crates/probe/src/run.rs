//! Running a probe once: observe the target, then judge the observation by the conditions.
//!
//! Every run is bounded by its spec's timeout. A run that cannot observe its target at all
//! (refused, timed out, bad certificate, no DNS answer) sets `error`; conditions are still
//! evaluated against whatever was observed so their details show what was missing.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_net::NetError;
use hickory_net::proto::op::{DnsRequestOptions, DnsResponse, Query};
use hickory_net::proto::rr::RecordType as WireType;
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::tcp::TcpClientStream;
use hickory_net::udp::UdpClientStream;
use hickory_net::xfer::{DnsHandle, FirstAnswer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{
    CryptoProvider, ring, verify_tls12_signature, verify_tls13_signature,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::condition::Observation;
use crate::spec::{
    ClientCert, DnsProbe, HttpProbe, ProbeKind, ProbeResult, ProbeSpec, RecordType, Resolver,
    TcpProbe, TlsProbe, Transport,
};
use crate::{cert, dns};

/// Bodies are read up to this size; the rest is not needed to judge a check and a runaway
/// endpoint must not cost memory.
pub const BODY_LIMIT: usize = 1 << 20;
/// What a TCP probe keeps of the bytes it receives while waiting for `expect`.
const TCP_READ_LIMIT: usize = 64 << 10;
const MAX_REDIRECTS: usize = 10;

/// Network clients shared by every run of a fleet, so HTTP connections are reused across
/// runs and TLS settings are built once.
pub struct Clients {
    http: Mutex<HashMap<HttpClientKey, reqwest::Client>>,
    tls_verified: Arc<ClientConfig>,
    tls_unverified: Arc<ClientConfig>,
}

/// The HTTP settings that need a client of their own; everything else is per request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct HttpClientKey {
    tls_verify: bool,
    follow_redirects: bool,
    ca_file: Option<PathBuf>,
    client_cert: Option<ClientCert>,
}

impl Default for Clients {
    fn default() -> Self {
        Self::new()
    }
}

impl Clients {
    pub fn new() -> Self {
        let provider = Arc::new(ring::default_provider());
        let unverified = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth();
        Clients {
            http: Mutex::new(HashMap::new()),
            tls_verified: Arc::new(verified_config(Vec::new())),
            tls_unverified: Arc::new(unverified),
        }
    }

    /// The client for these settings, built on first use. A failure (unreadable client
    /// certificate) is not cached, so a fixed file is picked up by the next run.
    fn http(&self, probe: &HttpProbe) -> Result<reqwest::Client, String> {
        let key = HttpClientKey {
            tls_verify: probe.tls_verify,
            follow_redirects: probe.follow_redirects,
            ca_file: probe.ca_file.clone(),
            client_cert: probe.client_cert.clone(),
        };
        let mut clients = self.http.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = build_http_client(&key)?;
        clients.insert(key, client.clone());
        Ok(client)
    }
}

/// A TLS client config trusting the public roots and `extra` (a private CA).
fn verified_config(extra: Vec<CertificateDer<'static>>) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots.add_parsable_certificates(extra);
    ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// The PEM certificates of a CA file.
fn ca_certificates(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let pem =
        std::fs::read(path).map_err(|e| format!("reading CA file {}: {e}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("CA file {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "CA file {} holds no PEM certificate",
            path.display()
        ));
    }
    Ok(certs)
}

fn build_http_client(key: &HttpClientKey) -> Result<reqwest::Client, String> {
    let redirect = if key.follow_redirects {
        reqwest::redirect::Policy::limited(MAX_REDIRECTS)
    } else {
        reqwest::redirect::Policy::none()
    };
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_info(true)
        .danger_accept_invalid_certs(!key.tls_verify)
        .redirect(redirect)
        .user_agent(concat!("headroom-probe/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &key.ca_file {
        let pem =
            std::fs::read(path).map_err(|e| format!("reading CA file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("CA file {}: {}", path.display(), chain(&e)))?;
        if certs.is_empty() {
            return Err(format!(
                "CA file {} holds no PEM certificate",
                path.display()
            ));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let Some(cert) = &key.client_cert {
        let mut pem = std::fs::read(&cert.cert_file).map_err(|e| {
            format!(
                "reading client certificate {}: {e}",
                cert.cert_file.display()
            )
        })?;
        pem.push(b'\n');
        pem.extend(
            std::fs::read(&cert.key_file)
                .map_err(|e| format!("reading client key {}: {e}", cert.key_file.display()))?,
        );
        let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
            format!(
                "client certificate {}: {}",
                cert.cert_file.display(),
                chain(&e)
            )
        })?;
        builder = builder.identity(identity);
    }
    builder.build().map_err(|e| chain(&e))
}

/// Accepts any server certificate (probes with `tls_verify: false`) but still checks the
/// handshake signatures, so the certificate read for its expiry is the one the peer holds.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// What one kind of probe saw, before judging.
#[derive(Default)]
struct Observed {
    observation: Observation,
    certificate_expiry_unix: Option<i64>,
    error: Option<String>,
}

impl Observed {
    fn failed(error: impl Into<String>) -> Self {
        Observed {
            error: Some(error.into()),
            ..Observed::default()
        }
    }
}

/// Runs `spec` once. `now_ms` is the wall time at the start, used for `started_ms` and to
/// turn certificate expiry into `[CERTIFICATE_EXPIRATION]`.
pub async fn execute(spec: &ProbeSpec, clients: &Clients, now_ms: i64) -> ProbeResult {
    let started = Instant::now();
    let deadline = started + spec.timeout;
    let conditions = spec.effective_conditions();
    let needs_body = conditions.iter().any(|c| c.needs_body());
    let observe = async {
        match &spec.kind {
            ProbeKind::Http(probe) => http(probe, clients, started).await,
            ProbeKind::Tcp(probe) => tcp(probe, deadline, started).await,
            ProbeKind::Dns(probe) => resolve(probe, deadline, started).await,
            ProbeKind::Tls(probe) => tls(probe, clients, started).await,
            ProbeKind::Heartbeat => {
                Observed::failed("a heartbeat is judged by its pings, not executed")
            }
        }
    };
    let mut observed = match tokio::time::timeout_at(deadline, observe).await {
        Ok(observed) => observed,
        Err(_) => Observed::failed(format!("timed out after {}", seconds(spec.timeout))),
    };
    if !needs_body {
        observed.observation.body = None;
    }
    if let Some(expiry) = observed.certificate_expiry_unix {
        let left_ms = expiry.saturating_mul(1000).saturating_sub(now_ms).max(0);
        observed.observation.certificate_expiration =
            Some(Duration::from_millis(left_ms.unsigned_abs()));
    }
    let outcomes: Vec<_> = conditions
        .iter()
        .map(|c| c.evaluate(&observed.observation))
        .collect();
    ProbeResult {
        started_ms: now_ms,
        duration: started.elapsed(),
        success: observed.error.is_none() && outcomes.iter().all(|o| o.success),
        status_code: observed.observation.status,
        certificate_expiry_unix: observed.certificate_expiry_unix,
        ip: observed.observation.ip.clone(),
        error: observed.error,
        conditions: outcomes,
    }
}

fn elapsed_ms(started: Instant) -> Option<u64> {
    Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX))
}

fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// An error with its causes, since reqwest's and rustls's top-level messages alone
/// ("error sending request") do not say what went wrong.
fn chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

async fn http(probe: &HttpProbe, clients: &Clients, started: Instant) -> Observed {
    let client = match clients.http(probe) {
        Ok(client) => client,
        Err(e) => return Observed::failed(e),
    };
    let method = match reqwest::Method::from_bytes(probe.method.to_ascii_uppercase().as_bytes()) {
        Ok(method) => method,
        Err(_) => return Observed::failed(format!("invalid HTTP method {:?}", probe.method)),
    };
    let mut request = client.request(method, &probe.url);
    for (name, value) in &probe.headers {
        request = request.header(name, value);
    }
    if let Some(body) = &probe.body {
        request = request.body(body.clone());
    }
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            return Observed {
                observation: Observation {
                    connected: Some(false),
                    ..Observation::default()
                },
                // The URL is left out: its query may hold a credential, and the probe's name
                // says which URL it was.
                ..Observed::failed(chain(&e.without_url()))
            };
        }
    };
    let certificate_expiry_unix = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .and_then(|der| cert::not_after_unix(der).ok());
    let status = response.status().as_u16();
    let ip = response.remote_addr().map(|addr| addr.ip().to_string());
    // Read the body even when no condition needs it: a fully read response returns its
    // connection to the pool for the next run.
    let mut body = Vec::new();
    let mut error = None;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = BODY_LIMIT - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if chunk.len() >= room {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                error = Some(format!(
                    "reading the response body: {}",
                    chain(&e.without_url())
                ));
                break;
            }
        }
    }
    Observed {
        observation: Observation {
            status: Some(status),
            response_time_ms: elapsed_ms(started),
            body: Some(body),
            ip,
            connected: Some(true),
            ..Observation::default()
        },
        certificate_expiry_unix,
        error,
    }
}

async fn tcp(probe: &TcpProbe, deadline: Instant, started: Instant) -> Observed {
    let mut stream = match TcpStream::connect(&probe.address).await {
        Ok(stream) => stream,
        Err(e) => {
            return Observed {
                observation: Observation {
                    connected: Some(false),
                    ..Observation::default()
                },
                ..Observed::failed(format!("connecting to {}: {e}", probe.address))
            };
        }
    };
    let mut observation = Observation {
        connected: Some(true),
        ip: stream.peer_addr().ok().map(|a| a.ip().to_string()),
        ..Observation::default()
    };
    let mut error = None;
    if let Some(send) = &probe.send
        && let Err(e) = stream.write_all(send.as_bytes()).await
    {
        error = Some(format!("sending to {}: {e}", probe.address));
    }
    let mut received = Vec::new();
    if let (None, Some(expect)) = (&error, &probe.expect) {
        error = read_until(&mut stream, expect.as_bytes(), deadline, &mut received)
            .await
            .err();
    }
    observation.body = Some(received);
    observation.response_time_ms = elapsed_ms(started);
    Observed {
        observation,
        certificate_expiry_unix: None,
        error,
    }
}

/// Reads until `expect` appears in what was received; says what did arrive otherwise.
async fn read_until(
    stream: &mut TcpStream,
    expect: &[u8],
    deadline: Instant,
    received: &mut Vec<u8>,
) -> Result<(), String> {
    let found =
        |received: &[u8]| expect.is_empty() || received.windows(expect.len()).any(|w| w == expect);
    let mut buf = [0u8; 4096];
    let what = String::from_utf8_lossy(expect).into_owned();
    loop {
        if found(received) {
            return Ok(());
        }
        if received.len() >= TCP_READ_LIMIT {
            return Err(format!(
                "{what:?} not among the first {TCP_READ_LIMIT} bytes received"
            ));
        }
        let shown = || {
            let text = String::from_utf8_lossy(received);
            let text: String = text.chars().take(200).collect();
            format!("received {} bytes: {text:?}", received.len())
        };
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return Err(format!("timed out waiting for {what:?} ({})", shown())),
            Ok(Err(e)) => return Err(format!("reading while waiting for {what:?}: {e}")),
            Ok(Ok(0)) => {
                return Err(format!(
                    "connection closed before {what:?} arrived ({})",
                    shown()
                ));
            }
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n.min(TCP_READ_LIMIT - received.len())]),
        }
    }
}

async fn resolve(probe: &DnsProbe, deadline: Instant, started: Instant) -> Observed {
    let name = match dns::query_name(&probe.name, probe.record_type) {
        Ok(name) => name,
        Err(e) => return Observed::failed(e.to_string()),
    };
    let resolvers = if probe.resolvers.is_empty() {
        match system_resolvers().await {
            Ok(resolvers) => resolvers,
            Err(e) => return Observed::failed(e),
        }
    } else {
        probe.resolvers.clone()
    };
    let query = Query::query(name, WireType::from(probe.record_type.code()));
    let mut failures = Vec::new();
    for (index, resolver) in resolvers.iter().enumerate() {
        // Each nameserver gets an even share of what is left, so one that never answers
        // leaves time for the next; the last one has until the deadline.
        let left = u32::try_from(resolvers.len() - index).unwrap_or(u32::MAX);
        let share = deadline.saturating_duration_since(Instant::now()) / left;
        let until = Instant::now() + share;
        let asked = tokio::time::timeout_at(until, ask(resolver, &query, until)).await;
        let response = match asked {
            Ok(Ok(response)) => response,
            // hickory's own timer, set to the same instant, may fire first.
            Err(_) | Ok(Err(NoAnswer::InTime)) => {
                failures.push(format!(
                    "resolver {resolver}: no answer within {}",
                    seconds_rounded(share)
                ));
                continue;
            }
            Ok(Err(NoAnswer::Failed(e))) => {
                failures.push(format!("resolver {resolver}: {e}"));
                continue;
            }
        };
        let answers = dns::answers(&response.answers, probe.record_type);
        let ip = match probe.record_type {
            RecordType::A | RecordType::Aaaa => answers.first().cloned(),
            _ => None,
        };
        return Observed {
            observation: Observation {
                response_time_ms: elapsed_ms(started),
                // As Gatus does for DNS, the answers are the body; one per line when several.
                body: Some(answers.join("\n").into_bytes()),
                ip,
                dns_rcode: Some(dns::rcode_name(u16::from(response.metadata.response_code))),
                connected: Some(true),
                ..Observation::default()
            },
            certificate_expiry_unix: None,
            error: None,
        };
    }
    Observed {
        observation: Observation {
            connected: Some(false),
            ..Observation::default()
        },
        ..Observed::failed(failures.join("; "))
    }
}

/// Why a nameserver gave no answer.
enum NoAnswer {
    InTime,
    Failed(String),
}

impl From<NetError> for NoAnswer {
    fn from(e: NetError) -> Self {
        match e {
            NetError::Timeout => NoAnswer::InTime,
            e => NoAnswer::Failed(e.to_string()),
        }
    }
}

/// One nameserver's answer: over UDP, and again over TCP when it did not fit; or over TCP
/// only. The caller bounds the whole by `until`.
async fn ask(resolver: &Resolver, query: &Query, until: Instant) -> Result<DnsResponse, NoAnswer> {
    let address = resolver_address(resolver).await.map_err(NoAnswer::Failed)?;
    // A provider per exchange, held until the answer is in: its background tasks (which drive
    // the exchanges) end when the last clone is dropped.
    let provider = TokioRuntimeProvider::new();
    // hickory's defaults: recursion desired, EDNS(0) offering 1232 bytes over UDP.
    let options = DnsRequestOptions::default();
    let budget = || until.saturating_duration_since(Instant::now());
    if resolver.transport == Transport::Udp {
        let exchange = UdpClientStream::builder(address, provider.clone())
            .with_timeout(Some(budget()))
            .exchange();
        let response = exchange
            .lookup(query.clone(), options)
            .first_answer()
            .await?;
        if !response.metadata.truncation {
            return Ok(response);
        }
        return over_tcp(address, query, options, budget(), provider.clone())
            .await
            .map_err(|e| {
                NoAnswer::Failed(format!("the UDP answer was truncated, and over TCP: {e}"))
            });
    }
    Ok(over_tcp(address, query, options, budget(), provider.clone()).await?)
}

async fn over_tcp(
    address: SocketAddr,
    query: &Query,
    options: DnsRequestOptions,
    budget: Duration,
    provider: TokioRuntimeProvider,
) -> Result<DnsResponse, NetError> {
    let exchange = TcpClientStream::exchange(address, None, budget, None, provider).await?;
    exchange.lookup(query.clone(), options).first_answer().await
}

/// The socket address of a nameserver; a host name is looked up with the system's resolver.
async fn resolver_address(resolver: &Resolver) -> Result<SocketAddr, String> {
    if let Ok(ip) = resolver.host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, resolver.port));
    }
    tokio::net::lookup_host((resolver.host.as_str(), resolver.port))
        .await
        .map_err(|e| format!("looking up {}: {e}", resolver.host))?
        .next()
        .ok_or_else(|| format!("{} has no address", resolver.host))
}

/// The nameservers of /etc/resolv.conf, in order, over UDP on port 53.
async fn system_resolvers() -> Result<Vec<Resolver>, String> {
    let conf = tokio::fs::read_to_string("/etc/resolv.conf")
        .await
        .map_err(|e| format!("reading /etc/resolv.conf: {e}"))?;
    let resolvers = system_nameservers(&conf);
    if resolvers.is_empty() {
        return Err("no usable nameserver in /etc/resolv.conf".into());
    }
    Ok(resolvers)
}

/// A zone suffix on link-local IPv6 (`fe80::1%eth0`) is not supported: such an entry is
/// skipped, and the others are used.
fn system_nameservers(resolv_conf: &str) -> Vec<Resolver> {
    dns::nameservers(resolv_conf)
        .into_iter()
        .filter_map(|ip| ip.parse::<IpAddr>().ok())
        .map(Resolver::udp)
        .collect()
}

/// Seconds rounded up to the hundredth, for messages: a share of a 0.5s timeout, computed a
/// moment after the run started, still reads 0.5s.
fn seconds_rounded(d: Duration) -> String {
    let hundredths = d.as_millis().div_ceil(10);
    seconds(Duration::from_millis(
        u64::try_from(hundredths * 10).unwrap_or(u64::MAX),
    ))
}

async fn tls(probe: &TlsProbe, clients: &Clients, started: Instant) -> Observed {
    let host = probe
        .server_name
        .clone()
        .unwrap_or_else(|| host_of(&probe.address).to_string());
    let server_name = match ServerName::try_from(host.clone()) {
        Ok(name) => name,
        Err(e) => return Observed::failed(format!("server name {host:?}: {e}")),
    };
    let stream = match TcpStream::connect(&probe.address).await {
        Ok(stream) => stream,
        Err(e) => {
            return Observed {
                observation: Observation {
                    connected: Some(false),
                    ..Observation::default()
                },
                ..Observed::failed(format!("connecting to {}: {e}", probe.address))
            };
        }
    };
    let ip = stream.peer_addr().ok().map(|a| a.ip().to_string());
    let config = match (probe.tls_verify, &probe.ca_file) {
        (false, _) => clients.tls_unverified.clone(),
        (true, None) => clients.tls_verified.clone(),
        (true, Some(path)) => match ca_certificates(path) {
            Ok(certs) => Arc::new(verified_config(certs)),
            Err(e) => return Observed::failed(e),
        },
    };
    let observation = Observation {
        connected: Some(true),
        ip,
        ..Observation::default()
    };
    let stream = match TlsConnector::from(config)
        .connect(server_name, stream)
        .await
    {
        Ok(stream) => stream,
        Err(e) => {
            return Observed {
                observation,
                ..Observed::failed(format!(
                    "TLS handshake with {}: {}",
                    probe.address,
                    chain(&e)
                ))
            };
        }
    };
    let leaf = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first());
    let expiry = match leaf.map(|der| cert::not_after_unix(der)) {
        Some(Ok(expiry)) => expiry,
        Some(Err(e)) => {
            return Observed {
                observation,
                ..Observed::failed(e.to_string())
            };
        }
        None => {
            return Observed {
                observation,
                ..Observed::failed("the server sent no certificate")
            };
        }
    };
    Observed {
        observation: Observation {
            response_time_ms: elapsed_ms(started),
            ..observation
        },
        certificate_expiry_unix: Some(expiry),
        error: None,
    }
}

/// The host of `host:port` or `[v6]:port`.
fn host_of(address: &str) -> &str {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    address.rsplit_once(':').map_or(address, |(host, _)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(host_of("example.com:443"), "example.com");
        assert_eq!(host_of("[::1]:8443"), "::1");
        assert_eq!(host_of("example.com"), "example.com");
    }

    #[test]
    fn system_nameservers_skip_what_cannot_be_used() {
        let conf = "nameserver 192.0.2.53\nnameserver fe80::1%eth0\nnameserver ::1\n";
        let found: Vec<String> = system_nameservers(conf)
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(found, ["192.0.2.53:53", "[::1]:53"]);
        assert!(system_nameservers("search lan\n").is_empty());
    }

    #[test]
    fn seconds_in_messages() {
        assert_eq!(seconds_rounded(Duration::from_micros(499_700)), "0.5s");
        assert_eq!(seconds_rounded(Duration::from_millis(2500)), "2.5s");
        assert_eq!(seconds_rounded(Duration::from_millis(333)), "0.34s");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Layer(&'static str, #[source] Option<Box<Layer>>);

    #[test]
    fn error_chains_name_every_cause_once() {
        let refused = Layer("connection refused", None);
        let connect = Layer("client error (Connect)", Some(Box::new(refused)));
        let top = Layer("error sending request", Some(Box::new(connect)));
        assert_eq!(
            chain(&top),
            "error sending request: client error (Connect): connection refused"
        );
        let repeated = Layer(
            "tcp connect error: connection refused",
            Some(Box::new(Layer("connection refused", None))),
        );
        assert_eq!(chain(&repeated), "tcp connect error: connection refused");
    }
}
