//! What the tests of this module share: the code a call is refused with, so each test states
//! the expected code in one line. Not part of the module's API (index.ts does not export it).

import { isKezError } from "./errors";

/** The KezError code `run` (sync or async) is refused with, or null when it succeeds. */
export async function refusalCode(run: () => unknown): Promise<string | null> {
  try {
    await run();
    return null;
  } catch (e) {
    if (isKezError(e)) return e.code;
    throw e;
  }
}
