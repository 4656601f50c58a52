//! Envelopes (SPEC §6): the public header servers route by, the sealed message they cannot
//! read, and the sender's signature over both. Making one (seal, sign, fit the size limit),
//! checking one in the order a server does (§6.1, §8.1), its message id (§6.4), and what a
//! client does on receiving one (§6.6).

import { sha256 } from "@noble/hashes/sha2.js";

import { NONCE_LENGTH, TAG_LENGTH } from "./aes-gcm";
import { formatAddress, parseAddress } from "./address";
import { fromBase64, fromHex, toBase64, toHex, utf8 } from "./bytes";
import { publicKeyOf } from "./ed25519";
import { KezError } from "./errors";
import { canonicalBytes, canonicalText } from "./jcs";
import { formatPrimary, parsePrimary } from "./primary";
import { open, seal } from "./seal";
import {
  checkWindow,
  Members,
  parseSignatureMember,
  signObject,
  verifySignature,
} from "./signed-object";
import {
  checkSignedNumbers,
  isObject,
  objectOf,
  parseStrict,
  type JsonObject,
  type Received,
} from "./strict-json";

/** The protocol version envelopes carry (SPEC §1.1). */
export const PROTOCOL_VERSION = 1;
/** The largest `POST /v1/messages` body, and the largest envelope's JCS bytes (SPEC §6.5). */
export const MAX_BODY_BYTES = 262_144;
/** How far an envelope's `ts` may be from the home server's clock at sending (SPEC §8.1). */
export const ENVELOPE_WINDOW_MS = 300_000;

/** An envelope's header and ciphertext, parsed. */
export interface Envelope {
  from: string;
  fromPrimary: string;
  to: string;
  /** Unix milliseconds, the time of sealing. */
  ts: number;
  nonce: Uint8Array;
  ciphertext: Uint8Array;
  /** The signed object as received (or made). */
  object: JsonObject;
  /** The message id: hex SHA-256 of the whole envelope's JCS bytes (SPEC §6.4). */
  id: string;
}

/** The message id of a signed envelope (or any signed object): SPEC §6.4. */
export function messageId(envelope: JsonObject): string {
  return toHex(sha256(canonicalBytes(envelope)));
}

/**
 * Reads an envelope in SPEC §8.1's order without judging the signature itself: the number rule,
 * `type` and `v` (so a v2 envelope is `unsupported_version` whatever else it holds), the §6.1
 * members, then the signature member's shape and `alg`.
 */
export function parseEnvelope(input: Received): Envelope {
  const object = objectOf(input);
  checkSignedNumbers(object);
  const m = new Members(object);
  m.expectType("envelope");
  const v = m.uint("v");
  if (v !== PROTOCOL_VERSION) throw new KezError("unsupported_version", String(v));
  const nonce = fromHex(m.str("nonce"), NONCE_LENGTH);
  if (nonce === null) throw new KezError("malformed_request", "'nonce' must be 24 lowercase hex");
  const ciphertext = fromBase64(m.str("ciphertext"));
  if (ciphertext === null || ciphertext.length < TAG_LENGTH) {
    throw new KezError(
      "malformed_request",
      "'ciphertext' must be canonical base64 of at least the tag",
    );
  }
  const from = m.str("from");
  parseAddress(from);
  const fromPrimary = m.str("from_primary");
  parsePrimary(fromPrimary);
  const to = m.str("to");
  parseAddress(to);
  const ts = m.uint("ts");
  parseSignatureMember(object.signature);
  return { from, fromPrimary, to, ts, nonce, ciphertext, object, id: messageId(object) };
}

/** Verifies an envelope's signature with its `from_primary` under SPEC §3.4. */
export function verifyEnvelope(envelope: Envelope): void {
  verifySignature(envelope.object, parsePrimary(envelope.fromPrimary));
}

/**
 * Checks an envelope as a home server does at `nowMs` (SPEC §8.1 checks 1–4 and 7–9: size,
 * strict JSON, members, signature, window; the others need the server's store). A client can
 * run it on what it is about to send.
 */
export function checkEnvelope(text: string | Uint8Array, nowMs: number): Envelope {
  const bytes = typeof text === "string" ? utf8(text) : text;
  if (bytes.length > MAX_BODY_BYTES) throw new KezError("payload_too_large");
  const envelope = parseEnvelope(bytes);
  verifyEnvelope(envelope);
  checkWindow(envelope.ts, nowMs, ENVELOPE_WINDOW_MS);
  return envelope;
}

/** What a sender needs to make an envelope. */
export interface Sender {
  /** The sender's 32-byte ed25519 seed. */
  seed: Uint8Array;
  /** The sender's address. */
  address: string;
}

/**
 * Seals `text` for `to` (whose primary is `recipientPrimary`) as the plaintext `{"text":…}`
 * (SPEC §6.3), builds the envelope (§6.1) stamped `ts` (ms) and signs it (§3.8). `nonce` is for
 * test vectors only; by default it is fresh and random.
 */
export async function makeEnvelope(
  sender: Sender,
  to: string,
  recipientPrimary: string,
  text: string,
  ts: number,
  nonce?: Uint8Array,
): Promise<Envelope> {
  const plaintext = utf8(canonicalText({ text }));
  const sealed = await seal(sender.seed, parsePrimary(recipientPrimary), plaintext, nonce);
  const body: JsonObject = {
    type: "envelope",
    v: PROTOCOL_VERSION,
    from: formatAddress(parseAddress(sender.address)),
    from_primary: formatPrimary(publicKeyOf(sender.seed)),
    to: formatAddress(parseAddress(to)),
    ts,
    nonce: toHex(sealed.nonce),
    ciphertext: toBase64(sealed.ciphertext),
  };
  return parseEnvelope(signObject(body, sender.seed));
}

/**
 * The body of `POST /v1/messages` (SPEC §8.1): `{"to":<address>,"envelope":…}` as JCS text;
 * `payload_too_large` when it exceeds SPEC §6.5's limit, so a too-long message is refused
 * before it is sent.
 */
export function sendBody(envelope: Envelope): string {
  const text = canonicalText({ to: envelope.to, envelope: envelope.object });
  if (utf8(text).length > MAX_BODY_BYTES)
    throw new KezError("payload_too_large", "the message is too long");
  return text;
}

/** A received message, verified and opened. */
export interface ReceivedMessage {
  envelope: Envelope;
  /** The message text (`text` of the plaintext, SPEC §6.3); null when absent. */
  text: string | null;
  /** The whole plaintext object; members unknown to v1 are kept, never interpreted. */
  plaintext: JsonObject;
}

/** What a recipient needs to open envelopes. */
export interface Recipient {
  /** The recipient's 32-byte seed. */
  seed: Uint8Array;
  /** The recipient's own address, which `to` must equal (SPEC §6.6). */
  address: string;
}

/**
 * SPEC §6.6: verifies the signature with `from_primary` before opening, checks that `to` is the
 * recipient's own address (`wrong_recipient`), then opens (`decrypt_failed`) and reads the
 * plaintext object. Whether `from_primary` is the key registered for `from` is the caller's
 * check against a lookup (§4.2), and so is deduplication by `envelope.id`.
 */
export async function receiveEnvelope(input: Received, me: Recipient): Promise<ReceivedMessage> {
  const envelope = parseEnvelope(input);
  verifyEnvelope(envelope);
  if (envelope.to !== me.address)
    throw new KezError("wrong_recipient", `addressed to ${envelope.to}`);
  const bytes = await open(
    me.seed,
    parsePrimary(envelope.fromPrimary),
    envelope.nonce,
    envelope.ciphertext,
  );
  // SPEC §6.3: a UTF-8 JSON object, read as strictly as anything else received.
  const plaintext = parseStrict(bytes);
  if (!isObject(plaintext)) {
    throw new KezError("malformed_request", "the plaintext is not a JSON object");
  }
  const text = typeof plaintext.text === "string" ? plaintext.text : null;
  return { envelope, text, plaintext };
}
