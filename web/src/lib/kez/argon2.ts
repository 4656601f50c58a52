//! Passphrase → 32-byte key with Argon2id (version 0x13, RFC 9106) through hash-wasm: the KDF of
//! the `kez-identity` key file and of data at rest. The costs travel with what they protect, so
//! they are checked before use: a file must not make the browser allocate gigabytes.

import { argon2id } from "hash-wasm";

import { utf8 } from "./bytes";
import { KezError } from "./errors";

/** Argon2id costs as the key file records them. */
export interface Argon2Costs {
  /** Memory, KiB. */
  m_cost: number;
  /** Passes. */
  t_cost: number;
  /** Lanes. */
  p_cost: number;
}

/** What kezctl writes: 64 MiB, 3 passes, 1 lane (RFC 9106 §4's second recommendation). */
export const DEFAULT_COSTS: Argon2Costs = { m_cost: 64 * 1024, t_cost: 3, p_cost: 1 };

/** The largest costs accepted when reading, kezctl's limits: 1 GiB, 32 passes, 16 lanes. */
export const MAX_COSTS: Argon2Costs = { m_cost: 1024 * 1024, t_cost: 32, p_cost: 16 };

/** `kdf_parameters` unless the costs are integers Argon2 accepts and within MAX_COSTS. */
export function checkCosts(c: Argon2Costs): void {
  const ints = [c.m_cost, c.t_cost, c.p_cost].every((n) => Number.isSafeInteger(n) && n >= 1);
  if (
    !ints ||
    c.m_cost > MAX_COSTS.m_cost ||
    c.t_cost > MAX_COSTS.t_cost ||
    c.p_cost > MAX_COSTS.p_cost
  ) {
    throw new KezError("kdf_parameters", "costs out of range");
  }
  // Argon2 needs at least 8 KiB per lane.
  if (c.m_cost < 8 * c.p_cost) throw new KezError("kdf_parameters", "m_cost below 8 × p_cost");
}

/** The 32-byte Argon2id key of `passphrase` (UTF-8) with `salt` and `costs`. */
export async function argon2idKey(
  passphrase: string,
  salt: Uint8Array,
  costs: Argon2Costs,
): Promise<Uint8Array> {
  checkCosts(costs);
  return argon2id({
    password: utf8(passphrase),
    salt,
    memorySize: costs.m_cost,
    iterations: costs.t_cost,
    parallelism: costs.p_cost,
    hashLength: 32,
    outputType: "binary",
  });
}
