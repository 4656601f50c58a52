//! Server names (SPEC §2.2): lowercase DNS names with an optional port, never an IP address in
//! any spelling a URL parser reads as one; and the normalisation applied to what a person
//! types (never to wire values).

import { KezError } from "./errors";

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const PORT = /^[1-9][0-9]{0,4}$/;

/**
 * The WHATWG URL Standard's "ends in a number": all decimal digits, or `0x`/`0X` and hex
 * digits. Such a last label makes a URL parser read the host as an IPv4 address.
 */
function endsInANumber(lastLabel: string): boolean {
  return /^[0-9]+$/.test(lastLabel) || /^0[xX][0-9a-fA-F]*$/.test(lastLabel);
}

/** Whether `name` is a server name on the wire (SPEC §2.2). */
export function isServerName(name: string): boolean {
  let host = name;
  const colon = name.lastIndexOf(":");
  if (colon >= 0) {
    const port = name.slice(colon + 1);
    if (!PORT.test(port) || Number(port) > 65535) return false;
    host = name.slice(0, colon);
  }
  if (host.length === 0 || host.length > 253) return false;
  const labels = host.split(".");
  return labels.every((l) => LABEL.test(l)) && !endsInANumber(labels[labels.length - 1]);
}

/** `name` if it is a server name on the wire, else `invalid_server_name`. */
export function parseServerName(name: string): string {
  if (!isServerName(name)) throw new KezError("invalid_server_name", JSON.stringify(name));
  return name;
}

/**
 * A server name as a person typed it, normalised as SPEC §2.2 says (trim, lowercase, Unicode
 * labels to A-labels by UTS #46, one trailing dot removed) and then checked. The platform's URL
 * parser does the UTS #46 step; its own refusal is `invalid_server_name` too.
 */
export function normalizeServerName(input: string): string {
  let name = input.trim().toLowerCase();
  const colon = name.lastIndexOf(":");
  const port = colon >= 0 ? name.slice(colon) : "";
  let host = colon >= 0 ? name.slice(0, colon) : name;
  if (host.endsWith(".")) host = host.slice(0, -1);
  // Only non-ASCII needs IDNA; ASCII goes through as typed so the checks below judge it.
  if (/[^\x00-\x7f]/.test(host)) {
    try {
      host = new URL(`http://${host}/`).hostname;
    } catch {
      throw new KezError("invalid_server_name", JSON.stringify(input));
    }
  }
  name = host + port;
  return parseServerName(name);
}
