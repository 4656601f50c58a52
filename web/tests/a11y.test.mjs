// Accessibility: the whole flow by keyboard alone (create an identity, start a chat, send,
// lock, unlock), and axe-core finds no serious or critical violation on any screen.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import { serverAndBrowser } from "./harness/suite.mjs";
import { PASSPHRASE, createIdentity, message, waitDelivery, waitLive } from "./harness/app.mjs";

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** Serious and critical axe-core violations on the page as it is now. */
async function violations(page) {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern (an inline
  // script tag would be refused, as it should be).
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => (await globalThis.axe.run(document)).violations);
  return found
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/**
 * Presses Tab until the element matching `selector` (and showing `text`, when given) has focus,
 * at most 40 times.
 */
async function tabTo(page, selector, text) {
  for (let i = 0; i < 40; i++) {
    const focused = await page.evaluate(
      ([s, t]) => {
        const el = document.activeElement;
        return (el?.matches(s) ?? false) && (t === undefined || el.textContent.trim() === t);
      },
      [selector, text],
    );
    if (focused) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`Tab never reached ${selector} ${text ?? ""}`);
}

describe("accessibility", () => {
  const suite = serverAndBrowser();

  it("the whole flow works by keyboard alone", async () => {
    const { page: other } = await suite.person();
    await createIdentity(other, "kim");
    const { page, errors } = await suite.person();
    await page.goto("/");
    await tabTo(page, "button.primary");
    await page.keyboard.press("Enter");
    await tabTo(page, "#handle");
    await page.keyboard.type("keys");
    await tabTo(page, "#passphrase");
    await page.keyboard.type(PASSPHRASE);
    await page.keyboard.press("Tab");
    await page.keyboard.type(PASSPHRASE);
    await page.keyboard.press("Enter");
    await page.getByTestId("own-address").waitFor();
    await waitLive(page);

    await tabTo(page, "#new-chat");
    await page.keyboard.type("kim");
    await page.keyboard.press("Enter");
    await page.locator("#thread-title", { hasText: "kim@localhost" }).waitFor();
    await tabTo(page, "#compose");
    await page.keyboard.type("first line");
    await page.keyboard.press("Shift+Enter");
    await page.keyboard.type("second line");
    await page.keyboard.press("Enter");
    await waitDelivery(page, "first line", "stored");
    assert.equal(await message(page, "first line").locator(".text").innerText(), "first line\nsecond line");

    await tabTo(page, 'button[aria-controls="account-menu"]');
    await page.keyboard.press("Enter");
    await tabTo(page, "#account-menu button", "Lock");
    await page.keyboard.press("Enter");
    await page.locator("#unlock-passphrase").waitFor();
    await tabTo(page, "#unlock-passphrase");
    await page.keyboard.type(PASSPHRASE);
    await page.keyboard.press("Enter");
    await page.getByTestId("own-address").waitFor();
    assert.deepEqual(errors, []);
  });

  it("axe-core finds no serious or critical violation on any screen", async () => {
    const { page } = await suite.person();
    await page.goto("/");
    await page.getByRole("button", { name: "Create your KEZ" }).waitFor();
    assert.deepEqual(await violations(page), [], "welcome");

    await page.getByRole("button", { name: "Create your KEZ" }).click();
    await page.locator("#handle").fill("Bad..Handle");
    await page.locator("#handle-problem", { hasText: "Not valid" }).waitFor();
    assert.deepEqual(await violations(page), [], "create");

    await createIdentity(page, "axe");
    await page.locator("#new-chat").fill("kim");
    await page.locator("#new-chat").press("Enter");
    await page.locator("#thread-title", { hasText: "kim@localhost" }).waitFor();
    await page.locator("#compose").fill("checked by axe");
    await page.locator("#compose").press("Enter");
    await waitDelivery(page, "checked by axe", "stored");
    assert.deepEqual(await violations(page), [], "chat");

    await page.getByRole("button", { name: "Account" }).click();
    assert.deepEqual(await violations(page), [], "account menu");

    await page.reload();
    await page.locator("#unlock-passphrase").waitFor();
    assert.deepEqual(await violations(page), [], "unlock");

    await page.getByRole("button", { name: "Use a key file" }).click();
    await page.locator("#keyfile").waitFor();
    assert.deepEqual(await violations(page), [], "import");
  });
});
