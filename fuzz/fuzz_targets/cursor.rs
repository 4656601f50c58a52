//! Cursors (SPEC §7.4, §8.2): `Last-Event-ID`, `since` and `limit`, `Cursor::parse`.
#![no_main]

use kez_spec::clock::MAX_SAFE_INTEGER;
use kez_spec::cursor::Cursor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let significant = text.trim_start_matches('0');
    // The value written without leading zeros fits in 2^53 − 1 (16 digits at most).
    let small = significant.len() < 16
        || significant.len() == 16 && significant <= MAX_SAFE_INTEGER.to_string().as_str();
    match Cursor::parse(text) {
        Ok(cursor) => {
            assert!(digits && small, "{text:?} accepted");
            assert!(cursor.0 <= MAX_SAFE_INTEGER);
            let canonical = if significant.is_empty() {
                "0"
            } else {
                significant
            };
            assert_eq!(cursor.to_string(), canonical);
            assert_eq!(Cursor::parse(&cursor.to_string()), Ok(cursor));
        }
        Err(e) => {
            assert!(!(digits && small), "{text:?} refused");
            assert_eq!(e.code(), "malformed_request");
        }
    }
});
