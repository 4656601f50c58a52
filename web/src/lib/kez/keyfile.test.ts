// The kez-identity v1 key file moves identities between kezctl and the browser, both ways:
// files kezctl wrote (committed fixtures, and fresh ones from the kezctl binary) open here, and
// files this module writes are imported by kezctl.
//
// Fixtures (web/src/lib/kez/fixtures/), written by kezctl with an empty config dir:
//   KEZ_CONFIG_DIR=$tmp KEZ_PASSPHRASE='correct horse battery staple' kezctl keys new --name from-kezctl
//   KEZ_CONFIG_DIR=$tmp kezctl keys export from-kezctl --out kezctl-encrypted.json
//   KEZ_CONFIG_DIR=$tmp kezctl keys new --name plain-kezctl --no-passphrase
//   KEZ_CONFIG_DIR=$tmp kezctl keys export plain-kezctl --out kezctl-plain.json
//
// The binary is the workspace's debug build (`cargo build -p kezctl`, which CI's `cargo test
// --workspace` step does first), or the path in KEZCTL.

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";

import { refusalCode } from "./test-support";

import encryptedFixture from "./fixtures/kezctl-encrypted.json?raw";
import plainFixture from "./fixtures/kezctl-plain.json?raw";
import {
  createIdentity,
  exportKeyFile,
  formatPrimary,
  importKeyFile,
  needsPassphrase,
  parseKeyFile,
  publicKeyOf,
  toHex,
  unlockKeyFile,
  type Argon2Costs,
} from "./index";

const PASSPHRASE = "correct horse battery staple";
/** Small costs for the browser-only cases; the kezctl cases use kezctl's own (64 MiB). */
const QUICK: Argon2Costs = { m_cost: 64, t_cost: 1, p_cost: 1 };
/** Argon2id at 64 MiB in wasm on a busy machine. */
const ARGON2_MS = 120_000;

describe("kez-identity files written by kezctl (fixtures)", () => {
  it(
    "an encrypted file opens with its passphrase, and only with it",
    async () => {
      const file = parseKeyFile(encryptedFixture);
      expect(file.name).toBe("from-kezctl");
      expect(needsPassphrase(file)).toBe(true);
      const identity = await unlockKeyFile(file, PASSPHRASE);
      expect(formatPrimary(publicKeyOf(identity.seed))).toBe(file.primary);
      expect(await refusalCode(() => unlockKeyFile(file, "wrong horse"))).toBe("wrong_passphrase");
    },
    ARGON2_MS,
  );

  it("a plain file is written back byte for byte", async () => {
    const identity = await importKeyFile(plainFixture, null);
    expect(await exportKeyFile(identity, null)).toBe(plainFixture);
  });

  it(
    "a file whose primary was edited does not open (the primary is authenticated)",
    async () => {
      const other = formatPrimary(publicKeyOf(new Uint8Array(32).fill(7)));
      const edited = encryptedFixture.replace(parseKeyFile(encryptedFixture).primary, other);
      expect(await refusalCode(() => importKeyFile(edited, PASSPHRASE))).toBe("wrong_passphrase");
      const plainEdited = plainFixture.replace(parseKeyFile(plainFixture).primary, other);
      expect(await refusalCode(() => parseKeyFile(plainEdited))).toBe("keyfile_mismatch");
    },
    ARGON2_MS,
  );

  it("other versions, other formats, bad shapes and excessive costs are refused", async () => {
    const refuse = (text: string) => refusalCode(() => parseKeyFile(text));
    expect(await refuse(plainFixture.replace('"version": 1', '"version": 2'))).toBe(
      "keyfile_unsupported",
    );
    expect(await refuse(plainFixture.replace('"kez-identity"', '"kez-other"'))).toBe(
      "keyfile_unsupported",
    );
    expect(await refuse("not json")).toBe("keyfile_malformed");
    expect(await refuse(plainFixture.replace('"plain-kezctl"', '".hidden"'))).toBe(
      "keyfile_malformed",
    );
    expect(await refuse(plainFixture.replace('"address": null', '"address": "bob@kez.lat"'))).toBe(
      "keyfile_malformed",
    );
    expect(await refuse(encryptedFixture.replace('"m_cost": 65536', '"m_cost": 2097152'))).toBe(
      "kdf_parameters",
    );
    expect(await refuse(encryptedFixture.replace('"t_cost": 3', '"t_cost": 33'))).toBe(
      "kdf_parameters",
    );
    expect(await refuse(encryptedFixture.replace(/"salt": "[0-9a-f]+"/, '"salt": "00"'))).toBe(
      "keyfile_malformed",
    );
  });
});

describe("kez-identity files written here", () => {
  it("round-trip with a passphrase, keeping the home server", async () => {
    const identity = {
      ...createIdentity("browser"),
      home: { address: "alice@kez.lat", serverUrl: "https://kez.lat" },
    };
    const text = await exportKeyFile(identity, PASSPHRASE, QUICK);
    expect(text).not.toContain(toHex(identity.seed));
    const back = await importKeyFile(text, PASSPHRASE);
    expect(back).toEqual(identity);
    expect(await refusalCode(() => importKeyFile(text, "nope"))).toBe("wrong_passphrase");
    expect(await refusalCode(() => importKeyFile(text, null))).toBe("wrong_passphrase");
  });
});

const KEZCTL =
  (import.meta.env.KEZCTL as string | undefined) ??
  new URL("../../../../target/debug/kezctl", import.meta.url).pathname;

describe("with the kezctl binary", () => {
  // Each case gets its own configuration directory, so no real keystore is touched.
  function kezctl(configDir: string, args: string[], passphrase?: string): string {
    if (!existsSync(KEZCTL)) {
      throw new Error(
        `no kezctl at ${KEZCTL}: run \`cargo build -p kezctl\` at the repository root, or set KEZCTL`,
      );
    }
    // Only what kezctl needs: an explicit config dir also holds its state, so HOME is unused.
    const env = { KEZ_CONFIG_DIR: configDir, KEZ_PASSPHRASE: passphrase ?? "" };
    return execFileSync(KEZCTL, args, { env, encoding: "utf8" });
  }

  function withConfigDir<T>(run: (dir: string) => Promise<T>): Promise<T> {
    const dir = mkdtempSync(`${tmpdir()}/kez-keyfile-`);
    return run(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
  }

  it(
    "an identity kezctl makes and exports opens in the browser",
    () =>
      withConfigDir(async (dir) => {
        const primary = kezctl(dir, ["keys", "new", "--name", "terminal"], PASSPHRASE).trim();
        const text = kezctl(dir, ["keys", "export", "terminal"], PASSPHRASE);
        const identity = await importKeyFile(text, PASSPHRASE);
        expect(identity.primary).toBe(primary);
        expect(formatPrimary(publicKeyOf(identity.seed))).toBe(primary);
      }),
    ARGON2_MS,
  );

  it(
    "an identity the browser exports is imported by kezctl, which opens it",
    () =>
      withConfigDir(async (dir) => {
        const identity = {
          ...createIdentity("browser"),
          home: { address: "alice@localhost:6969", serverUrl: "http://127.0.0.1:6969" },
        };
        const path = `${dir}/browser.json`;
        writeFileSync(path, await exportKeyFile(identity, PASSPHRASE));
        // kezctl unlocks a file before storing it, so a wrong key or passphrase fails here.
        expect(kezctl(dir, ["keys", "import", path], PASSPHRASE).trim()).toBe(identity.primary);
        const shown = JSON.parse(kezctl(dir, ["--json", "keys", "show", "browser"]));
        expect(shown.primary).toBe(identity.primary);
        expect(shown.address).toBe("alice@localhost:6969");
        // And kezctl's copy is the same document: it exports what it imported.
        const again = await importKeyFile(
          readFileSync(`${dir}/identities/browser.json`, "utf8"),
          PASSPHRASE,
        );
        expect(again).toEqual(identity);
        expect(() => kezctl(dir, ["keys", "import", path, "--name", "other"], "wrong")).toThrow();
      }),
    2 * ARGON2_MS,
  );
});
