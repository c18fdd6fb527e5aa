//! Prometheus remote_write 1.0 request bodies: a protobuf `prometheus.WriteRequest` compressed with
//! snappy in the *block* (raw) format — not the framed/stream format.
//!
//! [`decode`] turns a body into [`Series`] (core types, labels sorted and validated); [`encode`] is the
//! inverse on the wire messages in [`proto`], used by tests, benches and anything that needs to push.
//!
//! Decisions (each documented where it is enforced):
//! - **Limits** ([`Limits`]): the compressed body and the length the snappy header *declares* are both
//!   checked before anything is allocated for the decompressed bytes, so a 10-byte body claiming 1 GiB
//!   is refused without work. Defaults: 32 MiB compressed, 256 MiB decompressed.
//! - **Label order**: the spec says senders MUST sort labels by name; some senders do not. Unsorted
//!   labels are accepted and sorted here (cheap, and the result is identical to what a conforming
//!   sender would have sent). Duplicate names are refused, sorted or not.
//! - **Empty values**: in Prometheus a label with an empty value is the same as an absent label, so such
//!   labels are dropped. An empty label *name* is refused. A series must have a non-empty `__name__`.
//! - **UTF-8**: label names and values are read as bytes and checked here, so the error names the
//!   series and label instead of a generic protobuf failure.
//! - Exemplars, native histograms and metadata are not used by headroom; exemplars and histograms are
//!   skipped by the decoder (unknown fields), metadata is decoded but ignored by [`decode`].

use headroom_core::Timestamp;
use prost::Message;

/// The bit pattern Prometheus writes as a sample value to mark a series stale.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether `v` is a Prometheus staleness marker (exactly [`STALE_NAN_BITS`], not any NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Hand-written prost messages for the subset of `prometheus/prompb` (types.proto, remote.proto)
/// headroom reads. Field numbers follow the upstream definitions; fields left out (exemplars = 3,
/// histograms = 4 of `TimeSeries`) are skipped by prost as unknown fields.
pub mod proto {
    /// `prometheus.WriteRequest`. Field 2 is reserved upstream.
    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
        #[prost(message, repeated, tag = "3")]
        pub metadata: Vec<MetricMetadata>,
    }

    /// `prometheus.TimeSeries`.
    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct TimeSeries {
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
    }

    /// `prometheus.Label`. Declared `string` upstream; read as bytes (same wire type) so UTF-8 is
    /// checked by [`super::decode`] with an error that names the label.
    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct Label {
        #[prost(bytes = "vec", tag = "1")]
        pub name: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        pub value: Vec<u8>,
    }

    impl Label {
        pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
            Label {
                name: name.into().into_bytes(),
                value: value.into().into_bytes(),
            }
        }
    }

    /// `prometheus.Sample`: a value and a timestamp in milliseconds since the epoch.
    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct Sample {
        #[prost(double, tag = "1")]
        pub value: f64,
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }

    /// `prometheus.MetricMetadata`. `type` is an enum upstream (COUNTER = 1, GAUGE = 2, …), kept as
    /// its integer here.
    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct MetricMetadata {
        #[prost(int32, tag = "1")]
        pub r#type: i32,
        #[prost(string, tag = "2")]
        pub metric_family_name: String,
        #[prost(string, tag = "4")]
        pub help: String,
        #[prost(string, tag = "5")]
        pub unit: String,
    }
}

/// Size limits applied before decompressing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted body as received (snappy-compressed), in bytes.
    pub max_compressed: usize,
    /// Largest accepted decompressed length, as declared by the snappy header, in bytes.
    pub max_decompressed: usize,
}

impl Limits {
    /// 32 MiB compressed.
    pub const DEFAULT_MAX_COMPRESSED: usize = 32 << 20;
    /// 256 MiB decompressed.
    pub const DEFAULT_MAX_DECOMPRESSED: usize = 256 << 20;
}

impl Default for Limits {
    /// 32 MiB compressed / 256 MiB decompressed: far above what Prometheus sends (its default is at most
    /// 2,000 samples per request, well under 1 MiB), while bounding what one request can cost.
    fn default() -> Self {
        Limits {
            max_compressed: Self::DEFAULT_MAX_COMPRESSED,
            max_decompressed: Self::DEFAULT_MAX_DECOMPRESSED,
        }
    }
}

/// One time series of a request, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Label pairs sorted by name, names unique and non-empty, values non-empty; includes `__name__`.
    pub labels: Vec<(String, String)>,
    /// Samples in the order sent. Values may be NaN, including staleness markers ([`is_stale_nan`]).
    pub samples: Vec<(Timestamp, f64)>,
}

impl Series {
    /// The metric name (`__name__`).
    pub fn name(&self) -> &str {
        self.label("__name__").unwrap_or_default()
    }

    /// The value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.labels[i].1.as_str())
    }
}

/// What is wrong with a remote_write body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RemoteWriteError {
    #[error("body is {len} bytes, over the limit of {limit} bytes")]
    BodyTooLarge { len: usize, limit: usize },
    #[error(
        "snappy header declares {declared} decompressed bytes, over the limit of {limit} bytes"
    )]
    DecompressedTooLarge { declared: usize, limit: usize },
    #[error("snappy block is corrupt (remote_write uses the snappy block format, not framed): {0}")]
    Snappy(#[source] snap::Error),
    #[error("protobuf is not a valid prometheus.WriteRequest: {0}")]
    Protobuf(#[source] prost::DecodeError),
    #[error("series {series}: no __name__ label")]
    MissingName { series: usize },
    #[error("series {series}: label {label}: empty label name")]
    EmptyLabelName { series: usize, label: usize },
    #[error("series {series}: label {label}: {part} is not UTF-8")]
    NotUtf8 {
        series: usize,
        label: usize,
        part: &'static str,
    },
    #[error("series {series}: duplicate label name {name:?}")]
    DuplicateLabel { series: usize, name: String },
}

/// Decodes a remote_write 1.0 body (snappy block + protobuf `WriteRequest`) into validated series.
///
/// Never panics; every malformed input is an `Err`. Size checks come first: the body against
/// `limits.max_compressed`, then the snappy header's declared length against `limits.max_decompressed`,
/// both before the output buffer is allocated.
pub fn decode(body: &[u8], limits: &Limits) -> Result<Vec<Series>, RemoteWriteError> {
    let raw = decompress(body, limits)?;
    let req = proto::WriteRequest::decode(raw.as_slice()).map_err(RemoteWriteError::Protobuf)?;
    req.timeseries
        .into_iter()
        .enumerate()
        .map(|(i, ts)| series(i, ts))
        .collect()
}

/// Decompresses a snappy block after checking both limits.
pub fn decompress(body: &[u8], limits: &Limits) -> Result<Vec<u8>, RemoteWriteError> {
    if body.len() > limits.max_compressed {
        return Err(RemoteWriteError::BodyTooLarge {
            len: body.len(),
            limit: limits.max_compressed,
        });
    }
    let declared = snap::raw::decompress_len(body).map_err(RemoteWriteError::Snappy)?;
    if declared > limits.max_decompressed {
        return Err(RemoteWriteError::DecompressedTooLarge {
            declared,
            limit: limits.max_decompressed,
        });
    }
    let mut out = vec![0u8; declared];
    // The decoder checks that the output is exactly the declared length (HeaderMismatch otherwise).
    let n = snap::raw::Decoder::new()
        .decompress(body, &mut out)
        .map_err(RemoteWriteError::Snappy)?;
    out.truncate(n);
    Ok(out)
}

fn series(index: usize, ts: proto::TimeSeries) -> Result<Series, RemoteWriteError> {
    let mut labels = Vec::with_capacity(ts.labels.len());
    for (li, l) in ts.labels.into_iter().enumerate() {
        if l.name.is_empty() {
            return Err(RemoteWriteError::EmptyLabelName {
                series: index,
                label: li,
            });
        }
        let utf8 = |bytes: Vec<u8>, part| {
            String::from_utf8(bytes).map_err(|_| RemoteWriteError::NotUtf8 {
                series: index,
                label: li,
                part,
            })
        };
        let name = utf8(l.name, "name")?;
        let value = utf8(l.value, "value")?;
        // An empty value means "no such label" in Prometheus.
        if !value.is_empty() {
            labels.push((name, value));
        }
    }
    if !labels.is_sorted_by(|a, b| a.0 <= b.0) {
        labels.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    }
    if let Some(w) = labels.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(RemoteWriteError::DuplicateLabel {
            series: index,
            name: w[0].0.clone(),
        });
    }
    if labels
        .binary_search_by(|(n, _)| n.as_str().cmp("__name__"))
        .is_err()
    {
        return Err(RemoteWriteError::MissingName { series: index });
    }
    let samples = ts
        .samples
        .into_iter()
        .map(|s| (Timestamp::from_millis(s.timestamp), s.value))
        .collect();
    Ok(Series { labels, samples })
}

/// Encodes a request as a remote_write 1.0 body: protobuf, then snappy block compression.
pub fn encode(req: &proto::WriteRequest) -> Vec<u8> {
    let raw = req.encode_to_vec();
    // Only fails for inputs over ~4 GiB (snappy's maximum block), which `Vec` encoding of a request
    // this process built cannot sensibly reach; fall back to an empty body rather than panic.
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

/// The wire form of validated series (labels in their sorted order), for [`encode`].
pub fn to_proto(series: &[Series]) -> proto::WriteRequest {
    proto::WriteRequest {
        timeseries: series
            .iter()
            .map(|s| proto::TimeSeries {
                labels: s
                    .labels
                    .iter()
                    .map(|(n, v)| proto::Label::new(n.as_str(), v.as_str()))
                    .collect(),
                samples: s
                    .samples
                    .iter()
                    .map(|(t, v)| proto::Sample {
                        value: *v,
                        timestamp: t.0,
                    })
                    .collect(),
            })
            .collect(),
        metadata: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> Limits {
        Limits::default()
    }

    fn ts(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> proto::TimeSeries {
        proto::TimeSeries {
            labels: labels
                .iter()
                .map(|(n, v)| proto::Label::new(*n, *v))
                .collect(),
            samples: samples
                .iter()
                .map(|&(t, v)| proto::Sample {
                    value: v,
                    timestamp: t,
                })
                .collect(),
        }
    }

    fn req(series: Vec<proto::TimeSeries>) -> proto::WriteRequest {
        proto::WriteRequest {
            timeseries: series,
            metadata: vec![],
        }
    }

    fn snappy(raw: &[u8]) -> Vec<u8> {
        snap::raw::Encoder::new().compress_vec(raw).unwrap()
    }

    #[test]
    fn round_trip() {
        let r = req(vec![
            ts(
                &[("__name__", "up"), ("job", "api")],
                &[(1000, 1.0), (2000, 0.0)],
            ),
            ts(
                &[("__name__", "x"), ("code", "500")],
                &[(5, f64::from_bits(STALE_NAN_BITS))],
            ),
        ]);
        let got = decode(&encode(&r), &lim()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name(), "up");
        assert_eq!(got[0].label("job"), Some("api"));
        assert_eq!(
            got[0].samples,
            vec![
                (Timestamp::from_millis(1000), 1.0),
                (Timestamp::from_millis(2000), 0.0)
            ]
        );
        assert!(is_stale_nan(got[1].samples[0].1));
        assert_eq!(decode(&encode(&to_proto(&got)), &lim()).unwrap().len(), 2);
    }

    /// Protobuf bytes built by hand, so field numbers and wire types are proven against the spec,
    /// not just against our own encoder.
    #[test]
    fn hand_built_bytes() {
        // Label{name="__name__"(1), value="up"(2)}
        let mut l1 = vec![0x0a, 8];
        l1.extend_from_slice(b"__name__");
        l1.extend_from_slice(&[0x12, 2]);
        l1.extend_from_slice(b"up");
        // Label{name="job", value="a"}
        let mut l2 = vec![0x0a, 3];
        l2.extend_from_slice(b"job");
        l2.extend_from_slice(&[0x12, 1, b'a']);
        // Sample{value=1.5 (field 1, fixed64 → tag 0x09), timestamp=1000 (field 2, varint → 0x10)}
        let mut s = vec![0x09];
        s.extend_from_slice(&1.5f64.to_le_bytes());
        s.extend_from_slice(&[0x10, 0xe8, 0x07]); // 1000 = 0b111_1101000 → e8 07
        // TimeSeries: labels = field 1 (0x0a), samples = field 2 (0x12); l2 first: unsorted on purpose.
        let mut t = vec![0x0a, l2.len() as u8];
        t.extend_from_slice(&l2);
        t.extend_from_slice(&[0x0a, l1.len() as u8]);
        t.extend_from_slice(&l1);
        t.extend_from_slice(&[0x12, s.len() as u8]);
        t.extend_from_slice(&s);
        // An exemplar (field 3) the decoder must skip: empty message.
        t.extend_from_slice(&[0x1a, 0]);
        // WriteRequest: timeseries = field 1 (0x0a); metadata = field 3 (0x1a) with type=COUNTER(1).
        let mut w = vec![0x0a, t.len() as u8];
        w.extend_from_slice(&t);
        w.extend_from_slice(&[0x1a, 2, 0x08, 1]);

        let got = decode(&snappy(&w), &lim()).unwrap();
        assert_eq!(
            got,
            vec![Series {
                labels: vec![("__name__".into(), "up".into()), ("job".into(), "a".into())],
                samples: vec![(Timestamp::from_millis(1000), 1.5)],
            }]
        );
        let full = proto::WriteRequest::decode(w.as_slice()).unwrap();
        assert_eq!(full.metadata.len(), 1);
        assert_eq!(full.metadata[0].r#type, 1);
    }

    #[test]
    fn declared_length_over_limit_refused_before_decompressing() {
        // varint 1 GiB = 2^30 → 80 80 80 80 04, then garbage: 10 bytes in total.
        let body = [0x80, 0x80, 0x80, 0x80, 0x04, 0, 1, 2, 3, 4];
        assert_eq!(
            decode(&body, &lim()),
            Err(RemoteWriteError::DecompressedTooLarge {
                declared: 1 << 30,
                limit: 256 << 20
            })
        );
        let small = Limits {
            max_compressed: 4,
            max_decompressed: 1 << 20,
        };
        assert_eq!(
            decode(&body, &small),
            Err(RemoteWriteError::BodyTooLarge { len: 10, limit: 4 })
        );
        // Exactly at the limit is fine.
        let r = encode(&req(vec![ts(&[("__name__", "up")], &[(1, 1.0)])]));
        let n = snap::raw::decompress_len(&r).unwrap();
        let exact = Limits {
            max_compressed: r.len(),
            max_decompressed: n,
        };
        assert!(decode(&r, &exact).is_ok());
        let under = Limits {
            max_compressed: r.len(),
            max_decompressed: n - 1,
        };
        assert!(matches!(
            decode(&r, &under),
            Err(RemoteWriteError::DecompressedTooLarge { .. })
        ));
    }

    #[test]
    fn every_prefix_of_a_valid_body_is_an_error() {
        let body = encode(&req(vec![
            ts(
                &[("__name__", "http_requests_total"), ("code", "200")],
                &[(1, 1.0), (2, 2.0)],
            ),
            ts(&[("__name__", "up")], &[(3, 1.0)]),
        ]));
        assert!(decode(&body, &lim()).is_ok());
        for n in 0..body.len() {
            assert!(
                decode(&body[..n], &lim()).is_err(),
                "prefix of {n} bytes decoded"
            );
        }
        // Truncated protobuf inside a valid snappy block.
        let raw = req(vec![ts(&[("__name__", "up")], &[(3, 1.0)])]).encode_to_vec();
        for n in 1..raw.len() {
            assert!(
                matches!(
                    decode(&snappy(&raw[..n]), &lim()),
                    Err(RemoteWriteError::Protobuf(_))
                ),
                "protobuf prefix of {n} bytes"
            );
        }
    }

    #[test]
    fn framed_snappy_is_refused() {
        let raw = req(vec![ts(&[("__name__", "up")], &[(3, 1.0)])]).encode_to_vec();
        let mut framed = snap::write::FrameEncoder::new(Vec::new());
        std::io::Write::write_all(&mut framed, &raw).unwrap();
        let framed = framed.into_inner().unwrap();
        assert!(decode(&framed, &lim()).is_err());
    }

    #[test]
    fn label_validation() {
        let one = |labels: &[(&str, &str)]| decode(&encode(&req(vec![ts(labels, &[])])), &lim());
        assert_eq!(
            one(&[("job", "a")]),
            Err(RemoteWriteError::MissingName { series: 0 })
        );
        assert_eq!(
            one(&[("__name__", ""), ("job", "a")]),
            Err(RemoteWriteError::MissingName { series: 0 })
        );
        assert_eq!(
            one(&[("__name__", "up"), ("", "a")]),
            Err(RemoteWriteError::EmptyLabelName {
                series: 0,
                label: 1
            })
        );
        assert_eq!(
            one(&[("job", "b"), ("__name__", "up"), ("job", "a")]),
            Err(RemoteWriteError::DuplicateLabel {
                series: 0,
                name: "job".into()
            })
        );
        // Unsorted is accepted and sorted; empty values dropped.
        let s = one(&[
            ("zone", "z"),
            ("job", "a"),
            ("empty", ""),
            ("__name__", "up"),
        ])
        .unwrap();
        assert_eq!(
            s[0].labels,
            vec![
                ("__name__".to_string(), "up".to_string()),
                ("job".into(), "a".into()),
                ("zone".into(), "z".into())
            ]
        );
        // Non-UTF-8 name and value.
        let bad = |name: &[u8], value: &[u8]| {
            let mut t = ts(&[("__name__", "up")], &[]);
            t.labels.push(proto::Label {
                name: name.to_vec(),
                value: value.to_vec(),
            });
            decode(
                &encode(&req(vec![ts(&[("__name__", "ok")], &[]), t])),
                &lim(),
            )
        };
        assert_eq!(
            bad(b"\xff", b"a"),
            Err(RemoteWriteError::NotUtf8 {
                series: 1,
                label: 1,
                part: "name"
            })
        );
        assert_eq!(
            bad(b"a", b"\xc3\x28"),
            Err(RemoteWriteError::NotUtf8 {
                series: 1,
                label: 1,
                part: "value"
            })
        );
    }

    #[test]
    fn stale_nan_is_exact() {
        assert!(is_stale_nan(f64::from_bits(0x7ff0_0000_0000_0002)));
        assert!(!is_stale_nan(f64::NAN));
        assert!(!is_stale_nan(f64::INFINITY));
        assert!(!is_stale_nan(1.0));
    }

    #[test]
    fn error_messages_name_the_problem() {
        let e = decode(&[0x80, 0x80, 0x80, 0x80, 0x04], &lim()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "snappy header declares 1073741824 decompressed bytes, over the limit of 268435456 bytes"
        );
        let e = decode(&snappy(&[0xff, 0xff]), &lim()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("protobuf is not a valid prometheus.WriteRequest: "),
            "{e}"
        );
        let e = decode(&[0x05, 0xff], &lim()).unwrap_err();
        assert!(e.to_string().starts_with("snappy block is corrupt"), "{e}");
    }
}
