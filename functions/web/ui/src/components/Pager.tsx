import type { Route } from "../route";
import { withParams } from "../route";
import { Link } from "./Link";

/** Paging through an API cursor: the cursor is in the address (as `param`, `cursor` unless the
 * page has several lists), so the browser's back button goes to the previous page. */
export function Pager(props: { route: Route; next: string | null | undefined; label: string; param?: string }) {
  const param = props.param ?? "cursor";
  const first = props.route.params[param] !== undefined;
  if (!first && !props.next) return null;
  return (
    <nav class="pager" aria-label={`Pages of ${props.label}`}>
      {first && <Link to={withParams(props.route, { [param]: null })}>« First page</Link>}
      {props.next && <Link to={withParams(props.route, { [param]: props.next })}>Next page »</Link>}
    </nav>
  );
}
