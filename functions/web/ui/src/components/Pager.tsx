import type { Route } from "../route";
import { withParams } from "../route";
import { Link } from "./Link";

/** Paging through an API cursor: the cursor is in the address, so the browser's back button
 * goes to the previous page. */
export function Pager(props: { route: Route; next: string | null | undefined; label: string }) {
  const first = props.route.params.cursor !== undefined;
  if (!first && !props.next) return null;
  return (
    <nav class="pager" aria-label={`Pages of ${props.label}`}>
      {first && <Link to={withParams(props.route, { cursor: null })}>« First page</Link>}
      {props.next && <Link to={withParams(props.route, { cursor: props.next })}>Next page »</Link>}
    </nav>
  );
}
