import { describe, expect, it } from "vitest";
import { ago, count, duration, firstLine, percent, shortSha, when } from "./format";

describe("format", () => {
  it("writes durations by their size", () => {
    expect(duration(0)).toBe("0 ms");
    expect(duration(850.4)).toBe("850 ms");
    expect(duration(1234)).toBe("1.23 s");
    expect(duration(12_340)).toBe("12.3 s");
    expect(duration(245_000)).toBe("4 m 05 s");
    expect(duration(7_380_000)).toBe("2 h 03 m");
  });
  it("writes rates as percentages and a missing rate as a dash", () => {
    expect(percent(0.9751)).toBe("97.5 %");
    expect(percent(1)).toBe("100.0 %");
    expect(percent(null)).toBe("—");
    expect(percent(undefined)).toBe("—");
  });
  it("writes times relative to now, then as a date", () => {
    const now = new Date("2026-12-01T12:00:00Z");
    expect(ago("2026-12-01T11:59:40Z", now)).toBe("just now");
    expect(ago("2026-12-01T11:55:00Z", now)).toBe("5 min ago");
    expect(ago("2026-12-01T09:00:00Z", now)).toBe("3 h ago");
    expect(ago("2026-11-29T12:00:00Z", now)).toBe("2 d ago");
    expect(ago("2026-10-01T12:00:00Z", now)).toBe("2026-10-01");
    expect(ago("not a time", now)).toBe("not a time");
    expect(when("2026-12-01T14:05:09Z")).toBe("2026-12-01 14:05 UTC");
  });
  it("keeps the first line of a message and cuts it", () => {
    expect(firstLine("assert 1 == 2\n  at x")).toBe("assert 1 == 2");
    expect(firstLine(null)).toBe("");
    expect(firstLine("abcdef", 4)).toBe("abc…");
    expect(count(1234567)).toBe("1,234,567");
    expect(shortSha("0123456789abcdef")).toBe("01234567");
    expect(shortSha(null)).toBe("");
  });
});
