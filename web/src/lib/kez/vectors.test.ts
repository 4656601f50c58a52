// Every file of spec/vectors/ (the files the Rust crate and the Python cross-check read) through
// this module, valid and invalid cases (SPEC §14). A vector file, an array of cases in one, or
// a case kind without a handler here fails the run, so a new vector cannot be skipped silently.

import { describe, expect, it } from "vitest";

import { refusalCode } from "./test-support";

import {
  aesGcmDecrypt,
  aesGcmEncrypt,
  authString,
  canonicalText,
  checkDeletion,
  checkEnvelope,
  checkRegistration,
  checkSignedNumbers,
  concat,
  formatPrimary,
  fromBase64,
  fromHex,
  hkdfExtract,
  hkdfSha256,
  isAddress,
  isServerName,
  messageId,
  open,
  parseAddress,
  parseObject,
  parsePrimary,
  parseS2sHeader,
  parseServerName,
  parseStrict,
  publicKeyOf,
  s2sHeader,
  s2sString,
  seal,
  sign,
  signingBytes,
  toBase64,
  toHex,
  utf8,
  verifyCredential,
  verifyS2sRequest,
  verifySignature,
  verifyStrict,
  x25519PublicOf,
  x25519SecretOf,
  x25519Shared,
  type AuthRequest,
} from "./index";

// Vite reads the files at collection time; the keys are paths relative to this file.
const VECTOR_TEXTS = import.meta.glob("../../../../spec/vectors/*.json", {
  query: "?raw",
  import: "default",
  eager: true,
}) as Record<string, string>;

// A vector item: its fields as the file has them (SPEC §14 describes them).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Item = Record<string, any>;
type Check = (v: Item) => unknown;

/** Hex of the file, or a failure naming the field. */
function hex(v: Item, field: string): Uint8Array {
  const bytes = fromHex(v[field]);
  if (bytes === null) throw new Error(`vector field ${field} is not lowercase hex`);
  return bytes;
}

/** Valid items must pass `run`, invalid ones fail it with their `error`. */
async function judged(v: Item, run: () => unknown): Promise<void> {
  const code = await refusalCode(run);
  if (v.valid === false) expect(code, "error code").toBe(v.error);
  else expect(code, "refused a valid vector").toBeNull();
}

const x25519Base = fromHex("09".padEnd(64, "0")) as Uint8Array;

const authRequest = (v: Item): AuthRequest => {
  switch (v.kind) {
    case "poll":
      return { kind: "poll", handle: v.handle, since: v.cursor };
    case "stream_live":
      return { kind: "stream_live", handle: v.handle };
    case "stream_cursor":
      return { kind: "stream_cursor", handle: v.handle, since: v.cursor };
    case "ack":
      return { kind: "ack", handle: v.handle, through: v.cursor };
    case "status":
      return { kind: "status", messageId: v.message_id };
    default:
      throw new Error(`credential kind ${v.kind} has no handler`);
  }
};

/** Registration-shaped checks at a server and time: SPEC §4.1, and §4.7 for deletions. */
const accountCheck =
  (check: typeof checkRegistration): Check =>
  (v) =>
    judged(v, () => check(v.object_text, v.server, v.now_ms));

/** For each vector file, a check for each of its arrays of cases. */
const HANDLERS: Record<string, Record<string, Check>> = {
  "rfc8032-ed25519.json": {
    vectors: (v) => {
      const seed = hex(v, "secret_key");
      expect(toHex(publicKeyOf(seed))).toBe(v.public_key);
      expect(toHex(sign(seed, hex(v, "message")))).toBe(v.signature);
      expect(verifyStrict(hex(v, "public_key"), hex(v, "message"), hex(v, "signature"))).toBe(true);
    },
  },
  "rfc7748-x25519.json": {
    scalar_mult: (v) => expect(toHex(x25519Shared(hex(v, "scalar"), hex(v, "u")))).toBe(v.output),
    iterated: (v) => {
      let k = x25519Base;
      let u = x25519Base;
      for (let i = 0; i < v.iterations; i++) [k, u] = [x25519Shared(k, u), k];
      expect(toHex(k)).toBe(v.output);
    },
    diffie_hellman: (v) => {
      expect(toHex(x25519Shared(hex(v, "alice_private"), x25519Base))).toBe(v.alice_public);
      expect(toHex(x25519Shared(hex(v, "bob_private"), x25519Base))).toBe(v.bob_public);
      expect(toHex(x25519Shared(hex(v, "alice_private"), hex(v, "bob_public")))).toBe(v.shared);
      expect(toHex(x25519Shared(hex(v, "bob_private"), hex(v, "alice_public")))).toBe(v.shared);
    },
  },
  "rfc5869-hkdf-sha256.json": {
    vectors: (v) => {
      expect(toHex(hkdfExtract(hex(v, "ikm"), hex(v, "salt")))).toBe(v.prk);
      expect(toHex(hkdfSha256(hex(v, "ikm"), hex(v, "salt"), hex(v, "info"), v.length))).toBe(
        v.okm,
      );
    },
  },
  "rfc8785-jcs.json": {
    vectors: (v) =>
      judged(v, () => {
        if (v.valid !== false)
          expect(canonicalText(parseStrict(v.input_text))).toBe(v.canonical_text);
        else parseStrict(v.input_text);
      }),
  },
  "aes256gcm.json": {
    vectors: async (v) => {
      const [key, iv, aad, sealed] = [
        hex(v, "key"),
        hex(v, "iv"),
        hex(v, "aad"),
        concat(hex(v, "ct"), hex(v, "tag")),
      ];
      if (v.valid !== false)
        expect(toHex(await aesGcmEncrypt(key, iv, hex(v, "msg"), aad))).toBe(toHex(sealed));
      await judged(v, async () =>
        expect(toHex(await aesGcmDecrypt(key, iv, sealed, aad))).toBe(v.msg),
      );
    },
  },
  "ed25519-strict.json": {
    vectors: (v) => {
      const ok = verifyStrict(hex(v, "public_key"), hex(v, "message"), hex(v, "signature"));
      expect(ok, v.reason).toBe(v.valid);
      if (!v.valid) expect(v.error).toBe("invalid_signature");
    },
  },
  "kez-identities.json": {
    identities: (v) => {
      const seed = hex(v, "seed");
      expect(formatPrimary(publicKeyOf(seed))).toBe(v.primary);
      const pub = parsePrimary(v.primary);
      expect(toHex(x25519SecretOf(seed))).toBe(v.x25519_secret);
      expect(toHex(x25519PublicOf(pub))).toBe(v.x25519_public);
      expect(toHex(x25519Shared(x25519SecretOf(seed), x25519Base))).toBe(v.x25519_public);
    },
    invalid_primaries: async (v) =>
      expect(await refusalCode(() => parsePrimary(v.primary))).toBe(v.error),
  },
  "kez-signed-objects.json": {
    vectors: (v) =>
      judged(v, () => {
        const object = parseObject(v.object_text);
        checkSignedNumbers(object);
        if (v.signing_text !== undefined)
          expect(new TextDecoder().decode(signingBytes(object))).toBe(v.signing_text);
        verifySignature(object, hex(v, "public_key"), object.type === "server");
      }),
  },
  "kez-registration.json": { vectors: accountCheck(checkRegistration) },
  "kez-deletion.json": { vectors: accountCheck(checkDeletion) },
  "kez-envelope.json": {
    vectors: async (v) => {
      if (v.message_id !== undefined)
        expect(messageId(parseObject(v.object_text))).toBe(v.message_id);
      await judged(v, () => expect(checkEnvelope(v.object_text, v.now_ms).id).toBe(v.message_id));
    },
  },
  "kez-auth.json": {
    vectors: (v) => {
      const request = authRequest(v);
      expect(authString(request, v.ts)).toBe(v.string_text);
      return judged(v, () =>
        expect(verifyCredential(v.credential, request, hex(v, "public_key"), v.now)).toBe(v.ts),
      );
    },
  },
  "kez-seal.json": {
    vectors: async (v) => {
      const [sender, recipient, nonce] = [
        hex(v, "sender_seed"),
        hex(v, "recipient_seed"),
        hex(v, "nonce"),
      ];
      if (v.valid !== false) {
        const sealed = await seal(
          sender,
          parsePrimary(v.recipient_primary),
          hex(v, "plaintext"),
          nonce,
        );
        expect(toBase64(sealed.ciphertext)).toBe(v.ciphertext_b64);
      }
      await judged(v, async () => {
        const ciphertext = fromBase64(v.ciphertext_b64);
        expect(ciphertext, "ciphertext_b64 is canonical base64").not.toBeNull();
        const opened = await open(recipient, publicKeyOf(sender), nonce, ciphertext as Uint8Array);
        expect(toHex(opened)).toBe(v.plaintext);
      });
    },
  },
  "kez-s2s.json": {
    vectors: (v) => {
      const seed = hex(v, "server_seed");
      const request = {
        method: v.method,
        path: v.path,
        origin: v.origin,
        destination: v.destination,
        keyId: v.key_id,
        ts: v.ts,
        body: utf8(v.body_text),
      };
      // The string is the request's whenever the header names this request (SPEC §9.3).
      if (v.valid) {
        expect(s2sString(request)).toBe(v.string_text);
        const sent = s2sHeader(request, seed);
        expect(parseS2sHeader(v.header_text)).toEqual(parseS2sHeader(sent));
      }
      return judged(v, () =>
        verifyS2sRequest(v.header_text, request, {
          me: v.destination,
          nowS: v.now,
          trustedKey: (origin, keyId) =>
            origin === v.origin && keyId === v.key_id ? publicKeyOf(seed) : null,
        }),
      );
    },
  },
  "kez-server-names.json": {
    server_names: (v) => {
      expect(isServerName(v.server_name)).toBe(v.valid);
      return judged(v, () => parseServerName(v.server_name));
    },
    addresses: (v) => {
      expect(isAddress(v.address)).toBe(v.valid);
      return judged(v, () => parseAddress(v.address));
    },
  },
};

/**
 * A per-case time limit far above what a case needs (the 1,000 X25519 iterations take about a
 * second), so a busy machine does not fail a correct check; a hang still fails.
 */
const SLOW_MACHINE_MS = 60_000;

/** Top-level members of a vector file that are about the file, not cases (SPEC §14). */
const FILE_FIELDS = new Set(["description", "spec", "source"]);

const TEXTS = new Map(
  Object.entries(VECTOR_TEXTS).map(([path, text]) => [path.split("/").pop() as string, text]),
);
const files = [...TEXTS.keys()].sort();

describe("spec/vectors", () => {
  it("has the files this test knows, and this test handles every file", () => {
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(Object.keys(HANDLERS), `no handler for ${f}`).toContain(f);
    for (const f of Object.keys(HANDLERS).filter((name) => name !== "kez-deletion.json")) {
      expect(files, `vector file ${f} is missing`).toContain(f);
    }
  });

  for (const file of files) {
    const doc = JSON.parse(TEXTS.get(file) as string) as Item;
    const handlers = HANDLERS[file] ?? {};
    describe(file, () => {
      it("has a handler for each array of cases", () => {
        for (const [key, value] of Object.entries(doc)) {
          if (FILE_FIELDS.has(key)) continue;
          expect(Array.isArray(value), `${key} is not an array of cases`).toBe(true);
          expect(Object.keys(handlers), `no handler for ${file}: ${key}`).toContain(key);
        }
      });
      for (const [key, check] of Object.entries(handlers)) {
        for (const v of (doc[key] ?? []) as Item[]) {
          it(
            `${key}: ${v.name}`,
            async () => {
              if (v.valid === false)
                expect(typeof v.error, "an invalid case names its error").toBe("string");
              await check(v);
            },
            SLOW_MACHINE_MS,
          );
        }
      }
    });
  }
});
