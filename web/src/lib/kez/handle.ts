//! Handles (SPEC §2.1): the user name part of an address, with the rules a server applies, so
//! the app can check them as a person types and say which rule failed.

import { KezError } from "./errors";

/** The longest handle. */
export const MAX_HANDLE_LENGTH = 32;

const HANDLE = /^[a-z0-9](?:(?:\.?[a-z0-9_-])*\.?[a-z0-9])?$/;

/** Handles every server refuses at registration (SPEC §2.1). */
// prettier-ignore
export const RESERVED_HANDLES: ReadonlySet<string> = new Set([
  "abuse", "admin", "administrator", "all", "api", "everyone", "help", "hostmaster", "info",
  "kez", "mail", "moderator", "noreply", "no-reply", "null", "official", "postmaster", "root",
  "security", "server", "staff", "support", "system", "undefined", "webmaster", "www",
]);

/** Why a handle is refused, in words a person understands; null when it is valid. */
export function handleProblem(handle: string): string | null {
  if (handle.length === 0) return "a handle needs at least one character";
  if (handle.length > MAX_HANDLE_LENGTH) return `at most ${MAX_HANDLE_LENGTH} characters`;
  if (/[A-Z]/.test(handle)) return "lowercase letters only";
  if (/[^a-z0-9._-]/.test(handle)) return "only a-z, 0-9, '.', '_' and '-'";
  if (!/^[a-z0-9]/.test(handle)) return "must start with a letter or digit";
  if (!/[a-z0-9]$/.test(handle)) return "must end with a letter or digit";
  if (handle.includes("..")) return "no two '.' in a row";
  // The checks above cover every way the SPEC's expression can fail.
  return HANDLE.test(handle) ? null : "not a valid handle";
}

/** Whether `handle` follows SPEC §2.1. */
export function isHandle(handle: string): boolean {
  return handle.length <= MAX_HANDLE_LENGTH && HANDLE.test(handle);
}

/** `handle` if it follows SPEC §2.1, else `invalid_handle`. */
export function parseHandle(handle: string): string {
  if (!isHandle(handle)) throw new KezError("invalid_handle", handleProblem(handle) ?? undefined);
  return handle;
}

/** Whether a server refuses `handle` at registration as reserved (SPEC §2.1). */
export function isReservedHandle(handle: string): boolean {
  return RESERVED_HANDLES.has(handle);
}
