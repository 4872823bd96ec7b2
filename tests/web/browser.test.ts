// The lab in a real browser (Chromium, through playwright-core): the default run starts by itself
// and learns, settings from the URL and from the page change the run, a bad ε shows the CLI's
// stability message, and the exported metrics.jsonl is byte-identical to `cdl run`'s. Screenshots
// go to runs/lab-screenshots/ (not in git) for a person to look at. Skipped without Chromium.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { root, runtime } from "../cli.ts";
import { chromiumPath, NO_CHROMIUM, openLab, type LabSession } from "../browser.ts";
import { skipIf } from "../skip.ts";

const it = skipIf(chromiumPath() ? false : NO_CHROMIUM);
const shots = join(root, "runs", "lab-screenshots");
let lab: LabSession | null = null;

interface LabState { t: number; state: string; meanAccuracy: number | null; evals: number; error: string | null; setup: { nodes: number; command: string; build: string | null } | null }

/** A page of the lab with `query`, and the console errors and page errors it reports. */
async function open(query: string): Promise<{ page: Page; problems: string[] }> {
  lab ??= await openLab();
  const page = await lab.browser.newPage({ viewport: { width: 1440, height: 1000 } });
  const problems: string[] = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`${lab.url}${query ? "?" + query : ""}`);
  return { page, problems };
}

const state = (page: Page) => page.evaluate(() => (window as unknown as { lab: { state(): LabState } }).lab.state());

/** Polls the page's state until `ok` holds; fails with the last state after `seconds`. */
async function until(page: Page, ok: (s: LabState) => boolean, seconds: number): Promise<LabState> {
  const t0 = Date.now();
  for (;;) {
    const s = await state(page);
    if (ok(s)) return s;
    if (Date.now() - t0 > seconds * 1000) assert.unreachable(`after ${seconds} s: ${JSON.stringify({ ...s, setup: s.setup?.command })}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${runtime}-${name}.png`), fullPage: true });
}

it("the default run starts by itself, learns past 80% mean accuracy, with no console errors", async () => {
  const { page, problems } = await open("");
  const t0 = Date.now();
  const first = await until(page, (s) => s.t > 0 || s.error !== null, 60);
  assert.is(first.error, null);
  console.log(`  first simulated step on screen ${((Date.now() - t0) / 1000).toFixed(1)} s after opening the page (${first.setup?.build})`);
  assert.match(first.setup!.command, /^cdl run --model mlp --split classes:2 --drop 0.2 /);
  await new Promise((r) => setTimeout(r, 2500));
  await shot(page, "default-running");
  const end = await until(page, (s) => s.state === "done" || s.error !== null, 240);
  await new Promise((r) => setTimeout(r, 300)); // the last frame drawn
  await shot(page, "default-done");
  assert.is(end.error, null);
  assert.ok(end.meanAccuracy! > 0.8, `mean accuracy ${end.meanAccuracy}`);
  assert.equal(problems, []);
  await page.close();
});

it("a setting in the URL changes the run; a control in the page changes the run and the URL", async () => {
  const { page, problems } = await open("nodes=4&topology=complete&epochs=2");
  const s = await until(page, (x) => x.setup !== null || x.error !== null, 60);
  assert.is(s.error, null);
  assert.is(s.setup!.nodes, 4);
  assert.match(s.setup!.command, /--nodes 4 --topology complete/);
  await page.locator("#set-nodes").fill("6");
  await page.locator("#set-nodes").dispatchEvent("change");
  const t = await until(page, (x) => x.setup?.nodes === 6 || x.error !== null, 60);
  assert.is(t.error, null);
  assert.match(new URL(page.url()).search, /nodes=6/);
  assert.match(t.setup!.command, /--nodes 6 --topology complete/);
  assert.equal(problems, []);
  await page.close();
});

it("pause holds the run, step runs one step time, a setting changed while paused waits at t = 0, speed 1× keeps virtual time to wall time", async () => {
  const { page, problems } = await open("epochs=20");
  await until(page, (x) => x.t > 0.5, 60);
  await page.locator("#play").click(); // it reads "Pause" while running
  const held = await until(page, (x) => x.state === "paused", 30);
  await new Promise((r) => setTimeout(r, 500));
  assert.is((await state(page)).t, held.t, "paused: the clock does not move");
  await page.locator("#step").click();
  const stepped = await until(page, (x) => x.state === "paused" && x.t > held.t, 30);
  assert.ok(stepped.t - held.t < 0.2, `one step time is 0.04 virtual s; it moved ${stepped.t - held.t}`);
  await page.locator("#set-seed").fill("2");
  await page.locator("#set-seed").dispatchEvent("change");
  const fresh = await until(page, (x) => (x.setup?.command.includes("--seed 2") ?? false) && x.state === "paused", 60);
  assert.is(fresh.t, 0, "a setting changed while paused gives a new run held at t = 0");
  await page.locator("#speed").selectOption("1");
  const w0 = Date.now();
  await page.locator("#play").click();
  await until(page, (x) => x.state === "running", 30);
  await new Promise((r) => setTimeout(r, 1500));
  const ran = await state(page), wall = (Date.now() - w0) / 1000;
  assert.ok(ran.t > fresh.t, "it runs again");
  assert.ok(ran.t - fresh.t <= wall + 0.3, `at 1× it may not run ahead of the wall clock: ${ran.t - fresh.t} virtual s in ${wall} s`);
  assert.equal(problems, []);
  await page.close();
});

it("an ε beyond the stability bound shows the CLI's message and runs nothing", async () => {
  const { page } = await open("epsilon=0.9");
  const s = await until(page, (x) => x.error !== null, 60);
  assert.match(s.error!, /--epsilon 0\.9 breaks consensus stability on ring.*need 0 < ε ≤ 0\.5/);
  assert.is(s.evals, 0);
  const shown = await page.locator("#error").innerText();
  assert.ok(shown.includes(s.error!), shown);
  await shot(page, "epsilon-error");
  await page.close();
});

it("export: metrics.jsonl is byte-identical to what cdl run writes for the same settings", async () => {
  const { page } = await open("nodes=4&epochs=3&eval-every=1&seed=7");
  const s = await until(page, (x) => x.state === "done" || x.error !== null, 120);
  assert.is(s.error, null);
  const ex = await page.evaluate(() => (window as unknown as { lab: { exportRun(): Promise<{ metrics: string; summary: string }> } }).lab.exportRun());
  const argv = [...s.setup!.command.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) => m[1] ?? m[2]).slice(2);
  const dir = mkdtempSync(join(tmpdir(), "cdl-lab-cli-"));
  try {
    // Node runs the CLI here whatever runs this test: a browser's V8 computes like Node's (Bun's
    // JavaScriptCore does not fuse multiply-adds), and the page names the build it ran.
    const r = spawnSync("node", [join(root, "dist/src/cli/main.js"), "run", ...argv, "--out", join(dir, "run"), "--quiet"],
      { encoding: "utf8", env: { ...process.env, CDL_SIMD_BUILD: s.setup!.build ?? "simd" } });
    assert.is(r.status, 0, r.stderr);
    const cli = readFileSync(join(dir, "run", "metrics.jsonl"), "utf8");
    assert.ok(cli.split("\n").length > 20);
    assert.ok(ex.metrics === cli, "the page's metrics.jsonl differs from cdl run's");
    const sum = JSON.parse(ex.summary), cliSum = JSON.parse(readFileSync(join(dir, "run", "summary.json"), "utf8"));
    assert.equal(sum.accuracy, cliSum.accuracy);
    delete cliSum.config.out;
    assert.equal(sum.config, cliSum.config);
    assert.is(sum.versions.runtime, "browser");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await page.close();
});

test.after(async () => { await lab?.close(); });
test.run();
