//! Signed objects (SPEC §3): a JSON object whose `signature` member covers the JCS bytes of
//! every other member, unknown ones included; the typed member reads that each kind of object
//! (registration, deletion, envelope) checks in its own order; and signing.

import { fromHex, toHex } from "./bytes";
import { sign, verifyStrict } from "./ed25519";
import { KezError } from "./errors";
import { canonicalBytes } from "./jcs";
import { checkSignedNumbers, isObject, type JsonObject, type JsonValue } from "./strict-json";

/** The only signature algorithm of protocol v1 (SPEC §3.5). */
export const ALG_ED25519 = "ed25519";

/** The `type` values a verifier expects in context (SPEC §3.6). */
export type SignedType = "registration" | "deletion" | "envelope" | "server";

/** A parsed `signature` member (SPEC §3.1). */
export interface SignatureMember {
  /** The 64-byte ed25519 signature. */
  sig: Uint8Array;
  /** The server key id, for server-signed objects only. */
  keyId?: string;
}

const KEY_ID = /^ed25519:[A-Za-z0-9_]{1,32}$/;

/**
 * Reads a `signature` member (SPEC §3.1, §3.7 step 3): an object whose `alg`, when it is a
 * string other than `ed25519`, is `unsupported_alg` whatever the rest looks like; otherwise
 * exactly `alg` and `sig` (and `key_id` when `serverSigned`), all strings, `sig` 128 lowercase
 * hex. Anything else is `malformed_signature`.
 */
export function parseSignatureMember(
  value: JsonValue | undefined,
  serverSigned = false,
): SignatureMember {
  if (!isObject(value)) throw new KezError("malformed_signature", "'signature' must be an object");
  const alg = value.alg;
  if (typeof alg === "string" && alg !== ALG_ED25519) throw new KezError("unsupported_alg", alg);
  if (alg !== ALG_ED25519) throw new KezError("malformed_signature", "missing string member 'alg'");
  const sig = typeof value.sig === "string" ? fromHex(value.sig, 64) : null;
  if (sig === null) throw new KezError("malformed_signature", "'sig' must be 128 lowercase hex");
  const keyId = value.key_id;
  if (serverSigned && (typeof keyId !== "string" || !KEY_ID.test(keyId))) {
    throw new KezError("malformed_signature", "missing or invalid 'key_id'");
  }
  if (Object.keys(value).length !== (serverSigned ? 3 : 2)) {
    throw new KezError("malformed_signature", "unknown members in 'signature'");
  }
  return serverSigned ? { sig, keyId: keyId as string } : { sig };
}

/** The object minus its top-level `signature`: what the signature covers (SPEC §3.2). */
export function unsignedBody(object: JsonObject): JsonObject {
  const body: JsonObject = Object.create(null);
  for (const [name, value] of Object.entries(object)) {
    if (name !== "signature")
      Object.defineProperty(body, name, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return body;
}

/** The bytes a signature covers: JCS of the object without `signature` (SPEC §3.2). */
export function signingBytes(object: JsonObject): Uint8Array {
  return canonicalBytes(unsignedBody(object));
}

/**
 * Checks `signature` (shape and alg, §3.7 step 3) and verifies it with `publicKey` under §3.4
 * (step 4): `invalid_signature` when it does not verify.
 */
export function verifySignature(
  object: JsonObject,
  publicKey: Uint8Array,
  serverSigned = false,
): SignatureMember {
  const member = parseSignatureMember(object.signature, serverSigned);
  if (!verifyStrict(publicKey, signingBytes(object), member.sig)) {
    throw new KezError("invalid_signature");
  }
  return member;
}

/**
 * Signs `body` (SPEC §3.8): the returned object is `body` with `signature` added. `body` must
 * hold only SPEC §3.3 numbers (safe integers) and no `signature` member.
 */
export function signObject(body: JsonObject, seed: Uint8Array, keyId?: string): JsonObject {
  if (Object.hasOwn(body, "signature"))
    throw new KezError("malformed_request", "body already has 'signature'");
  checkSignedNumbers(body);
  const sig = toHex(sign(seed, canonicalBytes(body)));
  const signature: JsonObject =
    keyId === undefined ? { alg: ALG_ED25519, sig } : { alg: ALG_ED25519, key_id: keyId, sig };
  return { ...body, signature };
}

/** Typed reads of an object's members, each missing or mistyped one `malformed_request`. */
export class Members {
  constructor(readonly object: JsonObject) {}

  /** Checks `type` (SPEC §3.6) before anything else reads the object. */
  expectType(expected: SignedType): void {
    if (this.object.type !== expected) {
      throw new KezError("malformed_request", `'type' must be ${JSON.stringify(expected)}`);
    }
  }

  /** A required string member. */
  str(name: string): string {
    const v = this.object[name];
    if (typeof v !== "string")
      throw new KezError("malformed_request", `missing string member '${name}'`);
    return v;
  }

  /** A required integer member in 0 ..= 2^53 − 1 (times are never negative, SPEC §1). */
  uint(name: string): number {
    const v = this.object[name];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || Object.is(v, -0)) {
      throw new KezError("malformed_request", `missing non-negative integer member '${name}'`);
    }
    return v;
  }
}

/** Refuses `ts` (ms) more than `windowMs` away from `nowMs`, inclusive (SPEC §1 Windows). */
export function checkWindow(ts: number, nowMs: number, windowMs: number): void {
  if (Math.abs(nowMs - ts) > windowMs)
    throw new KezError("stale_timestamp", `ts ${ts}, now ${nowMs}`);
}
