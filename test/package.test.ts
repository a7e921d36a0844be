// The package as a user gets it, in folders of their own: `npm pack` of this tree, then
// - a copy of the repository's package (the tarball + package-lock.json): `npm ci --omit=dev`, then
//   `npm run train` trains two iterations of a tiny model (every run-time dependency is a dependency);
// - another project that installs the tarball with --omit=dev: `npx webgpu-dcgan train` and `generate` from
//   its own folder, each printing the adapter once and none of Dawn's limit warnings (bin/webgpu-dcgan.mjs);
//   the example of docs/own-model.md, importing only the public entries (its loss goes down), which
//   type-checks there against the installed source; and a page importing the engine, bundled by Vite with
//   the WGSL inside.
// npm installs from its cache where it can (--prefer-offline; setup.sh's `npm ci` fills it), so this
// needs the registry only for what the cache lacks. Slow (two installs), so everything shares them; each test
// may take minutes on a loaded CPU.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromiumPath } from '../src/node/browser.ts';
import { writeSyntheticPhotos } from './support/photos.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'dcgan-package-test-'));
const photos = path.join(tmp, 'photos');
const copy = path.join(tmp, 'copy', 'package'); // where the tarball unpacks
const project = path.join(tmp, 'project'); // someone else's project that installs the package
const TINY = ['--image-size', '16', '--ngf', '4', '--ndf', '4', '--nz', '8', '--batch-size', '4', '--max-iters', '2', '--tune', 'off'];
const INSTALL = ['--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'];
let tarball = '';
const chromium = chromiumPath();
if (!chromium) console.warn('test/package.test.ts: train-chrome from the installed package is skipped: no Chromium (/usr/bin/chromium or CHROMIUM_PATH)');

interface Result { code: number; stdout: string; stderr: string }

async function sh(file: string, args: string[], cwd: string, timeout = 240_000): Promise<Result> {
  try {
    const { stdout, stderr } = await promisify(execFile)(file, args, { cwd, timeout, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? String(e) };
  }
}

const logIterations = (runDir: string) =>
  readFileSync(path.join(runDir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.iteration && !e.event);

beforeAll(async () => {
  await writeSyntheticPhotos(photos);
  const packed = await sh('npm', ['pack', '--json', '--pack-destination', tmp], ROOT);
  expect(packed.code, packed.stderr).toBe(0);
  tarball = path.join(tmp, (JSON.parse(packed.stdout) as { filename: string }[])[0].filename);
}, 300_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true })); // two installs: hundreds of MB

describe('the package, installed', () => {
  it('npm ci --omit=dev in a copy of the package, then npm run train: two iterations', async () => {
    mkdirSync(path.dirname(copy), { recursive: true });
    expect((await sh('tar', ['-xzf', tarball, '-C', path.dirname(copy)], tmp)).code).toBe(0);
    copyFileSync(path.join(ROOT, 'package-lock.json'), path.join(copy, 'package-lock.json'));
    const installed = await sh('npm', ['ci', ...INSTALL], copy);
    expect(installed.code, installed.stderr).toBe(0);
    // what --omit=dev left out: the test tools; what it kept: Dawn, the TypeScript runner
    for (const dev of ['vitest', 'typescript']) expect(existsSync(path.join(copy, 'node_modules', dev)), dev).toBe(false);
    for (const kept of ['webgpu', 'tsx']) expect(existsSync(path.join(copy, 'node_modules', kept)), kept).toBe(true);
    const run = path.join(tmp, 'run-npm');
    const r = await sh('npm', ['run', '--silent', 'train', '--', '--data', photos, '--out', run, '--cache-dir', path.join(tmp, 'cache'), ...TINY], copy);
    expect(r.code, r.stderr).toBe(0);
    expect(logIterations(run)).toHaveLength(2);
    expect(existsSync(path.join(run, 'checkpoint.safetensors'))).toBe(true);
  }, 300_000);

  it('another project installs it with --omit=dev: npx webgpu-dcgan train and generate run from its folder, quietly', async () => {
    mkdirSync(project, { recursive: true });
    writeFileSync(path.join(project, 'package.json'), `${JSON.stringify({ name: 'my-project', private: true, type: 'module' }, null, 2)}\n`);
    const installed = await sh('npm', ['install', ...INSTALL, tarball], project);
    expect(installed.code, installed.stderr).toBe(0);
    const npx = (args: string[]) => sh('npx', ['--no-install', 'webgpu-dcgan', ...args], project);
    // relative paths are the project's own, as a user types them there
    const trained = await npx(['train', '--data', path.relative(project, photos), '--out', 'runs/tiny', '--cache-dir', path.join(tmp, 'cache'), ...TINY]);
    expect(trained.code, trained.stderr).toBe(0);
    expect(logIterations(path.join(project, 'runs/tiny'))).toHaveLength(2);
    const drawn = await npx(['generate', '--checkpoint', 'runs/tiny', '--n', '4', '--out', 'drawn']);
    expect(drawn.code, drawn.stderr).toBe(0);
    // a quiet start: the adapter once, none of Dawn's limit warnings (lavapipe has Dawn print two per adapter)
    for (const r of [trained, drawn]) {
      const output = r.stdout + r.stderr;
      expect(output.match(/^WebGPU adapter: /gm), output).toHaveLength(1);
      expect(output).not.toMatch(/artificially reduced/);
    }
    // usage lines name the command as typed here
    expect((await npx(['generate', '--help'])).stdout).toMatch(/^usage: webgpu-dcgan generate \[--checkpoint/);
    expect(readdirSync(path.join(project, 'drawn')).sort()).toEqual(['dog-0000.png', 'dog-0001.png', 'dog-0002.png', 'dog-0003.png', 'grid.png']);
    const usage = await npx(['no-such-command']);
    expect([usage.code, usage.stderr.trim()]).toEqual([1, "error: unknown command 'no-such-command': use one of train, generate, train-chrome, bench"
      + (existsSync(path.join(ROOT, 'src/node/cli/export.ts')) ? ', export' : '') + ', eval, tune-lr']);
  }, 300_000);

  it.skipIf(!chromium)('npx webgpu-dcgan train-chrome there: Vite serves the page from node_modules, Chromium trains', async () => {
    const r = await sh('npx', ['--no-install', 'webgpu-dcgan', 'train-chrome', '--data', path.relative(project, photos), '--out', 'runs/chrome', '--cache-dir', path.join(tmp, 'cache'), ...TINY], project);
    expect(r.code, r.stderr).toBe(0);
    expect(logIterations(path.join(project, 'runs/chrome'))).toHaveLength(2);
    expect((r.stdout + r.stderr).match(/^WebGPU adapter: /gm), r.stdout + r.stderr).toHaveLength(1);
  }, 300_000);

  it("docs/own-model.md's example, importing only the public entries, trains there: the loss goes down", async () => {
    copyFileSync(path.join(ROOT, 'examples/stripes-classifier.ts'), path.join(project, 'stripes-classifier.ts'));
    const r = await sh(process.execPath, ['--import', 'webgpu-dcgan/register', 'stripes-classifier.ts', '--steps', '30'], project);
    expect(r.code, r.stderr).toBe(0);
    const losses = [...r.stdout.matchAll(/^step \d+ loss ([\d.]+)$/gm)].map((m) => Number(m[1]));
    expect(losses.length, r.stdout).toBeGreaterThan(3);
    expect(losses[0]).toBeGreaterThan(0.6); // ln 2 = 0.693: an untrained net guesses
    expect(losses.at(-1)!, r.stdout).toBeLessThan(losses[0] / 4);
    const [correct, total] = /^accuracy (\d+)\/(\d+)$/m.exec(r.stdout)!.slice(1).map(Number);
    expect(correct / total, r.stdout).toBeGreaterThan(0.9); // on pictures it was not trained on
  }, 300_000);

  it('the exports are typed: the example type-checks there against the installed source', async () => {
    // the project's own TypeScript, as a TypeScript user has it; the package brings its WebGPU and pngjs types
    copyFileSync(path.join(ROOT, 'examples/stripes-classifier.ts'), path.join(project, 'stripes-classifier.ts'));
    const installed = await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--save-dev', 'typescript@5', '@types/node@20'], project);
    expect(installed.code, installed.stderr).toBe(0);
    writeFileSync(path.join(project, 'tsconfig.json'), `${JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'ESNext', moduleResolution: 'bundler', allowImportingTsExtensions: true, noEmit: true, strict: true, types: ['node'] },
      include: ['stripes-classifier.ts'],
    }, null, 2)}\n`);
    const checked = await sh('npx', ['--no-install', 'tsc', '-p', '.'], project);
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
  }, 300_000);

  it('a page importing the engine bundles with Vite, the WGSL included', async () => {
    const page = path.join(project, 'page');
    mkdirSync(page, { recursive: true });
    writeFileSync(path.join(page, 'index.html'), '<!doctype html><script type="module" src="./main.ts"></script>\n');
    writeFileSync(path.join(page, 'main.ts'), [
      "import { Conv2d, Sequential, browserDevice, seedStream, useDevice } from 'webgpu-dcgan';",
      'useDevice((await browserDevice()).device);',
      'const net = new Sequential([new Conv2d(3, 4, 3, { stride: 1, padding: 1 }, seedStream(1))]);',
      'console.log(net.parameters().length);',
    ].join('\n'));
    const r = await sh('npx', ['--no-install', 'vite', 'build', 'page', '--outDir', '../dist', '--emptyOutDir', '--logLevel', 'error'], project);
    expect(r.code, r.stderr).toBe(0);
    const bundle = readdirSync(path.join(project, 'dist/assets')).filter((f) => f.endsWith('.js')).map((f) => readFileSync(path.join(project, 'dist/assets', f), 'utf8')).join('\n');
    const convShader = readFileSync(path.join(ROOT, 'shaders/conv2d.wgsl'), 'utf8');
    const entryPoint = /@compute[^\n]*\n\s*fn (\w+)/.exec(convShader)![1];
    expect(bundle).toContain(`fn ${entryPoint}`); // the shader's text is in the bundle, not a file it would fetch
  }, 300_000);
});
