// Loads one API resource for a screen; reloads when the token changes or `reload()` is called.
import { useCallback, useEffect, useState } from "react";
import { get } from "./api";

export function useApi<T>(path: string | null): { data: T | null; error: string | null; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(() => setGeneration((value) => value + 1), []);
  useEffect(() => {
    window.addEventListener("flowbuilder:token", reload);
    return () => window.removeEventListener("flowbuilder:token", reload);
  }, [reload]);
  useEffect(() => {
    if (path === null) return;
    let current = true;
    get<T>(path).then(
      (value) => current && (setData(value), setError(null)),
      (reason: Error) => current && setError(reason.message),
    );
    return () => {
      current = false;
    };
  }, [path, generation]);
  return { data, error, reload };
}
