// IndexedDB, as promises. Two object stores: `identities` (one row per identity on this device:
// its address and its kez-identity key file, which is itself encrypted under the passphrase)
// and `sealed` (everything else — conversations, messages, the inbox cursor — each row
// encrypted under the identity's storage key, keyed by [owner, kind, key]).

const NAME = "kez";
const VERSION = 1;

export interface SealedRow {
  owner: string;
  kind: string;
  key: string;
  sealed: unknown;
}

let opened: Promise<IDBDatabase> | null = null;

function open(): Promise<IDBDatabase> {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(NAME, VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore("identities", { keyPath: "primary" });
      db.createObjectStore("sealed", { keyPath: ["owner", "kind", "key"] });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}

/** Runs `work` in one transaction; resolves with its result once the transaction committed. */
async function transact<T>(
  stores: string[],
  mode: IDBTransactionMode,
  work: (tx: IDBTransaction) => IDBRequest<T> | undefined,
): Promise<T> {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(stores, mode, { durability: "strict" });
    const request = work(tx);
    tx.oncomplete = () => resolve(request?.result as T);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
  });
}

export const getAll = <T>(store: string, range?: IDBKeyRange) =>
  transact<T[]>([store], "readonly", (tx) => tx.objectStore(store).getAll(range));

export const put = (store: string, value: unknown) =>
  transact([store], "readwrite", (tx) => tx.objectStore(store).put(value));

export const remove = (store: string, key: IDBValidKey | IDBKeyRange) =>
  transact([store], "readwrite", (tx) => tx.objectStore(store).delete(key));

/** Every sealed row of `owner`, optionally of one kind. */
export function ownerRange(owner: string, kind?: string): IDBKeyRange {
  return kind === undefined
    ? IDBKeyRange.bound([owner], [owner, []])
    : IDBKeyRange.bound([owner, kind], [owner, kind, []]);
}

/** Wipes every identity and everything stored for them ("forget this device"). */
export async function wipe(): Promise<void> {
  await transact(["identities", "sealed"], "readwrite", (tx) => {
    tx.objectStore("identities").clear();
    return tx.objectStore("sealed").clear();
  });
}

/** Removes one identity and everything stored for it. */
export async function removeIdentity(primary: string): Promise<void> {
  await transact(["identities", "sealed"], "readwrite", (tx) => {
    tx.objectStore("identities").delete(primary);
    return tx.objectStore("sealed").delete(ownerRange(primary));
  });
}
