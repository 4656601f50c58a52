// A local federation for the browser tests: `kez-testnet up 2` (nodes a.test and b.test with
// their own DNS server and CA on loopback, federating over TLS as always), and a Chromium that
// reaches them as https://a.test:<port>: the names are mapped to the nodes' loopback addresses
// (--host-resolver-rules) and the testnet's CA is trusted in the browser's own NSS database,
// a certificate authority like any other, so the pages are secure contexts.
import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { once } from "node:events";
import { promisify } from "node:util";
import { chromium } from "playwright-core";
import { CHROMIUM } from "./browser.mjs";
import { KEZD_BIN } from "./kezd.mjs";

const ROOT = resolve(import.meta.dirname, "../../..");
const TESTNET_BIN = process.env.KEZ_TESTNET_BIN ?? join(ROOT, "target/debug/kez-testnet");
const run = promisify(execFile);

export class Testnet {
  /** Starts `nodes` nodes; resolves when kez-testnet prints `ready`. */
  async start(nodes = 2) {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("KEZ_")));
    this.child = spawn(TESTNET_BIN, ["up", String(nodes), "--kezd", KEZD_BIN], { stdio: ["ignore", "pipe", "pipe"], env });
    this.exited = once(this.child, "exit");
    let out = "";
    let err = "";
    this.child.stderr.on("data", (chunk) => (err += chunk));
    await new Promise((resolveReady, reject) => {
      this.child.stdout.on("data", (chunk) => {
        out += chunk;
        if (out.includes("\nready:")) resolveReady();
      });
      this.child.on("error", reject);
      this.exited.then(() => reject(new Error(`kez-testnet exited:\n${out}\n${err}`)));
    });
    /** name → { url, ip } */
    this.nodes = new Map();
    for (const [, name, url, ip] of out.matchAll(/^ {2}(\S+) {2}(https:\/\/\S+) {2}\(listens on ([\d.]+):\d+/gm)) {
      this.nodes.set(name, { url, ip });
    }
    this.ca = out.match(/^CA certificate: (.+)$/m)[1];
  }

  url(name) {
    return this.nodes.get(name).url;
  }

  /** A Chromium that resolves the testnet's names and trusts its CA. */
  async browser() {
    this.home = mkdtempSync(join(tmpdir(), "kez-browser-home-"));
    const db = join(this.home, ".pki/nssdb");
    mkdirSync(db, { recursive: true });
    await run("certutil", ["-d", `sql:${db}`, "-N", "--empty-password"]);
    await run("certutil", ["-d", `sql:${db}`, "-A", "-t", "C,,", "-n", "kez-testnet", "-i", this.ca]);
    const rules = [...this.nodes].map(([name, { ip }]) => `MAP ${name} ${ip}`).join(",");
    return chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [`--host-resolver-rules=${rules}`],
      env: { ...process.env, HOME: this.home },
    });
  }

  async stop() {
    if (this.child) {
      this.child.kill("SIGTERM");
      await this.exited;
    }
    if (this.home) rmSync(this.home, { recursive: true, force: true });
  }
}
