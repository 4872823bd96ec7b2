// The topology in SVG: nodes on a circle (a star's hub in the middle; a torus on a grid whose rows and
// columns bow, so a wrap-around link's straight line passes beside the nodes between its ends), filled by their latest test
// accuracy; each edge has one lane per direction that lights up blue when a message over it is
// delivered and red (to the middle only, with a cross) when one is lost; links that are down are
// dashed red; crashed nodes are grey and dashed. Nodes carry data-node="i" for the page's clicks.
import type { Edge, NodeView } from "../protocol.ts";
import { esc } from "./chart.ts";

/** A message drawn on a lane, fading from 1 (just now) to 0. */
export interface LaneFlash { from: number; to: number; lost: boolean; fade: number }

export interface GraphState {
  nodes: number;
  edges: readonly Edge[];
  /** Latest test accuracy of each node (null before its first evaluation). */
  accuracy: readonly (number | null)[];
  views: readonly NodeView[] | null;
  flashes: readonly LaneFlash[];
  /** Indices into edges of the links that are down. */
  linksDown: readonly number[];
  selected: number;
  /** The topology's canonical name (e.g. "torus:4x5"), for its layout. */
  topology?: string;
}

const STOPS: [number, [number, number, number]][] = [
  [0.1, [215, 48, 39]], [0.5, [252, 141, 89]], [0.7, [254, 224, 139]], [0.85, [145, 207, 96]], [1, [26, 152, 80]],
];

/** Red (chance, 10%) through yellow to green (100%); light grey when there is no accuracy yet. */
export function accuracyColor(a: number | null): string {
  if (a === null || !Number.isFinite(a)) return "#e9ecef";
  const x = Math.min(1, Math.max(STOPS[0][0], a));
  let i = 1;
  while (i < STOPS.length - 1 && x > STOPS[i][0]) i++;
  const [x0, c0] = STOPS[i - 1], [x1, c1] = STOPS[i], f = (x - x0) / (x1 - x0);
  return `rgb(${c0.map((c, k) => Math.round(c + f * (c1[k] - c)))})`;
}

/** Node centres: on a circle, a star's hub in the centre, or a torus's rows × cols on a bowed grid. */
function layout(n: number, edges: readonly Edge[], W: number, H: number, topology = ""): [number, number][] {
  const t = /^torus:(\d+)x(\d+)$/.exec(topology);
  if (t && Number(t[1]) >= 2 && Number(t[1]) * Number(t[2]) === n) {
    const rows = Number(t[1]), cols = Number(t[2]), mx = 44, my = 30;
    const cw = (W - 2 * mx) / Math.max(1, cols - 1), ch = (H - 2 * my) / Math.max(1, rows - 1);
    const bow = (k: number, m: number) => (m > 2 ? Math.sin((Math.PI * k) / (m - 1)) : 0);
    return Array.from({ length: n }, (_, i) => {
      const r = Math.floor(i / cols), c = i % cols;
      return [mx + c * cw * 0.9 + 0.1 * (W - 2 * mx) * bow(r, rows), my + r * ch * 0.86 + 0.14 * (H - 2 * my) * bow(c, cols)];
    });
  }
  const deg = new Array<number>(n).fill(0);
  for (const [a, b] of edges) { deg[a]++; deg[b]++; }
  const hub = n > 3 && edges.length === n - 1 ? deg.indexOf(n - 1) : -1;
  // room for the accuracy figures beside the nodes (wider at the sides than above and below)
  const cx = W / 2, cy = H / 2, R = n > 24 ? Math.min(W, H) / 2 - 12 : Math.min(W / 2 - 52, H / 2 - 38);
  const ring = hub >= 0 ? n - 1 : n;
  let k = 0;
  return Array.from({ length: n }, (_, i) => {
    if (i === hub) return [cx, cy];
    const a = -Math.PI / 2 + (2 * Math.PI * k++) / ring;
    return [cx + R * Math.cos(a), cy + R * Math.sin(a)];
  });
}

/** Draws the graph into the svg, sized to the element's box. */
export function drawGraph(svg: SVGSVGElement, g: GraphState): void {
  const W = svg.clientWidth || 300, H = svg.clientHeight || 300;
  const pos = layout(g.nodes, g.edges, W, H, g.topology);
  const perimeter = Math.PI * (Math.min(W, H) - 60);
  const r = Math.max(3, Math.min(17, (0.35 * perimeter) / Math.max(1, g.nodes)));
  const lane = Math.min(3, r / 4);
  const out: string[] = [];
  const down = new Set(g.linksDown);

  g.edges.forEach(([a, b], e) => {
    const [x1, y1] = pos[a], [x2, y2] = pos[b];
    out.push(down.has(e)
      ? `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="#e03131" stroke-width="1.5" stroke-dasharray="5 4" opacity="0.8"/>`
      : `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="#ced4da" stroke-width="1.2"/>`);
  });
  for (const f of g.flashes) {
    if (!pos[f.from] || !pos[f.to]) continue;
    const [x1, y1] = pos[f.from], [x2, y2] = pos[f.to];
    const len = Math.hypot(x2 - x1, y2 - y1) || 1;
    // each direction of an edge gets its own lane, offset to the sender's right
    const ox = (-(y2 - y1) / len) * lane, oy = ((x2 - x1) / len) * lane;
    const ux = (x2 - x1) / len, uy = (y2 - y1) / len;
    const sx = x1 + ox + ux * r, sy = y1 + oy + uy * r;
    const op = (0.25 + 0.75 * f.fade).toFixed(2);
    if (f.lost) {
      const mx = (x1 + x2) / 2 + ox, my = (y1 + y2) / 2 + oy, c = 3.5;
      out.push(`<g stroke="#e03131" stroke-width="2.2" opacity="${op}"><line x1="${sx}" y1="${sy}" x2="${mx}" y2="${my}"/>` +
        `<line x1="${mx - c}" y1="${my - c}" x2="${mx + c}" y2="${my + c}"/><line x1="${mx - c}" y1="${my + c}" x2="${mx + c}" y2="${my - c}"/></g>`);
    } else {
      const ex = x2 + ox - ux * (r + 2), ey = y2 + oy - uy * (r + 2);
      out.push(`<g opacity="${op}"><line x1="${sx}" y1="${sy}" x2="${ex}" y2="${ey}" stroke="#2b6cb0" stroke-width="2.2"/>` +
        `<circle cx="${ex}" cy="${ey}" r="2.4" fill="#2b6cb0"/></g>`);
    }
  }
  for (let i = 0; i < g.nodes; i++) {
    const [x, y] = pos[i], v = g.views?.[i], a = g.accuracy[i] ?? null;
    const crashed = v ? !v.up : false, sel = i === g.selected;
    const fill = crashed ? "#ced4da" : accuracyColor(a);
    const stroke = sel ? "#1d2330" : crashed ? "#868e96" : "#495057";
    // the accuracy figure sits just outside the node, away from the centre
    const dx = x - W / 2, dy = y - H / 2, d = Math.hypot(dx, dy);
    const lx = d < 1 ? x : x + (dx / d) * (r + 4), ly = (d < 1 ? y + r + 9 : y + (dy / d) * (r + 11)) + 4;
    const anchor = d < 1 || Math.abs(dx) < 0.3 * d ? "middle" : dx > 0 ? "start" : "end";
    const tip = `node ${i}${a === null ? "" : ` · accuracy ${(a * 100).toFixed(1)}%`}${crashed ? " · crashed" : ""}${v?.done ? " · done" : ""}${v ? ` · ${v.steps} steps` : ""}`;
    out.push(`<g class="node" data-node="${i}"><title>${esc(tip)}</title>` +
      (sel ? `<circle cx="${x}" cy="${y}" r="${r + 4}" fill="none" stroke="#1d2330" stroke-width="1.5" opacity="0.5"/>` : "") +
      `<circle cx="${x}" cy="${y}" r="${r}" fill="${fill}" stroke="${stroke}" stroke-width="${sel ? 2.5 : 1}"${crashed ? ' stroke-dasharray="3 2"' : ""}/>` +
      (r >= 9 ? `<text x="${x}" y="${y + 4}" text-anchor="middle" font-size="${Math.min(12, r)}" fill="#1d2330">${i}</text>` : "") +
      (r >= 12 && a !== null ? `<text x="${lx}" y="${ly}" text-anchor="${anchor}" font-size="10.5" fill="#5b6475">${(a * 100).toFixed(0)}%</text>` : "") +
      `</g>`);
  }
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.innerHTML = out.join("");
}
