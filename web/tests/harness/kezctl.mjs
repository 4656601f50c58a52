// The terminal client, kezctl, built from this workspace: the other side of the interop
// tests. Its keystore and state live in a temporary directory of their own.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../../..");
export const KEZCTL_BIN = process.env.KEZCTL_BIN ?? join(ROOT, "target/debug/kezctl");

export class Kezctl {
  constructor(passphrase) {
    this.dir = mkdtempSync(join(tmpdir(), "kezctl-"));
    this.passphrase = passphrase;
  }

  /** Runs kezctl with `args`; resolves with its stdout, rejects with its stderr on failure. */
  async run(...args) {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("KEZ_")));
    const { stdout } = await run(KEZCTL_BIN, args, {
      env: { ...env, KEZ_CONFIG_DIR: this.dir, KEZ_PASSPHRASE: this.passphrase },
    });
    return stdout;
  }

  dispose() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
