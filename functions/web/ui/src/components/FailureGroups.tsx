// A run's failing results, grouped by fingerprint; a group opens to the message, stack,
// captured output and attempts of its first test.
import { useState } from "preact/hooks";
import { unwrap, type Schemas } from "../api/client";
import { useApi } from "../app";
import { firstLine } from "../format";
import { groupFailures } from "../group";
import { useLoad } from "../load";
import { failureRoute, Link, testRoute } from "./Link";
import { Show } from "./States";
import { Status } from "./Status";

/** The failing results one page of the run's problems index holds. */
const READ = 500;

export function FailureGroups(props: { run: string }) {
  const api = useApi();
  const failing = useLoad(
    () =>
      unwrap(
        api.GET("/v1/runs/{run_key}/tests", {
          params: { path: { run_key: props.run }, query: { status: "failed,error,xpassed", limit: READ } },
        }),
      ),
    props.run,
  );
  return (
    <section aria-labelledby="failures-heading">
      <h2 id="failures-heading">Failures by cause</h2>
      <Show loaded={failing} what="failures">
        {(page) => {
          const groups = groupFailures(page.items);
          return (
            <>
              {page.next_cursor && (
                <p class="muted">The first {READ} failing tests, grouped; the test table below has them all.</p>
              )}
              <ul class="groups">
                {groups.map((g) => (
                  <li key={g.key}>
                    <Group run={props.run} group={g} />
                  </li>
                ))}
              </ul>
            </>
          );
        }}
      </Show>
    </section>
  );
}

function Group(props: { run: string; group: ReturnType<typeof groupFailures<Row>>[number] }) {
  const g = props.group;
  // The detail is read when the group is opened, not for every group up front.
  const [open, setOpen] = useState(false);
  return (
    <details data-group={g.key} onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>
        <span class="badge">{g.tests.length}</span>{" "}
        <span class="message">{firstLine(g.tests[0]?.message) || "(no message)"}</span>
      </summary>
      {open && <GroupBody run={props.run} fingerprint={g.fingerprint} tests={g.tests} />}
    </details>
  );
}

type Row = Schemas["TestRow"];

function GroupBody(props: {
  run: string;
  fingerprint: string | null;
  tests: { test_id: string; name: string; classname: string; status: string }[];
}) {
  const first = props.tests[0];
  return (
    <div class="group-body">
      <ul class="group-tests">
        {props.tests.slice(0, 50).map((t) => (
          <li key={t.test_id}>
            <Status status={t.status} /> <Link to={testRoute(t.test_id)}>{t.name}</Link>{" "}
            <span class="muted">{t.classname}</span>
          </li>
        ))}
        {props.tests.length > 50 && <li class="muted">and {props.tests.length - 50} more</li>}
      </ul>
      {props.fingerprint && (
        <p>
          <Link to={failureRoute(props.fingerprint)}>This failure across the project</Link>
        </p>
      )}
      {first && <ResultDetail run={props.run} test={first.test_id} />}
    </div>
  );
}

/** One result in full: each attempt's message, stack and output. */
export function ResultDetail(props: { run: string; test: string }) {
  const api = useApi();
  const result = useLoad(
    () =>
      unwrap(
        api.GET("/v1/runs/{run_key}/tests/{test_id}", {
          params: { path: { run_key: props.run, test_id: props.test } },
        }),
      ),
    `${props.run}/${props.test}`,
  );
  return (
    <Show loaded={result} what="result">
      {(r) => (
        <div class="result">
          {r.attempts.map((a, i) => (
            <Attempt key={i} index={i} count={r.attempts.length} attempt={a} />
          ))}
        </div>
      )}
    </Show>
  );
}

function Attempt(props: {
  index: number;
  count: number;
  attempt: { status: string; message?: string | null; details?: string | null; stdout?: string | null; stderr?: string | null };
}) {
  const a = props.attempt;
  const [wrap, setWrap] = useState(false);
  return (
    <div class="attempt">
      {props.count > 1 && (
        <h4>
          Attempt {props.index + 1} of {props.count}: <Status status={a.status} />
        </h4>
      )}
      {a.message && <pre tabIndex={0} class={wrap ? "wrap" : ""}>{a.message}</pre>}
      {a.details && (
        <>
          <h5>Stack</h5>
          <pre tabIndex={0} class={wrap ? "wrap" : ""}>{a.details}</pre>
        </>
      )}
      {a.stdout && (
        <>
          <h5>Output</h5>
          <pre tabIndex={0} class={wrap ? "wrap" : ""}>{a.stdout}</pre>
        </>
      )}
      {a.stderr && (
        <>
          <h5>Error output</h5>
          <pre tabIndex={0} class={wrap ? "wrap" : ""}>{a.stderr}</pre>
        </>
      )}
      <button type="button" class="link-button" onClick={() => setWrap(!wrap)}>
        {wrap ? "Don't wrap lines" : "Wrap lines"}
      </button>
    </div>
  );
}
