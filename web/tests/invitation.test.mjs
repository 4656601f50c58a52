// An invitation-only server (`registration.policy = "token"`): the app asks for the token, the
// server's refusals are shown in words at that field, and a single-use token made by the
// operator with the real `kezd admin tokens create` admits exactly one person.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { serverAndBrowser } from "./harness/suite.mjs";
import { PASSPHRASE } from "./harness/app.mjs";

/** Fills the create form (the token only when given) and sends it. */
async function submitCreate(page, handle, token) {
  await page.locator("#handle").fill(handle);
  if (token !== undefined) await page.locator("#token").fill(token);
  await page.locator("#passphrase").fill(PASSPHRASE);
  await page.locator("#passphrase-again").fill(PASSPHRASE);
  await page.getByRole("button", { name: "Create", exact: true }).click();
}

async function openCreate(page) {
  await page.goto("/");
  await page.getByRole("button", { name: "Create your KEZ" }).click();
  await page.locator("#token").waitFor();
}

describe("an invitation-only server", () => {
  const suite = serverAndBrowser({ settings: ["registration.policy=token"] });

  it("admits the holder of a token once, and says why it refuses", async () => {
    const ann = await suite.person();
    await openCreate(ann.page);
    await ann.page.getByText("This server accepts new accounts by invitation.").waitFor();

    await submitCreate(ann.page, "ann");
    const annProblem = ann.page.locator("#token-problem", { hasText: "This server needs an invitation token." });
    await annProblem.waitFor();
    assert.equal((await fetch(`${suite.kezd.url}/v1/u/ann`)).status, 404, "refused, so not registered");

    // The operator makes a token with the real binary, through the running server's socket.
    const created = await suite.kezd.admin("tokens", "create", "--uses", "1");
    assert.equal(created.kind, "token_created");
    await ann.page.locator("#token").fill(created.token);
    await ann.page.getByRole("button", { name: "Create", exact: true }).click();
    await ann.page.getByTestId("own-address").filter({ hasText: "ann@localhost" }).waitFor();
    assert.equal((await fetch(`${suite.kezd.url}/v1/u/ann`)).status, 200);

    // The same token again, in another person's browser: used up.
    const ben = await suite.person();
    await openCreate(ben.page);
    await submitCreate(ben.page, "ben", created.token);
    await ben.page
      .locator("#token-problem", { hasText: "That invitation token is not valid (or already used up)." })
      .waitFor();
    assert.equal(await ben.page.getByTestId("own-address").count(), 0);
    assert.equal((await fetch(`${suite.kezd.url}/v1/u/ben`)).status, 404);
    assert.deepEqual([...ann.errors, ...ben.errors].filter((e) => !/status of 40[34]/.test(e.message)), []);
  });
});
