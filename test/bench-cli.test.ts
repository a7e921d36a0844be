// `npm run bench`'s command line: --help prints the usage, and a bad flag gets one line naming it
// (parseArgs' own error used to end in a Node stack trace); a section's rows are the ones it names (no
// figure is checked: the tests never time anything).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { BenchResult } from '../bench/core.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const bench = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', '--import', './scripts/register-wgsl.mjs', 'bench/bench.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });

describe('npm run bench flags', () => {
  it('--help prints the usage and exits 0', () => {
    const r = bench('--help');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^usage: npm run bench -- \[options\]\n/);
    expect(r.stdout).toMatch(/--kernel-set/);
  });
  it('an unknown flag or section gets one line naming it, exit 1', () => {
    for (const [args, message] of [[['--bogus'], /^error: Unknown option '--bogus' \(npm run bench -- --help lists the options\)$/], [['--kernels', 'nope'], /^error: --kernels: unknown section 'nope'/],
      [['--variants', 'fast,gemm 48'], /^error: --variants: unknown conv version 'gemm 48' \(choose from simple, fast, or a plan/]] as const) {
      const r = bench(...args);
      expect(r.status, args.join(' ')).toBe(1);
      const lines = r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('Warning: maxDynamic'));
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0]).toMatch(message);
    }
  });
  it('--kernels batchnorm times every batchnorm layer of the model with each version, each with its own kernels', () => {
    const json = path.join(mkdtempSync(path.join(os.tmpdir(), 'dcgan-bench-')), 'bench.json');
    const r = bench('--kernels', 'batchnorm', '--image-size', '16', '--ngf', '4', '--ndf', '4', '--batch', '2', '--repeat', '1', '--json', json);
    expect(r.status, r.stderr).toBe(0);
    const rows = (JSON.parse(readFileSync(json, 'utf8')) as BenchResult).batchnorms!;
    // 16 px: G's batchnorms at main.1 and main.4 (transposed, the bench's model), D's at main.3
    expect(rows.map((b) => `${b.layer.split(' ')[0]} ${b.variant}`)).toEqual(
      ['G.main.1 simple', 'G.main.1 fast', 'G.main.4 simple', 'G.main.4 fast', 'D.main.3 simple', 'D.main.3 fast']);
    for (const b of rows) {
      const expected = b.variant === 'simple' ? ['shaders/batchnorm.wgsl:batchnorm_backward', 'shaders/batchnorm.wgsl:batchnorm_forward'] : undefined;
      if (expected) expect(b.kernels).toEqual(expected);
      else expect(b.kernels.every((k) => k.startsWith('shaders/fast/batchnorm.wgsl:')), b.kernels.join()).toBe(true);
      expect(b.ms).toBeGreaterThan(0);
    }
    expect(r.stdout).toMatch(/Batchnorm layers, training forward \+ backward/);
  }, 120_000);
});
