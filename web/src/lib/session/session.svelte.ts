// One unlocked identity: its conversations and messages (loaded from the encrypted store and
// kept there), the live inbox stream, sending with delivery states, and starting chats.
//
// Acknowledgement policy: a message is acknowledged to the server (and so leaves its inbox for
// every client of this identity) only after this device has stored it, encrypted, in
// IndexedDB; see web/README.md.
import { ApiError } from "../api/http";
import { acknowledge, send, type DeliveryStatus } from "../api/messages";
import { InboxStream, type StreamState } from "../api/stream";
import { fromHex, toHex } from "../kez";
import { lookup } from "../api/users";
import { codeOf } from "../errors";
import * as protocol from "../protocol";
import type { DeviceIdentity } from "../store/device";
import { Vault } from "../store/vault";
import { followDelivery } from "./delivery";
import { sendFailure } from "./outgoing";
import { byRecency, type ChatMessage, type Conversation } from "./types";

/** What starting a chat found. */
export type StartResult =
  | { kind: "ready"; conversation: Conversation }
  | { kind: "key_changed"; record: Peer; previous: Conversation };

/** A verified handle record's binding: an address and its primary. */
export interface Peer {
  address: string;
  primary: string;
}

interface Meta {
  /** The seq of the last inbox message stored on this device. */
  cursor: number;
}

export class Session {
  conversations = $state<Conversation[]>([]);
  messages = $state<Record<string, ChatMessage[]>>({});
  selected = $state<string | null>(null);
  streamState = $state<StreamState>("connecting");

  private cursor = 0;
  private stream: InboxStream | null = null;
  private acking: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly known = new Set<string>();
  /** Ids of the messages being posted now, so a resend does not overlap a send. */
  private readonly posting = new Set<string>();

  private constructor(
    readonly identity: DeviceIdentity,
    private readonly seed: Uint8Array,
    private readonly vault: Vault,
  ) {}

  /**
   * Unlocks `identity` with `passphrase` (one key derivation: the seed is kept sealed under
   * the storage key); rejects with `wrong_passphrase` when it does not open.
   */
  static async unlock(identity: DeviceIdentity, passphrase: string): Promise<Session> {
    const key = await protocol.storageKey(passphrase, identity.storage);
    // For the first-render benchmark (docs/BENCHMARKS.md): key derivation ends here.
    performance.mark("kez:key-derived");
    const vault = new Vault(identity.primary, key);
    const secret = (await vault.readAll<string>("secret")).find((row) => row.key === "seed");
    const seed = secret ? fromHex(secret.value, 32) : null;
    if (seed === null) throw new ApiError(0, "keyfile_malformed");
    const session = new Session(identity, seed, vault);
    await session.load();
    return session;
  }

  /** Keeps a new identity on this device (`save` writes its row) and opens its session. */
  static async create(
    identity: DeviceIdentity,
    seed: Uint8Array,
    key: protocol.StorageKey,
    save: () => Promise<unknown>,
  ): Promise<Session> {
    const vault = new Vault(identity.primary, key);
    await vault.write("secret", "seed", toHex(seed));
    await save();
    const session = new Session(identity, seed, vault);
    await session.load();
    return session;
  }

  get sorted(): Conversation[] {
    return [...this.conversations].sort(byRecency);
  }

  /** Reads the stored history, then opens the stream from where it left off. */
  private async load(): Promise<void> {
    const [conversations, messages, meta] = await Promise.all([
      this.vault.readAll<Conversation>("conversation"),
      this.vault.readAll<ChatMessage>("message"),
      this.vault.readAll<Meta>("meta"),
    ]);
    performance.mark("kez:history-read");
    this.cursor = meta.find((m) => m.key === "inbox")?.value.cursor ?? 0;
    const grouped: Record<string, ChatMessage[]> = {};
    for (const { value } of messages) {
      (grouped[value.peerPrimary] ??= []).push(value);
      this.known.add(value.id);
    }
    for (const list of Object.values(grouped)) list.sort((a, b) => a.ts - b.ts);
    this.messages = grouped;
    this.conversations = conversations.map((c) => c.value);
    // Reopened where a person most likely left off: the newest conversation.
    this.selected = this.sorted[0]?.peerPrimary ?? null;
    for (const message of messages) {
      if (message.value.status === "queued") this.follow(message.value);
    }
    this.stream = new InboxStream({
      handle: this.identity.handle,
      cursor: () => this.cursor,
      credential: (since) => protocol.streamCredential(this.seed, this.identity.handle, since),
      onMessage: (data) => this.receive(data),
      onState: (state) => this.streamChanged(state),
    });
  }

  /** A stream live again (or for the first time) means the server is reachable: every message
   * still `sending` (cut off by a reload, a dropped network, a server down) is sent again. */
  private streamChanged(state: StreamState): void {
    const wasLive = this.streamState === "live";
    this.streamState = state;
    if (state !== "live" || wasLive) return;
    for (const list of Object.values(this.messages)) {
      for (const message of list) {
        if (message.outgoing && message.status === "sending") void this.post(message, true);
      }
    }
  }

  close(): void {
    this.closed = true;
    this.stream?.close();
  }

  /** Reconnects now (the browser came back online). */
  retryNow(): void {
    this.stream?.retryNow();
  }

  conversation(peerPrimary: string): Conversation | undefined {
    return this.conversations.find((c) => c.peerPrimary === peerPrimary);
  }

  select(peerPrimary: string | null): void {
    this.selected = peerPrimary;
    const conversation = peerPrimary === null ? undefined : this.conversation(peerPrimary);
    if (conversation && conversation.unread > 0) {
      conversation.unread = 0;
      void this.saveConversation(conversation);
    }
  }

  /**
   * Finds `input` (a handle here, or handle@server anywhere) through the home server. Throws
   * an ApiError (`unknown_handle`, `unavailable`, …) or `self` when it is this identity.
   */
  async startChat(input: string): Promise<StartResult> {
    const target = protocol.addressInput(input, this.identity.server);
    const record = protocol.verifiedRecord(await lookup(target), target);
    if (record.primary === this.identity.primary) throw new ApiError(0, "self");
    const existing = this.conversation(record.primary);
    if (existing) return { kind: "ready", conversation: existing };
    const previous = this.conversations.find((c) => c.address === record.address);
    if (previous) return { kind: "key_changed", record, previous };
    return { kind: "ready", conversation: await this.addConversation(record.address, record.primary, false) };
  }

  /** Opens a conversation with a changed key, after the person accepted the warning. */
  async acceptNewKey(record: Peer): Promise<Conversation> {
    const conversation = await this.addConversation(record.address, record.primary, true);
    await this.acceptKeyChange(conversation);
    return conversation;
  }

  async acceptKeyChange(conversation: Conversation): Promise<void> {
    conversation.keyChangeAccepted = true;
    await this.saveConversation(conversation);
  }

  private async addConversation(address: string, peerPrimary: string, keyChanged: boolean): Promise<Conversation> {
    const existing = this.conversation(peerPrimary);
    if (existing) return existing;
    this.conversations.push({
      peerPrimary,
      address,
      rowKey: crypto.randomUUID(),
      lastTs: Date.now(),
      unread: 0,
      keyChanged,
      keyChangeAccepted: false,
    });
    const added = this.conversation(peerPrimary)!;
    await this.saveConversation(added);
    return added;
  }

  /** Seals and sends `text` to the conversation's peer, then follows its delivery. */
  async send(conversation: Conversation, text: string): Promise<void> {
    let sealed: { body: string; id: string; ts: number };
    try {
      sealed = await protocol.seal(this.seed, this.identity, conversation.address, conversation.peerPrimary, text);
    } catch (error) {
      throw new ApiError(0, codeOf(error));
    }
    const message: ChatMessage = {
      id: sealed.id,
      peerPrimary: conversation.peerPrimary,
      outgoing: true,
      text,
      ts: sealed.ts,
      status: "sending",
      error: null,
      problem: null,
      envelope: sealed.body,
    };
    const shown = this.show(message);
    conversation.lastTs = message.ts;
    // Stored with its envelope before it is posted, so a reload mid-send can send it again.
    await Promise.all([this.vault.write("message", message.id, message), this.saveConversation(conversation)]);
    await this.post(shown, false);
  }

  /** Posts a `sending` message's envelope; unanswered, it stays `sending` to be sent again. */
  private async post(message: ChatMessage, resent: boolean): Promise<void> {
    const envelope = message.envelope;
    if (typeof envelope !== "string" || this.posting.has(message.id) || this.closed) return;
    this.posting.add(message.id);
    try {
      const answer = await send(envelope);
      await this.setStatus(message, answer.status, null);
      if (answer.status === "queued") this.follow(message);
    } catch (error) {
      const failure = sendFailure(codeOf(error), resent);
      if (failure !== null) await this.setStatus(message, "failed", failure);
    } finally {
      this.posting.delete(message.id);
    }
  }

  private follow(message: ChatMessage): void {
    followDelivery(
      message.id,
      () => protocol.statusCredential(this.seed, message.id),
      (status, error) => this.setStatus(this.find(message) ?? message, status, error),
      () => this.closed,
    );
  }

  private find(message: ChatMessage): ChatMessage | undefined {
    return this.messages[message.peerPrimary]?.find((m) => m.id === message.id);
  }

  private async setStatus(message: ChatMessage, status: DeliveryStatus, error: string | null): Promise<void> {
    message.status = status;
    message.error = error;
    // Answered: the envelope is never sent again, so it is not kept.
    if (status !== "sending") message.envelope = null;
    await this.vault.write("message", message.id, $state.snapshot(message));
  }

  /** Adds `message` to its thread in order; returns the reactive copy. */
  private show(message: ChatMessage): ChatMessage {
    this.known.add(message.id);
    // Assigned first, then read back: the reactive copy is the one read from the state.
    this.messages[message.peerPrimary] ??= [];
    const list = this.messages[message.peerPrimary];
    let at = list.length;
    while (at > 0 && list[at - 1].ts > message.ts) at -= 1;
    list.splice(at, 0, message);
    return list[at];
  }

  /** One inbox message: verified, opened, stored, then acknowledged. */
  private async receive(data: string): Promise<void> {
    let item: ReturnType<typeof protocol.parseInboxItem>;
    try {
      item = protocol.parseInboxItem(data);
    } catch {
      // Not an inbox item: nothing to show or store. Skipped by its seq when it has one,
      // so it does not stop the stream.
      const seq = (JSON.parse(data) as { seq?: unknown }).seq;
      if (typeof seq === "number") this.cursor = Math.max(this.cursor, seq);
      return;
    }
    if (!this.known.has(item.id)) {
      const opened = await protocol
        .open(item.envelope, this.seed, this.identity.address)
        .then((o) => ({ ...o, problem: null as string | null }))
        .catch((error) => ({
          text: "",
          from: typeof item.envelope.from === "string" ? item.envelope.from : "unknown sender",
          fromPrimary: typeof item.envelope.from_primary === "string" ? item.envelope.from_primary : "unknown",
          ts: item.receivedAt,
          problem: codeOf(error),
        }));
      let conversation = this.conversation(opened.fromPrimary);
      if (!conversation) {
        const keyChanged =
          this.conversations.some((c) => c.address === opened.from) ||
          (opened.problem === null && !(await this.isRegistered(opened.from, opened.fromPrimary)));
        conversation = await this.addConversation(opened.from, opened.fromPrimary, keyChanged);
      }
      const message = this.show({
        id: item.id,
        peerPrimary: opened.fromPrimary,
        outgoing: false,
        text: opened.text,
        ts: opened.ts,
        status: null,
        error: null,
        problem: opened.problem,
      });
      conversation.lastTs = Math.max(conversation.lastTs, message.ts);
      if (this.selected !== conversation.peerPrimary || document.visibilityState !== "visible") {
        conversation.unread += 1;
      }
      await Promise.all([
        this.vault.write("message", message.id, $state.snapshot(message)),
        this.saveConversation(conversation),
      ]);
    }
    this.cursor = Math.max(this.cursor, item.seq);
    await this.vault.write("meta", "inbox", { cursor: this.cursor } satisfies Meta);
    this.acknowledge(this.cursor);
  }

  /**
   * Whether `address` is registered with `primary` (SPEC §6.6's check of a new sender): false
   * only when its server names another key; an unreachable server is not held against it.
   */
  private async isRegistered(address: string, primary: string): Promise<boolean> {
    try {
      return protocol.verifiedRecord(await lookup(address), address).primary === primary;
    } catch (error) {
      return codeOf(error) === "network" || codeOf(error) === "unavailable";
    }
  }

  /** Acknowledges through `seq`, one request at a time, skipping those already overtaken. */
  private acknowledge(seq: number): void {
    this.acking = this.acking.then(async () => {
      if (seq < this.cursor || this.closed) return;
      const credential = protocol.ackCredential(this.seed, this.identity.handle, seq);
      await acknowledge(this.identity.handle, seq, credential).catch(() => {
        // Not acknowledged: the next stored message acknowledges through it, and a replay
        // of it is recognised by its id.
      });
    });
  }

  private saveConversation(conversation: Conversation): Promise<void> {
    return this.vault.write("conversation", conversation.rowKey, $state.snapshot(conversation));
  }

  /** The signed deletion request for this account (SPEC's account deletion). */
  deletionRequest(): object {
    return protocol.signDeletion(this.seed, this.identity);
  }
}
