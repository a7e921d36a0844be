// Small synthetic "photos" for trainer tests: colour gradients with a disc, of different sizes and
// aspect ratios, written as JPEGs named like the Kaggle files (dog.N.jpg).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

export async function writeSyntheticPhotos(folder: string, count = 12): Promise<void> {
  mkdirSync(folder, { recursive: true });
  for (let i = 0; i < count; i++) {
    const [w, h] = [40 + 7 * i, 30 + 5 * (11 - i)];
    const raw = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      raw[o] = (x * 255) / w;
      raw[o + 1] = (y * 255) / h;
      raw[o + 2] = (x - w / 2) ** 2 + (y - h / 2) ** 2 < (h / 4) ** 2 ? 200 : 40 + 15 * i;
    }
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg().toFile(path.join(folder, `dog.${i}.jpg`));
  }
}
