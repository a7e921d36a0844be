// The decoded-image cache: every usable photo decoded once into `size`×`size`×3 bytes and laid
// end to end in one file, so training reads small fixed-size records instead of decoding JPEGs.
// The original project held every photo in RAM as floats and ran out of memory; here neither the
// build nor the reader ever holds more than a few images (the OS page cache does the rest).
//
// File layout:
//   bytes [0, 4096)               the header: UTF-8 JSON padded with spaces (readable with `head -c 4096`)
//   bytes [4096 + i·B, 4096 + (i+1)·B)  image i, B = size·size·3, RGB uint8, HWC
// The header has a fixed size so it can be written last, once the number of usable images is
// known, without moving the payload; 4096 also keeps each read page-aligned at the start.
import { createHash } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { decodeSquare, flattenBackground } from './decode.ts';
import { FileError, ensureDir, errnoCode, fsErrorLine, fsyncFolder, processIsAlive } from '../disk.ts';

/** Bumped whenever the layout or the decoding changes, so old caches are rebuilt, not misread. */
const cacheVersion = 1;
const cacheFormat = 'dcgan-uint8-image-cache';
const headerBytes = 4096;
/** Photos decoded at once: enough to keep both cores busy while one image waits on the disk. */
const decodeConcurrency = 4;
/** Decoded images gathered before one write (at 64 px, 64 × 12 KiB ≈ 0.8 MB). */
const imagesPerWrite = 64;

interface CacheHeader {
  format: typeof cacheFormat;
  version: number;
  imageSize: number;
  channels: 3;
  layout: 'NHWC uint8 RGB';
  count: number;
  skippedCount: number;
  /** sha256 of the sorted source list with sizes and mtimes, the image size and the decoder settings. */
  sourceHash: string;
  payloadOffset: number;
  createdAt: string;
}

interface SkippedFile {
  file: string;
  reason: string;
}

export interface CacheReport {
  cacheFile: string;
  reportFile: string;
  /** True when an existing cache with the same source hash was used as is. */
  reused: boolean;
  imageSize: number;
  /** Images in the cache. */
  count: number;
  /** Files offered to the build, usable or not. */
  sourceCount: number;
  sourceHash: string;
  skipped: SkippedFile[];
  /** Of the build that wrote the cache (an earlier run's when reused). */
  buildSeconds: number;
  imagesPerSecond: number;
  createdAt: string;
}

interface BuildCacheOptions {
  files: string[];
  size: number;
  cacheFile: string;
  /** Called after each file, usable or skipped. */
  onProgress?: (done: number, total: number, skipped: number) => void;
}

/** Decodes `files` into `cacheFile`, or reuses the file when its header carries the same source hash. */
export async function buildCache({ files, size, cacheFile, onProgress }: BuildCacheOptions): Promise<CacheReport> {
  if (!Number.isInteger(size) || size < 1) throw new Error(`image size must be a positive integer, got ${size}`);
  if (files.length === 0) throw new Error('no image files given to the cache build');
  const sources = [...new Set(files.map((file) => path.resolve(file)))].sort();
  const sourceHash = await hashSources(sources, size);
  const reportFile = reportFileFor(cacheFile);
  removeStaleCacheTemps(cacheFile);

  const existing = await readHeader(cacheFile).catch(() => undefined);
  if (existing && existing.sourceHash === sourceHash && (await payloadIsComplete(cacheFile, existing))) {
    return reusedReport(cacheFile, reportFile, existing, sources.length);
  }

  const started = performance.now();
  const bytesPerImage = size * size * 3;
  const folder = path.dirname(path.resolve(cacheFile));
  ensureDir(folder, '--cache-dir');
  const temporary = `${cacheFile}.${process.pid}.${Date.now()}.tmp`;
  const skipped: SkippedFile[] = [];
  let count = 0;
  let handle: FileHandle | undefined;
  try {
    handle = await open(temporary, 'w');
    const output = handle;
    let pending: Uint8Array[] = [];
    const flush = async () => {
      const position = headerBytes + (count - pending.length) * bytesPerImage;
      await writeAll(output, Buffer.concat(pending), position);
      pending = [];
    };
    for await (const outcome of decodeInOrder(sources, size)) {
      if ('reason' in outcome) skipped.push(outcome);
      else {
        pending.push(outcome.pixels);
        count++;
        if (pending.length === imagesPerWrite) await flush();
      }
      onProgress?.(count + skipped.length, sources.length, skipped.length);
    }
    if (pending.length > 0) await flush();
    if (count === 0) {
      const examples = skipped.slice(0, 3).map((s) => `${path.basename(s.file)}: ${s.reason}`).join('; ');
      throw new Error(`no usable image among ${sources.length} file(s) (${examples})`);
    }
    const header: CacheHeader = {
      format: cacheFormat, version: cacheVersion, imageSize: size, channels: 3, layout: 'NHWC uint8 RGB',
      count, skippedCount: skipped.length, sourceHash, payloadOffset: headerBytes, createdAt: new Date().toISOString(),
    };
    await writeAll(handle, encodeHeader(header), 0);
    await handle.sync(); // on disk before the rename, or a power cut could leave a renamed but empty cache
    await handle.close();
    handle = undefined;

    const buildSeconds = (performance.now() - started) / 1000;
    const report: CacheReport = {
      cacheFile, reportFile, reused: false, imageSize: size, count, sourceCount: sources.length, sourceHash,
      skipped, buildSeconds, imagesPerSecond: sources.length / buildSeconds, createdAt: header.createdAt,
    };
    // Report first: a cache whose report is missing is still usable, the reverse never happens.
    await writeAtomically(reportFile, JSON.stringify(report, null, 2) + '\n');
    await rename(temporary, cacheFile);
    fsyncFolder(folder);
    return report;
  } catch (error) {
    await handle?.close().catch(() => {});
    await rm(temporary, { force: true });
    if (error instanceof FileError || !errnoCode(error)) throw error;
    // The most the cache can need: every photo usable (skipped ones so far take no room).
    const bytesNeeded = headerBytes + (sources.length - skipped.length) * bytesPerImage;
    throw new FileError(fsErrorLine(error, cacheFile, 'write', { bytesNeeded, flag: '--cache-dir' }), { cause: error, code: errnoCode(error) });
  }
}

/**
 * Writes all of `bytes` at `position`: a positioned write may write less than asked (a nearly
 * full disk does), and a cache with a hole in it would read as someone else's pixels.
 */
export async function writeAll(handle: Pick<FileHandle, 'write'>, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    if (bytesWritten <= 0) throw Object.assign(new Error(`EIO: write wrote nothing at byte ${position + done}`), { code: 'EIO' });
    done += bytesWritten;
  }
}

/**
 * Temps of this cache (`<cache>.PID.MS.tmp`, and its report's) whose writer is no longer running:
 * a build killed midway leaves one as large as the cache. Those of a live build are left alone,
 * since two runs may share the cache folder.
 */
function removeStaleCacheTemps(cacheFile: string): void {
  const folder = path.dirname(path.resolve(cacheFile));
  const base = path.basename(cacheFile).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^${base}(?:\\.report\\.json)?\\.(\\d+)\\.\\d+\\.tmp$`);
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return; // no folder yet: nothing stale in it
  }
  for (const name of names) {
    const pid = pattern.exec(name)?.[1];
    if (pid !== undefined && !processIsAlive(Number(pid))) rmSync(path.join(folder, name), { force: true });
  }
}

type DecodeOutcome = { file: string; pixels: Uint8Array } | SkippedFile;

/**
 * Decodes with `decodeConcurrency` photos in flight but yields in input order, so the cache
 * order (and with it every seeded shuffle) does not depend on which decode finished first.
 */
async function* decodeInOrder(files: string[], size: number): AsyncGenerator<DecodeOutcome> {
  const inFlight: Promise<DecodeOutcome>[] = [];
  let next = 0;
  const launch = () => {
    const file = files[next++];
    inFlight.push(
      decodeSquare(file, size).then(
        (pixels) => ({ file, pixels }),
        // decodeSquare prefixes the file name; the report has it in its own field.
        (error: Error) => ({ file, reason: error.message.replace(`${file}: `, '') }),
      ),
    );
  };
  while (next < files.length && inFlight.length < decodeConcurrency) launch();
  while (inFlight.length > 0) {
    const outcome = await inFlight.shift()!;
    if (next < files.length) launch();
    yield outcome;
  }
}

/** A cache opened for reading: image i is one positioned read, nothing is loaded up front. */
export class ImageCache {
  readonly imageSize: number;
  readonly count: number;
  readonly bytesPerImage: number;

  private constructor(readonly file: string, readonly header: CacheHeader, private readonly handle: FileHandle) {
    this.imageSize = header.imageSize;
    this.count = header.count;
    this.bytesPerImage = header.imageSize * header.imageSize * 3;
  }

  static async open(file: string): Promise<ImageCache> {
    const header = await readHeader(file);
    if (!(await payloadIsComplete(file, header))) {
      throw new Error(`image cache is truncated (expected ${header.count} images of ${header.imageSize} px): ${file}`);
    }
    return new ImageCache(file, header, await open(file, 'r'));
  }

  /** Image `index` as size·size·3 bytes (HWC RGB). */
  async readImage(index: number, target = new Uint8Array(this.bytesPerImage)): Promise<Uint8Array> {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) {
      throw new Error(`image index ${index} out of range [0, ${this.count})`);
    }
    const { bytesRead } = await this.handle.read(target, 0, this.bytesPerImage, this.header.payloadOffset + index * this.bytesPerImage);
    if (bytesRead !== this.bytesPerImage) throw new Error(`short read of image ${index} from ${this.file}`);
    return target;
  }

  /** The images at `indices`, back to back in that order: one read per image, all in flight at once. */
  async readImages(indices: ArrayLike<number>, target = new Uint8Array(indices.length * this.bytesPerImage)): Promise<Uint8Array> {
    const reads: Promise<Uint8Array>[] = [];
    for (let k = 0; k < indices.length; k++) {
      reads.push(this.readImage(indices[k], target.subarray(k * this.bytesPerImage, (k + 1) * this.bytesPerImage)));
    }
    await Promise.all(reads);
    return target;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

export const openCache = (cacheFile: string): Promise<ImageCache> => ImageCache.open(cacheFile);

const reportFileFor = (cacheFile: string): string => `${cacheFile}.report.json`;

/** Identity of the inputs: if any photo is added, removed, or touched, or the decoding changes, the hash changes. */
async function hashSources(sortedFiles: string[], size: number): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ cacheVersion, size, kernel: 'lanczos3', fit: 'cover', flattenBackground }));
  const batch = 256; // stat in batches: 10,000 at once would open a burst of threadpool work for nothing
  for (let start = 0; start < sortedFiles.length; start += batch) {
    const chunk = sortedFiles.slice(start, start + batch);
    const stats = await Promise.all(chunk.map((file) => stat(file).catch(() => undefined)));
    chunk.forEach((file, k) => {
      const info = stats[k];
      hash.update(`${file}\0${info ? `${info.size}\0${info.mtimeMs}` : 'missing'}\n`);
    });
  }
  return hash.digest('hex');
}

function encodeHeader(header: CacheHeader): Buffer {
  const json = JSON.stringify(header);
  if (Buffer.byteLength(json) + 1 > headerBytes) throw new Error('image cache header does not fit in its 4096 bytes');
  const bytes = Buffer.alloc(headerBytes, ' ');
  bytes.write(json, 0, 'utf8');
  bytes[headerBytes - 1] = 0x0a; // a newline, so `head -c 4096` ends cleanly
  return bytes;
}

async function readHeader(file: string): Promise<CacheHeader> {
  const handle = await open(file, 'r').catch(() => {
    throw new Error(`image cache does not exist: ${file}`);
  });
  try {
    const bytes = Buffer.alloc(headerBytes);
    const { bytesRead } = await handle.read(bytes, 0, headerBytes, 0);
    let header: CacheHeader;
    try {
      header = JSON.parse(bytes.subarray(0, bytesRead).toString('utf8').trim());
    } catch {
      throw new Error(`not an image cache (unreadable header): ${file}`);
    }
    if (header.format !== cacheFormat) throw new Error(`not an image cache: ${file}`);
    if (header.version !== cacheVersion) {
      throw new Error(`image cache version ${header.version}, this code reads version ${cacheVersion}: ${file}`);
    }
    return header;
  } finally {
    await handle.close();
  }
}

async function payloadIsComplete(file: string, header: CacheHeader): Promise<boolean> {
  const expected = header.payloadOffset + header.count * header.imageSize * header.imageSize * 3;
  return (await stat(file)).size === expected;
}

async function reusedReport(cacheFile: string, reportFile: string, header: CacheHeader, sourceCount: number): Promise<CacheReport> {
  const saved = await readFile(reportFile, 'utf8').then((text) => JSON.parse(text) as CacheReport).catch(() => undefined);
  // Without the side report (deleted by hand) the skip reasons are lost, but the cache itself is fine.
  return {
    cacheFile, reportFile, reused: true, imageSize: header.imageSize, count: header.count, sourceCount,
    sourceHash: header.sourceHash, skipped: saved?.skipped ?? [], buildSeconds: saved?.buildSeconds ?? 0,
    imagesPerSecond: saved?.imagesPerSecond ?? 0, createdAt: header.createdAt,
  };
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(text); // writeFile loops over short writes itself
    await handle.sync();
    await handle.close();
    await rename(temporary, file);
  } catch (error) {
    await handle.close().catch(() => {}); // already closed when the rename failed
    await rm(temporary, { force: true });
    throw error;
  }
}
