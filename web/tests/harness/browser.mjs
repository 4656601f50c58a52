// Headless Chromium from the system's packages (Debian's `chromium`), driven by playwright-core:
// no browser download. CHROMIUM names another binary.
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true });
}

/** A fresh browser profile (its own IndexedDB) on `baseURL`: one person's browser. */
export async function person(browser, baseURL) {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(new Error(message.text()));
  });
  return { context, page, errors };
}
