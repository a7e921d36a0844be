// npm run export -- --checkpoint RUN|FILE [--what G|D|all] [--dtype f32|f16] --out FILE
// Writes the weights of a checkpoint as a plain PyTorch state_dict in safetensors, which
// safetensors.torch.load_file + load_state_dict(strict=True) take as they are: the keys of PyTorch's DCGAN
// example (main.0.weight, main.1.running_mean, main.1.num_batches_tracked, ...) in its order, floats in
// F32 or F16, the batchnorm counters I64. G or D alone has no prefix; `all` puts netG. / netD. in front.
// No GPU work: bytes in, bytes out.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../files.ts';
import { encodeSafetensors, type SafeTensor } from '../../train/safetensors.ts';
import { ROLE_NAMES, withFloatDtype, type ModelRole } from '../../train/state-dict.ts';
import { readWeightsFile } from '../../train/weights-file.ts';
import { hasAverage } from '../../train/checkpoint.ts';
import { SAMPLE_WEIGHTS, parseChoice } from '../../train/gan.ts';
import { commandLine, parseFlags } from './args.ts';
import { runMain } from './main.ts';
import { checkpointFile } from './paths.ts';

const USAGE = `usage: ${commandLine('export')} --checkpoint RUN|FILE [--what G|D|all] [--dtype f32|f16] [--weights ema|plain] --out FILE.safetensors`;
const FLAGS = {
  weights: { type: 'string' },
  checkpoint: { type: 'string' }, what: { type: 'string' }, dtype: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

async function main(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, USAGE);
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const file = checkpointFile(flags.checkpoint, USAGE);
  if (!flags.out) throw new Error(`--out FILE is required: where to write the state_dict\n${USAGE}`);
  const what = String(flags.what ?? 'G');
  const roles: ModelRole[] | null = ({ G: ['G'], D: ['D'], all: ['G', 'D'] } as Record<string, ModelRole[]>)[what] ?? null;
  if (!roles) throw new Error(`--what must be G, D or all, got '${what}'`);
  const dtype = String(flags.dtype ?? 'f32').toUpperCase();
  if (dtype !== 'F32' && dtype !== 'F16') throw new Error(`--dtype must be f32 or f16, got '${flags.dtype}'`);

  const out = path.resolve(String(flags.out));
  if (out === file) throw new Error(`--out ${out} is the checkpoint itself: choose another file`);
  const weights = readWeightsFile(readFileSync(file), file);

  // G is the moving average (emaG.: a whole state_dict of the same keys) when the checkpoint keeps one, as
  // generate draws; --weights plain gives G's own
  const which = parseChoice('weights', String(flags.weights ?? 'ema'), SAMPLE_WEIGHTS);
  const average = which === 'ema' && weights.checkpoint && hasAverage(weights.checkpoint) ? weights.checkpoint : null;
  const tensors = new Map<string, SafeTensor>();
  for (const role of roles) {
    const state = weights.models[role];
    if (!state) throw new Error(`${file} has no ${ROLE_NAMES[role]}: export --what ${Object.keys(weights.models).join(' or ')}`);
    const prefix = roles.length > 1 ? `net${role}.` : '';
    const source = role === 'G' && average
      ? new Map([...average.tensors].filter(([k]) => k.startsWith('emaG.')).map(([k, t]) => [k.slice(5), t])) : state.tensors;
    for (const [key, t] of withFloatDtype(source, dtype)) tensors.set(prefix + key, t);
  }
  const sizes = Object.assign({}, ...roles.map((r) => weights.models[r]!.sizes)) as Record<string, number>;
  const bytes = encodeSafetensors(tensors, {
    // read by nothing that loads it (load_file ignores metadata): what it is, for a person
    exported_by: 'webgpu-dcgan npm run export',
    models: roles.map((r) => `${roles.length > 1 ? `net${r}.` : ''}${ROLE_NAMES[r]}${r === 'G' && average ? ' (the moving average)' : ''}`).join(', '),
    sizes: JSON.stringify(sizes),
    ...(weights.checkpoint ? { iteration: String(weights.checkpoint.iteration) } : {}),
  });
  writeFileAtomic(out, bytes);
  const keys = roles.length > 1 ? 'keys under netG. and netD. (strip the prefix for each model)' : 'keys without a prefix';
  console.log(`wrote ${out}: ${roles.map((r) => ROLE_NAMES[r]).join(' and ')} state_dict, ${tensors.size} tensors in ${dtype} (counters I64), ` +
    `${(bytes.length / 2 ** 20).toFixed(2)} MiB, ${keys}; sizes ${JSON.stringify(sizes)}`);
  return 0;
}

runMain(() => main(process.argv.slice(2)));
