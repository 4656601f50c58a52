// SPEC §10 codes (and the module's local ones) in words a person understands. The app acts on
// codes only, never on a server's message text.
const WORDS: Record<string, string> = {
  network: "The server cannot be reached. Check your connection and try again.",
  unavailable: "The server (or the other person's server) is unavailable right now. Try again later.",
  handle_taken: "That handle is taken on this server. Choose another.",
  handle_reserved: "That handle is reserved on every KEZ server. Choose another.",
  invalid_handle: "That is not a valid handle: lowercase letters, digits, '.', '_' and '-'.",
  invalid_address: "That is not a valid address. Write a handle, or handle@server.",
  primary_taken: "This key is already registered under another handle.",
  stale_timestamp: "Your device's clock is off by more than five minutes. Correct it and try again.",
  send_expired: "It could not reach the server within five minutes of being written, so the server no longer accepts it. Write it again.",
  unknown_handle: "There is no such user.",
  unknown_recipient: "There is no such user.",
  rate_limited: "Too many requests. Wait a moment and try again.",
  registration_closed: "This server does not accept new accounts.",
  registration_token_invalid: "That invitation token is not valid (or already used up).",
  registration_token_required: "This server needs an invitation token.",
  account_deleted: "That account was deleted.",
  account_suspended: "This server has suspended your account.",
  primary_mismatch: "The server names another key for this account.",
  sender_deleted: "Your account was deleted.",
  wrong_passphrase: "Wrong passphrase.",
  keyfile_malformed: "That file is not a KEZ identity key file.",
  keyfile_unsupported: "That key file's version is not supported.",
  keyfile_mismatch: "That key file is damaged: its key does not match.",
  kdf_parameters: "That key file asks for more memory or time than allowed.",
  payload_too_large: "The message is too long.",
  origin_blocked: "The other server refuses messages from this one.",
  forbidden_address: "The other server's address is not allowed.",
  no_federation: "The other server does not federate.",
  unauthorized: "The server refused this device's credentials.",
  decrypt_failed: "It could not be decrypted.",
  invalid_signature: "Its signature is not valid.",
  self: "That's you. Write the address of someone else.",
  not_registered: "That key file's identity is not registered on any server yet. Register it with kezctl first.",
  other_server: "That identity lives on another server. Open the app on its own server.",
  key_mismatch: "The server names another key for that identity's handle.",
  wrong_recipient: "It was addressed to someone else.",
};

export function inWords(code: string): string {
  return WORDS[code] ?? `The server refused (${code}).`;
}

export function codeOf(error: unknown): string {
  if (error !== null && typeof error === "object" && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  return "internal";
}
