//! remote_write bodies. The first byte picks the layer under test: odd feeds the rest to
//! `decode` as is (snappy header, limits, corrupt blocks); even snappy-compresses it first, so
//! the protobuf decoder and label validation see structured bytes instead of mostly failing
//! at the snappy layer.
#![no_main]

use headroom_ingest::remote_write::{Limits, Series, decode, encode, to_proto};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let limits = Limits::default();
    let body = if mode & 1 == 1 {
        rest.to_vec()
    } else {
        snap::raw::Encoder::new()
            .compress_vec(rest)
            .expect("fuzz inputs are far below snappy's maximum block")
    };
    let Ok(series) = decode(&body, &limits) else {
        return;
    };
    for s in &series {
        check_valid(s);
    }
    // Whatever was accepted re-encodes to a body that decodes to the same series.
    let again = decode(&encode(&to_proto(&series)), &limits).expect("re-encoded body decodes");
    assert_eq!(series.len(), again.len());
    for (a, b) in series.iter().zip(&again) {
        assert_eq!(a.labels, b.labels);
        assert_eq!(
            bits(a),
            bits(b),
            "sample values and timestamps survive bit for bit"
        );
    }
});

fn check_valid(s: &Series) {
    assert!(
        s.labels.windows(2).all(|w| w[0].0 < w[1].0),
        "labels sorted, names unique: {:?}",
        s.labels
    );
    assert!(
        s.labels.iter().all(|(n, v)| !n.is_empty() && !v.is_empty()),
        "no empty names or values: {:?}",
        s.labels
    );
    assert!(!s.name().is_empty(), "has __name__");
}

/// Bit patterns, so NaN payloads (staleness markers) count. -0.0 is read as 0.0: proto3 does not
/// write a field equal to its default, and -0.0 == 0.0, so the sign of a zero is not kept.
fn bits(s: &Series) -> Vec<(i64, u64)> {
    s.samples
        .iter()
        .map(|&(t, v)| (t.0, if v == 0.0 { 0 } else { v.to_bits() }))
        .collect()
}
