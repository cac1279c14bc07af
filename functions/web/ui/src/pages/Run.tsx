// One run: its counts at a glance, what changed against its base, its failures grouped, its
// files, and all its tests.
import { unwrap, type Schemas } from "../api/client";
import { useApi } from "../app";
import { CountsBar } from "../components/CountsBar";
import { ExportLinks } from "../components/Export";
import { FailureGroups } from "../components/FailureGroups";
import { RunCompare } from "../components/RunCompare";
import { RunFiles } from "../components/RunFiles";
import { Show } from "../components/States";
import { Status } from "../components/Status";
import { TestTable } from "../components/TestTable";
import { count, duration, percent, shortSha, when } from "../format";
import { useLoad } from "../load";
import type { Route } from "../route";

export function RunPage(props: { route: Route & { page: "run" } }) {
  const api = useApi();
  const run = props.route.run;
  const detail = useLoad(
    () => unwrap(api.GET("/v1/runs/{run_key}", { params: { path: { run_key: run } } })),
    run,
  );
  return (
    <Show loaded={detail} what="run">
      {(d) => (
        <>
          <RunHeader run={d.run} />
          <Counts summary={d.summary} passRate={d.run.pass_rate} />
          <RunCompare run={run} settled={d.run.status !== "pending"} />
          {d.summary.failed + d.summary.errors + d.summary.xpassed > 0 && <FailureGroups run={run} />}
          <RunFiles files={d.files} />
          <TestTable route={props.route} total={d.summary.tests} />
          <ExportLinks run={run} />
        </>
      )}
    </Show>
  );
}

function RunHeader(props: { run: Schemas["Run"] }) {
  const { run } = props;
  const m = run.metadata;
  return (
    <header class="page-head">
      <h1>
        Run <span class="mono">{run.run_id}</span> <Status status={run.status} />
      </h1>
      <dl class="facts">
        <dt>Started</dt>
        <dd>
          <time dateTime={run.created_at}>{when(run.created_at)}</time>
        </dd>
        {m.branch && (
          <>
            <dt>Branch</dt>
            <dd>{m.branch}{m.base_branch ? ` → ${m.base_branch}` : ""}</dd>
          </>
        )}
        {m.commit_sha && (
          <>
            <dt>Commit</dt>
            <dd>
              <code title={m.commit_sha}>{shortSha(m.commit_sha)}</code> {m.commit_message?.split("\n")[0]}
            </dd>
          </>
        )}
        {m.trigger && (
          <>
            <dt>Trigger</dt>
            <dd>{m.trigger}</dd>
          </>
        )}
        {m.build_url && (
          <>
            <dt>CI</dt>
            <dd>
              <a href={m.build_url} rel="noreferrer">
                {m.ci_provider ?? "build"} {m.build_number ?? ""}
              </a>
            </dd>
          </>
        )}
      </dl>
    </header>
  );
}

function Counts(props: { summary: Schemas["Summary"]; passRate: number | null }) {
  const s = props.summary;
  const items: [string, string, string][] = [
    ["tests", "Tests", count(s.tests)],
    ["passed", "Passed", count(s.passed)],
    ["failed", "Failed", count(s.failed)],
    ["errors", "Errors", count(s.errors)],
    ["skipped", "Skipped", count(s.skipped)],
    ["flaky", "Flaky", count(s.flaky)],
    ["pass_rate", "Pass rate", percent(props.passRate)],
    ["duration", "Test time", duration(s.duration_ms)],
  ];
  return (
    <section aria-label="Counts" class="counts">
      <dl>
        {items.map(([key, label, value]) => (
          <div key={key} class={`count count-${key}${value === "0" ? " count-zero" : ""}`} data-count={key}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      <CountsBar summary={s} />
    </section>
  );
}
