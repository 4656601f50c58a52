//! Strict JSON in, canonical JSON out (SPEC §3.2–§3.3).
//!
//! Signatures cover the RFC 8785 (JCS) bytes of what was received, so the parser must not
//! paper over ambiguity: a duplicate member name would let two implementations see two
//! different objects behind one signature (serde_json silently keeps the last), so it is an
//! error here. serde_json already rejects trailing bytes, invalid UTF-8 and lone surrogates.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::Error;

/// Parses one JSON text, rejecting duplicate member names at any depth.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = de.deserialize_any(StrictVisitor).map_err(classify)?;
    de.end().map_err(classify)?;
    Ok(value)
}

/// Parses one JSON text that must be an object.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, Error> {
    match parse_strict(bytes)? {
        Value::Object(map) => Ok(map),
        _ => Err(Error::malformed("expected a JSON object")),
    }
}

/// Checks SPEC §3.3's number rule for a signed object: every number, at any depth, is an
/// integer within ±(2^53 − 1) written without fraction or exponent (serde_json reads any
/// fraction or exponent as a float, so a float here means one was written).
pub fn check_safe_integers(value: &Value) -> Result<(), Error> {
    match value {
        Value::Number(n) => {
            let max = crate::clock::MAX_SAFE_INTEGER;
            let ok = n.as_u64().is_some_and(|v| v <= max)
                || n.as_i64().is_some_and(|v| v.unsigned_abs() <= max);
            if ok || crate::faults::on("accept_fractional_numbers") {
                Ok(())
            } else {
                Err(Error::malformed(format!(
                    "{n} is not an integer within ±(2^53 - 1) (SPEC §3.3)"
                )))
            }
        }
        Value::Array(items) => items.iter().try_for_each(check_safe_integers),
        Value::Object(map) => map.values().try_for_each(check_safe_integers),
        _ => Ok(()),
    }
}

/// The RFC 8785 canonical bytes of a value.
pub fn canonical(value: &impl serde::Serialize) -> Vec<u8> {
    // Serializing a `serde_json::Value` or a plain struct cannot fail: JSON values have no
    // non-string keys and no unrepresentable numbers once parsed.
    serde_jcs::to_vec(value).unwrap_or_else(|e| unreachable!("JCS of a JSON value: {e}"))
}

/// The JCS bytes of `object`, and of `object` with one more member `extra` (a name `object`
/// does not hold), from one serialisation of each member: a signed object's signing bytes and
/// its whole canonical form (what message ids hash) without canonicalising it twice.
pub fn canonical_with_member(
    object: &Map<String, Value>,
    extra: (&str, &Value),
) -> (Vec<u8>, Vec<u8>) {
    let mut names: Vec<&str> = object.keys().map(String::as_str).collect();
    names.push(extra.0);
    // RFC 8785 §3.2.3: members sorted by their names' UTF-16 code units.
    names.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
    let mut with = Vec::with_capacity(1024);
    let mut without = Vec::with_capacity(1024);
    with.push(b'{');
    without.push(b'{');
    for name in names {
        let value = if name == extra.0 {
            extra.1
        } else {
            &object[name]
        };
        if with.len() > 1 {
            with.push(b',');
        }
        let start = with.len();
        write_canonical(&mut with, &name);
        with.push(b':');
        write_canonical(&mut with, value);
        if name != extra.0 {
            if without.len() > 1 {
                without.push(b',');
            }
            without.extend_from_slice(&with[start..]);
        }
    }
    with.push(b'}');
    without.push(b'}');
    (without, with)
}

fn write_canonical(out: &mut Vec<u8>, value: &impl serde::Serialize) {
    // As in `canonical`: a JSON value or a string always serialises.
    serde_jcs::to_writer(out, value).unwrap_or_else(|e| unreachable!("JCS of a JSON value: {e}"));
}

/// Marker the visitor puts in serde's custom error so `classify` can tell it apart.
const DUPLICATE: &str = "kez-duplicate-member:";

fn classify(e: serde_json::Error) -> Error {
    let text = e.to_string();
    match text.strip_prefix(DUPLICATE) {
        Some(rest) => {
            // serde_json appends " at line L column C"; keep only the name.
            let name = rest.rsplit_once(" at line ").map_or(rest, |(n, _)| n);
            Error::DuplicateMember(name.to_owned())
        }
        None => Error::Malformed(format!("invalid JSON: {text}")),
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictSeed)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("{DUPLICATE}{key}")));
            }
            let value = map.next_value_seed(StrictSeed)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

struct StrictSeed;

impl<'de> de::DeserializeSeed<'de> for StrictSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Member names that sort differently by UTF-16 code units than by UTF-8 bytes or by
    /// chars (a supplementary character's surrogates sort before U+E000..U+FFFF), and plain
    /// ones.
    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z_]{1,8}",
            Just("\u{ffff}".to_owned()),
            Just("\u{e000}".to_owned()),
            Just("\u{10000}".to_owned()),
            Just("\u{1f600}x".to_owned()),
            Just("é".to_owned()),
        ]
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (-1_000_000i64..1_000_000).prop_map(Value::from),
            "[ -~\u{e9}\u{1f600}\n\t\\\"]{0,24}".prop_map(Value::from),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(name(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Both forms are exactly what canonicalising each object whole gives.
        #[test]
        fn canonical_with_member_is_canonical_twice(
            members in prop::collection::btree_map(name(), value(), 0..8),
            extra_name in name(),
            extra in value(),
        ) {
            let mut object: Map<String, Value> = members.into_iter().collect();
            object.remove(&extra_name);
            let (without, with) = canonical_with_member(&object, (&extra_name, &extra));
            prop_assert_eq!(&without, &canonical(&object));
            let mut whole = object.clone();
            whole.insert(extra_name.clone(), extra.clone());
            prop_assert_eq!(&with, &canonical(&whole));
        }
    }

    /// SPEC §3.3: numbers in signed objects are integers within ±(2^53 − 1), at any depth.
    #[test]
    fn safe_integers_only() {
        for ok in [
            "1",
            "-9007199254740991",
            "9007199254740991",
            "{\"a\":[0,{\"b\":-1}]}",
        ] {
            let v = parse_strict(ok.as_bytes()).expect("parses");
            assert!(check_safe_integers(&v).is_ok(), "{ok}");
        }
        for bad in [
            "9007199254740992",
            "-9007199254740992",
            "1.0",
            "1e3",
            "[0.5]",
            "{\"a\":{\"b\":2E1}}",
        ] {
            let v = parse_strict(bad.as_bytes()).expect("parses");
            assert_eq!(
                check_safe_integers(&v).map_err(|e| e.code()),
                Err("malformed_request"),
                "{bad}"
            );
        }
    }

    /// SPEC §3.3: duplicates at any depth, trailing bytes and lone surrogates are rejected.
    #[test]
    fn strictness() {
        assert_eq!(
            parse_strict(br#"{"a":1,"a":2}"#),
            Err(Error::DuplicateMember("a".into()))
        );
        assert_eq!(
            parse_strict(br#"{"x":[{"b":1,"b":1}]}"#),
            Err(Error::DuplicateMember("b".into()))
        );
        for bad in [
            &br#"{"a":1} x"#[..],
            br#"{"a":"\ud800"}"#,
            b"{",
            b"\xff",
            b"",
        ] {
            assert_eq!(
                parse_strict(bad).map_err(|e| e.code()),
                Err("malformed_request"),
                "{bad:?}"
            );
        }
        assert!(parse_strict(br#" {"a":1} "#).is_ok());
    }

    /// SPEC §3.2: JCS sorts members and strips insignificant whitespace.
    #[test]
    fn canonical_form() {
        let v =
            parse_strict(br#"{ "b": [1, {"d":true,"c":null}], "a": "\u00e9" }"#).expect("valid");
        assert_eq!(
            String::from_utf8(canonical(&v)).expect("utf-8"),
            r#"{"a":"é","b":[1,{"c":null,"d":true}]}"#
        );
    }
}
