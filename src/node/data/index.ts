// The dataset in one call: find the photos, build the uint8 cache (or reuse it), open it.
//
//   const { cache, report } = await prepareDataset({ dataDir, match: 'dog.*', imageSize: 64, cacheDir });
//   const { cache, report } = await openPrebuiltCache(file, 64);   // a cache made elsewhere (--data-cache)
//   const loader = new BatchLoader(cache, { batchSize: 128, seed: 1 });
//   for await (const batch of loader.epochBatches(epoch)) { ... }
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { buildCache, openCache, type CacheReport, type ImageCache } from './cache.ts';
import { ProgressBar } from '../progress.ts';
import { listImages } from './scan.ts';

interface PrepareDatasetOptions {
  dataDir: string;
  /** Glob on the file name (`*`, `?`), e.g. 'dog.*'. */
  match?: string;
  imageSize: number;
  /** Where the cache lives: the run folder, or by default a per-user cache folder, never the repository. */
  cacheDir?: string;
  /** No progress bar or summary line (tests). */
  quiet?: boolean;
}

export async function prepareDataset({
  dataDir, match, imageSize, cacheDir = defaultCacheDir(), quiet = false,
}: PrepareDatasetOptions): Promise<{ cache: ImageCache; report: CacheReport }> {
  const files = await listImages(dataDir, match);
  const cacheFile = path.join(cacheDir, cacheFileName(dataDir, match, imageSize));

  const progress = quiet ? undefined : new ProgressBar({ total: files.length, label: `decoding ${imageSize}px`, unit: 'img' });
  const report = await buildCache({
    files, size: imageSize, cacheFile,
    onProgress: (done, _total, skipped) => progress?.update(done, skipped > 0 ? `${skipped} skipped` : ''),
  });
  if (!quiet) {
    if (!report.reused) progress?.finish(report.skipped.length > 0 ? `${report.skipped.length} skipped` : '');
    console.error(summaryLine(report));
    for (const line of skippedLines(report, dataDir)) console.error(line);
  }
  return { cache: await openCache(cacheFile), report };
}

/**
 * A cache built elsewhere, opened as it is: no photo is listed or decoded, so neither the photos nor
 * sharp are needed (`scripts/device/device.py unpack-photos` writes one from JPEGs on a machine with no Node
 * modules). Its image size must be the run's.
 */
export async function openPrebuiltCache(cacheFile: string, imageSize: number, quiet = false): Promise<{ cache: ImageCache; report: CacheReport }> {
  const cache = await openCache(cacheFile);
  if (cache.imageSize !== imageSize) {
    await cache.close();
    throw new Error(`--data-cache ${cacheFile} holds ${cache.imageSize}px images, not the ${imageSize}px of --image-size: give --image-size ${cache.imageSize}`);
  }
  const report: CacheReport = {
    cacheFile, reportFile: `${cacheFile}.report.json`, reused: true, imageSize, count: cache.count, sourceCount: cache.count,
    sourceHash: cache.header.sourceHash, skipped: [], buildSeconds: 0, imagesPerSecond: 0, createdAt: cache.header.createdAt,
  };
  if (!quiet) console.error(`dataset: ${cache.count} images of ${imageSize}px from the prebuilt cache ${cacheFile}`);
  return { cache, report };
}

/** One line for the log: what was cached, where, and what was left out and why (first few). */
function summaryLine(report: CacheReport): string {
  const action = report.reused ? 'reusing' : 'built';
  const skipped = report.skipped.length === 0 ? '' : `, ${report.skipped.length} skipped (see ${report.reportFile})`;
  return `dataset: ${action} ${report.count} images of ${report.imageSize}px in ${report.cacheFile}${skipped}`;
}

/** Shown on the terminal after the summary; the full list stays in the report file. */
const skippedShown = 5;

/**
 * The first few skipped photos with their reasons, one indented line each, then how many more
 * the report file holds: the terminal is where a user looks, not a JSON file in a cache folder.
 * Paths are relative to the data folder when inside it, since that is the name the user typed.
 */
function skippedLines(report: CacheReport, dataDir: string): string[] {
  const folder = path.resolve(dataDir);
  const shown = report.skipped.slice(0, skippedShown).map(({ file, reason }) => {
    const relative = path.relative(folder, file);
    const name = relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
    return `  skipped ${name}: ${reason}`;
  });
  const more = report.skipped.length - shown.length;
  return more > 0 ? [...shown, `  ... and ${more} more in ${report.reportFile}`] : shown;
}

/** $XDG_CACHE_HOME/webgpu-dcgan, else ~/.cache/webgpu-dcgan. */
export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'webgpu-dcgan');
}

/**
 * One cache file per (folder, filter, size): switching between 64 and 128 px keeps both caches,
 * while a change to the photos themselves is caught by the source hash inside the file.
 */
function cacheFileName(dataDir: string, match: string | undefined, imageSize: number): string {
  const folder = path.resolve(dataDir);
  const key = createHash('sha256').update(`${folder}\0${match ?? ''}`).digest('hex').slice(0, 10);
  const readable = path.basename(folder).replace(/[^A-Za-z0-9_-]/g, '_') || 'images';
  return `${readable}-${imageSize}px-${key}.u8cache`;
}
