// Every page, checked by axe-core and photographed light and dark, wide and at 375 px, for a
// person to look at (target/dashboard/screenshots).
import AxeBuilder from "@axe-core/playwright";
import { expect, test } from "@playwright/test";
import { api, open, settled, stack } from "./fixtures";

const SIZES = [
  ["desktop", { width: 1280, height: 900 }],
  ["375px", { width: 375, height: 800 }],
] as const;

async function pages(): Promise<[string, string][]> {
  const failed = await api("/v1/runs/main-3/tests?status=failed&limit=1");
  const failures = await api("/v1/failures");
  const flaky = await api("/v1/flaky");
  return [
    ["runs", "/"],
    ["run", "/runs/main-3"],
    ["pr-run", "/runs/pr-4"],
    ["test", `/tests/${failed.items[0].test_id}`],
    ["flaky-test", `/tests/${flaky.items[0].test_id}`],
    ["failure", `/failures/${failures.items[0].fingerprint}`],
    ["insights", "/insights"],
    ["uploads", "/uploads"],
    ["signin", "/signin"],
  ];
}

for (const scheme of ["light", "dark"] as const) {
  test(`every page has no serious accessibility violation and is photographed (${scheme})`, async ({ page }) => {
    test.setTimeout(180_000);
    await page.emulateMedia({ colorScheme: scheme });
    for (const [name, path] of await pages()) {
      for (const [size, viewport] of SIZES) {
        await page.setViewportSize(viewport);
        await open(page, path);
        await settled(page);
        // Open the first failure group, so its detail is checked and shown too.
        if (name === "run") await page.locator("details[data-group] summary").first().click();
        await settled(page);
        const scan = await new AxeBuilder({ page }).analyze();
        const bad = scan.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
        expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`), `${name} ${size}`).toEqual([]);
        // Nothing wider than the screen but the tables, which scroll in their own box.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow, `${name} ${size} is wider than the window`).toBeLessThanOrEqual(0);
        await page.screenshot({ path: `${stack.screenshots()}/${name}-${scheme}-${size}.png`, fullPage: true });
      }
    }
  });
}

test("the keyboard reaches every control, with a visible focus", async ({ page }) => {
  await open(page, "/runs/main-3");
  await settled(page);
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Skip to content" })).toBeFocused();
  await page.keyboard.press("Enter");
  // Tab on to the first sort button and sort with Enter.
  const sort = page.getByRole("button", { name: /^Duration/ });
  for (let i = 0; i < 400 && !(await sort.evaluate((el) => el === document.activeElement)); i++) {
    await page.keyboard.press("Tab");
  }
  await expect(sort).toBeFocused();
  const outline = await sort.evaluate((el) => getComputedStyle(el).outlineStyle);
  expect(outline).not.toBe("none");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/order=duration/);
});
