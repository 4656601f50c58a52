// A send cut off before the server answered (the server down, a reload) is sent again, the same
// signed envelope, when the stream is live again: it reaches the peer once and shows its
// delivery state. One that can no longer be sent within the timestamp window fails, in words.
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

/** Waits until `text` reached `page` and a later `marker` did too, so a second copy would show. */
async function arrivedOnce(page, text, marker) {
  await message(page, marker).waitFor();
  assert.equal(await message(page, text).count(), 1, text);
}

describe("a send cut off is sent again", () => {
  const suite = serverAndBrowser();
  let alice, bob;

  before(async () => {
    ({ alice, bob } = await aliceAndBob(suite));
    await startChat(alice.page, "bob", "bob@localhost");
    await send(alice.page, "first");
    await waitDelivery(alice.page, "first", "stored");
    await openConversation(bob.page, "alice@localhost");
  });

  it("the server down: sending, then stored once it is back", async () => {
    await suite.kezd.stop();
    await alice.page.locator('[data-testid="stream-state"][data-state="reconnecting"]').waitFor();
    await send(alice.page, "while down");
    await waitDelivery(alice.page, "while down", "sending");
    await suite.kezd.start();
    await waitLive(alice.page);
    await waitDelivery(alice.page, "while down", "stored");
    await waitLive(bob.page);
    await send(alice.page, "after down");
    await arrivedOnce(bob.page, "while down", "after down");
  });

  it("a reload mid-send: sent again when the session opens", async () => {
    await alice.context.setOffline(true);
    await send(alice.page, "before reload");
    await waitDelivery(alice.page, "before reload", "sending");
    await alice.context.setOffline(false);
    await alice.page.reload();
    await unlock(alice.page);
    await openConversation(alice.page, "bob@localhost");
    await waitDelivery(alice.page, "before reload", "stored");
    await send(alice.page, "after reload");
    await arrivedOnce(bob.page, "before reload", "after reload");
  });

  it("too late for the timestamp window: failed, with why", async () => {
    // A page whose clock is ten minutes behind seals the message; it is written while offline,
    // so it is first posted (by a page with the right time) after the 300 s window.
    const late = await alice.context.newPage();
    await late.addInitScript(() => {
      const now = Date.now;
      Date.now = () => now() - 10 * 60_000;
    });
    await alice.page.close();
    await late.goto("/");
    await unlock(late);
    await openConversation(late, "bob@localhost");
    await alice.context.setOffline(true);
    await send(late, "too late");
    await waitDelivery(late, "too late", "sending");
    await late.close();
    await alice.context.setOffline(false);

    alice.page = await alice.context.newPage();
    await alice.page.goto("/");
    await unlock(alice.page);
    await openConversation(alice.page, "bob@localhost");
    await waitDelivery(alice.page, "too late", "failed");
    await message(alice.page, "too late").getByText("within five minutes").waitFor();
    await send(alice.page, "in time");
    await waitDelivery(alice.page, "in time", "stored");
    await message(bob.page, "in time").waitFor();
    assert.equal(await message(bob.page, "too late").count(), 0);
  });
});
