// SPEC §1's encodings and §3.3's parser against what a lax reader accepts: canonical base64
// and lowercase hex only, and the strict parser agreeing with JSON.parse on every text both
// accept.

import { describe, expect, it } from "vitest";

import { canonicalText, fromBase64, fromHex, parseStrict, toBase64, toHex } from "./index";

describe("hex and base64", () => {
  it("round-trip every length, and refuse every other spelling", () => {
    for (let n = 0; n < 40; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255);
      expect(fromBase64(toBase64(bytes))).toEqual(bytes);
      expect(fromHex(toHex(bytes))).toEqual(bytes);
      expect(toBase64(bytes)).toBe(btoa(String.fromCharCode(...bytes)));
    }
    // Nonzero unused bits, missing or extra padding, whitespace, the URL alphabet.
    for (const bad of ["QR==", "QUI=x", "QUJ=", "QQ", "QQ=", "QQ===", "QU I=", "QUI=\n", "-_8="]) {
      expect(fromBase64(bad), bad).toBeNull();
    }
    expect(fromBase64("QQ==")).toEqual(Uint8Array.of(0x41));
    for (const bad of ["AB", "0", "0g", " 00"]) expect(fromHex(bad), bad).toBeNull();
    expect(fromHex("00ff", 3)).toBeNull();
  });
});

/** A random JSON value with the kinds of members signed objects carry. */
function randomValue(rand: () => number, depth: number): unknown {
  const pick = Math.floor(rand() * (depth > 3 ? 5 : 7));
  const strings = ["", "a", "é", "😀", '"\\/\n\t', "\u0000\u001f", "\u2028", "ﬀ"];
  switch (pick) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2:
      return Math.floor((rand() - 0.5) * 2 ** 53);
    case 3:
      return (rand() - 0.5) * 10 ** Math.floor(rand() * 40 - 20);
    case 4:
      return strings[Math.floor(rand() * strings.length)] + String(Math.floor(rand() * 100));
    case 5:
      return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = Math.floor(rand() * 4); i > 0; i--) {
        out[strings[Math.floor(rand() * strings.length)] + i] = randomValue(rand, depth + 1);
      }
      return out;
    }
  }
}

describe("parseStrict", () => {
  it("reads what JSON.parse reads, in compact and spaced forms, and canonicalises the same", () => {
    // A fixed linear congruential generator: the same 500 documents on every run.
    let state = 12345;
    const rand = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 500; i++) {
      const value = randomValue(rand, 0);
      for (const text of [JSON.stringify(value), JSON.stringify(value, null, "\t")]) {
        const parsed = parseStrict(text);
        expect(parsed).toEqual(JSON.parse(text));
        expect(canonicalText(parsed)).toBe(canonicalText(JSON.parse(text)));
      }
    }
  });
});
