//! A peer's answer to a transaction (SPEC §9.4, §9.6), as the sending server reads it: the
//! results body when 200, otherwise the error body's code, the one part of a refusal read from
//! the peer's bytes (kez-federation's `txn::classify` decides from the status and this code).
#![no_main]

use kez_spec::api::error_body;
use kez_spec::api::txn::TxnResults;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(code) = error_body::code_of(data) {
        assert!(!code.is_empty() && code.len() <= 64);
        assert!(
            code.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        );
    }
    // Results that parse re-serialise to results that parse back equal.
    if let Ok(results) = serde_json::from_slice::<TxnResults>(data) {
        let text = serde_json::to_string(&results).expect("serializes");
        let again: TxnResults = serde_json::from_str(&text).expect("parses back");
        assert_eq!(again, results);
    }
});
