// One identity's encrypted storage: each value sealed under the storage key derived from the
// passphrase before it is written, opened after it is read, and bound to its place (kind and
// key), so a row copied to another place does not open. Nothing of a conversation is in
// the clear on disk: conversation rows have random keys, message rows their message id.
import { getAll, ownerRange, put, type SealedRow } from "./db";
import { openRecord, sealRecord, type StorageKey } from "../protocol";
import type { SealedRecord } from "../kez";

export class Vault {
  constructor(
    private readonly owner: string,
    private readonly key: StorageKey,
  ) {}

  async write(kind: string, key: string, value: unknown): Promise<void> {
    const sealed = await sealRecord(this.key, value, `${kind}/${key}`);
    await put("sealed", { owner: this.owner, kind, key, sealed } satisfies SealedRow);
  }

  /** Every value of `kind`, with its key. */
  async readAll<T>(kind: string): Promise<{ key: string; value: T }[]> {
    const rows = await getAll<SealedRow>("sealed", ownerRange(this.owner, kind));
    return Promise.all(rows.map(async (row) => ({ key: row.key, value: await openRecord<T>(this.key, row.sealed as SealedRecord, `${kind}/${row.key}`) })));
  }
}
