//! Client request credentials (SPEC §7): `<ts>:<sig>`, an ed25519 signature over a short string
//! that names the method, the exact path, the cursor where there is one, and the time in
//! seconds. Each kind of request has its own string (§7.7), so no credential replays as another.

import { fromHex, toHex, utf8 } from "./bytes";
import { sign, verifyStrict } from "./ed25519";
import { KezError } from "./errors";

/** How far a credential's `ts` (seconds) may be from the server's clock (SPEC §7.1). */
export const CREDENTIAL_WINDOW_S = 60;

/** The request a credential authorises. Cursors are inbox sequence numbers. */
export type AuthRequest =
  /** `GET /v1/inbox/<handle>?since=<n>` (§7.2); without `since` it is signed as `since=0`. */
  | { kind: "poll"; handle: string; since?: number }
  /** `GET /v1/inbox/<handle>/stream`, live only (§7.3). */
  | { kind: "stream_live"; handle: string }
  /** `GET /v1/inbox/<handle>/stream?since=<n>` or with `Last-Event-ID` (§7.4). */
  | { kind: "stream_cursor"; handle: string; since: number }
  /** `POST /v1/inbox/<handle>/ack` with `{"through":<n>}` (§7.5). */
  | { kind: "ack"; handle: string; through: number }
  /** `GET /v1/messages/<id>/status`, signed by the message's sender (§7.6). */
  | { kind: "status"; messageId: string };

/** A cursor in canonical decimal: no sign, no leading zeros (SPEC §7.1). */
function cursor(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a cursor: ${n}`);
  return String(n);
}

/** The exact string SPEC §7 signs for `request` at `ts` (Unix seconds). */
export function authString(request: AuthRequest, ts: number): string {
  switch (request.kind) {
    case "poll":
      return `GET\n/v1/inbox/${request.handle}\nsince=${cursor(request.since ?? 0)}\n${cursor(ts)}`;
    case "stream_live":
      return `GET\n/v1/inbox/${request.handle}/stream\n${cursor(ts)}`;
    case "stream_cursor":
      return `GET\n/v1/inbox/${request.handle}/stream\nsince=${cursor(request.since)}\n${cursor(ts)}`;
    case "ack":
      return `POST\n/v1/inbox/${request.handle}/ack\nthrough=${cursor(request.through)}\n${cursor(ts)}`;
    case "status":
      return `GET\n/v1/messages/${request.messageId}/status\n${cursor(ts)}`;
  }
}

/**
 * The credential `<ts>:<sig>` for `request`, signed with `seed` at `nowMs` (the time is sent in
 * whole seconds). It goes in `X-KEZ-Auth`, or in the stream's `auth` query parameter.
 */
export function makeCredential(
  seed: Uint8Array,
  request: AuthRequest,
  nowMs: number = Date.now(),
): string {
  const ts = Math.floor(nowMs / 1000);
  return `${ts}:${toHex(sign(seed, utf8(authString(request, ts))))}`;
}

const CREDENTIAL = /^(0|[1-9][0-9]*):([0-9a-f]{128})$/;

/**
 * Verifies a credential as a server does at `nowS` (Unix seconds) with the 32-byte public key
 * of the primary it must be signed by. Every failure is `unauthorized` (SPEC §7.1: the endpoint
 * is not an oracle). Returns the credential's `ts`.
 */
export function verifyCredential(
  credential: string,
  request: AuthRequest,
  publicKey: Uint8Array,
  nowS: number,
): number {
  const m = CREDENTIAL.exec(credential);
  const ts = m ? Number(m[1]) : NaN;
  const sig = m ? fromHex(m[2], 64) : null;
  if (!Number.isSafeInteger(ts) || sig === null || Math.abs(nowS - ts) > CREDENTIAL_WINDOW_S) {
    throw new KezError("unauthorized");
  }
  if (!verifyStrict(publicKey, utf8(authString(request, ts)), sig))
    throw new KezError("unauthorized");
  return ts;
}
