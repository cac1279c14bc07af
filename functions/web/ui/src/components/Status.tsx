// A status as text and a symbol, with colour as a third signal only.

const SYMBOLS: Record<string, string> = {
  passed: "✓",
  failed: "✗",
  error: "!",
  skipped: "○",
  pending: "…",
  xfailed: "✓",
  xpassed: "?",
  flaky: "≈",
  done: "✓",
  processing: "…",
  duplicate: "=",
};

export function Status(props: { status: string; flaky?: boolean | undefined }) {
  const shown = props.flaky && props.status === "passed" ? "flaky" : props.status;
  return (
    <span class={`status status-${shown}`}>
      <span aria-hidden="true">{SYMBOLS[shown] ?? "·"}</span> {shown}
    </span>
  );
}
