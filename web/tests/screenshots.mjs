// Takes the screenshots in web/README.md (web/docs/*.png) from the app served by a real kezd:
//     cargo build -p kezd && node web/tests/screenshots.mjs
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { Kezd } from "./harness/kezd.mjs";
import { launch } from "./harness/browser.mjs";
import { createIdentity, openConversation, send, startChat, waitDelivery, waitLive } from "./harness/app.mjs";

const OUT = resolve(import.meta.dirname, "../docs");
mkdirSync(OUT, { recursive: true });
const kezd = new Kezd();
await kezd.start();
const browser = await launch();
const shot = (page, name) => page.screenshot({ path: join(OUT, `${name}.png`) });
try {
  const size = { viewport: { width: 1000, height: 620 }, baseURL: kezd.url };
  const bob = await (await browser.newContext(size)).newPage();
  await createIdentity(bob, "bob");
  const alice = await (await browser.newContext(size)).newPage();
  await alice.goto("/");
  await alice.getByRole("button", { name: "Create your KEZ" }).waitFor();
  await shot(alice, "welcome");
  await alice.getByRole("button", { name: "Create your KEZ" }).click();
  await alice.locator("#handle").fill("alice..");
  await alice.locator("#handle-problem", { hasText: "Not valid" }).waitFor();
  await shot(alice, "create");
  await createIdentity(alice, "alice");
  await waitLive(alice);
  await startChat(alice, "bob", "bob@localhost");
  await send(alice, "Hi Bob! Did the photos from Saturday come through?");
  await waitDelivery(alice, "Hi Bob!", "stored");
  await openConversation(bob, "alice@localhost");
  await send(bob, "They did — the one at the lake is my favourite.");
  await alice.getByText("the one at the lake").waitFor();
  await send(alice, "Mine too. Same place next month?");
  await waitDelivery(alice, "Same place", "stored");
  await shot(alice, "chat");
  await alice.reload();
  await alice.locator("#unlock-passphrase").waitFor();
  await shot(alice, "unlock");
} finally {
  await browser.close();
  await kezd.dispose();
}
