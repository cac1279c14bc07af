import { afterEach, describe, expect, it, vi } from "vitest";
import { patientFetch } from "./client";

/** A fetch answering `statuses` in turn, 503s with `Retry-After: 1` when `retryAfter`. */
function answering(statuses: number[], retryAfter: boolean) {
  const fetch = vi.fn(async () => {
    const status = statuses[Math.min(fetch.mock.calls.length - 1, statuses.length - 1)];
    const headers: Record<string, string> = status === 503 && retryAfter ? { "Retry-After": "1" } : {};
    return new Response("{}", { status, headers });
  });
  vi.stubGlobal("fetch", fetch);
  return fetch;
}

async function ask(): Promise<Response> {
  const answer = patientFetch(new Request("http://localhost/v1/tests/slowest?window=90d"));
  await vi.runAllTimersAsync();
  return answer;
}

describe("patientFetch", () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });
  it("asks again after Retry-After while the API is still working", async () => {
    vi.useFakeTimers();
    const fetch = answering([503, 503, 200], true);
    expect((await ask()).status).toBe(200);
    expect(fetch).toHaveBeenCalledTimes(3);
  });
  it("gives up after six asks and shows the last answer", async () => {
    vi.useFakeTimers();
    const fetch = answering([503], true);
    expect((await ask()).status).toBe(503);
    expect(fetch).toHaveBeenCalledTimes(6);
  });
  it("does not ask again when the API does not say when", async () => {
    vi.useFakeTimers();
    const fetch = answering([503], false);
    expect((await ask()).status).toBe(503);
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});
