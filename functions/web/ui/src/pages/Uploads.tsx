// Upload health: the project's files in one state, newest first, with why they failed.
import { unwrap } from "../api/client";
import { useApi } from "../app";
import { FilterBar, SelectFilter } from "../components/Filters";
import { Link, runRoute } from "../components/Link";
import { Pager } from "../components/Pager";
import { FileProblem } from "../components/RunFiles";
import { TableBox } from "../components/TableBox";
import { Empty, Show } from "../components/States";
import { Status } from "../components/Status";
import { ago, when } from "../format";
import { useLoad } from "../load";
import type { Route } from "../route";

type State = "pending" | "processing" | "done" | "failed" | "duplicate";

const STATES: [string, string][] = [
  ["", "Failed"],
  ["processing", "Processing"],
  ["pending", "Waiting for bytes"],
  ["duplicate", "Duplicate"],
  ["done", "Done"],
];

export function UploadsPage(props: { route: Route }) {
  const api = useApi();
  const p = props.route.params;
  const query = { state: (p.state ?? "failed") as State, cursor: p.cursor, limit: 50 };
  const uploads = useLoad(() => unwrap(api.GET("/v1/uploads", { params: { query } })), JSON.stringify(query));
  return (
    <>
      <h1>Uploads</h1>
      <FilterBar label="Filter uploads">
        <SelectFilter route={props.route} name="state" label="State" options={STATES} />
      </FilterBar>
      <Show loaded={uploads} what="uploads">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>{query.state === "failed" ? "No upload failed. Every file was read." : `No upload is ${query.state}.`}</Empty>
          ) : (
            <>
              <TableBox label="Uploads">
                <table class="uploads">
                  <thead>
                    <tr>
                      <th scope="col">File</th>
                      <th scope="col">Run</th>
                      <th scope="col">State</th>
                      <th scope="col">Problem</th>
                      <th scope="col">Uploaded</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((f) => (
                      <tr key={f.file_id} data-file={f.file_id}>
                        <th scope="row">{f.name}</th>
                        <td>
                          <Link to={runRoute(f.run_id)}>{f.run_id}</Link>
                        </td>
                        <td>
                          <Status status={f.state} />
                        </td>
                        <td>
                          <FileProblem file={f} />
                        </td>
                        <td>
                          <time dateTime={f.created_at} title={when(f.created_at)}>{ago(f.created_at)}</time>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableBox>
              <Pager route={props.route} next={page.next_cursor} label="uploads" />
            </>
          )
        }
      </Show>
    </>
  );
}
