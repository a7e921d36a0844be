// A line chart on a plain 2D canvas: a few series against the iteration, auto-scaled y axis, a grid,
// tick labels and a legend. Redraws are throttled (training can log faster than it is worth painting).

export interface Series {
  label: string;
  color: string;
  values: number[];
}

const BACKGROUND = '#ffffff';
const MARGIN = { left: 44, right: 10, top: 22, bottom: 20 };

export class LineChart {
  readonly series: Series[];
  /** iteration of each point (shared by all series) */
  readonly x: number[] = [];
  private drawPending = false;
  private lastDrawn = 0;

  constructor(
    readonly canvas: HTMLCanvasElement,
    readonly title: string,
    series: { label: string; color: string }[],
    /** fixed y range (e.g. [0, 1] for probabilities), else auto */
    readonly yRange?: [number, number],
  ) {
    this.series = series.map((s) => ({ ...s, values: [] }));
    this.draw();
  }

  push(x: number, values: number[]): void {
    this.x.push(x);
    values.forEach((v, i) => this.series[i].values.push(v));
    this.scheduleDraw();
  }

  clear(): void {
    this.x.length = 0;
    for (const s of this.series) s.values.length = 0;
    this.draw();
  }

  /** At most one redraw per 150 ms; the last point is always drawn. */
  private scheduleDraw(): void {
    if (this.drawPending) return;
    const wait = Math.max(0, 150 - (performance.now() - this.lastDrawn));
    this.drawPending = true;
    setTimeout(() => {
      this.drawPending = false;
      this.draw();
    }, wait);
  }

  draw(): void {
    this.lastDrawn = performance.now();
    const { canvas } = this;
    const g = canvas.getContext('2d')!;
    const { width, height } = canvas;
    g.fillStyle = BACKGROUND;
    g.fillRect(0, 0, width, height);
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#222';
    g.textBaseline = 'top';
    g.fillText(this.title, MARGIN.left, 4);
    // legend, right-aligned in the title row
    let lx = width - MARGIN.right;
    for (const s of [...this.series].reverse()) {
      const w = g.measureText(s.label).width;
      lx -= w;
      g.fillStyle = '#222';
      g.fillText(s.label, lx, 4);
      lx -= 14;
      g.fillStyle = s.color;
      g.fillRect(lx, 8, 10, 3);
      lx -= 12;
    }
    const plotW = width - MARGIN.left - MARGIN.right;
    const plotH = height - MARGIN.top - MARGIN.bottom;
    const n = this.x.length;
    const finite = this.series.flatMap((s) => s.values.filter(Number.isFinite));
    let [lo, hi] = this.yRange ?? [Math.min(0, ...finite), finite.length ? Math.max(...finite) : 1];
    if (hi - lo < 1e-6) hi = lo + 1;
    const x0 = n ? this.x[0] : 0;
    const x1 = n > 1 ? this.x[n - 1] : x0 + 1;
    const px = (x: number) => MARGIN.left + ((x - x0) / (x1 - x0)) * plotW;
    const py = (y: number) => MARGIN.top + (1 - (y - lo) / (hi - lo)) * plotH;
    // grid and y tick labels
    g.strokeStyle = '#e4e4e4';
    g.lineWidth = 1;
    g.fillStyle = '#666';
    g.textBaseline = 'middle';
    g.textAlign = 'right';
    for (let k = 0; k <= 4; k++) {
      const y = lo + ((hi - lo) * k) / 4;
      g.beginPath();
      g.moveTo(MARGIN.left, Math.round(py(y)) + 0.5);
      g.lineTo(width - MARGIN.right, Math.round(py(y)) + 0.5);
      g.stroke();
      g.fillText(y.toFixed(hi - lo < 2 ? 2 : 1), MARGIN.left - 4, py(y));
    }
    g.textAlign = 'left';
    g.textBaseline = 'top';
    g.fillText(n ? `iteration ${this.x[0]}` : 'no data yet', MARGIN.left, height - MARGIN.bottom + 5);
    if (n) {
      g.textAlign = 'right';
      g.fillText(String(this.x[n - 1]), width - MARGIN.right, height - MARGIN.bottom + 5);
      g.textAlign = 'left';
    }
    // the series
    g.lineWidth = 1.5;
    for (const s of this.series) {
      g.strokeStyle = s.color;
      g.fillStyle = s.color;
      g.beginPath();
      let drawing = false;
      s.values.forEach((v, i) => {
        if (!Number.isFinite(v)) {
          drawing = false;
          return;
        }
        const [X, Y] = [px(this.x[i]), py(Math.max(lo, Math.min(hi, v)))];
        if (drawing) g.lineTo(X, Y);
        else g.moveTo(X, Y);
        drawing = true;
      });
      g.stroke();
      if (n === 1 && Number.isFinite(s.values[0])) g.fillRect(px(this.x[0]) - 2, py(s.values[0]) - 2, 4, 4);
    }
  }
}

/** An RGBA image onto a canvas at its own size (CSS scales it up, pixelated). */
export function paintImage(canvas: HTMLCanvasElement, image: { width: number; height: number; data: Uint8Array }): void {
  canvas.width = image.width;
  canvas.height = image.height;
  const pixels = new ImageData(image.width, image.height);
  pixels.data.set(image.data);
  canvas.getContext('2d')!.putImageData(pixels, 0, 0);
}
