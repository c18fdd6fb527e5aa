//! (c) Memory per series, printed (not timed).

use headroom_core::Span;
use headroom_tsdb::{Series, SeriesConfig, SliceKind, SliceRule, Tsdb};

mod common;

fn main() {
    let slices = SliceRule {
        width: Span::minutes(5),
        kind: SliceKind::Threshold(0.99),
    };
    let cases = [
        (
            "28d window (29d retention)",
            SeriesConfig::occurrences(Span::days(29)),
        ),
        (
            "30d window (31d retention)",
            SeriesConfig::occurrences(Span::days(31)),
        ),
        (
            "30d window, 5m timeslices",
            SeriesConfig::timeslices(Span::days(31), slices),
        ),
        (
            "30d window, 1m timeslices",
            SeriesConfig::timeslices(
                Span::days(31),
                SliceRule {
                    width: Span::MINUTE,
                    ..slices
                },
            ),
        ),
        (
            "30d window, 5m ratio slices",
            SeriesConfig::timeslices(
                Span::days(31),
                SliceRule {
                    kind: SliceKind::Ratio,
                    ..slices
                },
            ),
        ),
        (
            "30d window, 1m ratio slices",
            SeriesConfig::timeslices(
                Span::days(31),
                SliceRule {
                    width: Span::MINUTE,
                    kind: SliceKind::Ratio,
                },
            ),
        ),
        (
            "quarter (93d retention)",
            SeriesConfig::occurrences(Span::days(93)),
        ),
        (
            "year (367d retention)",
            SeriesConfig::occurrences(Span::days(367)),
        ),
    ];
    println!("{:<30} {:>12}  levels (width x buckets)", "series", "bytes");
    for (name, config) in cases {
        let s = Series::new(config).unwrap();
        let levels: Vec<String> = s
            .levels()
            .iter()
            .map(|l| format!("{} x {}", l.width, l.buckets))
            .collect();
        println!("{name:<30} {:>12}  {}", s.memory_bytes(), levels.join(", "));
    }
    let db = Tsdb::in_memory();
    let keys = common::keys(10_000);
    for k in &keys {
        db.configure(k.clone(), common::thirty_day()).unwrap();
    }
    let total = db.memory_bytes();
    println!(
        "Tsdb with 10,000 30d series: {:.1} MiB ({} bytes per series with key and map entry)",
        total as f64 / (1 << 20) as f64,
        total / keys.len()
    );
}
