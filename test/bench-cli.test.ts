// `npm run bench`'s command line: --help prints the usage, and a bad flag gets one line naming it
// (parseArgs' own error used to end in a Node stack trace).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

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
});
