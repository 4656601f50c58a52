// A real kezd for the browser tests: the binary built from this workspace, on 127.0.0.1 with
// a temporary data directory, reached by the browser as http://localhost:<port> (a secure
// context, so WebCrypto works without TLS). It can be stopped and started again on the same
// port and data, as a server restart is.
import { execFile, spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { once } from "node:events";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../../..");
export const KEZD_BIN = process.env.KEZD_BIN ?? join(ROOT, "target/debug/kezd");

/** A port free on 127.0.0.1 now (the OS picks it). */
async function freePort() {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  await once(server, "close");
  return port;
}

export class Kezd {
  /** @param {{ serverName?: string, settings?: string[] }} options */
  constructor(options = {}) {
    this.dir = mkdtempSync(join(tmpdir(), "kez-web-"));
    this.settings = options.settings ?? [];
    this.serverName = options.serverName ?? "localhost";
    this.child = null;
    this.port = 0;
  }

  get url() {
    return `http://localhost:${this.port}`;
  }

  /** What names this server's configuration and data to any kezd command. */
  get configuration() {
    return [
      "--server-name", this.serverName,
      "--data-dir", join(this.dir, "data"),
      // Every test user registers from 127.0.0.1.
      "--set", "rate.register_per_hour=10000",
      "--set", "rate.client_per_minute=100000",
      ...this.settings.flatMap((s) => ["--set", s]),
    ];
  }

  async start() {
    if (this.port === 0) this.port = await freePort();
    const args = [
      "serve",
      "--bind", `127.0.0.1:${this.port}`,
      ...this.configuration,
    ];
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("KEZ_")));
    this.child = spawn(KEZD_BIN, args, { stdio: ["ignore", "pipe", "pipe"], env });
    this.exited = once(this.child, "exit");
    // Ready when kezd logs that it listens: the event itself, not a guess of its start time.
    const listening = new Promise((resolveListening, reject) => {
      const seen = (chunk) => {
        appendFileSync(this.logPath, chunk);
        if (chunk.toString().includes("listening")) resolveListening();
      };
      this.child.stdout.on("data", seen);
      this.child.stderr.on("data", seen);
      this.child.on("error", reject);
      this.exited.then(() => reject(new Error(`kezd exited during start:\n${this.log()}`)));
    });
    await listening;
  }

  /**
   * Runs `kezd admin <args> --json` on this server's data directory — through its admin socket
   * while it runs, as an operator does — and resolves with the outcome's JSON.
   */
  async admin(...args) {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("KEZ_")));
    const { stdout } = await run(KEZD_BIN, ["admin", "--json", ...args, ...this.configuration], { env });
    return JSON.parse(stdout);
  }

  get logPath() {
    return join(this.dir, "kezd.log");
  }

  async stop() {
    if (!this.child) return;
    this.child.kill("SIGTERM");
    await this.exited;
    this.child = null;
  }

  /** Stops the server and erases its data: every registration and inbox is gone. */
  async wipe() {
    await this.stop();
    rmSync(join(this.dir, "data"), { recursive: true, force: true });
  }

  log() {
    try {
      return readFileSync(this.logPath, "utf8");
    } catch {
      return "";
    }
  }

  async dispose() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
