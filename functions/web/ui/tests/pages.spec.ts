import { expect, test } from "@playwright/test";
import { api, open, settled } from "./fixtures";

test("a test's page: its results strip links each run, as its history says", async ({ page }) => {
  const failed = await api("/v1/runs/main-3/tests?status=failed&limit=1");
  const id: string = failed.items[0].test_id;
  const info = await api(`/v1/tests/${id}`);
  const history = await api(`/v1/tests/${id}/history?limit=100`);
  await open(page, `/tests/${id}`);
  await settled(page);
  await expect(page.getByRole("heading", { level: 1 })).toContainText(info.name);
  const cells = page.locator(".strip a");
  await expect(cells).toHaveCount(history.items.length);
  // Oldest first: the last cell is the newest run.
  await expect(cells.last()).toHaveAttribute("href", `/runs/${history.items[0].run_id}`);
  if (info.failing_since) {
    await expect(page.locator('[data-fact="failing-since"]')).toContainText(info.failing_since.run_id);
  }
  await cells.last().click();
  await expect(page).toHaveURL(new RegExp(`/runs/${history.items[0].run_id}$`));
});

test("a flaky test's page says why, as the flaky list does", async ({ page }) => {
  const flaky = await api("/v1/flaky");
  const t = flaky.items[0];
  const info = await api(`/v1/tests/${t.test_id}`);
  expect(info.flaky_reasons).toEqual(t.reasons);
  await open(page, `/tests/${t.test_id}`);
  await settled(page);
  const why = page.locator('[data-fact="flaky-reasons"] li');
  await expect(why).toHaveCount(t.reasons.length);
  if (t.reasons[0].kind === "retried") await expect(why.first()).toContainText("passed on retry");
});

test("insights: flaky tests, failure groups and slowest tests, as the API ranks them", async ({ page }) => {
  const flaky = await api("/v1/flaky");
  const failures = await api(`/v1/failures?since=${new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 13)}:00:00Z`);
  const slowest = await api("/v1/tests/slowest?limit=20");
  await open(page, "/insights");
  await settled(page);
  const ids = (section: string, attr: string) =>
    page.locator(`section[aria-labelledby="${section}"] tbody tr`).evaluateAll(
      (trs, a) => trs.map((tr) => tr.getAttribute(a)),
      attr,
    );
  expect(flaky.items.length).toBeGreaterThan(0);
  expect(await ids("flaky-heading", "data-test")).toEqual(flaky.items.map((t: { test_id: string }) => t.test_id));
  expect(await ids("groups-heading", "data-fingerprint")).toEqual(
    failures.items.map((g: { fingerprint: string }) => g.fingerprint),
  );
  expect(await ids("slowest-heading", "data-test")).toEqual(slowest.items.map((t: { test_id: string }) => t.test_id));

  // A failure group's page, over the window of the list it was opened from.
  const group = await api(`/v1/failures/${failures.items[0].fingerprint}?since=${failures.since}`);
  await page.locator("section[aria-labelledby=groups-heading] tbody tr").first().getByRole("link").first().click();
  await settled(page);
  await expect(page).toHaveURL(/[?&]since=/);
  await expect(page.locator('[data-fact="occurrences"]')).toContainText(`${group.occurrences} in ${group.runs} runs`);
});

test("uploads: a file that could not be read, with where and why", async ({ page }) => {
  const failed = await api("/v1/uploads?state=failed");
  expect(failed.items.length).toBeGreaterThan(0);
  const file = failed.items[0];
  await open(page, "/uploads");
  await settled(page);
  const row = page.locator(`tr[data-file="${file.file_id}"]`);
  await expect(row).toContainText(file.name);
  await expect(row).toContainText(file.error.kind);
  if (file.error.line) await expect(row).toContainText(`line ${file.error.line}`);
  await page.getByLabel("State").selectOption("done");
  await expect(page).toHaveURL(/state=done/);
  const done = await api("/v1/uploads?state=done&limit=50");
  await settled(page);
  await expect(page.locator("table.uploads tbody tr")).toHaveCount(done.items.length);
});
