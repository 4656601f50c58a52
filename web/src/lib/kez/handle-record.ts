//! The handle record (SPEC §4.2, §4.3): what a lookup answers. The client checks the record's
//! own `registration` rather than trusting the server that served it (SPEC §13.4): the
//! registration must be signed by the primary it names, for the same handle and server.

import { checkRegistration } from "./account-objects";
import { parseAddress } from "./address";
import { KezError } from "./errors";
import { Members } from "./signed-object";
import { isObject, objectOf, type JsonObject, type Received } from "./strict-json";

/** A handle record whose registration verifies. */
export interface HandleRecord {
  handle: string;
  server: string;
  /** `handle@server`. */
  address: string;
  /** `ed25519:<hex>`. */
  primary: string;
  /** The server's time of acceptance, Unix milliseconds. */
  registeredAt: number;
  /** The signed registration as served. */
  registration: JsonObject;
}

/**
 * Parses a handle record (its JSON text or parsed object) and verifies its registration:
 * signed by `primary`, naming the same handle and server. `malformed_request` when the record
 * is not of the documented shape, or the registration's codes (§4.1) when it does not verify.
 */
export function verifyHandleRecord(input: Received): HandleRecord {
  const record = objectOf(input);
  const m = new Members(record);
  const registration = record.registration;
  if (!isObject(registration)) throw new KezError("malformed_request", "missing 'registration'");
  const out: HandleRecord = {
    handle: m.str("handle"),
    server: m.str("server"),
    address: m.str("address"),
    primary: m.str("primary"),
    registeredAt: m.uint("registered_at"),
    registration,
  };
  const address = parseAddress(out.address);
  const claim = checkRegistration(registration, out.server, null);
  if (
    address.handle !== out.handle ||
    address.server !== out.server ||
    claim.handle !== out.handle ||
    claim.primary !== out.primary
  ) {
    throw new KezError("invalid_signature", "the record does not match its registration");
  }
  return out;
}
