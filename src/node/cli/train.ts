// npm run train -- --data DIR [--out RUN] [--epochs N] ...   (see USAGE)
// Trains the DCGAN on a folder of photos: progress bar, JSON-lines log, sample grids of a fixed noise
// batch, a checkpoint every epoch, every --checkpoint-every minutes and at any stop signal (atomic),
// --resume that continues exactly, --init-from FILE that starts a run from given weights (a PyTorch
// state_dict too), one trainer per run folder (RUN/lock), and a guard that stops a diverged run with advice. The loop itself is src/train/loop.ts, shared with the browser trainer
// (`npm run train:chrome`, web/); this file gives it the run folder and the terminal.
import { nodeDevice } from '../webgpu.ts';
import { GanTraining } from '../../train/gan.ts';
import { restoreTraining } from '../../train/checkpoint.ts';
import { describeWeights, startFromWeights } from '../../train/weights-file.ts';
import { runTraining } from '../../train/loop.ts';
import { useKernelSet } from '../../kernels/kernel-set.ts';
import { adapterKey, trainingConvPasses, tuneBudgetText, tuneConvPlans, tuneProgressText } from '../../train/tune.ts';
import { tuningFileStore } from '../tune-store.ts';
import { defaultCacheDir } from '../data/index.ts';
import { kernelsDispatched } from '../../gpu/kernel.ts';
import { commandLine } from './args.ts';
import { runMain } from './main.ts';
import { parseTrainFlags, RESUME_USAGE, TRAIN_FLAGS_HELP, TRAIN_FLAGS_USAGE } from './run-flags.ts';
import { planRun } from './run-plan.ts';
import { checkFits, prepareRun } from './run-setup.ts';
import { RunFiles, TerminalProgress, reportOutcome } from './run-files.ts';
import { SwdEvaluator } from '../../metrics/swd.ts';
import { StopSignals } from './stop-signals.ts';

const USAGE = `usage: ${commandLine('train')} ${TRAIN_FLAGS_USAGE}
   or: ${commandLine('train')} --init-from FILE|RUN ...the flags above   (a new run from G's, or G's and D's, weights:
       a checkpoint or a PyTorch state_dict in safetensors; their shapes give --image-size, --nz, --ngf, --ndf)
   or: ${commandLine('train')} ${RESUME_USAGE}
${TRAIN_FLAGS_HELP}`;

async function main(argv: string[]): Promise<number> {
  const flags = parseTrainFlags(argv, USAGE);
  if (!flags) return 0;
  const stop = new StopSignals();
  const plan = planRun(flags, USAGE);
  const { device, adapter } = await nodeDevice();
  checkFits(plan.config, device.limits, 'this adapter');
  const run = await prepareRun(plan);
  const { config, settings, checkpoint, loader } = run;
  useKernelSet(settings.kernelSet); // before any kernel runs

  const training = new GanTraining(config);
  training.sampling = { ...training.sampling, bn: settings.bn };
  const files = new RunFiles(run.runDir);
  if (checkpoint) {
    restoreTraining(training, checkpoint);
    const changed = run.changed.length > 0 ? ` with ${run.changed.join(', ')}` : '';
    console.error(`resuming ${run.runDir} at epoch ${checkpoint.position.epoch + 1}, iteration ${training.iteration}${changed}; ${settings.kernelSet} kernels`);
    files.log({ event: 'resume', iteration: training.iteration, changed: run.changed, kernelSet: settings.kernelSet });
  } else {
    let from = '';
    if (run.init) {
      startFromWeights(training, run.init);
      const models = run.init.models.D ? 'G and D from it' : `G from it, D freshly initialised (ndf ${config.model.ndf}: the file has no Discriminator)`;
      from = `, from iteration 0 with the weights of ${run.init.source} (${describeWeights(run.init)}): ${models}`;
    }
    console.error(`training with the ${settings.kernelSet} kernels${from}`);
    const initFrom = run.init ? { initFrom: { file: run.init.source, models: Object.keys(run.init.models) } } : {};
    files.log({ event: 'start', adapter, config, kernelSet: settings.kernelSet, ...initFrom, data: { images: run.report.count, skipped: run.report.skipped.length, heldOut: loader.heldOut.length } });
  }

  if (settings.kernelSet === 'fast') {
    // conv plans measured on this adapter (kept per adapter under the cache folder: once per shape set)
    if (run.tune !== 'off') console.error(`choosing conv plans for this adapter, ${tuneBudgetText(run.tuneBudget)} (--tune off skips this)…`);
    const store = tuningFileStore(settings.cacheDir ?? defaultCacheDir(), adapterKey(adapter));
    const tuned = await tuneConvPlans(trainingConvPasses(training), {
      mode: run.tune, adapter, store, budgetSeconds: run.tuneBudget,
      log: (line) => { if (line.startsWith('note:')) console.error(line); }, onProgress: (p) => console.error(tuneProgressText(p)),
    });
    console.error(tuned.summary);
    files.log({ event: 'tune', mode: tuned.mode, tuned: tuned.tuned, kept: tuned.kept, skipped: tuned.skipped, seconds: tuned.seconds, changed: tuned.changed });
  }

  // SWD x 1e3 against the held-out photos at each epoch's end (none held out: a run from before --holdout)
  const heldOut = loader.heldOut;
  const evaluator = heldOut.length > 0 ? new SwdEvaluator(await run.cache.readImages(heldOut), heldOut.length, config.model.imageSize) : null;
  if (!evaluator) console.error('note: no photos held out (--holdout 0, or a run started before --holdout): no SWD at the epoch ends');
  const progress = new TerminalProgress(settings.epochs);
  stop.training = true;
  const outcome = await runTraining(
    training,
    {
      batch: (epoch, index, target) => loader.batch(epoch, index, target),
      log: (entry) => files.log(entry),
      saveSamples: async (name, grid) => files.saveSamples(name, grid),
      saveCheckpoint: async (bytes, _position, keepAs, best) => void files.saveCheckpoint(bytes, keepAs, best),
      evaluate: async () => evaluator && evaluator.evaluate((noise) => training.sample(noise), config.model.nz),
      onEvaluation: (epoch, evaluation, best) => progress.evaluation(epoch, evaluation, best),
      keptCheckpoint: () => files.keptCheckpoint(),
      shouldStop: () => stop.requested !== null,
      onEpochStart: (epoch, start, total) => progress.epochStart(epoch, start, total),
      onIteration: (report) => progress.iteration(report),
      onEpochEnd: () => progress.epochEnd(),
      onKernelTrace: (trace) => {
        process.stdout.write(`${trace}\n`);
        console.error(`kernel trace written to ${files.saveKernelTrace(trace)}`);
      },
    },
    {
      epochs: settings.epochs, maxIters: run.maxIters, sampleEvery: settings.sampleEvery, patience: settings.patience,
      batchesPerEpoch: loader.batchesPerEpoch, position: checkpoint?.position ?? { epoch: 0, batchInEpoch: 0 },
      checkpointEveryMs: settings.checkpointEvery * 60_000, keepEpochs: settings.keepEpochs, retryCommand: run.retryCommand,
      bestSwd: files.bestSwd(), traceKernels: run.traceKernels,
    },
  ).finally(async () => {
    training.dispose();
    // closed here, not left to the collector (which warns: DEP0137, "Closing a FileHandle on garbage collection")
    await run.cache.close();
  });
  // which kernel versions actually ran (Kernel.name of each), so a --kernel-set simple run can be checked
  files.log({ event: 'kernels', kernelSet: settings.kernelSet, dispatched: kernelsDispatched() });
  return reportOutcome(outcome, files, settings.epochs, run.maxIters, stop.exitCode ?? 130);
}

runMain(() => main(process.argv.slice(2)));
