//! The text exposition and OpenMetrics parser. The first byte picks the format. Beyond not
//! panicking: every sample has a well-formed name, sorted labels with unique well-formed names,
//! and a sample printed back in the Prometheus format parses to itself.
#![no_main]

use headroom_ingest::exposition::{ScrapedSample, TextFormat, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = if mode & 1 == 1 {
        TextFormat::OpenMetrics
    } else {
        TextFormat::Prometheus
    };
    let Ok(samples) = parse(text, format) else {
        return;
    };
    for s in &samples {
        assert!(is_name(&s.name), "metric name {:?}", s.name);
        assert!(
            s.labels.iter().all(|(n, _)| is_name(n)),
            "label names {:?}",
            s.labels
        );
        assert!(
            s.labels.windows(2).all(|w| w[0].0 < w[1].0),
            "labels sorted, names unique: {:?}",
            s.labels
        );
        let printed = s.to_string();
        let back = parse(&printed, TextFormat::Prometheus)
            .unwrap_or_else(|e| panic!("{printed:?} does not parse back: {e}"));
        assert_eq!(back.len(), 1, "{printed:?}");
        assert_same(s, &back[0], &printed);
    }
});

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`, what the parser accepts for metric and label names.
fn is_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn assert_same(a: &ScrapedSample, b: &ScrapedSample, printed: &str) {
    assert_eq!(a.name, b.name, "{printed:?}");
    assert_eq!(a.labels, b.labels, "{printed:?}");
    assert_eq!(a.timestamp_ms, b.timestamp_ms, "{printed:?}");
    // NaN payloads are not kept by the text format; any NaN is NaN.
    assert!(
        a.value.to_bits() == b.value.to_bits() || (a.value.is_nan() && b.value.is_nan()),
        "{printed:?}: {} vs {}",
        a.value,
        b.value
    );
}
