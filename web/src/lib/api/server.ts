// What the home server says about itself: its name (`/v1/healthz`, always there) and, from its
// server document (`/.well-known/kez`, present when it federates), how it registers newcomers
// and which optional features it offers.
import { ApiError, call } from "./http";

export type Registration = "open" | "token" | "closed";

export interface ServerInfo {
  /** The server name, the part after `@` in every address it hosts. */
  name: string;
  registration: Registration;
  /** Whether a person may delete their account from a client. */
  accountDeletion: boolean;
}

interface Health {
  server: string;
}

interface ServerDocument {
  registration?: unknown;
  capabilities?: unknown;
}

export async function fetchServerInfo(): Promise<ServerInfo> {
  const health = await call<Health>("GET", "/v1/healthz");
  let document: ServerDocument = {};
  try {
    document = (await call<ServerDocument>("GET", "/.well-known/kez")).body ?? {};
  } catch (error) {
    // A server that does not federate has no document: it registers openly.
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
  }
  const registration =
    document.registration === "token" || document.registration === "closed" ? document.registration : "open";
  const capabilities = Array.isArray(document.capabilities) ? document.capabilities : [];
  return {
    name: health.body.server,
    registration,
    accountDeletion: capabilities.includes("account_deletion"),
  };
}
