//! Strict lowercase hex (SPEC §1): the spec writes every key, signature and id in lowercase hex,
//! so uppercase or odd-length input is rejected rather than normalised — two spellings of one
//! value would give two different signed byte strings.

/// Decodes exactly `N` bytes of lowercase hex; `None` on any other input.
pub(crate) fn decode_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != N * 2 || !is_lower_hex(s) {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// True when every character is `0-9` or `a-f`.
pub(crate) fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
