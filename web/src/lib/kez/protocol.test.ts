// What a browser client does with the module, end to end and without a server: register,
// verify a handle record, seal and send, receive and open, sign credentials, delete.

import { describe, expect, it } from "vitest";

import { refusalCode } from "./test-support";

import {
  authString,
  canonicalText,
  checkDeletion,
  checkEnvelope,
  checkRegistration,
  formatPrimary,
  makeCredential,
  makeDeletion,
  makeEnvelope,
  makeRegistration,
  MAX_BODY_BYTES,
  parseObject,
  publicKeyOf,
  receiveEnvelope,
  sendBody,
  utf8,
  verifyCredential,
  verifyHandleRecord,
  type JsonObject,
} from "./index";

const alice = { seed: new Uint8Array(32).fill(21), address: "alice@a.example" };
const bob = { seed: new Uint8Array(32).fill(22), address: "bob@b.example" };
const carol = { seed: new Uint8Array(32).fill(23), address: "carol@b.example" };
const primaryOf = (p: { seed: Uint8Array }) => formatPrimary(publicKeyOf(p.seed));
const NOW = 1_764_100_000_000;

describe("registration and deletion (SPEC §4.1, §4.7)", () => {
  it("a made registration passes the server's checks, and a deletion is never a registration", async () => {
    const reg = makeRegistration(alice.seed, "alice", "a.example", NOW);
    const text = canonicalText(reg);
    expect(checkRegistration(text, "a.example", NOW + 300_000)).toEqual({
      handle: "alice",
      server: "a.example",
      primary: primaryOf(alice),
      ts: NOW,
    });
    expect(await refusalCode(() => checkRegistration(text, "b.example", NOW))).toBe("wrong_server");
    expect(await refusalCode(() => checkRegistration(text, "a.example", NOW + 300_001))).toBe(
      "stale_timestamp",
    );
    const del = canonicalText(makeDeletion(alice.seed, "alice", "a.example", NOW));
    expect(checkDeletion(del, "a.example", NOW).handle).toBe("alice");
    // Domain separation (SPEC §3.6): each type is refused where the other is expected.
    expect(await refusalCode(() => checkRegistration(del, "a.example", NOW))).toBe(
      "malformed_request",
    );
    expect(await refusalCode(() => checkDeletion(text, "a.example", NOW))).toBe(
      "malformed_request",
    );
    // Objects are made only from valid members.
    expect(await refusalCode(() => makeRegistration(alice.seed, "Alice", "a.example", NOW))).toBe(
      "invalid_handle",
    );
    expect(await refusalCode(() => makeDeletion(alice.seed, "alice", "127.0.0.1", NOW))).toBe(
      "invalid_server_name",
    );
  });

  it("a handle record is believed only when its registration binds its handle to its primary", async () => {
    const registration = makeRegistration(bob.seed, "bob", "b.example", NOW);
    const record = {
      handle: "bob",
      server: "b.example",
      address: "bob@b.example",
      primary: primaryOf(bob),
      registered_at: NOW + 412,
      registration,
    };
    const checked = verifyHandleRecord(JSON.stringify(record));
    expect(checked.primary).toBe(primaryOf(bob));
    // A server that swaps in another key (§13.4) is caught: the registration does not match.
    const swapped = { ...record, primary: primaryOf(carol) };
    expect(await refusalCode(() => verifyHandleRecord(JSON.stringify(swapped)))).toBe(
      "invalid_signature",
    );
    const forged = { ...record, registration: { ...registration, handle: "mallory" } };
    expect(await refusalCode(() => verifyHandleRecord(JSON.stringify(forged)))).toBe(
      "invalid_signature",
    );
  });
});

describe("envelopes (SPEC §6)", () => {
  it("seal, send, receive: the recipient reads the text, the id is stable across JSON forms", async () => {
    const env = await makeEnvelope(alice, "bob@b.example", primaryOf(bob), "hello <b>bob</b>", NOW);
    const body = parseObject(sendBody(env));
    expect(body.to).toBe("bob@b.example");
    const pretty = JSON.stringify(body.envelope, null, 2);
    expect(checkEnvelope(pretty, NOW).id).toBe(env.id);
    const got = await receiveEnvelope(pretty, bob);
    expect(got.text).toBe("hello <b>bob</b>");
    expect(got.envelope.id).toBe(env.id);
    expect(got.envelope.from).toBe("alice@a.example");
  });

  it("receiving verifies first, then checks the recipient, then opens", async () => {
    const env = await makeEnvelope(alice, "bob@b.example", primaryOf(bob), "hi", NOW);
    // Another recipient's client refuses it by address before trying to open it.
    expect(
      await refusalCode(() =>
        receiveEnvelope(env.object, { ...carol, address: "carol@b.example" }),
      ),
    ).toBe("wrong_recipient");
    // Addressed to carol's address but sealed for bob: it verifies, and does not open.
    const misdirected = await makeEnvelope(alice, "carol@b.example", primaryOf(bob), "hi", NOW);
    expect(await refusalCode(() => receiveEnvelope(misdirected.object, carol))).toBe(
      "decrypt_failed",
    );
    // Tampered header: the signature fails before anything is opened.
    const tampered: JsonObject = { ...env.object, ts: NOW + 1 };
    expect(await refusalCode(() => receiveEnvelope(tampered, bob))).toBe("invalid_signature");
    // Signed by someone else than from_primary claims.
    const impostor = await makeEnvelope(carol, "bob@b.example", primaryOf(bob), "hi", NOW);
    const claimed: JsonObject = { ...impostor.object, from_primary: primaryOf(alice) };
    expect(await refusalCode(() => receiveEnvelope(claimed, bob))).toBe("invalid_signature");
  });

  it("a message too long for SPEC §6.5's limit is refused before sending", async () => {
    const fits = await makeEnvelope(
      alice,
      "bob@b.example",
      primaryOf(bob),
      "x".repeat(150_000),
      NOW,
    );
    expect(utf8(sendBody(fits)).length).toBeLessThanOrEqual(MAX_BODY_BYTES);
    const big = await makeEnvelope(
      alice,
      "bob@b.example",
      primaryOf(bob),
      "x".repeat(200_000),
      NOW,
    );
    expect(await refusalCode(() => sendBody(big))).toBe("payload_too_large");
    expect(await refusalCode(() => checkEnvelope(" ".repeat(MAX_BODY_BYTES + 1), NOW))).toBe(
      "payload_too_large",
    );
  });
});

describe("credentials (SPEC §7)", () => {
  it("a credential verifies for its request within 60 s and for no other", async () => {
    const key = publicKeyOf(bob.seed);
    const poll = { kind: "poll" as const, handle: "bob", since: 41 };
    const cred = makeCredential(bob.seed, poll, NOW + 999);
    expect(cred.startsWith(`${NOW / 1000}:`)).toBe(true);
    expect(verifyCredential(cred, poll, key, NOW / 1000 + 60)).toBe(NOW / 1000);
    expect(await refusalCode(() => verifyCredential(cred, poll, key, NOW / 1000 + 61))).toBe(
      "unauthorized",
    );
    expect(
      await refusalCode(() => verifyCredential(cred, { ...poll, since: 42 }, key, NOW / 1000)),
    ).toBe("unauthorized");
    expect(
      await refusalCode(() =>
        verifyCredential(
          cred,
          { kind: "stream_cursor", handle: "bob", since: 41 },
          key,
          NOW / 1000,
        ),
      ),
    ).toBe("unauthorized");
    expect(
      await refusalCode(() => verifyCredential(cred, poll, publicKeyOf(alice.seed), NOW / 1000)),
    ).toBe("unauthorized");
    // SPEC A.3: a poll without `since` is signed as since=0.
    expect(authString({ kind: "poll", handle: "bob" }, 1767225600)).toBe(
      "GET\n/v1/inbox/bob\nsince=0\n1767225600",
    );
  });
});
