// Turning generator output (NCHW floats in [−1, 1]) into pixels: single images and a grid with a thin
// border, like torchvision's make_grid(normalize=True, value_range=(−1, 1)). Pure: Node writes PNGs
// from it, the browser paints canvases.

export interface RgbaImage {
  width: number;
  height: number;
  /** RGBA bytes, row by row */
  data: Uint8Array;
}

const toByte = (v: number): number => Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));

/** Image `index` of an NCHW batch as RGBA. Grayscale (1 channel) is repeated into R, G and B. */
export function imageAt(batch: Float32Array, index: number, channels: number, size: number): RgbaImage {
  const plane = size * size;
  const data = new Uint8Array(plane * 4);
  const base = index * channels * plane;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) data[p * 4 + c] = toByte(batch[base + Math.min(c, channels - 1) * plane + p]);
    data[p * 4 + 3] = 255;
  }
  return { width: size, height: size, data };
}

/** `count` images tiled in rows of `columns` (default: a near-square grid) with a `padding`-pixel border. */
export function imageGrid(batch: Float32Array, count: number, channels: number, size: number, columns = Math.ceil(Math.sqrt(count)), padding = 2): RgbaImage {
  const rows = Math.ceil(count / columns);
  const width = columns * (size + padding) + padding;
  const height = rows * (size + padding) + padding;
  const data = new Uint8Array(width * height * 4);
  for (let i = 3; i < data.length; i += 4) data[i] = 255; // black border, opaque
  for (let n = 0; n < count; n++) {
    const tile = imageAt(batch, n, channels, size);
    const x0 = padding + (n % columns) * (size + padding);
    const y0 = padding + Math.floor(n / columns) * (size + padding);
    for (let y = 0; y < size; y++) {
      data.set(tile.data.subarray(y * size * 4, (y + 1) * size * 4), ((y0 + y) * width + x0) * 4);
    }
  }
  return { width, height, data };
}
