// Users on the home server and, through it, on any KEZ server (SPEC §4): registration, the
// handle record of `handle` or `handle@server`, and account deletion where offered.
import { call } from "./http";

export interface HandleRecord {
  handle: string;
  server: string;
  address: string;
  primary: string;
  registered_at: number;
  registration: Record<string, unknown>;
}

/** `POST /v1/register` with a signed registration (and an invitation token if the server asks). */
export async function register(signed: object, token?: string): Promise<HandleRecord> {
  const headers: Record<string, string> = token ? { "KEZ-Registration-Token": token } : {};
  return (await call<HandleRecord>("POST", "/v1/register", { body: signed, headers })).body;
}

/** `GET /v1/u/<handle or address>`: a remote address is resolved by the home server. */
export async function lookup(handleOrAddress: string): Promise<HandleRecord> {
  return (await call<HandleRecord>("GET", `/v1/u/${handleOrAddress}`)).body;
}

/** `POST /v1/account/delete` with a signed deletion object. */
export async function deleteAccount(signed: object): Promise<void> {
  await call("POST", "/v1/account/delete", { body: signed });
}
