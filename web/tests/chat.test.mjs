// The app in a real browser against a real kezd: two people chat both ways, live, with
// delivery states; history survives a reload and stays behind the passphrase; a server
// restart is a reconnection that loses nothing and shows nothing twice; message text is text.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { aliceAndBob, serverAndBrowser } from "./harness/suite.mjs";
import {
  message,
  openConversation,
  send,
  startChat,
  unlock,
  waitDelivery,
  waitLive,
} from "./harness/app.mjs";

describe("two people on one server", () => {
  const suite = serverAndBrowser();
  let alice, bob;

  before(async () => {
    ({ alice, bob } = await aliceAndBob(suite));
  });

  it("chat both ways, live, with delivery states", async () => {
    await startChat(alice.page, "bob", "bob@localhost");
    await send(alice.page, "hello bob");
    await waitDelivery(alice.page, "hello bob", "stored");

    const fromAlice = bob.page.locator(".conversation", { hasText: "alice@localhost" });
    await fromAlice.locator(".badge", { hasText: "1" }).waitFor();
    await openConversation(bob.page, "alice@localhost");
    await message(bob.page, "hello bob").waitFor();
    await fromAlice.locator(".badge").waitFor({ state: "detached" });

    await send(bob.page, "hi alice\nsecond line");
    await waitDelivery(bob.page, "hi alice", "stored");
    await message(alice.page, "hi alice").waitFor();
    assert.equal(await message(alice.page, "hi alice").locator(".text").innerText(), "hi alice\nsecond line");
    assert.deepEqual([...alice.errors, ...bob.errors], []);
  });

  it("history survives a reload, behind the passphrase", async () => {
    await alice.page.reload();
    await alice.page.locator("#unlock-passphrase").waitFor();
    await unlock(alice.page, "not the passphrase");
    await alice.page.getByRole("alert").filter({ hasText: "Wrong passphrase." }).waitFor();
    await unlock(alice.page);
    await openConversation(alice.page, "bob@localhost");
    await message(alice.page, "hello bob").waitFor();
    await message(alice.page, "hi alice").waitFor();
    await waitDelivery(alice.page, "hello bob", "stored");
    await waitLive(alice.page);
  });

  it("a server restart is a reconnection: messages sent meanwhile arrive once", async () => {
    await openConversation(bob.page, "alice@localhost");
    await suite.kezd.stop();
    await bob.page.locator('[data-testid="stream-state"][data-state="reconnecting"]').waitFor();
    await suite.kezd.start();
    // Bob's browser stays offline while Alice writes, so what she sends is replayed to him
    // from his inbox when he comes back, not delivered live.
    await bob.context.setOffline(true);
    await waitLive(alice.page);
    for (const text of ["while away 1", "while away 2", "while away 3"]) {
      await send(alice.page, text);
      await waitDelivery(alice.page, text, "stored");
    }
    await bob.context.setOffline(false);
    await waitLive(bob.page);
    await message(bob.page, "while away 3").waitFor();
    for (const text of ["while away 1", "while away 2", "while away 3"]) {
      assert.equal(await message(bob.page, text).count(), 1, text);
    }
    await bob.page.reload();
    await unlock(bob.page);
    await openConversation(bob.page, "alice@localhost");
    await message(bob.page, "while away 3").waitFor();
    assert.equal(await message(bob.page, "while away 1").count(), 1);
  });

  it("message text is text, never HTML, and the page has its CSP", async () => {
    const attack = '<img src=x onerror="window.__kezXss=1"><b>bold</b>';
    await openConversation(alice.page, "bob@localhost");
    await send(alice.page, attack);
    await openConversation(bob.page, "alice@localhost");
    const shown = message(bob.page, "<img src=x");
    await shown.waitFor();
    assert.equal(await shown.locator(".text").innerText(), attack);
    assert.equal(await shown.locator("img, b").count(), 0);
    assert.equal(await bob.page.evaluate(() => window.__kezXss), undefined);

    const response = await bob.page.goto("/");
    const csp = response.headers()["content-security-policy"];
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
    assert.match(csp, /connect-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
  });

  it("starting a chat explains what went wrong", async () => {
    await alice.page.locator("#new-chat").fill("nobody");
    await alice.page.locator("#new-chat").press("Enter");
    await alice.page.locator("#new-chat-problem", { hasText: "There is no user nobody." }).waitFor();
    await alice.page.locator("#new-chat").fill("alice");
    await alice.page.locator("#new-chat").press("Enter");
    await alice.page.locator("#new-chat-problem", { hasText: "That's you." }).waitFor();
    await alice.page.locator("#new-chat").fill("Not Valid!");
    await alice.page.locator("#new-chat").press("Enter");
    await alice.page.locator("#new-chat-problem", { hasText: "not a valid" }).waitFor();
  });
});
