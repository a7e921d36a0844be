// What both trainers do once the flags are planned (./run-plan.ts), in an order that does no work and
// writes nothing until the run is known to be possible:
//   checkFits:  the batch's largest buffer against the adapter's limits
//   prepareRun: count the photos (before decoding any), take RUN/lock, remove temps a crash left, build
//               or reuse the uint8 image cache (or open the prebuilt one of --data-cache), then write
//               RUN/run.json and cut RUN/log.jsonl back to the checkpoint's iteration (one log line per
//               iteration, after any number of resumes)
// A start that fails leaves --out as it was: a folder created for it is removed, the lock released.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ensureDir } from '../disk.ts';
import { removeStaleTemps, writeFileAtomic } from '../files.ts';
import { RunLock } from '../run-lock.ts';
import { openPrebuiltCache, prepareDataset } from '../data/index.ts';
import { listImages } from '../data/scan.ts';
import type { CacheReport, ImageCache } from '../data/cache.ts';
import { BatchLoader } from '../../train/data/loader.ts';
import { largestActivationPerImage } from '../../model/dcgan.ts';
import type { TrainingConfig } from '../../train/gan.ts';
import type { RunPlan } from './run-plan.ts';

/** --holdout's default: 1,000 photos, or a tenth of them when there are fewer than 10,000 */
export const defaultHoldout = (photos: number): number => Math.min(1000, Math.floor(photos / 10));

export interface PreparedRun extends RunPlan {
  cache: ImageCache;
  report: CacheReport;
  loader: BatchLoader;
  logFile: string;
  lock: RunLock;
}

/** The limits of an adapter that bound one tensor (a storage binding, and any buffer). */
type BufferLimits = Pick<GPUSupportedLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize'>;

/**
 * Refuse a batch whose largest tensor cannot be one buffer on this adapter, before any photo is decoded.
 * The fixed-noise samples (64 images) go through G as one batch too.
 */
export function checkFits(config: TrainingConfig, limits: BufferLimits, adapterName = 'this adapter'): void {
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const perImage = largestActivationPerImage(config.model) * 4;
  const batch = Math.max(config.batchSize, 64);
  if (perImage * batch <= limit) return;
  const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  const fits = Math.floor(limit / perImage);
  const what = `--batch-size ${config.batchSize} at --image-size ${config.model.imageSize} (ngf ${config.model.ngf}, ndf ${config.model.ndf})`;
  const advice = fits >= 64 ? `use --batch-size ${fits} or less` : `use a smaller --image-size, --ngf or --ndf (even the 64 sample images do not fit)`;
  throw new Error(`${what} needs a ${mb(perImage * batch)} buffer, over the ${mb(limit)} that ${adapterName} allows: ${advice}`);
}

/** The run folder and its data, ready to train. Throws (leaving --out as it was) when the start fails. */
export async function prepareRun(plan: RunPlan): Promise<PreparedRun> {
  const { runDir, config, settings, checkpoint } = plan;
  // photos are counted before any is decoded, so an impossible batch size costs nothing
  const prebuilt = settings.dataCache ? await openPrebuiltCache(settings.dataCache, config.model.imageSize) : null;
  const where = settings.dataCache ? `in ${settings.dataCache}` : `found under ${path.resolve(settings.dataDir!)}`;
  const photos = prebuilt ? prebuilt.cache.count : (await listImages(settings.dataDir!, settings.match)).length;
  if (photos < config.batchSize) {
    await prebuilt?.cache.close();
    throw new Error(`--batch-size ${config.batchSize} is more than the ${photos} photos ${where}: use --batch-size ${photos} or less, or add photos`);
  }
  settings.holdout ??= defaultHoldout(photos);
  if (photos - settings.holdout < config.batchSize) {
    await prebuilt?.cache.close();
    throw new Error(`--holdout ${settings.holdout} leaves ${photos - settings.holdout} of the ${photos} photos ${where} to train on, fewer than --batch-size ${config.batchSize}: use a smaller --holdout (0: none)`);
  }

  const created = !existsSync(runDir);
  ensureDir(runDir);
  let lock: RunLock | null = null;
  let prepared = false;
  // a signal or error before the run is prepared must leave --out as it was
  const abandon = () => {
    if (prepared) return;
    lock?.release();
    if (created) rmSync(runDir, { recursive: true, force: true });
  };
  process.once('exit', abandon);
  try {
    lock = RunLock.acquire(runDir);
    const samplesDir = path.join(runDir, 'samples');
    const removed = [runDir, samplesDir].filter((d) => existsSync(d)).flatMap((d) => removeStaleTemps(d));
    if (removed.length > 0) console.error(`note: removed ${removed.length} temporary file(s) a stopped trainer left: ${removed.map((f) => path.basename(f)).join(', ')}`);

    const { cache, report } = prebuilt ?? await prepareDataset({
      dataDir: settings.dataDir!, match: settings.match, imageSize: config.model.imageSize, cacheDir: settings.cacheDir,
    });
    const loader = new BatchLoader(cache, { batchSize: config.batchSize, seed: config.seed, holdout: settings.holdout });

    ensureDir(samplesDir);
    writeFileAtomic(path.join(runDir, 'run.json'), JSON.stringify({ ...settings, config }, null, 2));
    const logFile = path.join(runDir, 'log.jsonl');
    if (checkpoint) cutLog(logFile, checkpoint.iteration);
    else rmSync(logFile, { force: true });
    prepared = true;
    return { ...plan, cache, report, loader, logFile, lock };
  } catch (e) {
    abandon();
    throw e;
  } finally {
    process.off('exit', abandon);
  }
}

/**
 * Keep the log lines up to the checkpoint's iteration: the iterations after it were trained by a run that
 * stopped without saving them, and the resumed run trains them again. A torn last line (a crash in the
 * middle of an append) is dropped too.
 */
function cutLog(logFile: string, iteration: number): number {
  if (!existsSync(logFile)) return 0;
  const lines = readFileSync(logFile, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const kept = lines.filter((line) => {
    try {
      const entry = JSON.parse(line) as { iteration?: number };
      return entry.iteration === undefined || entry.iteration <= iteration;
    } catch {
      return false;
    }
  });
  if (kept.length !== lines.length) writeFileAtomic(logFile, kept.map((l) => l + '\n').join(''));
  return lines.length - kept.length;
}

