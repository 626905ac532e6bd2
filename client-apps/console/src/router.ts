import { useEffect, useState } from "react";

// Hash routes (#/sessions/ses-...): the server serves one index.html and needs no route table.
export type Route =
  | { page: "agents" | "instances" | "sessions" | "executions" }
  | { page: "session"; id: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#\/?/, "");
  const [first, second] = path.split("/");
  if (first === "sessions" && second) return { page: "session", id: decodeURIComponent(second) };
  if (first === "agents" || first === "instances" || first === "executions" || first === "sessions") {
    return { page: first };
  }
  return { page: "sessions" };
}

export function href(route: Route): string {
  return route.page === "session" ? `#/sessions/${encodeURIComponent(route.id)}` : `#/${route.page}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return route;
}
