// The Vitest sample: pass, fail, skip, todo, nested describe, and a test that passes on retry.
import { describe, test, expect } from "vitest";
let flakyCalls = 0;

describe("outer", () => {
  describe("inner", () => {
    test("passes", () => expect(1).toBe(1));
    test("fails", () => expect(1).toBe(2));
  });
  test.skip("skipped", () => {});
  test.todo("to do");
  test("flaky then passes", { retry: 1 }, () => {
    flakyCalls += 1;
    expect(flakyCalls).toBeGreaterThan(1);
  });
});
test("top level", () => expect(true).toBe(true));
