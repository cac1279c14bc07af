// What every browser test shares: the stack the Rust harness started, the API read the same
// way the page reads it, and signing in.
import { expect, type Page } from "@playwright/test";
import { checkAnswer } from "./openapi";

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the browser tests through cli/tests/dashboard.rs`);
  return value;
}

export const stack = {
  url: () => env("VERDICT_WEB_URL"),
  token: () => env("VERDICT_READ_TOKEN"),
  revoked: () => env("VERDICT_REVOKED_TOKEN"),
  htmlExport: () => env("VERDICT_HTML_EXPORT"),
  screenshots: () => env("VERDICT_SCREENSHOTS"),
};

/** GET an API path with the read token, as JSON, checked against openapi.json. */
export async function api<T = any>(path: string): Promise<T> {
  const response = await fetch(stack.url() + path, { headers: { Authorization: `Bearer ${stack.token()}` } });
  expect(response.status, path).toBe(200);
  const body = await response.json();
  checkAnswer(path, body);
  return body as T;
}

/** Opens `path` signed in, as the link `make dev` prints would (the token in the fragment). */
export async function open(page: Page, path: string): Promise<void> {
  await page.goto(`${path}#token=${stack.token()}`);
  await expect(page.locator("main")).toBeVisible();
}

/** Waits until no view is loading. */
export async function settled(page: Page): Promise<void> {
  await expect(page.locator(".loading")).toHaveCount(0);
}
