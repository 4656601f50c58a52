//! The JSON Canonicalization Scheme (RFC 8785, SPEC §3.2): the one byte string a signature
//! covers and a message id hashes, whatever form the object travelled in. The `canonicalize`
//! package implements it (UTF-16 member order, ECMAScript number form).

import canonicalize from "canonicalize";

import { utf8 } from "./bytes";
import { KezError } from "./errors";
import type { JsonValue } from "./strict-json";

/** The JCS text of `value`. */
export function canonicalText(value: JsonValue): string {
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (e) {
    throw new KezError("malformed_request", `no canonical form: ${String(e)}`);
  }
  // Only `undefined` has no serialisation, and a JsonValue is never undefined.
  if (text === undefined) throw new KezError("malformed_request", "no canonical form");
  return text;
}

/** The JCS bytes of `value`. */
export function canonicalBytes(value: JsonValue): Uint8Array {
  return utf8(canonicalText(value));
}
