// A line chart in SVG: series over virtual time, optional shaded bands (e.g. worst…best node), a
// linear or log y axis, axis labels and a legend along the top. It knows nothing of runs: the page
// hands it points. Redrawn whole each time (a few hundred points at most, ≤ 10 times a second).

/** One point: [x, y]. */
export type Point = readonly [number, number];

export interface Series {
  label: string;
  color: string;
  points: readonly Point[];
  dashed?: boolean;
}

/** A shaded area between two curves sampled at the same x. */
export interface Band {
  label: string;
  color: string;
  lower: readonly Point[];
  upper: readonly Point[];
}

export interface ChartSpec {
  xLabel: string;
  yLabel: string;
  /** The x axis runs from 0 to this (grown to the data if the data goes further). */
  xMax: number;
  /** Log-scaled y (values ≤ 0 are left out). */
  log?: boolean;
  /** Fixed y range of a linear axis; otherwise from the data. */
  yMin?: number;
  yMax?: number;
  yFormat?: (v: number) => string;
  series: readonly Series[];
  bands?: readonly Band[];
  /** Shown in the middle while there is nothing to draw. */
  empty?: string;
}

const M = { left: 52, right: 12, bottom: 30 };
/** Height of one legend row; the plot starts below the legend's rows. */
const LEGEND_ROW = 15;

export const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/** Draws the chart into the svg, sized to the element's box. */
export function drawChart(svg: SVGSVGElement, spec: ChartSpec): void {
  const W = svg.clientWidth || 400, H = svg.clientHeight || 150;
  const legend = legendItems(spec, W);
  const top = 8 + LEGEND_ROW * Math.max(1, ...legend.map((l) => l.row + 1));
  const iw = Math.max(10, W - M.left - M.right), ih = Math.max(10, H - top - M.bottom);
  const ok = (p: Point) => Number.isFinite(p[1]) && (!spec.log || p[1] > 0);
  const all = [...spec.series.flatMap((s) => s.points), ...(spec.bands ?? []).flatMap((b) => [...b.lower, ...b.upper])].filter(ok);
  const xMax = Math.max(spec.xMax, ...all.map((p) => p[0]), 1e-9);
  const [y0, y1] = yDomain(spec, all.map((p) => p[1]));
  const sx = (x: number) => M.left + (x / xMax) * iw;
  const sy = spec.log
    ? (y: number) => top + ih - ((Math.log10(y) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0))) * ih
    : (y: number) => top + ih - ((y - y0) / (y1 - y0)) * ih;
  const fmt = spec.yFormat ?? ((v: number) => (spec.log && (v < 1e-3 || v >= 1e4) ? v.toExponential(0) : String(+v.toPrecision(3))));
  const out: string[] = [];

  // grid, ticks and axis labels
  for (const y of spec.log ? logTicks(y0, y1, Math.max(2, Math.floor(ih / 16))) : linearTicks(y0, y1, Math.max(2, Math.floor(ih / 28)))) {
    out.push(`<line x1="${M.left}" x2="${M.left + iw}" y1="${sy(y)}" y2="${sy(y)}" stroke="#eef0f3"/>`,
      `<text x="${M.left - 4}" y="${sy(y) + 3.5}" text-anchor="end">${esc(fmt(y))}</text>`);
  }
  for (const x of linearTicks(0, xMax, Math.max(2, Math.floor(iw / 70)))) {
    out.push(`<line x1="${sx(x)}" x2="${sx(x)}" y1="${top + ih}" y2="${top + ih + 4}" stroke="#adb5bd"/>`,
      `<text x="${sx(x)}" y="${top + ih + 14}" text-anchor="middle">${String(+x.toPrecision(4))}</text>`);
  }
  out.push(`<line x1="${M.left}" x2="${M.left + iw}" y1="${top + ih}" y2="${top + ih}" stroke="#adb5bd"/>`,
    `<line x1="${M.left}" x2="${M.left}" y1="${top}" y2="${top + ih}" stroke="#adb5bd"/>`,
    `<text x="${M.left + iw / 2}" y="${H - 3}" text-anchor="middle">${esc(spec.xLabel)}</text>`,
    `<text transform="translate(11 ${top + ih / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`);

  const clampY = (y: number) => Math.min(top + ih, Math.max(top, sy(y)));
  const path = (pts: readonly Point[]) => pts.filter(ok).map((p, i) => `${i ? "L" : "M"}${sx(p[0]).toFixed(1)},${clampY(p[1]).toFixed(1)}`).join("");
  for (const b of spec.bands ?? []) {
    const lo = b.lower.filter(ok), hi = b.upper.filter(ok);
    if (lo.length < 2 || hi.length < 2) continue;
    out.push(`<path d="${path(lo)}L${[...hi].reverse().map((p) => `${sx(p[0]).toFixed(1)},${clampY(p[1]).toFixed(1)}`).join("L")}Z" fill="${b.color}" stroke="none"/>`);
  }
  for (const s of spec.series) {
    const pts = s.points.filter(ok);
    if (pts.length === 1) out.push(`<circle cx="${sx(pts[0][0])}" cy="${clampY(pts[0][1])}" r="2.5" fill="${s.color}"/>`);
    else if (pts.length) out.push(`<path d="${path(pts)}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5 3"' : ""}/>`);
  }

  for (const l of legend) {
    const y = 10 + l.row * LEGEND_ROW;
    out.push(l.band
      ? `<rect x="${l.x}" y="${y - 5}" width="16" height="9" fill="${l.color}"/>`
      : `<line x1="${l.x}" x2="${l.x + 16}" y1="${y}" y2="${y}" stroke="${l.color}" stroke-width="2"${l.dashed ? ' stroke-dasharray="4 2"' : ""}/>`,
    `<text class="legend-text" x="${l.x + 20}" y="${y + 4}">${esc(l.label)}</text>`);
  }
  if (!all.length && spec.empty) out.push(`<text x="${M.left + iw / 2}" y="${top + ih / 2}" text-anchor="middle">${esc(spec.empty)}</text>`);
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.innerHTML = out.join("");
}

/** The legend's entries laid out left to right along the top, wrapping onto more rows when narrow. */
function legendItems(spec: ChartSpec, W: number): { label: string; color: string; dashed: boolean; band: boolean; x: number; row: number }[] {
  const items = [...(spec.bands ?? []).map((b) => ({ label: b.label, color: b.color, dashed: false, band: true })),
    ...spec.series.map((s) => ({ label: s.label, color: s.color, dashed: !!s.dashed, band: false }))];
  let x = M.left + 4, row = 0;
  return items.map((it) => {
    const w = 32 + it.label.length * 6.3;
    if (x > M.left + 4 && x + w > W) { x = M.left + 4; row++; }
    const placed = { ...it, x, row };
    x += w;
    return placed;
  });
}

function yDomain(spec: ChartSpec, ys: number[]): [number, number] {
  if (spec.log) {
    if (!ys.length) return [1e-3, 1];
    const lo = Math.min(...ys), hi = Math.max(...ys);
    const a = 10 ** Math.floor(Math.log10(lo)), b = 10 ** Math.ceil(Math.log10(hi));
    return [a, b > a ? b : a * 10];
  }
  const lo = spec.yMin ?? (ys.length ? Math.min(0, ...ys) : 0);
  const hi = spec.yMax ?? (ys.length ? Math.max(...ys) : 1);
  return hi > lo ? [lo, hi * (spec.yMax === undefined ? 1.05 : 1)] : [lo, lo + 1];
}

/** Round-numbered ticks covering [lo, hi], about `count` of them. */
function linearTicks(lo: number, hi: number, count: number): number[] {
  const raw = (hi - lo) / count, p = 10 ** Math.floor(Math.log10(raw)), f = raw / p;
  const step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
  return ticks;
}

/** Powers of ten in [lo, hi] (every other one or fewer when there are more than `count`), with
 * 2× and 5× between them when the range is short. */
function logTicks(lo: number, hi: number, count: number): number[] {
  const decades = Math.round(Math.log10(hi / lo)), every = Math.ceil((decades + 1) / count), ticks: number[] = [];
  const e1 = Math.round(Math.log10(hi));
  for (let e = Math.round(Math.log10(lo)); e <= e1; e++) {
    if ((e1 - e) % every === 0) ticks.push(10 ** e);
    if (decades <= 2 && 10 ** e < hi) ticks.push(2 * 10 ** e, 5 * 10 ** e);
  }
  return ticks.filter((t) => t >= lo * 0.999 && t <= hi * 1.001);
}
