// One test across runs: who owns it, its last results, its duration over time, how it fails.
import { unwrap, type Answer, type Schemas } from "../api/client";
import { useApi } from "../app";
import { failureRoute, Link, runRoute } from "../components/Link";
import { Empty, Show } from "../components/States";
import { Status } from "../components/Status";
import { TrendChart } from "../components/TrendChart";
import { reason } from "../flaky";
import { ago, duration, firstLine, percent, when } from "../format";
import { useLoad } from "../load";
import type { Route } from "../route";

/** Results the strip and the chart show. */
const HISTORY = 100;

export function TestPage(props: { route: Route & { page: "test" } }) {
  const api = useApi();
  const test = props.route.test;
  const branch = props.route.params.branch;
  const key = JSON.stringify([test, branch]);
  const info = useLoad(
    () => unwrap(api.GET("/v1/tests/{test_id}", { params: { path: { test_id: test }, query: { branch } } })),
    key,
  );
  const history = useLoad(
    () =>
      unwrap(
        api.GET("/v1/tests/{test_id}/history", { params: { path: { test_id: test }, query: { branch, limit: HISTORY } } }),
      ),
    key,
  );
  return (
    <Show loaded={info} what="test">
      {(t) => (
        <>
          <TestHeader test={t} />
          <Show loaded={history} what="history">
            {(h) => <History rows={[...h.items].reverse()} />}
          </Show>
        </>
      )}
    </Show>
  );
}

type TestInfo = Answer<"/v1/tests/{test_id}">;

function TestHeader(props: { test: TestInfo }) {
  const t = props.test;
  return (
    <header class="page-head">
      <h1>
        {t.name} <Status status={t.last_status} />
      </h1>
      <p class="muted">{[t.suite, t.classname].filter(Boolean).join(" › ")}</p>
      <dl class="facts">
        {t.file && (
          <>
            <dt>File</dt>
            <dd>
              <code>
                {t.file}
                {t.line ? `:${t.line}` : ""}
              </code>
            </dd>
          </>
        )}
        <dt>Owner</dt>
        <dd>{t.owner ?? "—"}</dd>
        <dt>Tags</dt>
        <dd>{t.tags && t.tags.length > 0 ? t.tags.join(", ") : "—"}</dd>
        <dt>First seen</dt>
        <dd>
          {t.first_seen ? (
            <>
              <time dateTime={t.first_seen}>{when(t.first_seen)}</time>
              {t.first_run_id && (
                <>
                  {" "}in <Link to={runRoute(t.first_run_id)}>{t.first_run_id}</Link>
                </>
              )}
            </>
          ) : (
            "—"
          )}
        </dd>
        <dt>Last run</dt>
        <dd>
          <Link to={runRoute(t.last_run_id)}>{t.last_run_id}</Link>{" "}
          {t.last_seen && <time dateTime={t.last_seen}>{ago(t.last_seen)}</time>}
        </dd>
        <dt>Failing since</dt>
        <dd data-fact="failing-since">
          {t.failing_since ? (
            <>
              <Link to={runRoute(t.failing_since.run_id)}>{t.failing_since.run_id}</Link> (
              {t.failing_since.runs}
              {t.failing_since.complete ? "" : "+"} runs)
            </>
          ) : (
            "not failing"
          )}
        </dd>
        <dt>Flake rate</dt>
        <dd data-fact="flake-rate">
          {percent(t.flake_rate)} over {t.window_runs ?? 0} runs in {t.window_days ?? 0} days
        </dd>
        {t.flaky_reasons.length > 0 && (
          <>
            <dt>Flaky</dt>
            <dd data-fact="flaky-reasons">
              <ul class="reasons">
                {t.flaky_reasons.map((r) => (
                  <li key={r.kind}>{reason(r)}</li>
                ))}
              </ul>
            </dd>
          </>
        )}
      </dl>
      {t.last_message && <pre tabIndex={0} class="message-block">{t.last_message}</pre>}
    </header>
  );
}

type HistoryRow = Schemas["HistoryRow"];

function History(props: { rows: HistoryRow[] }) {
  if (props.rows.length === 0) return <Empty>No results of this test yet.</Empty>;
  const ran = props.rows.filter((r) => r.status !== "skipped");
  // Failure groups count failed and errored results: a fingerprint seen only on a retried
  // attempt (a flaky pass) has no group to open.
  const failed = props.rows.filter((r) => r.status === "failed" || r.status === "error");
  const fingerprints = [...new Set(failed.map((r) => r.fingerprint).filter((f): f is string => !!f))];
  return (
    <>
      <section aria-labelledby="strip-heading">
        <h2 id="strip-heading">Last {props.rows.length} results, oldest first</h2>
        <ol class="strip">
          {props.rows.map((r) => {
            const shown = r.flaky && r.status === "passed" ? "flaky" : r.status;
            return (
              <li key={r.run_id}>
                <Link to={runRoute(r.run_id)} class={`cell status-${shown}`} title={`${r.run_id}: ${shown}, ${duration(r.duration_ms)}, ${when(r.created_at)}`}>
                  <span class="visually-hidden">
                    {r.run_id}: {shown}
                  </span>
                </Link>
              </li>
            );
          })}
        </ol>
      </section>
      {ran.length > 1 && (
        <TrendChart
          title="Duration"
          times={ran.map((r) => Date.parse(r.created_at) / 1000)}
          series={[{ label: "duration", values: ran.map((r) => r.duration_ms), color: "var(--accent)" }]}
          format={(v) => duration(v)}
        />
      )}
      <section aria-labelledby="causes-heading">
        <h2 id="causes-heading">How it fails</h2>
        {fingerprints.length === 0 ? (
          <Empty>No failed result in these results.</Empty>
        ) : (
          <ul class="groups">
            {fingerprints.slice(0, 10).map((f) => (
              <Cause key={f} fingerprint={f} runs={failed.filter((r) => r.fingerprint === f).length} />
            ))}
          </ul>
        )}
      </section>
    </>
  );
}

function Cause(props: { fingerprint: string; runs: number }) {
  const api = useApi();
  const group = useLoad(
    // Only its newest message shows here: one test of the group is enough.
    () =>
      unwrap(
        api.GET("/v1/failures/{fingerprint}", {
          params: { path: { fingerprint: props.fingerprint }, query: { limit: 1 } },
        }),
      ),
    props.fingerprint,
  );
  return (
    <li>
      <span class="badge">{props.runs}</span>{" "}
      <Show loaded={group} what="failure">
        {(g) => <span class="message">{firstLine(g.newest.message) || "(no message)"}</span>}
      </Show>{" "}
      <Link to={failureRoute(props.fingerprint)}>across the project</Link>
    </li>
  );
}
