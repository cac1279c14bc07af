// What changed against the run's base: new failures, still failing (since when), fixed.
import { unwrap, type Schemas } from "../api/client";
import { useApi } from "../app";
import { ago, firstLine, when } from "../format";
import { useLoad } from "../load";
import { Link, runRoute, testRoute } from "./Link";
import { Show } from "./States";

const REASONS: Record<Schemas["CompareBase"]["reason"], string> = {
  given: "the run asked for",
  previous_on_branch: "the previous run of its branch",
  base_branch: "the newest run of its base branch",
  previous: "the previous run of the project",
};

/** The comparison is read from `/compare`, not from the run's page: for a large run it is made
 * by that request, and the counts and tests above show without waiting for it. */
export function RunCompare(props: { run: string; settled: boolean }) {
  if (!props.settled) {
    return (
      <section aria-labelledby="compare-heading" class="compare">
        <h2 id="compare-heading">Against its base</h2>
        <p class="empty">Files of this run are still being read.</p>
      </section>
    );
  }
  return <Comparison run={props.run} />;
}

function Comparison(props: { run: string }) {
  const api = useApi();
  const compare = useLoad(
    () =>
      unwrap(
        api.GET("/v1/runs/{run_key}/compare", { params: { path: { run_key: props.run }, query: { limit: 20 } } }),
      ),
    props.run,
  );
  return (
    <section aria-labelledby="compare-heading" class="compare">
      <Show loaded={compare} what="comparison with its base">
        {(c) =>
          c.base === null ? (
            <>
              <h2 id="compare-heading">Against its base</h2>
              <p class="empty">No earlier run to compare with yet.</p>
            </>
          ) : (
            <>
              <h2 id="compare-heading">
                Against <Link to={runRoute(c.base.run_id)}>{c.base.run_id}</Link>
              </h2>
              <p class="muted">
                {REASONS[c.base.reason]},{" "}
                <time dateTime={c.base.created_at} title={when(c.base.created_at)}>
                  {ago(c.base.created_at)}
                </time>
              </p>
              <ul class="change-counts">
                {CHANGES.map(([kind, title]) => (
                  <li key={kind} class={`change-count change-${kind}`} data-change={kind}>
                    <span class="badge">{c.counts?.[kind] ?? 0}</span> {title}
                  </li>
                ))}
              </ul>
              {LISTED.map(([kind, title]) => (
                <Change key={kind} title={title} kind={kind} total={c.counts?.[kind] ?? 0} tests={c[kind] ?? []} />
              ))}
            </>
          )
        }
      </Show>
    </section>
  );
}

type Kind = keyof Schemas["CompareCounts"];

const CHANGES: [Kind, string][] = [
  ["new_failures", "new failures"],
  ["still_failing", "still failing"],
  ["fixed", "fixed"],
  ["newly_flaky", "newly flaky"],
  ["new_tests", "new tests"],
  ["removed_tests", "removed tests"],
];

/** The changes listed test by test (new and removed tests are only counted). */
const LISTED: [Kind, string][] = [
  ["new_failures", "New failures"],
  ["still_failing", "Still failing"],
  ["fixed", "Fixed"],
  ["newly_flaky", "Newly flaky"],
];

/** Tests listed of each change; the test table has the rest. */
const SHOWN = 8;

function Change(props: { title: string; kind: Kind; total: number; tests: Schemas["ComparedTest"][] }) {
  if (props.total === 0) return null;
  return (
    <div class={`change change-${props.kind}`}>
      <h3>
        {props.title} ({props.total})
      </h3>
      {props.tests.length > 0 && (
        <ul>
          {props.tests.slice(0, SHOWN).map((t) => (
            <li key={t.test_id}>
              <Link to={testRoute(t.test_id)}>{t.name}</Link> <span class="muted">{t.classname}</span>
              {t.message && <div class="message">{firstLine(t.message)}</div>}
              {t.failing_since && (
                <div class="muted">
                  failing since <Link to={runRoute(t.failing_since.run_id)}>{t.failing_since.run_id}</Link> (
                  {t.failing_since.runs}
                  {t.failing_since.complete ? "" : "+"} runs)
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
      {props.total > SHOWN && <p class="muted">and {props.total - SHOWN} more</p>}
    </div>
  );
}
