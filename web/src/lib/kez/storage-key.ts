//! A passphrase-derived key for data at rest (the app's history in IndexedDB). Argon2id turns
//! the passphrase into an AES-256-GCM key that never leaves WebCrypto (not extractable); the
//! parameters — costs, salt, and a check value sealed under the key — are stored beside the
//! data, so the same passphrase finds the same key and a wrong one is told apart from damaged
//! data. Each record is sealed with a fresh nonce, and with its `context` (what the record is:
//! store and key) as associated data, so a record cannot be moved to another place unnoticed.

import { aesGcmDecrypt, aesGcmEncrypt, importAesKey, NONCE_LENGTH } from "./aes-gcm";
import { argon2idKey, DEFAULT_COSTS, type Argon2Costs } from "./argon2";
import { fromUtf8, randomBytes, utf8 } from "./bytes";
import { KezError } from "./errors";

/** The version of the parameters' layout. */
const STORAGE_VERSION = 1;
/** What the check value seals, and the associated-data prefix of every record. */
const CHECK_CONTEXT = "kez-storage-v1 check";
const RECORD_PREFIX = "kez-storage-v1\n";

/** A sealed value: what is stored. Plain bytes, so IndexedDB keeps it as is. */
export interface SealedRecord {
  nonce: Uint8Array;
  ciphertext: Uint8Array;
}

/** What is stored beside the data to find the key again. Structured-clone friendly. */
export interface StorageParams extends Argon2Costs {
  version: number;
  kdf: "argon2id";
  salt: Uint8Array;
  /** An empty record sealed under the key: opens only with the right passphrase. */
  check: SealedRecord;
}

/** A derived key and the parameters that find it again. */
export interface StorageKey {
  key: CryptoKey;
  params: StorageParams;
}

async function deriveKey(
  passphrase: string,
  salt: Uint8Array,
  costs: Argon2Costs,
): Promise<CryptoKey> {
  return importAesKey(await argon2idKey(passphrase, salt, costs));
}

async function sealBytes(
  key: CryptoKey,
  plaintext: Uint8Array,
  aad: string,
): Promise<SealedRecord> {
  const nonce = randomBytes(NONCE_LENGTH);
  return { nonce, ciphertext: await aesGcmEncrypt(key, nonce, plaintext, utf8(aad)) };
}

/** A new key for `passphrase` with a fresh salt; store `params` beside the data. */
export async function createStorageKey(
  passphrase: string,
  costs: Argon2Costs = DEFAULT_COSTS,
): Promise<StorageKey> {
  const salt = randomBytes(16);
  const key = await deriveKey(passphrase, salt, costs);
  const check = await sealBytes(key, new Uint8Array(0), CHECK_CONTEXT);
  const params: StorageParams = {
    version: STORAGE_VERSION,
    kdf: "argon2id",
    ...costs,
    salt,
    check,
  };
  return { key, params };
}

/**
 * The key that `params` describe, derived from `passphrase`: `wrong_passphrase` when the check
 * value does not open, `kdf_parameters` when the parameters are not ones this module wrote.
 */
export async function deriveStorageKey(
  passphrase: string,
  params: StorageParams,
): Promise<StorageKey> {
  if (
    params.version !== STORAGE_VERSION ||
    params.kdf !== "argon2id" ||
    params.salt.length !== 16
  ) {
    throw new KezError("kdf_parameters", "unknown storage parameters");
  }
  const key = await deriveKey(passphrase, params.salt, params);
  try {
    await aesGcmDecrypt(key, params.check.nonce, params.check.ciphertext, utf8(CHECK_CONTEXT));
  } catch {
    throw new KezError("wrong_passphrase");
  }
  return { key, params };
}

/**
 * Seals a JSON-serialisable `value` under `key`, bound to `context` (for example
 * `"messages/<id>"`): opening it needs the same key and the same context.
 */
export async function sealRecord(
  key: CryptoKey,
  value: unknown,
  context: string,
): Promise<SealedRecord> {
  return sealBytes(key, utf8(JSON.stringify(value)), RECORD_PREFIX + context);
}

/** The value of a sealed record; `decrypt_failed` for another key or context, or damage. */
export async function openRecord<T = unknown>(
  key: CryptoKey,
  record: SealedRecord,
  context: string,
): Promise<T> {
  const bytes = await aesGcmDecrypt(
    key,
    record.nonce,
    record.ciphertext,
    utf8(RECORD_PREFIX + context),
  );
  const text = fromUtf8(bytes);
  if (text === null) throw new KezError("decrypt_failed", "not UTF-8");
  return JSON.parse(text) as T;
}
