// The page's datasets, in the layout of the Node uint8 cache (image after image, size·size·3 bytes, HWC
// RGB) so the same BatchLoader (seeded shuffle, byte → [−1, 1]) serves batches from them:
// - photos from a folder the user picks or drops, decoded here: createImageBitmap (EXIF orientation
//   applied), centre square crop, resize with imageSmoothingQuality 'high', alpha onto white as Node does;
// - synthetic pictures drawn in the page (coloured discs on gradients), for a demo without photos.
// Node's sharp uses lanczos3, so in-page bytes differ slightly from the Node cache of the same photos;
// `npm run train:chrome` serves the Node cache itself when batches must match exactly.
import { globToRegExp } from '../src/train/data/glob.ts';
import { mixSeeds, mulberry32 } from '../src/util/seeds.ts';
import type { ImageSource } from '../src/train/data/loader.ts';

const IMAGE_NAME = /\.(jpe?g|png)$/i;

export class MemoryImageCache implements ImageSource {
  readonly bytesPerImage: number;
  constructor(
    readonly imageSize: number,
    readonly count: number,
    readonly bytes: Uint8Array,
  ) {
    this.bytesPerImage = imageSize * imageSize * 3;
  }

  async readImages(indices: ArrayLike<number>, target = new Uint8Array(indices.length * this.bytesPerImage)): Promise<Uint8Array> {
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      if (i < 0 || i >= this.count) throw new Error(`image index ${i} out of range [0, ${this.count})`);
      target.set(this.bytes.subarray(i * this.bytesPerImage, (i + 1) * this.bytesPerImage), k * this.bytesPerImage);
    }
    return target;
  }
}

/** A file with the path it had in the picked or dropped folder (for the order and the --match filter). */
export interface PickedFile {
  path: string;
  file: File;
}

/** JPEG/PNG files whose name matches `match`, sorted by path in code-unit order, as listImages sorts them. */
export function selectImages(files: PickedFile[], match?: string): PickedFile[] {
  const filter = match ? globToRegExp(match) : null;
  const name = (p: string) => p.slice(p.lastIndexOf('/') + 1);
  return files
    .filter((f) => IMAGE_NAME.test(f.path) && (!filter || filter.test(name(f.path))))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Files of an <input type=file webkitdirectory>. */
export function filesFromInput(list: FileList): PickedFile[] {
  return Array.from(list).map((file) => ({ path: file.webkitRelativePath || file.name, file }));
}

/** Files of a drop: folders are walked recursively through the entries API. */
export async function filesFromDrop(items: DataTransferItemList): Promise<PickedFile[]> {
  const out: PickedFile[] = [];
  const walk = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((done, fail) => (entry as FileSystemFileEntry).file(done, fail));
      out.push({ path: prefix + entry.name, file });
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      for (;;) {
        // readEntries answers in chunks (100 in Chrome) until it answers with none
        const chunk = await new Promise<FileSystemEntry[]>((done, fail) => reader.readEntries(done, fail));
        if (!chunk.length) break;
        for (const child of chunk) await walk(child, `${prefix}${entry.name}/`);
      }
    }
  };
  const entries = Array.from(items).map((i) => i.webkitGetAsEntry()).filter((e): e is FileSystemEntry => e !== null);
  for (const entry of entries) await walk(entry, '');
  return out;
}

export interface DecodeProgress {
  done: number;
  total: number;
  skipped: number;
}

/** Decode, crop and resize every file into one compact uint8 buffer; unreadable files are skipped and counted. */
export async function decodePhotos(
  files: PickedFile[],
  size: number,
  onProgress?: (p: DecodeProgress) => void,
): Promise<{ cache: MemoryImageCache; skipped: { path: string; reason: string }[] }> {
  if (!files.length) throw new Error('no images (.jpg, .jpeg, .png) among the chosen files');
  const canvas = new OffscreenCanvas(size, size);
  const g = canvas.getContext('2d', { willReadFrequently: true })!;
  g.imageSmoothingEnabled = true;
  g.imageSmoothingQuality = 'high';
  const bytesPerImage = size * size * 3;
  let bytes = new Uint8Array(files.length * bytesPerImage);
  const skipped: { path: string; reason: string }[] = [];
  let count = 0;
  for (const [k, { path, file }] of files.entries()) {
    try {
      const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
      const side = Math.min(bitmap.width, bitmap.height);
      g.fillStyle = '#ffffff'; // alpha composited onto white, as the Node decoder does
      g.fillRect(0, 0, size, size);
      g.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, size, size);
      bitmap.close();
      rgbaToRgb(g.getImageData(0, 0, size, size).data, bytes.subarray(count * bytesPerImage, (count + 1) * bytesPerImage));
      count++;
    } catch (e) {
      skipped.push({ path, reason: e instanceof Error ? e.message : String(e) });
    }
    if (k % 16 === 15 || k === files.length - 1) {
      onProgress?.({ done: k + 1, total: files.length, skipped: skipped.length });
      await new Promise((r) => setTimeout(r, 0)); // let the page paint the progress
    }
  }
  if (count === 0) throw new Error(`no usable image among ${files.length} file(s) (${skipped.slice(0, 2).map((s) => `${s.path}: ${s.reason}`).join('; ')})`);
  if (count < files.length) bytes = bytes.slice(0, count * bytesPerImage);
  return { cache: new MemoryImageCache(size, count, bytes), skipped };
}

function rgbaToRgb(rgba: Uint8ClampedArray, rgb: Uint8Array): void {
  for (let p = 0, q = 0; p < rgba.length; p += 4, q += 3) {
    rgb[q] = rgba[p];
    rgb[q + 1] = rgba[p + 1];
    rgb[q + 2] = rgba[p + 2];
  }
}

/**
 * `count` synthetic pictures: a two-colour gradient with one or two soft-edged discs, colours and places
 * drawn from `seed`. Something a tiny GAN can visibly learn in a few hundred iterations.
 */
export function syntheticImages(count: number, size: number, seed = 7): MemoryImageCache {
  const canvas = new OffscreenCanvas(size, size);
  const g = canvas.getContext('2d', { willReadFrequently: true })!;
  const bytesPerImage = size * size * 3;
  const bytes = new Uint8Array(count * bytesPerImage);
  const hsl = (h: number, s: number, l: number) => `hsl(${h.toFixed(0)} ${s}% ${l}%)`;
  for (let i = 0; i < count; i++) {
    const random = mulberry32(mixSeeds(seed, i));
    const hue = random() * 360;
    const sky = g.createLinearGradient(0, 0, 0, size);
    sky.addColorStop(0, hsl(hue, 60, 75));
    sky.addColorStop(1, hsl((hue + 40) % 360, 50, 35));
    g.fillStyle = sky;
    g.fillRect(0, 0, size, size);
    const discs = 1 + Math.floor(random() * 2);
    for (let d = 0; d < discs; d++) {
      const [x, y, r] = [size * (0.25 + 0.5 * random()), size * (0.3 + 0.45 * random()), size * (0.12 + 0.18 * random())];
      const disc = g.createRadialGradient(x - r / 3, y - r / 3, r / 8, x, y, r);
      const discHue = (hue + 150 + random() * 60) % 360;
      disc.addColorStop(0, hsl(discHue, 80, 70));
      disc.addColorStop(1, hsl(discHue, 70, 40));
      g.fillStyle = disc;
      g.beginPath();
      g.arc(x, y, r, 0, 2 * Math.PI);
      g.fill();
    }
    rgbaToRgb(g.getImageData(0, 0, size, size).data, bytes.subarray(i * bytesPerImage, (i + 1) * bytesPerImage));
  }
  return new MemoryImageCache(size, count, bytes);
}
