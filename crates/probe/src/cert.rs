//! Reads a certificate's notAfter from its DER encoding: the one field probes need, so a
//! short walk down `Certificate → tbsCertificate → validity` instead of an X.509 parser.

use chrono::NaiveDateTime;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed certificate: {0}")]
pub struct CertificateError(&'static str);

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
/// `[0] EXPLICIT Version`, present on every v2/v3 certificate.
const VERSION_TAG: u8 = 0xa0;

/// One DER element: its tag and contents, and what follows it.
struct Element<'a> {
    tag: u8,
    contents: &'a [u8],
    rest: &'a [u8],
}

fn element(input: &[u8]) -> Result<Element<'_>, CertificateError> {
    let [tag, first, tail @ ..] = input else {
        return Err(CertificateError("truncated element header"));
    };
    if tag & 0x1f == 0x1f {
        return Err(CertificateError(
            "multi-byte tags are not used in certificates",
        ));
    }
    let (len, after_len) = if first & 0x80 == 0 {
        (usize::from(*first), tail)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || tail.len() < count {
            return Err(CertificateError("bad length"));
        }
        let len = tail[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &tail[count..])
    };
    if after_len.len() < len {
        return Err(CertificateError("element longer than its input"));
    }
    Ok(Element {
        tag: *tag,
        contents: &after_len[..len],
        rest: &after_len[len..],
    })
}

fn expect<'a>(
    input: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<Element<'a>, CertificateError> {
    let e = element(input)?;
    if e.tag != tag {
        return Err(CertificateError(what));
    }
    Ok(e)
}

/// The certificate's notAfter as unix seconds.
pub fn not_after_unix(der: &[u8]) -> Result<i64, CertificateError> {
    let certificate = expect(der, SEQUENCE, "certificate is not a SEQUENCE")?;
    let tbs = expect(
        certificate.contents,
        SEQUENCE,
        "tbsCertificate is not a SEQUENCE",
    )?;
    let mut fields = tbs.contents;
    if fields.first() == Some(&VERSION_TAG) {
        fields = element(fields)?.rest;
    }
    let serial = expect(fields, INTEGER, "serialNumber is not an INTEGER")?;
    let signature = expect(serial.rest, SEQUENCE, "signature is not a SEQUENCE")?;
    let issuer = expect(signature.rest, SEQUENCE, "issuer is not a SEQUENCE")?;
    let validity = expect(issuer.rest, SEQUENCE, "validity is not a SEQUENCE")?;
    let not_before = element(validity.contents)?;
    let not_after = element(not_before.rest)?;
    parse_time(not_after.tag, not_after.contents)
}

/// RFC 5280 §4.1.2.5: UTCTime `YYMMDDHHMMSSZ` (years 1950–2049) or GeneralizedTime
/// `YYYYMMDDHHMMSSZ`, always in UTC with seconds and no fraction.
fn parse_time(tag: u8, contents: &[u8]) -> Result<i64, CertificateError> {
    let text = std::str::from_utf8(contents).map_err(|_| CertificateError("time is not ASCII"))?;
    let full = match tag {
        UTC_TIME => {
            let yy: u32 = text
                .get(..2)
                .and_then(|y| y.parse().ok())
                .ok_or(CertificateError("bad UTCTime"))?;
            let century = if yy >= 50 { "19" } else { "20" };
            format!("{century}{text}")
        }
        GENERALIZED_TIME => text.to_string(),
        _ => return Err(CertificateError("notAfter is not a time")),
    };
    NaiveDateTime::parse_from_str(&full, "%Y%m%d%H%M%SZ")
        .map(|t| t.and_utc().timestamp())
        .map_err(|_| CertificateError("bad time value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-assembled minimal tbsCertificate prefix: version, serial, algorithm, issuer,
    /// validity; the walk never looks further.
    fn certificate(not_after: &[u8]) -> Vec<u8> {
        let not_before = [UTC_TIME, 13]
            .into_iter()
            .chain(*b"240101000000Z")
            .collect::<Vec<_>>();
        let validity = [
            &[SEQUENCE, (not_before.len() + not_after.len()) as u8][..],
            &not_before,
            not_after,
        ]
        .concat();
        let tbs_fields = [
            &[VERSION_TAG, 3, INTEGER, 1, 2][..],
            &[INTEGER, 1, 7],
            &[SEQUENCE, 0],
            &[SEQUENCE, 0],
            &validity,
        ]
        .concat();
        let tbs = [&[SEQUENCE, tbs_fields.len() as u8][..], &tbs_fields].concat();
        // A long-form length on the outer SEQUENCE, as real certificates have.
        [&[SEQUENCE, 0x81, tbs.len() as u8][..], &tbs].concat()
    }

    #[test]
    fn utc_and_generalized_times() {
        let utc = [&[UTC_TIME, 13][..], b"300102030405Z"].concat();
        assert_eq!(not_after_unix(&certificate(&utc)), Ok(1_893_553_445));
        let generalized = [&[GENERALIZED_TIME, 15][..], b"20500101000000Z"].concat();
        assert_eq!(
            not_after_unix(&certificate(&generalized)),
            Ok(2_524_608_000)
        );
        let old = [&[UTC_TIME, 13][..], b"991231235959Z"].concat();
        assert_eq!(not_after_unix(&certificate(&old)), Ok(946_684_799));
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(not_after_unix(&[]).is_err());
        assert!(not_after_unix(&[SEQUENCE, 5, 1]).is_err());
        let cert = certificate(&[&[UTC_TIME, 13][..], b"300102030405Z"].concat());
        assert!(not_after_unix(&cert[..cert.len() - 3]).is_err());
        let bad = [&[INTEGER, 13][..], b"300102030405Z"].concat();
        assert!(not_after_unix(&certificate(&bad)).is_err());
    }
}
