// The home page: trends of the branch, then its newest runs.
import { unwrap, type Schemas } from "../api/client";
import { useApi } from "../app";
import { CountsBar } from "../components/CountsBar";
import { FilterBar, SelectFilter, TextFilter } from "../components/Filters";
import { Link, runRoute } from "../components/Link";
import { Pager } from "../components/Pager";
import { TableBox } from "../components/TableBox";
import { Empty, Show } from "../components/States";
import { Status } from "../components/Status";
import { TrendChart } from "../components/TrendChart";
import { ago, count, duration, percent, shortSha, when } from "../format";
import { useLoad } from "../load";
import type { Route } from "../route";

type RunStatus = "passed" | "failed" | "pending";
type Trigger = NonNullable<Schemas["RunMetadata"]["trigger"]>;

const STATUSES: [string, string][] = [
  ["", "Any status"],
  ["failed", "Failed"],
  ["passed", "Passed"],
  ["pending", "Pending"],
];
const TRIGGERS: [string, string][] = [
  ["", "Any trigger"],
  ...["ci", "local", "schedule", "manual", "install", "update", "validation"].map((t): [string, string] => [t, t]),
];

export function RunsPage(props: { route: Route }) {
  const api = useApi();
  const p = props.route.params;
  const query = {
    branch: p.branch,
    status: p.status as RunStatus | undefined,
    trigger: p.trigger as Trigger | undefined,
    cursor: p.cursor,
    limit: 25,
  };
  const runs = useLoad(
    () => unwrap(api.GET("/v1/runs", { params: { query } })),
    JSON.stringify(query),
  );
  return (
    <>
      <h1>Runs</h1>
      <FilterBar label="Filter runs">
        <TextFilter route={props.route} name="branch" label="Branch" placeholder="all branches" />
        <SelectFilter route={props.route} name="status" label="Status" options={STATUSES} />
        <SelectFilter route={props.route} name="trigger" label="Trigger" options={TRIGGERS} />
      </FilterBar>
      <Trends branch={p.branch} />
      <section aria-labelledby="runs-heading">
        <h2 id="runs-heading">{p.branch ? `Newest runs of ${p.branch}` : "Newest runs"}</h2>
        <Show loaded={runs} what="runs">
          {(page) =>
            page.items.length === 0 ? (
              <Empty>No run matches these filters yet.</Empty>
            ) : (
              <>
                <RunsTable runs={page.items} />
                <Pager route={props.route} next={page.next_cursor} label="runs" />
              </>
            )
          }
        </Show>
      </section>
    </>
  );
}

function RunsTable(props: { runs: Schemas["Run"][] }) {
  return (
    <TableBox label="Runs">
      <table class="runs">
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Status</th>
            <th scope="col">Outcomes</th>
            <th scope="col" class="num">Tests</th>
            <th scope="col" class="num">Pass rate</th>
            <th scope="col" class="num">Duration</th>
            <th scope="col">Branch</th>
            <th scope="col">Commit</th>
            <th scope="col">Trigger</th>
            <th scope="col">When</th>
          </tr>
        </thead>
        <tbody>
          {props.runs.map((run) => (
            <tr key={run.run_id} data-run={run.run_id}>
              <th scope="row">
                <Link to={runRoute(run.run_id)}>{run.run_id}</Link>
              </th>
              <td>
                <Status status={run.status} />
              </td>
              <td class="bar-cell">{run.summary && <CountsBar summary={run.summary} />}</td>
              <td class="num" data-field="tests">
                {count(run.summary?.tests ?? 0)}
              </td>
              <td class="num">{percent(run.pass_rate)}</td>
              <td class="num">{duration(run.summary?.duration_ms ?? 0)}</td>
              <td>{run.metadata.branch ?? "—"}</td>
              <td>
                <code title={run.metadata.commit_message ?? undefined}>{shortSha(run.metadata.commit_sha) || "—"}</code>
              </td>
              <td>{run.metadata.trigger ?? "—"}</td>
              <td>
                <time dateTime={run.created_at} title={when(run.created_at)}>
                  {ago(run.created_at)}
                </time>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableBox>
  );
}

function Trends(props: { branch: string | undefined }) {
  const api = useApi();
  const query = { branch: props.branch, window: "90d" };
  const trends = useLoad(
    () => unwrap(api.GET("/v1/trends", { params: { query } })),
    JSON.stringify(query),
  );
  return (
    <section aria-labelledby="trends-heading" class="trends">
      <h2 id="trends-heading">Last 90 days{props.branch ? ` of ${props.branch}` : ""}</h2>
      <Show loaded={trends} what="trends">
        {(t) => {
          if (t.items.every((b) => b.runs === 0)) return <Empty>No runs in the last 90 days.</Empty>;
          const times = t.items.map((b) => Date.parse(b.start) / 1000);
          const when = (f: (b: Schemas["TrendBucket"]) => number | null) =>
            t.items.map((b) => (b.runs === 0 ? null : f(b)));
          return (
            <div class="charts">
              <TrendChart
                title="Pass rate"
                times={times}
                series={[{ label: "pass rate", values: when((b) => b.pass_rate), color: "var(--ok)" }]}
                format={(v) => percent(v)}
              />
              <TrendChart
                title="Failed and flaky tests"
                times={times}
                series={[
                  { label: "failed", values: when((b) => b.failed_tests), color: "var(--bad)" },
                  { label: "flaky", values: when((b) => b.flaky_tests), color: "var(--flaky)" },
                ]}
                format={(v) => count(Math.round(v))}
              />
              <TrendChart
                title="Test duration per run"
                times={times}
                series={[
                  { label: "p50", values: when((b) => b.duration_p50_ms), color: "var(--accent)" },
                  { label: "p95", values: when((b) => b.duration_p95_ms), color: "var(--muted)" },
                ]}
                format={(v) => duration(v)}
              />
            </div>
          );
        }}
      </Show>
    </section>
  );
}
