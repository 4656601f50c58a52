//! Why a KEZ operation refused its input: one error class carrying a stable code, so the app
//! branches on `code` (the SPEC §10 code, or a local one for what never crosses the wire) and
//! never on message text.

/** The codes this module raises. SPEC §10 codes keep their wire spelling. */
export type KezErrorCode =
  // SPEC §10, as a server would answer (and as the vectors name them).
  | "malformed_request"
  | "duplicate_member"
  | "malformed_signature"
  | "unsupported_alg"
  | "invalid_signature"
  | "invalid_handle"
  | "handle_reserved"
  | "invalid_server_name"
  | "invalid_address"
  | "invalid_primary"
  | "wrong_server"
  | "stale_timestamp"
  | "unsupported_version"
  | "payload_too_large"
  | "unauthorized"
  | "s2s_unauthorized"
  | "wrong_destination"
  | "unknown_key"
  // Local to a client (SPEC §6.6 and §14 name `decrypt_failed`).
  | "decrypt_failed"
  | "wrong_recipient"
  // The `kez-identity` key file and the data-at-rest key.
  | "keyfile_malformed"
  | "keyfile_unsupported"
  | "keyfile_mismatch"
  | "kdf_parameters"
  | "wrong_passphrase";

/** A refusal with a stable `code`; `message` is for people and may change. */
export class KezError extends Error {
  readonly code: KezErrorCode;

  constructor(code: KezErrorCode, message?: string) {
    super(message ? `${code}: ${message}` : code);
    this.name = "KezError";
    this.code = code;
  }
}

/** Whether `e` is a KezError, optionally with the given code. */
export function isKezError(e: unknown, code?: KezErrorCode): e is KezError {
  return e instanceof KezError && (code === undefined || e.code === code);
}
