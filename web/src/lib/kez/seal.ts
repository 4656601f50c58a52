//! End-to-end sealing (SPEC §6.2), the prototype's scheme exactly: static X25519 between the
//! sender's and the recipient's identity keys (their Montgomery forms), HKDF-SHA256 with the
//! message nonce as salt, AES-256-GCM without associated data.

import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { extract, expand } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";

import { aesGcmDecrypt, aesGcmEncrypt, NONCE_LENGTH } from "./aes-gcm";
import { randomBytes, utf8 } from "./bytes";
import { KezError } from "./errors";

/** HKDF `info` of the message key. */
const INFO = utf8("kez-chat-msg-v1");

/** The X25519 secret of an identity: clamp(SHA-512(seed)[0..32]) (SPEC §6.2). */
export function x25519SecretOf(seed: Uint8Array): Uint8Array {
  return ed25519.utils.toMontgomerySecret(seed);
}

/** The X25519 public key of an ed25519 public key: u = (1 + y) / (1 − y) mod p (SPEC §6.2). */
export function x25519PublicOf(publicKey: Uint8Array): Uint8Array {
  try {
    return ed25519.utils.toMontgomery(publicKey);
  } catch {
    throw new KezError("invalid_primary", "not an ed25519 public key");
  }
}

/** X25519(scalar, u) (RFC 7748 §5); `decrypt_failed` for an all-zero result (SPEC §6.2). */
export function x25519Shared(secret: Uint8Array, publicU: Uint8Array): Uint8Array {
  try {
    // noble refuses the low-order u values (and so every all-zero result) by throwing.
    const shared = x25519.getSharedSecret(secret, publicU);
    if (shared.every((b) => b === 0)) throw new Error("all-zero");
    return shared;
  } catch {
    throw new KezError("decrypt_failed", "no usable shared secret");
  }
}

/** HKDF-SHA256 extract (RFC 5869 §2.2). */
export function hkdfExtract(ikm: Uint8Array, salt: Uint8Array): Uint8Array {
  return extract(sha256, ikm, salt);
}

/** HKDF-SHA256 (RFC 5869): `length` bytes of output keying material. */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  return expand(sha256, hkdfExtract(ikm, salt), info, length);
}

function messageKey(mySeed: Uint8Array, theirPublicKey: Uint8Array, nonce: Uint8Array): Uint8Array {
  const shared = x25519Shared(x25519SecretOf(mySeed), x25519PublicOf(theirPublicKey));
  return hkdfSha256(shared, nonce, INFO, 32);
}

/** A sealed message: the nonce and ciphertext ‖ tag. */
export interface Sealed {
  nonce: Uint8Array;
  ciphertext: Uint8Array;
}

/**
 * Seals `plaintext` from the identity of `senderSeed` to the 32-byte public key of the
 * recipient's primary. The nonce is fresh and random (SPEC §6.2-1); `nonce` is for test
 * vectors only.
 */
export async function seal(
  senderSeed: Uint8Array,
  recipientPublicKey: Uint8Array,
  plaintext: Uint8Array,
  nonce: Uint8Array = randomBytes(NONCE_LENGTH),
): Promise<Sealed> {
  const key = messageKey(senderSeed, recipientPublicKey, nonce);
  return { nonce, ciphertext: await aesGcmEncrypt(key, nonce, plaintext) };
}

/**
 * Opens a sealed message with the recipient's seed and the sender's public key (the key of
 * `from_primary`). Every failure — tag, key, nonce length, too short, all-zero shared secret —
 * is `decrypt_failed` (SPEC §6.6).
 */
export async function open(
  recipientSeed: Uint8Array,
  senderPublicKey: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
): Promise<Uint8Array> {
  if (nonce.length !== NONCE_LENGTH)
    throw new KezError("decrypt_failed", "the nonce is not 12 bytes");
  return aesGcmDecrypt(messageKey(recipientSeed, senderPublicKey, nonce), nonce, ciphertext);
}
