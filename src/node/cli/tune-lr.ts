// npm run tune-lr -- --data DIR [--lrs 1e-4,2e-4,5e-4] [--iters N] [model and data flags of train]
// A learning-rate search that is not by hand: one short run per learning rate, all from the same seed (the
// same initial weights, batches and noise), each scored by SWD x 1e3 against the held-out photos (the
// trainer's --holdout, src/metrics/swd.ts) and watched by the divergence guard (src/train/guard.ts), which names
// the runs that collapse. Prints the ranking and the command that trains with the winner. Nothing is written
// but the image cache.
import path from 'node:path';
import { nodeDevice } from '../webgpu.ts';
import { openPrebuiltCache, prepareDataset } from '../data/index.ts';
import { listImages } from '../data/scan.ts';
import { BatchLoader } from '../../train/data/loader.ts';
import { DEFAULT_G_UPSAMPLE, GanTraining, type TrainingConfig } from '../../train/gan.ts';
import { runTraining } from '../../train/loop.ts';
import { DivergenceError } from '../../train/guard.ts';
import { SwdEvaluator } from '../../metrics/swd.ts';
import { stridedLayers, DEFAULT_CONFIG, parseGeneratorUpsample } from '../../model/dcgan.ts';
import { commandLine, numberFlag, parseFlags } from './args.ts';
import { runMain } from './main.ts';
import { checkFits, defaultHoldout } from './run-setup.ts';

const USAGE = `usage: ${commandLine('tune-lr')} --data DIR|--data-cache FILE [--match 'dog.*'] [--lrs 1e-4,2e-4,5e-4] [--iters 300]
       [--image-size 64] [--ngf 64] [--ndf 64] [--nz 100] [--batch-size 64] [--beta1 0.5] [--seed 1]
       [--g-upsample nearest|transposed] [--holdout N] [--patience N] [--cache-dir DIR]`;
const FLAGS = {
  data: { type: 'string' }, 'data-cache': { type: 'string' }, match: { type: 'string' }, lrs: { type: 'string' }, iters: { type: 'string' },
  'image-size': { type: 'string' }, ngf: { type: 'string' }, ndf: { type: 'string' }, nz: { type: 'string' }, 'batch-size': { type: 'string' },
  beta1: { type: 'string' }, seed: { type: 'string' }, holdout: { type: 'string' }, patience: { type: 'string' }, 'cache-dir': { type: 'string' },
  'g-upsample': { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

interface Trial {
  lr: number;
  swd: number | null;
  /** the guard's reason when the run collapsed */
  collapsed: string | null;
  seconds: number;
}

/** '1e-4,2e-4,5e-4' → [0.0001, 0.0002, 0.0005], each a positive number, no repeats */
function parseLrs(text: string): number[] {
  const lrs = text.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (lrs.length === 0 || lrs.some((lr) => !Number.isFinite(lr) || lr <= 0)) throw new Error(`--lrs must be positive numbers separated by commas, e.g. 1e-4,2e-4,5e-4; got '${text}'`);
  if (new Set(lrs).size !== lrs.length) throw new Error(`--lrs names a learning rate twice: '${text}'`);
  return lrs;
}

async function main(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, USAGE);
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  if (!flags.data && !flags['data-cache']) throw new Error(`--data DIR is required: the photos to train on\n${USAGE}`);
  if (flags.data && flags['data-cache']) throw new Error('give --data DIR or --data-cache FILE, not both');
  const n = (name: string, fallback: number, o?: Parameters<typeof numberFlag>[3]) => numberFlag(flags, name, fallback, o);
  const lrs = parseLrs(String(flags.lrs ?? '1e-4,2e-4,5e-4'));
  const iters = n('iters', 300, { min: 1 });
  const imageSize = n('image-size', DEFAULT_CONFIG.imageSize, { min: 8 });
  stridedLayers(imageSize);
  const base: TrainingConfig = {
    model: { imageSize, nz: n('nz', DEFAULT_CONFIG.nz, { min: 1 }), ngf: n('ngf', DEFAULT_CONFIG.ngf, { min: 1 }), ndf: n('ndf', DEFAULT_CONFIG.ndf, { min: 1 }), nc: 3,
      gUpsample: parseGeneratorUpsample(String(flags['g-upsample'] ?? DEFAULT_G_UPSAMPLE)) },  // the trainer's G, whose lr is searched
    batchSize: n('batch-size', 64, { min: 2 }),
    lr: lrs[0],
    beta1: n('beta1', 0.5, { integer: false, min: 0, max: 0.999999 }),
    seed: n('seed', 1, { min: 0, max: 2 ** 32 - 1 }),
  };
  // a short run: the guard's window shrinks with it, so a collapse within --iters is seen
  const patience = n('patience', Math.max(2, Math.min(50, Math.floor(iters / 4))), { min: 1 });
  const match = flags.match as string | undefined;

  const { device } = await nodeDevice();
  checkFits(base, device.limits, 'this adapter');
  const { cache } = flags['data-cache']
    ? await openPrebuiltCache(path.resolve(String(flags['data-cache'])), imageSize)
    : await prepareDataset({ dataDir: String(flags.data), match, imageSize, cacheDir: flags['cache-dir'] as string | undefined });
  const photos = flags['data-cache'] ? cache.count : (await listImages(String(flags.data), match)).length;
  const holdout = n('holdout', defaultHoldout(photos), { min: 1 });
  const loader = new BatchLoader(cache, { batchSize: base.batchSize, seed: base.seed, holdout });
  const evaluator = new SwdEvaluator(await cache.readImages(loader.heldOut), loader.heldOut.length, imageSize);
  const perEpoch = loader.batchesPerEpoch;
  console.error(`${lrs.length} runs of ${iters} iterations from seed ${base.seed}, each scored by SWD x1e3 against ${holdout} held-out photos (lower is better)`);

  const trials: Trial[] = [];
  for (const lr of lrs) {
    const started = performance.now();
    const training = new GanTraining({ ...base, lr });
    let collapsed: string | null = null;
    let swd: number | null = null;
    try {
      await runTraining(training, {
        batch: (epoch, index, target) => loader.batch(epoch, index, target),
        log: () => undefined,
        saveSamples: async (name) => name,
        saveCheckpoint: async () => undefined,
        keptCheckpoint: () => null,
        shouldStop: () => false,
      }, { epochs: Math.ceil(iters / perEpoch), maxIters: iters, sampleEvery: Infinity, patience, batchesPerEpoch: perEpoch, position: { epoch: 0, batchInEpoch: 0 } });
      swd = (await evaluator.evaluate((noise) => training.sample(noise), base.model.nz)).average;
    } catch (e) {
      if (!(e instanceof DivergenceError)) throw e;
      collapsed = e.message.split('. The learning rate')[0].replace(/ Stopped;.*$/, '');
    } finally {
      training.dispose();
    }
    const trial = { lr, swd, collapsed, seconds: (performance.now() - started) / 1000 };
    trials.push(trial);
    console.error(`--lr ${lr}: ${swd !== null ? `SWD x1e3 ${swd.toFixed(1)}` : `collapsed (${collapsed})`} in ${trial.seconds.toFixed(0)} s`);
  }
  await cache.close();

  const ranked = [...trials].sort((a, b) => (a.swd ?? Infinity) - (b.swd ?? Infinity));
  console.log(`rank  lr        SWD x1e3  (after ${iters} iterations, seed ${base.seed})`);
  ranked.forEach((t, i) => console.log(`${String(i + 1).padEnd(6)}${String(t.lr).padEnd(10)}${t.swd !== null ? t.swd.toFixed(1) : `collapsed: ${t.collapsed}`}`));
  const winner = ranked[0];
  if (winner.swd === null) {
    console.log('every learning rate collapsed: try smaller ones, e.g. --lrs 5e-5,1e-4,2e-4');
    return 1;
  }
  const keep = Object.entries(flags).filter(([k, v]) => !['lrs', 'iters', 'patience', 'help'].includes(k) && v !== undefined && v !== false)
    .map(([k, v]) => `--${k} ${/^[\w./:@=+-]+$/.test(String(v)) ? v : `'${String(v)}'`}`);
  console.log(`train with the winner: ${commandLine('train')} ${[...keep, '--lr', String(winner.lr)].join(' ')}`);
  return 0;
}

runMain(() => main(process.argv.slice(2)));
