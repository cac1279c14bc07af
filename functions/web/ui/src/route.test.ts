import { describe, expect, it } from "vitest";
import { href, parseRoute, withParams } from "./route";

describe("route", () => {
  it("reads each page from its path", () => {
    expect(parseRoute("/", "")).toEqual({ page: "runs", params: {} });
    expect(parseRoute("/runs/build%2F42", "?status=failed&q=")).toEqual({
      page: "run",
      run: "build/42",
      params: { status: "failed" },
    });
    expect(parseRoute("/tests/abc", "").page).toBe("test");
    expect(parseRoute("/failures/f00", "").page).toBe("failure");
    expect(parseRoute("/insights", "?window=7d").params).toEqual({ window: "7d" });
    expect(parseRoute("/uploads", "").page).toBe("uploads");
    expect(parseRoute("/runs/a/b", "")).toEqual({ page: "missing", path: "/runs/a/b", params: {} });
    expect(parseRoute("/insights/x", "").page).toBe("missing");
  });
  it("writes an address that reads back as the same route", () => {
    const routes = [
      parseRoute("/", "?branch=main&status=failed"),
      parseRoute("/runs/pr%2017%3Fx", "?order=duration&dir=desc&cursor=abc"),
      parseRoute("/tests/t1", "?branch=release/1"),
      parseRoute("/uploads", "?state=failed"),
    ];
    for (const route of routes) {
      const url = new URL(href(route), "http://x");
      expect(parseRoute(url.pathname, url.search)).toEqual(route);
    }
    expect(href(parseRoute("/", "?status=failed&branch=main"))).toBe("/?branch=main&status=failed");
  });
  it("drops the cursor when a filter changes, keeps it when paging", () => {
    const route = parseRoute("/runs/r", "?status=failed&cursor=c1");
    expect(withParams(route, { status: "error" }).params).toEqual({ status: "error" });
    expect(withParams(route, { cursor: "c2" }).params).toEqual({ status: "failed", cursor: "c2" });
    expect(withParams(route, { status: null }).params).toEqual({});
    const insights = parseRoute("/insights", "?window=7d&flaky_cursor=f1");
    expect(withParams(insights, { window: "90d" }).params).toEqual({ window: "90d" });
    expect(withParams(insights, { flaky_cursor: "f2" }).params).toEqual({ window: "7d", flaky_cursor: "f2" });
  });
});
