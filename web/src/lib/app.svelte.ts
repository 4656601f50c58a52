// The app's top-level state: the home server, the identities on this device, the open session
// and which screen shows. Screens are states, not URLs: nothing about a person's identity or
// conversations ever appears in the address bar (or in a server log of page loads).
import { fetchServerInfo, type ServerInfo } from "./api/server";
import { codeOf, inWords } from "./errors";
import { removeIdentity, wipe } from "./store/db";
import { listIdentities, type DeviceIdentity } from "./store/device";
import { Session } from "./session/session.svelte";

export type Screen = "loading" | "welcome" | "create" | "import" | "unlock" | "chat" | "failed";

class App {
  screen = $state<Screen>("loading");
  server = $state<ServerInfo | null>(null);
  identities = $state<DeviceIdentity[]>([]);
  /** The identity the unlock screen asks for. */
  chosen = $state<string | null>(null);
  session = $state<Session | null>(null);
  failure = $state("");
  /** What the first screen tells a person about what just happened (their account deleted). */
  notice = $state("");

  async start(): Promise<void> {
    try {
      this.server = await fetchServerInfo();
      this.identities = await listIdentities();
    } catch (error) {
      this.failure = inWords(codeOf(error));
      this.screen = "failed";
      return;
    }
    this.chosen = this.identities.at(-1)?.primary ?? null;
    this.screen = this.identities.length > 0 ? "unlock" : "welcome";
  }

  /** An identity was created or imported and unlocked. */
  async opened(session: Session): Promise<void> {
    this.identities = await listIdentities();
    this.enter(session);
  }

  enter(session: Session): void {
    this.notice = "";
    this.session?.close();
    this.session = session;
    this.chosen = session.identity.primary;
    this.screen = "chat";
  }

  /** Locks the open session; the passphrase is needed again. */
  lock(): void {
    this.session?.close();
    this.session = null;
    this.screen = this.identities.length > 0 ? "unlock" : "welcome";
  }

  /** Goes to the unlock screen of another identity. */
  switchTo(primary: string): void {
    this.lock();
    this.chosen = primary;
  }

  /** Removes one identity (after its account was deleted) and all it stored here. */
  async forget(primary: string): Promise<void> {
    if (this.session?.identity.primary === primary) this.lock();
    await removeIdentity(primary);
    this.identities = await listIdentities();
    this.chosen = this.identities.at(-1)?.primary ?? null;
    this.screen = this.identities.length > 0 ? "unlock" : "welcome";
  }

  /** The server deleted the account of `identity`: it is forgotten here too, and the screen says so. */
  async deleted(identity: { primary: string; address: string }): Promise<void> {
    await this.forget(identity.primary);
    this.notice = `The account ${identity.address} was deleted. This device no longer keeps its key or history.`;
  }

  /** "Forget this device": every identity and all history, gone. */
  async forgetDevice(): Promise<void> {
    this.lock();
    await wipe();
    this.identities = [];
    this.chosen = null;
    this.screen = "welcome";
  }
}

export const app = new App();
