// Bringing an identity onto this device: created here (key generated in the browser, then
// registered), or imported from a kez-identity key file (as `kezctl keys export` writes it).
// Either way the device keeps the key file, encrypted under the passphrase, and a storage key
// derived from the same passphrase seals the history.
import { ApiError } from "./api/http";
import { lookup, register } from "./api/users";
import * as protocol from "./protocol";
import { saveIdentity, type DeviceIdentity } from "./store/device";
import { Session } from "./session/session.svelte";

/** Registers `handle` here for a fresh key; the key is kept only once the server accepted it. */
export async function createIdentity(
  server: string,
  handle: string,
  passphrase: string,
  token: string,
): Promise<Session> {
  const { seed, primary } = protocol.newSeed();
  const registration = protocol.signRegistration(seed, handle, server);
  await register(registration, token.trim() || undefined);
  const address = `${handle}@${server}`;
  const keyFile = await protocol.writeKeyFile(seed, passphrase, { name: handle, address, serverUrl: location.origin });
  return keep({ primary, handle, server, address, keyFile }, seed, passphrase);
}

/**
 * Imports a key file registered on this server. Throws `wrong_passphrase`, a key file code,
 * `other_server` (its address is elsewhere: the browser talks only to its home server),
 * `not_registered`, or `key_mismatch` (the server names another key for that handle).
 */
export async function importIdentity(server: string, text: string, passphrase: string): Promise<Session> {
  const opened = await protocol.openKeyFile(text, passphrase);
  if (opened.address === null) throw new ApiError(0, "not_registered");
  const [handle, home] = opened.address.split("@");
  if (home !== server) throw new ApiError(0, "other_server");
  const record = await lookup(handle);
  if (record.primary !== opened.primary) throw new ApiError(0, "key_mismatch");
  return keep({ primary: opened.primary, handle, server, address: opened.address, keyFile: text }, opened.seed, passphrase);
}

async function keep(
  base: Omit<DeviceIdentity, "storage" | "createdAt">,
  seed: Uint8Array,
  passphrase: string,
): Promise<Session> {
  const key = await protocol.newStorageKey(passphrase);
  const identity: DeviceIdentity = { ...base, storage: key.params, createdAt: Date.now() };
  return Session.create(identity, seed, key, () => saveIdentity(identity));
}
