// The split as a heat map on a canvas: one row per node, one column per class, each cell shaded by
// the node's number of training samples of that class (white = none, dark blue = the most any node
// has of any class), with the count written in when the cell is large enough. Biased data shows as
// rows with only a few dark cells. A click on a row reports its node.

const TOP = 34, LEFT = 54, ROW_MAX = 22, ROW_MIN = 2, MAX_HEIGHT = 420;

export class Heatmap {
  private rows = 0;
  private rowH = ROW_MAX;
  private key = "";
  private drawn: readonly (readonly number[])[] | null = null;

  constructor(private readonly canvas: HTMLCanvasElement, onSelect: (node: number) => void) {
    canvas.addEventListener("click", (e) => {
      const y = e.clientY - canvas.getBoundingClientRect().top;
      const row = Math.floor((y - TOP) / this.rowH);
      if (row >= 0 && row < this.rows) onSelect(row);
    });
  }

  /** histogram: [node][class] sample counts. Redraws only when the data, the selection or the width change. */
  draw(histogram: readonly (readonly number[])[], classNames: readonly string[], selected: number): void {
    const cssW = this.canvas.clientWidth || 400;
    const key = `${cssW}|${selected}`;
    if (key === this.key && histogram === this.drawn) return;
    this.key = key;
    this.drawn = histogram;
    const n = histogram.length, C = classNames.length || (histogram[0]?.length ?? 0);
    this.rows = n;
    this.rowH = Math.max(ROW_MIN, Math.min(ROW_MAX, Math.floor((MAX_HEIGHT - TOP) / Math.max(1, n))));
    const cssH = TOP + n * this.rowH + 4, dpr = window.devicePixelRatio || 1;
    this.canvas.style.height = `${cssH}px`;
    this.canvas.width = Math.round(cssW * dpr);
    this.canvas.height = Math.round(cssH * dpr);
    const g = this.canvas.getContext("2d")!;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, cssW, cssH);
    const cw = Math.max(4, (cssW - LEFT - 4) / Math.max(1, C));
    const max = Math.max(1, ...histogram.flat());

    g.font = "11px system-ui, sans-serif";
    g.textAlign = "center";
    g.fillStyle = "#5b6475";
    g.fillText("class →", LEFT + (C * cw) / 2, 11);
    for (let c = 0; c < C; c++) g.fillText(fit(g, classNames[c] ?? String(c), cw - 2), LEFT + c * cw + cw / 2, TOP - 6);
    for (let i = 0; i < n; i++) {
      const y = TOP + i * this.rowH;
      if (this.rowH >= 9) {
        g.textAlign = "right";
        g.fillStyle = i === selected ? "#1d2330" : "#5b6475";
        g.fillText(`node ${i}`, LEFT - 6, y + this.rowH / 2 + 4);
      }
      for (let c = 0; c < C; c++) {
        const v = histogram[i][c] ?? 0, f = v / max;
        g.fillStyle = blue(f);
        g.fillRect(LEFT + c * cw + 0.5, y + 0.5, cw - 1, this.rowH - 1);
        if (v > 0 && this.rowH >= 14 && cw >= 28) {
          g.textAlign = "center";
          g.fillStyle = f > 0.55 ? "#fff" : "#1d2330";
          g.fillText(String(v), LEFT + c * cw + cw / 2, y + this.rowH / 2 + 4);
        }
      }
      if (i === selected) {
        g.strokeStyle = "#1d2330";
        g.lineWidth = 2;
        g.strokeRect(LEFT - 1, y, C * cw + 2, this.rowH);
      }
    }
  }
}

/** White → dark blue. */
function blue(f: number): string {
  const a = [247, 251, 255], b = [8, 69, 148];
  return `rgb(${a.map((v, k) => Math.round(v + Math.sqrt(f) * (b[k] - v)))})`;
}

/** The label, cut to fit the width. */
function fit(g: CanvasRenderingContext2D, s: string, w: number): string {
  while (s.length > 1 && g.measureText(s).width > w) s = s.slice(0, -1);
  return s;
}
