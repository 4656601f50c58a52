//! Primaries (SPEC §2.3): `ed25519:` and the 64-hex public key, which must decode to a curve
//! point with a canonical y and must not be of small order.

import { fromHex, toHex } from "./bytes";
import { decodeStrictPoint } from "./ed25519";
import { KezError } from "./errors";

/** The text before the key. */
export const PRIMARY_PREFIX = "ed25519:";

/** The 32-byte public key of a primary, or `invalid_primary`. */
export function parsePrimary(text: string): Uint8Array {
  const key = text.startsWith(PRIMARY_PREFIX)
    ? fromHex(text.slice(PRIMARY_PREFIX.length), 32)
    : null;
  if (key === null || decodeStrictPoint(key) === null) {
    throw new KezError("invalid_primary", JSON.stringify(text));
  }
  return key;
}

/** Whether `text` is a valid primary. */
export function isPrimary(text: string): boolean {
  try {
    parsePrimary(text);
    return true;
  } catch {
    return false;
  }
}

/** The primary text of a 32-byte public key. */
export function formatPrimary(publicKey: Uint8Array): string {
  return PRIMARY_PREFIX + toHex(publicKey);
}
