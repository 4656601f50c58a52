// Trust on first use: when a conversation partner's address comes back with another primary
// key than the one talked to before, the app warns before anything is sent to the new key.
// The server is wiped and the handle registered again with a fresh key, as happens when a
// server loses its data or a name changes hands.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
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

describe("a changed key", () => {
  const suite = serverAndBrowser();

  it("is announced before anything is sent to it", async () => {
    const alice = await suite.person();
    await createIdentity(alice.page, "alice");
    const firstBob = await suite.person();
    await createIdentity(firstBob.page, "bob");
    await startChat(alice.page, "bob", "bob@localhost");
    await send(alice.page, "to the first bob");
    await waitDelivery(alice.page, "to the first bob", "stored");

    // Alice's registration, signed by her key, is posted again after the wipe (it is still
    // within its five minutes), so she keeps her key; bob registers a new one.
    const record = await (await fetch(`${suite.kezd.url}/v1/u/alice`)).json();
    await suite.kezd.wipe();
    await suite.kezd.start();
    const again = await fetch(`${suite.kezd.url}/v1/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(record.registration),
    });
    assert.equal(again.status, 201);
    const newBob = await suite.person();
    await createIdentity(newBob.page, "bob");

    // Alice's browser still knows the first bob: the address now has another key.
    await alice.page.reload();
    await unlock(alice.page);
    await waitLive(alice.page);
    await alice.page.locator("#new-chat").fill("bob");
    await alice.page.locator("#new-chat").press("Enter");
    const warning = alice.page.getByRole("alertdialog").filter({ hasText: "The key of bob@localhost has changed" });
    await warning.waitFor();
    assert.equal(await alice.page.locator("#compose").count(), 1, "the old conversation stays open");
    await warning.getByRole("button", { name: "Continue with the new key" }).click();
    await alice.page.locator(".conversation", { hasText: "bob@localhost" }).nth(1).waitFor();
    await send(alice.page, "to the new bob");
    await waitDelivery(alice.page, "to the new bob", "stored");
    await openConversation(newBob.page, "alice@localhost");
    await message(newBob.page, "to the new bob").waitFor();
  });
});
