//! What a probe is: its target, schedule and conditions, and what one run of it produced.
//!
//! Pure data, with no async runtime or network client, so the config loader can build and
//! validate probes without the runner (`run` feature).

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::condition::{Condition, Outcome, parse};

/// One synthetic check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// Unique within the configuration; also seeds the probe's start offset.
    pub name: String,
    pub kind: ProbeKind,
    pub interval: Duration,
    /// Bounds one whole run; the runner clamps it to `interval`.
    pub timeout: Duration,
    /// Empty means [`ProbeKind::default_conditions`].
    pub conditions: Vec<Condition>,
}

impl ProbeSpec {
    /// The conditions a run is judged by: the configured ones, or the kind's defaults.
    pub fn effective_conditions(&self) -> Cow<'_, [Condition]> {
        if self.conditions.is_empty() {
            Cow::Owned(self.kind.default_conditions())
        } else {
            Cow::Borrowed(&self.conditions)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeKind {
    Http(HttpProbe),
    Tcp(TcpProbe),
    Dns(DnsProbe),
    Tls(TlsProbe),
    /// Passive: succeeds while something pings it at least once per interval.
    Heartbeat,
}

impl ProbeKind {
    /// What "up" means for a kind when a probe lists no conditions.
    pub fn default_conditions(&self) -> Vec<Condition> {
        let text = match self {
            ProbeKind::Http(_) => "[STATUS] < 400",
            ProbeKind::Tcp(_) => "[CONNECTED] == true",
            ProbeKind::Dns(_) => "[DNS_RCODE] == NOERROR",
            ProbeKind::Tls(_) => "[CERTIFICATE_EXPIRATION] > 0",
            ProbeKind::Heartbeat => return Vec::new(),
        };
        vec![parse(text).expect("default conditions are valid")]
    }

    pub fn name(&self) -> &'static str {
        match self {
            ProbeKind::Http(_) => "http",
            ProbeKind::Tcp(_) => "tcp",
            ProbeKind::Dns(_) => "dns",
            ProbeKind::Tls(_) => "tls",
            ProbeKind::Heartbeat => "heartbeat",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpProbe {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub tls_verify: bool,
    /// PEM certificates trusted besides the public roots (a private CA).
    pub ca_file: Option<PathBuf>,
    pub client_cert: Option<ClientCert>,
    pub follow_redirects: bool,
}

impl HttpProbe {
    /// A `GET` with verification on and redirects followed, as most checks want.
    pub fn get(url: impl Into<String>) -> Self {
        HttpProbe {
            url: url.into(),
            method: "GET".to_string(),
            headers: Vec::new(),
            body: None,
            tls_verify: true,
            ca_file: None,
            client_cert: None,
            follow_redirects: true,
        }
    }
}

/// A client certificate for mutual TLS, both files PEM.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientCert {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpProbe {
    /// `host:port`.
    pub address: String,
    /// Written once connected.
    pub send: Option<String>,
    /// Read until this text appears; the run fails if it does not before the timeout.
    pub expect: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsProbe {
    pub name: String,
    pub record_type: RecordType,
    /// Asked in order: the next one only when one cannot be reached or does not answer in its
    /// share of the timeout. Empty asks the nameservers of `/etc/resolv.conf`.
    pub resolvers: Vec<Resolver>,
}

/// A nameserver, written as Gatus writes a DNS endpoint's `url`: `8.8.8.8`, `8.8.8.8:53`,
/// `2001:db8::53`, `[2001:db8::53]:5353`, `dns.internal:5353`, optionally after `udp://` or
/// `tcp://`. The port defaults to 53.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resolver {
    pub transport: Transport,
    /// An IP address, or a host name looked up when the probe runs.
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP, asking again over TCP when the answer did not fit (TC bit).
    Udp,
    /// TCP only.
    Tcp,
}

impl Resolver {
    /// UDP on port 53 of `ip`.
    pub fn udp(ip: std::net::IpAddr) -> Self {
        Resolver {
            transport: Transport::Udp,
            host: ip.to_string(),
            port: 53,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("resolver {text:?}: {reason}")]
pub struct InvalidResolver {
    pub text: String,
    pub reason: &'static str,
}

impl FromStr for Resolver {
    type Err = InvalidResolver;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| InvalidResolver {
            text: text.to_string(),
            reason,
        };
        let (transport, rest) = match text.split_once("://") {
            None => (Transport::Udp, text),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("udp") => (Transport::Udp, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("tcp") => (Transport::Tcp, rest),
            Some(_) => return Err(invalid("the scheme must be udp:// or tcp://")),
        };
        let port = |p: &str| {
            p.parse::<u16>()
                .ok()
                .filter(|&p| p > 0)
                .ok_or(invalid("the port must be a number from 1 to 65535"))
        };
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (ip, after) = bracketed
                .split_once(']')
                .ok_or(invalid("an opening [ without a closing ]"))?;
            let ip = ip
                .parse::<std::net::Ipv6Addr>()
                .map_err(|_| invalid("only an IPv6 address goes between [ and ]"))?;
            let port = match after {
                "" => 53,
                _ => port(
                    after
                        .strip_prefix(':')
                        .ok_or(invalid("expected :port after ]"))?,
                )?,
            };
            (ip.to_string(), port)
        } else if let Ok(ip) = rest.parse::<std::net::IpAddr>() {
            (ip.to_string(), 53)
        } else {
            let (host, port) = match rest.rsplit_once(':') {
                Some((host, p)) => (host, port(p)?),
                None => (rest, 53),
            };
            let name_like = host.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
            if host.is_empty() || !name_like {
                return Err(invalid(
                    "expected an IP address or host name, with an optional :port",
                ));
            }
            (host.to_string(), port)
        };
        Ok(Resolver {
            transport,
            host,
            port,
        })
    }
}

impl fmt::Display for Resolver {
    /// `host:port` (IPv6 in brackets), with `tcp://` in front when TCP only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.transport == Transport::Tcp {
            f.write_str("tcp://")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsProbe {
    /// `host:port`.
    pub address: String,
    /// SNI and the name verified; `None` uses the host part of `address`.
    pub server_name: Option<String>,
    pub tls_verify: bool,
    /// PEM certificates trusted besides the public roots (a private CA).
    pub ca_file: Option<PathBuf>,
}

/// The DNS record types a DNS probe can ask for: Gatus's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    A,
    Aaaa,
    Cname,
    Mx,
    Ns,
    Ptr,
    Srv,
    Txt,
}

impl RecordType {
    pub const ALL: [RecordType; 8] = [
        RecordType::A,
        RecordType::Aaaa,
        RecordType::Cname,
        RecordType::Mx,
        RecordType::Ns,
        RecordType::Ptr,
        RecordType::Srv,
        RecordType::Txt,
    ];

    /// The TYPE value on the wire (RFC 1035, RFC 3596, RFC 2782).
    pub fn code(self) -> u16 {
        match self {
            RecordType::A => 1,
            RecordType::Ns => 2,
            RecordType::Cname => 5,
            RecordType::Ptr => 12,
            RecordType::Mx => 15,
            RecordType::Txt => 16,
            RecordType::Aaaa => 28,
            RecordType::Srv => 33,
        }
    }

    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
            RecordType::Mx => "MX",
            RecordType::Ns => "NS",
            RecordType::Ptr => "PTR",
            RecordType::Srv => "SRV",
            RecordType::Txt => "TXT",
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown DNS record type {0:?} (expected one of A, AAAA, CNAME, MX, NS, PTR, SRV, TXT)")]
pub struct UnknownRecordType(pub String);

impl FromStr for RecordType {
    type Err = UnknownRecordType;

    /// Case-insensitive, as record types are written either way in configs.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| UnknownRecordType(text.to_string()))
    }
}

/// One run's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    /// Unix milliseconds when the run started.
    pub started_ms: i64,
    pub duration: Duration,
    /// No `error` and every condition passed.
    pub success: bool,
    pub status_code: Option<u16>,
    /// Unix seconds of the peer certificate's notAfter.
    pub certificate_expiry_unix: Option<i64>,
    pub ip: Option<String>,
    /// Why the probe could not even observe: refused, timeout, DNS failure, bad certificate…
    pub error: Option<String>,
    /// One per effective condition, in order. Evaluated even when `error` is set, against
    /// whatever was observed, so the details say what was missing.
    pub conditions: Vec<Outcome>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_per_kind() {
        let http = ProbeKind::Http(HttpProbe::get("http://x/"));
        assert_eq!(http.default_conditions()[0].to_string(), "[STATUS] < 400");
        let tls = ProbeKind::Tls(TlsProbe {
            address: "x:443".into(),
            server_name: None,
            tls_verify: true,
            ca_file: None,
        });
        assert_eq!(
            tls.default_conditions()[0].to_string(),
            "[CERTIFICATE_EXPIRATION] > 0"
        );
        assert!(ProbeKind::Heartbeat.default_conditions().is_empty());
    }

    #[test]
    fn record_types_round_trip() {
        for t in RecordType::ALL {
            assert_eq!(RecordType::from_code(t.code()), Some(t));
            assert_eq!(t.as_str().to_lowercase().parse::<RecordType>(), Ok(t));
        }
        assert_eq!("srv".parse::<RecordType>(), Ok(RecordType::Srv));
        assert!("SOA".parse::<RecordType>().is_err());
    }

    #[test]
    fn resolvers_as_gatus_writes_them() {
        let parsed = |text: &str| {
            let r: Resolver = text.parse().unwrap();
            (r.transport, r.host.clone(), r.port, r.to_string())
        };
        let udp = Transport::Udp;
        let tcp = Transport::Tcp;
        assert_eq!(
            parsed("8.8.8.8"),
            (udp, "8.8.8.8".into(), 53, "8.8.8.8:53".into())
        );
        assert_eq!(
            parsed("192.0.2.53:5353"),
            (udp, "192.0.2.53".into(), 5353, "192.0.2.53:5353".into())
        );
        assert_eq!(
            parsed("udp://192.0.2.53"),
            (udp, "192.0.2.53".into(), 53, "192.0.2.53:53".into())
        );
        assert_eq!(
            parsed("TCP://[2001:db8::53]:853"),
            (
                tcp,
                "2001:db8::53".into(),
                853,
                "tcp://[2001:db8::53]:853".into()
            )
        );
        assert_eq!(
            parsed("2001:db8::53"),
            (udp, "2001:db8::53".into(), 53, "[2001:db8::53]:53".into())
        );
        assert_eq!(parsed("[::1]"), (udp, "::1".into(), 53, "[::1]:53".into()));
        assert_eq!(
            parsed("dns.internal:5353"),
            (udp, "dns.internal".into(), 5353, "dns.internal:5353".into())
        );
        assert_eq!(
            parsed("tcp://dns.internal"),
            (
                tcp,
                "dns.internal".into(),
                53,
                "tcp://dns.internal:53".into()
            )
        );
        for (bad, why) in [
            ("", "expected an IP address or host name"),
            (
                "https://dns.google/dns-query",
                "the scheme must be udp:// or tcp://",
            ),
            ("udp://8.8.8.8:53/", "the port must be a number"),
            ("8.8.8.8:0", "the port must be a number"),
            ("8.8.8.8:dns", "the port must be a number"),
            ("[::1", "an opening [ without a closing ]"),
            ("[8.8.8.8]:53", "only an IPv6 address"),
            ("[::1]53", "expected :port after ]"),
            ("dns server:53", "expected an IP address or host name"),
            ("a..b", "expected an IP address or host name"),
        ] {
            let e = bad.parse::<Resolver>().unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("resolver {bad:?}: {why}")),
                "{bad}: {e}"
            );
        }
    }
}
