import type { Schemas } from "./api/client";
import { percent } from "./format";

/** A reason a test is flaky, in words. */
export function reason(r: Schemas["FlakyReason"]): string {
  switch (r.kind) {
    case "retried":
      return `passed on retry in ${r.runs} runs`;
    case "same_commit":
      return `passed and failed on ${r.count === 1 ? "one commit" : `${r.count} commits`} (${(r.commits ?? []).map((c) => c.slice(0, 8)).join(", ")})`;
    case "flip_rate":
      return `changed outcome in ${percent(r.flip_rate)} of ${r.runs} runs`;
  }
}
