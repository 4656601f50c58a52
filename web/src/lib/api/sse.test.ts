import { describe, expect, it } from "vitest";
import { EventParser } from "./sse";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("EventParser", () => {
  it("reads the stream of SPEC §8.5's example, split anywhere", () => {
    const stream =
      'retry: 3000\n\nid: 42\nevent: message\ndata: {"seq":42}\n\nevent: ready\ndata: {"seq":42}\n\n: keep-alive\n\nid: 43\nevent: message\ndata: {"seq":43}\n\n';
    for (let cut = 0; cut < stream.length; cut++) {
      const parser = new EventParser();
      const events = [...parser.push(bytes(stream.slice(0, cut))), ...parser.push(bytes(stream.slice(cut)))];
      expect(events).toEqual([
        { event: "message", data: '{"seq":42}', id: "42" },
        { event: "ready", data: '{"seq":42}', id: null },
        { event: "message", data: '{"seq":43}', id: "43" },
      ]);
    }
  });

  it("joins data lines and accepts CRLF", () => {
    const parser = new EventParser();
    expect(parser.push(bytes("data: a\r\ndata: b\r\n\r\n"))).toEqual([{ event: "message", data: "a\nb", id: null }]);
  });

  it("keeps a multi-byte character split between chunks", () => {
    const parser = new EventParser();
    const all = bytes("data: é\n\n");
    expect([...parser.push(all.slice(0, 7)), ...parser.push(all.slice(7))]).toEqual([
      { event: "message", data: "é", id: null },
    ]);
  });
});
