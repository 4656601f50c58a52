// The JavaScript budget of the bundle in the directory given (default dist/): its scripts
// gzipped, with the WebAssembly they embed (argon2id, base64 inside hash-wasm's module)
// reported apart. Fails above 150 KB of JavaScript.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const LIMIT = 150 * 1024;
const dir = process.argv[2] ?? "dist";
const scripts = readdirSync(join(dir, "assets")).filter((f) => f.endsWith(".js"));
let js = 0;
let wasm = 0;
for (const name of scripts) {
  const text = readFileSync(join(dir, "assets", name), "utf8");
  // hash-wasm embeds each module as a base64 string literal beginning with the wasm magic
  // ("\0asm" is "AGFzbQ" in base64).
  const embedded = text.match(/"AGFzbQ[A-Za-z0-9+/=]+"/g) ?? [];
  const wasmText = embedded.join("");
  wasm += gzipSync(wasmText).length;
  js += gzipSync(embedded.reduce((rest, literal) => rest.replace(literal, '""'), text)).length;
}
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`JavaScript: ${kb(js)} gzipped (budget ${kb(LIMIT)}); embedded WebAssembly: ${kb(wasm)} gzipped`);
if (js > LIMIT) {
  console.error("over the JavaScript budget");
  process.exit(1);
}
