// npm run train -- --data DIR [--out RUN] [--epochs N] ...   (see USAGE)
// Trains the DCGAN on a folder of photos: progress bar, JSON-lines log, sample grids of a fixed noise
// batch, a checkpoint every epoch and on Ctrl-C (atomic), --resume that continues exactly, and a guard
// that stops a diverged run with advice. The loop itself is src/train/loop.ts, shared with the browser
// trainer (`npm run train:chrome`, web/); this file gives it the run folder and the terminal.
import { nodeDevice } from '../../node/webgpu.ts';
import { GanTraining } from '../gan.ts';
import { restoreTraining } from '../checkpoint.ts';
import { runTraining } from '../loop.ts';
import { runMain } from './main.ts';
import { parseTrainFlags, prepareRun, TRAIN_FLAGS_USAGE } from './run-setup.ts';
import { RunFiles, TerminalProgress, reportOutcome } from './run-files.ts';

const USAGE = `usage: npm run train -- ${TRAIN_FLAGS_USAGE}
   or: npm run train -- --resume RUN [--epochs N] [--max-iters N]`;

async function main(argv: string[]): Promise<number> {
  const flags = parseTrainFlags(argv, USAGE);
  if (!flags) return 0;
  const run = await prepareRun(flags, USAGE);
  const { adapter } = await nodeDevice();
  const { config, settings, checkpoint, loader } = run;

  const training = new GanTraining(config);
  if (checkpoint) {
    restoreTraining(training, checkpoint);
    console.error(`resuming ${run.runDir} at epoch ${checkpoint.position.epoch + 1}, iteration ${training.iteration}`);
  }
  const files = new RunFiles(run.runDir);
  if (training.iteration === 0) files.log({ event: 'start', adapter, config, data: { images: run.report.count, skipped: run.report.skipped.length } });

  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130); // a second Ctrl-C: leave now (the last checkpoint is intact)
    interrupted = true;
    console.error('\ninterrupted: finishing this iteration and saving a checkpoint (Ctrl-C again to quit at once)');
  });

  const progress = new TerminalProgress(settings.epochs);
  const outcome = await runTraining(
    training,
    {
      batch: (epoch, index, target) => loader.batch(epoch, index, target),
      log: (entry) => files.log(entry),
      saveSamples: async (name, grid) => files.saveSamples(name, grid),
      saveCheckpoint: async (bytes) => files.saveCheckpoint(bytes),
      keptCheckpoint: () => files.keptCheckpoint(),
      shouldStop: () => interrupted,
      onEpochStart: (epoch, start, total) => progress.epochStart(epoch, start, total),
      onIteration: (report) => progress.iteration(report),
      onEpochEnd: () => progress.epochEnd(),
    },
    {
      epochs: settings.epochs, maxIters: run.maxIters, sampleEvery: settings.sampleEvery, patience: settings.patience,
      batchesPerEpoch: loader.batchesPerEpoch, position: checkpoint?.position ?? { epoch: 0, batchInEpoch: 0 },
    },
  ).finally(() => training.dispose());
  return reportOutcome(outcome, files, settings.epochs, run.maxIters);
}

runMain(() => main(process.argv.slice(2)));
