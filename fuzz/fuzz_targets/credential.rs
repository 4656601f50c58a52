//! Client credentials (SPEC §7.1): the `<ts>:<sig>` of `X-KEZ-Auth` and of the stream's
//! `auth=` query value, `Credential::parse`, and their verification (§7.2–§7.6).
#![no_main]

use kez_fuzz::fuzz_key;
use kez_spec::auth::{AuthRequest, Credential, DEFAULT_SKEW_SECS};
use kez_spec::{Handle, MessageId, Primary};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = Credential::parse(text);
    if let Err(e) = &parsed {
        // Every failure is the one 401 (SPEC §7.1): no oracle.
        assert_eq!(e.code(), "unauthorized");
        return;
    }
    let credential = parsed.expect("checked");
    // One spelling per credential: the text is canonical, and parses back equal.
    assert_eq!(credential.to_string(), text);
    assert_eq!(Credential::parse(&credential.to_string()), Ok(credential));
    // Verifying a credential from the input never panics, whatever its time; one this target
    // signs for the same request at the same time verifies, and for no other request.
    let handle = Handle::parse("alice").expect("valid");
    let id = MessageId::of_canonical(text.as_bytes());
    let primary = Primary::from(&fuzz_key());
    let since = credential.ts % 1000;
    let requests = [
        AuthRequest::Poll {
            handle: &handle,
            since,
        },
        AuthRequest::StreamLive { handle: &handle },
        AuthRequest::StreamCursor {
            handle: &handle,
            since,
        },
        AuthRequest::Ack {
            handle: &handle,
            through: since,
        },
        AuthRequest::Status { id: &id },
    ];
    for (i, request) in requests.iter().enumerate() {
        let _ = request.verify(&credential, &primary, credential.ts, DEFAULT_SKEW_SECS);
        let signed = request.sign(&fuzz_key(), credential.ts);
        assert_eq!(Credential::parse(&signed.to_string()), Ok(signed));
        for (j, other) in requests.iter().enumerate() {
            let ok = other.verify(&signed, &primary, credential.ts, DEFAULT_SKEW_SECS);
            assert_eq!(ok.is_ok(), i == j, "{request:?} verified as {other:?}");
        }
    }
});
