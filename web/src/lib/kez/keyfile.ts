//! The `kez-identity` key file, version 1 — what `kezctl keys export` writes and `kezctl keys
//! import` reads (kezctl/README.md, kezctl/src/keyfile.rs) — so one identity moves between the
//! terminal and the browser. The secret is the 32-byte ed25519 seed, either encrypted
//! (`argon2id-aes256gcm`: Argon2id of the passphrase, AES-256-GCM with the associated data
//! `"kez-identity-v1\n" + primary`) or, only when asked for, in the clear (`plain`).

import { aesGcmDecrypt, aesGcmEncrypt } from "./aes-gcm";
import { isAddress } from "./address";
import { argon2idKey, checkCosts, DEFAULT_COSTS, type Argon2Costs } from "./argon2";
import { equalBytes, fromHex, randomBytes, toHex, utf8 } from "./bytes";
import { newSeed, publicKeyOf } from "./ed25519";
import { KezError } from "./errors";
import { formatPrimary, parsePrimary } from "./primary";
import { isObject, parseObject, type JsonObject, type JsonValue } from "./strict-json";

export const KEYFILE_FORMAT = "kez-identity";
export const KEYFILE_VERSION = 1;
const AAD_PREFIX = "kez-identity-v1\n";
const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** Whether `name` can name an identity: 1–64 of `A-Za-z0-9._-`, not starting with `.`. */
export function isIdentityName(name: string): boolean {
  return NAME.test(name) && !name.startsWith(".");
}

/** The secret as stored. */
export type KeyFileSecret =
  | ({
      scheme: "argon2id-aes256gcm";
      salt: Uint8Array;
      nonce: Uint8Array;
      ciphertext: Uint8Array;
    } & Argon2Costs)
  | { scheme: "plain"; seed: Uint8Array };

/** A key file, parsed and checked but not unlocked. */
export interface KeyFile {
  /** The local name of the identity. */
  name: string;
  /** `ed25519:<hex>`. */
  primary: string;
  /** Unix milliseconds. */
  createdAt: number;
  /** `handle@server` once registered, with the home server's base URL; null before. */
  home: { address: string; serverUrl: string } | null;
  secret: KeyFileSecret;
}

/** An identity with its secret: what the app keeps (and encrypts at rest). */
export interface Identity {
  name: string;
  /** The 32-byte ed25519 seed. */
  seed: Uint8Array;
  primary: string;
  createdAt: number;
  home: { address: string; serverUrl: string } | null;
}

function malformed(why: string): KezError {
  return new KezError("keyfile_malformed", why);
}

function hexMember(obj: JsonObject, name: string, length: number): Uint8Array {
  const v = obj[name];
  const bytes = typeof v === "string" ? fromHex(v, length) : null;
  if (bytes === null) throw malformed(`bad '${name}'`);
  return bytes;
}

function u32Member(obj: JsonObject, name: string): number {
  const v = obj[name];
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffffffff)
    throw malformed(`bad '${name}'`);
  return v;
}

function optionalString(obj: JsonObject, name: string): string | null {
  const v: JsonValue | undefined = obj[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== "string") throw malformed(`bad '${name}'`);
  return v;
}

/**
 * Parses and checks a key file as kezctl does: `format` and `version` first
 * (`keyfile_unsupported`), then the shape (`keyfile_malformed`), the costs
 * (`kdf_parameters`), and for a plain secret that the seed's key is `primary`
 * (`keyfile_mismatch`).
 */
export function parseKeyFile(text: string | Uint8Array): KeyFile {
  let doc: JsonObject;
  try {
    doc = parseObject(text);
  } catch (e) {
    throw malformed(`not JSON: ${String(e)}`);
  }
  if (doc.format !== KEYFILE_FORMAT || doc.version !== KEYFILE_VERSION) {
    throw new KezError(
      "keyfile_unsupported",
      `format ${JSON.stringify(doc.format)} version ${JSON.stringify(doc.version)}`,
    );
  }
  const name = doc.name;
  if (typeof name !== "string" || !isIdentityName(name)) throw malformed("invalid 'name'");
  let primary: string;
  try {
    primary = typeof doc.primary === "string" ? doc.primary : "";
    parsePrimary(primary);
  } catch {
    throw malformed("invalid 'primary'");
  }
  const createdAt = doc.created_at;
  if (typeof createdAt !== "number" || !Number.isSafeInteger(createdAt) || createdAt < 0)
    throw malformed("bad 'created_at'");
  const address = optionalString(doc, "address");
  const serverUrl = optionalString(doc, "server_url");
  if ((address === null) !== (serverUrl === null))
    throw malformed("'address' and 'server_url' go together");
  if (address !== null && !isAddress(address)) throw malformed("invalid 'address'");
  const home = address !== null && serverUrl !== null ? { address, serverUrl } : null;
  const s = doc.secret;
  if (!isObject(s)) throw malformed("missing 'secret'");
  let secret: KeyFileSecret;
  if (s.scheme === "plain") {
    secret = { scheme: "plain", seed: hexMember(s, "seed", 32) };
    if (formatPrimary(publicKeyOf(secret.seed)) !== primary) throw new KezError("keyfile_mismatch");
  } else if (s.scheme === "argon2id-aes256gcm") {
    const costs = {
      m_cost: u32Member(s, "m_cost"),
      t_cost: u32Member(s, "t_cost"),
      p_cost: u32Member(s, "p_cost"),
    };
    checkCosts(costs);
    secret = {
      scheme: "argon2id-aes256gcm",
      ...costs,
      salt: hexMember(s, "salt", 16),
      nonce: hexMember(s, "nonce", 12),
      ciphertext: hexMember(s, "ciphertext", 48),
    };
  } else {
    throw malformed("unknown 'secret.scheme'");
  }
  return { name, primary, createdAt, home, secret };
}

/** Whether unlocking `file` needs a passphrase. */
export function needsPassphrase(file: KeyFile): boolean {
  return file.secret.scheme !== "plain";
}

/**
 * The identity in `file`, its secret opened with `passphrase` when encrypted:
 * `wrong_passphrase` when it does not open, `keyfile_mismatch` when the seed is not `primary`'s.
 */
export async function unlockKeyFile(file: KeyFile, passphrase: string | null): Promise<Identity> {
  let seed: Uint8Array;
  if (file.secret.scheme === "plain") {
    seed = file.secret.seed;
  } else {
    if (passphrase === null) throw new KezError("wrong_passphrase", "a passphrase is needed");
    const key = await argon2idKey(passphrase, file.secret.salt, file.secret);
    try {
      seed = await aesGcmDecrypt(
        key,
        file.secret.nonce,
        file.secret.ciphertext,
        utf8(AAD_PREFIX + file.primary),
      );
    } catch {
      throw new KezError("wrong_passphrase");
    }
  }
  if (seed.length !== 32 || !equalBytes(publicKeyOf(seed), parsePrimary(file.primary))) {
    throw new KezError("keyfile_mismatch");
  }
  return {
    name: file.name,
    seed,
    primary: file.primary,
    createdAt: file.createdAt,
    home: file.home,
  };
}

/** Parses and unlocks a key file in one step. */
export async function importKeyFile(
  text: string | Uint8Array,
  passphrase: string | null,
): Promise<Identity> {
  return unlockKeyFile(parseKeyFile(text), passphrase);
}

/**
 * The key file of `identity`, as kezctl writes it (pretty JSON, two-space indent, members in
 * its order, newline-terminated). With a passphrase the seed is encrypted with fresh salt and
 * nonce and `costs` (kezctl's by default); with null it is written in the clear.
 */
export async function exportKeyFile(
  identity: Identity,
  passphrase: string | null,
  costs: Argon2Costs = DEFAULT_COSTS,
): Promise<string> {
  if (!isIdentityName(identity.name)) throw malformed("invalid 'name'");
  const primary = formatPrimary(publicKeyOf(identity.seed));
  if (primary !== identity.primary) throw new KezError("keyfile_mismatch");
  let secret: JsonObject;
  if (passphrase === null) {
    secret = { scheme: "plain", seed: toHex(identity.seed) };
  } else {
    const salt = randomBytes(16);
    const nonce = randomBytes(12);
    const key = await argon2idKey(passphrase, salt, costs);
    const ciphertext = await aesGcmEncrypt(key, nonce, identity.seed, utf8(AAD_PREFIX + primary));
    secret = {
      scheme: "argon2id-aes256gcm",
      m_cost: costs.m_cost,
      t_cost: costs.t_cost,
      p_cost: costs.p_cost,
      salt: toHex(salt),
      nonce: toHex(nonce),
      ciphertext: toHex(ciphertext),
    };
  }
  const doc = {
    format: KEYFILE_FORMAT,
    version: KEYFILE_VERSION,
    name: identity.name,
    primary,
    created_at: identity.createdAt,
    address: identity.home?.address ?? null,
    server_url: identity.home?.serverUrl ?? null,
    secret,
  };
  return JSON.stringify(doc, null, 2) + "\n";
}

/** A new identity named `name` with a fresh random seed, created at `nowMs`. */
export function createIdentity(name: string, nowMs: number = Date.now()): Identity {
  if (!isIdentityName(name)) throw malformed("invalid 'name'");
  const seed = newSeed();
  return { name, seed, primary: formatPrimary(publicKeyOf(seed)), createdAt: nowMs, home: null };
}
