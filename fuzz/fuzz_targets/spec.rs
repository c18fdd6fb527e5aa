//! The YAML config loader: any text is a config or a list of located problems.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = headroom_spec::load_str("fuzz.yaml", text);
    }
});
