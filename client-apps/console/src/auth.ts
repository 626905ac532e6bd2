// The API key lives in this tab's session storage only: gone when the tab closes, never in a
// URL, never sent anywhere but this server's API as `authorization: Bearer <key>`.
const STORAGE_KEY = "stigmer.apiKey";

export function storedKey(): string | null {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(STORAGE_KEY, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** The ticket of a one-time sign-in link (`/#ticket=...[&session=<id>]`), if opened with one. */
export function ticketInLocation(): string | null {
  const match = /^#ticket=([A-Za-z0-9_-]+)(&session=[^&]*)?$/.exec(window.location.hash);
  return match ? (match[1] ?? null) : null;
}

/** Trades a sign-in ticket for the key it stands for; the ticket is spent either way. */
export async function redeemTicket(ticket: string): Promise<string> {
  const session = new URLSearchParams(window.location.hash.slice(1)).get("session");
  const next = session ? `#/sessions/${encodeURIComponent(session)}` : "#/";
  // The ticket leaves the address bar and the history before anything else happens.
  window.history.replaceState(null, "", window.location.pathname + next);
  const reply = await fetch("/console/sign-in", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ticket }),
  });
  const body = (await reply.json()) as { apiKey?: string; message?: string };
  if (!reply.ok || !body.apiKey) {
    throw new Error(body.message ?? `sign-in failed (HTTP ${reply.status})`);
  }
  return body.apiKey;
}
