// One kezd and one headless Chromium for a test file's suite: started before its tests, stopped
// after them, so that each file declares only what it tests.
import { after, before } from "node:test";
import { Kezd } from "./kezd.mjs";
import { launch, person } from "./browser.mjs";
import { createIdentity, waitLive } from "./app.mjs";

/**
 * Registers the suite's hooks. `kezd` is the server once they have run; `person()` opens a fresh
 * browser profile on it.
 * @param {ConstructorParameters<typeof Kezd>[0]} [options] the server's options
 */
export function serverAndBrowser(options) {
  let browser;
  const suite = {
    /** @type {Kezd} */
    kezd: null,
    person: () => person(browser, suite.kezd.url),
  };
  before(async () => {
    suite.kezd = new Kezd(options);
    await suite.kezd.start();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await suite.kezd?.dispose();
  });
  return suite;
}

/** Alice and Bob on the suite's server, each with an identity and a live stream. */
export async function aliceAndBob(suite) {
  const [alice, bob] = [await suite.person(), await suite.person()];
  await createIdentity(alice.page, "alice");
  await createIdentity(bob.page, "bob");
  await Promise.all([waitLive(alice.page), waitLive(bob.page)]);
  return { alice, bob };
}
