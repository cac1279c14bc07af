import type { ComponentChildren } from "preact";
import { href, type Route } from "../route";
import { navigate } from "../navigation";

/** A link to a view of the dashboard: a real `<a href>` (open in a new tab, copy the address),
 * followed in place on a plain click. */
export function Link(props: {
  to: Route;
  children: ComponentChildren;
  class?: string;
  "aria-current"?: "page" | undefined;
  title?: string;
}) {
  const url = href(props.to);
  return (
    <a
      href={url}
      class={props.class}
      title={props.title}
      aria-current={props["aria-current"]}
      onClick={(event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
          return;
        event.preventDefault();
        navigate(url);
      }}
    >
      {props.children}
    </a>
  );
}

export const runRoute = (run: string, params: Record<string, string> = {}): Route => ({
  page: "run",
  run,
  params,
});
export const testRoute = (test: string, params: Record<string, string> = {}): Route => ({
  page: "test",
  test,
  params,
});
export const failureRoute = (fingerprint: string, params: Record<string, string> = {}): Route => ({
  page: "failure",
  fingerprint,
  params,
});
