// The app's use of the KEZ protocol module (./kez): the few operations a session performs,
// named for what the app does with them. All cryptography is the module's.
import * as kez from "./kez";

export type StorageKey = kez.StorageKey;
export type StorageParams = kez.StorageParams;

/** A fresh identity key, generated in this browser. */
export function newSeed(): { seed: Uint8Array; primary: string } {
  const seed = kez.newSeed();
  return { seed, primary: kez.formatPrimary(kez.publicKeyOf(seed)) };
}

export function signRegistration(seed: Uint8Array, handle: string, server: string): kez.JsonObject {
  return kez.makeRegistration(seed, handle, server, Date.now());
}

export function signDeletion(seed: Uint8Array, identity: { handle: string; server: string }): kez.JsonObject {
  return kez.makeDeletion(seed, identity.handle, identity.server, Date.now());
}

/** The kez-identity v1 key file, encrypted under `passphrase` as kezctl writes it. */
export function writeKeyFile(
  seed: Uint8Array,
  passphrase: string,
  meta: { name: string; address: string; serverUrl: string },
): Promise<string> {
  const primary = kez.formatPrimary(kez.publicKeyOf(seed));
  return kez.exportKeyFile(
    { name: meta.name, seed, primary, createdAt: Date.now(), home: { address: meta.address, serverUrl: meta.serverUrl } },
    passphrase,
  );
}

/** Opens a key file: its seed, primary and address (null when never registered). */
export async function openKeyFile(
  text: string,
  passphrase: string,
): Promise<{ seed: Uint8Array; primary: string; address: string | null }> {
  const identity = await kez.importKeyFile(text, passphrase);
  return { seed: identity.seed, primary: identity.primary, address: identity.home?.address ?? null };
}

export const newStorageKey = (passphrase: string) => kez.createStorageKey(passphrase);
export const storageKey = (passphrase: string, params: StorageParams) => kez.deriveStorageKey(passphrase, params);
export const sealRecord = (key: StorageKey, value: unknown, context: string) => kez.sealRecord(key.key, value, context);
export const openRecord = <T>(key: StorageKey, sealed: kez.SealedRecord, context: string) =>
  kez.openRecord<T>(key.key, sealed, context);

export const streamCredential = (seed: Uint8Array, handle: string, since: number) =>
  kez.makeCredential(seed, { kind: "stream_cursor", handle, since });
export const ackCredential = (seed: Uint8Array, handle: string, through: number) =>
  kez.makeCredential(seed, { kind: "ack", handle, through });
export const statusCredential = (seed: Uint8Array, messageId: string) =>
  kez.makeCredential(seed, { kind: "status", messageId });

/** What a person typed as a chat partner, as the address to look up. */
export function addressInput(input: string, homeServer: string): string {
  return kez.formatAddress(kez.parseAddressInput(input, homeServer));
}

/** Seals `text` for `to`: the send body (size-checked, SPEC §6.5), the message id and time. */
export async function seal(
  seed: Uint8Array,
  me: { address: string },
  to: string,
  toPrimary: string,
  text: string,
): Promise<{ body: string; id: string; ts: number }> {
  const envelope = await kez.makeEnvelope({ seed, address: me.address }, to, toPrimary, text, Date.now());
  return { body: kez.sendBody(envelope), id: envelope.id, ts: envelope.ts };
}

/** One inbox item (SPEC §8.2) read strictly from its JSON text. */
export function parseInboxItem(data: string): { seq: number; id: string; receivedAt: number; envelope: kez.JsonObject } {
  const item = kez.parseObject(data);
  const { seq, id, received_at: receivedAt, envelope } = item;
  if (typeof seq !== "number" || typeof id !== "string" || typeof receivedAt !== "number" || !kez.isObject(envelope)) {
    throw new kez.KezError("malformed_request", "not an inbox item");
  }
  return { seq, id, receivedAt, envelope };
}

/**
 * A handle record's binding, checked here rather than taken from the server: its registration
 * must be signed by its primary for the same handle and server (SPEC §4.2, §13.4), and it must
 * be the record of the address asked for.
 */
export function verifiedRecord(raw: unknown, asked: string): { address: string; primary: string } {
  const record = kez.verifyHandleRecord(raw as kez.JsonObject);
  if (record.address !== asked) throw new kez.KezError("invalid_signature", "a record for another address");
  return { address: record.address, primary: record.primary };
}

/** Verifies and opens an envelope addressed to `me` (SPEC §6.6). */
export async function open(
  envelope: kez.JsonObject,
  seed: Uint8Array,
  me: string,
): Promise<{ text: string; from: string; fromPrimary: string; ts: number }> {
  const received = await kez.receiveEnvelope(envelope, { seed, address: me });
  return {
    text: received.text ?? "",
    from: received.envelope.from,
    fromPrimary: received.envelope.fromPrimary,
    ts: received.envelope.ts,
  };
}

export { handleProblem, isReservedHandle } from "./kez";
