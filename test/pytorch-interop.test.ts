// Weights both ways with the real PyTorch (Debian's python3-torch; test/support/torch_dcgan.py builds the
// example's Generator and Discriminator and reads and writes safetensors without the safetensors package):
// - PyTorch → here: a state_dict PyTorch saved (F32, BF16, F64, F16; with and without netG./netD.) draws
//   here what PyTorch draws, G(z) for the same z in eval mode, in the engine and through `npm run generate`;
//   `train --init-from` starts from it.
// - here → PyTorch: `npm run export` of a checkpoint trained here loads with load_state_dict(strict=True),
//   dtypes as PyTorch has them, and G(z) and D(x) are PyTorch's; F16 rounds as torch's .half().
// Tiny sizes (32 px, ngf = ndf = 8, nz 16): seconds on lavapipe. Skips with a message without torch.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import { useGpu } from './support/node-device.ts';
import { writeSyntheticPhotos } from './support/photos.ts';
import { Tensor, tidy } from '../src/gpu/tensor.ts';
import { noGrad } from '../src/autograd/tape.ts';
import { randomNormal } from '../src/kernels/random.ts';
import { Generator, seedStream, type DcganConfig } from '../src/model/dcgan.ts';
import { BatchNorm2d } from '../src/model/layers.ts';
import { GanTraining, sampleImages } from '../src/train/gan.ts';
import { encodeCheckpoint } from '../src/train/checkpoint.ts';
import { decodeSafetensors } from '../src/train/safetensors.ts';
import { loadModelState } from '../src/train/state-dict.ts';
import { readWeightsFile } from '../src/train/weights-file.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');
const HELPER = path.join(ROOT, 'test/support/torch_dcgan.py');
const which = (tool: string): string | null => spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim() || null;
const python = ['python3', '/usr/bin/python3'].map(which).find((p) => p && spawnSync(p, ['-c', 'import torch']).status === 0);

const SIZES: DcganConfig = { imageSize: 32, nz: 16, ngf: 8, ndf: 8, nc: 3 };
const SIZE_FLAGS = ['--image-size', '32', '--nz', '16', '--ngf', '8', '--ndf', '8'];
/** float32 noise: convs summed in another order differ by ~1e-7 here (outputs spread ~0.01–0.1); a wrong weight by far more */
const FLOAT_NOISE = 1e-4;

async function torch(args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(python!, [HELPER, ...args], { cwd: ROOT, timeout: 120_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

async function cli(script: 'train' | 'generate' | 'export', args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', '--import', './scripts/register-wgsl.mjs', `src/node/cli/${script}.ts`, ...args], { cwd: ROOT, timeout: 240_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const readFloats = (file: string) => {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const maxDifference = (a: Float32Array, b: Float32Array) => {
  expect(a.length).toBe(b.length);
  return a.reduce((worst, v, i) => Math.max(worst, Math.abs(v - b[i])), 0);
};
const spread = (a: Float32Array) => {
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  return Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
};

/** G(z) here, eval mode, from a weights file as generate reads it. */
async function drawHere(file: string, z: Tensor): Promise<Float32Array> {
  const state = readWeightsFile(readFileSync(file), file).models.G!;
  const generator = new Generator({ ...SIZES, ...state.sizes }, seedStream(0));
  loadModelState(generator, state);
  const pixels = await sampleImages(generator, z);
  generator.dispose();
  return pixels;
}

/** D(x) here in eval mode: the probability, as PyTorch's Discriminator returns it. */
async function judgeHere(training: GanTraining, x: Tensor): Promise<Float32Array> {
  const D = training.discriminator;
  D.setTraining(false);
  const out = noGrad(() => tidy(() => D.forward(x)));
  D.setTraining(true);
  const values = await out.read();
  out.dispose();
  return values;
}

if (!python) {
  const reason = 'no python3 with torch (Debian: apt-get install python3-torch, which scripts/setup.sh installs)';
  console.warn(`test/pytorch-interop.test.ts skipped: ${reason}`);
  describe.skip(`PyTorch interop (skipped: ${reason})`, () => {
    it('weights both ways with PyTorch', () => undefined);
  });
} else {
  describe('PyTorch interop', () => {
    useGpu();
    let dir: string;
    const at = (name: string) => path.join(dir, name);
    beforeAll(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'dcgan-pytorch-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    /** z as generate draws it for --seed `seed`, also written for PyTorch */
    async function noise(count: number, seed: number, file: string): Promise<Tensor> {
      const z = randomNormal([count, SIZES.nz, 1, 1], 0, 1, seed);
      writeFileSync(file, await z.read());
      return z;
    }

    it("a state_dict PyTorch saved draws here what PyTorch draws (F32, BF16, F64, F16; bare, netG., netG. with netD.)", async () => {
      const z = await noise(6, 11, at('z.bin'));
      const cases: [string, string[], string][] = [
        ['f32-bare', ['--which', 'G'], ''],
        ['bf16-prefixed', ['--which', 'G', '--prefix', '--dtype', 'BF16'], 'netG.'],
        ['f64-both', ['--which', 'GD', '--dtype', 'F64', '--seed', '2'], 'netG.'],
        ['f16-bare', ['--which', 'G', '--dtype', 'F16', '--seed', '3'], ''],
      ];
      const differences: Record<string, number> = {};
      for (const [name, saveArgs, prefix] of cases) {
        await torch(['save', at(`${name}.safetensors`), ...saveArgs, ...SIZE_FLAGS]);
        await torch(['run-g', at(`${name}.safetensors`), at('z.bin'), at(`${name}.out`), '--prefix', prefix, ...SIZE_FLAGS]);
        const theirs = readFloats(at(`${name}.out`));
        expect(spread(theirs), `${name}: PyTorch's G(z) is not flat`).toBeGreaterThan(0.005);
        differences[name] = maxDifference(await drawHere(at(`${name}.safetensors`), z), theirs);
      }
      console.log(`max |G(z) here − G(z) in PyTorch| per file: ${JSON.stringify(differences)}`);
      for (const [name, d] of Object.entries(differences)) expect(d, name).toBeLessThan(FLOAT_NOISE);
      z.dispose();

      // npm run generate draws the same z (its --seed) to the same pixels, up to a rounding at a byte's edge
      // (--bn eval: PyTorch's side runs model.eval(), the running statistics)
      const g = await cli('generate', ['--checkpoint', at('f64-both.safetensors'), '--n', '6', '--seed', '11', '--out', at('drawn'), '--kernel-set', 'simple', '--bn', 'eval']);
      expect(g.code, g.stderr).toBe(0);
      expect(g.stderr).toMatch(/generating with the simple kernels from a state_dict with G nz 16, ngf 8 and D ndf 8, 32x32, 3 channels \(F64 converted to f32\)/);
      const theirs = readFloats(at('f64-both.out'));
      const plane = 32 * 32;
      let off = 0;
      let worst = 0;
      for (let n = 0; n < 6; n++) {
        const png = PNG.sync.read(readFileSync(at(`drawn/dog-000${n}.png`)));
        for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) {
          const expected = Math.max(0, Math.min(255, Math.round((theirs[(n * 3 + c) * plane + p] + 1) * 127.5)));
          const d = Math.abs(png.data[p * 4 + c] - expected);
          worst = Math.max(worst, d);
          if (d > 0) off++;
        }
      }
      console.log(`generate vs PyTorch: ${off} of ${6 * 3 * plane} pixel values differ, by at most ${worst}`);
      expect(worst).toBeLessThanOrEqual(1);
      expect(off).toBeLessThan(6 * 3 * plane * 0.001);
    });

    it('a checkpoint made here, exported, loads in PyTorch with strict=True and computes the same G(z) and D(x)', async () => {
      const training = new GanTraining({ model: SIZES, batchSize: 4, lr: 2e-4, beta1: 0.5, seed: 3 });
      const real = Float32Array.from({ length: 4 * 3 * 32 * 32 }, (_, i) => Math.sin(i * 0.37));
      for (let i = 0; i < 2; i++) await training.submitStep(real).stats;
      // batchnorm running statistics near the batches' (momentum 0.1), as after long training: else G(z)
      // in eval mode is nearly flat and says little
      for (let i = 0; i < 30; i++) {
        noGrad(() => tidy(() => void training.discriminator.forward(training.generator.forward(randomNormal([16, SIZES.nz, 1, 1], 0, 1, 100 + i)))));
      }
      const counters = Object.fromEntries(training.generator.layers.flatMap((l, i) => (l instanceof BatchNorm2d ? [[`main.${i}.num_batches_tracked`, l.numBatchesTracked]] : [])));
      expect(Object.values(counters)).toEqual([32, 32, 32]);
      writeFileSync(at('checkpoint.safetensors'), await encodeCheckpoint(training, { epoch: 0, batchInEpoch: 2 }));
      const z = await noise(5, 4, at('z5.bin'));
      const x = Tensor.fromArray(Float32Array.from({ length: 5 * 3 * 32 * 32 }, (_, i) => Math.cos(i * 0.11)), [5, 3, 32, 32]);
      writeFileSync(at('x.bin'), await x.read());

      const exports: [string, string[]][] = [['G', ['--what', 'G']], ['D', ['--what', 'D']], ['all', ['--what', 'all']], ['all16', ['--what', 'all', '--dtype', 'f16']]];
      for (const [name, args] of exports) {
        const r = await cli('export', ['--checkpoint', at('checkpoint.safetensors'), ...args, '--out', at(`export-${name}.safetensors`)]);
        expect(r.code, r.stderr).toBe(0);
      }
      expect([...decodeSafetensors(readFileSync(at('export-G.safetensors'))).tensors.keys()].slice(0, 3)).toEqual(['main.0.weight', 'main.1.weight', 'main.1.bias']);

      const ranG = await torch(['run-g', at('export-G.safetensors'), at('z5.bin'), at('g.out'), ...SIZE_FLAGS]);
      const ranD = await torch(['run-d', at('export-D.safetensors'), at('x.bin'), at('d.out'), ...SIZE_FLAGS]);
      const ranAll = await torch(['run-d', at('export-all.safetensors'), at('x.bin'), at('d-all.out'), '--prefix', 'netD.', ...SIZE_FLAGS]);
      const ran16 = await torch(['run-g', at('export-all16.safetensors'), at('z5.bin'), at('g16.out'), '--prefix', 'netG.', ...SIZE_FLAGS]);
      for (const r of [ranG, ranD, ranAll, ran16]) expect(r.load_state_dict).toBe('<All keys matched successfully>');
      const dtypes = ran16.dtypes as Record<string, string>;
      expect(new Set(Object.entries(dtypes).map(([k, v]) => `${k.endsWith('num_batches_tracked') ? 'counter' : 'float'} ${v}`))).toEqual(new Set(['counter I64', 'float F16']));
      expect(ranG.num_batches_tracked).toEqual(counters);
      expect(await torch(['compare-half', at('export-all.safetensors'), at('export-all16.safetensors')])).toMatchObject({ differ: 0, keys_equal: true });

      const oursG = await sampleImages(training.generator, z);
      const oursD = await judgeHere(training, x);
      const differences = {
        'G(z) f32': maxDifference(oursG, readFloats(at('g.out'))),
        'D(x) f32': maxDifference(oursD, readFloats(at('d.out'))),
        'D(x) all': maxDifference(oursD, readFloats(at('d-all.out'))),
        'G(z) f16, both from the f16 file': maxDifference(await drawHere(at('export-all16.safetensors'), z), readFloats(at('g16.out'))),
      };
      console.log(`max |here − PyTorch| for exported files: ${JSON.stringify(differences)}`);
      expect(spread(oursG)).toBeGreaterThan(0.005);
      expect(spread(oursD)).toBeGreaterThan(1e-4);
      for (const [name, d] of Object.entries(differences)) expect(d, name).toBeLessThan(FLOAT_NOISE);
      for (const t of [z, x]) t.dispose();
      training.dispose();
    });

    it('train --init-from a PyTorch state_dict starts from its G and D (or G alone, D new, and says so)', async () => {
      await writeSyntheticPhotos(at('photos'), 8);
      await torch(['save', at('gd.safetensors'), '--which', 'GD', '--seed', '5', ...SIZE_FLAGS]);
      await torch(['save', at('g.safetensors'), '--which', 'G', '--seed', '5', ...SIZE_FLAGS]);
      const lr = 2e-4;
      const common = ['--data', at('photos'), '--batch-size', '4', '--max-iters', '1', '--lr', String(lr), '--tune', 'off', '--cache-dir', at('cache')];
      const both = await cli('train', ['--init-from', at('gd.safetensors'), '--out', at('run-gd'), ...common]);
      expect(both.code, both.stderr).toBe(0);
      expect(both.stderr).toMatch(/from iteration 0 with the weights of .*gd\.safetensors \(a state_dict with G nz 16, ngf 8 and D ndf 8, 32x32, 3 channels\): G and D from it/);
      const alone = await cli('train', ['--init-from', at('g.safetensors'), '--ndf', '4', '--out', at('run-g'), ...common]);
      expect(alone.code, alone.stderr).toBe(0);
      expect(alone.stderr).toMatch(/: G from it, D freshly initialised \(ndf 4: the file has no Discriminator\)/);

      // one Adam step moves each weight by at most lr (m̂/√v̂ = ±1 at step 1): every tensor is the file's, moved that little
      const start = decodeSafetensors(readFileSync(at('gd.safetensors'))).tensors;
      const after = decodeSafetensors(readFileSync(at('run-gd/checkpoint.safetensors'))).tensors;
      let worst = 0;
      for (const key of ['netG.main.0.weight', 'netG.main.9.weight', 'netD.main.0.weight', 'netD.main.8.weight', 'netG.main.1.weight', 'netD.main.3.bias']) {
        worst = Math.max(worst, maxDifference(after.get(key)!.data as Float32Array, start.get(key)!.data as Float32Array));
      }
      expect(worst).toBeGreaterThan(0);
      expect(worst).toBeLessThanOrEqual(lr * 1.01);
      const resumed = await cli('train', ['--resume', at('run-gd'), '--max-iters', '2', '--tune', 'off']);
      expect(resumed.code, resumed.stderr).toBe(0); // a run started from weights is a run like any other
      const refused = await cli('train', ['--resume', at('run-gd'), '--init-from', at('gd.safetensors')]);
      expect(refused.stderr).toMatch(/^error: give --resume RUN .* or --init-from FILE .*, not both$/m);
      const wrongSize = await cli('train', ['--init-from', at('gd.safetensors'), '--ngf', '16', ...common]);
      expect(wrongSize.stderr).toMatch(/^error: --ngf 16 does not match --init-from .*gd\.safetensors, whose shapes give --ngf 8: drop --ngf$/m);
    });
  });
}
