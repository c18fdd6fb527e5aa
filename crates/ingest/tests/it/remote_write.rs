//! Property tests for the remote_write decoder: arbitrary bytes never panic; valid requests round trip.

use headroom_core::Timestamp;
use headroom_ingest::remote_write::{Limits, Series, decode, encode, proto, to_proto};
use proptest::prelude::*;

fn label_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,12}".prop_filter("not __name__", |n| n != "__name__")
}

fn series() -> impl Strategy<Value = Series> {
    (
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,20}",
        prop::collection::btree_map(label_name(), "\\PC{1,16}", 0..8),
        prop::collection::vec((any::<i64>(), any::<u64>()), 0..6),
    )
        .prop_map(|(name, labels, samples)| {
            let mut labels: Vec<(String, String)> = labels.into_iter().collect();
            labels.push(("__name__".into(), name));
            labels.sort();
            Series {
                labels,
                samples: samples
                    .into_iter()
                    .map(|(t, bits)| (Timestamp::from_millis(t), f64::from_bits(bits)))
                    .collect(),
            }
        })
}

/// A series with sample values as bit patterns, so NaNs (and staleness markers) compare equal.
type Bits = (Vec<(String, String)>, Vec<(i64, u64)>);

fn bits(s: &[Series]) -> Vec<Bits> {
    s.iter()
        .map(|s| {
            (
                s.labels.clone(),
                s.samples.iter().map(|(t, v)| (t.0, v.to_bits())).collect(),
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&body, &Limits::default());
    }

    /// Arbitrary protobuf-ish bytes behind a valid snappy block reach the protobuf decoder and
    /// the label validation, instead of stopping at snappy.
    #[test]
    fn arbitrary_protobuf_never_panics(raw in prop::collection::vec(any::<u8>(), 0..512)) {
        let body = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        let _ = decode(&body, &Limits::default());
    }

    /// Mutating a valid body at one byte: Ok or Err, never a panic.
    #[test]
    fn mutated_valid_body_never_panics(
        s in prop::collection::vec(series(), 1..4),
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut body = encode(&to_proto(&s));
        let i = pos.index(body.len());
        body[i] = byte;
        let _ = decode(&body, &Limits::default());
    }

    #[test]
    fn valid_requests_round_trip(s in prop::collection::vec(series(), 0..6)) {
        let body = encode(&to_proto(&s));
        let got = decode(&body, &Limits::default()).unwrap();
        prop_assert_eq!(bits(&got), bits(&s));
    }

    /// The sender's label order does not matter: shuffled labels decode to the sorted form.
    #[test]
    fn unsorted_labels_are_sorted(s in series(), seed in any::<u64>()) {
        let mut req = to_proto(std::slice::from_ref(&s));
        let n = req.timeseries[0].labels.len();
        req.timeseries[0].labels.rotate_left((seed as usize) % n);
        req.timeseries[0].labels.reverse();
        let got = decode(&encode(&req), &Limits::default()).unwrap();
        prop_assert_eq!(bits(&got), bits(&[s]));
    }
}

#[test]
fn metadata_only_request_is_empty() {
    let req = proto::WriteRequest {
        timeseries: vec![],
        metadata: vec![proto::MetricMetadata {
            r#type: 1,
            metric_family_name: "http_requests_total".into(),
            help: "Requests.".into(),
            unit: String::new(),
        }],
    };
    assert_eq!(decode(&encode(&req), &Limits::default()), Ok(vec![]));
}

#[test]
fn limits_defaults_are_documented_values() {
    let l = Limits::default();
    assert_eq!(l.max_compressed, 32 * 1024 * 1024);
    assert_eq!(l.max_decompressed, 256 * 1024 * 1024);
}
