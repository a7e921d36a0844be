// npm run train -- --data DIR [--out RUN] [--epochs N] ...   (see USAGE)
// Trains the DCGAN on a folder of photos: progress bar, JSON-lines log, sample grids of a fixed noise
// batch, a checkpoint every epoch and on Ctrl-C (atomic), --resume that continues exactly, and a guard
// that stops a diverged run with advice.
import { existsSync, readFileSync, appendFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { nodeDevice } from '../../node/webgpu.ts';
import { writeFileAtomic, writePng } from '../../node/files.ts';
import { prepareDataset, BatchLoader, ProgressBar } from '../data/index.ts';
import { GanTraining, type StepStats, type TrainingConfig } from '../gan.ts';
import { decodeCheckpoint, encodeCheckpoint, restoreTraining, type TrainingPosition } from '../checkpoint.ts';
import { DivergenceGuard } from '../guard.ts';
import { imageGrid } from '../images.ts';
import { DEFAULT_CONFIG, stridedLayers } from '../../model/dcgan.ts';
import { numberFlag, parseFlags } from './args.ts';
import { runMain } from './main.ts';
import { CHECKPOINT_FILE } from './paths.ts';

const USAGE = `usage: npm run train -- --data DIR [--match 'dog.*'] [--out RUN] [--epochs 25] [--batch-size 64]
       [--image-size 64] [--ngf 64] [--ndf 64] [--nz 100] [--lr 0.0002] [--beta1 0.5] [--seed 1]
       [--max-iters N] [--sample-every 100] [--patience 50] [--cache-dir DIR]
   or: npm run train -- --resume RUN [--epochs N] [--max-iters N]`;

const FLAGS = {
  data: { type: 'string' }, match: { type: 'string' }, out: { type: 'string' }, resume: { type: 'string' },
  epochs: { type: 'string' }, 'batch-size': { type: 'string' }, 'image-size': { type: 'string' },
  ngf: { type: 'string' }, ndf: { type: 'string' }, nz: { type: 'string' }, lr: { type: 'string' },
  beta1: { type: 'string' }, seed: { type: 'string' }, 'max-iters': { type: 'string' },
  'sample-every': { type: 'string' }, patience: { type: 'string' }, 'cache-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What a run needs besides the training config; saved in RUN/run.json so --resume needs no other flags. */
interface RunSettings {
  dataDir: string;
  match?: string;
  epochs: number;
  sampleEvery: number;
  patience: number;
  cacheDir?: string;
}

async function main(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, USAGE);
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const n = (name: string, fallback: number, o?: Parameters<typeof numberFlag>[3]) => numberFlag(flags, name, fallback, o);

  let runDir: string;
  let config: TrainingConfig;
  let settings: RunSettings;
  let checkpointBytes: Uint8Array | null = null;
  if (flags.resume) {
    runDir = path.resolve(String(flags.resume));
    const file = path.join(runDir, CHECKPOINT_FILE);
    if (!existsSync(file)) throw new Error(`nothing to resume: ${file} does not exist (give the run folder that --out named)`);
    checkpointBytes = readFileSync(file);
    config = decodeCheckpoint(checkpointBytes, file).config;
    const saved = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunSettings;
    settings = { ...saved, epochs: n('epochs', saved.epochs, { min: 1 }), dataDir: flags.data ? String(flags.data) : saved.dataDir };
  } else {
    if (!flags.data) throw new Error(`--data DIR is required: the folder of photos to train on\n${USAGE}`);
    const imageSize = n('image-size', DEFAULT_CONFIG.imageSize, { min: 8 });
    stridedLayers(imageSize); // refuses sizes that are not a power of two
    config = {
      model: { imageSize, nz: n('nz', DEFAULT_CONFIG.nz, { min: 1 }), ngf: n('ngf', DEFAULT_CONFIG.ngf, { min: 1 }), ndf: n('ndf', DEFAULT_CONFIG.ndf, { min: 1 }), nc: 3 },
      batchSize: n('batch-size', 64, { min: 2 }),
      lr: n('lr', 2e-4, { integer: false, min: 0 }),
      beta1: n('beta1', 0.5, { integer: false, min: 0, max: 0.999999 }),
      seed: n('seed', 1, { min: 0, max: 2 ** 32 - 1 }),
    };
    settings = {
      dataDir: String(flags.data),
      match: flags.match as string | undefined,
      epochs: n('epochs', 25, { min: 1 }),
      sampleEvery: n('sample-every', 100, { min: 1 }),
      patience: n('patience', 50, { min: 1 }),
      cacheDir: flags['cache-dir'] as string | undefined,
    };
    runDir = path.resolve(String(flags.out ?? path.join('runs', new Date().toISOString().replace(/[:.]/g, '-'))));
    if (existsSync(path.join(runDir, CHECKPOINT_FILE))) {
      throw new Error(`${runDir} already holds a run: continue it with --resume ${flags.out ?? runDir}, or choose another --out`);
    }
  }
  const maxIters = n('max-iters', Infinity, { min: 1 });
  mkdirSync(path.join(runDir, 'samples'), { recursive: true });
  writeFileAtomic(path.join(runDir, 'run.json'), JSON.stringify({ ...settings, config }, null, 2));

  const { adapter } = await nodeDevice();
  const { cache, report } = await prepareDataset({
    dataDir: settings.dataDir, match: settings.match, imageSize: config.model.imageSize, cacheDir: settings.cacheDir,
  });
  const loader = new BatchLoader(cache, { batchSize: config.batchSize, seed: config.seed });

  const training = new GanTraining(config);
  let position: TrainingPosition = { epoch: 0, batchInEpoch: 0 };
  if (checkpointBytes) {
    const checkpoint = decodeCheckpoint(checkpointBytes, CHECKPOINT_FILE);
    restoreTraining(training, checkpoint);
    position = checkpoint.position;
    console.error(`resuming ${runDir} at epoch ${position.epoch + 1}, iteration ${training.iteration}`);
  }
  const logFile = path.join(runDir, 'log.jsonl');
  if (!checkpointBytes) rmSync(logFile, { force: true });
  const log = (entry: object) => appendFileSync(logFile, JSON.stringify(entry) + '\n');
  if (training.iteration === 0) log({ event: 'start', adapter, config, data: { images: report.count, skipped: report.skipped.length } });

  const saveCheckpoint = async (at: TrainingPosition) => {
    writeFileAtomic(path.join(runDir, CHECKPOINT_FILE), await encodeCheckpoint(training, at));
  };
  const saveSamples = async (name: string) => {
    const pixels = await training.sample();
    const count = training.fixedNoise.shape[0];
    const file = path.join(runDir, 'samples', `${name}.png`);
    writePng(file, imageGrid(pixels, count, 3, config.model.imageSize));
    return file;
  };

  let interrupted = false;
  const onInterrupt = () => {
    if (interrupted) process.exit(130); // a second Ctrl-C: leave now (the last checkpoint is intact)
    interrupted = true;
    console.error('\ninterrupted: finishing this iteration and saving a checkpoint (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onInterrupt);

  const guard = new DivergenceGuard(config.lr, settings.patience);
  const perEpoch = loader.batchesPerEpoch;
  if (position.batchInEpoch >= perEpoch) position = { epoch: position.epoch + 1, batchInEpoch: 0 };
  const batch = new Float32Array(config.batchSize * 3 * config.model.imageSize ** 2);
  const fmt = (s: StepStats) =>
    `Loss_D ${s.lossD.toFixed(4)} Loss_G ${s.lossG.toFixed(4)} D(x) ${s.dReal.toFixed(4)} D(G(z)) ${s.dFakeBefore.toFixed(4)}/${s.dFakeAfter.toFixed(4)}`;

  for (let epoch = position.epoch; epoch < settings.epochs; epoch++) {
    const start = epoch === position.epoch ? position.batchInEpoch : 0;
    const bar = new ProgressBar({ total: perEpoch, label: `epoch ${epoch + 1}/${settings.epochs}`, unit: 'it' });
    const started = performance.now();
    for (let index = start; index < perEpoch; index++) {
      await loader.batch(epoch, index, batch);
      const stats = await training.step(batch);
      const imagesPerSecond = ((index - start + 1) * config.batchSize) / ((performance.now() - started) / 1000);
      log({ epoch: epoch + 1, batch: index + 1, iteration: training.iteration, ...stats, imagesPerSecond });
      bar.update(index + 1, `${fmt(stats)} ${imagesPerSecond.toFixed(1)} img/s`);
      try {
        guard.check(stats, training.iteration); // before any checkpoint of the bad state is written
      } catch (e) {
        bar.finish();
        const kept = existsSync(path.join(runDir, CHECKPOINT_FILE)) ? `the last good checkpoint is kept in ${path.join(runDir, CHECKPOINT_FILE)}` : 'no checkpoint was written yet';
        throw new Error(`${(e as Error).message} Stopped; ${kept}.`);
      }
      if (training.iteration % settings.sampleEvery === 0) await saveSamples(`iter-${String(training.iteration).padStart(6, '0')}`);
      if (interrupted || training.iteration >= maxIters) {
        bar.finish();
        await saveCheckpoint({ epoch, batchInEpoch: index + 1 });
        const grid = await saveSamples('latest');
        console.error(`${interrupted ? 'stopped' : `reached --max-iters ${maxIters}`} at iteration ${training.iteration}; checkpoint ${path.join(runDir, CHECKPOINT_FILE)}, samples ${grid}`);
        training.dispose();
        return interrupted ? 130 : 0;
      }
    }
    bar.finish();
    const grid = await saveSamples(`epoch-${String(epoch + 1).padStart(3, '0')}`);
    await saveCheckpoint({ epoch: epoch + 1, batchInEpoch: 0 });
    log({ event: 'epoch', epoch: epoch + 1, iteration: training.iteration, samples: grid });
  }
  console.error(`done: ${settings.epochs} epochs, ${training.iteration} iterations; run folder ${runDir}`);
  training.dispose();
  return 0;
}

runMain(() => main(process.argv.slice(2)));
