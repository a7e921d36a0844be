// Command-line flags with clear one-line errors, on node:util's parseArgs.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parseFlags(argv: string[], options: Options, usage: string): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new Error(`${(e as Error).message.split('\n')[0]}\n${usage}`);
  }
}

/** A numeric flag: integer or not, within [min, max], or the default when absent. */
export function numberFlag(values: Record<string, unknown>, name: string, fallback: number, { integer = true, min = -Infinity, max = Infinity } = {}): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    const range = `${integer ? 'an integer' : 'a number'}${min > -Infinity ? ` ≥ ${min}` : ''}${max < Infinity ? ` and ≤ ${max}` : ''}`;
    throw new Error(`--${name} must be ${range}, got '${raw}'`);
  }
  return v;
}
