// A few test digits and what every node predicts for each: the digits on small canvases across
// the top (28×28 grey bytes, drawn as dark ink on white), one row per node below with its guess,
// green when right and red when wrong, and the node's score on these digits at the end.

/** Rows shown at most; more nodes get a line saying how many are left out. */
const MAX_ROWS = 16;

export interface Digit { index: number; label: number; pixels: Uint8Array }

export class DigitsView {
  private cells: HTMLTableCellElement[][] = [];
  private scores: HTMLTableCellElement[] = [];
  private rows: HTMLTableRowElement[] = [];
  private labels: number[] = [];
  private names: readonly string[] = [];

  constructor(private readonly host: HTMLElement) {}

  /** Builds the grid for a run: its digits, its class names and its number of nodes. */
  setup(digits: readonly Digit[], classNames: readonly string[], nodes: number): void {
    this.host.textContent = "";
    this.labels = digits.map((d) => d.label);
    this.names = classNames;
    const table = document.createElement("table");
    const head = table.insertRow();
    head.appendChild(document.createElement("th")).textContent = "";
    for (const d of digits) {
      const th = head.appendChild(document.createElement("th"));
      th.title = `test image #${d.index}, a ${classNames[d.label] ?? d.label}`;
      th.appendChild(digitCanvas(d.pixels));
      const truth = th.appendChild(document.createElement("div"));
      truth.className = "truth";
      truth.textContent = `is ${classNames[d.label] ?? d.label}`;
    }
    head.appendChild(document.createElement("th")).textContent = "";
    const shown = Math.min(nodes, MAX_ROWS);
    this.cells = [];
    this.scores = [];
    this.rows = [];
    for (let i = 0; i < shown; i++) {
      const tr = table.insertRow();
      const th = tr.appendChild(document.createElement("th"));
      th.className = "node";
      th.textContent = `node ${i}`;
      this.cells.push(digits.map(() => tr.insertCell()));
      const score = tr.insertCell();
      score.className = "score";
      this.scores.push(score);
      this.rows.push(tr);
    }
    this.host.appendChild(table);
    if (nodes > shown) {
      const more = this.host.appendChild(document.createElement("p"));
      more.className = "caption";
      more.textContent = `… and ${nodes - shown} more nodes (the first ${shown} are shown).`;
    }
  }

  /** predictions: [node][digit] predicted class, or null before the first evaluation. */
  draw(predictions: readonly (readonly number[])[] | null, selected: number): void {
    this.cells.forEach((row, i) => {
      let right = 0;
      row.forEach((td, k) => {
        const p = predictions?.[i]?.[k];
        if (p === undefined) { td.textContent = "·"; td.className = ""; td.title = "no evaluation yet"; return; }
        const ok = p === this.labels[k];
        if (ok) right++;
        td.textContent = this.names[p] ?? String(p);
        td.className = ok ? "ok" : "bad";
        td.title = `node ${i} says ${this.names[p] ?? p}${ok ? " (right)" : `, it is ${this.names[this.labels[k]] ?? this.labels[k]}`}`;
      });
      this.scores[i].textContent = predictions?.[i] ? `${right}/${row.length}` : "";
      this.rows[i].className = i === selected ? "selected" : "";
    });
  }
}

function digitCanvas(pixels: Uint8Array): HTMLCanvasElement {
  const side = Math.round(Math.sqrt(pixels.length)) || 28;
  const c = document.createElement("canvas");
  c.width = c.height = side;
  const g = c.getContext("2d")!;
  const img = g.createImageData(side, side);
  for (let p = 0; p < side * side; p++) {
    const v = 255 - (pixels[p] ?? 0);
    img.data.set([v, v, v, 255], p * 4);
  }
  g.putImageData(img, 0, 0);
  return c;
}
