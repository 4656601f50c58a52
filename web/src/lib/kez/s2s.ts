//! Server-to-server request signing (SPEC §9.3). Browsers never federate; this is here so the
//! one module implements every signed string of the protocol and runs every vector file
//! (`kez-s2s.json`), and so tools built on it can check a server's requests.

import { sha256 } from "@noble/hashes/sha2.js";

import { fromHex, toHex, utf8 } from "./bytes";
import { sign, verifyStrict } from "./ed25519";
import { KezError } from "./errors";
import { isServerName } from "./server-name";

/** How far a request's `ts` (seconds) may be from the receiver's clock (SPEC §9.3 check 3). */
export const S2S_WINDOW_S = 120;

/** A server-to-server request's signed parts. */
export interface S2sRequest {
  /** Uppercase method. */
  method: string;
  /** The request target exactly as sent (path and query). */
  path: string;
  origin: string;
  destination: string;
  /** The origin's key id (SPEC §2.5). */
  keyId: string;
  /** Unix seconds. */
  ts: number;
  /** The exact body bytes. */
  body: Uint8Array;
}

/** The exact string SPEC §9.3 signs. */
export function s2sString(r: S2sRequest): string {
  const digest = toHex(sha256(r.body));
  return `KEZ-S2S-1\n${r.method}\n${r.path}\n${r.origin}\n${r.destination}\n${r.keyId}\n${r.ts}\n${digest}`;
}

/** The `Authorization` value a sender emits: parameters in order, no spaces. */
export function s2sHeader(r: S2sRequest, seed: Uint8Array): string {
  const sig = toHex(sign(seed, utf8(s2sString(r))));
  return `KEZ-Server origin="${r.origin}",destination="${r.destination}",key="${r.keyId}",ts="${r.ts}",sig="${sig}"`;
}

/** The five required parameters of a header. */
export interface S2sParams {
  origin: string;
  destination: string;
  key: string;
  ts: string;
  sig: string;
}

const REQUIRED = ["origin", "destination", "key", "ts", "sig"] as const;
const PARAM = /^[ \t]*([A-Za-z0-9_-]+)[ \t]*=[ \t]*"([^"\\]*)"[ \t]*$/;

/**
 * Parses an `Authorization` value as a receiver must (SPEC §9.3): scheme and names in any case,
 * any order, optional whitespace around commas and `=`, unknown parameters ignored, a missing or
 * repeated required one refused. `s2s_unauthorized` when malformed (check 1).
 */
export function parseS2sHeader(value: string): S2sParams {
  const bad = () => new KezError("s2s_unauthorized");
  const space = value.indexOf(" ");
  if (space < 0 || value.slice(0, space).toLowerCase() !== "kez-server") throw bad();
  const found = new Map<string, string>();
  for (const part of value.slice(space + 1).split(",")) {
    const m = PARAM.exec(part);
    if (!m) throw bad();
    const name = m[1].toLowerCase();
    if (!(REQUIRED as readonly string[]).includes(name)) continue;
    if (found.has(name)) throw bad();
    found.set(name, m[2]);
  }
  if (found.size !== REQUIRED.length) throw bad();
  const p = Object.fromEntries(found) as unknown as S2sParams;
  if (!/^(0|[1-9][0-9]*)$/.test(p.ts) || fromHex(p.sig, 64) === null) throw bad();
  if (!isServerName(p.origin) || !isServerName(p.destination)) throw bad();
  return p;
}

/** The receiving side of a request: who it is and what it trusts. */
export interface S2sReceiver {
  /** This server's name. */
  me: string;
  /** Unix seconds. */
  nowS: number;
  /** The 32-byte public key the origin's `keyId` names, or null when not trusted. */
  trustedKey: (origin: string, keyId: string) => Uint8Array | null;
}

/** SPEC §9.3 checks 1–3, 5 and 6 in order (4 is operator policy). Returns the parameters. */
export function verifyS2sRequest(
  header: string,
  request: { method: string; path: string; body: Uint8Array },
  receiver: S2sReceiver,
): S2sParams {
  const p = parseS2sHeader(header);
  if (p.destination !== receiver.me) throw new KezError("wrong_destination");
  const ts = Number(p.ts);
  if (!Number.isSafeInteger(ts) || Math.abs(receiver.nowS - ts) > S2S_WINDOW_S)
    throw new KezError("stale_timestamp");
  const key = receiver.trustedKey(p.origin, p.key);
  if (key === null) throw new KezError("unknown_key");
  const text = s2sString({
    ...request,
    origin: p.origin,
    destination: p.destination,
    keyId: p.key,
    ts,
  });
  if (!verifyStrict(key, utf8(text), fromHex(p.sig, 64) as Uint8Array))
    throw new KezError("invalid_signature");
  return p;
}
