import type { Schemas } from "../api/client";
import { count } from "../format";

/** A stacked bar of a run's outcomes; its label says the same in words. */
export function CountsBar(props: { summary: Schemas["Summary"] }) {
  const s = props.summary;
  const parts: [string, number][] = [
    ["passed", s.passed - s.flaky],
    ["flaky", s.flaky],
    ["failed", s.failed + s.errors],
    ["skipped", s.skipped],
  ];
  const total = parts.reduce((sum, [, n]) => sum + n, 0);
  const label = parts
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${count(n)} ${name}`)
    .join(", ");
  return (
    <div class="bar" role="img" aria-label={label || "no tests"} title={label || "no tests"}>
      {total > 0 &&
        parts
          .filter(([, n]) => n > 0)
          .map(([name, n]) => (
            <span key={name} class={`bar-${name}`} style={{ flexGrow: n }} />
          ))}
    </div>
  );
}
