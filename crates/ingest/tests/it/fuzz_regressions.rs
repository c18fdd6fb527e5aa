//! Malformed inputs produced by the `remote_write` and `exposition` fuzz targets
//! (fuzz/fuzz_targets/), each kept with the exact error it must keep producing.

use headroom_ingest::exposition::{ExpositionError, TextFormat, parse};
use headroom_ingest::remote_write::{
    Limits, RemoteWriteError, decode, encode, is_stale_nan, to_proto,
};

fn rw(body: &[u8]) -> Result<usize, RemoteWriteError> {
    decode(body, &Limits::default()).map(|s| s.len())
}

fn snappy(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(raw).unwrap()
}

#[test]
fn remote_write_snappy_header_declaring_over_4_gib() {
    // A 5-byte varint past u32::MAX: snappy's own maximum, checked before our limit.
    assert_eq!(
        rw(&[0xfd, 0xdf, 0xff, 0xfa, 0x29]),
        Err(RemoteWriteError::Snappy(snap::Error::TooBig {
            given: 11_263_799_293,
            max: u64::from(u32::MAX),
        }))
    );
    // Under snappy's maximum but over ours: refused without allocating.
    assert_eq!(
        rw(&[0xe1, 0xf5, 0xc7, 0xf5, 0x08]),
        Err(RemoteWriteError::DecompressedTooLarge {
            declared: 2_394_028_769,
            limit: Limits::DEFAULT_MAX_DECOMPRESSED,
        })
    );
}

#[test]
fn remote_write_corrupt_snappy_blocks() {
    // A copy longer than the declared output.
    assert_eq!(
        rw(&[0x08, 0x08, 0x08, 0x08, 0x01, 0x11, 0x01]),
        Err(RemoteWriteError::Snappy(snap::Error::CopyWrite {
            len: 8,
            dst_len: 5
        }))
    );
    // A copy reaching before the start of the output.
    assert_eq!(
        rw(&[0x00, 0x26, 0x01, 0x84]),
        Err(RemoteWriteError::Snappy(snap::Error::Offset {
            offset: 33_793,
            dst_pos: 0
        }))
    );
    // A literal longer than what follows.
    assert_eq!(
        rw(&[0x00, 0xfc]),
        Err(RemoteWriteError::Snappy(snap::Error::Literal {
            len: 4,
            src_len: 0,
            dst_len: 0
        }))
    );
    // A header promising bytes that never come.
    assert_eq!(
        rw(&[0x01]),
        Err(RemoteWriteError::Snappy(snap::Error::HeaderMismatch {
            expected_len: 1,
            got_len: 0
        }))
    );
}

#[test]
fn remote_write_bad_protobuf_inside_valid_snappy() {
    // Field 4 with wire type 6, which does not exist.
    assert!(matches!(
        rw(&snappy(&[0x26])),
        Err(RemoteWriteError::Protobuf(_))
    ));
    // An empty TimeSeries: no labels at all.
    assert_eq!(
        rw(&snappy(&[0x0a, 0x00])),
        Err(RemoteWriteError::MissingName { series: 0 })
    );
    // A label name that is not UTF-8 (`__\x98ame__`), in a raw snappy block written by hand.
    let body = [
        0x1f, 0x78, 0x0a, 0x1d, 0x0a, 0x0e, 0x0a, 0x08, 0x5f, 0x5f, 0x98, 0x61, 0x6d, 0x65, 0x5f,
        0x5f, 0x12, 0x02, 0x75, 0x70, 0x12, 0x0b, 0x19, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x87,
        0x3f, 0x10, 0x01,
    ];
    assert_eq!(
        rw(&body),
        Err(RemoteWriteError::NotUtf8 {
            series: 0,
            label: 0,
            part: "name"
        })
    );
}

/// Found by the round-trip check of the `remote_write` target: a sample of -0.0 comes back as
/// 0.0 from `encode`, since proto3 leaves out a field equal to its default and -0.0 == 0.0. The
/// value is the same number; NaN payloads (staleness markers) are kept bit for bit.
#[test]
fn remote_write_negative_zero_round_trips_as_zero() {
    #[rustfmt::skip]
    let raw = [
        0x0a, 0x2a, // WriteRequest.timeseries, 42 bytes
        0x0a, 0x0e, // TimeSeries.labels: __name__="up"
        0x0a, 0x08, b'_', b'_', b'n', b'a', b'm', b'e', b'_', b'_', 0x12, 0x02, b'u', b'p',
        0x12, 0x0b, // TimeSeries.samples: value -0.0 (written explicitly), timestamp 1
        0x09, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x10, 0x01,
        0x12, 0x0b, // value: the staleness marker, timestamp 2
        0x09, 0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f, 0x10, 0x02,
    ];
    let got = decode(&snappy(&raw), &Limits::default()).unwrap();
    assert_eq!(got[0].samples[0].1.to_bits(), (-0.0f64).to_bits());
    let again = decode(&encode(&to_proto(&got)), &Limits::default()).unwrap();
    assert_eq!(again[0].samples[0].1.to_bits(), 0.0f64.to_bits());
    // Equal as numbers (a whole `Series` never is here: NaN != NaN).
    assert_eq!(again[0].samples[0], got[0].samples[0]);
    assert_eq!(again[0].labels, got[0].labels);
    assert!(is_stale_nan(again[0].samples[1].1));
}

fn err(text: &str, format: TextFormat) -> (usize, usize, String) {
    let ExpositionError {
        line,
        column,
        message,
    } = parse(text, format).unwrap_err();
    (line, column, message)
}

#[test]
fn exposition_errors_found_by_fuzzing() {
    use TextFormat::{OpenMetrics as Om, Prometheus as Prom};
    let cases: [(&str, TextFormat, usize, usize, &str); 10] = [
        (
            "o{} 107 1790 0\n",
            Prom,
            1,
            14,
            "unexpected text after the sample",
        ),
        ("c\t3\tI\t", Prom, 1, 5, "the timestamp is not a number"),
        // A non-finite OpenMetrics timestamp is not a time.
        ("\nr Inf -Inf", Om, 2, 7, "the timestamp is not a number"),
        (
            "s{t=\"q\\n\\\"F\\p",
            Prom,
            1,
            12,
            "invalid escape in label value (allowed: \\\\, \\\", \\n)",
        ),
        // Columns count characters, not bytes.
        ("l{m=\u{99410}", Prom, 1, 5, "expected a quoted label value"),
        (
            "_n{a\u{c3f}2",
            Om,
            1,
            5,
            "expected = after label name \"a\"",
        ),
        // An escaped quote does not close the value.
        ("al{g=\"\\\"", Prom, 1, 6, "unterminated label value"),
        ("#EOF\n\n\n\n\n2", Om, 6, 1, "content after # EOF"),
        ("\n\u{e8}", Prom, 2, 1, "expected a metric name"),
        (
            "s{dpC:t=\"\\\\\",dpC:t=\"\"",
            Prom,
            1,
            14,
            "label \"dpC:t\" appears twice",
        ),
    ];
    for (text, format, line, column, message) in cases {
        assert_eq!(
            err(text, format),
            (line, column, message.to_string()),
            "{text:?} as {format:?}"
        );
    }
}

#[test]
fn exposition_malformed_exemplar_is_ignored() {
    // Exemplars are not kept, so what follows ` # ` is not checked.
    let s = parse(
        "ar{a=\"b\"} 169 # {$\nbar -Inf\n#EOF\n",
        TextFormat::OpenMetrics,
    )
    .unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].value, s[0].timestamp_ms), (169.0, None));
    assert_eq!(s[1].value, f64::NEG_INFINITY);
}
