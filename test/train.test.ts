// The command-line trainer and generator end to end on a tiny model and photos the test makes itself:
// finite losses, valid sample grids, a checkpoint that round-trips, resume = uninterrupted run,
// generate writes valid PNGs, and bad input gives a one-line error.
import { describe, expect, it, beforeAll } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import { useGpu } from './support/node-device.ts';
import { decodeCheckpoint, encodeCheckpoint, restoreTraining } from '../src/train/checkpoint.ts';
import { GanTraining } from '../src/train/gan.ts';
import { DivergenceGuard } from '../src/train/guard.ts';
import { loggable } from '../src/train/loop.ts';
import { writeSyntheticPhotos } from './support/photos.ts';
import { SHIPPED_GENERATOR, generatorFile } from '../src/node/cli/paths.ts';

useGpu();
const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'dcgan-train-test-'));
const photos = path.join(tmp, 'photos');
const TINY = ['--image-size', '16', '--ngf', '4', '--ndf', '4', '--nz', '8', '--batch-size', '4', '--sample-every', '2', '--cache-dir', path.join(tmp, 'cache')];

async function cli(script: 'train' | 'generate', args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', '--import', './scripts/register-wgsl.mjs', `src/node/cli/${script}.ts`, ...args],
      { cwd: ROOT, timeout: 240_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const logLines = (runDir: string) =>
  readFileSync(path.join(runDir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.iteration && !e.event);

function readPng(file: string): PNG {
  return PNG.sync.read(readFileSync(file));
}

beforeAll(() => writeSyntheticPhotos(photos), 60_000);

describe('npm run train / generate', () => {
  it('trains a tiny model: finite losses, a valid grid, a checkpoint', async () => {
    const out = path.join(tmp, 'smoke');
    const r = await cli('train', ['--data', photos, '--out', out, '--epochs', '2', ...TINY]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/WebGPU adapter: /);
    const lines = logLines(out);
    expect(lines).toHaveLength(4); // 12 photos less 1 held out (--holdout's default: a tenth) / batch 4 = 2 iterations per epoch
    // each epoch's end: SWD x 1e3 of 1 generated image against the held-out photo, and the best epoch's checkpoint
    const evals = readFileSync(path.join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'eval');
    expect(evals.map((e) => [e.epoch, e.images])).toEqual([[1, 1], [2, 1]]);
    for (const e of evals) expect(e.swd).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/epoch 1\/2: SWD x1e3 [\d.]+ \(16 px [\d.]+; 1 generated vs 1 held-out photos, [\d.]+ s\), the best yet: kept as best.safetensors/);
    expect(existsSync(path.join(out, 'best.safetensors'))).toBe(true);
    for (const l of lines) for (const k of ['lossD', 'lossG', 'dReal', 'dFakeBefore', 'dFakeAfter']) expect(Number.isFinite(l[k])).toBe(true);
    const grid = readPng(path.join(out, 'samples', 'epoch-002.png'));
    expect([grid.width, grid.height]).toEqual([8 * 18 + 2, 8 * 18 + 2]); // 64 samples of 16 px, 2 px borders
    const distinct = new Set<number>();
    for (let i = 0; i < grid.data.length; i += 4) distinct.add(grid.data.readUInt32BE(i));
    // not blank: the tiles hold more than one colour besides the black border (an untrained tiny G in eval
    // mode draws low-contrast images, so this asks for variation, not for dogs)
    expect(distinct.size).toBeGreaterThan(3);
    expect(existsSync(path.join(out, 'checkpoint.safetensors'))).toBe(true);
    // the default keeps G's moving average, warmed up (--ema 0.999, README "Sample quality")
    const kept = decodeCheckpoint(readFileSync(path.join(out, 'checkpoint.safetensors')), out);
    expect([kept.config.ema, kept.config.emaRampup, kept.tensors.has('emaG.main.0.weight')]).toEqual([0.999, 0.1, true]);
  });

  it('a checkpoint round-trips: decode, restore into a fresh model, encode gives the same tensors', async () => {
    const file = path.join(tmp, 'smoke', 'checkpoint.safetensors');
    const checkpoint = decodeCheckpoint(readFileSync(file), file);
    expect(checkpoint.tensors.get('netG.main.1.num_batches_tracked')?.dtype).toBe('I64');
    expect(checkpoint.tensors.has('netD.main.0.weight')).toBe(true);
    expect(checkpoint.tensors.has('optG.main.0.weight.exp_avg_sq')).toBe(true);
    const training = new GanTraining(checkpoint.config);
    restoreTraining(training, checkpoint);
    const again = decodeCheckpoint(await encodeCheckpoint(training, checkpoint.position), 'round trip');
    training.dispose();
    expect([...again.tensors.keys()]).toEqual([...checkpoint.tensors.keys()]);
    for (const [key, t] of checkpoint.tensors) expect(again.tensors.get(key)!.data, key).toEqual(t.data);
    expect(again.metadata).toEqual(checkpoint.metadata);
  });

  it('--resume continues with the same losses as an uninterrupted run', async () => {
    const whole = path.join(tmp, 'whole');
    const parts = path.join(tmp, 'parts');
    // --ema 0: no moving average (the error test below asks generate for one it does not have)
    expect((await cli('train', ['--data', photos, '--out', whole, '--epochs', '3', '--max-iters', '5', '--ema', '0', ...TINY])).code).toBe(0);
    expect((await cli('train', ['--data', photos, '--out', parts, '--epochs', '3', '--max-iters', '2', '--ema', '0', ...TINY])).code).toBe(0);
    const resumed = await cli('train', ['--resume', parts, '--max-iters', '5']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming .* iteration 2/);
    const strip = (l: Record<string, number>) => ({ ...l, imagesPerSecond: 0 });
    expect(logLines(parts).map(strip)).toEqual(logLines(whole).map(strip));
  });

  it('Ctrl-C finishes the iteration, writes a checkpoint that resumes, and exits 130', async () => {
    const out = path.join(tmp, 'interrupted');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--import', './scripts/register-wgsl.mjs', 'src/node/cli/train.ts', '--data', photos, '--out', out, '--epochs', '50', ...TINY],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const log = path.join(out, 'log.jsonl');
    // interrupt once training has started (the first iteration is logged)
    while (!(existsSync(log) && logLines(out).length > 0)) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/interrupted \(SIGINT\): finishing this iteration and saving a checkpoint/);
    const checkpoint = decodeCheckpoint(readFileSync(path.join(out, 'checkpoint.safetensors')), 'interrupted');
    expect(checkpoint.iteration).toBe(logLines(out).length);
    const resumed = await cli('train', ['--resume', out, '--max-iters', String(checkpoint.iteration + 1)]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(logLines(out).at(-1).iteration).toBe(checkpoint.iteration + 1);
  });

  it('--ema and --g-upsample nearest: resume continues the average exactly and refuses to change either; generate draws either weights, in either bn mode', async () => {
    // 24 G steps: the warm-up copies G for the first 10 (horizon 0.1·t < 1), so the average must run past
    // them to differ from G; the resume splits the run inside the warm-up's growing part (step 12)
    const flags = ['--epochs', '20', '--ema', '0.9', '--g-upsample', 'nearest', ...TINY, '--sample-every', '100'];
    const [whole, parts] = [path.join(tmp, 'ema-whole'), path.join(tmp, 'ema-parts')];
    expect((await cli('train', ['--data', photos, '--out', whole, '--max-iters', '24', ...flags])).code).toBe(0);
    expect((await cli('train', ['--data', photos, '--out', parts, '--max-iters', '12', ...flags])).code).toBe(0);
    for (const [flag, value] of [['--g-upsample', 'transposed'], ['--ema', '0.5']]) {
      const refused = await cli('train', ['--resume', parts, flag, value]);
      expect(refused.stderr).toMatch(new RegExp(`^error: ${flag} cannot change on a resumed run`, 'm'));
    }
    const resumed = await cli('train', ['--resume', parts, '--max-iters', '24', '--bn', 'eval']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/with --bn train → eval/);
    const [a, b] = [whole, parts].map((d) => decodeCheckpoint(readFileSync(path.join(d, 'checkpoint.safetensors')), d));
    expect(a.config.model.gUpsample).toBe('nearest');
    expect(a.tensors.has('emaG.main.8.weight')).toBe(true); // 16 px: 0 ConvT 1 BN 2 ReLU | 3 Up 4 Conv 5 BN 6 ReLU | 7 Up 8 Conv 9 Tanh
    for (const [key, t] of a.tensors) if (key.startsWith('emaG.') || key.startsWith('netG.')) expect(b.tensors.get(key)!.data, key).toEqual(t.data);
    const grids: Buffer[] = [];
    for (const args of [[], ['--weights', 'plain'], ['--bn', 'eval']]) {
      const out = path.join(tmp, `ema-generated-${grids.length}`);
      const r = await cli('generate', ['--checkpoint', whole, '--n', '6', '--out', out, ...args]);
      expect(r.code, r.stderr).toBe(0);
      grids.push(readFileSync(path.join(out, 'grid.png')));
    }
    expect(new Set(grids.map((g) => g.toString('base64'))).size).toBe(3);
  }, 400_000); // seven trainer and generator starts

  it('generate writes valid PNGs, a grid and a latent walk', async () => {
    const out = path.join(tmp, 'generated');
    const r = await cli('generate', ['--checkpoint', path.join(tmp, 'smoke'), '--n', '5', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const files = readdirSync(out).sort();
    expect(files).toEqual(['dog-0000.png', 'dog-0001.png', 'dog-0002.png', 'dog-0003.png', 'dog-0004.png', 'grid.png']);
    const one = readPng(path.join(out, 'dog-0003.png'));
    expect([one.width, one.height]).toEqual([16, 16]);
    const walk = await cli('generate', ['--checkpoint', path.join(tmp, 'smoke', 'checkpoint.safetensors'), '--interpolate', '--steps', '4', '--out', out]);
    expect(walk.code, walk.stderr).toBe(0);
    expect(readPng(path.join(out, 'interpolate-1-2.png')).width).toBe(4 * 18 + 2);
  });

  it('without --checkpoint, generate draws from the shipped generator, or says in one line that this copy has none', async () => {
    // the resolution itself, on a file of our own
    const own = path.join(tmp, 'shipped.safetensors');
    writeFileSync(own, 'only its existence counts here');
    expect(generatorFile(undefined, 'usage', own)).toEqual({ file: own, shipped: true });
    expect(() => generatorFile(undefined, 'usage', path.join(tmp, 'none.safetensors'))).toThrow(/^no --checkpoint given, and this copy ships no trained generator/);
    expect(generatorFile(own, 'usage', path.join(tmp, 'none.safetensors'))).toEqual({ file: own, shipped: false });
    // the command, with whatever models/ holds in this checkout
    const out = path.join(tmp, 'shipped-generated');
    const r = await cli('generate', ['--n', '1', '--out', out]);
    if (existsSync(SHIPPED_GENERATOR)) {
      expect(r.code, r.stderr).toBe(0);
      expect(readdirSync(out)).toContain('grid.png');
    } else {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error: no --checkpoint given, and this copy ships no trained generator \(.*models\/generator\.safetensors\): give --checkpoint RUN\|FILE/m);
    }
  }, 120_000);

  it('wrong paths and bad flags give one-line errors', async () => {
    const cases: [('train' | 'generate'), string[], RegExp][] = [
      ['train', ['--data', path.join(tmp, 'missing')], /^error: image folder does not exist: /m],
      ['train', ['--data', photos, '--lr', 'fast'], /^error: --lr must be a number ≥ 0, got 'fast'/m],
      ['train', ['--data', photos, '--image-size', '48'], /^error: image size 48 is not supported/m],
      ['train', ['--data', photos, '--bogus'], /^error: Unknown option '--bogus'/m],
      ['train', [], /^error: --data DIR is required/m],
      ['train', ['--resume', path.join(tmp, 'missing')], /^error: nothing to resume: /m],
      ['train', ['--data', photos, '--out', path.join(tmp, 'smoke')], /already holds a run: continue it with --resume/],
      ['generate', ['--checkpoint', path.join(tmp, 'missing.safetensors')], /^error: checkpoint not found: /m],
      ['generate', ['--checkpoint', path.join(photos, 'dog.1.jpg')], /^error: .* is not a valid safetensors file/m],
      ['generate', ['--checkpoint', path.join(tmp, 'whole'), '--weights', 'ema'], /^error: .* has no moving average \(it was trained without --ema\): use --weights plain/m],
      ['generate', ['--checkpoint', path.join(tmp, 'smoke'), '--bn', 'batch'], /^error: --bn must be train or eval, got 'batch'/m],
      ['train', ['--data', photos, '--g-upsample', 'bilinear'], /^error: --g-upsample must be one of transposed, nearest, not 'bilinear'/m],
      ['train', ['--data', photos, '--ema', '1'], /^error: --ema must be a number ≥ 0 and ≤ 0.999999, got '1'/m],
    ];
    for (const [script, args, message] of cases) {
      const r = await cli(script, args);
      expect(r.code, `${script} ${args.join(' ')}`).toBe(1);
      expect(r.stderr, `${script} ${args.join(' ')}`).toMatch(message);
    }
  }, 300_000); // thirteen command starts, each a few seconds on a loaded CPU
});

describe('divergence guard', () => {
  const ok = { lossD: 1.2, lossG: 0.9, dReal: 0.5, dFakeBefore: 0.4, dFakeAfter: 0.45 };
  it('stops at once on a NaN loss, naming a learning rate to try', () => {
    const guard = new DivergenceGuard(0.01, 5);
    guard.check(ok, 1);
    expect(() => guard.check({ ...ok, lossD: NaN }, 2)).toThrow(/iteration 2: .* not finite. The learning rate 0.01 is the likely cause: try --lr 0.0002/);
  });
  it("stops after `patience` of the last 2·patience iterations look diverged; a healthy one in between does not reset the count", () => {
    const guard = new DivergenceGuard(0.01, 3);
    const collapsed = { ...ok, lossD: 100, lossG: 0 }; // the original project's D_loss 100 / G_loss 0
    guard.check(collapsed, 1);
    guard.check(collapsed, 2);
    guard.check(ok, 3); // one healthy-looking iteration in the middle of a collapse
    expect(() => guard.check(collapsed, 4)).toThrow(/iteration 4: 3 of the last 4 iterations looked diverged since iteration 1 .*try --lr 0.0002/);
  });
  it('recognises absurd losses and the collapse patterns, and forgets them after 2·patience healthy iterations', () => {
    const guard = new DivergenceGuard(1, 2);
    for (const [stats, looksBad] of [
      [{ ...ok, lossD: 237, lossG: 342 }, true], // absurd, matching neither collapse pattern (seen at --lr 1)
      [{ ...ok, lossD: 24.8, lossG: 3 }, true],
      [{ ...ok, lossD: 0.001, lossG: 20 }, true], // D perfect
      [{ ...ok, lossD: 3, lossG: 12 }, false], // a rough but possible iteration
    ] as const) {
      const g = new DivergenceGuard(1, 1);
      if (looksBad) expect(() => g.check(stats, 1), JSON.stringify(stats)).toThrow(/diverged/);
      else g.check(stats, 1);
    }
    guard.check({ ...ok, lossD: 237, lossG: 342 }, 1);
    for (let i = 2; i <= 5; i++) guard.check(ok, i);
    guard.check({ ...ok, lossD: 237, lossG: 342 }, 6); // iteration 1 has left the window of 4
  });
  it('trusts a state for checkpoints only when none of the last `patience` iterations looked diverged', () => {
    const guard = new DivergenceGuard(2e-4, 3);
    guard.check(ok, 1);
    expect(guard.trusted).toBe(true);
    guard.check({ ...ok, lossD: 0.001, lossG: 30 }, 2);
    expect(guard.trusted).toBe(false);
    guard.check(ok, 3);
    guard.check(ok, 4);
    expect(guard.trusted).toBe(false);
    guard.check(ok, 5);
    expect(guard.trusted).toBe(true);
  });
  it('logs NaN and Infinity as such (JSON would write null)', () => {
    expect(JSON.parse(JSON.stringify(loggable({ lossD: NaN, lossG: Infinity, dReal: -Infinity, batch: 3 })))).toEqual({ lossD: 'NaN', lossG: 'Infinity', dReal: '-Infinity', batch: 3 });
  });
});

describe('--kernel-set', () => {
  const logEvent = (runDir: string, event: string) =>
    readFileSync(path.join(runDir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).find((e) => e.event === event);

  it('simple and fast kernels train the same losses, and the simple run dispatches no fast kernel', async () => {
    const runs = { simple: path.join(tmp, 'set-simple'), fast: path.join(tmp, 'set-fast') };
    for (const [set, out] of Object.entries(runs)) {
      const r = await cli('train', ['--data', photos, '--out', out, '--epochs', '1', '--max-iters', '3', '--kernel-set', set, '--holdout', '0', '--trace-kernels', ...TINY]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`training with the ${set} kernels`);
      expect(logEvent(out, 'start').kernelSet).toBe(set);
    }
    const [simple, fast] = [logLines(runs.simple), logLines(runs.fast)];
    expect(simple).toHaveLength(3);
    expect(fast).toHaveLength(3);
    for (let i = 0; i < 3; i++) {
      for (const k of ['lossD', 'lossG']) {
        const [a, b] = [simple[i][k] as number, fast[i][k] as number];
        expect(Math.abs(a - b) / Math.abs(b), `iteration ${i + 1} ${k}: simple ${a}, fast ${b}`).toBeLessThan(1e-4);
      }
    }
    // Kernel.name of every kernel each process dispatched (src/gpu/kernel.ts's kernelsDispatched)
    const used = (out: string) => logEvent(out, 'kernels').dispatched as string[];
    expect(used(runs.simple).filter((name) => name.startsWith('shaders/fast/'))).toEqual([]);
    expect(used(runs.simple)).toContain('shaders/conv2d.wgsl:conv2d_backward_weight');
    // the readable batchnorm, and the activations after it as kernels of their own (nothing fused)
    for (const name of ['batchnorm.wgsl:batchnorm_forward', 'batchnorm.wgsl:batchnorm_backward', 'activations.wgsl:relu_forward',
      'activations.wgsl:leaky_relu_backward']) expect(used(runs.simple)).toContain(`shaders/${name}`);
    expect(used(runs.fast)).toContain('shaders/fast/batchnorm.wgsl:batchnorm_channel_forward');
    expect(used(runs.fast)).not.toContain('shaders/activations.wgsl:relu_forward');
    // --trace-kernels: the first step's kernels by scope, in RUN/kernel-trace.txt (and on stdout)
    const trace = (out: string) => readFileSync(path.join(out, 'kernel-trace.txt'), 'utf8');
    const traced = (out: string) => [...trace(out).matchAll(/→ (\S+(?: [A-Z_]+=\d+)*)  \[\d+x\d+x\d+\]/g)].map((m) => m[1]);
    for (const out of Object.values(runs)) {
      expect(trace(out)).toMatch(/^kernel trace of iteration 1 /);
      expect(traced(out).length).toBeGreaterThan(50);
      for (const name of traced(out)) expect(used(out)).toContain(name);  // every traced kernel ran
      for (const scope of ['D step', 'G step', 'G(noise), for both steps', 'main.0 ConvTranspose2d', 'backward', 'Adam']) {
        expect(trace(out)).toContain(scope);
      }
    }
    expect(traced(runs.simple).filter((name) => name.startsWith('shaders/fast/'))).toEqual([]);
    expect(trace(runs.simple)).not.toContain('(fused)');
    expect(trace(runs.simple)).toMatch(/main\.\d+ BatchNorm2d\n\s+→ shaders\/batchnorm\.wgsl:batchnorm_forward/);
    expect(trace(runs.simple)).toMatch(/plan simple \(the simple kernel set\)/);
    expect(trace(runs.fast)).toMatch(/main\.\d+\+\d+ BatchNorm2d \+ LeakyReLU \(fused\)\n\s+→ shaders\/fast\/batchnorm\.wgsl:/);
    expect(used(runs.fast).some((name) => name.startsWith('shaders/fast/'))).toBe(true);
  });

  it('refuses an unknown kernel set before any work', async () => {
    const r = await cli('train', ['--data', photos, '--out', path.join(tmp, 'set-bad'), '--kernel-set', 'quick', ...TINY]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--kernel-set must be one of simple, fast, not 'quick'/);
    expect(existsSync(path.join(tmp, 'set-bad'))).toBe(false);
  });
});
