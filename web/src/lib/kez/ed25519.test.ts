// SPEC §3.4 beyond ed25519-strict.json: every single-bit change of a valid signature, public
// key or message is refused (strict codecs refuse mutated encodings, STYLE habit 4).

import { describe, expect, it } from "vitest";

import { publicKeyOf, sign, utf8, verifyStrict } from "./index";

function flipped(bytes: Uint8Array, bit: number): Uint8Array {
  const out = new Uint8Array(bytes);
  out[bit >> 3] ^= 1 << (bit & 7);
  return out;
}

describe("verifyStrict", () => {
  const seed = new Uint8Array(32).fill(5);
  const key = publicKeyOf(seed);
  const message = utf8('{"type":"envelope"}');
  const signature = sign(seed, message);

  it("accepts the signature as made", () => {
    expect(verifyStrict(key, message, signature)).toBe(true);
  });

  it("refuses every one-bit change of the signature, the key and the message", () => {
    for (let bit = 0; bit < 512; bit++) {
      expect(verifyStrict(key, message, flipped(signature, bit)), `signature bit ${bit}`).toBe(
        false,
      );
    }
    for (let bit = 0; bit < 256; bit++) {
      expect(verifyStrict(flipped(key, bit), message, signature), `key bit ${bit}`).toBe(false);
    }
    for (let bit = 0; bit < 8 * message.length; bit++) {
      expect(verifyStrict(key, flipped(message, bit), signature), `message bit ${bit}`).toBe(false);
    }
  }, 120_000);

  it("refuses wrong lengths instead of throwing", () => {
    expect(verifyStrict(key, message, signature.subarray(0, 63))).toBe(false);
    expect(verifyStrict(key.subarray(0, 31), message, signature)).toBe(false);
  });
});
