// The one way the app talks to its home server: JSON over fetch to this origin only (the
// page's Content-Security-Policy allows nothing else). Errors carry SPEC §10's stable code;
// the server's `message` text is never parsed.

/** A refusal by the server (its §10 code), or `network` when it could not be reached. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
  ) {
    super(`${code} (${status})`);
  }
}

export interface Answer<T> {
  status: number;
  body: T;
}

/** Sends one request; resolves with any 2xx answer, rejects with an ApiError otherwise. */
export async function call<T>(
  method: "GET" | "POST",
  path: string,
  options: { body?: unknown; text?: string; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  const body = options.text ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body, cache: "no-store" });
  } catch {
    throw new ApiError(0, "network");
  }
  const text = await response.text().catch(() => "");
  let parsed: unknown = null;
  try {
    parsed = text === "" ? null : JSON.parse(text);
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const code =
      parsed !== null && typeof parsed === "object" && typeof (parsed as { error?: unknown }).error === "string"
        ? (parsed as { error: string }).error
        : response.status >= 500
          ? "unavailable"
          : "malformed_request";
    throw new ApiError(response.status, code);
  }
  return { status: response.status, body: parsed as T };
}
