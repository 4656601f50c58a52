//! A peer's answer to a transaction (SPEC §9.4, §9.6), as the sending server reads it: the
//! results body when 200, otherwise `txn::classify` of status, `Retry-After` and error body.
#![no_main]

use kez_federation::txn::{self, TxnResults};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, body)) = data.split_first_chunk::<2>() else {
        return;
    };
    // The first two bytes choose the status (100-999, as hyper allows).
    let status = 100 + u16::from_be_bytes(*head) % 900;
    let status = http::StatusCode::from_u16(status).expect("100-999 is a status");
    let _ = txn::classify(status, None, body);
    if let Some(code) = txn::error_code(body) {
        assert!(!code.is_empty() && code.len() <= 64);
        assert!(
            code.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        );
    }
    // Results that parse re-serialise to results that parse back equal.
    if let Ok(results) = serde_json::from_slice::<TxnResults>(body) {
        let text = serde_json::to_string(&results).expect("serializes");
        let again: TxnResults = serde_json::from_str(&text).expect("parses back");
        assert_eq!(again, results);
    }
});
