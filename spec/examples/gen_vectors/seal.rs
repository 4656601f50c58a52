//! Vectors of sealing and opening (SPEC §6.2).

use super::*;

pub(crate) fn seal(dir: &Path) {
    let item = |name: &str, sender: &str, recipient: &str, nonce: [u8; 12], plaintext: &[u8]| {
        let ct = e2ee::seal(&key(sender), &primary(recipient), &nonce, plaintext).expect("seals");
        json!({
            "name": name, "sender_seed": hex::encode(seed(sender)), "recipient_seed": hex::encode(seed(recipient)),
            "recipient_primary": primary(recipient).to_string(), "nonce": hex::encode(nonce),
            "plaintext": hex::encode(plaintext), "ciphertext_b64": B64.encode(ct), "valid": true,
        })
    };
    let ok = item(
        "alice to bob",
        "alice",
        "bob",
        [0x0a; 12],
        br#"{"text":"hello bob"}"#,
    );
    let mut vectors = vec![
        ok.clone(),
        item(
            "bob to alice, empty plaintext",
            "bob",
            "alice",
            [0; 12],
            b"",
        ),
        item(
            "alice to carol, 1000 bytes",
            "alice",
            "carol",
            [0xff; 12],
            &[b'x'; 1000],
        ),
    ];
    let ct = B64
        .decode(ok["ciphertext_b64"].as_str().expect("ct"))
        .expect("base64");
    let invalid = |name: &str, f: &dyn Fn(&mut Value)| {
        let mut v = ok.clone();
        v["name"] = name.into();
        v["valid"] = false.into();
        v["error"] = "decrypt_failed".into();
        f(&mut v);
        v
    };
    vectors.push(invalid("truncated ciphertext", &|v| {
        v["ciphertext_b64"] = B64.encode(&ct[..ct.len() - 1]).into()
    }));
    vectors.push(invalid("shorter than the tag", &|v| {
        v["ciphertext_b64"] = B64.encode(&ct[..15]).into()
    }));
    vectors.push(invalid("flipped tag bit", &|v| {
        let mut c = ct.clone();
        let last = c.len() - 1;
        c[last] ^= 0x80;
        v["ciphertext_b64"] = B64.encode(c).into();
    }));
    vectors.push(invalid("wrong nonce length", &|v| {
        v["nonce"] = hex::encode([0x0a; 16]).into()
    }));
    vectors.push(invalid("wrong nonce", &|v| {
        v["nonce"] = hex::encode([0x0b; 12]).into()
    }));
    vectors.push(invalid("opened by the wrong recipient", &|v| {
        v["recipient_seed"] = hex::encode(seed("carol")).into()
    }));
    write(
        dir,
        "kez-seal.json",
        "Sealing with a fixed nonce gives exactly ciphertext_b64; the recipient opens it with recipient_seed and the sender's primary (derived from sender_seed).",
        &["§6.2"],
        json!({"vectors": vectors}),
    );
}
