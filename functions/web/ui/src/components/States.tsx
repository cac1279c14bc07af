import type { ComponentChildren } from "preact";
import type { ApiFailure } from "../api/client";
import type { Loaded } from "../load";

/** Loading, failed or the view: every view shows one of the three. */
export function Loading(props: { what: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      Loading {props.what}…
    </p>
  );
}

export function Failed(props: { failure: ApiFailure; what: string }) {
  const { status, message } = props.failure;
  const heading =
    status === 401
      ? "This token is not accepted"
      : status === 404
        ? `No such ${props.what}`
        : status === 0
          ? "The API could not be reached"
          : `Could not load the ${props.what}`;
  return (
    <div class="failed" role="alert">
      <h2>{heading}</h2>
      <p>{message}</p>
      {status === 401 && (
        <p>
          It may have been revoked. Ask for a new link (<code>verdict admin token create --scope read</code>) or{" "}
          <a href="/signin">sign in again</a>.
        </p>
      )}
    </div>
  );
}

export function Empty(props: { children: ComponentChildren }) {
  return <p class="empty">{props.children}</p>;
}

export function Show<T>(props: {
  loaded: Loaded<T>;
  what: string;
  children: (data: T) => ComponentChildren;
}) {
  const l = props.loaded;
  if (l.state === "loading") return <Loading what={props.what} />;
  if (l.state === "failed") return <Failed failure={l.failure} what={props.what} />;
  return <>{props.children(l.data)}</>;
}
