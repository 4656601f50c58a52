//! Handle records (SPEC §4.2) as federation checks a peer's answer for one of its users
//! (§9.4 check 5): `handle_record::verify_record`, which decides which primary signs that user's mail.
#![no_main]

use kez_spec::api::handle_record::verify_record;
use kez_fuzz::{NOW_MS, object, respelled, str_member};
use kez_spec::Address;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Asked for the address the input names, so inputs reach past the naming checks.
    let map = object(data);
    let address = map
        .as_ref()
        .and_then(|m| str_member(m, "address"))
        .and_then(|a| Address::parse(a).ok())
        .unwrap_or_else(|| Address::parse("bob@b.example").expect("valid"));
    let webfinger = map.as_ref().and_then(|m| str_member(m, "primary"));
    let verdict = verify_record(data, &address, webfinger, NOW_MS);
    if let Some(other) = respelled(data) {
        let again = verify_record(&other, &address, webfinger, NOW_MS);
        assert_eq!(
            again.as_ref().map_err(ToString::to_string),
            verdict.as_ref().map_err(ToString::to_string),
            "respelled"
        );
    }
    let Ok(user) = verdict else { return };
    // A verified record binds the address asked for to the primary its registration names,
    // which WebFinger (when it said anything) agrees with.
    assert_eq!(user.address, address);
    assert_eq!(Some(user.primary.to_string().as_str()), webfinger);
    let registration = &user.record["registration"];
    assert_eq!(registration["primary"].as_str(), webfinger);
    assert_eq!(
        registration["handle"].as_str(),
        Some(address.handle().as_str())
    );
    assert_eq!(
        registration["server"].as_str(),
        Some(address.server().as_str())
    );
});
