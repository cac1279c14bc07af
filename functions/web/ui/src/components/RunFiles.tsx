// The files uploaded to a run: their state, format, counts, and why one could not be read.
import type { Schemas } from "../api/client";
import { count } from "../format";
import { Status } from "./Status";
import { TableBox } from "./TableBox";

export function RunFiles(props: { files: Schemas["Upload"][] }) {
  return (
    <section aria-labelledby="files-heading">
      <h2 id="files-heading">Files ({props.files.length})</h2>
      <TableBox label="Files">
        <table class="files">
          <thead>
            <tr>
              <th scope="col">File</th>
              <th scope="col">State</th>
              <th scope="col">Format</th>
              <th scope="col" class="num">Tests</th>
              <th scope="col" class="num">Failed</th>
              <th scope="col">Problem</th>
            </tr>
          </thead>
          <tbody>
            {props.files.map((f) => (
              <tr key={f.file_id} data-file={f.file_id}>
                <th scope="row">{f.name}</th>
                <td>
                  <Status status={f.state} />
                </td>
                <td>{f.format ?? "—"}</td>
                <td class="num">{f.counts ? count(f.counts.tests) : "—"}</td>
                <td class="num">{f.counts ? count(f.counts.failed + f.counts.errors) : "—"}</td>
                <td>
                  <FileProblem file={f} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableBox>
    </section>
  );
}

/** Why a file failed, where in the file; its warnings; the file it duplicates. */
export function FileProblem(props: { file: Schemas["Upload"] }) {
  const f = props.file;
  if (f.error) {
    const at = [f.error.line && `line ${f.error.line}`, f.error.column && `column ${f.error.column}`]
      .filter(Boolean)
      .join(", ");
    return (
      <span class="file-error">
        <strong>{f.error.kind}</strong>
        {at && ` at ${at}`}: {f.error.message}
      </span>
    );
  }
  if (f.duplicate_of) return <span class="muted">same bytes as file {f.duplicate_of}</span>;
  const warnings = f.warnings ?? [];
  if (warnings.length === 1) return <span>{warnings[0]}</span>;
  if (warnings.length > 1) {
    return (
      <details>
        <summary>
          {warnings.length} warnings, the first: {warnings[0]}
        </summary>
        <ul>
          {warnings.slice(1).map((w, i) => (
            <li key={i}>{w}</li>
          ))}
        </ul>
      </details>
    );
  }
  return <span class="muted">—</span>;
}
