import { useEffect, useState } from "react";

import { errorText } from "../api";

/**
 * Runs `load` on mount, when `key` changes and on `reload()`; keeps the last result while
 * reloading. `key` names what `load` reads (an id), so a new closure each render is no reload.
 */
export function useLoad<T>(load: () => Promise<T>, key: string) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState("");
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (value) => {
        if (live) {
          setData(value);
          setError("");
        }
      },
      (failure: unknown) => live && setError(errorText(failure)),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, tick]);
  return { data, error, reload: () => setTick((n) => n + 1) };
}
