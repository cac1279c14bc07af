// All the tests of a run, a page at a time through the API's cursors: search by name, filter by
// status, sort by name, duration or status. Every choice is in the address.
import { useState } from "preact/hooks";
import { unwrap, type Schemas } from "../api/client";
import { useApi } from "../app";
import { count, duration, firstLine } from "../format";
import { useLoad } from "../load";
import { navigate } from "../navigation";
import { withParams, type Route } from "../route";
import { ResultDetail } from "./FailureGroups";
import { FilterBar, SelectFilter, TextFilter } from "./Filters";
import { Link, testRoute } from "./Link";
import { Pager } from "./Pager";
import { TableBox } from "./TableBox";
import { Empty, Show } from "./States";
import { Status } from "./Status";

type Order = "name" | "duration" | "status";

const STATUSES: [string, string][] = [
  ["", "Any status"],
  ["failed,error", "Failed or errored"],
  ["failed", "Failed"],
  ["error", "Errored"],
  ["passed", "Passed"],
  ["skipped", "Skipped"],
  ["xfailed", "Expected failure"],
  ["xpassed", "Unexpected pass"],
];

export function TestTable(props: { route: Route & { page: "run" }; total: number }) {
  const api = useApi();
  const p = props.route.params;
  const query = {
    q: p.q,
    status: p.status,
    flaky: p.flaky === "true" ? true : undefined,
    file: p.file,
    order: p.order as Order | undefined,
    dir: p.dir as "asc" | "desc" | undefined,
    cursor: p.cursor,
    limit: 50,
  };
  const page = useLoad(
    () => unwrap(api.GET("/v1/runs/{run_key}/tests", { params: { path: { run_key: props.route.run }, query } })),
    JSON.stringify([props.route.run, query]),
  );
  return (
    <section aria-labelledby="tests-heading">
      <h2 id="tests-heading">Tests ({count(props.total)})</h2>
      <FilterBar label="Filter tests">
        <TextFilter route={props.route} name="q" label="Name contains" />
        <SelectFilter route={props.route} name="status" label="Status" options={STATUSES} />
        <label class="filter check">
          <input
            type="checkbox"
            checked={p.flaky === "true"}
            onChange={(e) => navigate(withParams(props.route, { flaky: (e.target as HTMLInputElement).checked ? "true" : null }))}
          />{" "}
          Flaky only
        </label>
      </FilterBar>
      <Show loaded={page} what="tests">
        {(tests) =>
          tests.items.length === 0 ? (
            <Empty>No test matches.</Empty>
          ) : (
            <>
              <TableBox label="Tests">
                <table class="tests">
                  <thead>
                    <tr>
                      <SortHeader route={props.route} order="status" label="Status" />
                      <SortHeader route={props.route} order="name" label="Test" />
                      <SortHeader route={props.route} order="duration" label="Duration" num />
                      <th scope="col" class="num">Attempts</th>
                      <th scope="col">Message</th>
                    </tr>
                  </thead>
                  <tbody>
                    {tests.items.map((t) => (
                      <TestRow key={t.test_id} run={props.route.run} test={t} />
                    ))}
                  </tbody>
                </table>
              </TableBox>
              <Pager route={props.route} next={tests.next_cursor} label="tests" />
            </>
          )
        }
      </Show>
    </section>
  );
}

function SortHeader(props: { route: Route; order: Order; label: string; num?: boolean }) {
  const p = props.route.params;
  const active = p.order === props.order;
  const defaultDesc = props.order !== "name";
  const desc = active ? (p.dir ? p.dir === "desc" : defaultDesc) : defaultDesc;
  const next = active ? (desc ? "asc" : "desc") : defaultDesc ? "desc" : "asc";
  return (
    <th scope="col" class={props.num ? "num" : undefined} aria-sort={active ? (desc ? "descending" : "ascending") : "none"}>
      <button
        type="button"
        class="sort"
        onClick={() => navigate(withParams(props.route, { order: props.order, dir: next }))}
      >
        {props.label} <span aria-hidden="true">{active ? (desc ? "▼" : "▲") : "↕"}</span>
      </button>
    </th>
  );
}

function TestRow(props: { run: string; test: Schemas["TestRow"] }) {
  const t = props.test;
  const [open, setOpen] = useState(false);
  const failing = t.status === "failed" || t.status === "error" || t.status === "xpassed" || t.flaky;
  return (
    <>
      <tr data-test={t.test_id}>
        <td>
          <Status status={t.status} flaky={t.flaky} />
        </td>
        <th scope="row" class="test-name">
          <Link to={testRoute(t.test_id)}>{t.name}</Link>
          <div class="muted">{t.classname}</div>
        </th>
        <td class="num">{duration(t.duration_ms)}</td>
        <td class="num">{t.attempts}</td>
        <td>
          {t.message && <span class="message">{firstLine(t.message, 120)}</span>}{" "}
          {failing && (
            <button type="button" class="link-button" aria-expanded={open} onClick={() => setOpen(!open)}>
              {open ? "Hide" : "Details"}
            </button>
          )}
        </td>
      </tr>
      {open && (
        <tr class="detail-row">
          <td colSpan={5}>
            <ResultDetail run={props.run} test={t.test_id} />
          </td>
        </tr>
      )}
    </>
  );
}
