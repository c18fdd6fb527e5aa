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
    /// `ip:port`; `None` asks the first nameserver of `/etc/resolv.conf`.
    pub resolver: Option<String>,
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

/// The DNS record types a DNS probe can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    A,
    Aaaa,
    Cname,
    Mx,
    Ns,
    Txt,
}

impl RecordType {
    pub const ALL: [RecordType; 6] = [
        RecordType::A,
        RecordType::Aaaa,
        RecordType::Cname,
        RecordType::Mx,
        RecordType::Ns,
        RecordType::Txt,
    ];

    /// The TYPE value on the wire (RFC 1035, RFC 3596).
    pub fn code(self) -> u16 {
        match self {
            RecordType::A => 1,
            RecordType::Ns => 2,
            RecordType::Cname => 5,
            RecordType::Mx => 15,
            RecordType::Txt => 16,
            RecordType::Aaaa => 28,
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
#[error("unknown DNS record type {0:?} (expected one of A, AAAA, CNAME, MX, NS, TXT)")]
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
        assert!("SRV".parse::<RecordType>().is_err());
    }
}
