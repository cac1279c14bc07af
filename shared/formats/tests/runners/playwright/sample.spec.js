// The Playwright test-runner sample (no browser needed): pass, fail, skip, expected failure,
// nested describe, and a test that passes on its retry (run with --retries=1).
const { test, expect } = require("@playwright/test");

test.describe("outer", () => {
  test.describe("inner", () => {
    test("passes", () => expect(1).toBe(1));
    test("fails", () => expect(1).toBe(2));
  });
  test.skip("skipped", () => {});
  test("expected to fail", () => {
    test.fail();
    expect(1).toBe(2);
  });
  test("flaky then passes", ({}, testInfo) => {
    expect(testInfo.retry).toBeGreaterThan(0);
  });
});
