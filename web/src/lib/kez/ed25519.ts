//! Ed25519 keys and signatures, verified by SPEC §3.4's rule and no other.
//!
//! Signing and key derivation are noble's (RFC 8032, deterministic). Verification is built
//! here from noble's point and scalar API because noble's `verify` is not §3.4's rule even
//! with `zip215: false`: it checks the *cofactored* equation ([8][S]B = [8]R + [8][k]A, which
//! also accepts signatures the cofactorless one refuses) and does not refuse a small-order R.
//! §3.4 is ed25519-dalek's `verify_strict`; `ed25519-strict.json` pins every edge of it.

import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";

import { concat } from "./bytes";

const Point = ed25519.Point;
/** The order L of the prime-order subgroup. */
const L = Point.Fn.ORDER;

/** The 32-byte public key of a 32-byte seed (RFC 8032 §5.1.5). */
export function publicKeyOf(seed: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(seed);
}

/** The 64-byte signature of `message` by `seed` (RFC 8032 §5.1.6). */
export function sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  return ed25519.sign(message, seed);
}

/** A fresh random 32-byte seed. */
export function newSeed(): Uint8Array {
  return ed25519.utils.randomSecretKey();
}

/** Little-endian integer of `bytes`. */
function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

/**
 * Decodes a point under §3.4 rule 1 and refuses it under rule 3: `fromBytes` without ZIP-215
 * refuses y ≥ p, a y with no curve point, and x = 0 written with the sign bit set (the only
 * other non-canonical spelling); a small-order point is refused after decoding. A point of
 * mixed order (a torsion component beside a large-order one) is accepted, as verify_strict does.
 * Null when refused.
 */
export function decodeStrictPoint(bytes: Uint8Array): InstanceType<typeof Point> | null {
  if (bytes.length !== 32) return null;
  try {
    const point = Point.fromBytes(bytes, false);
    return point.isSmallOrder() ? null : point;
  } catch {
    return null;
  }
}

/** Whether `signature` is valid for `message` and `publicKey` under SPEC §3.4. */
export function verifyStrict(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (signature.length !== 64) return false;
  const rBytes = signature.subarray(0, 32);
  // Rules 1 and 3 for A and R.
  const A = decodeStrictPoint(publicKey);
  const R = decodeStrictPoint(rBytes);
  if (A === null || R === null) return false;
  // Rule 2: S < L, so no second S (S + L) verifies the same message.
  const S = littleEndian(signature.subarray(32));
  if (S >= L) return false;
  // Rule 4, cofactorless: [S]B = R + [k]A with k = SHA-512(R || A || M) mod L, hashed over the
  // encodings as sent (canonical, by rule 1). Point equality is projective, so it also equals
  // comparing encodings.
  const k = littleEndian(sha512(concat(rBytes, publicKey, message))) % L;
  // multiplyUnsafe is variable-time, which is fine: every input here is public.
  return Point.BASE.multiplyUnsafe(S).equals(R.add(A.multiplyUnsafe(k)));
}
