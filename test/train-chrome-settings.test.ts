// Every setting of `npm run train` reaches the page under `npm run train:chrome`, or is refused there with a
// line saying why (src/train/run-settings.ts marks each row). Each row the page needs is given a value other
// than its default, once on a fresh run and again, where a resume may change it, on --resume; the page logs
// what it applied, read back from the objects it trains with (web/main.ts appliedSettings), and that must be
// what was sent. A row added to the table without a value here fails the first check.
import { describe, expect, it, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromiumPath } from '../src/node/browser.ts';
import { RUN_SETTINGS, parseSetting, type Setting } from '../src/train/run-settings.ts';
import { writeSyntheticPhotos } from './support/photos.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'dcgan-chrome-settings-'));
const photos = path.join(tmp, 'photos');
const chromium = chromiumPath();
const ROWS = RUN_SETTINGS as readonly Setting[];
const PAGE_ROWS = ROWS.filter((s) => s.page === 'page');

/** A value other than the default for every row the page needs (a tiny model: the CPU adapters are slow). */
const FRESH: Record<string, string | true> = {
  'image-size': '16', ngf: '4', ndf: '6', nz: '8', 'g-upsample': 'transposed', 'batch-size': '4', lr: '0.0003', beta1: '0.4',
  seed: '5', ema: '0.9', epochs: '3', 'max-iters': '2', 'sample-every': '1', patience: '7', 'checkpoint-every': '5',
  'keep-epochs': true, 'kernel-set': 'simple', tune: 'off', 'tune-budget': '9', bn: 'eval', 'trace-kernels': true,
};
/** On --resume: another value for every row that may change, or that is this start's only. */
const RESUMED: Record<string, string | true> = {
  lr: '0.0001', beta1: '0.3', epochs: '4', 'max-iters': '3', 'sample-every': '2', patience: '8', 'checkpoint-every': '6',
  'kernel-set': 'fast', tune: 'auto', 'tune-budget': '3', bn: 'train',
};

const asArgs = (values: Record<string, string | true>) => Object.entries(values).flatMap(([k, v]) => (v === true ? [`--${k}`] : [`--${k}`, v]));
/** The values as the page reports them: parsed by the table's own rows. */
const parsed = (values: Record<string, string | true>) => Object.fromEntries(Object.entries(values).map(([k, v]) => [k, parseSetting(ROWS.find((s) => s.flag === k)!, v)]));

async function trainChrome(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run(process.execPath, ['--import', 'tsx', '--import', './scripts/register-wgsl.mjs', 'src/node/cli/train-chrome.ts', ...args], { cwd: ROOT, timeout: 300_000 });
    return { code: 0, stderr };
  } catch (e) {
    const err = e as { code: number; stderr: string };
    return { code: err.code, stderr: err.stderr };
  }
}

const appliedByPage = (runDir: string) => readFileSync(path.join(runDir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  .filter((e) => e.event === 'page-settings').map((e) => e.applied as Record<string, unknown>);

describe('the settings table and train:chrome', () => {
  it('gives every row the page needs a value here, other than its default; every other row says why the page needs it not', () => {
    expect(PAGE_ROWS.map((s) => s.flag).sort()).toEqual(Object.keys(FRESH).sort());
    for (const s of PAGE_ROWS) expect(parseSetting(s, FRESH[s.flag]), s.flag).not.toEqual(s.default);
    // (a switch such as --keep-epochs, once on, stays on: the flags have no way to turn it off)
    for (const s of ROWS.filter((r) => r.onResume !== 'fixed' && r.page === 'page' && r.kind !== 'switch')) expect(RESUMED[s.flag], `${s.flag} may change on --resume`).toBeDefined();
    for (const [flag, value] of Object.entries(RESUMED)) expect(parseSetting(ROWS.find((s) => s.flag === flag)!, value), flag).not.toEqual(parsed(FRESH)[flag]);
    for (const s of ROWS.filter((r) => r.page !== 'page')) {
      const why = typeof s.page === 'object' ? ('node' in s.page ? s.page.node : s.page.refused) : '';
      expect(why.length, s.flag).toBeGreaterThan(10);
    }
  });

  if (!chromium) {
    const reason = `no Chromium at ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'}: install chromium or set CHROMIUM_PATH`;
    console.warn(`test/train-chrome-settings.test.ts: the page part skipped: ${reason}`);
    it.skip(`the page applies every setting (skipped: ${reason})`, () => undefined);
    return;
  }

  beforeAll(() => writeSyntheticPhotos(photos), 60_000);

  it('the page applies every setting sent, on a fresh run and on --resume; a refused flag gets its line', async () => {
    const out = path.join(tmp, 'run');
    const node = ['--data', photos, '--out', out, '--holdout', '0', '--cache-dir', path.join(tmp, 'cache')];
    const fresh = await trainChrome([...node, ...asArgs(FRESH)]);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(appliedByPage(out)).toEqual([parsed(FRESH)]);
    // --trace-kernels: the page traced its first step, and train:chrome kept the trace
    expect(readFileSync(path.join(out, 'kernel-trace.txt'), 'utf8')).toMatch(/^kernel trace of iteration 1 \(16x16, ngf 4, ndf 6, batch 4, G transposed, the simple kernel set\)/);

    const resumed = await trainChrome(['--resume', out, ...asArgs(RESUMED)]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming .* with --lr 0.0003 → 0.0001, --beta1 0.4 → 0.3/);
    // a choice of the first start only (a switch not given again) is back at its default
    const notGivenAgain = Object.fromEntries(PAGE_ROWS.filter((s) => s.kept === 'invocation' && !(s.flag in RESUMED)).map((s) => [s.flag, s.default]));
    expect(appliedByPage(out)[1]).toEqual({ ...parsed(FRESH), ...notGivenAgain, ...parsed(RESUMED) });

    for (const s of ROWS.filter((r) => typeof r.page === 'object' && 'refused' in r.page)) {
      const refused = await trainChrome([...node, `--${s.flag}`, out]);
      expect(refused.code, s.flag).toBe(1);
      expect(refused.stderr).toContain((s.page as { refused: string }).refused);
    }
  }, 600_000);
});
