// Federation in the browser: a person whose home is a.test chats with a person on b.test, both
// servers of the local testnet, federating over TLS; the sender sees queued → delivered.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Testnet } from "./harness/testnet.mjs";
import { person } from "./harness/browser.mjs";
import { createIdentity, message, openConversation, send, startChat, waitDelivery, waitLive } from "./harness/app.mjs";

describe("two servers", () => {
  let net, browser;

  before(async () => {
    net = new Testnet();
    await net.start(2);
    browser = await net.browser();
  });

  after(async () => {
    await browser?.close();
    await net?.stop();
  });

  it("a browser on a.test and a browser on b.test chat both ways", async () => {
    const alice = await person(browser, net.url("a.test"));
    const bob = await person(browser, net.url("b.test"));
    await createIdentity(alice.page, "alice");
    await createIdentity(bob.page, "bob");
    await Promise.all([waitLive(alice.page), waitLive(bob.page)]);
    assert.equal(await alice.page.evaluate(() => window.isSecureContext), true);

    await startChat(alice.page, "bob@b.test", "bob@b.test");
    await send(alice.page, "across servers");
    await waitDelivery(alice.page, "across servers", "delivered");

    await openConversation(bob.page, "alice@a.test");
    await message(bob.page, "across servers").waitFor();
    await send(bob.page, "and back");
    await waitDelivery(bob.page, "and back", "delivered");
    await message(alice.page, "and back").waitFor();
    assert.deepEqual([...alice.errors, ...bob.errors], []);
  });
});
