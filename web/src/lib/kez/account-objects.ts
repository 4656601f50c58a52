//! The signed objects about an account: a registration (SPEC §4.1) binds a handle on one server
//! to the primary that signs it, and a deletion (SPEC §4.7) asks that server to delete the
//! account. Both carry the same members — handle, server, primary, ts — and differ in `type`
//! (SPEC §3.6, so neither can be replayed as the other) and in the reserved-handle check.

import { publicKeyOf } from "./ed25519";
import { KezError } from "./errors";
import { isReservedHandle, parseHandle } from "./handle";
import { formatPrimary, parsePrimary } from "./primary";
import { parseServerName } from "./server-name";
import { checkWindow, Members, signObject, verifySignature } from "./signed-object";
import { checkSignedNumbers, objectOf, type JsonObject, type Received } from "./strict-json";

/** How far a registration's or deletion's `ts` may be from the server's clock (SPEC §4.1). */
export const ACCOUNT_WINDOW_MS = 300_000;

/** What a registration or deletion claims. */
export interface AccountClaim {
  /** The handle (SPEC §2.1). */
  handle: string;
  /** The server that holds it (SPEC §2.2). */
  server: string;
  /** The primary that signs, `ed25519:<hex>` (SPEC §2.3). */
  primary: string;
  /** When it was signed, Unix milliseconds. */
  ts: number;
}

type AccountType = "registration" | "deletion";

function makeClaim(
  type: AccountType,
  seed: Uint8Array,
  handle: string,
  server: string,
  ts: number,
): JsonObject {
  const body: JsonObject = {
    type,
    handle: parseHandle(handle),
    server: parseServerName(server),
    primary: formatPrimary(publicKeyOf(seed)),
    ts,
  };
  return signObject(body, seed);
}

/**
 * The signed registration of `handle` on `server` by the identity of `seed` at `ts` (ms): the
 * body of `POST /v1/register`.
 */
export function makeRegistration(
  seed: Uint8Array,
  handle: string,
  server: string,
  ts: number,
): JsonObject {
  return makeClaim("registration", seed, handle, server, ts);
}

/** The signed deletion of the account `handle` on `server` (the body of `POST /v1/account/delete`). */
export function makeDeletion(
  seed: Uint8Array,
  handle: string,
  server: string,
  ts: number,
): JsonObject {
  return makeClaim("deletion", seed, handle, server, ts);
}

function checkClaim(
  type: AccountType,
  input: Received,
  server: string,
  nowMs: number | null,
): AccountClaim {
  const object = objectOf(input);
  checkSignedNumbers(object);
  const m = new Members(object);
  m.expectType(type);
  const claim = {
    handle: m.str("handle"),
    server: m.str("server"),
    primary: m.str("primary"),
    ts: m.uint("ts"),
  };
  parseHandle(claim.handle);
  if (type === "registration" && isReservedHandle(claim.handle))
    throw new KezError("handle_reserved", claim.handle);
  // Any other value, well formed or not, is the wrong server (SPEC §4.1 check 5).
  if (claim.server !== server) throw new KezError("wrong_server", JSON.stringify(claim.server));
  verifySignature(object, parsePrimary(claim.primary));
  if (nowMs !== null) checkWindow(claim.ts, nowMs, ACCOUNT_WINDOW_MS);
  return claim;
}

/**
 * Checks a registration as the server `server` does at `nowMs`, in SPEC §4.1's order (checks
 * 1–9; the rest need the server's store). `nowMs` null skips the window: a stored registration
 * served in a handle record (§4.2) is old by design.
 */
export function checkRegistration(
  input: Received,
  server: string,
  nowMs: number | null,
): AccountClaim {
  return checkClaim("registration", input, server, nowMs);
}

/** Checks a deletion as the server `server` does at `nowMs` (SPEC §4.7, before the store's checks). */
export function checkDeletion(input: Received, server: string, nowMs: number | null): AccountClaim {
  return checkClaim("deletion", input, server, nowMs);
}
