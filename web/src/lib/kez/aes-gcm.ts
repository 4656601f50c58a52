//! AES-256-GCM through WebCrypto, with 96-bit nonces and 128-bit tags appended to the
//! ciphertext: the cipher of the end-to-end seal (SPEC §6.2), of the key file's secret and of
//! data at rest. Every failure to open is `decrypt_failed`.

import { own } from "./bytes";
import { KezError } from "./errors";

/** Nonce length, bytes. */
export const NONCE_LENGTH = 12;
/** Tag length, bytes. */
export const TAG_LENGTH = 16;

/** A WebCrypto AES-GCM key for raw 32 bytes, usable to encrypt and decrypt, not extractable. */
export function importAesKey(raw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", own(raw), { name: "AES-GCM" }, false, [
    "encrypt",
    "decrypt",
  ]);
}

async function asKey(key: Uint8Array | CryptoKey): Promise<CryptoKey> {
  return key instanceof Uint8Array ? importAesKey(key) : key;
}

/** Ciphertext ‖ tag of `plaintext` under `key` and a 12-byte `nonce`. */
export async function aesGcmEncrypt(
  key: Uint8Array | CryptoKey,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array = new Uint8Array(0),
): Promise<Uint8Array> {
  if (nonce.length !== NONCE_LENGTH) throw new RangeError("AES-GCM nonce must be 12 bytes");
  const params = { name: "AES-GCM", iv: own(nonce), additionalData: own(aad), tagLength: 128 };
  return new Uint8Array(await crypto.subtle.encrypt(params, await asKey(key), own(plaintext)));
}

/** The plaintext of ciphertext ‖ tag, or `decrypt_failed` (wrong key, nonce, aad or tag). */
export async function aesGcmDecrypt(
  key: Uint8Array | CryptoKey,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array = new Uint8Array(0),
): Promise<Uint8Array> {
  if (nonce.length !== NONCE_LENGTH || sealed.length < TAG_LENGTH)
    throw new KezError("decrypt_failed");
  const params = { name: "AES-GCM", iv: own(nonce), additionalData: own(aad), tagLength: 128 };
  try {
    return new Uint8Array(await crypto.subtle.decrypt(params, await asKey(key), own(sealed)));
  } catch {
    throw new KezError("decrypt_failed");
  }
}
