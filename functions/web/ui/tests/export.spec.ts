import { expect, test } from "@playwright/test";
import { pathToFileURL } from "node:url";
import { api, stack } from "./fixtures";

test("the HTML report opens from a file, needs no script and no request, and says what the API says", async ({ browser }) => {
  const detail = await api("/v1/runs/main-3");
  const compare = await api("/v1/runs/main-3/compare");
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const requests: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(stack.htmlExport()).href);
  expect(requests.filter((u) => !u.startsWith("file:"))).toEqual([]);
  await expect(page.getByRole("heading", { level: 1 })).toContainText("main-3");
  const count = (label: string) => page.locator(".counts div", { has: page.locator(`dt:text-is("${label}")`) }).locator("dd");
  await expect(count("Tests")).toHaveText(String(detail.summary.tests));
  await expect(count("Failed")).toHaveText(String(detail.summary.failed));
  await expect(count("Skipped")).toHaveText(String(detail.summary.skipped));
  await expect(page.getByRole("heading", { name: `Against run ${compare.base.run_id}` })).toBeVisible();
  await expect(page.locator("table tbody tr")).toHaveCount(detail.summary.tests);
  await expect(page.locator("svg[role=img]").first()).toBeVisible();
  await page.screenshot({ path: `${stack.screenshots()}/html-report.png` });
  await context.close();
});
