// Benchmark (not a test): the first render of the chat page with 1,000 stored messages after
// unlocking, in headless Chromium against a real kezd. Key derivation (argon2id) is measured
// apart and excluded. Prints one line per run and the median; docs/BENCHMARKS.md has figures.
//
//     cargo build -p kezd && node web/tests/bench/first_render.mjs [runs]
import { Kezd } from "../harness/kezd.mjs";
import { launch, person } from "../harness/browser.mjs";
import { createIdentity, startChat, unlock, waitLive } from "../harness/app.mjs";

const MESSAGES = 1000;
const runs = Number(process.argv[2] ?? 5);

const kezd = new Kezd({
  settings: ["rate.sender_per_minute=100000", "rate.recipient_per_minute=100000", "rate.recipient_strangers_per_minute=100000"],
});
await kezd.start();
const browser = await launch();
try {
  const alice = await person(browser, kezd.url);
  const bob = await person(browser, kezd.url);
  await createIdentity(bob.page, "bob");
  await createIdentity(alice.page, "alice");
  await waitLive(alice.page);
  await startChat(alice.page, "bob", "bob@localhost");
  const compose = alice.page.locator("#compose");
  for (let i = 0; i < MESSAGES; i++) {
    await compose.fill(`message ${i} of the benchmark`);
    await compose.press("Enter");
  }
  // The thread shows the newest hundred: wait until all of them are stored.
  await alice.page.waitForFunction(
    () => document.querySelectorAll('[data-testid="delivery"][data-status="stored"]').length === 100,
    undefined,
    { timeout: 600_000 },
  );
  const render = [];
  const derive = [];
  for (let run = 0; run < runs; run++) {
    await alice.page.reload();
    await alice.page.locator("#unlock-passphrase").waitFor();
    await alice.page.evaluate(() =>
      document.addEventListener("submit", () => performance.mark("kez:submitted"), { capture: true, once: true }),
    );
    await unlock(alice.page);
    // Shown: the thread's newest message is on the page (the thread renders the newest
    // hundred and offers the rest on request), and the conversation list is there.
    const shown = await alice.page.waitForFunction(
      (n) =>
        [...document.querySelectorAll('[data-testid="message"] .text')].at(-1)?.textContent ===
          `message ${n - 1} of the benchmark` && performance.now(),
      MESSAGES,
      { polling: "raf", timeout: 60_000 },
    );
    const end = await shown.jsonValue();
    const [submitted, derived, read] = await alice.page.evaluate(() =>
      ["kez:submitted", "kez:key-derived", "kez:history-read"].map((name) => performance.getEntriesByName(name)[0].startTime),
    );
    derive.push(derived - submitted);
    render.push(end - derived);
    console.log(
      `run ${run + 1}: key derivation ${(derived - submitted).toFixed(0)} ms, first render ${(end - derived).toFixed(0)} ms ` +
        `(history read and decrypted ${(read - derived).toFixed(0)} ms, then shown ${(end - read).toFixed(0)} ms)`,
    );
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    `median over ${runs} runs with ${MESSAGES} messages: first render ${median(render).toFixed(0)} ms after unlocking, key derivation ${median(derive).toFixed(0)} ms`,
  );
} finally {
  await browser.close();
  await kezd.dispose();
}
