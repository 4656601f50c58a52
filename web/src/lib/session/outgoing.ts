// What an unanswered send means. A send the server never answered (the network dropped, the
// server was down) is not a failure: the message stays `sending` with its signed envelope and is
// sent again, the same bytes, when the stream is live once more (SPEC §8.1: a duplicate is
// answered with the first acceptance, before the window is checked, so a resend never stores a
// message twice). A resend refused `stale_timestamp` never reached the server within the window.

/** Why the message failed (a code for `inWords`), or null when it was not answered: send again. */
export function sendFailure(code: string, resent: boolean): string | null {
  if (code === "network" || code === "unavailable") return null;
  // The original send's refusal means the clock is off; a resend's, that it came too late.
  if (resent && code === "stale_timestamp") return "send_expired";
  return code;
}
