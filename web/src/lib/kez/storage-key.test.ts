// The data-at-rest key: the same passphrase finds the same key from the stored parameters, a
// wrong one is told apart, and records are bound to their key and their context.

import { describe, expect, it } from "vitest";

import { refusalCode } from "./test-support";

import {
  createStorageKey,
  deriveStorageKey,
  openRecord,
  sealRecord,
  type Argon2Costs,
} from "./index";

/** Small costs: the KDF itself is Argon2id as in the key file, tested there at full cost. */
const QUICK: Argon2Costs = { m_cost: 64, t_cost: 1, p_cost: 1 };

describe("storage key", () => {
  it("derives the same key again, and refuses a wrong passphrase", async () => {
    const { key, params } = await createStorageKey("open sesame", QUICK);
    const record = await sealRecord(key, { text: "hello", n: 1 }, "messages/1");
    // What IndexedDB would store and give back: the parameters and the record, cloned.
    const stored = structuredClone({ params, record });
    const again = await deriveStorageKey("open sesame", stored.params);
    expect(await openRecord(again.key, stored.record, "messages/1")).toEqual({
      text: "hello",
      n: 1,
    });
    expect(await refusalCode(() => deriveStorageKey("open sesame!", stored.params))).toBe(
      "wrong_passphrase",
    );
  });

  it("binds records to their context and refuses altered ones", async () => {
    const { key } = await createStorageKey("pw", QUICK);
    const other = await createStorageKey("pw", QUICK);
    const record = await sealRecord(key, ["a"], "messages/1");
    expect(await refusalCode(() => openRecord(key, record, "messages/2"))).toBe("decrypt_failed");
    expect(await refusalCode(() => openRecord(other.key, record, "messages/1"))).toBe(
      "decrypt_failed",
    );
    const flipped = {
      ...record,
      ciphertext: record.ciphertext.map((b, i) => (i === 0 ? b ^ 1 : b)),
    };
    expect(await refusalCode(() => openRecord(key, flipped, "messages/1"))).toBe("decrypt_failed");
    // Two seals of one value differ (fresh nonces).
    const twice = await sealRecord(key, ["a"], "messages/1");
    expect(twice.nonce).not.toEqual(record.nonce);
  });

  it("refuses parameters it did not write", async () => {
    const { params } = await createStorageKey("pw", QUICK);
    expect(await refusalCode(() => deriveStorageKey("pw", { ...params, version: 2 }))).toBe(
      "kdf_parameters",
    );
    expect(await refusalCode(() => deriveStorageKey("pw", { ...params, m_cost: 1 << 30 }))).toBe(
      "kdf_parameters",
    );
  });
});
