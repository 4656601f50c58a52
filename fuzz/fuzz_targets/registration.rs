//! Registrations (SPEC §4.1) as `POST /v1/register` checks them, and as federation checks the
//! registration inside a remote handle record: `Registration::verify`.
#![no_main]

use kez_fuzz::{NOW_MS, fuzz_key, fuzz_primary, object, respelled, str_member, uint_member};
use kez_spec::registration::{DEFAULT_SKEW_MS, Registration};
use kez_spec::{ServerName, signed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Verify as the server the input names, at the time it names, so that inputs reach past
    // the server and window checks; otherwise as kez.lat, now.
    let map = object(data);
    let here = map
        .as_ref()
        .and_then(|m| str_member(m, "server"))
        .and_then(|s| ServerName::parse(s).ok())
        .unwrap_or_else(|| ServerName::parse("kez.lat").expect("valid"));
    let now = map
        .as_ref()
        .and_then(|m| uint_member(m, "ts"))
        .unwrap_or(NOW_MS);
    let verdict = Registration::verify(data, &here, now, DEFAULT_SKEW_MS);
    if let Some(other) = respelled(data) {
        assert_eq!(
            Registration::verify(&other, &here, now, DEFAULT_SKEW_MS),
            verdict,
            "respelled"
        );
    }
    if let Ok(verified) = &verdict {
        // What a server stores verifies again, to the same registration.
        let again =
            Registration::verify(verified.canonical.as_bytes(), &here, now, DEFAULT_SKEW_MS)
                .expect("the stored form verifies");
        assert_eq!(&again, verified);
        assert_eq!(
            verified.registration.handle.as_str(),
            str_member(map.as_ref().expect("an object"), "handle").expect("a handle")
        );
    }
    // Re-signed by a key this target holds, naming that key: whatever it is refused for, it
    // is not its signature, and what verified as sent still verifies.
    let Some(mut body) = map else { return };
    body.remove("signature");
    body.insert("primary".into(), fuzz_primary().to_string().into());
    let resigned = serde_json::to_vec(&signed::sign(body, &fuzz_key(), None)).expect("serializes");
    match Registration::verify(&resigned, &here, now, DEFAULT_SKEW_MS) {
        Ok(v) => assert_eq!(v.registration.primary, fuzz_primary()),
        Err(e) => {
            assert!(verdict.is_err(), "verified as sent, refused re-signed: {e}");
            assert!(
                !matches!(e.code(), "invalid_signature" | "malformed_signature"),
                "a signature made here is refused: {e}"
            );
        }
    }
});
