// Sending (SPEC §8.1), delivery status (§9.7) and acknowledgement (§8.3): the requests a
// session makes besides its stream.
import { call } from "./http";

export type DeliveryStatus = "sending" | "stored" | "queued" | "delivered" | "failed";

export interface SendAnswer {
  id: string;
  status: "stored" | "queued";
  seq?: number;
  duplicate?: boolean;
}

export interface StatusAnswer {
  id: string;
  status: "stored" | "queued" | "delivered" | "failed";
  attempts: number;
  next_attempt_at: number | null;
  error: string | null;
}

/** Sends a `POST /v1/messages` body (already built and size-checked by the protocol module). */
export async function send(body: string): Promise<SendAnswer> {
  return (await call<SendAnswer>("POST", "/v1/messages", { text: body })).body;
}

export async function status(id: string, credential: string): Promise<StatusAnswer> {
  return (await call<StatusAnswer>("GET", `/v1/messages/${id}/status`, { headers: { "X-KEZ-Auth": credential } }))
    .body;
}

export async function acknowledge(handle: string, through: number, credential: string): Promise<void> {
  await call("POST", `/v1/inbox/${handle}/ack`, {
    body: { through },
    headers: { "X-KEZ-Auth": credential },
  });
}
