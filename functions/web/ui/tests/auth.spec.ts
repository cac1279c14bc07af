import { expect, test } from "@playwright/test";
import { open, stack } from "./fixtures";

test("the link's token is kept in the tab, leaves the address bar, and signing out forgets it", async ({ page }) => {
  await open(page, "/");
  await expect(page.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();
  expect(new URL(page.url()).hash).toBe("");
  expect(await page.evaluate(() => sessionStorage.getItem("verdict.token"))).toBe(stack.token());
  // A reload keeps the tab signed in.
  await page.reload();
  await expect(page.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin$/);
  expect(await page.evaluate(() => sessionStorage.getItem("verdict.token"))).toBeNull();
  await page.goto("/runs/main-1");
  await expect(page.getByLabel("Read token")).toBeVisible();

  // Signing in by pasting the token.
  await page.getByLabel("Read token").fill(stack.token());
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();
});

test("a revoked token gets a page that says so", async ({ page }) => {
  await page.goto(`/#token=${stack.revoked()}`);
  await expect(page.getByRole("alert").first()).toContainText("This token is not accepted");
  await expect(page.getByRole("alert").first()).toContainText("revoked");
});

test("an address the dashboard does not know says so", async ({ page }) => {
  await page.goto(`/#token=${stack.token()}`);
  await page.evaluate(() => {
    history.pushState(null, "", "/runs/a/b");
    dispatchEvent(new PopStateEvent("popstate"));
  });
  await expect(page.getByRole("heading", { name: "No such page" })).toBeVisible();
});
