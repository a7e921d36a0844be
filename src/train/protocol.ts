// The small HTTP API between the dashboard (web/server-api.ts) and `npm run train:chrome`
// (src/node/cli/train-chrome.ts), which serves it in front of Vite on 127.0.0.1. Types only and route
// names: the page and the Node server both import this file, so it lives in src/train, the code both
// hosts share (src/ never imports from web/).
//
//   GET  /api/run                      → RunDescription (JSON)
//   GET  /api/batch?epoch=E&index=I    → batch I of epoch E as uint8 HWC RGB bytes, from the Node cache
//                                        with BatchLoader's seeded shuffle (so batches equal `npm run train`'s)
//   GET  /api/checkpoint               → RUN/checkpoint.safetensors (404 when there is none)
//   GET  /api/heldout                  → the run's held-out photos (--holdout) as uint8 HWC RGB bytes, for the SWD
//   POST /api/log                      ← one log entry (JSON), appended to RUN/log.jsonl
//   POST /api/samples?name=N&width=W&height=H  ← RGBA bytes → RUN/samples/N.png; answers {file}
//   POST /api/checkpoint[?keep=epoch-NNN][&best=1] ← safetensors bytes → RUN/checkpoint.safetensors (atomic), and with
//                                        keep also RUN/checkpoint-epoch-NNN.safetensors, with best RUN/best.safetensors; answers {file}
//   POST /api/event                    ← PageEvent (JSON): progress for the terminal, the end of the run
//   GET  /api/tuning?adapter=KEY        → the conv tuner's kept choices for that adapter (empty when none yet)
//   POST /api/tuning?adapter=KEY        ← the choices (JSON text), kept under Node's cache folder (src/node/tune-store.ts),
//                                        since each train:chrome run starts Chromium with a fresh profile
import type { StepStats, TrainingConfig } from './gan.ts';
import type { Evaluation, LoopOutcome } from './loop.ts';
import type { PageSettings } from './run-settings.ts';

export const API = '/api';

export interface RunDescription {
  runDir: string;
  /** the model and its optimisation, a resume's new --lr and --beta1 included */
  config: TrainingConfig;
  /**
   * every setting the page applies, by flag (src/train/run-settings.ts: the rows marked 'page'); null:
   * none (--max-iters: no limit); --tune-budget 0: no limit
   */
  settings: PageSettings;
  /** the commands to run after a divergence without and with a kept checkpoint, {lr} where the learning rate goes */
  retryCommand: string;
  resumeCommand: string;
  batchesPerEpoch: number;
  images: number;
  skipped: number;
  /** true when RUN/checkpoint.safetensors is to be continued (--resume) */
  resume: boolean;
  checkpointFile: string;
  /** photos held out of training (GET /api/heldout): the page computes their SWD at each epoch's end; 0: none */
  heldOut: number;
  /** the run's lowest SWD so far (a resume), null when none */
  bestSwd: number | null;
}

export type PageEvent =
  | { type: 'adapter'; line: string; software: boolean }
  | { type: 'epoch-start'; epoch: number; startIndex: number; batchesPerEpoch: number }
  | { type: 'iteration'; epoch: number; batch: number; batchesPerEpoch: number; iteration: number; stats: StepStats; imagesPerSecond: number }
  | { type: 'epoch-end'; epoch: number }
  | { type: 'eval'; epoch: number; evaluation: Evaluation; best: boolean }
  | { type: 'message'; text: string }
  | { type: 'kernel-trace'; trace: string }
  | { type: 'end'; outcome: LoopOutcome }
  | { type: 'error'; message: string };
