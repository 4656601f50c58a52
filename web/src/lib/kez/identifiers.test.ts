// SPEC §2 beyond the vectors: the handle rules in words, reserved handles, and the
// normalisation of what a person types.

import { describe, expect, it } from "vitest";

import { refusalCode } from "./test-support";

import {
  handleProblem,
  isHandle,
  isReservedHandle,
  normalizeServerName,
  parseAddressInput,
} from "./index";

describe("handles", () => {
  it("says which rule a handle breaks, and nothing for a valid one", () => {
    for (const ok of ["a", "alice", "a.b", "a_b-c", "0", "x".repeat(32)]) {
      expect(handleProblem(ok), ok).toBeNull();
      expect(isHandle(ok)).toBe(true);
    }
    for (const [bad, words] of [
      ["", "at least one"],
      ["x".repeat(33), "at most 32"],
      ["Alice", "lowercase"],
      ["al ice", "only"],
      ["_a", "start"],
      ["a.", "end"],
      ["a..b", "in a row"],
    ]) {
      expect(handleProblem(bad), bad).toContain(words);
      expect(isHandle(bad)).toBe(false);
    }
    expect(isReservedHandle("admin")).toBe(true);
    expect(isReservedHandle("alice")).toBe(false);
  });
});

describe("typed input", () => {
  it("normalises server names: trim, lowercase, A-labels, one trailing dot", () => {
    expect(normalizeServerName("  Kez.Lat. ")).toBe("kez.lat");
    expect(normalizeServerName("Bücher.example")).toBe("xn--bcher-kva.example");
    expect(normalizeServerName("localhost:6969")).toBe("localhost:6969");
    for (const bad of ["127.0.0.1", "kez.lat..", "[::1]", "a b"]) {
      expect(() => normalizeServerName(bad), bad).toThrow();
    }
  });

  it("reads `bob` as a user of the home server and `Bob@Other.Example` as written", async () => {
    expect(parseAddressInput(" bob ", "kez.lat")).toEqual({ handle: "bob", server: "kez.lat" });
    expect(parseAddressInput("Bob@Other.Example.", "kez.lat")).toEqual({
      handle: "bob",
      server: "other.example",
    });
    for (const bad of ["", "bob@", "bob@127.0.0.1", "b..b", "a@b@c"]) {
      expect(await refusalCode(() => parseAddressInput(bad, "kez.lat")), bad).toBe(
        "invalid_address",
      );
    }
  });
});
