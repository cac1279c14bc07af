// The read token. It arrives in the link's fragment (`#token=vdt_…`), which a browser never
// sends to a server, is kept in this tab's sessionStorage, and is taken out of the address bar
// at once so it is neither bookmarked nor shared with a copied link.

const KEY = "verdict.token";

/** Takes a token from the fragment into sessionStorage and removes the fragment; returns the
 * token this tab holds, if any. */
export function adoptToken(): string | null {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const given = fragment.get("token");
  if (given) {
    window.sessionStorage.setItem(KEY, given);
    fragment.delete("token");
    const rest = fragment.toString();
    const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : "");
    window.history.replaceState(window.history.state, "", url);
  }
  return window.sessionStorage.getItem(KEY);
}

/** Forgets this tab's token. */
export function signOut(): void {
  window.sessionStorage.removeItem(KEY);
}

/** Keeps a token pasted on the sign-in page. */
export function keepToken(token: string): void {
  window.sessionStorage.setItem(KEY, token.trim());
}
