// The lab's simulation speed in a real browser against `cdl run`'s on this runtime: the same
// settings, run alternately (rounds of page, then in-process), wall time from the world being
// built to the final evaluation done. The page is the whole lab (src/web/): the simulator in its
// Web Worker and the page drawing at up to 10 frames a second on the main thread. The issue asks
// the page to be within 25% of cdl run; ratio = page time ÷ in-process time (1.00 = as fast).
// Needs Chromium (CDL_CHROMIUM or /usr/bin/chromium). Not a test: nothing here gates on time.
// Usage: node dist/bench/lab.js [--rounds N] (default 3)
import os from "node:os";
import { loadDataset } from "../src/data/registry.ts";
import type { Hooks } from "../src/experiment/algorithms.ts";
import { Recorder } from "../src/experiment/recorder.ts";
import { evalInterval, simulate } from "../src/experiment/run.ts";
import { buildWorld } from "../src/experiment/world.ts";
import { runtimeName } from "../src/runtime.ts";
import { labConfig, labSettings } from "../src/web/settings.ts";
import { chromiumPath, NO_CHROMIUM, openLab } from "../tests/browser.ts";

const CASES = [
  { name: "the lab's default (mlp, 8 nodes, ring, classes:2, drops, 40 epochs)", query: "" },
  { name: "lenet, 8 nodes, ring, classes:2, drops, 2 epochs", query: "model=lenet&epochs=2&eval-every=1" },
];

const rounds = Number(process.argv[process.argv.indexOf("--rounds") + 1]) || 3;
if (!chromiumPath()) { console.log(`skipped: ${NO_CHROMIUM}`); process.exit(0); }

const ds = await loadDataset("mnist-10k");

/** Seconds of simulate() for the settings in this process, and the final mean accuracy. */
async function inProcess(query: string): Promise<{ s: number; acc: number }> {
  const w = await buildWorld(labConfig(labSettings(query)), ds);
  const hooks: Hooks = { recorder: new Recorder(w), evalEvery: evalInterval(w), trainMs: 0 };
  const t0 = performance.now();
  const o = await simulate(w, hooks);
  const acc = o.finals!.nodes.reduce((a, r) => a + r.accuracy, 0) / o.finals!.nodes.length;
  return { s: (performance.now() - t0) / 1000, acc };
}

const lab = await openLab();
const browserVersion = lab.browser.version();

/** Seconds from the page's run being set up to its final evaluation done, and its mean accuracy. */
async function inPage(query: string): Promise<{ s: number; acc: number }> {
  const page = await lab.browser.newPage({ viewport: { width: 1440, height: 1000 } });
  type S = { state: string; setup: unknown; error: string | null; meanAccuracy: number | null };
  const state = () => page.evaluate(() => (window as unknown as { lab: { state(): S } }).lab.state());
  await page.goto(lab.url + (query ? "?" + query : ""));
  let t0 = 0;
  for (;;) {
    const s = await state();
    if (s.error) throw new Error(s.error);
    if (!t0 && s.setup) t0 = performance.now();
    if (s.state === "done") {
      const t = (performance.now() - t0) / 1000;
      const sum = await page.evaluate(() => (window as unknown as { lab: { exportRun(): Promise<{ summary: string }> } }).lab.exportRun());
      await page.close();
      return { s: t, acc: JSON.parse(sum.summary).accuracy.mean };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

const { runtime, runtimeVersion } = runtimeName();
console.log(`lab speed: Chromium ${browserVersion} (headless, the whole page) vs in-process simulate() on ${runtime} ${runtimeVersion}; ` +
  `CPU ${os.cpus()[0]?.model.trim()}, ${os.cpus().length} logical cores; ${rounds} alternating rounds, medians`);
console.log(`command: node dist/bench/lab.js --rounds ${rounds}\n`);
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
try {
  for (const c of CASES) {
    const page: number[] = [], here: number[] = [];
    let accPage = 0, accHere = 0;
    for (let r = 0; r < rounds; r++) {
      const p = await inPage(c.query), h = await inProcess(c.query);
      page.push(p.s); here.push(h.s);
      accPage = p.acc; accHere = h.acc;
      process.stderr.write(`  ${c.name}: round ${r + 1}: page ${p.s.toFixed(2)} s, ${runtime} ${h.s.toFixed(2)} s\n`);
    }
    const ratio = median(page) / median(here);
    console.log(`${c.name}\n  page ${median(page).toFixed(2)} s (${page.map((x) => x.toFixed(2)).join(", ")}), ${runtime} ${median(here).toFixed(2)} s (${here.map((x) => x.toFixed(2)).join(", ")})` +
      `\n  page ÷ ${runtime} = ${ratio.toFixed(2)} (target ≤ 1.25: ${ratio <= 1.25 ? "PASS" : "MISSED"}); final mean accuracy page ${(100 * accPage).toFixed(2)}%, ${runtime} ${(100 * accHere).toFixed(2)}%`);
  }
} finally {
  await lab.close();
}
