// Across runs: flaky tests, failure groups and the slowest tests of a window and branch.
import { unwrap } from "../api/client";
import { useApi } from "../app";
import { FilterBar, SelectFilter, TextFilter } from "../components/Filters";
import { failureRoute, Link, runRoute, testRoute } from "../components/Link";
import { Pager } from "../components/Pager";
import { TableBox } from "../components/TableBox";
import { Empty, Show } from "../components/States";
import { ago, count, duration, firstLine, percent, when } from "../format";
import { reason } from "../flaky";
import { useLoad } from "../load";
import type { Route } from "../route";

const WINDOWS: [string, string][] = [
  ["", "30 days"],
  ["7d", "7 days"],
  ["1d", "24 hours"],
  ["90d", "90 days"],
];

export function InsightsPage(props: { route: Route }) {
  const p = props.route.params;
  const query = { branch: p.branch, window: p.window };
  return (
    <>
      <h1>Insights</h1>
      <FilterBar label="Filter insights">
        <TextFilter route={props.route} name="branch" label="Branch" placeholder="all branches" />
        <SelectFilter route={props.route} name="window" label="Window" options={WINDOWS} />
      </FilterBar>
      <Flaky route={props.route} query={query} />
      <Failures branch={p.branch} window={p.window} />
      <Slowest route={props.route} query={query} />
    </>
  );
}

type Query = { branch: string | undefined; window: string | undefined };

/** Flaky tests, a page of the API's candidates at a time (`flaky_cursor` in the address). */
function Flaky(props: { route: Route; query: Query }) {
  const api = useApi();
  const query = { ...props.query, cursor: props.route.params.flaky_cursor };
  const flaky = useLoad(() => unwrap(api.GET("/v1/flaky", { params: { query } })), JSON.stringify(query));
  return (
    <section aria-labelledby="flaky-heading">
      <h2 id="flaky-heading">Flaky tests</h2>
      <Show loaded={flaky} what="flaky tests">
        {(f) =>
          f.items.length === 0 ? (
            <Empty>No flaky test in the window.</Empty>
          ) : (
            <TableBox label="Flaky tests">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Test</th>
                    <th scope="col" class="num">Flaky runs</th>
                    <th scope="col">Why</th>
                    <th scope="col" class="num">Flip rate</th>
                    <th scope="col">Last flaky</th>
                  </tr>
                </thead>
                <tbody>
                  {f.items.map((t) => (
                    <tr key={t.test_id} data-test={t.test_id}>
                      <th scope="row">
                        <Link to={testRoute(t.test_id)}>{t.name}</Link>
                      </th>
                      <td class="num">
                        {t.flaky_runs} of {t.runs}
                      </td>
                      <td>
                        <ul class="reasons">
                          {t.reasons.map((r) => (
                            <li key={r.kind}>{reason(r)}</li>
                          ))}
                        </ul>
                        <span class="muted">
                          since <Link to={runRoute(t.since_run_id)}>{t.since_run_id}</Link>
                          {t.infra_runs_excluded > 0 && `; ${t.infra_runs_excluded} broken runs left out`}
                        </span>
                      </td>
                      <td class="num">{percent(t.flip_rate)}</td>
                      <td>
                        <Link to={runRoute(t.last_flaky_run_id)}>{t.last_flaky_run_id}</Link>{" "}
                        <time dateTime={t.last_flaky_at}>{ago(t.last_flaky_at)}</time>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableBox>
          )
        }
      </Show>
      {flaky.state === "ok" && (
        <Pager route={props.route} next={flaky.data.next_cursor} label="flaky tests" param="flaky_cursor" />
      )}
    </section>
  );
}

/** Failure groups listed, most frequent first. */
const FAILURE_GROUPS_SHOWN = 100;

/** `/v1/failures` takes a start time, not a window: the window's start, from now. */
function since(window: string | undefined): string {
  const w = window ?? "30d";
  const n = Number.parseInt(w, 10);
  const ms = w.endsWith("h") ? n * 3_600_000 : n * 86_400_000;
  return new Date(Date.now() - ms).toISOString().slice(0, 13) + ":00:00Z";
}

function Failures(props: { branch: string | undefined; window: string | undefined }) {
  const api = useApi();
  const query = { branch: props.branch, since: since(props.window), limit: FAILURE_GROUPS_SHOWN };
  const failures = useLoad(() => unwrap(api.GET("/v1/failures", { params: { query } })), JSON.stringify(query));
  return (
    <section aria-labelledby="groups-heading">
      <h2 id="groups-heading">Failures by cause</h2>
      <Show loaded={failures} what="failures">
        {(f) =>
          f.items.length === 0 ? (
            <Empty>No failure in the window.</Empty>
          ) : (
            <TableBox label="Failures by cause">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Message</th>
                    <th scope="col" class="num">Times</th>
                    <th scope="col" class="num">Runs</th>
                    <th scope="col" class="num">Tests</th>
                    <th scope="col">First seen</th>
                    <th scope="col">Last seen</th>
                  </tr>
                </thead>
                <tbody>
                  {f.items.map((g) => (
                    <tr key={g.fingerprint} data-fingerprint={g.fingerprint}>
                      <th scope="row">
                        <Link to={failureRoute(g.fingerprint, { since: f.since })}>{firstLine(g.sample_message, 120) || "(no message)"}</Link>
                        <div class="muted">{g.sample_test}</div>
                      </th>
                      <td class="num">{count(g.count)}</td>
                      <td class="num">{count(g.runs)}</td>
                      <td class="num">{count(g.tests_affected)}</td>
                      <td>
                        <time dateTime={g.first_seen} title={when(g.first_seen)}>{ago(g.first_seen)}</time>
                      </td>
                      <td>
                        <Link to={runRoute(g.last_run_id)}>{g.last_run_id}</Link>{" "}
                        <time dateTime={g.last_seen}>{ago(g.last_seen)}</time>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {f.groups > f.items.length && (
                <p class="muted">
                  The {count(f.items.length)} most frequent of {count(f.groups)} causes in the window.
                </p>
              )}
            </TableBox>
          )
        }
      </Show>
    </section>
  );
}

/** The slowest tests of the window, 20 at a time (`slowest_cursor` in the address). */
function Slowest(props: { route: Route; query: Query }) {
  const api = useApi();
  const query = { ...props.query, limit: 20, cursor: props.route.params.slowest_cursor };
  const slowest = useLoad(() => unwrap(api.GET("/v1/tests/slowest", { params: { query } })), JSON.stringify(query));
  return (
    <section aria-labelledby="slowest-heading">
      <h2 id="slowest-heading">Slowest tests</h2>
      <Show loaded={slowest} what="slowest tests">
        {(s) =>
          s.items.length === 0 ? (
            <Empty>No test ran in the window.</Empty>
          ) : (
            <>
              <p class="muted">
                {count(s.tests)} {s.tests === 1 ? "test" : "tests"} ran in the window; every run counts.
              </p>
              <TableBox label="Slowest tests">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Test</th>
                      <th scope="col" class="num">Median</th>
                      <th scope="col" class="num">Mean</th>
                      <th scope="col" class="num">p95</th>
                      <th scope="col" class="num">Longest</th>
                      <th scope="col" class="num">Runs</th>
                    </tr>
                  </thead>
                  <tbody>
                    {s.items.map((t) => (
                      <tr key={t.test_id} data-test={t.test_id}>
                        <th scope="row">
                          <Link to={testRoute(t.test_id)}>{t.name ?? t.test_id}</Link>
                        </th>
                        <td class="num">{duration(t.median_ms)}</td>
                        <td class="num">{duration(t.mean_ms)}</td>
                        <td class="num">{duration(t.p95_ms)}</td>
                        <td class="num">{duration(t.max_ms)}</td>
                        <td class="num">{t.runs}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableBox>
            </>
          )
        }
      </Show>
      {slowest.state === "ok" && (
        <Pager route={props.route} next={slowest.data.next_cursor} label="slowest tests" param="slowest_cursor" />
      )}
    </section>
  );
}
