// The identities kept in this browser. Each row holds what the unlock screen shows (the
// address), the kez-identity key file (its seed encrypted under the passphrase, as kezctl
// writes it) for export, and the parameters of the storage key (salt, costs and a check
// value; no secret) under which the identity's seed and history are sealed.
import type { StorageParams } from "../protocol";
import { getAll, put } from "./db";

export interface DeviceIdentity {
  primary: string;
  handle: string;
  server: string;
  address: string;
  /** The kez-identity v1 key file, as exported. */
  keyFile: string;
  /** The public parameters of the storage key's derivation. */
  storage: StorageParams;
  createdAt: number;
}

export const listIdentities = () =>
  getAll<DeviceIdentity>("identities").then((all) => all.sort((a, b) => a.createdAt - b.createdAt));

export const saveIdentity = (identity: DeviceIdentity) => put("identities", identity);
