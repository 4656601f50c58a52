// One person, every client: an identity made and registered with kezctl, exported as its
// kez-identity key file, is imported in the browser and used there; and a browser user and a
// kezctl user chat both ways.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Kezctl } from "./harness/kezctl.mjs";
import { serverAndBrowser } from "./harness/suite.mjs";
import {
  createIdentity,
  message,
  openConversation,
  send,
  startChat,
  unlock,
  waitDelivery,
  waitLive,
} from "./harness/app.mjs";

const PASSPHRASE = "shared by both clients";

/** Carol's key file, as `kezctl keys export` wrote it. */
let keyFile;

/** Imports Carol's key file on the first screen of `page`. */
async function importCarol(page) {
  await page.goto("/");
  await page.getByRole("button", { name: "Use a key file" }).click();
  await page.locator("#keyfile").setInputFiles({ name: "carol.json", mimeType: "application/json", buffer: Buffer.from(keyFile) });
  await page.locator("#import-passphrase").fill(PASSPHRASE);
  await page.getByRole("button", { name: "Import" }).click();
  await page.getByTestId("own-address").filter({ hasText: "carol@localhost" }).waitFor();
}

describe("the browser and kezctl", () => {
  const suite = serverAndBrowser();
  let kezctl;

  before(() => {
    kezctl = new Kezctl(PASSPHRASE);
  });

  after(() => {
    kezctl?.dispose();
  });

  it("an identity exported by kezctl is imported in the browser, and they chat both ways", async () => {
    const server = `http://127.0.0.1:${suite.kezd.port}`;
    await kezctl.run("keys", "new", "--name", "carol");
    await kezctl.run("-i", "carol", "register", "carol@localhost", "--server", server);
    await kezctl.run("keys", "new", "--name", "dave");
    await kezctl.run("-i", "dave", "register", "dave@localhost", "--server", server);

    const { page, errors } = await suite.person();
    await page.goto("/");
    await page.getByRole("button", { name: "Use a key file" }).click();
    keyFile = await kezctl.run("keys", "export", "carol");
    await page.locator("#keyfile").setInputFiles({ name: "carol.json", mimeType: "application/json", buffer: Buffer.from(keyFile) });
    await page.locator("#import-passphrase").fill("not it");
    await page.getByRole("button", { name: "Import" }).click();
    await page.getByRole("alert").filter({ hasText: "Wrong passphrase." }).waitFor();
    await page.locator("#import-passphrase").fill(PASSPHRASE);
    await page.getByRole("button", { name: "Import" }).click();
    await page.getByTestId("own-address").filter({ hasText: "carol@localhost" }).waitFor();
    await waitLive(page);

    await startChat(page, "dave", "dave@localhost");
    await send(page, "from the browser");
    await waitDelivery(page, "from the browser", "stored");
    const inbox = await kezctl.run("-i", "dave", "inbox");
    assert.match(inbox, /from the browser/);

    await kezctl.run("-i", "dave", "send", "carol@localhost", "from the terminal");
    await openConversation(page, "dave@localhost");
    await message(page, "from the terminal").waitFor();
    assert.deepEqual(errors, []);
  });

  it("a second identity in the same browser, exported and used by kezctl", async () => {
    const { page, errors } = await suite.person();
    await importCarol(page);
    await page.getByRole("button", { name: "Account" }).click();
    await page.getByRole("button", { name: "Add an identity" }).click();
    await createIdentity(page, "erin", PASSPHRASE);
    await page.getByTestId("own-address").filter({ hasText: "erin@localhost" }).waitFor();

    await page.getByRole("button", { name: "Account" }).click();
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Export key file" }).click(),
    ]);
    await kezctl.run("keys", "import", await download.path());
    await kezctl.run("-i", "erin", "send", "dave@localhost", "from erin's terminal");
    assert.match(await kezctl.run("-i", "dave", "inbox"), /from erin's terminal/);

    await page.getByRole("button", { name: "Switch to carol@localhost" }).click();
    await page.locator("#identity").selectOption({ label: "carol@localhost" });
    await unlock(page, PASSPHRASE);
    await page.getByTestId("own-address").filter({ hasText: "carol@localhost" }).waitFor();
    assert.deepEqual(errors, []);
  });
});
