// The few Node.js built-ins the kezctl interoperability test (keyfile.test.ts) uses. The web
// package has no @types/node; these declarations type exactly those calls, and merge with
// @types/node's should the package add it (then this file can go). The test reads its
// environment through Vitest's `import.meta.env`, so no `process` global is declared here.

declare module "node:child_process" {
  export function execFileSync(
    file: string,
    args: string[],
    options: { env?: Record<string, string | undefined>; input?: string; encoding: "utf8" },
  ): string;
}

declare module "node:fs" {
  export function existsSync(path: string): boolean;
  export function mkdtempSync(prefix: string): string;
  export function readFileSync(path: string, encoding: "utf8"): string;
  export function writeFileSync(path: string, data: string): void;
  export function rmSync(path: string, options: { recursive: boolean; force: boolean }): void;
}

declare module "node:os" {
  export function tmpdir(): string;
}
