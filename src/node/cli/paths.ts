// File names inside a run folder (RUN/), shared by train, generate, eval and export.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

export const CHECKPOINT_FILE = 'checkpoint.safetensors'; // the latest checkpoint, replaced atomically
export const BEST_FILE = 'best.safetensors'; // the checkpoint of the epoch with the lowest SWD (log.jsonl 'eval' lines)

/** The file a `--checkpoint FILE|RUN` flag names: the file itself, or a run folder's latest checkpoint. */
export function checkpointFile(flag: string | boolean | undefined, usage: string): string {
  if (!flag) throw new Error(`--checkpoint is required\n${usage}`);
  let file = path.resolve(String(flag));
  if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, CHECKPOINT_FILE);
  if (!existsSync(file)) throw new Error(`checkpoint not found: ${file}`);
  return file;
}
