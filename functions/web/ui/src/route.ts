// The page's state is its URL: every view has its own address, so back, forward, reload and a
// shared link all land on the same view. `parseRoute` and `href` are each other's inverse.

export type Params = Record<string, string>;

export type Route =
  | { page: "runs"; params: Params }
  | { page: "run"; run: string; params: Params }
  | { page: "test"; test: string; params: Params }
  | { page: "failure"; fingerprint: string; params: Params }
  | { page: "insights"; params: Params }
  | { page: "uploads"; params: Params }
  | { page: "signin"; params: Params }
  | { page: "missing"; path: string; params: Params };

/** The route of a path and query string. */
export function parseRoute(pathname: string, search: string): Route {
  const params: Params = {};
  new URLSearchParams(search).forEach((value, key) => {
    if (value !== "") params[key] = value;
  });
  const parts = pathname.split("/").filter((p) => p !== "").map(decodeURIComponent);
  const [first, second, ...rest] = parts;
  if (first === undefined) return { page: "runs", params };
  if (rest.length === 0) {
    if (first === "runs" && second !== undefined) return { page: "run", run: second, params };
    if (first === "tests" && second !== undefined) return { page: "test", test: second, params };
    if (first === "failures" && second !== undefined)
      return { page: "failure", fingerprint: second, params };
    if (first === "insights" && second === undefined) return { page: "insights", params };
    if (first === "uploads" && second === undefined) return { page: "uploads", params };
    if (first === "signin" && second === undefined) return { page: "signin", params };
  }
  return { page: "missing", path: pathname, params };
}

/** The address of a route; parameters with an empty value are left out. */
export function href(route: Route): string {
  const path = (() => {
    switch (route.page) {
      case "runs":
        return "/";
      case "run":
        return `/runs/${encodeURIComponent(route.run)}`;
      case "test":
        return `/tests/${encodeURIComponent(route.test)}`;
      case "failure":
        return `/failures/${encodeURIComponent(route.fingerprint)}`;
      case "insights":
        return "/insights";
      case "uploads":
        return "/uploads";
      case "signin":
        return "/signin";
      case "missing":
        return route.path;
    }
  })();
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(route.params).sort(([a], [b]) => a.localeCompare(b))) {
    if (v !== "") query.set(k, v);
  }
  const qs = query.toString();
  return qs ? `${path}?${qs}` : path;
}

/** The same route with some parameters changed (an empty string or null removes one). A change
 * of filter or order starts every list from its first page, so it drops the cursors (`cursor`,
 * and `…_cursor` of a page's other lists) unless one is given. */
export function withParams(route: Route, change: Record<string, string | null>): Route {
  const params: Params = { ...route.params };
  for (const name of Object.keys(params)) {
    if ((name === "cursor" || name.endsWith("_cursor")) && !(name in change)) delete params[name];
  }
  for (const [k, v] of Object.entries(change)) {
    if (v === null || v === "") delete params[k];
    else params[k] = v;
  }
  return { ...route, params };
}
