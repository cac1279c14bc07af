import { defineConfig } from "@playwright/test";

// Run by cli/tests/dashboard.rs, which starts the local stack, ingests real reports with the
// `verdict` command and passes the address and tokens in the environment. Playwright cannot
// download its browsers here: the system's Chromium (Debian's package) is used.
export default defineConfig({
  testDir: "tests",
  timeout: 60_000,
  workers: 2,
  reporter: [["list"]],
  outputDir: "../../../target/dashboard/results",
  use: {
    baseURL: process.env.VERDICT_WEB_URL,
    browserName: "chromium",
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
    trace: "off",
  },
});
