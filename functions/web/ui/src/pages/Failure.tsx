// One failure across the project: the tests and runs it hit since `since` (from the address: the
// window of the list it was opened from; else the longest window), a page of tests at a time (the
// cursor in the address), and its newest occurrence in full.
import { unwrap } from "../api/client";
import { useApi } from "../app";
import { Link, runRoute, testRoute } from "../components/Link";
import { withParams } from "../route";
import { Pager } from "../components/Pager";
import { Show } from "../components/States";
import { ResultDetail } from "../components/FailureGroups";
import { count, when } from "../format";
import { useLoad } from "../load";
import type { Route } from "../route";

export function FailurePage(props: { fingerprint: string; route: Route }) {
  const api = useApi();
  const query = { limit: 50, cursor: props.route.params.cursor, since: props.route.params.since };
  const group = useLoad(
    () => unwrap(api.GET("/v1/failures/{fingerprint}", { params: { path: { fingerprint: props.fingerprint }, query } })),
    `${props.fingerprint} ${JSON.stringify(query)}`,
  );
  return (
    <Show loaded={group} what="failure">
      {(g) => (
        <>
          <header class="page-head">
            <h1>
              Failure <span class="mono">{g.fingerprint}</span>
            </h1>
            <dl class="facts">
              <dt>Occurrences</dt>
              <dd data-fact="occurrences">
                {count(g.occurrences)} in {count(g.runs)} runs since <time dateTime={g.since}>{when(g.since)}</time>
                {props.route.params.since && (
                  <>
                    {" "}
                    · <Link to={withParams(props.route, { since: null })}>over 90 days</Link>
                  </>
                )}
              </dd>
              <dt>Tests affected</dt>
              <dd>{count(g.tests_affected)}</dd>
              <dt>First seen</dt>
              <dd>
                <time dateTime={g.first_seen}>{when(g.first_seen)}</time> in{" "}
                <Link to={runRoute(g.first_run_id ?? "")}>{g.first_run_id}</Link>
              </dd>
              <dt>Last seen</dt>
              <dd>
                <time dateTime={g.last_seen}>{when(g.last_seen)}</time> in{" "}
                <Link to={runRoute(g.last_run_id ?? "")}>{g.last_run_id}</Link>
              </dd>
            </dl>
          </header>
          <section aria-labelledby="affected-heading">
            <h2 id="affected-heading">Tests</h2>
            <ul>
              {g.tests.map((t) => (
                <li key={t.test_id}>
                  <Link to={testRoute(t.test_id)}>{t.name}</Link> <span class="muted">{t.classname}</span> ·{" "}
                  {t.occurrences} times
                </li>
              ))}
            </ul>
            <Pager route={props.route} next={g.next_cursor} label="tests" />
          </section>
          <section aria-labelledby="newest-heading">
            <h2 id="newest-heading">
              Newest: <Link to={testRoute(g.newest.test_id)}>{g.newest.name}</Link> in{" "}
              <Link to={runRoute(g.newest.run_id)}>{g.newest.run_id}</Link>
            </h2>
            <ResultDetail run={g.newest.run_id} test={g.newest.test_id} />
          </section>
        </>
      )}
    </Show>
  );
}
