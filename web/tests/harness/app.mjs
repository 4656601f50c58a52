// What a person does in the app, as steps the tests share. Every step waits on what the page
// shows (Playwright's auto-waiting locators), never on a fixed delay.

export const PASSPHRASE = "correct horse battery";

/** From the first screen (or the unlock screen), creates `handle` and waits for the chat. */
export async function createIdentity(page, handle, passphrase = PASSPHRASE) {
  await page.goto("/");
  const welcome = page.getByRole("button", { name: "Create your KEZ" });
  const another = page.getByRole("button", { name: "Create another identity" });
  await welcome.or(another).first().click();
  await page.locator("#handle").fill(handle);
  await page.locator("#passphrase").fill(passphrase);
  await page.locator("#passphrase-again").fill(passphrase);
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await page.getByTestId("own-address").waitFor();
}

/** Unlocks the identity on the unlock screen. */
export async function unlock(page, passphrase = PASSPHRASE) {
  await page.locator("#unlock-passphrase").fill(passphrase);
  await page.getByRole("button", { name: "Unlock" }).click();
}

export async function waitLive(page) {
  await page.locator('[data-testid="stream-state"][data-state="live"]').waitFor();
}

/** Opens a chat with `who` (a handle or an address). */
export async function startChat(page, who, address) {
  await page.locator("#new-chat").fill(who);
  await page.locator("#new-chat").press("Enter");
  await page.locator("#thread-title", { hasText: address }).waitFor();
}

/** Opens the conversation named `address` in the list. */
export async function openConversation(page, address) {
  await page.locator(".conversation", { hasText: address }).click();
  await page.locator("#thread-title", { hasText: address }).waitFor();
}

export async function send(page, text) {
  await page.locator("#compose").fill(text);
  await page.locator("#compose").press("Enter");
}

/** The message bubble holding exactly `text`. */
export function message(page, text) {
  return page.getByTestId("message").filter({ has: page.locator(".text", { hasText: text }) });
}

/** Waits until the sent message `text` shows delivery state `status`. */
export async function waitDelivery(page, text, status) {
  await message(page, text).locator(`[data-testid="delivery"][data-status="${status}"]`).waitFor();
}
