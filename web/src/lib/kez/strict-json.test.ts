// SPEC §3.3 beyond the vectors: what JSON.parse would get wrong, and the number rule applied to
// a signed object wherever it sits in a document.

import { describe, expect, it } from "vitest";

import { refusalCode } from "./test-support";

import {
  canonicalText,
  checkSignedNumbers,
  parseObject,
  parseStrict,
  type JsonObject,
  type JsonValue,
} from "./index";

describe("strict JSON", () => {
  it("keeps __proto__ as an ordinary member, signed and canonicalised like any other", async () => {
    const obj = parseObject('{"__proto__":{"x":1},"a":2}');
    expect(Object.keys(obj)).toEqual(["__proto__", "a"]);
    expect(canonicalText(obj)).toBe('{"__proto__":{"x":1},"a":2}');
    expect(await refusalCode(() => parseObject('{"__proto__":1,"__proto__":2}'))).toBe(
      "duplicate_member",
    );
  });

  it("refuses invalid UTF-8, a byte-order mark, control characters, bad escapes and deep nesting", async () => {
    expect(await refusalCode(() => parseStrict(new Uint8Array([0x7b, 0xff, 0x7d])))).toBe(
      "malformed_request",
    );
    expect(
      await refusalCode(() => parseStrict(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]))),
    ).toBe("malformed_request");
    expect(await refusalCode(() => parseStrict('"a\nb"'))).toBe("malformed_request");
    expect(await refusalCode(() => parseStrict('"\\x41"'))).toBe("malformed_request");
    expect(await refusalCode(() => parseStrict("[01]"))).toBe("malformed_request");
    expect(await refusalCode(() => parseStrict("1e400"))).toBe("malformed_request");
    expect(await refusalCode(() => parseStrict("[".repeat(200) + "]".repeat(200)))).toBe(
      "malformed_request",
    );
    expect(await refusalCode(() => parseStrict("[".repeat(100) + "]".repeat(100)))).toBeNull();
    expect(parseStrict(' {"a":"\\ud83d\\ude00"} ')).toEqual({ a: "😀" });
  });

  it("applies the signed-object number rule at any depth, also inside a larger document", async () => {
    const ok: JsonValue = parseStrict('{"a":[0,-9007199254740991,{"b":9007199254740991}]}');
    expect(await refusalCode(() => checkSignedNumbers(ok))).toBeNull();
    for (const bad of [
      '{"a":1.0}',
      '{"a":[1e3]}',
      '{"a":{"b":-0}}',
      '{"a":9007199254740992}',
      '{"a":[0.5]}',
    ]) {
      const doc = parseObject(`{"outer":${bad}}`);
      // The unsigned outer document parses; the signed object inside it is refused.
      expect(await refusalCode(() => checkSignedNumbers(doc.outer as JsonObject))).toBe(
        "malformed_request",
      );
    }
    // Objects made in memory are held to the same rule.
    expect(await refusalCode(() => checkSignedNumbers({ n: 0.5 }))).toBe("malformed_request");
    expect(await refusalCode(() => checkSignedNumbers({ n: -0 }))).toBe("malformed_request");
  });
});
