// Dependency-free SVG line charts and a one-file HTML report around them.
//
// A chart is a plot area with axes, "nice" ticks (1-2-5 steps, or decades on a log axis),
// gridlines, one polyline per series and a legend to the right of the plot. Non-finite points
// (and y ≤ 0 on a log axis) break a line into segments instead of throwing, so a run with NaN
// losses or an empty series still renders. Many-series charts stay readable when the caller
// draws per-node series thin and faint and the mean thick; the legend then folds the alike
// per-node lines into one entry and lists at most LEGEND_MAX entries (or the chart's legendMax).

/** One line: points are [x, y] in data units. */
export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
  /** CSS colour; default from a 10-colour palette by series index. */
  color?: string;
  /** Stroke width in px; default 1.5. */
  width?: number;
  /** SVG stroke-dasharray, e.g. "4 3". */
  dash?: string;
  /** Stroke opacity 0..1; default 1. */
  opacity?: number;
  /** Force the series in (true) or out (false) of the legend. */
  legend?: boolean;
  /** How a lone point is marked: a filled dot (default) or a ring, so that series sharing a
   * palette colour (past the tenth) stay apart in a scatter of single points. */
  marker?: "dot" | "ring";
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** Fixed y range [lo, hi]; default fits the data. Points outside are clipped. */
  yRange?: readonly [number, number];
  /** Fixed x range [lo, hi]; default fits the data. */
  xRange?: readonly [number, number];
  /** Logarithmic y axis (points with y ≤ 0 are skipped). */
  logY?: boolean;
  /** Overall size in px; default 760 × 420. */
  width?: number;
  height?: number;
  /** Most legend entries listed (default LEGEND_MAX), and the legend's width in px (default 170). */
  legendMax?: number;
  legendWidth?: number;
}

export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const LEGEND_MAX = 12;

/** Escapes text for XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/** About `count` round tick values (steps of 1, 2 or 5 × 10^k) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(Number((k * step).toPrecision(12)));
  return out;
}

/** Short tick label: up to 4 significant digits, exponent form when very large or small. */
export function formatTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const [m, e] = v.toExponential(2).split("e");
    return `${Number(m)}e${Number(e)}`;
  }
  return String(Number(v.toPrecision(4)));
}

/** A deterministic id for the chart's clip path, so several charts can share one HTML page. */
function chartId(o: LineChartOptions): string {
  let h = 2166136261;
  const text = o.title + "|" + o.series.map((s) => s.name + s.points.length).join("|");
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return "c" + (h >>> 0).toString(36);
}

/** Renders a line chart as a standalone SVG document string. */
export function lineChart(o: LineChartOptions): string {
  const W = o.width ?? 760, H = o.height ?? 420;
  const legendW = o.legendWidth ?? 170, legendMax = o.legendMax ?? LEGEND_MAX;
  const m = { left: 72, right: legendW + 16, top: 40, bottom: 52 };
  const pw = Math.max(10, W - m.left - m.right), ph = Math.max(10, H - m.top - m.bottom);
  const logY = !!o.logY;
  const usable = (x: number, y: number) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0);

  // Data extent.
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const s of o.series) {
    for (const [x, y] of s.points) {
      if (!usable(x, y)) continue;
      x0 = Math.min(x0, x); x1 = Math.max(x1, x);
      y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
  }
  if (o.xRange) [x0, x1] = o.xRange;
  if (o.yRange) [y0, y1] = o.yRange;
  if (!(x1 >= x0)) { x0 = 0; x1 = 1; }
  if (!(y1 >= y0)) { y0 = logY ? 1 : 0; y1 = logY ? 10 : 1; }
  if (x1 === x0) { x0 -= 0.5; x1 += 0.5; }
  if (y1 === y0) {
    if (logY) { y0 /= 2; y1 *= 2; } else { const d = Math.abs(y0) * 0.1 || 0.5; y0 -= d; y1 += d; }
  }
  // Fitted linear axes snap outwards to ticks; log axes to whole decades when the span is wide.
  const fy = (y: number) => (logY ? Math.log10(y) : y);
  let yTicks: number[];
  if (logY) {
    let lo = Math.floor(Math.log10(y0)), hi = Math.ceil(Math.log10(y1));
    if (hi === lo) hi++;
    if (!o.yRange) { y0 = Math.pow(10, lo); y1 = Math.pow(10, hi); }
    const decades = hi - lo;
    const mults = decades <= 2 ? [1, 2, 5] : decades <= 6 ? [1] : [];
    yTicks = [];
    const stride = Math.max(1, Math.ceil(decades / 8));
    for (let k = lo; k <= hi; k++) {
      if (mults.length) for (const mm of mults) yTicks.push(mm * Math.pow(10, k));
      else if ((k - lo) % stride === 0) yTicks.push(Math.pow(10, k));
    }
    yTicks = yTicks.filter((v) => v >= y0 * (1 - 1e-9) && v <= y1 * (1 + 1e-9)).map((v) => Number(v.toPrecision(12)));
  } else {
    yTicks = niceTicks(y0, y1);
    if (!o.yRange) {
      const step = yTicks.length > 1 ? yTicks[1] - yTicks[0] : 0;
      if (step > 0) { y0 = Math.min(y0, Math.floor(y0 / step) * step); y1 = Math.max(y1, Math.ceil(y1 / step - 1e-9) * step); }
      yTicks = niceTicks(y0, y1);
    }
  }
  const xTicks = niceTicks(x0, x1);
  const fy0 = fy(y0), fy1 = fy(y1);
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0)) * pw;
  const py = (y: number) => m.top + ph - ((fy(y) - fy0) / (fy1 - fy0)) * ph;
  const f = (v: number) => (Math.round(v * 100) / 100).toString();
  const id = chartId(o);

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<title>${escapeXml(o.title)}</title>`);
  out.push(`<defs><clipPath id="${id}-plot"><rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}"/></clipPath></defs>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  // A long title shrinks to the chart's width (about 0.56 em a character) instead of running off its edges.
  const titleSize = Math.max(9, Math.min(15, Math.floor((W - 16) / (0.56 * Math.max(1, o.title.length)))));
  out.push(`<text x="${f(W / 2)}" y="24" text-anchor="middle" font-size="${titleSize}" font-weight="600" fill="#222">${escapeXml(o.title)}</text>`);

  // Gridlines and tick labels.
  out.push(`<g stroke="#e3e3e3" stroke-width="1">`);
  for (const t of xTicks) out.push(`<line x1="${f(px(t))}" y1="${m.top}" x2="${f(px(t))}" y2="${m.top + ph}"/>`);
  for (const t of yTicks) out.push(`<line x1="${m.left}" y1="${f(py(t))}" x2="${m.left + pw}" y2="${f(py(t))}"/>`);
  out.push(`</g>`);
  out.push(`<g fill="#444" font-size="11">`);
  for (const t of xTicks) out.push(`<text x="${f(px(t))}" y="${m.top + ph + 16}" text-anchor="middle">${escapeXml(formatTick(t))}</text>`);
  for (const t of yTicks) out.push(`<text x="${m.left - 6}" y="${f(py(t) + 4)}" text-anchor="end">${escapeXml(formatTick(t))}</text>`);
  out.push(`</g>`);
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888" stroke-width="1"/>`);
  out.push(`<text x="${f(m.left + pw / 2)}" y="${H - 12}" text-anchor="middle" fill="#222">${escapeXml(o.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${f(m.top + ph / 2)}) rotate(-90)" text-anchor="middle" fill="#222">${escapeXml(o.yLabel)}${logY ? " (log)" : ""}</text>`);

  // Series: thin ones first so thick summary lines are drawn on top.
  const order = o.series.map((s, i) => i).sort((a, b) => (o.series[a].width ?? 1.5) - (o.series[b].width ?? 1.5) || a - b);
  const colour = (i: number) => o.series[i].color ?? PALETTE[i % PALETTE.length];
  out.push(`<g clip-path="url(#${id}-plot)" fill="none" stroke-linejoin="round" stroke-linecap="round">`);
  for (const i of order) {
    const s = o.series[i];
    let d = "", pen = false, segments = 0, lines = 0, first = "", start = "", run = 0;
    // An isolated point becomes a zero-length segment, which round caps draw as a dot.
    const close = () => { if (run === 1) d += `L${start}`; run = 0; };
    for (const [x, y] of s.points) {
      if (!usable(x, y)) { close(); pen = false; continue; }
      const xy = `${f(px(x))} ${f(py(y))}`;
      if (pen) lines++; else { segments++; first ||= xy; start = xy; }
      d += `${pen ? "L" : "M"}${xy}`;
      run++;
      pen = true;
    }
    close();
    if (!d) continue;
    const attrs = [`d="${d}"`, `stroke="${escapeXml(colour(i))}"`, `stroke-width="${s.width ?? 1.5}"`];
    if (s.dash) attrs.push(`stroke-dasharray="${escapeXml(s.dash)}"`);
    if (s.opacity !== undefined) attrs.push(`stroke-opacity="${s.opacity}"`);
    out.push(`<path ${attrs.join(" ")}><title>${escapeXml(s.name)}</title></path>`);
    // A lone point has no length; mark it so it is visible.
    if (segments === 1 && lines === 0) {
      const [mx, my] = first.split(" ");
      const r = Math.max(2, (s.width ?? 1.5) * 1.5);
      out.push(s.marker === "ring"
        ? `<circle cx="${mx}" cy="${my}" r="${r + 1}" fill="#ffffff" stroke="${escapeXml(colour(i))}" stroke-width="2"/>`
        : `<circle cx="${mx}" cy="${my}" r="${r}" fill="${escapeXml(colour(i))}" stroke="none"/>`);
    }
  }
  out.push(`</g>`);

  // Legend. When there are too many entries, runs of consecutive series drawn alike (same
  // colour, width and dash: typically one thin line per node) collapse into one entry; then
  // at most LEGEND_MAX entries are listed, preferring `legend: true` and wider lines.
  type Entry = { first: number; last: number; count: number };
  const style = (i: number) => `${colour(i)}|${o.series[i].width ?? 1.5}|${o.series[i].dash ?? ""}`;
  const candidates = o.series.map((_, i) => i).filter((i) => o.series[i].legend !== false);
  let entries: Entry[] = candidates.map((i) => ({ first: i, last: i, count: 1 }));
  if (entries.length > legendMax) {
    const grouped: Entry[] = [];
    for (const e of entries) {
      const g = grouped[grouped.length - 1];
      if (g && style(g.last) === style(e.first) && o.series[e.first].legend !== true) { g.last = e.first; g.count++; } else grouped.push(e);
    }
    entries = grouped;
  }
  const rank = (e: Entry) => (o.series[e.first].legend === true ? 1e9 : 0) + (o.series[e.first].width ?? 1.5);
  const shown = new Set([...entries].sort((a, b) => rank(b) - rank(a) || a.first - b.first).slice(0, legendMax));
  const clip = (t: string, n: number) => (t.length > n ? t.slice(0, n - 1) + "…" : t);
  const lx = m.left + pw + 14;
  let ly = m.top + 6, hidden = 0;
  out.push(`<g font-size="11" fill="#222">`);
  for (const e of entries) {
    if (!shown.has(e)) { hidden += e.count; continue; }
    const s = o.series[e.first];
    const dash = s.dash ? ` stroke-dasharray="${escapeXml(s.dash)}"` : "";
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${escapeXml(colour(e.first))}" stroke-width="${Math.max(1.5, Math.min(s.width ?? 1.5, 4))}"${dash}/>`);
    if (s.marker === "ring") out.push(`<circle cx="${lx + 11}" cy="${ly}" r="4" fill="#ffffff" stroke="${escapeXml(colour(e.first))}" stroke-width="2"/>`);
    const chars = Math.max(22, Math.floor((legendW - 44) / 6.2));
    const label = e.count === 1 ? clip(s.name, chars) : `${clip(s.name, 9)} … ${clip(o.series[e.last].name, 9)} (${e.count})`;
    out.push(`<text x="${lx + 28}" y="${ly + 4}">${escapeXml(label)}</text>`);
    ly += 17;
  }
  if (hidden > 0) out.push(`<text x="${lx}" y="${ly + 4}" fill="#666">… ${hidden} more series</text>`);
  out.push(`</g>`);
  out.push(`</svg>`);
  return out.join("\n");
}

/** One block of an HTML report: a heading and any of an SVG chart, preformatted text, or raw HTML. */
export interface ReportSection {
  heading: string;
  svg?: string;
  text?: string;
  html?: string;
}

/** A self-contained HTML page (no scripts, no external files) holding the sections in order. */
export function htmlReport(title: string, sections: readonly ReportSection[]): string {
  const body = sections.map((s) => [
    `<section>`,
    `<h2>${escapeXml(s.heading)}</h2>`,
    s.svg ? `<figure>${s.svg}</figure>` : "",
    s.text ? `<pre>${escapeXml(s.text)}</pre>` : "",
    s.html ?? "",
    `</section>`,
  ].filter(Boolean).join("\n")).join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeXml(title)}</title>
<style>
body { font-family: system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 980px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
figure { margin: 0; } svg { max-width: 100%; height: auto; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 12px; }
</style>
</head>
<body>
<h1>${escapeXml(title)}</h1>
${body}
</body>
</html>
`;
}
