import { test } from "uvu";
import * as assert from "uvu/assert";
import { Rng } from "../../src/rng.ts";
import { escapeXml, formatTick, htmlReport, lineChart, niceTicks, type Series } from "../../src/report/svg.ts";

/**
 * A small XML well-formedness check: balanced, properly nested tags, quoted attributes,
 * no raw '<' or '&' in text, exactly one root. Returns the element names in document order.
 */
function parseXml(src: string): string[] {
  const names: string[] = [];
  const stack: string[] = [];
  let roots = 0;
  let i = 0;
  while (i < src.length) {
    const lt = src.indexOf("<", i);
    const text = src.slice(i, lt < 0 ? src.length : lt);
    assert.not.match(text, /&(?!(amp|lt|gt|quot|#39);)/, `bare & in text: ${text.slice(0, 40)}`);
    if (lt < 0) break;
    const gt = src.indexOf(">", lt);
    assert.ok(gt > lt, "unterminated tag");
    const tag = src.slice(lt + 1, gt);
    assert.not.ok(tag.includes("<"), `'<' inside tag: ${tag.slice(0, 60)}`);
    if (tag.startsWith("/")) {
      assert.is(stack.pop(), tag.slice(1).trim(), "mismatched close tag");
    } else {
      const m = /^([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)$/.exec(tag);
      assert.ok(m, `malformed tag <${tag.slice(0, 80)}>`);
      names.push(m![1]);
      if (!stack.length) roots++;
      if (!m![3]) stack.push(m![1]);
    }
    i = gt + 1;
  }
  assert.is(stack.length, 0, `unclosed: ${stack.join(",")}`);
  assert.is(roots, 1);
  return names;
}

const ramp = (n: number, f: (x: number) => number): [number, number][] => Array.from({ length: n }, (_, i) => [i, f(i)]);

test("a chart is well-formed SVG with axes, ticks, gridlines, legend and every series name", () => {
  const svg = lineChart({
    title: "Accuracy <per node> & mean", xLabel: "virtual time (s)", yLabel: "accuracy",
    series: [
      { name: "node 0", points: ramp(50, (x) => 1 - Math.exp(-x / 10)) },
      { name: "node \"1\"", points: ramp(50, (x) => 1 - Math.exp(-x / 12)), dash: "4 3" },
      { name: "mean", points: ramp(50, (x) => 1 - Math.exp(-x / 11)), width: 3, color: "#000" },
    ],
  });
  const names = parseXml(svg);
  assert.is(names[0], "svg");
  assert.ok(names.filter((n) => n === "path").length === 3);
  assert.ok(names.filter((n) => n === "line").length > 8, "gridlines and legend swatches");
  for (const s of ["Accuracy &lt;per node&gt; &amp; mean", "node 0", "node &quot;1&quot;", "mean", "virtual time (s)", "accuracy"]) {
    assert.ok(svg.includes(s), `missing ${s}`);
  }
  assert.ok(svg.includes('stroke-dasharray="4 3"'));
});

test("empty, NaN, infinite and single points never throw and stay well-formed", () => {
  const cases: Series[][] = [
    [],
    [{ name: "empty", points: [] }],
    [{ name: "all NaN", points: [[0, NaN], [1, NaN]] }],
    [{ name: "one point", points: [[3, 0.5]] }],
    [{ name: "gappy", points: [[0, 1], [1, NaN], [2, 3], [3, Infinity], [4, 2], [NaN, 1], [5, 4]] }],
    [{ name: "flat", points: ramp(10, () => 7) }],
  ];
  for (const series of cases) {
    for (const logY of [false, true]) {
      const svg = lineChart({ title: "t", xLabel: "x", yLabel: "y", series, logY });
      parseXml(svg);
      assert.not.ok(/NaN|Infinity/.test(svg.replace(/<title>[^<]*<\/title>/g, "").replace(/>[^<]*</g, "><")), "no NaN in attributes");
      for (const s of series) assert.ok(svg.includes(s.name));
    }
  }
  const gappy = lineChart({ title: "t", xLabel: "x", yLabel: "y", series: cases[4] });
  assert.is((/<path d="([^"]*)"/.exec(gappy)![1].match(/M/g) ?? []).length, 4, "NaN breaks the line into segments");
  assert.ok(lineChart({ title: "t", xLabel: "x", yLabel: "y", series: cases[3] }).includes("<circle"), "lone point marked");
});

test("log axis: zero and negative values skipped, decade ticks", () => {
  const svg = lineChart({
    title: "consensus distance", xLabel: "t", yLabel: "‖θ − θ̄‖", logY: true,
    series: [{ name: "max", points: ramp(40, (x) => (x === 3 ? 0 : x === 5 ? -1 : Math.pow(10, -x / 8))) }],
  });
  parseXml(svg);
  assert.ok(svg.includes(">1e-5<") || svg.includes(">0.001<"), "decade ticks present");
  assert.ok(svg.includes("(log)"));
});

test("many series (per-node thin + thick mean) stay legible: legend capped, mean listed", () => {
  const rng = new Rng(1);
  const series: Series[] = Array.from({ length: 64 }, (_, i) => ({
    name: `node ${i}`, points: ramp(100, (x) => Math.exp(-x / 30) + 0.05 * rng.normal()), width: 0.8, opacity: 0.35, color: "#1f77b4",
  }));
  series.push({ name: "mean over nodes", points: ramp(100, (x) => Math.exp(-x / 30)), width: 3, color: "#d62728" });
  const svg = lineChart({ title: "loss", xLabel: "step", yLabel: "loss", series, yRange: [0, 1.2] });
  parseXml(svg);
  assert.ok(svg.includes(">node 0 … node 63 (64)</text>"), "alike per-node lines fold into one legend entry");
  assert.ok(/<text[^>]*>mean over nodes<\/text>/.test(svg), "mean in the legend");
  // Distinct styles that cannot fold are capped with a count of the rest.
  const distinct: Series[] = Array.from({ length: 20 }, (_, i) => ({ name: `s${i}`, points: ramp(5, (x) => x + i) }));
  const capped = lineChart({ title: "t", xLabel: "x", yLabel: "y", series: distinct });
  parseXml(capped);
  assert.ok(capped.includes("… 8 more series"));
  // The thick mean is drawn last, on top.
  const paths = [...svg.matchAll(/<path [^>]*stroke-width="([\d.]+)"/g)].map((m) => Number(m[1]));
  assert.is(paths.length, 65);
  assert.is(paths[paths.length - 1], 3);
});

test("a scatter of single points: legendMax lists every series, rings tell apart series that share a colour", () => {
  const series: Series[] = Array.from({ length: 14 }, (_, i) => ({
    name: `a-rather-long-run-name-${i}`, points: [[1000 * (i + 1), 93 + i / 4]], legend: true, marker: i < 10 ? "dot" : "ring",
  }));
  const svg = lineChart({ title: "t", xLabel: "MiB", yLabel: "%", series, legendMax: 14, legendWidth: 220 });
  parseXml(svg);
  assert.not.ok(svg.includes("more series"), "no entry left out");
  for (let i = 0; i < 14; i++) assert.ok(svg.includes(`>a-rather-long-run-name-${i}</text>`), `series ${i} listed unclipped`);
  assert.is((svg.match(/fill="#ffffff" stroke=/g) ?? []).length, 2 * 4, "four rings in the plot and four in the legend");
  assert.ok(lineChart({ title: "t", xLabel: "x", yLabel: "y", series }).includes("… 2 more series"), "the default cap is 12");
});

test("ticks are round numbers covering the range", () => {
  assert.equal(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.equal(niceTicks(0, 100, 5), [0, 20, 40, 60, 80, 100]);
  assert.equal(niceTicks(-3, 7, 5), [-2, 0, 2, 4, 6]);
  assert.equal(niceTicks(5, 5), [5]);
  assert.is(formatTick(0.30000000000000004), "0.3");
  assert.is(formatTick(1e-5), "1e-5");
  assert.is(formatTick(250000), "2.5e5");
  assert.is(escapeXml(`<a b="c">&'`), "&lt;a b=&quot;c&quot;&gt;&amp;&#39;");
});

test("htmlReport embeds charts and escaped text", () => {
  const svg = lineChart({ title: "a", xLabel: "x", yLabel: "y", series: [{ name: "s", points: ramp(3, (x) => x) }] });
  const html = htmlReport("Run <1>", [{ heading: "Accuracy", svg }, { heading: "Histogram", text: "node | 0 1\n   0 | 5 <6>" }]);
  assert.ok(html.startsWith("<!doctype html>"));
  assert.ok(html.includes("<h1>Run &lt;1&gt;</h1>"));
  assert.ok(html.includes(svg));
  assert.ok(html.includes("5 &lt;6&gt;"));
});

test.run();
