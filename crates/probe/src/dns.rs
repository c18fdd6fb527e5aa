//! What a DNS probe asks and how the answer reads to its conditions, without the network:
//! the query name, Gatus's names for response codes (`[DNS_RCODE]`) and its text for answers
//! (`[BODY]`), and the nameservers of a resolv.conf. Messages are hickory's; the exchange
//! lives with the runner.

use std::net::IpAddr;
use std::str::FromStr;

use hickory_proto::rr::{Name, RData, Record};

use crate::spec::RecordType;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid DNS name {name:?}: {reason}")]
pub struct InvalidName {
    pub name: String,
    pub reason: String,
}

/// The absolute name a probe asks for. As in Gatus, a PTR probe may name an IP address and is
/// asked for its reverse name (`1.2.0.192.in-addr.arpa.`).
pub fn query_name(name: &str, record_type: RecordType) -> Result<Name, InvalidName> {
    let invalid = |reason: String| InvalidName {
        name: name.to_string(),
        reason,
    };
    if record_type == RecordType::Ptr
        && let Ok(ip) = name.parse::<IpAddr>()
    {
        return Ok(Name::from(ip));
    }
    if name.is_empty() {
        return Err(invalid("empty".into()));
    }
    // hickory's own messages for these ("Malformed label: ") do not say what is wrong.
    let relative = name.strip_suffix('.').unwrap_or(name);
    if relative.split('.').any(str::is_empty) {
        return Err(invalid(
            "empty label (a leading dot, or two dots in a row)".into(),
        ));
    }
    if let Some(long) = relative.split('.').find(|label| label.len() > 63) {
        return Err(invalid(format!("label {long:?} is longer than 63 bytes")));
    }
    if relative.len() > 253 {
        return Err(invalid("longer than 253 characters".into()));
    }
    // Non-ASCII names go out as IDNA (punycode); `_sip._tcp` style labels as written.
    let mut parsed = Name::from_str(name).map_err(|e| invalid(e.to_string()))?;
    parsed.set_fqdn(true);
    Ok(parsed)
}

/// Gatus's names for response codes, which are miekg/dns's: 16 reads `BADSIG` (the same value
/// as EDNS's BADVERS). Codes without a name there read `RCODE<n>`.
pub fn rcode_name(code: u16) -> String {
    let name = match code {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        11 => "DSOTYPENI",
        16 => "BADSIG",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        other => return format!("RCODE{other}"),
    };
    name.to_string()
}

/// The answers of the asked type, in the order received, as `[BODY]` shows them one per line.
/// Other records (the CNAME chain in front of an A answer) are left out.
pub fn answers(records: &[Record], record_type: RecordType) -> Vec<String> {
    records
        .iter()
        .filter_map(|record| answer_text(&record.data, record_type))
        .collect()
}

/// One record's data as Gatus writes it: addresses as text, names absolute with their
/// trailing dot (IDNA labels kept as punycode), the MX exchange without its preference, SRV as
/// `target:port`, and a TXT record's strings joined.
pub fn answer_text(data: &RData, record_type: RecordType) -> Option<String> {
    Some(match (record_type, data) {
        (RecordType::A, RData::A(a)) => a.0.to_string(),
        (RecordType::Aaaa, RData::AAAA(aaaa)) => aaaa.0.to_string(),
        (RecordType::Cname, RData::CNAME(name)) => name.0.to_ascii(),
        (RecordType::Ns, RData::NS(name)) => name.0.to_ascii(),
        (RecordType::Ptr, RData::PTR(name)) => name.0.to_ascii(),
        (RecordType::Mx, RData::MX(mx)) => mx.exchange.to_ascii(),
        (RecordType::Srv, RData::SRV(srv)) => format!("{}:{}", srv.target.to_ascii(), srv.port),
        (RecordType::Txt, RData::TXT(txt)) => txt
            .txt_data
            .iter()
            .map(|chunk| String::from_utf8_lossy(chunk))
            .collect(),
        _ => return None,
    })
}

/// The `nameserver` addresses of a resolv.conf, in order.
pub fn nameservers(resolv_conf: &str) -> Vec<&str> {
    resolv_conf
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next())
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, SRV, TXT};

    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn record(data: RData) -> Record {
        Record::from_rdata(name("q.example."), 60, data)
    }

    #[test]
    fn query_names_are_absolute() {
        let q = query_name("www.example.com", RecordType::A).unwrap();
        assert!(q.is_fqdn());
        assert_eq!(q.to_ascii(), "www.example.com.");
        assert_eq!(
            query_name("www.example.com.", RecordType::A).unwrap(),
            q,
            "a trailing dot changes nothing"
        );
        assert_eq!(
            query_name("_sip._tcp.example.com", RecordType::Srv)
                .unwrap()
                .to_ascii(),
            "_sip._tcp.example.com."
        );
        assert_eq!(
            query_name("bücher.example", RecordType::A)
                .unwrap()
                .to_ascii(),
            "xn--bcher-kva.example."
        );
    }

    #[test]
    fn ptr_names_an_address() {
        let v4 = query_name("192.0.2.1", RecordType::Ptr).unwrap();
        assert_eq!(v4.to_ascii(), "1.2.0.192.in-addr.arpa.");
        let v6 = query_name("2001:db8::1", RecordType::Ptr).unwrap();
        assert!(
            v6.to_ascii().ends_with(".8.b.d.0.1.0.0.2.ip6.arpa."),
            "{v6}"
        );
        assert_eq!(
            query_name("1.2.0.192.in-addr.arpa", RecordType::Ptr)
                .unwrap()
                .to_ascii(),
            "1.2.0.192.in-addr.arpa."
        );
        // Only PTR turns an address around.
        assert_eq!(
            query_name("192.0.2.1", RecordType::A).unwrap().to_ascii(),
            "192.0.2.1."
        );
    }

    #[test]
    fn bad_names_say_why() {
        let why = |name: &str| query_name(name, RecordType::A).unwrap_err().to_string();
        assert_eq!(why(""), r#"invalid DNS name "": empty"#);
        assert_eq!(
            why("a..b"),
            r#"invalid DNS name "a..b": empty label (a leading dot, or two dots in a row)"#
        );
        assert!(why(".a").ends_with("empty label (a leading dot, or two dots in a row)"));
        let label = "x".repeat(64);
        assert!(
            why(&format!("{label}.example"))
                .ends_with(&format!(": label {label:?} is longer than 63 bytes"))
        );
        let long = vec!["abcdefghi"; 26].join(".");
        assert!(why(&long).ends_with(": longer than 253 characters"));
        assert_eq!(
            why("a b.example"),
            r#"invalid DNS name "a b.example": unrecognized char:  "#
        );
        // The root and a name of the longest length are fine.
        assert!(query_name(&vec!["abcdefghi"; 25].join("."), RecordType::A).is_ok());
    }

    #[test]
    fn gatus_rcode_names() {
        let named: Vec<String> = [0, 1, 2, 3, 4, 5, 9, 16, 23]
            .into_iter()
            .map(rcode_name)
            .collect();
        assert_eq!(
            named,
            [
                "NOERROR",
                "FORMERR",
                "SERVFAIL",
                "NXDOMAIN",
                "NOTIMP",
                "REFUSED",
                "NOTAUTH",
                "BADSIG",
                "BADCOOKIE"
            ]
        );
        assert_eq!(rcode_name(12), "RCODE12");
        assert_eq!(rcode_name(4095), "RCODE4095");
    }

    #[test]
    fn answers_of_the_asked_type_in_gatus_form() {
        let records = [
            record(RData::CNAME(CNAME(name("web.example.")))),
            record(RData::A(A(Ipv4Addr::new(192, 0, 2, 1)))),
            record(RData::A(A(Ipv4Addr::new(192, 0, 2, 2)))),
        ];
        assert_eq!(answers(&records, RecordType::A), ["192.0.2.1", "192.0.2.2"]);
        assert_eq!(answers(&records, RecordType::Cname), ["web.example."]);
        assert!(answers(&records, RecordType::Mx).is_empty());

        let one = |data, t| answers(&[record(data)], t).join("\n");
        assert_eq!(
            one(RData::AAAA(AAAA(Ipv6Addr::LOCALHOST)), RecordType::Aaaa),
            "::1"
        );
        assert_eq!(
            one(RData::MX(MX::new(10, name("mx.example."))), RecordType::Mx),
            "mx.example."
        );
        assert_eq!(
            one(RData::NS(NS(name("ns1.example."))), RecordType::Ns),
            "ns1.example."
        );
        assert_eq!(
            one(RData::PTR(PTR(name("host.example."))), RecordType::Ptr),
            "host.example."
        );
        assert_eq!(
            one(
                RData::SRV(SRV::new(1, 5, 5060, name("sip.example."))),
                RecordType::Srv
            ),
            "sip.example.:5060"
        );
        assert_eq!(
            one(
                RData::TXT(TXT::new(vec!["v=spf1 ".into(), "-all".into()])),
                RecordType::Txt
            ),
            "v=spf1 -all"
        );
        assert_eq!(
            one(
                RData::MX(MX::new(10, name("xn--bcher-kva.example."))),
                RecordType::Mx
            ),
            "xn--bcher-kva.example.",
            "punycode stays punycode"
        );
    }

    #[test]
    fn resolv_conf_nameservers_in_order() {
        let conf = "# generated\nsearch lan\nnameservers 10.9.9.9\nnameserver  192.0.2.53\nnameserver ::1\n";
        assert_eq!(nameservers(conf), ["192.0.2.53", "::1"]);
        assert!(nameservers("search lan\n").is_empty());
    }
}
