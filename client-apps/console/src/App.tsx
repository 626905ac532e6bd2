import { useCallback, useEffect, useMemo, useState, type FormEvent } from "react";

import { errorText, makeApi } from "./api";
import { forgetKey, redeemTicket, storedKey, storeKey, ticketInLocation } from "./auth";
import { AgentsPage, ExecutionsPage, InstancesPage, SessionsPage } from "./components/ListPages";
import { SessionPage } from "./components/SessionPage";
import { href, useRoute, type Route } from "./router";

export function App() {
  const [key, setKey] = useState<string | null>(() => (ticketInLocation() ? null : storedKey()));
  const [signInError, setSignInError] = useState("");
  const [redeeming, setRedeeming] = useState(() => ticketInLocation() !== null);

  useEffect(() => {
    const ticket = ticketInLocation();
    if (!ticket) return;
    redeemTicket(ticket).then(
      (redeemed) => {
        storeKey(redeemed);
        setKey(redeemed);
        setRedeeming(false);
      },
      (error: unknown) => {
        setSignInError(error instanceof Error ? error.message : String(error));
        setRedeeming(false);
      },
    );
  }, []);

  // Stable, so the API clients (and every list loaded with them) are made once per key.
  const signOut = useCallback((message = "") => {
    forgetKey();
    setKey(null);
    setSignInError(message);
  }, []);

  if (redeeming) return <p className="centered">Signing in…</p>;
  if (!key) return <SignIn error={signInError} onSignedIn={(k) => { storeKey(k); setKey(k); setSignInError(""); }} />;
  return <Console apiKey={key} onSignOut={signOut} />;
}

function SignIn({ error, onSignedIn }: { error: string; onSignedIn: (key: string) => void }) {
  const [value, setValue] = useState("");
  const [checking, setChecking] = useState(false);
  const [problem, setProblem] = useState("");

  async function submit(event: FormEvent) {
    event.preventDefault();
    setChecking(true);
    setProblem("");
    try {
      // A cheap authenticated call tells a wrong key at once.
      await makeApi(value.trim(), () => undefined).sessions.list({ pageSize: 1 });
      onSignedIn(value.trim());
    } catch (failure) {
      setProblem(errorText(failure));
    } finally {
      setChecking(false);
    }
  }

  const shown = problem || error;
  return (
    <main className="sign-in">
      <h1>Stigmer console</h1>
      <form onSubmit={submit} aria-label="sign in">
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          autoFocus
          value={value}
          onChange={(event) => setValue(event.target.value)}
        />
        <button type="submit" disabled={checking || !value.trim()}>
          {checking ? "Checking…" : "Sign in"}
        </button>
        {shown && (
          <p className="error-box" role="alert" data-testid="sign-in-error">
            {shown}
          </p>
        )}
      </form>
      <p className="muted">
        Local mode: <code>stigmer local console</code> prints a one-time sign-in link. The key is kept in this tab only.
      </p>
    </main>
  );
}

const NAV: { page: Route["page"]; label: string }[] = [
  { page: "sessions", label: "Sessions" },
  { page: "executions", label: "Executions" },
  { page: "agents", label: "Agents" },
  { page: "instances", label: "Instances" },
];

function Console({ apiKey, onSignOut }: { apiKey: string; onSignOut: (message?: string) => void }) {
  const route = useRoute();
  const api = useMemo(
    () => makeApi(apiKey, () => onSignOut("The server refused the key (missing, wrong or revoked): sign in again.")),
    [apiKey, onSignOut],
  );
  const current = route.page === "session" ? "sessions" : route.page;
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Stigmer</span>
        <nav aria-label="main">
          {NAV.map((item) => (
            <a key={item.page} href={href({ page: item.page } as Route)} aria-current={current === item.page ? "page" : undefined}>
              {item.label}
            </a>
          ))}
        </nav>
        <button type="button" className="link" onClick={() => onSignOut()}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {route.page === "agents" && <AgentsPage api={api} />}
        {route.page === "instances" && <InstancesPage api={api} />}
        {route.page === "sessions" && <SessionsPage api={api} />}
        {route.page === "executions" && <ExecutionsPage api={api} />}
        {route.page === "session" && <SessionPage api={api} id={route.id} key={route.id} />}
      </main>
    </>
  );
}
