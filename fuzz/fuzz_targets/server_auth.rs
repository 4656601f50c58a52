//! The server-to-server `Authorization: KEZ-Server …` header (SPEC §9.3): `ServerAuth::parse`
//! and `verify`, as `PUT /v1/federation/txn/…` reads it before anything else.
#![no_main]

use kez_fuzz::fuzz_key;
use kez_spec::s2s::{DEFAULT_SKEW_SECS, RequestParts, ServerAuth};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = match ServerAuth::parse(text) {
        Ok(parsed) => parsed,
        Err(e) => {
            assert_eq!(e.code(), "s2s_unauthorized");
            return;
        }
    };
    // The rendered header is canonical: it parses back to the same header.
    let rendered = parsed.to_string();
    assert_eq!(ServerAuth::parse(&rendered).as_ref(), Ok(&parsed));
    let req = RequestParts {
        method: "PUT",
        path_and_query: "/v1/federation/txn/1",
        body: text.as_bytes(),
    };
    // Verifying what an attacker sent never panics, whatever its time and names.
    let key = fuzz_key().verifying_key();
    let _ = parsed.verify(req, &parsed.destination, &key, parsed.ts, DEFAULT_SKEW_SECS);
    // The same parties signing for real: it verifies after a render and parse, for this
    // destination only, and not for another body.
    let signed = ServerAuth::sign(req, parsed.parties(), &fuzz_key());
    let back = ServerAuth::parse(&signed.to_string()).expect("a signed header parses");
    assert_eq!(back, signed);
    assert_eq!(
        back.verify(req, &parsed.destination, &key, parsed.ts, DEFAULT_SKEW_SECS),
        Ok(())
    );
    if parsed.origin != parsed.destination {
        assert!(
            back.verify(req, &parsed.origin, &key, parsed.ts, DEFAULT_SKEW_SECS)
                .is_err()
        );
    }
    let other = RequestParts { body: b"{}", ..req };
    if text.as_bytes() != b"{}" {
        assert!(
            back.verify(
                other,
                &parsed.destination,
                &key,
                parsed.ts,
                DEFAULT_SKEW_SECS
            )
            .is_err()
        );
    }
});
