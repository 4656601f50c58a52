// The live inbox (SPEC §7.4, §8.5), kept open for as long as a session is: always the resumed
// form, from the last message this device has stored, so a reconnection replays exactly what
// it has not seen — nothing missed, nothing twice. Every connection signs a fresh credential.
// Its state is what the status dot shows.
import { EventParser } from "./sse";

export type StreamState = "connecting" | "live" | "reconnecting";

export interface StreamOptions {
  handle: string;
  /** The seq of the last message stored on this device. */
  cursor: () => number;
  /** Signs `GET\n/v1/inbox/<handle>/stream\nsince=<n>\n<ts>` (SPEC §7.4). */
  credential: (since: number) => string;
  /** Handles one message (the event's data, §8.2's item as JSON text); resolves once it is
   * stored, so the cursor may move past it. */
  onMessage: (data: string) => Promise<void>;
  onState: (state: StreamState) => void;
}

/** Waits after a failed connection: 0.5 s, doubling, at most 8 s. */
const backoff = (attempt: number) => Math.min(8000, 500 * 2 ** attempt);

export class InboxStream {
  private readonly stop = new AbortController();
  private wake: (() => void) | null = null;

  constructor(private readonly options: StreamOptions) {
    void this.run();
  }

  close(): void {
    this.stop.abort();
    this.wake?.();
  }

  /** Retries now instead of at the end of the current wait (the browser came back online). */
  retryNow(): void {
    this.wake?.();
  }

  private async run(): Promise<void> {
    let attempt = 0;
    let everLive = false;
    while (!this.stop.signal.aborted) {
      this.options.onState(everLive ? "reconnecting" : "connecting");
      const opened = await this.connectOnce().catch(() => false);
      if (opened) {
        everLive = true;
        attempt = 0;
      }
      if (this.stop.signal.aborted) return;
      this.options.onState(everLive ? "reconnecting" : "connecting");
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, backoff(attempt));
      });
      this.wake = null;
      attempt += 1;
    }
  }

  /** One connection; resolves true if it got as far as `ready`, when it ends. */
  private async connectOnce(): Promise<boolean> {
    const since = this.options.cursor();
    const auth = this.options.credential(since);
    const url = `/v1/inbox/${this.options.handle}/stream?since=${since}&auth=${encodeURIComponent(auth)}`;
    const response = await fetch(url, { signal: this.stop.signal, cache: "no-store" });
    if (!response.ok || response.body === null) return false;
    const reader = response.body.getReader();
    const parser = new EventParser();
    let ready = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return ready;
      for (const event of parser.push(value)) {
        if (event.event === "ready") {
          ready = true;
          this.options.onState("live");
        } else if (event.event === "message") {
          await this.options.onMessage(event.data);
        }
      }
    }
  }
}
