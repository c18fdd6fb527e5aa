//! Probe conditions. The input is `condition text \0 body`: the condition is parsed, its
//! canonical form (`Display`) must parse back to the same condition, and evaluating it must not
//! panic, neither against a full observation with the fuzzed body nor against an empty one.
#![no_main]

use std::time::Duration;

use headroom_probe::{Observation, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (text, body) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(condition) = parse(text) else {
        return;
    };
    let printed = condition.to_string();
    match parse(&printed) {
        Ok(back) => assert_eq!(back, condition, "{text:?} printed as {printed:?}"),
        Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
    }
    let full = Observation {
        status: Some(200),
        response_time_ms: Some(u64::MAX),
        body: Some(body.to_vec()),
        ip: Some("127.0.0.1".into()),
        connected: Some(true),
        certificate_expiration: Some(Duration::from_secs(u64::MAX)),
        dns_rcode: Some("NOERROR".into()),
    };
    let _ = condition.evaluate(&full);
    let _ = condition.evaluate(&Observation::default());
});
