// The GPU machine's one command (scripts/device/measure-and-train.sh), rehearsed here on the software
// adapter with a tiny configuration: pack.sh packs into a temporary .device (16 px JPEGs of 48 dog photos,
// or of synthetic ones without ../shared/data/dogs), then the script runs in a folder holding only scripts/
// and .device/ (no node_modules, no package.json) with a PATH that has no node, as there. It must refuse
// the software adapter without --allow-software (exit 3, one FAILED line), and with it measure, train for
// 20 s, stop the trainer by SIGINT and bring back what $OUT should hold, including a generator file that
// `npm run generate` draws from. The --data-cache path of the trainer is tested on its own below.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPrebuiltCache } from '../src/node/data/index.ts';
import { planRun } from '../src/node/cli/run-plan.ts';
import { ROOT } from './support/sources.ts';
import { writeSyntheticPhotos } from './support/photos.ts';

const DOGS = path.resolve(ROOT, '../shared/data/dogs');
/** what the script calls, linked into a folder that is its whole PATH: everything but node */
const TOOLS = ['bash', 'sh', 'env', 'xz', 'dpkg', 'dpkg-deb', 'tar', 'python3', 'timeout', 'awk', 'tee', 'du', 'cut', 'date', 'ls',
  'grep', 'mkdir', 'chmod', 'mv', 'rm', 'cp', 'cat', 'head', 'tail', 'dirname', 'sort', 'printf', 'basename'];
const TINY = {
  // the tuning bounded well inside the 20 s of training: on a loaded machine the default 60 s took them all
  train: '--image-size 16 --ngf 8 --ndf 8 --batch-size 8 --sample-every 20 --tune-budget 4',
  bench: '--batch 4 --image-size 16 --ngf 8 --ndf 8 --repeat 1 --sgemm-size 128 --copy-mb 1 --variants fast',
};

const which = (tool: string): string | null => spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim() || null;
const pythonWithPillow = ['python3', '/usr/bin/python3'].map(which).find((p) => p && spawnSync(p, ['-c', 'import PIL']).status === 0);

function skipReason(): string | null {
  if (process.platform !== 'linux') return 'the device script is for Linux';
  if (!pythonWithPillow) return 'no python3 with Pillow (Debian: apt-get install python3-pil), which decodes the photo pack';
  const missing = ['xz', 'dpkg', 'timeout'].filter((t) => !which(t));
  if (missing.length > 0) return `missing ${missing.join(', ')}`;
  if (!existsSync('/usr/share/vulkan/icd.d/lvp_icd.json')) return 'no lavapipe (bash scripts/setup.sh installs it)';
  return null;
}

describe('prebuilt image cache (--data-cache)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'dcgan-prebuilt-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** a cache as scripts/device/device.py writes one: 4096 bytes of JSON padded with spaces, then RGB bytes */
  function writeCache(file: string, size: number, count: number): Uint8Array {
    const header = Buffer.alloc(4096, ' ');
    header.write(JSON.stringify({ format: 'dcgan-uint8-image-cache', version: 1, imageSize: size, channels: 3, layout: 'NHWC uint8 RGB', count, skippedCount: 0, sourceHash: 'test', payloadOffset: 4096, createdAt: new Date().toISOString() }));
    header[4095] = 0x0a;
    const pixels = Uint8Array.from({ length: count * size * size * 3 }, (_, i) => (i * 7) % 256);
    writeFileSync(file, Buffer.concat([header, pixels]));
    return pixels;
  }

  it('is read as it is, image by image, and a cache of another size is refused naming both', async () => {
    const file = path.join(dir, 'photos.u8cache');
    const pixels = writeCache(file, 8, 5);
    const { cache, report } = await openPrebuiltCache(file, 8, true);
    expect([cache.count, report.count, report.reused, report.skipped.length]).toEqual([5, 5, true, 0]);
    expect(await cache.readImage(3)).toEqual(pixels.subarray(3 * 192, 4 * 192));
    await cache.close();
    await expect(openPrebuiltCache(file, 16, true)).rejects.toThrow(/holds 8px images, not the 16px of --image-size: give --image-size 8/);
  });

  it('replaces --data: one of the two is needed, not both, and a fresh run saves it for --resume', () => {
    const file = path.join(dir, 'photos.u8cache');
    const plan = planRun({ 'data-cache': file, out: path.join(dir, 'run') }, 'usage');
    expect(plan.settings).toMatchObject({ dataCache: file });
    expect(plan.settings.dataDir).toBeUndefined();
    expect(() => planRun({ 'data-cache': file, data: dir }, 'usage')).toThrow('give --data DIR or --data-cache FILE, not both');
    expect(() => planRun({}, 'usage')).toThrow(/--data DIR is required.*or --data-cache FILE/);
  });
});

const reason = skipReason();
if (reason) {
  console.warn(`test/device-script.test.ts: the dry run is skipped: ${reason}`);
  describe.skip(`the GPU machine's command, dry run (skipped: ${reason})`, () => {
    it('packs, refuses a software adapter, measures and trains', () => undefined);
  });
} else {
  describe("the GPU machine's command, dry run on the software adapter", () => {
    let dir: string;
    let pathDir: string;
    /** the same without xz and dpkg: node, dawn.node and the .deb are then unpacked by device.py */
    let barePathDir: string;
    const run = (args: string[], outDir: string, PATH = pathDir) => {
      mkdirSync(outDir, { recursive: true });
      const started = performance.now();
      const result = spawnSync('bash', ['scripts/device/measure-and-train.sh', ...args], {
        cwd: dir, encoding: 'utf8', timeout: 240_000,
        env: { PATH, HOME: dir, OUT: outDir, DCGAN_DEVICE_WORK: path.join(dir, 'work'), PYTHON: pythonWithPillow! },
      });
      return { ...result, seconds: (performance.now() - started) / 1000, output: `${result.stdout}${result.stderr}` };
    };

    beforeAll(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'dcgan-device-'));
      let photos = DOGS;
      if (!existsSync(DOGS)) {
        photos = path.join(dir, 'photos');
        await writeSyntheticPhotos(photos, 12);
      }
      const started = performance.now();
      execFileSync('bash', ['scripts/device/pack.sh', '--photos', photos, '--match', 'dog.*', '--image-size', '16', '--limit', '48',
        '--xz-level', '0', '--out', path.join(dir, '.device')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
      console.log(`pack: ${((performance.now() - started) / 1000).toFixed(1)} s`);
      cpSync(path.join(ROOT, 'scripts/device'), path.join(dir, 'scripts/device'), { recursive: true });
      pathDir = path.join(dir, 'bin');
      barePathDir = path.join(dir, 'bare-bin');
      for (const [folder, tools] of [[pathDir, TOOLS], [barePathDir, TOOLS.filter((t) => !['xz', 'dpkg', 'dpkg-deb'].includes(t))]] as const) {
        mkdirSync(folder);
        for (const tool of tools) {
          const found = which(tool);
          if (found) symlinkSync(found, path.join(folder, tool));
        }
      }
    }, 400_000);
    afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

    it('refuses the software adapter by default, in one FAILED line, before measuring anything (and unpacks without xz and dpkg)', () => {
      const result = run([], path.join(dir, 'refused'), barePathDir);
      expect(result.status, result.output).toBe(3);
      expect(result.output).toMatch(/FAILED: the WebGPU adapter is .*(llvmpipe|lavapipe|SwiftShader|software).*, a software driver/i);
      expect(result.output).toContain('device run FAILED: not an NVIDIA GPU adapter');
      expect(result.output).not.toContain('== bench');
      expect(readdirSync(path.join(dir, 'refused'))).toEqual(['device.log']);
    });

    it('with --allow-software: adapter, photos, bench, 20 s of training stopped by SIGINT, and the files to bring back', () => {
      const out = path.join(dir, 'out');
      const result = run(['--allow-software', '--train-s', '20', '--bench-s', '120', '--train-args', TINY.train, '--bench-args', TINY.bench], out);
      console.log(`dry run: ${result.seconds.toFixed(1)} s; ${result.output.match(/^phases: .*$/m)?.[0]}`);
      expect(result.status, result.output).toBe(0);
      expect(result.output).toContain('accepted because of --allow-software');
      expect(result.output).toMatch(/photos: \d+ images of 16px/);
      expect(result.output).toMatch(/trainer exited 130 \(stopped by SIGINT/);
      expect(result.output).toMatch(/^bench iteration batch 4: /m);
      expect(result.output).toMatch(/^training: \d+ epochs done, \d+ iterations/m);
      expect(result.output).toContain('device run OK');
      const files = readdirSync(out).sort();
      expect(files, result.output.slice(-6000)).toEqual(['bench.json', 'device.log', 'generator.safetensors', 'latest.png', 'log.jsonl', 'samples.tar']);
      for (const f of files) expect(statSync(path.join(out, f)).size).toBeLessThanOrEqual(16 * 2 ** 20);
      expect(JSON.parse(readFileSync(path.join(out, 'bench.json'), 'utf8')).iterations[0].batch).toBe(4);

      // the generator file: netG only, with the metadata `npm run generate` needs
      const bytes = readFileSync(path.join(out, 'generator.safetensors'));
      const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString());
      expect(Object.keys(header).filter((k) => k !== '__metadata__').every((k) => k.startsWith('netG.'))).toBe(true);
      expect(header.__metadata__.format).toBe('webgpu-dcgan/1');
      const generated = path.join(dir, 'generated');
      execFileSync('node', ['--import', 'tsx', '--import', './scripts/register-wgsl.mjs', 'src/node/cli/generate.ts', '--checkpoint',
        path.join(out, 'generator.safetensors'), '--n', '4', '--out', generated], { cwd: ROOT, stdio: 'ignore' });
      expect(existsSync(path.join(generated, 'grid.png'))).toBe(true);
    }, 300_000);
  });
}
