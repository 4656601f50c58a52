//! Addresses (SPEC §2.4): `<handle>@<server name>`, how people find each other.

import { KezError } from "./errors";
import { isHandle } from "./handle";
import { isServerName, normalizeServerName } from "./server-name";

/** An address split into its parts. */
export interface Address {
  /** The handle (SPEC §2.1). */
  handle: string;
  /** The server name (SPEC §2.2). */
  server: string;
}

/** The parts of an address on the wire, or `invalid_address`. */
export function parseAddress(text: string): Address {
  const parts = text.split("@");
  if (parts.length !== 2 || !isHandle(parts[0]) || !isServerName(parts[1])) {
    throw new KezError("invalid_address", JSON.stringify(text));
  }
  return { handle: parts[0], server: parts[1] };
}

/** Whether `text` is an address on the wire. */
export function isAddress(text: string): boolean {
  const parts = text.split("@");
  return parts.length === 2 && isHandle(parts[0]) && isServerName(parts[1]);
}

/** `handle@server`. */
export function formatAddress(address: Address): string {
  return `${address.handle}@${address.server}`;
}

/**
 * What a person typed to name someone: `bob` (on `homeServer`) or `bob@other.server`, with
 * surrounding space trimmed, the handle lowercased (SPEC §2.1 allows clients to) and the server
 * name normalised (§2.2). `invalid_address` when the result is not an address.
 */
export function parseAddressInput(input: string, homeServer: string): Address {
  const trimmed = input.trim();
  const at = trimmed.lastIndexOf("@");
  const handle = (at >= 0 ? trimmed.slice(0, at) : trimmed).toLowerCase();
  let server = homeServer;
  if (at >= 0) {
    try {
      server = normalizeServerName(trimmed.slice(at + 1));
    } catch {
      throw new KezError("invalid_address", JSON.stringify(input));
    }
  }
  return parseAddress(`${handle}@${server}`);
}
