//! Any text as a segment (`/send`, `/export`, the API's `segment`): parsed and, when it
//! parses, compiled to SQL — an error with a position, never a panic.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = hotline::segments::parse(src) else {
        return;
    };
    let names = hotline::segments::Names {
        tags: HashMap::from([("vip".into(), 1), ("new".into(), 2)]),
        operators: HashMap::from([("olga".into(), 7)]),
    };
    let now = 1_767_225_600_000; // 2026-01-01
    for tz in [time::UtcOffset::UTC, time::UtcOffset::from_hms(-12, 0, 0).unwrap()] {
        let _ = hotline::segments::compile(&expr, &names, now, tz, 2);
    }
});
