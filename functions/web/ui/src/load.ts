// Loading an answer for a view: one state (loading, loaded or failed) per request, the newest
// request winning when the view's parameters change faster than the API answers.
import { useEffect, useState } from "preact/hooks";
import { ApiFailure } from "./api/client";

export type Loaded<T> =
  | { state: "loading" }
  | { state: "ok"; data: T }
  | { state: "failed"; failure: ApiFailure };

export function useLoad<T>(load: () => Promise<T>, key: string): Loaded<T> {
  const [result, setResult] = useState<{ key: string; loaded: Loaded<T> }>({
    key,
    loaded: { state: "loading" },
  });
  useEffect(() => {
    let current = true;
    setResult({ key, loaded: { state: "loading" } });
    load().then(
      (data) => current && setResult({ key, loaded: { state: "ok", data } }),
      (err: unknown) =>
        current &&
        setResult({
          key,
          loaded: {
            state: "failed",
            failure: err instanceof ApiFailure ? err : new ApiFailure(0, String(err)),
          },
        }),
    );
    return () => {
      current = false;
    };
  }, [key]);
  return result.key === key ? result.loaded : { state: "loading" };
}
