//! Strict JSON (SPEC §3.3). Signatures cover the JCS bytes of what was received, so parsing
//! must not paper over ambiguity the way `JSON.parse` does: it keeps the last of two members
//! with one name, reads `1.0` as `1` and cannot say afterwards which was written. This parser
//! refuses duplicate names at any depth (after unescaping), trailing bytes, invalid UTF-8 and
//! lone surrogates, and remembers which containers held a number spelled with a fraction or an
//! exponent, so that `checkSignedNumbers` can apply §3.3's integer rule to a signed object
//! found anywhere in a document.

import { fromUtf8 } from "./bytes";
import { KezError } from "./errors";

/** A parsed JSON value. Objects have no prototype, so `__proto__` is an ordinary member. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
/** A parsed JSON object. */
export type JsonObject = { [name: string]: JsonValue };

/** Containers that directly hold a number written with a fraction or an exponent. */
const spelledAsFloat = new WeakSet<object>();

/** Nesting deeper than this is refused rather than risking the stack (serde_json's limit). */
const MAX_DEPTH = 128;

/** Parses one JSON text (a string, or UTF-8 bytes) strictly. */
export function parseStrict(input: string | Uint8Array): JsonValue {
  const text = typeof input === "string" ? input : fromUtf8(input);
  if (text === null) throw new KezError("malformed_request", "invalid UTF-8");
  if (LONE_SURROGATE.test(text)) throw new KezError("malformed_request", "lone surrogate");
  const parser = new Parser(text);
  parser.skipSpace();
  const value = parser.value(0);
  parser.skipSpace();
  if (parser.at < text.length) parser.fail("bytes after the JSON value");
  return value;
}

/** Parses one JSON text that must be an object. */
export function parseObject(input: string | Uint8Array): JsonObject {
  const value = parseStrict(input);
  if (!isObject(value)) throw new KezError("malformed_request", "expected a JSON object");
  return value;
}

/** Whether `value` is a JSON object (not an array, not null). */
export function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * SPEC §3.3's number rule for a signed object: every number at any depth is an integer within
 * ±(2^53 − 1), written without fraction or exponent, and not `-0`.
 */
export function checkSignedNumbers(value: JsonValue): void {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || Object.is(value, -0)) {
      throw new KezError("malformed_request", `${value} is not an integer within ±(2^53 − 1)`);
    }
  } else if (typeof value === "object" && value !== null) {
    if (spelledAsFloat.has(value)) {
      throw new KezError("malformed_request", "a number written with a fraction or exponent");
    }
    for (const item of Array.isArray(value) ? value : Object.values(value)) {
      checkSignedNumbers(item);
    }
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

class Parser {
  at = 0;
  constructor(private readonly text: string) {}

  fail(why: string): never {
    throw new KezError("malformed_request", `invalid JSON at ${this.at}: ${why}`);
  }

  skipSpace(): void {
    while (this.at < this.text.length && " \t\n\r".includes(this.text[this.at])) this.at++;
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail("nested too deeply");
    const c = this.text[this.at];
    if (c === "{") return this.object(depth);
    if (c === "[") return this.array(depth);
    if (c === '"') return this.string();
    for (const [word, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return v;
      }
    }
    return this.number(null);
  }

  /** A number; `container` is marked when the token has a fraction or an exponent. */
  number(container: object | null): number {
    NUMBER.lastIndex = this.at;
    const m = NUMBER.exec(this.text);
    if (!m) this.fail("expected a value");
    this.at += m[0].length;
    const n = Number(m[0]);
    if (!Number.isFinite(n)) this.fail("number out of range");
    if (container && (m[1] !== undefined || m[2] !== undefined)) spelledAsFloat.add(container);
    return n;
  }

  /** A member value or array item: numbers are read here so their container can be marked. */
  item(container: object, depth: number): JsonValue {
    const c = this.text[this.at];
    return c === "-" || (c >= "0" && c <= "9") ? this.number(container) : this.value(depth + 1);
  }

  object(depth: number): JsonObject {
    const out: JsonObject = Object.create(null);
    this.at++;
    this.skipSpace();
    if (this.text[this.at] === "}") {
      this.at++;
      return out;
    }
    for (;;) {
      if (this.text[this.at] !== '"') this.fail("expected a member name");
      const name = this.string();
      if (Object.hasOwn(out, name)) {
        throw new KezError("duplicate_member", `duplicate member ${JSON.stringify(name)}`);
      }
      this.skipSpace();
      if (this.text[this.at] !== ":") this.fail("expected ':'");
      this.at++;
      this.skipSpace();
      Object.defineProperty(out, name, {
        value: this.item(out, depth),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.skipSpace();
      const c = this.text[this.at++];
      if (c === "}") return out;
      if (c !== ",") this.fail("expected ',' or '}'");
      this.skipSpace();
    }
  }

  array(depth: number): JsonValue[] {
    const out: JsonValue[] = [];
    this.at++;
    this.skipSpace();
    if (this.text[this.at] === "]") {
      this.at++;
      return out;
    }
    for (;;) {
      out.push(this.item(out, depth));
      this.skipSpace();
      const c = this.text[this.at++];
      if (c === "]") return out;
      if (c !== ",") this.fail("expected ',' or ']'");
      this.skipSpace();
    }
  }

  string(): string {
    this.at++;
    let out = "";
    for (;;) {
      const c = this.text[this.at++];
      if (c === undefined) this.fail("unterminated string");
      if (c === '"') break;
      if (c < " ") this.fail("control character in a string");
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = this.text[this.at++];
      if (e === "u") {
        out += this.unicodeEscape();
      } else if (e !== undefined && Object.hasOwn(ESCAPES, e)) {
        out += ESCAPES[e];
      } else {
        this.fail("invalid escape");
      }
    }
    return out;
  }

  /** The character of a `\u` escape; a surrogate must be one half of an escaped pair. */
  unicodeEscape(): string {
    const hi = this.hex4();
    if (hi >= 0xdc00 && hi <= 0xdfff) this.fail("lone low surrogate");
    if (hi < 0xd800 || hi > 0xdbff) return String.fromCharCode(hi);
    if (this.text.slice(this.at, this.at + 2) !== "\\u") this.fail("lone high surrogate");
    this.at += 2;
    const lo = this.hex4();
    if (lo < 0xdc00 || lo > 0xdfff) this.fail("lone high surrogate");
    return String.fromCharCode(hi, lo);
  }

  hex4(): number {
    const digits = this.text.slice(this.at, this.at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) this.fail("invalid \\u escape");
    this.at += 4;
    return parseInt(digits, 16);
  }
}

/** A received JSON object: its text, its UTF-8 bytes, or the object `parseStrict` made of it. */
export type Received = string | Uint8Array | JsonObject;

/** The object of a received input, parsed strictly when it is text or bytes. */
export function objectOf(input: Received): JsonObject {
  return typeof input === "string" || input instanceof Uint8Array ? parseObject(input) : input;
}
