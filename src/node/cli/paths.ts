// File names inside a run folder (RUN/), shared by train, generate, eval and export.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

/**
 * The generator that ships with the package (G's weights from a run on a GPU machine; models/README.md
 * says how it was trained): what generate draws from when no --checkpoint is given.
 */
export const SHIPPED_GENERATOR = fileURLToPath(new URL('../../../models/generator.safetensors', import.meta.url));

/** generate's weights: `--checkpoint`'s file, or without one the shipped generator, or one line saying there is none. */
export function generatorFile(flag: string | boolean | undefined, usage: string, shipped = SHIPPED_GENERATOR): { file: string; shipped: boolean } {
  if (flag) return { file: checkpointFile(flag, usage), shipped: false };
  if (!existsSync(shipped)) {
    throw new Error(`no --checkpoint given, and this copy ships no trained generator (${shipped}): give --checkpoint RUN|FILE (a run of npm run train, or G's weights)\n${usage}`);
  }
  return { file: shipped, shipped: true };
}
