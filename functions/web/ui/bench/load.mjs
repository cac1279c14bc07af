// The dashboard's budgets in Chromium, against the stack tests/benches/web_load.rs seeded.
// Prints a Markdown table: each figure, its baseline measured in the same run, their ratio.
import { chromium } from "@playwright/test";

const base = process.env.VERDICT_WEB_URL;
const token = process.env.VERDICT_READ_TOKEN;
const big = process.env.VERDICT_BIG_RUN;
const REPEAT = 7;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Milliseconds from navigation until `ready` holds, in a fresh tab (nothing cached). */
async function timeView(path, ready, timeout = 30_000) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const bytes = { script: 0, style: 0, document: 0 };
  page.on("requestfinished", async (request) => {
    const type = request.resourceType();
    if (type in bytes) bytes[type] += (await request.sizes()).responseBodySize;
  });
  await page.goto(`${base}${path}#token=${token}`);
  await page.waitForFunction(ready, undefined, { timeout, polling: "raf" });
  const ms = await page.evaluate(() => performance.now());
  await context.close();
  return { ms, bytes };
}

/** Milliseconds for the API requests a view makes, made in parallel from Node. */
async function timeApi(paths) {
  const start = performance.now();
  await Promise.all(
    paths.map(async (p) => {
      const r = await fetch(base + p, { headers: { Authorization: `Bearer ${token}` } });
      if (!r.ok) throw new Error(`${p}: ${r.status}`);
      await r.arrayBuffer();
    }),
  );
  return performance.now() - start;
}

const runReady = () =>
  document.querySelector('[data-count="tests"] dd')?.textContent === "100,000" &&
  document.querySelectorAll("table.tests tbody tr[data-test]").length === 50;
const runsReady = () =>
  document.querySelectorAll("table.runs tbody tr").length === 25 && document.querySelectorAll(".chart canvas").length === 3;

const views = [
  ["run page of a 100,000-test run: counts and first page of tests", `/runs/${big}`, runReady, [`/v1/runs/${big}`, `/v1/runs/${big}/tests?limit=50`], [`/v1/runs/${big}/compare?limit=20`]],
  ["runs page of a project of 1,000 runs: runs and trend charts", "/", runsReady, ["/v1/runs?limit=25", "/v1/trends?window=90d"], []],
];

const rows = [];
const firstVisits = [];
const made = [];
let firstLoad;
for (const [name, path, ready, apiPaths, makes] of views) {
  // The first request of a run's page makes what later ones read (its comparison with its
  // base, kept in S3): timed alone, cold, then the first visit.
  const cold = [];
  for (const p of apiPaths) cold.push([p, await timeApi([p])]);
  const first = await timeView(path, ready, 300_000);
  firstVisits.push([name, first.ms, cold]);
  // The visits after it: once what the first visit asked for is made (the page loads the
  // comparison after the counts and tests; made here, and timed, before the repeats).
  for (const p of makes) made.push([p, await timeApi([p])]);
  const page = [];
  const api = [];
  for (let i = 0; i < REPEAT; i++) {
    const t = await timeView(path, ready);
    page.push(t.ms);
    firstLoad ??= t.bytes;
    api.push(await timeApi(apiPaths));
  }
  rows.push([name, median(page), median(api)]);
}
await browser.close();

const kb = (n) => (n / 1024).toFixed(1);
let md = "| figure | dashboard | baseline (same run) | ratio | target |\n|---|---:|---:|---:|---|\n";
md += `| first load, JavaScript + CSS, gzipped as served | ${kb(firstLoad.script + firstLoad.style)} KB | — | — | ≤ 150 KB |\n`;
md += `| first load, the page itself, gzipped | ${kb(firstLoad.document)} KB | — | — | |\n`;
for (const [name, page, api] of rows) {
  md += `| ${name} (median of ${REPEAT}, fresh tab) | ${page.toFixed(0)} ms | ${api.toFixed(0)} ms: its API requests alone | ${(page / api).toFixed(2)} | < 1 s |\n`;
}
for (const [name, ms, cold] of firstVisits) {
  const alone = cold.map(([p, t]) => `${p} ${t.toFixed(0)} ms`).join(", ");
  md += `| ${name}, first visit after ingest | ${ms.toFixed(0)} ms | cold, each alone: ${alone} | — | |\n`;
}
for (const [p, ms] of made) {
  md += `| making the comparison the run page then shows: ${p}, first request | ${ms.toFixed(0)} ms | — | — | |\n`;
}
process.stdout.write(md);
