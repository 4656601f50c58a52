// A parser for the text/event-stream format [HTML-SSE], fed bytes as they arrive. The app
// reads the stream with fetch rather than EventSource because EventSource reconnects on its
// own with the URL it was given, whose credential is stale after 60 s (SPEC §7.1): every
// reconnection here signs a fresh one.

export interface ServerEvent {
  event: string;
  data: string;
  id: string | null;
}

export class EventParser {
  private buffer = "";
  private decoder = new TextDecoder();
  private event = "";
  private data: string[] = [];
  private id: string | null = null;

  /** Feeds a chunk; returns the events it completed. */
  push(chunk: Uint8Array): ServerEvent[] {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    const done: ServerEvent[] = [];
    let newline: number;
    while ((newline = this.buffer.search(/\r\n|\n|\r/)) !== -1) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith("\r\n", newline) ? 2 : 1;
      this.buffer = this.buffer.slice(newline + width);
      const event = this.line(line);
      if (event !== null) done.push(event);
    }
    return done;
  }

  private line(line: string): ServerEvent | null {
    if (line === "") {
      if (this.data.length === 0) {
        this.event = "";
        return null;
      }
      const event = { event: this.event || "message", data: this.data.join("\n"), id: this.id };
      this.event = "";
      this.data = [];
      this.id = null;
      return event;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.id = value;
    return null;
  }
}
