// The dataset pipeline: scanning, decoding odd and broken files, the uint8 cache (build, reuse,
// rebuild), and the seeded batch loader. Everything is written under os.tmpdir(), never into the
// repository: the dog photos and anything derived from them stay out of git.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, symlink, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BatchLoader, heldOutSplit } from '../src/train/data/loader.ts';
import { mixSeeds, mulberry32 } from '../src/util/seeds.ts';
import { buildCache, openCache, writeAll, type ImageCache } from '../src/node/data/cache.ts';
import { decodeSquare } from '../src/node/data/decode.ts';
import { prepareDataset } from '../src/node/data/index.ts';
import { listImages } from '../src/node/data/scan.ts';
import { ProgressBar } from '../src/node/progress.ts';
import { writeSyntheticPhotos } from './support/photos.ts';

const repoRoot = path.resolve(import.meta.dirname, '..');
const dogsDir = path.resolve(repoRoot, '../shared/data/dogs');
const hasDogs = existsSync(dogsDir);
if (!hasDogs) console.warn(`data.test: ${dogsDir} is absent, skipping the tests on real dog photos`);

const temporaryDirs: string[] = [];
async function temporaryDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dcgan-data-test-'));
  temporaryDirs.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of temporaryDirs) await rm(dir, { recursive: true, force: true });
});

/** A 40×20 picture, left half red, right half blue: orientation and crop show up in where the colours land. */
const red = [220, 30, 30];
const blue = [30, 30, 220];
function twoColourImage(): Sharp {
  const width = 40, height = 20;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) pixels.set(x < width / 2 ? red : blue, (y * width + x) * 3);
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } });
}

const pixelAt = (image: Uint8Array, size: number, y: number, x: number) => Array.from(image.subarray((y * size + x) * 3, (y * size + x) * 3 + 3));
const closeTo = (actual: number[], expected: number[], tolerance: number) => actual.every((v, c) => Math.abs(v - expected[c]) <= tolerance);

/** Good files in unusual formats and broken files, as the cache build meets them in the wild. */
async function makeOddFiles(dir: string) {
  const files = {
    plainJpeg: path.join(dir, 'plain.jpg'),
    grayPng: path.join(dir, 'gray.png'),
    rgbaPng: path.join(dir, 'rgba.png'),
    cmykJpeg: path.join(dir, 'cmyk.jpg'),
    deepPng: path.join(dir, 'deep16.png'),
    rotatedJpeg: path.join(dir, 'rotated.jpg'),
    emptyJpeg: path.join(dir, 'empty.jpg'),
    truncatedJpeg: path.join(dir, 'truncated.jpg'),
    textPng: path.join(dir, 'text.png'),
  };
  await mkdir(dir, { recursive: true });
  await twoColourImage().jpeg({ quality: 95 }).toFile(files.plainJpeg);
  await twoColourImage().toColourspace('b-w').png().toFile(files.grayPng);
  await twoColourImage().ensureAlpha(0).png().toFile(files.rgbaPng); // fully transparent
  await twoColourImage().toColourspace('cmyk').jpeg({ quality: 95 }).toFile(files.cmykJpeg);
  await twoColourImage().toColourspace('rgb16').png().toFile(files.deepPng);
  // Stored landscape, EXIF orientation 6 says "turn 90° clockwise to display": red ends up on top.
  await twoColourImage().jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(files.rotatedJpeg);
  await writeFile(files.emptyJpeg, '');
  // The 40×20 JPEG fits in about 500 bytes; cut a photo-sized one instead, in its entropy-coded data.
  const noise = Buffer.from(Array.from({ length: 200 * 150 * 3 }, (_, i) => (i * 2654435761) >>> 24));
  const photoSized = await sharp(noise, { raw: { width: 200, height: 150, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
  await writeFile(files.truncatedJpeg, photoSized.subarray(0, Math.max(1000, photoSized.length >> 1)));
  await writeFile(files.textPng, 'this is not a PNG\n');
  return files;
}

describe('listImages', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await temporaryDir();
    await mkdir(path.join(dir, 'a'), { recursive: true });
    await mkdir(path.join(dir, 'b', 'c'), { recursive: true });
    for (const name of ['a/dog.1.JPG', 'dog.2.png', 'b/c/dog.10.jpeg', 'cat.1.jpg', 'dog.3.txt', 'notes.md']) {
      await writeFile(path.join(dir, name), '');
    }
  });

  it('finds JPEG and PNG files recursively, any case, sorted', async () => {
    const found = (await listImages(dir)).map((file) => path.relative(dir, file));
    expect(found).toEqual(['a/dog.1.JPG', 'b/c/dog.10.jpeg', 'cat.1.jpg', 'dog.2.png']);
  });

  it('filters the file name with * and ?', async () => {
    expect((await listImages(dir, 'dog.*')).map((f) => path.basename(f))).toEqual(['dog.1.JPG', 'dog.10.jpeg', 'dog.2.png']);
    expect((await listImages(dir, 'dog.?.*')).map((f) => path.basename(f))).toEqual(['dog.1.JPG', 'dog.2.png']);
  });

  it('follows symlinks to folders and photos, and stops at a symlink cycle', async () => {
    const elsewhere = await temporaryDir();
    await writeSyntheticPhotos(path.join(elsewhere, 'photos'), 2);
    const linked = await temporaryDir();
    await symlink(path.join(elsewhere, 'photos'), path.join(linked, 'dogs'));
    await symlink(path.join(elsewhere, 'photos', 'dog.0.jpg'), path.join(linked, 'favourite.jpg'));
    await symlink(linked, path.join(linked, 'dogs-again')); // a cycle: the folder links to itself
    await symlink(path.join(elsewhere, 'gone'), path.join(linked, 'dangling.jpg'));
    const found = (await listImages(linked)).map((file) => path.relative(linked, file));
    expect(found).toEqual(['dogs/dog.0.jpg', 'dogs/dog.1.jpg', 'favourite.jpg']);
  });

  it('says what is wrong with the folder', async () => {
    await expect(listImages(path.join(dir, 'nowhere'))).rejects.toThrow(/image folder does not exist: .*nowhere/);
    await expect(listImages(path.join(dir, 'notes.md'))).rejects.toThrow(/not a folder: .*notes\.md/);
    await expect(listImages(dir, 'horse.*')).rejects.toThrow(/no images \(\.jpg, \.jpeg, \.png\) matching 'horse\.\*' found under/);
  });
});

describe('decodeSquare', () => {
  let files: Awaited<ReturnType<typeof makeOddFiles>>;
  beforeAll(async () => {
    files = await makeOddFiles(await temporaryDir());
  });

  it('centre-crops and resizes a colour JPEG to size×size×3', async () => {
    const image = await decodeSquare(files.plainJpeg, 8);
    expect(image.length).toBe(8 * 8 * 3);
    // The centred 20×20 square of a 40×20 picture is half red (left) and half blue (right).
    expect(closeTo(pixelAt(image, 8, 4, 0), red, 12)).toBe(true);
    expect(closeTo(pixelAt(image, 8, 4, 7), blue, 12)).toBe(true);
  });

  it('applies the EXIF orientation', async () => {
    const image = await decodeSquare(files.rotatedJpeg, 8);
    expect(closeTo(pixelAt(image, 8, 0, 4), red, 12)).toBe(true);
    expect(closeTo(pixelAt(image, 8, 7, 4), blue, 12)).toBe(true);
  });

  it('turns grey, CMYK, 16-bit and transparent images into 8-bit RGB', async () => {
    expect((await sharp(files.grayPng).metadata()).channels).toBe(1);
    expect((await sharp(files.cmykJpeg).metadata()).space).toBe('cmyk');
    expect((await sharp(files.deepPng).metadata()).depth).toBe('ushort');

    const gray = await decodeSquare(files.grayPng, 8);
    expect(gray.length).toBe(8 * 8 * 3);
    const [r, g, b] = pixelAt(gray, 8, 4, 0);
    expect(r).toBe(g);
    expect(g).toBe(b);

    // CMYK goes through ICC profiles and cannot hold saturated sRGB blue: check the hue, loosely.
    const cmyk = await decodeSquare(files.cmykJpeg, 8);
    const [cr, cg, cb] = pixelAt(cmyk, 8, 4, 0);
    expect(cr).toBeGreaterThan(180);
    expect(Math.max(cg, cb)).toBeLessThan(60);

    const deep = await decodeSquare(files.deepPng, 8);
    expect(closeTo(pixelAt(deep, 8, 4, 0), red, 12)).toBe(true);

    // Fully transparent pixels land on the white background.
    const transparent = await decodeSquare(files.rgbaPng, 8);
    expect(transparent.length).toBe(8 * 8 * 3);
    expect(transparent.every((v) => v === 255)).toBe(true);
  });

  it('rejects broken files with a short reason', async () => {
    await expect(decodeSquare(files.emptyJpeg, 8)).rejects.toThrow(/empty\.jpg: empty file \(0 bytes\)/);
    await expect(decodeSquare(files.truncatedJpeg, 8)).rejects.toThrow(/truncated\.jpg: .*(premature end|corrupt)/i);
    await expect(decodeSquare(files.textPng, 8)).rejects.toThrow(/text\.png: .*unsupported image format/);
  });
});

describe('buildCache and openCache', () => {
  let dir: string;
  let files: Awaited<ReturnType<typeof makeOddFiles>>;
  beforeAll(async () => {
    dir = await temporaryDir();
    files = await makeOddFiles(path.join(dir, 'images'));
  });

  it('caches usable images, lists broken ones with reasons, and reuses the cache', async () => {
    const cacheFile = path.join(dir, 'cache', 'images.u8cache');
    const all = await listImages(path.join(dir, 'images'));
    let lastProgress = 0;
    const report = await buildCache({ files: all, size: 8, cacheFile, onProgress: (done) => (lastProgress = done) });

    expect(report.reused).toBe(false);
    expect(report.sourceCount).toBe(9);
    expect(report.count).toBe(6);
    expect(lastProgress).toBe(9);
    const reasons = Object.fromEntries(report.skipped.map((s) => [path.basename(s.file), s.reason]));
    expect(Object.keys(reasons).sort()).toEqual(['empty.jpg', 'text.png', 'truncated.jpg']);
    expect(reasons['empty.jpg']).toMatch(/empty file/);
    expect(reasons['text.png']).toMatch(/unsupported image format/);
    expect(reasons['truncated.jpg']).toMatch(/premature end|corrupt/i);
    const saved = JSON.parse(await readFile(report.reportFile, 'utf8'));
    expect(saved.skipped).toEqual(report.skipped);

    const cache = await openCache(cacheFile);
    try {
      expect(cache.count).toBe(6);
      expect((await stat(cacheFile)).size).toBe(4096 + 6 * 8 * 8 * 3);
      // Cache order is the sorted file order of the usable files: cmyk, deep16, gray, plain, rgba, rotated.
      expect(closeTo(pixelAt(await cache.readImage(3), 8, 4, 0), red, 12)).toBe(true);
      const [r, g, b] = pixelAt(await cache.readImage(2), 8, 4, 0);
      expect(r === g && g === b).toBe(true);
      await expect(cache.readImage(6)).rejects.toThrow(/out of range/);
    } finally {
      await cache.close();
    }

    const writtenAt = (await stat(cacheFile)).mtimeMs;
    const again = await buildCache({ files: all, size: 8, cacheFile });
    expect(again.reused).toBe(true);
    expect(again.skipped).toEqual(report.skipped);
    expect((await stat(cacheFile)).mtimeMs).toBe(writtenAt);

    // Another image size, or a touched photo, changes the source hash: rebuilt in place.
    const resized = await buildCache({ files: all, size: 6, cacheFile });
    expect(resized.reused).toBe(false);
    expect((await stat(cacheFile)).size).toBe(4096 + 6 * 6 * 6 * 3);
    await utimes(files.plainJpeg, new Date(), new Date(Date.now() + 5000));
    expect((await buildCache({ files: all, size: 6, cacheFile })).reused).toBe(false);
  });

  it('fails clearly when no file is usable, leaving no cache behind', async () => {
    const cacheFile = path.join(dir, 'broken.u8cache');
    const broken = [files.emptyJpeg, files.truncatedJpeg, files.textPng];
    await expect(buildCache({ files: broken, size: 8, cacheFile })).rejects.toThrow(/no usable image among 3 file\(s\) \(empty\.jpg: empty file/);
    expect(existsSync(cacheFile)).toBe(false);
    await expect(openCache(cacheFile)).rejects.toThrow(/image cache does not exist/);
  });
});

describe('the cache build on disk', () => {
  it('writes all of a record when the positioned write comes back short', async () => {
    const file = Buffer.alloc(20);
    const shortWriter = {
      write: async (buffer: Uint8Array, offset: number, length: number, position: number) => {
        const bytesWritten = Math.min(length, 3);
        file.set(buffer.subarray(offset, offset + bytesWritten), position);
        return { bytesWritten, buffer };
      },
    } as unknown as Pick<FileHandle, 'write'>;
    await writeAll(shortWriter, Uint8Array.from({ length: 16 }, (_, i) => i + 1), 4);
    expect([...file]).toEqual([0, 0, 0, 0, ...Array.from({ length: 16 }, (_, i) => i + 1)]);
  });

  // A 16 KiB tmpfs holds the header and a few 32 px images, not twelve: a real short write, then ENOSPC.
  it.skipIf(!(process.platform === 'linux' && process.getuid?.() === 0))('fails in one line on a full disk and leaves no temp (root only)', async (context) => {
    const dir = await temporaryDir();
    await writeSyntheticPhotos(path.join(dir, 'photos'), 12);
    const disk = path.join(dir, 'disk');
    await mkdir(disk);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', disk], { stdio: 'pipe' });
    } catch {
      console.warn(`data.test: cannot mount a tmpfs at ${disk}, skipping the full-disk cache case`);
      return context.skip();
    }
    try {
      const cacheFile = path.join(disk, 'photos.u8cache');
      await expect(buildCache({ files: await listImages(path.join(dir, 'photos')), size: 32, cacheFile }))
        .rejects.toThrow(/^cannot write .*photos\.u8cache: disk full \(40,960 bytes needed, [\d,]+ free\): free some space or choose another --cache-dir$/);
      expect(readdirSync(disk)).toEqual([]);
    } finally {
      execFileSync('umount', [disk]);
    }
  });

  it('removes temps that a killed build left, keeps those of a live one', async () => {
    const dir = await temporaryDir();
    await writeSyntheticPhotos(path.join(dir, 'photos'), 2);
    const cacheFile = path.join(dir, 'cache', 'photos.u8cache');
    await mkdir(path.dirname(cacheFile));
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid!; // exited by the time spawnSync returns
    const dead = `${cacheFile}.${deadPid}.1700000000000.tmp`;
    const deadReport = `${cacheFile}.report.json.${deadPid}.1700000000000.tmp`;
    const live = `${cacheFile}.${process.pid}.1700000000000.tmp`;
    const otherCache = path.join(dir, 'cache', `other.u8cache.${deadPid}.1700000000000.tmp`);
    for (const file of [dead, deadReport, live, otherCache]) await writeFile(file, 'x');
    await buildCache({ files: await listImages(path.join(dir, 'photos')), size: 8, cacheFile });
    expect([dead, deadReport, live, otherCache].map((file) => existsSync(file))).toEqual([false, false, true, true]);
  });

  it('names the first few skipped photos on the terminal, the rest in the report', async () => {
    const dir = await temporaryDir();
    await writeSyntheticPhotos(path.join(dir, 'photos'), 1);
    for (let i = 0; i < 7; i++) await writeFile(path.join(dir, 'photos', `broken.${i}.jpg`), '');
    const printed: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((line: string) => void printed.push(line));
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true); // the progress bar
    try {
      const { cache, report } = await prepareDataset({ dataDir: path.join(dir, 'photos'), imageSize: 8, cacheDir: path.join(dir, 'cache') });
      await cache.close();
      expect(printed[0]).toMatch(/^dataset: built 1 images .* 7 skipped/);
      expect(printed.slice(1)).toEqual([
        ...[0, 1, 2, 3, 4].map((i) => `  skipped broken.${i}.jpg: empty file (0 bytes)`),
        `  ... and 2 more in ${report.reportFile}`,
      ]);
    } finally {
      spy.mockRestore();
      stderr.mockRestore();
    }
  });
});

describe('ProgressBar', () => {
  it('prints plain lines when the output is not a terminal', () => {
    const written: string[] = [];
    const stream = { isTTY: false, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream;
    const bar = new ProgressBar({ total: 10, label: 'work', unit: 'img', stream, lineIntervalSeconds: 0 });
    bar.update(5, '1 skipped');
    bar.finish();
    expect(written).toHaveLength(2);
    expect(written[0]).toMatch(/^work: 5\/10  50%  .* img\/s  ETA .*  1 skipped\n$/);
    expect(written[1]).toMatch(/^work: 5\/10  50%  .* img\/s  in 0:00  1 skipped\n$/);
  });
});

describe.skipIf(!hasDogs)('on real dog photos (first 12 of ../shared/data/dogs)', () => {
  let dataDir: string;
  let cacheDir: string;
  let cache: ImageCache;
  const size = 16;
  beforeAll(async () => {
    dataDir = await temporaryDir();
    cacheDir = await temporaryDir();
    for (const file of (await listImages(dogsDir, 'dog.*')).slice(0, 12)) {
      await copyFile(file, path.join(dataDir, path.basename(file)));
    }
    ({ cache } = await prepareDataset({ dataDir, match: 'dog.*', imageSize: size, cacheDir, quiet: true }));
  });
  afterAll(async () => {
    await cache?.close();
  });

  it('builds once, then reuses the cache', async () => {
    expect(cache.count).toBe(12);
    const second = await prepareDataset({ dataDir, match: 'dog.*', imageSize: size, cacheDir, quiet: true });
    expect(second.report.reused).toBe(true);
    await second.cache.close();
  });

  it('serves NCHW float batches in [-1, 1] that match the cached bytes', async () => {
    const loader = new BatchLoader(cache, { batchSize: 5, seed: 7 });
    expect(loader.batchesPerEpoch).toBe(2); // 12 images, the last 2 dropped
    const batch = await loader.batch(0, 1);
    expect(batch.length).toBe(5 * 3 * size * size);
    expect(Math.min(...batch)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...batch)).toBeLessThanOrEqual(1);
    expect(Math.max(...batch) - Math.min(...batch)).toBeGreaterThan(1); // real photos, not a constant

    // Image 2 of batch 1, pixel (y, x) = (3, 9), channel c sits at [2][c][3][9].
    const cacheIndex = loader.epochOrder(0)[5 + 2];
    const bytes = await cache.readImage(cacheIndex);
    for (let c = 0; c < 3; c++) {
      expect(batch[((2 * 3 + c) * size + 3) * size + 9]).toBeCloseTo(bytes[(3 * size + 9) * 3 + c] / 127.5 - 1, 6);
    }
  });

  it('shuffles by (seed, epoch) and can resume mid-epoch', async () => {
    const loader = new BatchLoader(cache, { batchSize: 4, seed: 7 });
    const sameSeed = new BatchLoader(cache, { batchSize: 4, seed: 7 });
    const otherSeed = new BatchLoader(cache, { batchSize: 4, seed: 8 });
    expect(Array.from(loader.epochOrder(3))).toEqual(Array.from(sameSeed.epochOrder(3)));
    expect([...loader.epochOrder(0)].sort((a, b) => a - b)).toEqual([...Array(12).keys()]);
    expect(Array.from(loader.epochOrder(0))).not.toEqual(Array.from(loader.epochOrder(1)));
    expect(Array.from(loader.epochOrder(0))).not.toEqual(Array.from(otherSeed.epochOrder(0)));
    expect(await loader.batch(2, 1)).toEqual(await sameSeed.batch(2, 1));
    expect(await loader.batch(0, 0)).not.toEqual(await loader.batch(1, 0));

    const whole: Float32Array[] = [];
    for await (const batch of loader.epochBatches(1)) whole.push(batch);
    expect(whole).toHaveLength(3);
    const resumed: Float32Array[] = [];
    for await (const batch of sameSeed.epochBatches(1, 2)) resumed.push(batch);
    expect(resumed).toEqual([whole[2]]);
  });

  it('rejects a batch larger than the dataset, and a wrong folder', async () => {
    expect(() => new BatchLoader(cache, { batchSize: 13, seed: 1 })).toThrow(/batch size 13 is larger than the 12 images/);
    await expect(prepareDataset({ dataDir: path.join(dataDir, 'missing'), imageSize: size, cacheDir, quiet: true }))
      .rejects.toThrow(/image folder does not exist/);
  });
});

describe('held-out photos (--holdout)', () => {
  /** 40 one-pixel images whose byte is their index: what a batch holds says which images it served */
  const source = {
    count: 40,
    imageSize: 1,
    readImages: async (indices: ArrayLike<number>) => Uint8Array.from(Array.from(indices).flatMap((i) => [i, i, i])),
  };
  const served = async (loader: BatchLoader, epoch: number) => {
    const out: number[] = [];
    for (let b = 0; b < loader.batchesPerEpoch; b++) for (const v of (await loader.batch(epoch, b)).filter((_, k) => k % 3 === 0)) out.push(Math.round((v + 1) * 127.5));
    return out;
  };

  it('are chosen by the image count alone, never served, and the rest are served once per epoch', async () => {
    const loader = new BatchLoader(source, { batchSize: 5, seed: 7, holdout: 6 });
    const other = new BatchLoader(source, { batchSize: 4, seed: 8, holdout: 6 });
    expect(loader.heldOut).toHaveLength(6);
    expect([...other.heldOut]).toEqual([...loader.heldOut]); // another run seed and batch size: the same photos
    expect([...heldOutSplit(40, 6).heldOut]).toEqual([...loader.heldOut]);
    expect([...heldOutSplit(41, 6).heldOut]).not.toEqual([...loader.heldOut]);
    expect(loader.trainingCount).toBe(34);
    expect(loader.batchesPerEpoch).toBe(6); // 34 / 5, the short batch dropped
    for (const epoch of [0, 1]) {
      const images = await served(loader, epoch);
      expect(images).toHaveLength(30);
      expect(new Set(images).size).toBe(30);
      for (const i of loader.heldOut) expect(images).not.toContain(i);
    }
  });

  it('holdout 0 serves the shuffle of all images, as runs from before --holdout had it', async () => {
    const loader = new BatchLoader(source, { batchSize: 5, seed: 7 });
    expect(loader.heldOut).toHaveLength(0);
    const order = [...loader.epochOrder(3)];
    // Fisher–Yates over 0..39 with the (seed, epoch) stream, written out here
    const random = mulberry32(mixSeeds(7, 3));
    const expected = Array.from({ length: 40 }, (_, i) => i);
    for (let i = 39; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [expected[i], expected[j]] = [expected[j], expected[i]];
    }
    expect(order).toEqual(expected);
    expect(() => new BatchLoader(source, { batchSize: 5, seed: 7, holdout: 40 })).toThrow(/cannot hold out 40 of 40 images: give --holdout between 0 and 39/);
    expect(() => new BatchLoader(source, { batchSize: 5, seed: 7, holdout: 37 })).toThrow(/batch size 5 is larger than the 3 images in the cache \(40 less the 37 held out\)/);
  });
});
