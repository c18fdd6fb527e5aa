//! The DNS wire format, as much as a DNS probe needs (RFC 1035, RFC 3596, RFC 6891): one
//! query out, the response code and the answers back. The network exchange lives with the
//! runner; this part is pure so it is tested byte for byte.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::spec::RecordType;

/// The UDP payload size advertised with EDNS(0), so larger answer sets arrive whole instead
/// of truncated at 512 bytes.
pub const UDP_PAYLOAD: u16 = 1232;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("invalid name {0:?}: {1}")]
    InvalidName(String, &'static str),
    #[error("malformed DNS response: {0}")]
    Malformed(&'static str),
}

/// A query for `name`/`record_type` with recursion desired and an EDNS(0) OPT record.
pub fn query(id: u16, name: &str, record_type: RecordType) -> Result<Vec<u8>, DnsError> {
    let mut packet = Vec::with_capacity(64);
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&[0x01, 0x00]); // RD
    packet.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]); // 1 question, 1 additional
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        packet.push(0);
    } else {
        for label in trimmed.split('.') {
            if label.is_empty() {
                return Err(DnsError::InvalidName(name.to_string(), "empty label"));
            }
            if label.len() > 63 {
                return Err(DnsError::InvalidName(
                    name.to_string(),
                    "label longer than 63 bytes",
                ));
            }
            packet.push(label.len() as u8);
            packet.extend_from_slice(label.as_bytes());
        }
        packet.push(0);
    }
    if packet.len() - 12 > 255 {
        return Err(DnsError::InvalidName(
            name.to_string(),
            "longer than 255 bytes",
        ));
    }
    packet.extend_from_slice(&record_type.code().to_be_bytes());
    packet.extend_from_slice(&[0, 1]); // class IN
    // OPT: root name, type 41, class = payload size, extended rcode/flags 0, no options.
    packet.push(0);
    packet.extend_from_slice(&41u16.to_be_bytes());
    packet.extend_from_slice(&UDP_PAYLOAD.to_be_bytes());
    packet.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    Ok(packet)
}

/// What a response said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub id: u16,
    /// `NOERROR`, `NXDOMAIN`, … as Gatus spells them.
    pub rcode: String,
    /// The TC bit: the server had more to say than fits; `answers` may be incomplete.
    pub truncated: bool,
    /// Answers of the requested type, in the order received, in presentation form:
    /// addresses as text, names fully qualified with a trailing dot, TXT strings joined.
    pub answers: Vec<String>,
}

/// Gatus's names for the response codes (RFC 1035 §4.1.1, RFC 6895 §2.3).
pub fn rcode_name(code: u16) -> String {
    match code {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        6 => "YXDOMAIN".into(),
        7 => "YXRRSET".into(),
        8 => "NXRRSET".into(),
        9 => "NOTAUTH".into(),
        10 => "NOTZONE".into(),
        16 => "BADVERS".into(),
        other => format!("RCODE{other}"),
    }
}

struct Reader<'a> {
    packet: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], DnsError> {
        let slice = self
            .packet
            .get(self.at..self.at + n)
            .ok_or(DnsError::Malformed("truncated packet"))?;
        self.at += n;
        Ok(slice)
    }

    fn u16(&mut self) -> Result<u16, DnsError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, DnsError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a possibly compressed name at the cursor and moves past it.
    fn name(&mut self) -> Result<String, DnsError> {
        let (name, end) = read_name(self.packet, self.at)?;
        self.at = end;
        Ok(name)
    }
}

/// Decodes the name at `start`; returns it and where the name's own bytes end. Pointers must
/// go strictly backwards, which bounds the walk and rules out loops.
fn read_name(packet: &[u8], start: usize) -> Result<(String, usize), DnsError> {
    let mut name = String::new();
    let mut at = start;
    let mut end = None;
    loop {
        let len = *packet
            .get(at)
            .ok_or(DnsError::Malformed("name runs past the packet"))?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                let end = end.unwrap_or(at + 1);
                if name.is_empty() {
                    name.push('.');
                }
                return Ok((name, end));
            }
            0x00 => {
                let label = packet
                    .get(at + 1..at + 1 + usize::from(len))
                    .ok_or(DnsError::Malformed("label runs past the packet"))?;
                name.push_str(&String::from_utf8_lossy(label));
                name.push('.');
                if name.len() > 255 {
                    return Err(DnsError::Malformed("name longer than 255 bytes"));
                }
                at += 1 + usize::from(len);
            }
            0xc0 => {
                let low = *packet
                    .get(at + 1)
                    .ok_or(DnsError::Malformed("pointer runs past the packet"))?;
                let target = (usize::from(len & 0x3f) << 8) | usize::from(low);
                if target >= at {
                    return Err(DnsError::Malformed(
                        "compression pointer does not point back",
                    ));
                }
                end.get_or_insert(at + 2);
                at = target;
            }
            _ => return Err(DnsError::Malformed("unknown label type")),
        }
    }
}

/// Parses a response to a query of `record_type`. The caller checks `id` against its query.
pub fn parse_response(packet: &[u8], record_type: RecordType) -> Result<Response, DnsError> {
    let mut r = Reader { packet, at: 0 };
    let id = r.u16()?;
    let flags = r.u16()?;
    if flags & 0x8000 == 0 {
        return Err(DnsError::Malformed("not a response (QR bit clear)"));
    }
    let truncated = flags & 0x0200 != 0;
    let mut rcode = flags & 0x000f;
    let questions = r.u16()?;
    let answers = r.u16()?;
    let authorities = r.u16()?;
    let additionals = r.u16()?;
    for _ in 0..questions {
        r.name()?;
        r.bytes(4)?;
    }
    let mut out = Vec::new();
    // A truncated response may stop mid-record; keep what arrived whole.
    let records = usize::from(answers) + usize::from(authorities) + usize::from(additionals);
    for index in 0..records {
        let record = (|| {
            let _owner = r.name()?;
            let rtype = r.u16()?;
            let class = r.u16()?;
            let ttl = r.u32()?;
            let len = usize::from(r.u16()?);
            let data_start = r.at;
            let data = r.bytes(len)?;
            Ok::<_, DnsError>((rtype, class, ttl, data_start, data))
        })();
        let (rtype, class, ttl, data_start, data) = match record {
            Ok(record) => record,
            Err(_) if truncated => break,
            Err(e) => return Err(e),
        };
        if index >= usize::from(answers) {
            // The OPT pseudo-record carries the upper 8 bits of the response code.
            if rtype == 41 {
                rcode |= ((ttl >> 24) as u16) << 4;
                let _ = class;
            }
            continue;
        }
        if rtype != record_type.code() {
            continue; // e.g. the CNAME chain in front of an A answer
        }
        out.push(render(packet, record_type, data_start, data)?);
    }
    Ok(Response {
        id,
        rcode: rcode_name(rcode),
        truncated,
        answers: out,
    })
}

fn render(
    packet: &[u8],
    record_type: RecordType,
    data_start: usize,
    data: &[u8],
) -> Result<String, DnsError> {
    Ok(match record_type {
        RecordType::A => {
            let octets: [u8; 4] = data
                .try_into()
                .map_err(|_| DnsError::Malformed("A record is not 4 bytes"))?;
            Ipv4Addr::from(octets).to_string()
        }
        RecordType::Aaaa => {
            let octets: [u8; 16] = data
                .try_into()
                .map_err(|_| DnsError::Malformed("AAAA record is not 16 bytes"))?;
            Ipv6Addr::from(octets).to_string()
        }
        RecordType::Cname | RecordType::Ns => read_name(packet, data_start)?.0,
        // As Gatus: the exchange host, without the preference.
        RecordType::Mx => {
            if data.len() < 3 {
                return Err(DnsError::Malformed("MX record too short"));
            }
            read_name(packet, data_start + 2)?.0
        }
        RecordType::Txt => {
            let mut text = String::new();
            let mut rest = data;
            while let [len, tail @ ..] = rest {
                let len = usize::from(*len);
                let chunk = tail
                    .get(..len)
                    .ok_or(DnsError::Malformed("TXT string runs past its record"))?;
                text.push_str(&String::from_utf8_lossy(chunk));
                rest = &tail[len..];
            }
            text
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_layout() {
        let q = query(0xbeef, "example.com.", RecordType::Aaaa).unwrap();
        let expected: Vec<u8> = [
            &[0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1][..],
            b"\x07example\x03com\x00",
            &[0, 28, 0, 1],
            &[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0],
        ]
        .concat();
        assert_eq!(q, expected);
        assert!(query(1, "a..b", RecordType::A).is_err());
        assert!(query(1, &"x".repeat(64), RecordType::A).is_err());
    }

    /// A response to `www.example.com A` with a CNAME to `web.example.com` (compressed
    /// against the question) and two A records.
    fn response(flags: u16) -> Vec<u8> {
        let mut p = vec![0x12, 0x34];
        p.extend_from_slice(&flags.to_be_bytes());
        p.extend_from_slice(&[0, 1, 0, 3, 0, 0, 0, 0]);
        p.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        // CNAME: owner = pointer to 12, rdata = "web" + pointer to "example.com" at 16.
        p.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6]);
        p.extend_from_slice(b"\x03web\xc0\x10");
        for last in [1u8, 2] {
            p.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, last]);
        }
        p
    }

    #[test]
    fn answers_of_the_asked_type() {
        let r = parse_response(&response(0x8180), RecordType::A).unwrap();
        assert_eq!(r.id, 0x1234);
        assert_eq!(r.rcode, "NOERROR");
        assert!(!r.truncated);
        assert_eq!(r.answers, ["192.0.2.1", "192.0.2.2"]);
        let r = parse_response(&response(0x8180), RecordType::Cname).unwrap();
        assert_eq!(r.answers, ["web.example.com."]);
    }

    #[test]
    fn rcode_and_truncation() {
        let nx = parse_response(&response(0x8183), RecordType::A).unwrap();
        assert_eq!(nx.rcode, "NXDOMAIN");
        // Truncated mid-record: what arrived whole is kept.
        let packet = response(0x8380);
        let cut = &packet[..packet.len() - 2];
        let r = parse_response(cut, RecordType::A).unwrap();
        assert!(r.truncated);
        assert_eq!(r.answers, ["192.0.2.1"]);
        // Without TC the same cut is malformed.
        let packet = response(0x8180);
        assert!(parse_response(&packet[..packet.len() - 2], RecordType::A).is_err());
    }

    #[test]
    fn pointer_loops_are_rejected() {
        let mut p = response(0x8180);
        // Make the CNAME's owner point at itself.
        let at = p.iter().position(|&b| b == 0xc0).unwrap();
        p[at + 1] = at as u8;
        assert!(parse_response(&p, RecordType::A).is_err());
        assert!(parse_response(&[0x12, 0x34, 0x01, 0x00], RecordType::A).is_err());
    }

    #[test]
    fn mx_and_txt() {
        let mut p = vec![0, 1, 0x81, 0x80, 0, 0, 0, 2, 0, 0, 0, 0];
        p.extend_from_slice(b"\x00\x00\x0f\x00\x01\x00\x00\x00\x3c\x00\x06\x00\x0a\x02mx\x00");
        p.extend_from_slice(b"\x00\x00\x10\x00\x01\x00\x00\x00\x3c\x00\x06\x02ab\x02cd");
        let mx = parse_response(&p, RecordType::Mx).unwrap();
        assert_eq!(mx.answers, ["mx."]);
        let txt = parse_response(&p, RecordType::Txt).unwrap();
        assert_eq!(txt.answers, ["abcd"]);
    }
}
