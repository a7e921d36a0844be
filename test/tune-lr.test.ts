// npm run tune-lr on a tiny model and photos the test makes: one short run per learning rate from one seed,
// ranked by SWD, the collapsed ones named by the divergence guard, and the command to train with the winner.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticPhotos } from './support/photos.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'dcgan-tune-lr-test-'));
const photos = path.join(tmp, 'photos');

async function tuneLr(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', '--import', './scripts/register-wgsl.mjs', 'src/node/cli/tune-lr.ts', ...args], { cwd: ROOT, timeout: 240_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(() => writeSyntheticPhotos(photos, 16), 60_000);

describe('npm run tune-lr', () => {
  it('ranks the learning rates by SWD, names the one that collapses, and prints the command for the winner', async () => {
    const tiny = ['--image-size', '16', '--ngf', '4', '--ndf', '4', '--nz', '8', '--batch-size', '4', '--cache-dir', path.join(tmp, 'cache')];
    const r = await tuneLr(['--data', photos, '--lrs', '1,0.0002', '--iters', '12', '--holdout', '4', ...tiny]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('2 runs of 12 iterations from seed 1, each scored by SWD x1e3 against 4 held-out photos');
    const rows = r.stdout.split('\n').filter((l) => /^\d+\s/.test(l));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^1\s+0\.0002\s+\d+\.\d$/);
    expect(rows[1]).toMatch(/^2\s+1\s+collapsed: training diverged at iteration \d+/);
    expect(r.stdout).toContain(`train with the winner: npm run train -- --data ${photos} --holdout 4 ${tiny.join(' ')} --lr 0.0002`);
  }, 240_000);

  it('refuses a bad list of learning rates in one line', async () => {
    const r = await tuneLr(['--data', photos, '--lrs', '2e-4,abc']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("error: --lrs must be positive numbers separated by commas, e.g. 1e-4,2e-4,5e-4; got '2e-4,abc'");
  });
});
