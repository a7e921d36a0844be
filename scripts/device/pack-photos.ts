// node --import tsx scripts/device/pack-photos.ts --data DIR [--match GLOB] [--image-size 64] [--quality 90]
//                                               [--limit N] [--cache-dir DIR] --out FILE
// The photos for the GPU machine (scripts/device/pack.sh calls this), in one file small enough to travel:
// each photo decoded HERE by the trainer's own pipeline (src/node/data: EXIF rotation, centre crop,
// lanczos3) into the uint8 cache, then every size×size tile re-encoded as a JPEG (4:4:4, no chroma
// subsampling: at 64 px halving the colour resolution shows). The 64 px cache of the 10,000 dogs is
// 123 MB, over what may travel beside Node and Dawn; the JPEGs are a fraction of it. On the device,
// `scripts/device/device.py unpack-photos` decodes them with Pillow back into the same cache format.
//
// The pack: one line of JSON (format, imageSize, count, quality, lengths of the JPEGs in order), a newline,
// then the JPEGs back to back. Printed at the end: the pack's size and the JPEG round trip's error
// (mean absolute difference over all bytes, PSNR), measured by decoding the JPEGs again here.
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { buildCache, openCache } from '../../src/node/data/cache.ts';
import { listImages } from '../../src/node/data/scan.ts';
import { numberFlag, parseFlags } from '../../src/node/cli/args.ts';

const USAGE = 'usage: node --import tsx scripts/device/pack-photos.ts --data DIR [--match GLOB] [--image-size 64] [--quality 90] [--limit N] [--cache-dir DIR] --out FILE';
const FLAGS = {
  data: { type: 'string' }, match: { type: 'string' }, 'image-size': { type: 'string' }, quality: { type: 'string' },
  limit: { type: 'string' }, 'cache-dir': { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), FLAGS, USAGE);
  if (flags.help) return void console.log(USAGE);
  if (!flags.data || !flags.out) throw new Error(`--data and --out are required\n${USAGE}`);
  const size = numberFlag(flags, 'image-size', 64, { min: 8 });
  const quality = numberFlag(flags, 'quality', 90, { min: 1, max: 100 });
  const limit = numberFlag(flags, 'limit', Infinity, { min: 1 });
  const match = flags.match as string | undefined;
  const files = (await listImages(String(flags.data), match)).slice(0, limit);
  const cacheDir = String(flags['cache-dir'] ?? path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'webgpu-dcgan'));
  const key = createHash('sha256').update(`${path.resolve(String(flags.data))}\0${match ?? ''}\0${files.length}`).digest('hex').slice(0, 10);
  const cacheFile = path.join(cacheDir, `device-pack-${size}px-${files.length}-${key}.u8cache`);

  const started = performance.now();
  const report = await buildCache({
    files, size, cacheFile,
    onProgress: (done, total) => (done % 1000 === 0 || done === total) && console.error(`pack: decoded ${done} of ${total} photos`),
  });
  console.error(`pack: ${report.reused ? 'reusing' : 'built'} ${report.count} images of ${size}px in ${cacheFile} (${report.skipped.length} skipped)`);
  const out = path.resolve(String(flags.out));
  const same = packHeader(out);
  if (same && same.sourceHash === report.sourceHash && same.imageSize === size && same.quality === quality && same.count === report.count) {
    return void console.error(`pack: ${out} already holds these ${report.count} photos at ${size}px, quality ${quality}`);
  }
  const cache = await openCache(cacheFile);
  const jpegs: Buffer[] = [];
  let absError = 0;
  let squaredError = 0;
  try {
    const raw = { width: size, height: size, channels: 3 as const };
    for (let i = 0; i < cache.count; i++) {
      const tile = await cache.readImage(i);
      const jpeg = await sharp(tile, { raw }).jpeg({ quality, chromaSubsampling: '4:4:4' }).toBuffer();
      const back = await sharp(jpeg).raw().toBuffer();
      for (let k = 0; k < tile.length; k++) {
        const d = tile[k] - back[k];
        absError += Math.abs(d);
        squaredError += d * d;
      }
      jpegs.push(jpeg);
    }
  } finally {
    await cache.close();
  }
  const header = { format: 'dcgan-jpeg-pack', version: 1, imageSize: size, count: jpegs.length, quality, sourceHash: report.sourceHash, lengths: jpegs.map((j) => j.length) };
  mkdirSync(path.dirname(out), { recursive: true });
  const temporary = `${out}.${process.pid}.tmp`;
  writeFileSync(temporary, Buffer.concat([Buffer.from(JSON.stringify(header) + '\n'), ...jpegs]));
  renameSync(temporary, out);
  const bytes = jpegs.reduce((sum, j) => sum + j.length, 0);
  const values = jpegs.length * size * size * 3;
  const psnr = 10 * Math.log10((255 * 255) / (squaredError / values));
  console.error(
    `pack: ${jpegs.length} JPEGs (quality ${quality}) in ${out}: ${(bytes / 2 ** 20).toFixed(1)} MiB, ${(bytes / jpegs.length / 1024).toFixed(2)} KiB each; ` +
      `round trip: mean |error| ${(absError / values).toFixed(2)} of 255, PSNR ${psnr.toFixed(1)} dB; ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}

/** The JSON line of an existing pack, or undefined. */
function packHeader(file: string): { sourceHash: string; imageSize: number; quality: number; count: number } | undefined {
  try {
    const fd = openSync(file, 'r');
    const bytes = Buffer.alloc(2 ** 20); // the line holds one length per photo: about 5 bytes each
    const read = readSync(fd, bytes, 0, bytes.length, 0);
    closeSync(fd);
    const end = bytes.subarray(0, read).indexOf(0x0a);
    return end < 0 ? undefined : JSON.parse(bytes.subarray(0, end).toString());
  } catch {
    return undefined;
  }
}

main().catch((e) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
