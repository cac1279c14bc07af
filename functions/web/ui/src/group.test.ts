import { describe, expect, it } from "vitest";
import { groupFailures } from "./group";

const row = (test_id: string, fingerprint: string | null) => ({
  test_id,
  name: test_id,
  classname: "c",
  message: "boom",
  fingerprint,
});

describe("groupFailures", () => {
  it("groups by fingerprint, largest first, a result without one alone", () => {
    const groups = groupFailures([row("a", "f1"), row("b", "f2"), row("c", "f2"), row("d", null), row("e", null)]);
    expect(groups.map((g) => [g.key, g.tests.map((t) => t.test_id)])).toEqual([
      ["f2", ["b", "c"]],
      ["f1", ["a"]],
      ["test:d", ["d"]],
      ["test:e", ["e"]],
    ]);
  });
});
