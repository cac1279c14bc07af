import { useState } from "preact/hooks";
import { useToken } from "../app";

const FORMATS: [string, string, string][] = [
  ["csv", "CSV", "csv"],
  ["json", "JSON", "json"],
  ["junit", "JUnit XML", "xml"],
  ["html", "HTML report", "html"],
];

/** The run's exports. The API needs the token in a header, which a plain link cannot send, so
 * each one is fetched and handed to the browser as a download. */
export function ExportLinks(props: { run: string }) {
  const token = useToken();
  const [failure, setFailure] = useState<string | null>(null);
  const download = async (format: string, extension: string) => {
    setFailure(null);
    const response = await fetch(`/v1/runs/${encodeURIComponent(props.run)}/export?format=${format}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    if (!response.ok) {
      setFailure(`The ${format} export failed: ${response.status} ${await response.text()}`);
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = `${props.run}.${extension}`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  return (
    <div class="exports">
      <span>Export:</span>
      {FORMATS.map(([format, label, extension]) => (
        <button type="button" key={format} onClick={() => void download(format, extension)}>
          {label}
        </button>
      ))}
      {failure && <p role="alert">{failure}</p>}
    </div>
  );
}
