import { expect, test } from "@playwright/test";
import { api, open, settled } from "./fixtures";

const RUN = "main-3";

test("a run's page shows the counts, changes and files the API gives", async ({ page }) => {
  const detail = await api(`/v1/runs/${RUN}`);
  const compare = await api(`/v1/runs/${RUN}/compare`);
  await open(page, `/runs/${RUN}`);
  await settled(page);
  const s = detail.summary;
  for (const [key, value] of [
    ["tests", s.tests],
    ["passed", s.passed],
    ["failed", s.failed],
    ["skipped", s.skipped],
    ["flaky", s.flaky],
  ] as const) {
    await expect(page.locator(`[data-count="${key}"] dd`)).toHaveText(value.toLocaleString("en-US"));
  }
  await expect(page.getByRole("heading", { name: `Against ${compare.base.run_id}` })).toBeVisible();
  for (const change of ["new_failures", "still_failing", "fixed", "newly_flaky"]) {
    await expect(page.locator(`[data-change="${change}"] .badge`)).toHaveText(String(compare.counts[change]));
  }
  const files = page.locator("table.files tbody tr");
  await expect(files).toHaveCount(detail.files.length);

  // Failures grouped by cause: every failing result is in one group; a group opens to its stack.
  const failing = await api(`/v1/runs/${RUN}/tests?status=failed,error,xpassed&limit=500`);
  const groups = page.locator("details[data-group]");
  const sizes = await groups.locator(".badge").allTextContents();
  expect(sizes.reduce((sum, n) => sum + Number(n), 0)).toBe(failing.items.length);
  await groups.first().locator("summary").click();
  await expect(groups.first().locator(".attempt pre").first()).toBeVisible();
});

test("the test table pages through the API's cursors, sorts and searches, all in the address", async ({ page }) => {
  const first = await api(`/v1/runs/${RUN}/tests?limit=50`);
  const second = await api(`/v1/runs/${RUN}/tests?limit=50&cursor=${encodeURIComponent(first.next_cursor)}`);
  await open(page, `/runs/${RUN}`);
  await settled(page);
  const rows = page.locator("table.tests tbody tr[data-test]");
  const ids = async () => rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-test")));
  expect(await ids()).toEqual(first.items.map((t: { test_id: string }) => t.test_id));

  await page.getByRole("link", { name: "Next page »" }).first().click();
  await expect(page).toHaveURL(/cursor=/);
  await settled(page);
  expect(await ids()).toEqual(second.items.map((t: { test_id: string }) => t.test_id));
  await page.goBack();
  await settled(page);
  expect(await ids()).toEqual(first.items.map((t: { test_id: string }) => t.test_id));

  // Slowest first, as the API orders them.
  const slowest = await api(`/v1/runs/${RUN}/tests?limit=50&order=duration&dir=desc`);
  await page.getByRole("button", { name: /^Duration/ }).click();
  await expect(page).toHaveURL(/order=duration/);
  await settled(page);
  expect(await ids()).toEqual(slowest.items.map((t: { test_id: string }) => t.test_id));
  await expect(page.locator('th[aria-sort="descending"]')).toContainText("Duration");

  // Failed only, then a name search: the same rows as the API's.
  await page.getByLabel("Status", { exact: true }).selectOption("failed,error");
  await settled(page);
  const failed = await api(`/v1/runs/${RUN}/tests?limit=50&order=duration&dir=desc&status=failed%2Cerror`);
  expect(await ids()).toEqual(failed.items.map((t: { test_id: string }) => t.test_id));
  const name: string = first.items[3].name;
  const needle = name.slice(0, Math.min(name.length, 12));
  await page.getByLabel("Name contains").fill(needle);
  await page.getByLabel("Name contains").press("Enter");
  await expect(page).toHaveURL(/q=/);
  await settled(page);
  const searched = await api(
    `/v1/runs/${RUN}/tests?limit=50&order=duration&dir=desc&status=failed%2Cerror&q=${encodeURIComponent(needle)}`,
  );
  await expect(rows).toHaveCount(searched.items.length);
});

test("a failing result opens in place with its message and stack", async ({ page }) => {
  const failed = await api(`/v1/runs/${RUN}/tests?status=failed&limit=1`);
  const test_id: string = failed.items[0].test_id;
  const result = await api(`/v1/runs/${RUN}/tests/${test_id}`);
  await open(page, `/runs/${RUN}?status=failed`);
  await settled(page);
  const row = page.locator(`tr[data-test="${test_id}"]`);
  await row.getByRole("button", { name: "Details" }).click();
  const detail = page.locator("tr.detail-row");
  await expect(detail.locator("pre").first()).toContainText((result.attempts[0].message ?? result.attempts[0].details).split("\n")[0]);
});
