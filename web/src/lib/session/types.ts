// What a session keeps and shows: conversations keyed by the peer's primary key (a handle is
// only a name, and a name can change hands), and the messages in them.
import type { DeliveryStatus } from "../api/messages";

export interface Conversation {
  /** The peer's primary key: the conversation's identity. */
  peerPrimary: string;
  /** The peer's address, the display name. */
  address: string;
  /** Random storage key, so the stored row does not name the peer. */
  rowKey: string;
  /** Time of the newest message (ms), for ordering. */
  lastTs: number;
  unread: number;
  /** An earlier conversation with this address had another key (trust on first use). */
  keyChanged: boolean;
  /** The person read the key-change warning and chose to go on. */
  keyChangeAccepted: boolean;
}

export interface ChatMessage {
  /** The message id (SPEC §6.4). */
  id: string;
  peerPrimary: string;
  outgoing: boolean;
  text: string;
  /** The sender's time of sealing (ms). */
  ts: number;
  /** Outgoing only: where the message is (SPEC §9.7), or `sending` before the server answered. */
  status: DeliveryStatus | null;
  /** Outgoing only: why it failed (a SPEC §10 code). */
  error: string | null;
  /** Incoming only: why it could not be opened; then `text` is empty. */
  problem: string | null;
  /** Outgoing only, while `sending`: the signed `POST /v1/messages` body, sent again (the same
   * bytes) until the server answers it; null once it did. Absent from rows stored before. */
  envelope?: string | null;
}

/** Newest conversation first. */
export const byRecency = (a: Conversation, b: Conversation) => b.lastTs - a.lastTs;
