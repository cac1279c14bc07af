// Moving between views without reloading: the History API, with the URL as the only state.
import { useEffect, useState } from "preact/hooks";
import { href, parseRoute, type Route } from "./route";

const CHANGED = "verdict:navigate";

/** The current route, following navigation, back and forward. */
export function useRoute(): Route {
  const read = () => parseRoute(window.location.pathname, window.location.search);
  const [route, setRoute] = useState<Route>(read);
  useEffect(() => {
    const update = () => setRoute(read());
    window.addEventListener("popstate", update);
    window.addEventListener(CHANGED, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(CHANGED, update);
    };
  }, []);
  return route;
}

/** Goes to a route, as a new history entry. */
export function navigate(to: Route | string): void {
  const url = typeof to === "string" ? to : href(to);
  if (url === window.location.pathname + window.location.search) return;
  window.history.pushState(null, "", url);
  window.dispatchEvent(new Event(CHANGED));
  window.scrollTo(0, 0);
}
