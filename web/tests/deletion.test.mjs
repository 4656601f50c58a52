// Deleting an account from the app (SPEC §4.7) where the server's document lists the
// `account_deletion` capability: after a confirmation the server answers the account's lookup
// with 410 `account_deleted`, and the app is back at its first screen, saying what happened.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { serverAndBrowser } from "./harness/suite.mjs";
import { createIdentity, waitLive } from "./harness/app.mjs";

describe("deleting an account", () => {
  const suite = serverAndBrowser();

  it("deletes it on the server and forgets it in the browser", async () => {
    const document = await (await fetch(`${suite.kezd.url}/.well-known/kez`)).json();
    assert.ok(document.capabilities.includes("account_deletion"), "the server offers deletion");

    const carol = await suite.person();
    await createIdentity(carol.page, "carol");
    await waitLive(carol.page);
    assert.equal((await fetch(`${suite.kezd.url}/v1/u/carol`)).status, 200);

    await carol.page.getByRole("button", { name: "Account" }).click();
    await carol.page.getByRole("button", { name: "Delete account…" }).click();
    const confirm = carol.page.getByRole("button", { name: "Delete account", exact: true });
    assert.equal(await confirm.isDisabled(), true, "not before the handle is typed");
    await carol.page.locator("#delete-confirm").fill("carol");
    await confirm.click();

    await carol.page.getByTestId("notice").filter({ hasText: "The account carol@localhost was deleted." }).waitFor();
    await carol.page.getByRole("button", { name: "Create your KEZ" }).waitFor();
    const lookup = await fetch(`${suite.kezd.url}/v1/u/carol`);
    assert.equal(lookup.status, 410);
    assert.equal((await lookup.json()).error, "account_deleted");

    // Nothing of it is left on this device: a reload opens on the first screen, not "unlock".
    await carol.page.reload();
    await carol.page.getByRole("button", { name: "Create your KEZ" }).waitFor();
    assert.equal(await carol.page.locator("#unlock-passphrase").count(), 0);
  });
});
