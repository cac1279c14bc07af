import { expect, test } from "@playwright/test";
import { api, open, settled } from "./fixtures";

test("the runs page lists the runs the API lists, with their counts", async ({ page }) => {
  const listed = await api("/v1/runs?limit=25");
  await open(page, "/");
  await settled(page);
  const rows = page.locator("table.runs tbody tr");
  await expect(rows).toHaveCount(listed.items.length);
  for (const run of listed.items) {
    const row = page.locator(`tr[data-run="${run.run_id}"]`);
    await expect(row.locator('[data-field="tests"]')).toHaveText(run.summary.tests.toLocaleString("en-US"));
    await expect(row).toContainText(run.status);
  }
  // The trend charts are drawn, with their figures as a table.
  await expect(page.locator(".chart canvas")).toHaveCount(3);
  const trends = await api("/v1/trends?window=90d");
  const days = trends.items.filter((b: { runs: number }) => b.runs > 0).length;
  expect(days).toBeGreaterThan(0);
  await expect(page.locator(".chart").first().locator("tbody tr")).toHaveCount(trends.items.length);
});

test("filters live in the address; back and forward restore them", async ({ page }) => {
  const failed = await api("/v1/runs?status=failed&limit=25");
  const all = await api("/v1/runs?limit=25");
  await open(page, "/");
  await settled(page);
  await page.getByLabel("Status").selectOption("failed");
  await expect(page).toHaveURL(/\?status=failed$/);
  await settled(page);
  await expect(page.locator("table.runs tbody tr")).toHaveCount(failed.items.length);

  await page.getByLabel("Branch").fill("feature/x");
  await page.getByLabel("Branch").press("Enter");
  await expect(page).toHaveURL(/branch=feature%2Fx/);
  const feature = await api("/v1/runs?status=failed&branch=feature%2Fx&limit=25");
  await settled(page);
  await expect(page.locator("table.runs tbody tr")).toHaveCount(feature.items.length);
  await expect(page.getByRole("heading", { name: "Last 90 days of feature/x" })).toBeVisible();

  await page.goBack();
  await expect(page).toHaveURL(/\?status=failed$/);
  await expect(page.getByLabel("Branch")).toHaveValue("");
  await page.goBack();
  await settled(page);
  await expect(page.locator("table.runs tbody tr")).toHaveCount(all.items.length);
  await page.goForward();
  await expect(page.getByLabel("Status")).toHaveValue("failed");

  // A shared link opens the same view.
  await open(page, "/?status=failed");
  await settled(page);
  await expect(page.locator("table.runs tbody tr")).toHaveCount(failed.items.length);
});
