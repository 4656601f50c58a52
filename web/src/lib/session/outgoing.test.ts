import { describe, expect, it } from "vitest";
import { sendFailure } from "./outgoing";

describe("sendFailure", () => {
  it("keeps an unanswered send to be sent again", () => {
    expect(sendFailure("network", false)).toBeNull();
    expect(sendFailure("unavailable", true)).toBeNull();
  });

  it("names a resend refused for its age apart from a wrong clock", () => {
    expect(sendFailure("stale_timestamp", true)).toBe("send_expired");
    expect(sendFailure("stale_timestamp", false)).toBe("stale_timestamp");
  });

  it("fails on any other refusal, with its code", () => {
    expect(sendFailure("unknown_recipient", true)).toBe("unknown_recipient");
    expect(sendFailure("rate_limited", false)).toBe("rate_limited");
  });
});
